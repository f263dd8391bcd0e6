"""Contacts linked to a lead: reading, finding, linking, unlinking, making primary, creating.

Every write first re-reads the lead and re-checks that the caller may see it, right before
writing; every successful write is recorded in `bot_actions` so notifications can tell the
bot's own changes from the portal's.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import phonenumbers

from bot.access.roles import Action, Identity
from bot.leads.actions import BotActionLog, LeadAction
from bot.leads.inflight import InFlight, WriteInProgressError
from bot.leads.visibility import visible_lead, visible_lead_in_batch
from bot.phones import normalize_phone
from bot.portal import (
    Contact,
    ContactDraft,
    Lead,
    LeadContactBinding,
    MultiFieldChange,
    OutcomeUnknownError,
    PortalClient,
)
from bot.portal.methods import (
    AddContact,
    AddLeadContact,
    FindDuplicates,
    GetContact,
    GetLead,
    GetLeadContacts,
    ListContacts,
    PortalMethod,
    Ref,
)
from bot.write_journal import StepState, WriteJournal

log = logging.getLogger(__name__)

__all__ = [
    "CONTACT_SEARCH_MAX",
    "CONTACT_SEARCH_MIN",
    "BotActionLog",
    "ContactSearchError",
    "ContactSearchProblem",
    "LeadAction",
    "LeadContactsService",
    "LeadContactsView",
    "LinkedContact",
    "NothingToCopyError",
    "WriteInProgressError",
    "contact_draft_from_lead",
    "contact_origin_id",
    "looks_like_email",
    "looks_like_phone",
    "mask_phone",
    "name_filters",
    "phone_prefixes",
    "primary_moved_to",
    "visible_lead_in_batch",
]

CONTACT_SEARCH_MIN = 3
CONTACT_SEARCH_MAX = 64
SEARCH_RESULTS_MAX = 20
# Bound contacts read in the same batch as the bindings; a lead with more gets one more read.
BATCHED_CONTACTS = 10
CONTACT_SELECT = ("ID", "NAME", "SECOND_NAME", "LAST_NAME", "PHONE", "EMAIL")
# A rep's name search covers the contacts of this many of his newest leads (one batch reads
# their bindings); older ones are found by their exact phone or e-mail.
REP_SEARCH_LEADS = 49
# The client-made key on contacts the bot creates, so an add whose outcome was unknown can be
# found again instead of being repeated (the portal's ORIGINATOR_ID/ORIGIN_ID pair).
ORIGINATOR_ID = "telegram-leads-bot"
MADE_REMEMBERED = 1000


# --- pure parts ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LinkedContact:
    """One contact bound to a lead, as the list shows it."""

    contact_id: int
    name: str
    phone: str
    email: str
    is_primary: bool


@dataclass(frozen=True, slots=True)
class LeadContactsView:
    """A lead and its contacts, in the portal's order."""

    lead: Lead
    contacts: list[LinkedContact]


def _first_value(values: Sequence[Any]) -> str:
    for item in values:
        value = str(getattr(item, "value", "") or "").strip()
        if value:
            return value
    return ""


def linked_contacts(
    bindings: Sequence[LeadContactBinding], contacts: Sequence[Contact]
) -> list[LinkedContact]:
    """Bindings in order with what is known of each contact (a missing one keeps its id)."""
    by_id = {contact.id: contact for contact in contacts if contact.id is not None}
    result = []
    for binding in bindings:
        contact = by_id.get(binding.contact_id)
        result.append(
            LinkedContact(
                contact_id=binding.contact_id,
                name=contact.full_name if contact is not None else "",
                phone=_first_value(contact.phone) if contact is not None else "",
                email=_first_value(contact.email) if contact is not None else "",
                is_primary=bool(binding.is_primary),
            )
        )
    return result


def primary_moved_to(
    bindings: Sequence[LeadContactBinding], contact_id: int
) -> list[LeadContactBinding] | None:
    """The same bindings in the same order with `contact_id` the only primary; None if unbound."""
    if not any(binding.contact_id == contact_id for binding in bindings):
        return None
    return [
        LeadContactBinding(
            contact_id=binding.contact_id,
            sort=binding.sort,
            is_primary=binding.contact_id == contact_id,
        )
        for binding in bindings
    ]


