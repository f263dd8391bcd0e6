"""Lead capture against the portal: the form's fields, what Create leads to (the duplicate
check), who may be made responsible, creating the lead once.

The records a capture keeps between updates (draft, matches, failure) are in `capture_draft`.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import phonenumbers

from bot.access.directory import DirectoryUser
from bot.access.roles import Action, Identity
from bot.access.service import AccessDenied
from bot.leads.actions import BotActionLog
from bot.leads.capture_draft import (
    CaptureDraft,
    ContactMatch,
    Duplicates,
    FailureKind,
    LeadMatch,
)
from bot.leads.catalog import CatalogSnapshot, PortalCatalog
from bot.leads.form import (
    OPTIONAL_FIELDS_KEY,
    FormField,
    build_form,
    lead_draft,
    optional_codes,
    prefill_values,
    status_types_used,
)
from bot.leads.quick import merge_prefill
from bot.leads.timeline import find_marked_comment
from bot.leads.visibility import visible_lead
from bot.phones import normalize_contact_phone
from bot.portal import (
    Lane,
    Lead,
    OutcomeUnknownError,
    PortalClient,
    PortalError,
    Status,
    ValidationError,
)
from bot.portal.methods import FindDuplicates, ListContacts, ListLeads, PortalMethod
from bot.storage import Clock, KeyValueRepository, utc_now
from bot.write_journal import WriteJournal

log = logging.getLogger(__name__)

LEAD_ADDED = "add"
"""`bot_actions.action` of a lead the bot created."""
MAX_SHOWN_MATCHES = 10
"""Duplicates shown per kind (leads, contacts); a longer list would not help the rep."""

UNCONFIRMED_GRACE = timedelta(seconds=60)
"""How long after an unanswered add the lead may still appear: a portal finishes a request
after the client hangs up, within its own time limit for one request (PHP's usual 60 s,
counted from the request's start, before the client's own timeout)."""

# Dictionaries the catalog already holds; others are read once with crm.status.list.
_CATALOG_STATUS_TYPES = frozenset({"STATUS", "SOURCE"})


class CaptureFailed(Exception):
    """The lead was not created; `kind` says why, `error` is the portal's error if any."""

    def __init__(self, kind: FailureKind, error: PortalError | None = None) -> None:
        super().__init__(kind.value)
        self.kind = kind
        self.error = error


class CreateInProgress(Exception):
    """This user's draft is being created right now (a second tap)."""


class CreateStep(StrEnum):
    """What pressing Create leads to."""

    ASK_MISSING = "ask_missing"
    """A required field has no answer: ask it first."""
    BUSY = "busy"
    """The draft is being created right now (a second tap): change nothing."""
    SHOW_DUPLICATES = "show_duplicates"
    """Leads or contacts have the draft's phone or e-mail: show them first."""
    CREATE = "create"
    """Nothing in the way: create the lead."""


@dataclass(frozen=True, slots=True)
class CreateCheck:
    """The answer of `CaptureService.check_before_create`."""

    step: CreateStep
    missing_position: int | None = None
    """For ASK_MISSING: the form position of the first required field without an answer."""
    duplicates: Duplicates = field(default_factory=Duplicates)
    """For SHOW_DUPLICATES: what matched."""


