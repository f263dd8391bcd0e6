"""`PortalClient`: typed async access to the Bitrix24 REST methods the bot uses."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from types import TracebackType
from typing import Any, Literal, Self

import httpx
from pydantic import BaseModel, TypeAdapter

from bot.portal.auth import OAuthAuth, PortalAuth
from bot.portal.batch import (
    MAX_BATCH_COMMANDS,
    BatchCommand,
    BatchResult,
    build_cmd,
    chunk_commands,
    parse_batch_result,
    result_ref,
)
from bot.portal.errors import (
    OperationTimeLimitError,
    OutcomeUnknownError,
    PortalError,
    RateLimitError,
    TokenExpiredError,
    UnavailableError,
    ValidationError,
    error_from_payload,
)
from bot.portal.limiter import Lane, PortalLimiter
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
    ResponseTime,
    Status,
    UserField,
    UserFieldChanges,
    UserFieldDraft,
)

__all__ = ["PortalClient", "PortalResponse"]

logger = logging.getLogger("bot.portal")

PAGE_SIZE = 50
_FIELDS = TypeAdapter(dict[str, FieldDescriptor])
Filter = Mapping[str, Any]
Order = Mapping[str, Literal["ASC", "DESC", "asc", "desc"]]


@dataclass(frozen=True)
class PortalResponse:
    """A successful answer: the method's `result`, list paging and the `time` block."""

    result: Any
    total: int | None = None
    next: int | None = None
    time: ResponseTime | None = None


@dataclass
class _Operating:
    operating: float = 0.0
    reset_at: float | None = None
    blocked_until: float = 0.0


@dataclass(frozen=True)
class _Failure:
    """A failed attempt and what it means for retrying."""

    error: PortalError
    # The portal certainly did not run the call (rate-limited, never connected).
    not_executed: bool = False
    # The call may have run (sent, no usable answer).
    outcome_unknown: bool = False


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True, exclude_unset=True)
    raise TypeError(f"cannot send {type(value).__name__} to the portal")


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value) if value is not None and value != "" else None
    except (TypeError, ValueError):
        return None


