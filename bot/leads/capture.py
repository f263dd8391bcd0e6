"""Lead capture against the portal: the form's fields, the duplicate check, creating the lead."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import phonenumbers

from bot.access.roles import Identity
from bot.leads.actions import BotActionLog
from bot.leads.catalog import CatalogSnapshot, PortalCatalog
from bot.leads.form import (
    OPTIONAL_FIELDS_KEY,
    FormField,
    build_form,
    lead_draft,
    optional_codes,
    status_types_used,
)
from bot.portal import BatchCommand, DuplicateMatches, Lane, PortalClient, Status
from bot.storage import Clock, KeyValueRepository, utc_now

log = logging.getLogger(__name__)

LEAD_ADDED = "add"
"""`bot_actions.action` of a lead the bot created."""
MAX_SHOWN_MATCHES = 10
"""Duplicates shown per kind (leads, contacts); a longer list would not help the rep."""

# Dictionaries the catalog already holds; others are read once with crm.status.list.
_CATALOG_STATUS_TYPES = frozenset({"STATUS", "SOURCE"})


@dataclass(frozen=True, slots=True)
class LeadMatch:
    """A lead having the same phone or e-mail as the draft."""

    id: int
    title: str
    status_id: str
    assigned_by_id: int | None
    created: datetime | None


@dataclass(frozen=True, slots=True)
class ContactMatch:
    """A contact having the same phone or e-mail as the draft."""

    id: int
    name: str


@dataclass(frozen=True, slots=True)
class Duplicates:
    """What the duplicate check found (at most MAX_SHOWN_MATCHES of each kind)."""

    leads: tuple[LeadMatch, ...] = ()
    contacts: tuple[ContactMatch, ...] = ()

    @property
    def empty(self) -> bool:
        """True when nothing matched."""
        return not self.leads and not self.contacts


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
    ) -> None:
        self._portal = portal
        self._catalog = catalog
        self._kv = kv
        self._actions = actions
        self._clock = clock
        self._statuses = _StatusCache()

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

    async def find_duplicates(self, phones: Sequence[str], emails: Sequence[str]) -> Duplicates:
        """Leads and contacts with any of these phones or e-mails.

        One request finds the ids (phone and e-mail together); a second one, only when
        something matched, reads their titles, stages and owners.
        """
        commands: dict[str, BatchCommand] = {}
        if phones:
            variants = list(dict.fromkeys(v for p in phones for v in phone_variants(p)))
            commands["phone"] = BatchCommand(
                "crm.duplicate.findbycomm", {"type": "PHONE", "values": variants}
            )
        if emails:
            commands["email"] = BatchCommand(
                "crm.duplicate.findbycomm", {"type": "EMAIL", "values": list(emails)}
            )
        if not commands:
            return Duplicates()
        found = await self._portal.batch(commands, lane=Lane.INTERACTIVE)
        found.raise_for_errors()
        lead_ids: list[int] = []
        contact_ids: list[int] = []
        for key in commands:
            matches = DuplicateMatches.model_validate(found.results.get(key) or [])
            lead_ids.extend(i for i in matches.lead if i not in lead_ids)
            contact_ids.extend(i for i in matches.contact if i not in contact_ids)
        lead_ids = sorted(lead_ids, reverse=True)[:MAX_SHOWN_MATCHES]
        contact_ids = sorted(contact_ids, reverse=True)[:MAX_SHOWN_MATCHES]
        if not lead_ids and not contact_ids:
            return Duplicates()
        return await self._read_matches(lead_ids, contact_ids)

    async def _read_matches(self, lead_ids: list[int], contact_ids: list[int]) -> Duplicates:
        commands: dict[str, BatchCommand] = {}
        if lead_ids:
            commands["leads"] = BatchCommand(
                "crm.lead.list",
                {
                    "filter": {"@ID": lead_ids},
                    "select": ["ID", "TITLE", "STATUS_ID", "ASSIGNED_BY_ID", "DATE_CREATE"],
                    "order": {"ID": "DESC"},
                    "start": -1,
                },
            )
        if contact_ids:
            commands["contacts"] = BatchCommand(
                "crm.contact.list",
                {
                    "filter": {"@ID": contact_ids},
                    "select": ["ID", "NAME", "SECOND_NAME", "LAST_NAME"],
                    "order": {"ID": "DESC"},
                    "start": -1,
                },
            )
        read = await self._portal.batch(commands, lane=Lane.INTERACTIVE)
        read.raise_for_errors()
        leads = tuple(
            LeadMatch(
                id=int(row["ID"]),
                title=str(row.get("TITLE") or ""),
                status_id=str(row.get("STATUS_ID") or ""),
                assigned_by_id=_int_or_none(row.get("ASSIGNED_BY_ID")),
                created=_moment(row.get("DATE_CREATE")),
            )
            for row in _rows(read.results.get("leads"))
        )
        contacts = tuple(
            ContactMatch(
                id=int(row["ID"]),
                name=" ".join(
                    str(row.get(k) or "").strip()
                    for k in ("NAME", "SECOND_NAME", "LAST_NAME")
                    if str(row.get(k) or "").strip()
                ),
            )
            for row in _rows(read.results.get("contacts"))
        )
        return Duplicates(leads=leads, contacts=contacts)

    async def existing_lead(self, origin_id: str) -> int | None:
        """The lead an earlier attempt of this draft created, if the portal has it."""
        page = await self._portal.list_leads(
            filter={"ORIGIN_ID": origin_id}, select=["ID"], order={"ID": "ASC"}, start=-1
        )
        return page.items[0].id if page.items else None

    async def create_lead(
        self,
        form: Sequence[FormField],
        values: Mapping[str, Any],
        *,
        assigned_by_id: int,
        origin_id: str,
        identity: Identity,
        retry: bool = False,
    ) -> int:
        """Create the lead once and record the bot's action; returns its id.

        The draft's ORIGIN_ID makes the portal client find a lead whose answer was lost; on a
        `retry` of a failed attempt the lead is looked up first, so it is never made twice.
        """
        lead_id = await self.existing_lead(origin_id) if retry else None
        if lead_id is None:
            draft = lead_draft(form, values, assigned_by_id=assigned_by_id, origin_id=origin_id)
            lead_id = await self._portal.add_lead(draft, lane=Lane.INTERACTIVE)
        else:
            log.info("lead %d of an earlier attempt found; not created again", lead_id)
        await self._actions.record(identity, lead_id, LEAD_ADDED)
        return lead_id

    def now(self) -> datetime:
        """The current moment (the service's clock)."""
        return self._clock()


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


def _rows(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, list):
        return [row for row in value if isinstance(row, dict) and row.get("ID")]
    if isinstance(value, dict):
        return [row for row in value.values() if isinstance(row, dict) and row.get("ID")]
    return []


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _moment(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


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