@dataclass
class _StatusCache:
    entries: dict[str, tuple[Status, ...]] = field(default_factory=dict)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class CaptureService:
    """What lead capture needs from the portal and from storage.

    Field descriptors, stages and sources come from the shared `PortalCatalog`; other
    `crm_status` dictionaries a form may use (salutations...) are read once and kept.
    """

    def __init__(
        self,
        *,
        portal: PortalClient,
        catalog: PortalCatalog,
        kv: KeyValueRepository,
        actions: BotActionLog,
        clock: Clock = utc_now,
        journal: WriteJournal | None = None,
    ) -> None:
        self._portal = portal
        self._journal = journal or WriteJournal(None)
        self._catalog = catalog
        self._kv = kv
        self._actions = actions
        self._clock = clock
        self._statuses = _StatusCache()
        # (telegram user, ORIGIN_ID) of drafts being created right now.
        self._in_flight: set[tuple[int, str]] = set()

    async def optional_fields(self) -> list[str]:
        """The admin's optional form fields, in order (the default list when unset)."""
        return optional_codes(await self._kv.get(OPTIONAL_FIELDS_KEY))

    async def _status_entries(
        self, snapshot: CatalogSnapshot, wanted: set[str]
    ) -> dict[str, tuple[Status, ...]]:
        entries: dict[str, tuple[Status, ...]] = {
            "STATUS": snapshot.stages,
            "SOURCE": snapshot.sources,
        }
        missing = sorted(wanted - _CATALOG_STATUS_TYPES - set(self._statuses.entries))
        if missing:
            async with self._statuses.lock:
                missing = [m for m in missing if m not in self._statuses.entries]
                for status_type in missing:
                    found = await self._portal.list_statuses(status_type, lane=Lane.INTERACTIVE)
                    self._statuses.entries[status_type] = tuple(found)
        entries.update(self._statuses.entries)
        return entries

    async def form(self, codes: Sequence[str] | None = None) -> list[FormField]:
        """The form's questions; with `codes`, only those (in that order) still askable.

        A draft keeps its list of codes, so a form does not change under a rep's hands when
        the admin edits the choice; fields the portal dropped meanwhile disappear.
        """
        snapshot = await self._catalog.get()
        optional = list(codes) if codes is not None else await self.optional_fields()
        statuses = await self._status_entries(
            snapshot, status_types_used(snapshot.fields, optional)
        )
        form = build_form(snapshot.fields, optional, statuses)
        if codes is not None:
            wanted = set(codes)
            form = [f for f in form if f.code in wanted]
        return form

    async def stage_name(self, status_id: str) -> str:
        """The portal's name of a lead stage."""
        return (await self._catalog.get()).stage_name(status_id)

    async def find_duplicates(
        self, identity: Identity, phones: Sequence[str], emails: Sequence[str]
    ) -> Duplicates:
        """Leads and contacts with any of these phones or e-mails.

        One request finds the ids (phone and e-mail together); a second one, only when
        something matched, reads their titles, stages and owners. Of a lead the caller may
        not see, only its existence, owner and age are kept (not its title or stage).
        """
        commands: dict[str, FindDuplicates] = {}
        if phones:
            variants = list(dict.fromkeys(v for p in phones for v in phone_variants(p)))
            commands["phone"] = FindDuplicates(type="PHONE", values=variants)
        if emails:
            commands["email"] = FindDuplicates(type="EMAIL", values=list(emails))
        if not commands:
            return Duplicates()
        found = await self._portal.batch(commands, lane=Lane.INTERACTIVE)
        found.raise_for_errors()
        lead_ids: list[int] = []
        contact_ids: list[int] = []
        for key, method in commands.items():
            if key not in found.results:
                continue
            matches = found.get(key, method)
            lead_ids.extend(i for i in matches.lead if i not in lead_ids)
            contact_ids.extend(i for i in matches.contact if i not in contact_ids)
        lead_ids = sorted(lead_ids, reverse=True)[:MAX_SHOWN_MATCHES]
        contact_ids = sorted(contact_ids, reverse=True)[:MAX_SHOWN_MATCHES]
        if not lead_ids and not contact_ids:
            return Duplicates()
        return await self._read_matches(identity, lead_ids, contact_ids)

    async def _read_matches(
        self, identity: Identity, lead_ids: list[int], contact_ids: list[int]
    ) -> Duplicates:
        leads_read = ListLeads(
            filter={"@ID": lead_ids},
            select=["ID", "TITLE", "STATUS_ID", "ASSIGNED_BY_ID", "DATE_CREATE"],
            order={"ID": "DESC"},
            start=-1,
        )
        contacts_read = ListContacts(
            filter={"@ID": contact_ids},
            select=["ID", "NAME", "SECOND_NAME", "LAST_NAME"],
            order={"ID": "DESC"},
            start=-1,
        )
        commands: dict[str, PortalMethod[Any]] = {}
        if lead_ids:
            commands["leads"] = leads_read
        if contact_ids:
            commands["contacts"] = contacts_read
        read = await self._portal.batch(commands, lane=Lane.INTERACTIVE)
        read.raise_for_errors()
        leads: tuple[LeadMatch, ...] = ()
        if "leads" in read.results:
            page = read.get("leads", leads_read)
            leads = tuple(_lead_match(identity, lead) for lead in page.items if lead.id)
        contacts: tuple[ContactMatch, ...] = ()
        if "contacts" in read.results:
            people = read.get("contacts", contacts_read)
            contacts = tuple(
                ContactMatch(id=contact.id, name=contact.full_name)
                for contact in people.items
                if contact.id
            )
        return Duplicates(leads=leads, contacts=contacts)

    async def new_draft(
        self, identity: Identity, prefill: Mapping[str, str], region: str
    ) -> tuple[list[FormField], CaptureDraft]:
        """The form and a fresh draft with what the prefill offers; the caller is responsible."""
        form = await self.form()
        draft = CaptureDraft(
            codes=[f.code for f in form],
            values=prefill_values(form, prefill, region),
            origin_id=uuid.uuid4().hex,
            assigned_by_id=identity.portal_user_id,
        )
        return form, draft

    async def merge_details(
        self, draft: CaptureDraft, details: Mapping[str, str], region: str
    ) -> None:
        """Fill the draft's empty fields with newly arrived details (a comment is appended)."""
        form = await self.form(draft.codes)
        draft.values, _changed = merge_prefill(form, draft.values, details, region)

    @staticmethod
    def may_assign_others(identity: Identity) -> bool:
        """Whether `identity` may make somebody else responsible (managers and admins)."""
        return identity.may(Action.ASSIGN_TO_OTHERS)

    @classmethod
    def check_may_assign_others(cls, identity: Identity) -> None:
        """Refuse a rep who reached the responsible picker anyway (buttons can be forged)."""
        if not cls.may_assign_others(identity):
            raise AccessDenied(Action.ASSIGN_TO_OTHERS.value)

    @classmethod
    def check_assignee(cls, identity: Identity, assigned_by_id: int) -> None:
        """Only managers and admins make somebody else responsible."""
        if assigned_by_id != identity.portal_user_id:
            cls.check_may_assign_others(identity)

    @classmethod
    def assign(cls, identity: Identity, draft: CaptureDraft, user: DirectoryUser | None) -> bool:
        """Make `user` responsible for the draft; False when there is nobody to assign.

        `user` is the active portal user read for the picked id (None: unknown or deactivated).
        """
        cls.check_may_assign_others(identity)
        if user is None:
            return False
        draft.assigned_by_id = user.id
        return True

    async def check_before_create(
        self, identity: Identity, draft: CaptureDraft, form: Sequence[FormField]
    ) -> CreateCheck:
        """What pressing Create leads to, in this order: a missing required answer is asked,
        a second tap changes nothing, a forbidden assignee is refused (`AccessDenied`), leads
        and contacts with the draft's phone or e-mail are shown; else the lead is created.

        A replayed press whose add was started goes straight to creating: the duplicate check
        would find the lead that add made, and `create_lead` answers with it."""
        missing = draft.first_missing(form)
        if missing is not None:
            return CreateCheck(CreateStep.ASK_MISSING, missing_position=missing)
        if self.creating(identity, draft):
            return CreateCheck(CreateStep.BUSY)
        self.check_assignee(identity, draft.assigned_by_id)
        if await self._journal.begun(_lead_write(draft)):
            return CreateCheck(CreateStep.CREATE)
        duplicates = await self.find_duplicates(identity, draft.phones, draft.emails)
        if not duplicates.empty:
            return CreateCheck(CreateStep.SHOW_DUPLICATES, duplicates=duplicates)
        return CreateCheck(CreateStep.CREATE)

    def creating(self, identity: Identity, draft: CaptureDraft) -> bool:
        """True while this user's draft is being created (a second tap must not start again)."""
        return (identity.telegram_user_id, draft.origin_id) in self._in_flight

    @asynccontextmanager
    async def _one_write(self, identity: Identity, draft: CaptureDraft) -> AsyncIterator[None]:
        key = (identity.telegram_user_id, draft.origin_id)
        if key in self._in_flight:
            raise CreateInProgress(draft.origin_id)
        self._in_flight.add(key)
        try:
            yield
        finally:
            self._in_flight.discard(key)

    async def create_lead(
        self, identity: Identity, draft: CaptureDraft, form: Sequence[FormField]
    ) -> int:
        """Create the draft's lead once and record the bot's action; returns its id.

        Re-checks who may be made responsible (buttons can be forged). One write per user and
        draft runs at a time: a second tap raises `CreateInProgress`. After a failed attempt
        the draft's ORIGIN_ID is looked up first; after an unanswered one, a missing lead is
        only added again once `UNCONFIRMED_GRACE` has passed (the portal may still be saving
        it). Failures raise `CaptureFailed` and mark `draft` (the caller stores it back).
        """
        self.check_assignee(identity, draft.assigned_by_id)
        async with self._one_write(identity, draft):
            try:
                lead_id = await self._create_once(draft, form)
            except OutcomeUnknownError as error:
                log.warning("lead capture unconfirmed: the portal's answer was lost")
                draft.attempted = True
                # No answer at all (timeout, dropped connection): the portal may still be
                # running the request. An answered 5xx means the request is over.
                if error.status is None:
                    draft.unconfirmed_at = self._clock().isoformat()
                raise CaptureFailed(FailureKind.UNCONFIRMED, error) from error
            except PortalError as error:
                log.warning("lead capture failed: %s", error.code or type(error).__name__)
                draft.attempted = True
                kind = FailureKind.REFUSED if _refused(error) else FailureKind.PROBLEM
                raise CaptureFailed(kind, error) from error
        await self._actions.record(identity, lead_id, LEAD_ADDED)
        return lead_id

    async def _create_once(self, draft: CaptureDraft, form: Sequence[FormField]) -> int:
        async def add(_mark: str) -> int:
            return await self._add_lead(draft, form)

        async def find(_mark: str) -> int | None:
            # The process died while this update's add ran: the portal may have the lead.
            found = await self._portal.find_lead_by_origin(draft.origin_id)
            if found is not None:
                log.info("lead %d of a replayed update found; not created again", found)
            return found

        return await self._journal.once(_lead_write(draft), write=add, find=find)

    async def _add_lead(self, draft: CaptureDraft, form: Sequence[FormField]) -> int:
        if draft.attempted:
            existing = await self._portal.find_lead_by_origin(draft.origin_id)
            if existing is not None:
                log.info("lead %d of an earlier attempt found; not created again", existing)
                return existing
            if draft.unconfirmed_at is not None:
                since = self._clock() - datetime.fromisoformat(draft.unconfirmed_at)
                if since < UNCONFIRMED_GRACE:
                    raise CaptureFailed(FailureKind.PENDING)
        portal_draft = lead_draft(
            form, draft.values, assigned_by_id=draft.assigned_by_id, origin_id=draft.origin_id
        )
        return await self._portal.add_lead(portal_draft, lane=Lane.INTERACTIVE)

    async def add_note(self, identity: Identity, lead_id: int, text: str) -> str:
        """Put a note on a matching lead's timeline after re-checking the caller may see it.

        Returns the lead's title (may be empty).
        """
        lead = await visible_lead(self._portal, identity, lead_id)

        async def add(mark: str) -> int:
            return await self._portal.add_timeline_comment("lead", lead_id, text + mark)

        async def find(mark: str) -> int | None:
            return await find_marked_comment(self._portal, lead_id, mark)

        await self._journal.once(f"note:{lead_id}", write=add, find=find)
        return lead.title or ""

    def now(self) -> datetime:
        """The current moment (the service's clock)."""
        return self._clock()


