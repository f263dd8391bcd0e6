"""Permission-checked lead operations, each costing as few portal requests as possible.

Reading a card is one `batch` request (the lead, its product rows, its contact bindings and
those contacts' names); stages, sources and users come from caches. A write first re-reads
the lead to check the caller may touch it (one request), then sends the write and the fresh
card in one `batch` (one more request). Every successful write is recorded in `bot_actions`
(through `BotActionLog`) so notifications can tell the bot's own changes from the portal's.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal, TypeVar

from bot.access.directory import PortalDirectory
from bot.access.roles import Action, Identity
from bot.access.service import AccessDenied
from bot.i18n import Translator
from bot.leads.actions import BotActionLog
from bot.leads.catalog import CatalogSnapshot, PortalCatalog
from bot.leads.form import InputRejected, parse_email, parse_phone
from bot.leads.links import lead_url
from bot.leads.query import LeadQuery, QueryKind, digits_of
from bot.leads.render import CardView, LeadSummary, ProductLine
from bot.leads.timeline import find_marked_comment
from bot.leads.visibility import LeadHiddenError, check_visible, visible_lead
from bot.portal import (
    BatchResult,
    Contact,
    Lane,
    Lead,
    LeadChanges,
    LeadContactBinding,
    MultiFieldChange,
    NotFoundError,
    Page,
    PortalClient,
    ProductRow,
    Semantics,
)
from bot.portal.methods import (
    AddTimelineComment,
    FindDuplicates,
    GetLead,
    GetLeadContacts,
    GetLeadProductRows,
    ListContacts,
    ListLeads,
    PortalMethod,
    Ref,
    UpdateLead,
)
from bot.write_journal import StepState, WriteJournal

log = logging.getLogger(__name__)

T = TypeVar("T")

PAGE_SIZE = 50
# Contacts whose names a card shows; the batch asks for them by position in the bindings.
CONTACT_SLOTS = 10
SEARCH_SELECT = (
    "ID",
    "TITLE",
    "STATUS_ID",
    "DATE_CREATE",
    "ASSIGNED_BY_ID",
    "NAME",
    "SECOND_NAME",
    "LAST_NAME",
    "COMPANY_TITLE",
    "OPPORTUNITY",
    "CURRENCY_ID",
    "PHONE",
    "EMAIL",
)
SUMMARY_SELECT = ("ID", "TITLE", "STATUS_ID", "DATE_CREATE", "ASSIGNED_BY_ID")

MultiFieldKind = Literal["PHONE", "EMAIL"]

# The simple fields the card edits (the portal's codes) and how long their text may be; phones
# and e-mails go through `edit_multifield`, the stage through `change_stage` (a failure stage
# needs its reason), the responsible through `take` or, for managers, `update_fields`.
EDITABLE_TEXT_LIMITS: dict[str, int] = {
    "TITLE": 255,
    "NAME": 255,
    "LAST_NAME": 255,
    "COMPANY_TITLE": 255,
    "COMMENTS": 2000,
}
EDITABLE_FIELDS: frozenset[str] = frozenset({*EDITABLE_TEXT_LIMITS, "OPPORTUNITY", "SOURCE_ID"})
MAX_OPPORTUNITY = Decimal("999999999999.99")


class LeadAction(StrEnum):
    """What the bot did to a lead, as recorded in `bot_actions`."""

    STAGE = "stage"
    EDIT = "edit"
    TAKE = "take"
    NOTE = "note"
    DELETE = "delete"


class InvalidValueError(ValueError):
    """A value the user typed cannot be stored (bad phone, e-mail, number, unknown stage)."""


class FieldNotEditableError(InvalidValueError):
    """The change touches a field the card does not edit, or one the caller's role may not."""


@dataclass(frozen=True)
class SearchResult:
    """Leads found for a query, newest first; `truncated` when the portal had more."""

    leads: list[Lead]
    truncated: bool = False


@dataclass(frozen=True)
class StageGroup:
    """Open leads in one stage: the count of all of them and the newest up to 50."""

    status_id: str
    name: str
    total: int
    leads: list[LeadSummary]


@dataclass(frozen=True)
class LeadCardData:
    """A loaded card: the lead as the portal has it, the view to render, the portal link."""

    lead: Lead
    view: CardView
    url: str | None


