"""`PortalClient`: the bot's door to the portal, a thin facade over typed portal methods.

`await portal(GetLead(id=5))` runs one typed method (`bot.portal.methods`) through the session
(`bot.portal.session`: limiter, retries, OAuth refresh, the time budget and metrics as request
middlewares). The named methods below (`get_lead`, `update_lead`, ...) are one-liners over
those, kept for the code written against them.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, Literal, Self, TypeVar

import httpx

from bot.portal.auth import PortalAuth
from bot.portal.batch import (
    BatchCommand,
    BatchResult,
    keyed_commands,
    parse_batch_result,
    plan_chunks,
)
from bot.portal.coerce import yes_no
from bot.portal.connector import AuthConnectorMiddleware
from bot.portal.errors import OutcomeUnknownError, ValidationError
from bot.portal.limiter import Lane, PortalLimiter
from bot.portal.methods import (
    AddContact,
    AddLeadContact,
    AddLeadUserField,
    AddTimelineComment,
    BindEvent,
    ClearLeadContacts,
    DeleteLead,
    DeleteLeadContact,
    DeleteLeadUserField,
    FindDuplicates,
    ForceCommonLeadCard,
    GetContact,
    GetCrmMode,
    GetCurrentUser,
    GetEvents,
    GetLead,
    GetLeadCard,
    GetLeadContactFields,
    GetLeadContacts,
    GetLeadFields,
    GetLeadProductRows,
    GetLeadUserField,
    GetUsers,
    ListContacts,
    ListLeads,
    ListLeadUserFields,
    ListProducts,
    ListStatuses,
    PortalMethod,
    ResetLeadCard,
    SetLeadCard,
    SetLeadContacts,
    SetLeadProductRows,
    UnbindEvent,
    UpdateContact,
    UpdateLead,
    UpdateLeadUserField,
)
from bot.portal.models import (
    CardSection,
    Contact,
    ContactChanges,
    ContactDraft,
    CrmMode,
    DuplicateMatches,
    EventHandler,
    FieldDescriptor,
    Lead,
    LeadChanges,
    LeadContactBinding,
    LeadCustomerType,
    LeadDraft,
    Page,
    PortalUser,
    Product,
    ProductRow,
    Status,
    UserField,
    UserFieldChanges,
    UserFieldDraft,
)
from bot.portal.reading import PAGE_SIZE, iter_leads_in_chains
from bot.portal.session import (
    MetricsMiddleware,
    OAuthRefreshMiddleware,
    OperatingBudget,
    OperatingTimeMiddleware,
    PortalRequest,
    PortalResponse,
    PortalSession,
    RequestMiddleware,
    RetryMiddleware,
)
from bot.portal.transport import AiohttpTransport
from bot.tls import client_tls

__all__ = ["PortalClient", "PortalResponse"]

logger = logging.getLogger("bot.portal")

R = TypeVar("R")
ENCODE_SLICE = 500
"""Commands encoded between two yields to the loop while a big batch is prepared."""
Filter = Mapping[str, Any]
Order = Mapping[str, Literal["ASC", "DESC", "asc", "desc"]]


class PortalClient:
    """The bot's only way to the portal: rate-limited, retried, typed.

    Built once by the composition root and closed with `aclose()` (or `async with`).
    Every method takes `lane`: `Lane.INTERACTIVE` when a user waits, `Lane.BACKGROUND` for
    workers and bulk reads (they yield to interactive calls in the limiter).

    Arguments: `auth` (`WebhookAuth` or `OAuthAuth`); `limiter` (share one per portal;
    default: 2 req/s, burst 50, starting full); `timeout` (seconds or an `httpx.Timeout`);
    `max_retries`, `backoff_base`, `backoff_cap` (full-jitter exponential back-off);
    `originator_id` (ORIGINATOR_ID of leads we create); `operating_block_seconds` (how long a
    method is blocked after OPERATION_TIME_LIMIT when the portal gave no reset time);
    `operating_wait_cap` / `background_operating_wait_cap` (longest such block a caller of
    each lane waits out before getting `OperationTimeLimitError`); `operating_soft_limit` and
    `background_pause` (background calls of a method pause once its `time.operating` reaches
    the soft limit); `transport` (default: httpx over aiohttp's connections,
    `bot.portal.transport`), `rng`, `sleep`, `wall_clock` are seams for tests;
    `on_request(method, status, rate_limited)` is told of every HTTP request sent (status 0
    when no answer came), e.g. for metrics. `auth_connector` (application mode) names the
    source key every CRM write carries (`bot.portal.connector`).
    """

    def __init__(
        self,
        *,
        auth: PortalAuth,
        limiter: PortalLimiter | None = None,
        timeout: float | httpx.Timeout = 30.0,
        max_retries: int = 5,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        originator_id: str = "tg-bot",
        operating_block_seconds: float = 60.0,
        operating_wait_cap: float = 60.0,
        background_operating_wait_cap: float = 660.0,
        operating_soft_limit: float = 240.0,
        background_pause: float = 1.0,
        user_agent: str = "b24-leads-bot",
        transport: httpx.AsyncBaseTransport | None = None,
        rng: random.Random | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        wall_clock: Callable[[], float] = time.time,
        on_request: Callable[[str, int, bool], None] | None = None,
        auth_connector: str | None = None,
    ) -> None:
        self._auth = auth
        self._limiter = limiter or PortalLimiter()
        self._max_retries = max_retries
        self._originator_id = originator_id
        self._sleep = sleep
        if not isinstance(timeout, httpx.Timeout):
            timeout = httpx.Timeout(timeout, connect=min(timeout, 10.0))
        self._http = httpx.AsyncClient(
            timeout=timeout,
            verify=client_tls(),
            transport=transport or AiohttpTransport(client_tls()),
            follow_redirects=False,
            headers={"Accept": "application/json", "User-Agent": user_agent},
        )
        self._budget = OperatingBudget(wall_clock, operating_block_seconds)
        self._retry = RetryMiddleware(
            limiter=self._limiter,
            max_retries=max_retries,
            backoff_base=backoff_base,
            backoff_cap=backoff_cap,
            rng=rng or random.Random(),
            sleep=sleep,
        )
        # Outermost first: retries see what refresh and the time budget could not absorb;
        # metrics sit next to the wire, so they see every HTTP attempt.
        middlewares: list[RequestMiddleware] = [
            self._retry,
            OAuthRefreshMiddleware(auth, self._http),
            OperatingTimeMiddleware(
                self._budget,
                wait_cap={
                    Lane.INTERACTIVE: operating_wait_cap,
                    Lane.BACKGROUND: background_operating_wait_cap,
                },
                soft_limit=operating_soft_limit,
                background_pause=background_pause,
                sleep=sleep,
            ),
        ]
        if auth_connector:
            middlewares.insert(0, AuthConnectorMiddleware(auth_connector))
        if on_request is not None:
            middlewares.append(MetricsMiddleware(on_request))
        self.session = PortalSession(
            auth=auth, http=self._http, limiter=self._limiter, middlewares=middlewares
        )

    def __repr__(self) -> str:
        return f"PortalClient({self._auth.redacted_base_url!r})"

    @property
    def limiter(self) -> PortalLimiter:
        """The limiter every request of this client goes through."""
        return self._limiter

    async def aclose(self) -> None:
        """Close the HTTP connections."""
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # --- the two doors: typed methods and raw calls ---------------------------------------

    async def __call__(self, method: PortalMethod[R], *, lane: Lane = Lane.INTERACTIVE) -> R:
        """Run one typed method and return its typed result."""
        response = await self.call(
            method.__api_method__, method.params(), lane=lane, idempotent=method.__idempotent__
        )
        return method.build(response)

    async def call(
        self,
        method: str,
        params: Mapping[str, Any] | None = None,
        *,
        lane: Lane = Lane.INTERACTIVE,
        idempotent: bool,
    ) -> PortalResponse:
        """Call one REST method by name; the low-level door every typed method goes through.

        Retries (with exponential back-off and full jitter, up to `max_retries`) what is safe:
        rate-limit refusals and failed connects always, other failures only when `idempotent`.
        A non-idempotent call whose answer was lost raises `OutcomeUnknownError`.
        """
        return await self.session(PortalRequest(method, params or {}, lane, idempotent))

    def _backoff(self, attempt: int) -> float:
        return self._retry.backoff(attempt)

    # --- batch ------------------------------------------------------------------------------

    async def batch(
        self,
        commands: Mapping[str, PortalMethod[Any] | BatchCommand] | Sequence[BatchCommand],
        *,
        halt: bool = False,
        lane: Lane = Lane.INTERACTIVE,
        idempotent: bool | None = None,
    ) -> BatchResult:
        """Run commands in requests of up to 50 (`$result[...]` links stay within one request).

        Typed methods give results built by each method (`result.get(key, method)`; use
        `Ref(key, ...)` for links). Read-only batches are retried like reads; a batch with a
        write is never retried after an unknown outcome (`idempotent` overrides the guess).
        With `halt`, the first failing command stops the rest, across chunks too.
        """
        methods: dict[str, PortalMethod[Any]] = {}
        plain: Mapping[str, BatchCommand] | Sequence[BatchCommand]
        if isinstance(commands, Mapping) and any(
            isinstance(command, PortalMethod) for command in commands.values()
        ):
            for key, command in commands.items():
                if not isinstance(command, PortalMethod):
                    raise TypeError("a batch takes typed methods or BatchCommands, not both")
                methods[key] = command
            plain = {key: method.command() for key, method in methods.items()}
            if idempotent is None:
                idempotent = all(method.__idempotent__ for method in methods.values())
        else:
            plain = commands  # type: ignore[assignment]  # only BatchCommands here
        keyed = keyed_commands(plain)
        queries: dict[str, str] = {}
        for number, (key, command) in enumerate(keyed.items()):
            queries[key] = command.to_query()
            if number % ENCODE_SLICE == ENCODE_SLICE - 1:
                await asyncio.sleep(0)  # a big team's round: the event endpoint shares the loop
        total = BatchResult()
        for keys in plan_chunks(queries):
            chunk = {key: keyed[key] for key in keys}
            reads_only = all(command.is_read for command in chunk.values())
            response = await self.call(
                "batch",
                {"halt": 1 if halt else 0, "cmd": {key: queries[key] for key in keys}},
                lane=lane,
                idempotent=reads_only if idempotent is None else idempotent,
            )
            body = response.result if isinstance(response.result, dict) else {}
            part = parse_batch_result(body, chunk)
            for key, block in part.times.items():
                self._budget.note(chunk[key].method, block)
            total.merge(part)
            if halt and part.errors:
                break
        total.methods = methods
        return total

    # --- leads ------------------------------------------------------------------------------

    async def add_lead(
        self,
        draft: LeadDraft,
        *,
        register_sonet_event: bool | None = None,
        lane: Lane = Lane.INTERACTIVE,
    ) -> int:
        """Create a lead and return its id.

        The lead carries `ORIGINATOR_ID`/`ORIGIN_ID` (made here unless given). When the answer
        is lost, `OutcomeUnknownError` is raised at once and nothing is sent again: the portal
        may still be saving the lead (it finishes a request after the client hangs up), so a
        look-up right now proves nothing. The caller keeps the draft and, before adding it
        again, looks its `ORIGIN_ID` up (`find_lead_by_origin`).
        """
        fields = draft.to_portal()
        fields.setdefault("ORIGINATOR_ID", self._originator_id)
        fields.setdefault("ORIGIN_ID", uuid.uuid4().hex)
        params: dict[str, Any] = {"fields": fields}
        if register_sonet_event is not None:
            params["params"] = {"REGISTER_SONET_EVENT": "Y" if register_sonet_event else "N"}
        try:
            response = await self.call("crm.lead.add", params, lane=lane, idempotent=False)
        except OutcomeUnknownError:
            logger.warning("portal crm.lead.add answer lost; not sent again")
            raise
        return int(response.result)

    async def find_lead_by_origin(
        self, origin: str, *, originator: str | None = None, lane: Lane = Lane.INTERACTIVE
    ) -> int | None:
        """The lead an earlier `add_lead` with this ORIGIN_ID created, if the portal has it."""
        return await self._find_lead_by_origin(originator or self._originator_id, origin, lane)

    async def _find_lead_by_origin(self, originator: str, origin: str, lane: Lane) -> int | None:
        page = await self(
            ListLeads(
                filter={"ORIGINATOR_ID": originator, "ORIGIN_ID": origin},
                select=["ID"],
                order={"ID": "ASC"},
                start=-1,
            ),
            lane=lane,
        )
        return page.items[0].id if page.items else None

    async def update_lead(
        self,
        lead_id: int,
        changes: LeadChanges,
        *,
        register_sonet_event: bool | None = None,
        register_history_event: bool | None = None,
        lane: Lane = Lane.INTERACTIVE,
    ) -> bool:
        """Change the given fields of a lead (multi-fields follow `MultiFieldChange` rules)."""
        options = {
            key: flag
            for key, flag in (
                ("REGISTER_SONET_EVENT", yes_no(register_sonet_event)),
                ("REGISTER_HISTORY_EVENT", yes_no(register_history_event)),
            )
            if flag is not None
        }
        return await self(
            UpdateLead(id=lead_id, fields=changes, options=options or None), lane=lane
        )

    async def get_lead(self, lead_id: int, *, lane: Lane = Lane.INTERACTIVE) -> Lead:
        """One lead with all its fields, multi-fields and user fields."""
        return await self(GetLead(id=lead_id), lane=lane)

    async def list_leads(
        self,
        *,
        filter: Filter | None = None,
        select: Sequence[str] | None = None,
        order: Order | None = None,
        start: int = 0,
        lane: Lane = Lane.INTERACTIVE,
    ) -> Page[Lead]:
        """One page (50) of leads with `total` and `next` (pass `start=-1` to skip counting)."""
        return await self(ListLeads(**_list_args(filter, select, order, start)), lane=lane)

    async def iter_leads(
        self,
        filter: Filter | None = None,
        select: Sequence[str] | None = None,
        *,
        batch: bool = True,
        lane: Lane = Lane.BACKGROUND,
        chains: int | None = None,
    ) -> AsyncIterator[Lead]:
        """Every lead matching `filter`, in ID order, without counting (keyset paging).

        With `batch=True` (see `bot.portal.reading`) the first request is light: the top 50
        leads (`order[ID]=DESC`, which says where the range ends) and the first 50. The range
        between them is read as keyset chains of 50 pages per request, chained by
        `$result[p{k-1}][49][ID]`, as many at once as the limiter can send without waiting (at
        least 8; `chains` caps it). Nothing after a chain's first short page is looked at (its
        references do not resolve), and no request is spent finding the end. With
        `batch=False` pages are read one request at a time.
        """
        base_filter = dict(filter or {})
        cursor = 0
        if ">ID" in base_filter:
            cursor = int(base_filter.pop(">ID"))
        elif ">=ID" in base_filter:
            cursor = int(base_filter.pop(">=ID")) - 1
        fields = list(select) if select else ["*", "UF_*"]
        if "ID" not in fields and "*" not in fields:
            fields.append("ID")
        if batch:

            async def run(commands: Mapping[str, BatchCommand]) -> BatchResult:
                return await self.batch(commands, lane=lane)

            async for lead in iter_leads_in_chains(
                run, base_filter, fields, cursor, chains=chains, room=self._limiter.room
            ):
                yield lead
            return
        while True:
            page = await self(
                ListLeads(
                    filter={**base_filter, ">ID": cursor},
                    order={"ID": "ASC"},
                    select=fields,
                    start=-1,
                ),
                lane=lane,
            )
            for lead in page.items:
                # Keyset paging in ID order: anything not above the cursor is a repeat.
                if lead.id is None or lead.id <= cursor:
                    continue
                cursor = lead.id
                yield lead
            if len(page.items) < PAGE_SIZE:
                return

    async def delete_lead(self, lead_id: int, *, lane: Lane = Lane.INTERACTIVE) -> bool:
        """Delete a lead (and what depends on it only)."""
        return await self(DeleteLead(id=lead_id), lane=lane)

    async def lead_fields(self, *, lane: Lane = Lane.INTERACTIVE) -> dict[str, FieldDescriptor]:
        """Descriptors of every lead field, user fields included."""
        return await self(GetLeadFields(), lane=lane)

    async def set_lead_products(
        self, lead_id: int, rows: Sequence[ProductRow], *, lane: Lane = Lane.INTERACTIVE
    ) -> bool:
        """Replace the lead's product rows with `rows` (an empty list clears them)."""
        return await self(SetLeadProductRows(id=lead_id, rows=list(rows)), lane=lane)

    async def get_lead_products(
        self, lead_id: int, *, lane: Lane = Lane.INTERACTIVE
    ) -> list[ProductRow]:
        """The lead's product rows."""
        return await self(GetLeadProductRows(id=lead_id), lane=lane)

    # --- lead contacts ----------------------------------------------------------------------

    async def add_lead_contact(
        self, lead_id: int, binding: LeadContactBinding, *, lane: Lane = Lane.INTERACTIVE
    ) -> bool:
        """Bind a contact to a lead; False when it was already bound."""
        return await self(AddLeadContact(id=lead_id, fields=binding), lane=lane)

    async def delete_lead_contact(
        self, lead_id: int, contact_id: int, *, lane: Lane = Lane.INTERACTIVE
    ) -> bool:
        """Unbind a contact from a lead; False when it was not bound."""
        return await self(DeleteLeadContact(id=lead_id, contact_id=contact_id), lane=lane)

    async def get_lead_contacts(
        self, lead_id: int, *, lane: Lane = Lane.INTERACTIVE
    ) -> list[LeadContactBinding]:
        """The contacts bound to a lead, in order."""
        return await self(GetLeadContacts(id=lead_id), lane=lane)

    async def set_lead_contacts(
        self,
        lead_id: int,
        bindings: Sequence[LeadContactBinding],
        *,
        lane: Lane = Lane.INTERACTIVE,
    ) -> bool:
        """Replace the lead's contact bindings with `bindings`."""
        return await self(SetLeadContacts(id=lead_id, items=list(bindings)), lane=lane)

    async def clear_lead_contacts(self, lead_id: int, *, lane: Lane = Lane.INTERACTIVE) -> bool:
        """Remove every contact binding of a lead."""
        return await self(ClearLeadContacts(id=lead_id), lane=lane)

    async def lead_contact_fields(
        self, *, lane: Lane = Lane.INTERACTIVE
    ) -> dict[str, FieldDescriptor]:
        """Descriptors of the lead-contact binding fields."""
        return await self(GetLeadContactFields(), lane=lane)

    # --- lead user fields -------------------------------------------------------------------

    async def add_lead_userfield(
        self, field: UserFieldDraft, *, lane: Lane = Lane.INTERACTIVE
    ) -> int:
        """Create a lead user field; returns its id. Not retried after an unknown outcome."""
        return await self(AddLeadUserField(fields=field), lane=lane)

    async def update_lead_userfield(
        self, field_id: int, changes: UserFieldChanges, *, lane: Lane = Lane.INTERACTIVE
    ) -> bool:
        """Change a lead user field's settings, labels or list items."""
        return await self(UpdateLeadUserField(id=field_id, fields=changes), lane=lane)

    async def get_lead_userfield(
        self, field_id: int, *, lane: Lane = Lane.INTERACTIVE
    ) -> UserField:
        """One lead user field."""
        return await self(GetLeadUserField(id=field_id), lane=lane)

    async def list_lead_userfields(
        self,
        *,
        filter: Filter | None = None,
        order: Order | None = None,
        lane: Lane = Lane.INTERACTIVE,
    ) -> list[UserField]:
        """Lead user fields matching `filter` (`LANG` gives labels as plain strings)."""
        method = ListLeadUserFields(
            filter=dict(filter) if filter else None, order=dict(order) if order else None
        )
        return await self(method, lane=lane)

    async def delete_lead_userfield(self, field_id: int, *, lane: Lane = Lane.INTERACTIVE) -> bool:
        """Delete a lead user field and its values on every lead."""
        return await self(DeleteLeadUserField(id=field_id), lane=lane)

    # --- lead card layout -------------------------------------------------------------------

    async def get_lead_card(
        self,
        *,
        scope: Literal["P", "C"] = "P",
        user_id: int | None = None,
        lead_customer_type: LeadCustomerType | None = None,
        lane: Lane = Lane.INTERACTIVE,
    ) -> list[CardSection] | None:
        """The lead card layout (personal `P` or common `C`); None when never configured."""
        method = GetLeadCard(scope=scope, user_id=user_id, lead_customer_type=lead_customer_type)
        return await self(method, lane=lane)

    async def set_lead_card(
        self,
        sections: Sequence[CardSection],
        *,
        scope: Literal["P", "C"] = "P",
        user_id: int | None = None,
        lead_customer_type: LeadCustomerType | None = None,
        lane: Lane = Lane.INTERACTIVE,
    ) -> bool:
        """Store a lead card layout."""
        method = SetLeadCard(
            data=list(sections),
            scope=scope,
            user_id=user_id,
            lead_customer_type=lead_customer_type,
        )
        return await self(method, lane=lane)

    async def reset_lead_card(
        self,
        *,
        scope: Literal["P", "C"] = "P",
        user_id: int | None = None,
        lead_customer_type: LeadCustomerType | None = None,
        lane: Lane = Lane.INTERACTIVE,
    ) -> bool:
        """Reset a lead card layout to the default."""
        method = ResetLeadCard(scope=scope, user_id=user_id, lead_customer_type=lead_customer_type)
        return await self(method, lane=lane)

    async def force_common_lead_card(
        self,
        *,
        lead_customer_type: LeadCustomerType | None = None,
        lane: Lane = Lane.INTERACTIVE,
    ) -> bool:
        """Make everybody use the common lead card (personal layouts are dropped)."""
        return await self(ForceCommonLeadCard(lead_customer_type=lead_customer_type), lane=lane)

    # --- dictionaries -----------------------------------------------------------------------

    async def list_statuses(
        self, entity_id: str, *, lane: Lane = Lane.INTERACTIVE
    ) -> list[Status]:
        """Entries of one CRM dictionary (`STATUS` stages, `SOURCE`, ...), by SORT."""
        return await self(ListStatuses(entity_id=entity_id), lane=lane)

    async def lead_stages(self, *, lane: Lane = Lane.INTERACTIVE) -> list[Status]:
        """Lead stages in pipeline order, each with its semantics."""
        return await self.list_statuses("STATUS", lane=lane)

    async def lead_sources(self, *, lane: Lane = Lane.INTERACTIVE) -> list[Status]:
        """Lead sources."""
        return await self.list_statuses("SOURCE", lane=lane)

    # --- contacts ---------------------------------------------------------------------------

    async def add_contact(self, draft: ContactDraft, *, lane: Lane = Lane.INTERACTIVE) -> int:
        """Create a contact; returns its id. Not retried after an unknown outcome."""
        return await self(AddContact(fields=draft), lane=lane)

    async def get_contact(self, contact_id: int, *, lane: Lane = Lane.INTERACTIVE) -> Contact:
        """One contact."""
        return await self(GetContact(id=contact_id), lane=lane)

    async def list_contacts(
        self,
        *,
        filter: Filter | None = None,
        select: Sequence[str] | None = None,
        order: Order | None = None,
        start: int = 0,
        lane: Lane = Lane.INTERACTIVE,
    ) -> Page[Contact]:
        """One page (50) of contacts."""
        return await self(ListContacts(**_list_args(filter, select, order, start)), lane=lane)

    async def update_contact(
        self, contact_id: int, changes: ContactChanges, *, lane: Lane = Lane.INTERACTIVE
    ) -> bool:
        """Change the given fields of a contact."""
        return await self(UpdateContact(id=contact_id, fields=changes), lane=lane)

    async def find_duplicates(
        self,
        type: Literal["PHONE", "EMAIL"],
        values: Sequence[str],
        *,
        entity_type: Literal["LEAD", "CONTACT", "COMPANY"] | None = None,
        lane: Lane = Lane.INTERACTIVE,
    ) -> DuplicateMatches:
        """Leads/contacts/companies having any of `values` (first 20 are used by the portal)."""
        if not values:
            raise ValidationError("no values to look for", method=FindDuplicates.__api_method__)
        method = FindDuplicates(type=type, values=list(values), entity_type=entity_type)
        return await self(method, lane=lane)

    # --- timeline, products, users, settings ------------------------------------------------

    async def add_timeline_comment(
        self,
        entity_type: Literal["lead", "contact", "deal", "company"],
        entity_id: int,
        comment: str,
        *,
        author_id: int | None = None,
        lane: Lane = Lane.INTERACTIVE,
    ) -> int:
        """Add a comment to an entity's timeline; returns the comment id. Not retried blindly."""
        method = AddTimelineComment(
            entity_type=entity_type, entity_id=entity_id, comment=comment, author_id=author_id
        )
        return await self(method, lane=lane)

    async def list_products(
        self,
        *,
        filter: Filter | None = None,
        select: Sequence[str] | None = None,
        order: Order | None = None,
        start: int = 0,
        lane: Lane = Lane.INTERACTIVE,
    ) -> Page[Product]:
        """One page (50) of catalog products."""
        return await self(ListProducts(**_list_args(filter, select, order, start)), lane=lane)

    async def get_users(
        self,
        filter: Filter | None = None,
        *,
        lane: Lane = Lane.INTERACTIVE,
    ) -> list[PortalUser]:
        """Every portal user matching `filter` (e.g. `{"ACTIVE": True}`), all pages."""
        users: list[PortalUser] = []
        start = 0
        while True:
            method = GetUsers(filter=dict(filter) if filter else None, start=start)
            response = await self.call(
                method.__api_method__, method.params(), lane=lane, idempotent=True
            )
            users.extend(method.build(response))
            if response.next is None or response.next <= start:
                return users
            start = response.next

    async def current_user(self, *, lane: Lane = Lane.INTERACTIVE) -> PortalUser:
        """The portal user behind the credentials."""
        return await self(GetCurrentUser(), lane=lane)

    async def crm_mode(self, *, lane: Lane = Lane.INTERACTIVE) -> CrmMode:
        """Classic (leads on) or simple (leads become deals at once) CRM."""
        return await self(GetCrmMode(), lane=lane)

    # --- events -----------------------------------------------------------------------------

    async def bind_event(
        self,
        event: str,
        handler: str | None = None,
        *,
        auth_type: int | None = None,
        event_type: Literal["online", "offline"] = "online",
        lane: Lane = Lane.INTERACTIVE,
    ) -> bool:
        """Subscribe the application to an event (OAuth only; webhooks get WRONG_AUTH_TYPE)."""
        method = BindEvent(
            event=event, handler=handler, auth_type=auth_type, event_type=event_type
        )
        return await self(method, lane=lane)

    async def unbind_event(
        self,
        event: str,
        handler: str | None = None,
        *,
        auth_type: int | None = None,
        event_type: Literal["online", "offline"] = "online",
        lane: Lane = Lane.INTERACTIVE,
    ) -> int:
        """Remove matching handlers; returns how many were removed."""
        method = UnbindEvent(
            event=event, handler=handler, auth_type=auth_type, event_type=event_type
        )
        return await self(method, lane=lane)

    async def get_events(self, *, lane: Lane = Lane.INTERACTIVE) -> list[EventHandler]:
        """The application's registered event handlers."""
        return await self(GetEvents(), lane=lane)


def _list_args(
    filter: Filter | None, select: Sequence[str] | None, order: Order | None, start: int
) -> dict[str, Any]:
    return {
        "filter": dict(filter) if filter else None,
        "select": list(select) if select else None,
        "order": dict(order) if order else None,
        "start": start,
    }