def _as_list(value: Any) -> list[Any]:
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        return list(value.values())
    return []


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
    the soft limit); `transport`, `rng`, `sleep`, `wall_clock` are seams for tests;
    `on_request(method, status, rate_limited)` is told of every HTTP request sent (status 0
    when no answer came), e.g. for metrics.
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
    ) -> None:
        self._auth = auth
        self._on_request = on_request
        self._limiter = limiter or PortalLimiter()
        self._max_retries = max_retries
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._originator_id = originator_id
        self._operating_block_seconds = operating_block_seconds
        self._operating_wait_cap = {
            Lane.INTERACTIVE: operating_wait_cap,
            Lane.BACKGROUND: background_operating_wait_cap,
        }
        self._operating_soft_limit = operating_soft_limit
        self._background_pause = background_pause
        self._rng = rng or random.Random()
        self._sleep = sleep
        self._wall_clock = wall_clock
        self._operating: dict[str, _Operating] = {}
        if not isinstance(timeout, httpx.Timeout):
            timeout = httpx.Timeout(timeout, connect=min(timeout, 10.0))
        self._http = httpx.AsyncClient(
            timeout=timeout,
            transport=transport,
            follow_redirects=False,
            headers={"Accept": "application/json", "User-Agent": user_agent},
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

    # --- transport --------------------------------------------------------------------------

    def _backoff(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(cap, base * 2**attempt)]."""
        ceiling = min(self._backoff_cap, self._backoff_base * (2**attempt))
        return self._rng.uniform(0.0, ceiling)

    def _operating_state(self, method: str) -> _Operating:
        return self._operating.setdefault(method.lower(), _Operating())

    def _note_time(self, method: str, block: Mapping[str, Any] | None) -> None:
        if not block:
            return
        state = self._operating_state(method)
        if block.get("operating") is not None:
            state.operating = float(block["operating"])
        if block.get("operating_reset_at") is not None:
            state.reset_at = float(block["operating_reset_at"])

    async def _respect_operating_limit(self, method: str, lane: Lane) -> None:
        state = self._operating.get(method.lower())
        if state is None:
            return
        wait = state.blocked_until - self._wall_clock()
        if wait > 0:
            if wait > self._operating_wait_cap[lane]:
                raise OperationTimeLimitError(
                    "method is blocked by the portal's operation time limit",
                    code="OPERATION_TIME_LIMIT",
                    method=method,
                    reset_at=state.blocked_until,
                )
            logger.info("portal %s blocked by operating time limit for %.1fs", method, wait)
            await self._sleep(wait)
        elif lane is Lane.BACKGROUND and state.operating >= self._operating_soft_limit:
            # The method's time budget is running low: background work slows down first.
            await self._sleep(self._background_pause)

    def _block_method(self, method: str, error: OperationTimeLimitError) -> None:
        state = self._operating_state(method)
        now = self._wall_clock()
        until = state.reset_at if state.reset_at and state.reset_at > now else None
        state.blocked_until = until or now + self._operating_block_seconds
        error.reset_at = state.blocked_until

    async def _send_once(
        self, method: str, params: Mapping[str, Any], lane: Lane
    ) -> tuple[PortalResponse | _Failure, str | None]:
        await self._limiter.acquire(lane)
        # Credentials are read after the wait, so a refresh made meanwhile is used.
        credentials = await self._auth.credentials()
        body = {**params, **credentials.params}
        url = f"{credentials.base_url}{method}.json"
        content = json.dumps(body, default=_json_default, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json", **credentials.headers}
        try:
            response = await self._http.post(url, content=content, headers=headers)
            if response.is_redirect and "location" in response.headers:
                # A renamed portal answers 3xx; the POST must be re-sent, not turned into GET.
                moved = response.url.join(response.headers["location"])
                logger.warning("portal moved: %s now answers at %s", method, moved.host)
                response = await self._http.post(moved, content=content, headers=headers)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            self._observe(method, 0, False)
            error = UnavailableError(f"cannot connect: {type(exc).__name__}", method=method)
            return _Failure(error, not_executed=True), credentials.token
        except httpx.HTTPError as exc:
            self._observe(method, 0, False)
            error = UnavailableError(f"no answer: {type(exc).__name__}", method=method)
            return _Failure(error, outcome_unknown=True), credentials.token
        outcome = self._read_response(method, response)
        limited = isinstance(outcome, _Failure) and isinstance(outcome.error, RateLimitError)
        self._observe(method, response.status_code, limited)
        return outcome, credentials.token

    def _observe(self, method: str, status: int, limited: bool) -> None:
        if self._on_request is not None:
            try:
                self._on_request(method, status, limited)
            except Exception:  # an observer must never break a portal call
                logger.exception("portal request observer failed")

    def _read_response(self, method: str, response: httpx.Response) -> PortalResponse | _Failure:
        status = response.status_code
        error: PortalError
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or ("error" not in body and "result" not in body):
            error = UnavailableError("malformed answer", method=method, status=status)
            # Whatever produced an unreadable body may have run the method first.
            return _Failure(error, outcome_unknown=True)
        if "error" in body:
            error = error_from_payload(
                str(body.get("error") or ""),
                str(body.get("error_description") or ""),
                method=method,
                status=status,
            )
            if isinstance(error, RateLimitError):
                return _Failure(error, not_executed=True)
            code = error.code.lower()
            unknown = isinstance(error, UnavailableError) and code != "overload_limit"
            return _Failure(error, outcome_unknown=unknown and status >= 500)
        if status >= 300:
            error = UnavailableError("unexpected status", method=method, status=status)
            return _Failure(error, outcome_unknown=True)
        time_block = body.get("time")
        self._note_time(method, time_block if isinstance(time_block, dict) else None)
        return PortalResponse(
            result=body["result"],
            total=_int_or_none(body.get("total")),
            next=_int_or_none(body.get("next")),
            time=ResponseTime.model_validate(time_block) if isinstance(time_block, dict) else None,
        )

    async def call(
        self,
        method: str,
        params: Mapping[str, Any] | None = None,
        *,
        lane: Lane = Lane.INTERACTIVE,
        idempotent: bool,
    ) -> PortalResponse:
        """Call one REST method; the low-level door every typed method goes through.

        Retries (with exponential back-off and full jitter, up to `max_retries`) what is safe:
        rate-limit refusals and failed connects always, other failures only when `idempotent`.
        A non-idempotent call whose answer was lost raises `OutcomeUnknownError`.
        """
        params = params or {}
        attempt = 0
        refreshed = False
        while True:
            await self._respect_operating_limit(method, lane)
            outcome, token = await self._send_once(method, params, lane)
            if isinstance(outcome, PortalResponse):
                logger.debug("portal %s ok via %s", method, self._auth.redacted_base_url)
                return outcome
            error = outcome.error
            if isinstance(error, TokenExpiredError) and isinstance(self._auth, OAuthAuth):
                if refreshed:
                    raise error
                logger.info("portal access token expired; refreshing")
                await self._auth.refresh(self._http, token)
                refreshed = True
                continue
            if isinstance(error, RateLimitError):
                self._limiter.report_limit_exceeded()
            elif isinstance(error, OperationTimeLimitError):
                self._block_method(method, error)
                state = self._operating_state(method)
                if state.blocked_until - self._wall_clock() > self._operating_wait_cap[lane]:
                    raise error
            retryable = (
                outcome.not_executed
                or isinstance(error, OperationTimeLimitError)
                or (idempotent and outcome.outcome_unknown)
            )
            if not idempotent and outcome.outcome_unknown:
                raise OutcomeUnknownError(
                    f"sent, but the outcome is unknown ({error.description})",
                    code=error.code,
                    method=method,
                    status=error.status,
                ) from error
            if not retryable or attempt >= self._max_retries:
                raise error
            delay = self._backoff(attempt)
            attempt += 1
            logger.warning(
                "portal %s failed (%s); retry %d/%d in %.2fs",
                method,
                type(error).__name__,
                attempt,
                self._max_retries,
                delay,
            )
            await self._sleep(delay)

    async def _list_page(
        self,
        method: str,
        params: Mapping[str, Any],
        lane: Lane,
    ) -> PortalResponse:
        return await self.call(method, params, lane=lane, idempotent=True)

    @staticmethod
    def _list_params(
        filter: Filter | None,
        select: Sequence[str] | None,
        order: Order | None,
        start: int,
    ) -> dict[str, Any]:
        params: dict[str, Any] = {"start": start}
        if filter:
            params["filter"] = dict(filter)
        if select:
            params["select"] = list(select)
        if order:
            params["order"] = dict(order)
        return params

    # --- batch ------------------------------------------------------------------------------

    async def batch(
        self,
        commands: Mapping[str, BatchCommand] | Sequence[BatchCommand],
        *,
        halt: bool = False,
        lane: Lane = Lane.INTERACTIVE,
        idempotent: bool | None = None,
    ) -> BatchResult:
        """Run commands in requests of up to 50 (`$result[...]` links stay within one request).

        Read-only batches are retried like reads; a batch with a write is never retried after
        an unknown outcome (`idempotent` overrides the guess from method names). With `halt`,
        the first failing command stops the rest, across chunks too.
        """
        total = BatchResult()
        for chunk in chunk_commands(commands):
            reads_only = all(command.is_read for command in chunk.values())
            response = await self.call(
                "batch",
                {"halt": 1 if halt else 0, "cmd": build_cmd(chunk)},
                lane=lane,
                idempotent=reads_only if idempotent is None else idempotent,
            )
            body = response.result if isinstance(response.result, dict) else {}
            part = parse_batch_result(body, chunk)
            for key, block in part.times.items():
                self._note_time(chunk[key].method, block)
            total.merge(part)
            if halt and part.errors:
                break
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
        response = await self.call(
            "crm.lead.list",
            {
                "filter": {"ORIGINATOR_ID": originator, "ORIGIN_ID": origin},
                "select": ["ID"],
                "order": {"ID": "ASC"},
                "start": -1,
            },
            lane=lane,
            idempotent=True,
        )
        items = _as_list(response.result)
        return int(items[0]["ID"]) if items else None

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
        params: dict[str, Any] = {"id": lead_id, "fields": changes.to_portal()}
        extra: dict[str, str] = {}
        if register_sonet_event is not None:
            extra["REGISTER_SONET_EVENT"] = "Y" if register_sonet_event else "N"
        if register_history_event is not None:
            extra["REGISTER_HISTORY_EVENT"] = "Y" if register_history_event else "N"
        if extra:
            params["params"] = extra
        # Safe to repeat: values are set, multi-field edits go by ID, and the portal does not
        # store an exact duplicate of an added multi-field value twice.
        response = await self.call("crm.lead.update", params, lane=lane, idempotent=True)
        return bool(response.result)

    async def get_lead(self, lead_id: int, *, lane: Lane = Lane.INTERACTIVE) -> Lead:
        """One lead with all its fields, multi-fields and user fields."""
        response = await self.call("crm.lead.get", {"id": lead_id}, lane=lane, idempotent=True)
        return Lead.model_validate(response.result)

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
        response = await self._list_page(
            "crm.lead.list", self._list_params(filter, select, order, start), lane
        )
        items = [Lead.model_validate(item) for item in _as_list(response.result)]
        return Page(items=items, total=response.total, next=response.next)

    async def iter_leads(
        self,
        filter: Filter | None = None,
        select: Sequence[str] | None = None,
        *,
        batch: bool = True,
        lane: Lane = Lane.BACKGROUND,
    ) -> AsyncIterator[Lead]:
        """Every lead matching `filter`, in ID order, without counting (keyset paging).

        With `batch=True` one request chains 50 pages: page k filters `>ID` by
        `$result[p{k-1}][49][ID]`, the last id of page k-1, so a request brings up to
        2,500 leads. A short page ends the listing (links past it do not resolve).
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

        def page_params(after: Any) -> dict[str, Any]:
            return {
                "filter": {**base_filter, ">ID": after},
                "order": {"ID": "ASC"},
                "select": fields,
                "start": -1,
            }

        while True:
            if batch:
                commands = {
                    f"p{k}": BatchCommand(
                        "crm.lead.list",
                        page_params(cursor if k == 0 else result_ref(f"p{k - 1}", 49, "ID")),
                    )
                    for k in range(MAX_BATCH_COMMANDS)
                }
                result = await self.batch(commands, lane=lane)
                pages = []
                for key in commands:
                    if key in result.errors:
                        raise result.errors[key]
                    pages.append(_as_list(result.results.get(key)))
            else:
                response = await self._list_page("crm.lead.list", page_params(cursor), lane)
                pages = [_as_list(response.result)]
            for items in pages:
                for item in items:
                    lead = Lead.model_validate(item)
                    # Keyset paging in ID order: anything not above the cursor is a repeat.
                    if lead.id is None or lead.id <= cursor:
                        continue
                    cursor = lead.id
                    yield lead
                if len(items) < PAGE_SIZE:
                    return

    async def delete_lead(self, lead_id: int, *, lane: Lane = Lane.INTERACTIVE) -> bool:
        """Delete a lead (and what depends on it only)."""
        response = await self.call("crm.lead.delete", {"id": lead_id}, lane=lane, idempotent=True)
        return bool(response.result)

    async def lead_fields(self, *, lane: Lane = Lane.INTERACTIVE) -> dict[str, FieldDescriptor]:
        """Descriptors of every lead field, user fields included."""
        response = await self.call("crm.lead.fields", lane=lane, idempotent=True)
        return _FIELDS.validate_python(response.result or {})

    async def set_lead_products(
        self, lead_id: int, rows: Sequence[ProductRow], *, lane: Lane = Lane.INTERACTIVE
    ) -> bool:
        """Replace the lead's product rows with `rows` (an empty list clears them)."""
        params = {"id": lead_id, "rows": [row.to_portal() for row in rows]}
        response = await self.call("crm.lead.productrows.set", params, lane=lane, idempotent=True)
        return bool(response.result)

    async def get_lead_products(
        self, lead_id: int, *, lane: Lane = Lane.INTERACTIVE
    ) -> list[ProductRow]:
        """The lead's product rows."""
        response = await self.call(
            "crm.lead.productrows.get", {"id": lead_id}, lane=lane, idempotent=True
        )
        return [ProductRow.model_validate(row) for row in _as_list(response.result)]

    # --- lead contacts ----------------------------------------------------------------------

    async def add_lead_contact(
        self, lead_id: int, binding: LeadContactBinding, *, lane: Lane = Lane.INTERACTIVE
    ) -> bool:
        """Bind a contact to a lead; False when it was already bound."""
        params = {"id": lead_id, "fields": binding.to_portal()}
        # Binding twice is harmless (the portal answers false), so a retry is safe.
        response = await self.call("crm.lead.contact.add", params, lane=lane, idempotent=True)
        return bool(response.result)

    async def delete_lead_contact(
        self, lead_id: int, contact_id: int, *, lane: Lane = Lane.INTERACTIVE
    ) -> bool:
        """Unbind a contact from a lead; False when it was not bound."""
        params = {"id": lead_id, "fields": {"CONTACT_ID": contact_id}}
        response = await self.call("crm.lead.contact.delete", params, lane=lane, idempotent=True)
        return bool(response.result)

    async def get_lead_contacts(
        self, lead_id: int, *, lane: Lane = Lane.INTERACTIVE
    ) -> list[LeadContactBinding]:
        """The contacts bound to a lead, in order."""
        response = await self.call(
            "crm.lead.contact.items.get", {"id": lead_id}, lane=lane, idempotent=True
        )
        return [LeadContactBinding.model_validate(item) for item in _as_list(response.result)]

    async def set_lead_contacts(
        self,
        lead_id: int,
        bindings: Sequence[LeadContactBinding],
        *,
        lane: Lane = Lane.INTERACTIVE,
    ) -> bool:
        """Replace the lead's contact bindings with `bindings`."""
        params = {"id": lead_id, "items": [binding.to_portal() for binding in bindings]}
        response = await self.call(
            "crm.lead.contact.items.set", params, lane=lane, idempotent=True
        )
        return bool(response.result)

    async def clear_lead_contacts(self, lead_id: int, *, lane: Lane = Lane.INTERACTIVE) -> bool:
        """Remove every contact binding of a lead."""
        response = await self.call(
            "crm.lead.contact.items.delete", {"id": lead_id}, lane=lane, idempotent=True
        )
        return bool(response.result)

    async def lead_contact_fields(
        self, *, lane: Lane = Lane.INTERACTIVE
    ) -> dict[str, FieldDescriptor]:
        """Descriptors of the lead-contact binding fields."""
        response = await self.call("crm.lead.contact.fields", lane=lane, idempotent=True)
        return _FIELDS.validate_python(response.result or {})

    # --- lead user fields -------------------------------------------------------------------

    async def add_lead_userfield(
        self, field: UserFieldDraft, *, lane: Lane = Lane.INTERACTIVE
    ) -> int:
        """Create a lead user field; returns its id. Not retried after an unknown outcome."""
        response = await self.call(
            "crm.lead.userfield.add",
            {"fields": field.to_portal()},
            lane=lane,
            idempotent=False,
        )
        return int(response.result)

    async def update_lead_userfield(
        self, field_id: int, changes: UserFieldChanges, *, lane: Lane = Lane.INTERACTIVE
    ) -> bool:
        """Change a lead user field's settings, labels or list items."""
        params = {"id": field_id, "fields": changes.to_portal()}
        response = await self.call("crm.lead.userfield.update", params, lane=lane, idempotent=True)
        return bool(response.result)

    async def get_lead_userfield(
        self, field_id: int, *, lane: Lane = Lane.INTERACTIVE
    ) -> UserField:
        """One lead user field."""
        response = await self.call(
            "crm.lead.userfield.get", {"id": field_id}, lane=lane, idempotent=True
        )
        return UserField.model_validate(response.result)

    async def list_lead_userfields(
        self,
        *,
        filter: Filter | None = None,
        order: Order | None = None,
        lane: Lane = Lane.INTERACTIVE,
    ) -> list[UserField]:
        """Lead user fields matching `filter` (`LANG` gives labels as plain strings)."""
        params: dict[str, Any] = {}
        if filter:
            params["filter"] = dict(filter)
        if order:
            params["order"] = dict(order)
        response = await self.call("crm.lead.userfield.list", params, lane=lane, idempotent=True)
        return [UserField.model_validate(item) for item in _as_list(response.result)]

    async def delete_lead_userfield(self, field_id: int, *, lane: Lane = Lane.INTERACTIVE) -> bool:
        """Delete a lead user field and its values on every lead."""
        response = await self.call(
            "crm.lead.userfield.delete", {"id": field_id}, lane=lane, idempotent=True
        )
        return bool(response.result)

    # --- lead card layout -------------------------------------------------------------------

    @staticmethod
    def _card_params(
        scope: Literal["P", "C"],
        user_id: int | None,
        lead_customer_type: LeadCustomerType | None,
    ) -> dict[str, Any]:
        params: dict[str, Any] = {"scope": scope}
        if user_id is not None:
            params["userId"] = user_id
        if lead_customer_type is not None:
            params["extras"] = {"leadCustomerType": lead_customer_type}
        return params

    async def get_lead_card(
        self,
        *,
        scope: Literal["P", "C"] = "P",
        user_id: int | None = None,
        lead_customer_type: LeadCustomerType | None = None,
        lane: Lane = Lane.INTERACTIVE,
    ) -> list[CardSection] | None:
        """The lead card layout (personal `P` or common `C`); None when never configured."""
        response = await self.call(
            "crm.lead.details.configuration.get",
            self._card_params(scope, user_id, lead_customer_type),
            lane=lane,
            idempotent=True,
        )
        if not response.result:
            return None
        return [CardSection.model_validate(section) for section in _as_list(response.result)]

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
        params = self._card_params(scope, user_id, lead_customer_type)
        params["data"] = [section.to_portal() for section in sections]
        response = await self.call(
            "crm.lead.details.configuration.set", params, lane=lane, idempotent=True
        )
        return bool(response.result)

    async def reset_lead_card(
        self,
        *,
        scope: Literal["P", "C"] = "P",
        user_id: int | None = None,
        lead_customer_type: LeadCustomerType | None = None,
        lane: Lane = Lane.INTERACTIVE,
    ) -> bool:
        """Reset a lead card layout to the default."""
        response = await self.call(
            "crm.lead.details.configuration.reset",
            self._card_params(scope, user_id, lead_customer_type),
            lane=lane,
            idempotent=True,
        )
        return bool(response.result)

    async def force_common_lead_card(
        self,
        *,
        lead_customer_type: LeadCustomerType | None = None,
        lane: Lane = Lane.INTERACTIVE,
    ) -> bool:
        """Make everybody use the common lead card (personal layouts are dropped)."""
        params: dict[str, Any] = {}
        if lead_customer_type is not None:
            params["extras"] = {"leadCustomerType": lead_customer_type}
        response = await self.call(
            "crm.lead.details.configuration.forceCommonScopeForAll",
            params,
            lane=lane,
            idempotent=True,
        )
        return bool(response.result)

    # --- dictionaries -----------------------------------------------------------------------

    async def list_statuses(
        self, entity_id: str, *, lane: Lane = Lane.INTERACTIVE
    ) -> list[Status]:
        """Entries of one CRM dictionary (`STATUS` stages, `SOURCE`, ...), by SORT."""
        response = await self.call(
            "crm.status.list",
            {"order": {"SORT": "ASC"}, "filter": {"ENTITY_ID": entity_id}},
            lane=lane,
            idempotent=True,
        )
        return [Status.model_validate(item) for item in _as_list(response.result)]

    async def lead_stages(self, *, lane: Lane = Lane.INTERACTIVE) -> list[Status]:
        """Lead stages in pipeline order, each with its semantics."""
        return await self.list_statuses("STATUS", lane=lane)

    async def lead_sources(self, *, lane: Lane = Lane.INTERACTIVE) -> list[Status]:
        """Lead sources."""
        return await self.list_statuses("SOURCE", lane=lane)

    # --- contacts ---------------------------------------------------------------------------

    async def add_contact(self, draft: ContactDraft, *, lane: Lane = Lane.INTERACTIVE) -> int:
        """Create a contact; returns its id. Not retried after an unknown outcome."""
        response = await self.call(
            "crm.contact.add", {"fields": draft.to_portal()}, lane=lane, idempotent=False
        )
        return int(response.result)

    async def get_contact(self, contact_id: int, *, lane: Lane = Lane.INTERACTIVE) -> Contact:
        """One contact."""
        response = await self.call(
            "crm.contact.get", {"id": contact_id}, lane=lane, idempotent=True
        )
        return Contact.model_validate(response.result)

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
        response = await self._list_page(
            "crm.contact.list", self._list_params(filter, select, order, start), lane
        )
        items = [Contact.model_validate(item) for item in _as_list(response.result)]
        return Page(items=items, total=response.total, next=response.next)

    async def update_contact(
        self, contact_id: int, changes: ContactChanges, *, lane: Lane = Lane.INTERACTIVE
    ) -> bool:
        """Change the given fields of a contact."""
        params = {"id": contact_id, "fields": changes.to_portal()}
        response = await self.call("crm.contact.update", params, lane=lane, idempotent=True)
        return bool(response.result)

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
            raise ValidationError("no values to look for", method="crm.duplicate.findbycomm")
        params: dict[str, Any] = {"type": type, "values": list(values)}
        if entity_type is not None:
            params["entity_type"] = entity_type
        response = await self.call("crm.duplicate.findbycomm", params, lane=lane, idempotent=True)
        return DuplicateMatches.model_validate(response.result)

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
        fields: dict[str, Any] = {
            "ENTITY_ID": entity_id,
            "ENTITY_TYPE": entity_type,
            "COMMENT": comment,
        }
        if author_id is not None:
            fields["AUTHOR_ID"] = author_id
        response = await self.call(
            "crm.timeline.comment.add", {"fields": fields}, lane=lane, idempotent=False
        )
        return int(response.result)

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
        response = await self._list_page(
            "crm.product.list", self._list_params(filter, select, order, start), lane
        )
        items = [Product.model_validate(item) for item in _as_list(response.result)]
        return Page(items=items, total=response.total, next=response.next)

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
            params: dict[str, Any] = {"start": start, "sort": "ID", "order": "ASC"}
            if filter:
                params["FILTER"] = dict(filter)
            response = await self.call("user.get", params, lane=lane, idempotent=True)
            users.extend(PortalUser.model_validate(item) for item in _as_list(response.result))
            if response.next is None or response.next <= start:
                return users
            start = response.next

    async def current_user(self, *, lane: Lane = Lane.INTERACTIVE) -> PortalUser:
        """The portal user behind the credentials."""
        response = await self.call("user.current", lane=lane, idempotent=True)
        return PortalUser.model_validate(response.result)

    async def crm_mode(self, *, lane: Lane = Lane.INTERACTIVE) -> CrmMode:
        """Classic (leads on) or simple (leads become deals at once) CRM."""
        response = await self.call("crm.settings.mode.get", lane=lane, idempotent=True)
        return CrmMode(int(response.result))

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
        params: dict[str, Any] = {"event": event, "event_type": event_type}
        if handler is not None:
            params["handler"] = handler
        if auth_type is not None:
            params["auth_type"] = auth_type
        response = await self.call("event.bind", params, lane=lane, idempotent=False)
        return bool(response.result)

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
        params: dict[str, Any] = {"event": event, "event_type": event_type}
        if handler is not None:
            params["handler"] = handler
        if auth_type is not None:
            params["auth_type"] = auth_type
        response = await self.call("event.unbind", params, lane=lane, idempotent=True)
        result = response.result
        if isinstance(result, dict):
            return int(result.get("count", 0))
        return int(result or 0)

    async def get_events(self, *, lane: Lane = Lane.INTERACTIVE) -> list[EventHandler]:
        """The application's registered event handlers."""
        response = await self.call("event.get", lane=lane, idempotent=True)
        return [EventHandler.model_validate(item) for item in _as_list(response.result)]