def summary_of(lead: Lead) -> LeadSummary:
    """The few fields a result line needs."""
    return LeadSummary(
        id=lead.id or 0,
        title=lead.title or "",
        status_id=lead.status_id or "",
        created=lead.date_create,
        assigned_by_id=lead.assigned_by_id,
    )


def matches_query(lead: Lead, query: LeadQuery) -> bool:
    """Whether a lead the portal returned really matches (prefix filters are loose)."""
    if query.kind is QueryKind.ID:
        return lead.id == query.lead_id
    if query.kind is QueryKind.PHONE:
        return any(query.phone_digits in digits_of(p.value) for p in lead.phone)
    if query.kind is QueryKind.EMAIL:
        return any(e.value.strip().casefold().startswith(query.email) for e in lead.email)
    haystack = " ".join(
        part or ""
        for part in (lead.title, lead.name, lead.second_name, lead.last_name, lead.company_title)
    ).casefold()
    return all(word in haystack for word in query.words)


def _list(filter: Mapping[str, Any], select: tuple[str, ...], *, start: int = -1) -> ListLeads:
    return ListLeads(filter=dict(filter), select=list(select), order={"ID": "DESC"}, start=start)


def _answered(result: BatchResult, key: str, method: PortalMethod[T]) -> T | None:
    """The typed answer of a command that succeeded, or None (failed or never run)."""
    if key not in result.results or key in result.errors:
        return None
    return result.get(key, method)