def looks_like_phone(text: str) -> bool:
    """Whether a search text is meant as a phone number (mostly digits, at least five)."""
    compact = "".join(ch for ch in text if not ch.isspace())
    digits = sum(ch.isdigit() for ch in compact)
    return digits >= 5 and all(ch.isdigit() or ch in "+-()." for ch in compact)


def phone_prefixes(e164: str) -> list[str]:
    """Spellings under which the portal may have stored a number (its filter is a prefix match).

    `+79161234567` -> `+79161234567`, `79161234567`, and the national `89161234567`.
    """
    spellings = [e164, e164.lstrip("+")]
    try:
        parsed = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return spellings
    national = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
    digits = "".join(ch for ch in national if ch.isdigit())
    if digits and digits not in spellings:
        spellings.append(digits)
    return spellings


def looks_like_email(text: str) -> bool:
    """Whether a search text is meant as an e-mail address (one word with an @ inside)."""
    compact = text.strip()
    local, at, domain = compact.partition("@")
    return bool(at and local and domain) and not any(ch.isspace() for ch in compact)


def mask_phone(value: str, region: str) -> str:
    """A phone for lists: country and area code and the last two digits (+7 916 ***-**-67).

    A number that cannot be read keeps only its last two digits.
    """
    e164 = normalize_phone(value, region)
    if e164 is None:
        digits = [ch for ch in value if ch.isdigit()]
        return "***" + "".join(digits[-2:]) if digits else ""
    parsed = phonenumbers.parse(e164, None)
    spaced = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    country, _, rest = spaced.partition(" ")
    area, _, local = rest.partition(" ")
    if not local:
        area, local = "", rest
    total = sum(ch.isdigit() for ch in local)
    kept, masked = 0, []
    for ch in local:
        if ch.isdigit():
            kept += 1
            masked.append(ch if kept > total - 2 else "*")
        else:
            masked.append(ch)
    return " ".join(part for part in (country, area, "".join(masked)) if part)


def contact_origin_id(lead_id: int, draft: ContactDraft) -> str:
    """The key of the contact made from this lead with this data (same data, same key)."""
    body = json.dumps(draft.to_portal(), sort_keys=True, default=str)
    return f"lead{lead_id}-{hashlib.sha256(body.encode()).hexdigest()[:16]}"


def name_filters(text: str) -> list[dict[str, str]]:
    """`%NAME`/`%LAST_NAME` filters for a name search (one word: either; two: both ways)."""
    words = text.split()
    if not words:
        return []
    if len(words) == 1:
        return [{"%NAME": words[0]}, {"%LAST_NAME": words[0]}]
    first, last = words[0], words[-1]
    return [{"%NAME": first, "%LAST_NAME": last}, {"%NAME": last, "%LAST_NAME": first}]


class NothingToCopyError(ValueError):
    """The lead has neither a name nor a phone nor an e-mail to make a contact from."""


def contact_draft_from_lead(lead: Lead) -> ContactDraft:
    """A new contact with the lead's NAME, LAST_NAME, PHONE and EMAIL, owned by its responsible."""
    phones = [(item.value.strip(), item.value_type or "WORK") for item in lead.phone]
    emails = [(item.value.strip(), item.value_type or "WORK") for item in lead.email]
    phones = [(value, kind) for value, kind in phones if value]
    emails = [(value, kind) for value, kind in emails if value]
    name = (lead.name or "").strip()
    last_name = (lead.last_name or "").strip()
    if not (name or last_name or phones or emails):
        raise NothingToCopyError("nothing to copy from the lead")
    fields: dict[str, Any] = {}
    if name:
        fields["name"] = name
    if last_name:
        fields["last_name"] = last_name
    if not (name or last_name):
        # The portal shows a nameless contact as "Untitled"; the lead's title says more.
        fields["name"] = (lead.title or "").strip()[:100] or None
    if phones:
        fields["phone"] = [MultiFieldChange.add(value, kind) for value, kind in phones]
    if emails:
        fields["email"] = [MultiFieldChange.add(value, kind) for value, kind in emails]
    if lead.assigned_by_id is not None:
        fields["assigned_by_id"] = lead.assigned_by_id
    return ContactDraft(**{key: value for key, value in fields.items() if value is not None})