def contact_prefill(
    first_name: str, last_name: str | None, phone_number: str, region: str
) -> dict[str, str]:
    """The form's prefill from a shared contact card: the name, and the phone when it reads."""
    prefill: dict[str, str] = {}
    if first_name:
        prefill["NAME"] = first_name
    if last_name:
        prefill["LAST_NAME"] = last_name
    phone = normalize_contact_phone(phone_number, region)
    if phone is not None:
        prefill["PHONE"] = phone
    return prefill


def phone_variants(e164: str) -> list[str]:
    """The number as stored by people: E.164 and the national digits (`89161234567`).

    The portal compares a number's digits, so a lead typed as "8 916 ..." is only found by
    its national form.
    """
    try:
        parsed = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return [e164]
    national = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
    digits = "".join(ch for ch in national if ch.isdigit())
    return [e164, digits] if digits and digits != e164.lstrip("+") else [e164]


def _lead_write(draft: CaptureDraft) -> str:
    """The write journal's action of the draft's lead add."""
    return f"lead:{draft.origin_id}"


def _refused(error: PortalError) -> bool:
    # The lead as it stands was refused (a field): changing the draft can help.
    return isinstance(error, ValidationError)


def _lead_match(identity: Identity, lead: Lead) -> LeadMatch:
    visible = identity.may_see_lead(lead.assigned_by_id)
    return LeadMatch(
        id=lead.id or 0,
        title=(lead.title or "") if visible else "",
        status_id=(lead.status_id or "") if visible else "",
        assigned_by_id=lead.assigned_by_id,
        created=lead.date_create,
        visible=visible,
    )


def age(created: datetime | None, now: datetime) -> tuple[str, int]:
    """How long ago, as a locale key of the `time-*` family and its count."""
    if created is None:
        return ("time-just-now", 0)
    elapsed = max(now - created, timedelta(0))
    if elapsed < timedelta(minutes=1):
        return ("time-just-now", 0)
    if elapsed < timedelta(hours=1):
        return ("time-minutes-ago", int(elapsed.total_seconds() // 60))
    if elapsed < timedelta(days=1):
        return ("time-hours-ago", int(elapsed.total_seconds() // 3600))
    return ("time-days-ago", elapsed.days)