class LeadService:
    """Lead lookup, the card and its actions, with the caller's permissions checked here."""

    def __init__(
        self,
        *,
        portal: PortalClient,
        catalog: PortalCatalog,
        directory: PortalDirectory,
        actions: BotActionLog,
        default_region: str,
        portal_origin: str | None,
        journal: WriteJournal | None = None,
    ) -> None:
        self._portal = portal
        self._journal = journal or WriteJournal(None)
        self._catalog = catalog
        self._directory = directory
        self._actions = actions
        self._region = default_region
        self._origin = portal_origin
        # The portal user the portal credits with the bot's own writes (the webhook's user),
        # learnt from the first lead the bot updates; None until then.
        self._writer_id: int | None = None

    @property
    def catalog(self) -> PortalCatalog:
        """The stages/sources/fields cache the service reads."""
        return self._catalog

    @property
    def default_region(self) -> str:
        """The region phone numbers without a country code are read in."""
        return self._region

    def url(self, lead_id: int) -> str | None:
        """The lead in the portal's UI, when the portal's address is known."""
        return lead_url(self._origin, lead_id) if self._origin else None

    @staticmethod
    def _scoped(identity: Identity, filter: Mapping[str, Any]) -> dict[str, Any]:
        # Reps only ever ask the portal for their own leads.
        scoped = dict(filter)
        if not identity.may(Action.VIEW_ALL_LEADS):
            scoped["ASSIGNED_BY_ID"] = identity.portal_user_id
        return scoped

    # --- lookup --------------------------------------------------------------------------

    @classmethod
    def search_commands(cls, identity: Identity, query: LeadQuery) -> dict[str, PortalMethod[Any]]:
        """The batch commands a search sends: one list per filter, scoped to the caller."""

        def scoped(filter: Mapping[str, Any]) -> ListLeads:
            return _list(cls._scoped(identity, filter), SEARCH_SELECT)

        if query.kind is QueryKind.ID:
            return {"id": scoped({"ID": query.lead_id})}
        if query.kind is QueryKind.EMAIL:
            return {"email": scoped({"EMAIL": query.email})}
        if query.kind is QueryKind.TEXT:
            word = query.portal_word
            return {
                f"text{index}": scoped({f"%{name}": word})
                for index, name in enumerate(("TITLE", "NAME", "LAST_NAME", "COMPANY_TITLE"))
            }
        commands: dict[str, PortalMethod[Any]] = {
            f"phone{index}": scoped({"PHONE": prefix})
            for index, prefix in enumerate(query.phone_prefixes)
        }
        if query.full_phone:
            # The duplicate index compares whole numbers however they were typed in.
            commands["dup"] = FindDuplicates(
                type="PHONE", values=[query.full_phone], entity_type="LEAD"
            )
            commands["dupleads"] = scoped({"@ID": Ref("dup", "LEAD")})
        return commands

    async def search(
        self, identity: Identity, query: LeadQuery, *, lane: Lane = Lane.INTERACTIVE
    ) -> SearchResult:
        """Leads matching `query` that the caller may see, newest first (one request)."""
        commands = self.search_commands(identity, query)
        result = await self._portal.batch(commands, lane=lane)
        found: dict[int, Lead] = {}
        truncated = False
        for key, method in commands.items():
            if key in result.errors:
                if key.startswith("dup"):
                    log.info("duplicate lookup failed: %s", result.errors[key].code)
                    continue
                raise result.errors[key]
            if not isinstance(method, ListLeads):
                continue
            page = _answered(result, key, method)
            items = page.items if page is not None else []
            truncated = truncated or len(items) >= PAGE_SIZE
            for lead in items:
                if lead.id is None or not identity.may_see_lead(lead.assigned_by_id):
                    continue
                if matches_query(lead, query):
                    found[lead.id] = lead
        leads = sorted(found.values(), key=lambda lead: lead.id or 0, reverse=True)
        return SearchResult(leads=leads, truncated=truncated)

    async def recent(self, identity: Identity, *, lane: Lane = Lane.INTERACTIVE) -> SearchResult:
        """The newest leads the caller may see (one request)."""
        page = await self._portal.list_leads(
            filter=self._scoped(identity, {}),
            select=SEARCH_SELECT,
            order={"ID": "DESC"},
            start=-1,
            lane=lane,
        )
        leads = [lead for lead in page.items if identity.may_see_lead(lead.assigned_by_id)]
        return SearchResult(leads=leads, truncated=len(page.items) >= PAGE_SIZE)

    async def open_leads(
        self, identity: Identity, responsible_id: int | None = None
    ) -> list[StageGroup]:
        """Open leads (process stages) grouped by stage in the portal's order (one request).

        Reps always get their own; managers get `responsible_id`'s, or everybody's when None.
        """
        snapshot = await self._catalog.get()
        stages = [s for s in snapshot.stages if s.semantics is Semantics.PROCESS]
        if not stages:
            return []
        filter: dict[str, Any] = {}
        if responsible_id is not None:
            filter["ASSIGNED_BY_ID"] = responsible_id
        commands = {
            f"s{index}": _list(
                self._scoped(identity, {**filter, "STATUS_ID": stage.status_id}),
                SUMMARY_SELECT,
                start=0,
            )
            for index, stage in enumerate(stages)
        }
        result = await self._portal.batch(commands)
        result.raise_for_errors()
        groups = []
        for (key, method), stage in zip(commands.items(), stages, strict=True):
            page = _answered(result, key, method)
            leads = [summary_of(lead) for lead in (page.items if page is not None else [])]
            leads = [lead for lead in leads if identity.may_see_lead(lead.assigned_by_id)]
            total = result.totals.get(key, len(leads))
            if total:
                groups.append(StageGroup(stage.status_id, stage.name, total, leads))
        return groups

    # --- the card ------------------------------------------------------------------------

    async def user_name(self, portal_user_id: int | None) -> str:
        """An active portal user's name from the directory (`#id` for others)."""
        if not portal_user_id:
            return ""
        user = await self._directory.active_user(portal_user_id)
        if user is None or not user.full_name:
            return f"#{portal_user_id}"
        return user.full_name

    async def directory_users(self, limit: int = 50) -> list[tuple[int, str]]:
        """Active portal users (id, name) by name, from the directory cache."""
        users = await self._directory.search("", limit=limit)
        return [(u.id, u.full_name or f"#{u.id}") for u in users if u.id is not None]

    @staticmethod
    def _card_commands(lead_id: int) -> dict[str, PortalMethod[Any]]:
        slots = [Ref("bindings", index, "CONTACT_ID") for index in range(CONTACT_SLOTS)]
        return {
            "lead": GetLead(id=lead_id),
            "products": GetLeadProductRows(id=lead_id),
            "bindings": GetLeadContacts(id=lead_id),
            # A slot past the last binding resolves to no id and matches nothing; the
            # answer is checked against the bindings anyway.
            "people": ListContacts(
                filter={"@ID": slots},
                select=["ID", "NAME", "SECOND_NAME", "LAST_NAME"],
                start=-1,
            ),
        }

    async def compact_view(self, lead: Lead) -> CardView:
        """A card view from what a list answer holds (no products or contacts)."""
        snapshot = await self._catalog.get()
        return CardView(
            lead_id=lead.id or 0,
            title=lead.title or "",
            stage=snapshot.stage_name(lead.status_id),
            responsible=await self.user_name(lead.assigned_by_id),
            company=lead.company_title or "",
            opportunity=lead.opportunity,
            currency=lead.currency_id or "",
        )

    async def _view(
        self,
        lead: Lead,
        snapshot: CatalogSnapshot,
        bindings: list[LeadContactBinding],
        people: list[Contact],
        rows: list[ProductRow],
    ) -> CardView:
        by_id = {c.id: c for c in people if c.id is not None}
        shown = [by_id[b.contact_id] for b in bindings[:CONTACT_SLOTS] if b.contact_id in by_id]
        contacts = [c.full_name or f"#{c.id}" for c in shown]
        products = [
            ProductLine(
                name=row.product_name or "",
                quantity=row.quantity if row.quantity is not None else Decimal(1),
                price=row.price or Decimal(0),
            )
            for row in rows
        ]
        return CardView(
            lead_id=lead.id or 0,
            title=lead.title or "",
            stage=snapshot.stage_name(lead.status_id),
            responsible=await self.user_name(lead.assigned_by_id),
            source=snapshot.source_name(lead.source_id) if lead.source_id else "",
            person=lead.full_name,
            phones=[p.value for p in lead.phone if p.value],
            emails=[e.value for e in lead.email if e.value],
            company=lead.company_title or "",
            opportunity=lead.opportunity,
            currency=lead.currency_id or "",
            contacts=contacts,
            more_contacts=max(0, len(bindings) - CONTACT_SLOTS),
            products=products,
            comments=lead.comments or "",
            modified_at=lead.date_modify,
            modified_by=await self.user_name(await self._modified_by(lead)),
        )

    async def _modified_by(self, lead: Lead) -> int | None:
        # The portal names the webhook's user for the bot's writes; our record names the rep.
        if lead.id is None:
            return lead.modify_by_id
        if self._writer_id is not None and lead.modify_by_id != self._writer_id:
            return lead.modify_by_id  # somebody changed it in the portal itself
        author = await self._actions.author_of_change(lead.id, lead.date_modify)
        return author if author is not None else lead.modify_by_id

    async def load_card(
        self,
        identity: Identity,
        lead_id: int,
        *,
        writes: Mapping[str, PortalMethod[Any]] | None = None,
        action: LeadAction | None = None,
    ) -> LeadCardData:
        """The card of a lead the caller may see, in one request (after `writes`, if any).

        Writes go first in the same batch, which then stops at the first failure; once they
        succeed, `action` is recorded, so the fresh card already names the rep as its editor.
        """
        card = self._card_commands(lead_id)
        commands = {**(writes or {}), **card}
        result = await self._portal.batch(commands, halt=bool(writes))
        for key in writes or {}:
            if key in result.errors:
                raise result.errors[key]
        if action is not None:
            await self._actions.record(identity, lead_id, action.value)
        lead = self._lead_from(identity, lead_id, result)
        if "update" in (writes or {}) and lead.modify_by_id is not None:
            self._writer_id = lead.modify_by_id
        snapshot = await self._catalog.get()
        bindings: list[LeadContactBinding] = _answered(result, "bindings", card["bindings"]) or []
        page: Page[Contact] | None = _answered(result, "people", card["people"])
        people = page.items if page is not None else []
        rows: list[ProductRow] = _answered(result, "products", card["products"]) or []
        view = await self._view(lead, snapshot, bindings, people, rows)
        return LeadCardData(lead=lead, view=view, url=self.url(lead_id))

    @staticmethod
    def _lead_from(identity: Identity, lead_id: int, result: BatchResult) -> Lead:
        try:
            lead: Lead = result["lead"]
        except NotFoundError:
            if identity.may(Action.VIEW_ALL_LEADS):
                raise
            raise LeadHiddenError(lead_id) from None
        check_visible(identity, lead)
        return lead

    # --- actions -------------------------------------------------------------------------

    async def _write(
        self,
        identity: Identity,
        lead_id: int,
        action: LeadAction,
        writes: Mapping[str, PortalMethod[Any]],
    ) -> LeadCardData:
        return await self.load_card(identity, lead_id, writes=writes, action=action)

    async def _write_with_comment(
        self,
        identity: Identity,
        lead_id: int,
        action: LeadAction,
        comment: AddTimelineComment,
        writes: Mapping[str, PortalMethod[Any]] | None = None,
    ) -> LeadCardData:
        """`_write` of `writes` and a timeline comment, the comment made once per update.

        The comment carries its key's invisible mark: on a replay whose outcome is unknown the
        lead's latest comments are searched for it; a comment found (or recorded) is not
        written again. A stage move beside it is harmless to repeat, so it goes again.
        """
        rest = dict(writes or {})
        step = await self._journal.step(f"{action.value}:{lead_id}")
        if step is not None and step.state is not StepState.NEW:
            found = step.state is StepState.DONE
            if not found and await find_marked_comment(self._portal, lead_id, step.marker):
                await self._journal.finished(step)
                found = True
            if found:
                log.info("comment of a replayed update found on lead %d; not added again", lead_id)
                if not rest:
                    return await self.load_card(identity, lead_id)
                return await self._write(identity, lead_id, action, rest)
        step = await self._journal.started(step)
        if step is not None:
            comment = comment.model_copy(update={"comment": comment.comment + step.marker})
        card = await self._write(identity, lead_id, action, {**rest, "comment": comment})
        await self._journal.finished(step)
        return card

    @staticmethod
    def _update(lead_id: int, changes: LeadChanges) -> UpdateLead:
        return UpdateLead(id=lead_id, fields=changes)

    async def _comment(
        self, identity: Identity, lead_id: int, text: str, tr: Translator
    ) -> AddTimelineComment:
        # The portal shows the webhook's user as the author of whatever the bot writes, so
        # the text itself says which rep wrote it.
        name = await self.user_name(identity.portal_user_id)
        signed = f"{text}\n\n{tr.get('timeline-via-telegram', name=name)}"
        return AddTimelineComment(
            entity_type="lead",
            entity_id=lead_id,
            comment=signed,
            author_id=identity.portal_user_id,
        )

    async def change_stage(
        self,
        identity: Identity,
        lead_id: int,
        status_id: str,
        comment: str | None = None,
        *,
        tr: Translator,
    ) -> LeadCardData:
        """Move the lead to a stage of the catalog; `comment` goes to the timeline with it.

        The comment is signed "via Telegram by <rep>" in the language of `tr`.

        A failure stage needs the comment (the reason). The success stage only moves the
        lead: the portal cannot convert a lead through REST.
        """
        snapshot = await self._catalog.get()
        stage = snapshot.stage(status_id)
        if stage is None:
            raise InvalidValueError("unknown stage")
        if stage.semantics is Semantics.FAILURE and not (comment or "").strip():
            raise InvalidValueError("a failure stage needs a reason")
        await visible_lead(self._portal, identity, lead_id)
        writes: dict[str, PortalMethod[Any]] = {
            "update": self._update(lead_id, LeadChanges(status_id=status_id))
        }
        if comment and comment.strip():
            note = await self._comment(identity, lead_id, comment.strip(), tr)
            return await self._write_with_comment(
                identity, lead_id, LeadAction.STAGE, note, writes
            )
        return await self._write(identity, lead_id, LeadAction.STAGE, writes)

    async def check_changes(self, identity: Identity, changes: LeadChanges) -> None:
        """Refuse a change the card would not offer this caller (forged data gets this far).

        Only the card's simple fields, with their limits; a source of the portal's list; the
        responsible only for roles that assign leads to others, and only an active user.
        """
        fields = changes.to_portal()
        if not fields:
            raise InvalidValueError("nothing to change")
        reassigns = "ASSIGNED_BY_ID" in fields
        assignee = fields.pop("ASSIGNED_BY_ID", None)
        if set(fields) - EDITABLE_FIELDS:
            raise FieldNotEditableError("the card does not edit these fields")
        for code, limit in EDITABLE_TEXT_LIMITS.items():
            value = fields.get(code)
            if value is not None and (not str(value).strip() or len(str(value)) > limit):
                raise InvalidValueError(f"{code} must be 1 to {limit} characters")
        if "OPPORTUNITY" in fields:
            amount = changes.opportunity
            if amount is None or not amount.is_finite() or not 0 <= amount <= MAX_OPPORTUNITY:
                raise InvalidValueError("the amount is out of range")
        if "SOURCE_ID" in fields:
            snapshot = await self._catalog.get()
            if not any(s.status_id == changes.source_id for s in snapshot.sources):
                raise InvalidValueError("unknown source")
        if reassigns:
            if not identity.may(Action.ASSIGN_TO_OTHERS):
                raise FieldNotEditableError("only managers reassign leads")
            active = isinstance(assignee, int) and await self._directory.active_user(assignee)
            if not active:
                raise InvalidValueError("the responsible must be an active portal user")

    async def update_fields(
        self, identity: Identity, lead_id: int, changes: LeadChanges
    ) -> LeadCardData:
        """Change simple fields of a lead the caller may see, within what the card offers."""
        await self.check_changes(identity, changes)
        await visible_lead(self._portal, identity, lead_id)
        writes = {"update": self._update(lead_id, changes)}
        return await self._write(identity, lead_id, LeadAction.EDIT, writes)

    def clean_multifield(self, kind: MultiFieldKind, value: str) -> str:
        """A phone in E.164 or an e-mail, read as the capture form reads them."""
        try:
            if kind == "PHONE":
                return parse_phone(value, self._region)
            return parse_email(value)
        except InputRejected:
            raise InvalidValueError(f"not a valid {kind.lower()}") from None

    async def edit_multifield(
        self,
        identity: Identity,
        lead_id: int,
        kind: MultiFieldKind,
        *,
        value_id: int | None = None,
        value: str | None = None,
    ) -> LeadCardData:
        """Add (no `value_id`), change, or delete (no `value`) one phone or e-mail.

        Sent as one `MultiFieldChange`, so the portal merges it and keeps the other values.
        """
        lead = await visible_lead(self._portal, identity, lead_id)
        stored = lead.phone if kind == "PHONE" else lead.email
        if value_id is not None and value_id not in {item.id for item in stored}:
            raise InvalidValueError("the value is no longer on the lead")
        change: MultiFieldChange
        if value is None:
            if value_id is None:
                raise InvalidValueError("nothing to change")
            change = MultiFieldChange.delete(value_id)
        else:
            cleaned = self.clean_multifield(kind, value)
            if value_id is None and any(item.value == cleaned for item in stored):
                # Already there (a replayed update, or typed twice): adding it again would
                # only make a duplicate value.
                return await self.load_card(identity, lead_id)
            if value_id is None:
                change = MultiFieldChange.add(cleaned, "WORK")
            else:
                change = MultiFieldChange.change(value_id, cleaned)
        changes = LeadChanges(phone=[change]) if kind == "PHONE" else LeadChanges(email=[change])
        writes = {"update": self._update(lead_id, changes)}
        return await self._write(identity, lead_id, LeadAction.EDIT, writes)

    @staticmethod
    def may_take(identity: Identity, assigned_by_id: int | None) -> bool:
        """Managers take any lead; reps only a lead assigned to nobody."""
        if assigned_by_id == identity.portal_user_id:
            return False
        return identity.may(Action.VIEW_ALL_LEADS) or not assigned_by_id

    async def take(self, identity: Identity, lead_id: int) -> LeadCardData:
        """Make the caller responsible for the lead."""
        try:
            lead = await self._portal.get_lead(lead_id)
        except NotFoundError:
            if identity.may(Action.VIEW_ALL_LEADS):
                raise
            raise LeadHiddenError(lead_id) from None
        if lead.assigned_by_id == identity.portal_user_id:
            return await self.load_card(identity, lead_id)
        if not self.may_take(identity, lead.assigned_by_id):
            raise LeadHiddenError(lead_id)
        changes = LeadChanges(assigned_by_id=identity.portal_user_id)
        writes = {"update": self._update(lead_id, changes)}
        return await self._write(identity, lead_id, LeadAction.TAKE, writes)

    async def add_note(
        self, identity: Identity, lead_id: int, text: str, *, tr: Translator
    ) -> LeadCardData:
        """Add a comment to the lead's timeline, signed "via Telegram by <rep>"."""
        if not text.strip():
            raise InvalidValueError("empty note")
        await visible_lead(self._portal, identity, lead_id)
        note = await self._comment(identity, lead_id, text.strip(), tr)
        return await self._write_with_comment(identity, lead_id, LeadAction.NOTE, note)

    async def delete(self, identity: Identity, lead_id: int) -> None:
        """Delete a lead (managers and admins only)."""
        if not identity.may(Action.DELETE_LEAD):
            raise AccessDenied("deleting leads is for managers")
        await visible_lead(self._portal, identity, lead_id)
        await self._portal.delete_lead(lead_id)
        await self._actions.record(identity, lead_id, LeadAction.DELETE.value)