class ContactSearchProblem(StrEnum):
    """Why a contact search text was refused."""

    TOO_SHORT = "too_short"
    TOO_LONG = "too_long"
    BAD_PHONE = "bad_phone"


class ContactSearchError(ValueError):
    """A contact search text cannot be searched for; `problem` says why."""

    def __init__(self, problem: ContactSearchProblem) -> None:
        super().__init__(problem.value)
        self.problem = problem


def _contact_list(filter: dict[str, Any]) -> ListContacts:
    """A `crm.contact.list` command for the search: newest first, one page, no count."""
    return ListContacts(filter=filter, select=list(CONTACT_SELECT), order={"ID": "DESC"}, start=-1)


# --- the service -----------------------------------------------------------------------------


class LeadContactsService:
    """The contacts of a lead, each operation checked against what the caller may see."""

    def __init__(
        self,
        portal: PortalClient,
        actions: BotActionLog,
        *,
        default_region: str,
        journal: WriteJournal | None = None,
    ) -> None:
        self._portal = portal
        self._journal = journal or WriteJournal(None)
        self._actions = actions
        self._region = default_region
        self._in_flight = InFlight()
        # Keys of adds whose outcome was unknown: the next try looks the key up first.
        self._unsure: set[str] = set()
        # Contacts made lately by key (oldest first): a repeated create binds the same one.
        self._made: dict[str, int] = {}

    @property
    def default_region(self) -> str:
        """The region phone numbers without a country code are read in."""
        return self._region

    async def view(self, identity: Identity, lead_id: int) -> LeadContactsView:
        """The lead and its linked contacts: one batch (lead, bindings, their contacts)."""
        positions = [Ref("bindings", i, "CONTACT_ID") for i in range(BATCHED_CONTACTS)]
        listed = ListContacts(filter={"@ID": positions}, select=list(CONTACT_SELECT), start=-1)
        result = await self._portal.batch(
            {
                "lead": GetLead(id=lead_id),
                "bindings": GetLeadContacts(id=lead_id),
                "contacts": listed,
            },
            halt=True,
        )
        lead = visible_lead_in_batch(identity, lead_id, result, "lead")
        bindings: list[LeadContactBinding] = result["bindings"]
        bound = {binding.contact_id for binding in bindings}
        contacts: list[Contact] = []
        if "contacts" in result.results:
            # Keep only bound contacts: a reference past the end of the bindings may match junk.
            page = result.get("contacts", listed)
            contacts = [c for c in page.items if c.id in bound]
        missing = sorted(bound - {c.id for c in contacts})
        if missing:
            page = await self._portal.list_contacts(
                filter={"@ID": missing}, select=CONTACT_SELECT, start=-1
            )
            contacts.extend(c for c in page.items if c.id in bound)
        return LeadContactsView(lead=lead, contacts=linked_contacts(bindings, contacts))

    async def search(self, identity: Identity, text: str) -> list[Contact]:
        """Contacts by exact phone (any stored spelling) or e-mail, or by a part of the name.

        Anyone finds any contact by its exact phone or e-mail. By name, managers search the
        whole portal; reps only the contacts bound to their own newest leads, so a rep cannot
        harvest the portal's address book two letters at a time.
        """
        query = " ".join(text.split())
        if len(query) > CONTACT_SEARCH_MAX:
            raise ContactSearchError(ContactSearchProblem.TOO_LONG)
        if len(query) < CONTACT_SEARCH_MIN:
            raise ContactSearchError(ContactSearchProblem.TOO_SHORT)
        if looks_like_phone(query):
            return await self._search_by_phone(query)
        if looks_like_email(query):
            return await self._search_by_email(query)
        filters = name_filters(query)
        if identity.may(Action.VIEW_ALL_LEADS):
            return await self._run({f"name{i}": _contact_list(f) for i, f in enumerate(filters)})
        own = await self._contacts_of_own_leads(identity)
        if not own:
            return []
        return await self._run(
            {f"name{i}": _contact_list({**f, "@ID": own}) for i, f in enumerate(filters)}
        )

    async def _contacts_of_own_leads(self, identity: Identity) -> list[int]:
        """Ids of the contacts bound to the caller's newest leads (two requests)."""
        page = await self._portal.list_leads(
            filter={"ASSIGNED_BY_ID": identity.portal_user_id},
            select=["ID"],
            order={"ID": "DESC"},
            start=-1,
        )
        lead_ids = [lead.id for lead in page.items if lead.id is not None][:REP_SEARCH_LEADS]
        if not lead_ids:
            return []
        commands = {f"b{lead_id}": GetLeadContacts(id=lead_id) for lead_id in lead_ids}
        result = await self._portal.batch(commands)
        ids: set[int] = set()
        for key, method in commands.items():
            # A lead deleted meanwhile answers with an error: it simply adds nothing.
            if key in result.results and key not in result.errors:
                ids.update(binding.contact_id for binding in result.get(key, method))
        return sorted(ids)

    async def _search_by_email(self, query: str) -> list[Contact]:
        wanted = query.casefold()
        found = await self._run({"email": _contact_list({"EMAIL": query})})
        # The portal's filter may match more loosely; only the exact address counts.
        return [c for c in found if any(e.value.strip().casefold() == wanted for e in c.email)]

    async def _search_by_phone(self, query: str) -> list[Contact]:
        wanted = normalize_phone(query, self._region)
        if wanted is None:
            raise ContactSearchError(ContactSearchProblem.BAD_PHONE)
        spellings = phone_prefixes(wanted)
        # One request: the duplicate index compares whole numbers whatever their formatting
        # (its ids feed the list by reference), and the PHONE filter catches stored values
        # that merely start with the number (an extension after it).
        commands: dict[str, PortalMethod[Any]] = {
            "dup": FindDuplicates(type="PHONE", values=spellings, entity_type="CONTACT"),
            "dup_contacts": _contact_list({"@ID": Ref("dup", "CONTACT")}),
        }
        for index, spelling in enumerate(spellings):
            commands[f"prefix{index}"] = _contact_list({"PHONE": spelling})
        found = await self._run(commands, skip={"dup"})
        # Keep only contacts that really have this number (prefixes match longer ones too).
        return [
            contact
            for contact in found
            if any(normalize_phone(item.value, self._region) == wanted for item in contact.phone)
        ]

    async def _run(
        self,
        commands: Mapping[str, PortalMethod[Any]],
        *,
        skip: frozenset[str] | set[str] = frozenset(),
    ) -> list[Contact]:
        result = await self._portal.batch(commands)
        result.raise_for_errors()
        seen: dict[int, Contact] = {}
        for key, method in commands.items():
            if key in skip or key not in result.results or not isinstance(method, ListContacts):
                continue
            for contact in result.get(key, method).items:
                if contact.id is not None and contact.id not in seen:
                    seen[contact.id] = contact
        return sorted(seen.values(), key=lambda c: -(c.id or 0))[:SEARCH_RESULTS_MAX]

    async def link(self, identity: Identity, lead_id: int, contact_id: int) -> bool:
        """Bind an existing contact; False when it was already bound."""
        # One read for both checks; an id that is no contact is refused (NotFoundError), as
        # the portal would bind a dangling id.
        result = await self._portal.batch(
            {
                "lead": GetLead(id=lead_id),
                "contact": GetContact(id=contact_id),
            },
        )
        visible_lead_in_batch(identity, lead_id, result, "lead")
        result["contact"]
        linked = await self._portal.add_lead_contact(
            lead_id, LeadContactBinding(contact_id=contact_id)
        )
        if linked:
            await self._actions.record(identity, lead_id, LeadAction.CONTACT_LINKED)
        return linked

    async def unlink(self, identity: Identity, lead_id: int, contact_id: int) -> bool:
        """Unbind a contact (the portal promotes the next one to primary); False if not bound."""
        await visible_lead(self._portal, identity, lead_id)
        unlinked = await self._portal.delete_lead_contact(lead_id, contact_id)
        if unlinked:
            await self._actions.record(identity, lead_id, LeadAction.CONTACT_UNLINKED)
        return unlinked

    async def make_primary(self, identity: Identity, lead_id: int, contact_id: int) -> bool:
        """Make a bound contact the primary one (order kept); False when it is not bound."""
        result = await self._portal.batch(
            {
                "lead": GetLead(id=lead_id),
                "bindings": GetLeadContacts(id=lead_id),
            },
            halt=True,
        )
        visible_lead_in_batch(identity, lead_id, result, "lead")
        bindings: list[LeadContactBinding] = result["bindings"]
        wanted = primary_moved_to(bindings, contact_id)
        if wanted is None:
            return False
        if any(b.contact_id == contact_id and b.is_primary for b in bindings):
            return True
        await self._portal.set_lead_contacts(lead_id, wanted)
        await self._actions.record(identity, lead_id, LeadAction.CONTACT_MADE_PRIMARY)
        return True

    async def create_preview(self, identity: Identity, lead_id: int) -> ContactDraft:
        """What a contact made from the lead would get (NothingToCopyError when nothing)."""
        lead = await visible_lead(self._portal, identity, lead_id)
        return contact_draft_from_lead(lead)

    async def create_from_lead(self, identity: Identity, lead_id: int) -> int:
        """Create a contact from the lead's name, phones and e-mails and bind it; its id.

        One at a time per user and lead (WriteInProgressError for a second tap). The new
        contact carries a key made from the lead and its data; after an add whose outcome was
        unknown, the next try looks the key up and binds what it finds instead of adding again.
        """
        async with self._in_flight.hold((identity.telegram_user_id, lead_id)):
            lead = await visible_lead(self._portal, identity, lead_id)
            draft = contact_draft_from_lead(lead)
            origin_id = contact_origin_id(lead_id, draft)
            step = await self._journal.step(f"contact:{lead_id}")
            existing = self._made.get(origin_id)
            if step is not None and step.state is StepState.DONE:
                existing = step.result
            replayed = step is not None and step.state is not StepState.NEW
            if existing is None and (replayed or origin_id in self._unsure):
                existing = await self._find_by_origin(origin_id)
                if existing is not None and replayed:
                    log.info("contact %d of a replayed update found; not added again", existing)
            if existing is not None:
                # Made already (a repeated tap, or an add whose answer was lost): bind it.
                self._unsure.discard(origin_id)
                if await self._portal.add_lead_contact(
                    lead_id, LeadContactBinding(contact_id=existing)
                ):
                    await self._actions.record(identity, lead_id, LeadAction.CONTACT_LINKED)
                return existing
            fields = draft.model_copy(
                update={"originator_id": ORIGINATOR_ID, "origin_id": origin_id}
            )
            step = await self._journal.started(step)
            # One request: the binding refers to the new id; halt: no binding without a contact.
            try:
                result = await self._portal.batch(
                    {
                        "add": AddContact(fields=fields, options={"REGISTER_SONET_EVENT": "N"}),
                        "bind": AddLeadContact(id=lead_id, fields={"CONTACT_ID": Ref("add")}),
                    },
                    halt=True,
                )
            except OutcomeUnknownError:
                self._unsure.add(origin_id)
                raise
            self._unsure.discard(origin_id)
            contact_id = int(result["add"])  # raises the portal's refusal, if any
            self._remember(origin_id, contact_id)
            await self._journal.finished(step, contact_id)
            await self._actions.record(identity, lead_id, LeadAction.CONTACT_CREATED)
            result["bind"]  # raises if the new contact could not be bound
            await self._actions.record(identity, lead_id, LeadAction.CONTACT_LINKED)
            return contact_id

    def _remember(self, origin_id: str, contact_id: int) -> None:
        self._made[origin_id] = contact_id
        while len(self._made) > MADE_REMEMBERED:
            self._made.pop(next(iter(self._made)))

    async def _find_by_origin(self, origin_id: str) -> int | None:
        page = await self._portal.list_contacts(
            filter={"ORIGINATOR_ID": ORIGINATOR_ID, "ORIGIN_ID": origin_id},
            select=["ID"],
            order={"ID": "ASC"},
            start=-1,
        )
        return next((c.id for c in page.items if c.id is not None), None)
