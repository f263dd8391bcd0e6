"""Contacts linked to a lead: reading, finding, linking, unlinking, making primary, creating.

Every write first re-reads the lead and re-checks that the caller may see it, right before
writing; every successful write is recorded in `bot_actions` so notifications can tell the
bot's own changes from the portal's.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import phonenumbers

from bot.access.roles import Identity
from bot.leads.actions import BotActionLog, LeadAction
from bot.leads.visibility import visible_lead, visible_lead_in_batch
from bot.phones import normalize_phone
from bot.portal import (
    BatchCommand,
    Contact,
    ContactDraft,
    Lead,
    LeadContactBinding,
    MultiFieldChange,
    PortalClient,
    result_ref,
)

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
    "contact_draft_from_lead",
    "looks_like_phone",
    "name_filters",
    "phone_prefixes",
    "primary_moved_to",
    "visible_lead_in_batch",
]

CONTACT_SEARCH_MIN = 2
CONTACT_SEARCH_MAX = 64
SEARCH_RESULTS_MAX = 20
# Bound contacts read in the same batch as the bindings; a lead with more gets one more read.
BATCHED_CONTACTS = 10
CONTACT_SELECT = ("ID", "NAME", "SECOND_NAME", "LAST_NAME", "PHONE", "EMAIL")


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


def _contact_list(filter: dict[str, Any]) -> BatchCommand:
    """A `crm.contact.list` command for the search: newest first, one page, no count."""
    return BatchCommand(
        "crm.contact.list",
        {"filter": filter, "select": list(CONTACT_SELECT), "order": {"ID": "DESC"}, "start": -1},
    )


# --- the service -----------------------------------------------------------------------------


class LeadContactsService:
    """The contacts of a lead, each operation checked against what the caller may see."""

    def __init__(
        self, portal: PortalClient, actions: BotActionLog, *, default_region: str
    ) -> None:
        self._portal = portal
        self._actions = actions
        self._region = default_region

    async def view(self, identity: Identity, lead_id: int) -> LeadContactsView:
        """The lead and its linked contacts: one batch (lead, bindings, their contacts)."""
        positions = [result_ref("bindings", i, "CONTACT_ID") for i in range(BATCHED_CONTACTS)]
        result = await self._portal.batch(
            {
                "lead": BatchCommand("crm.lead.get", {"id": lead_id}),
                "bindings": BatchCommand("crm.lead.contact.items.get", {"id": lead_id}),
                "contacts": BatchCommand(
                    "crm.contact.list",
                    {"filter": {"@ID": positions}, "select": list(CONTACT_SELECT), "start": -1},
                ),
            },
            halt=True,
        )
        lead = visible_lead_in_batch(identity, lead_id, result, "lead")
        bindings = [LeadContactBinding.model_validate(b) for b in (result["bindings"] or [])]
        bound = {binding.contact_id for binding in bindings}
        contacts: list[Contact] = []
        if "contacts" in result.results:
            # Keep only bound contacts: a reference past the end of the bindings may match junk.
            contacts = [
                c
                for c in (Contact.model_validate(raw) for raw in result.results["contacts"] or [])
                if c.id in bound
            ]
        missing = sorted(bound - {c.id for c in contacts})
        if missing:
            page = await self._portal.list_contacts(
                filter={"@ID": missing}, select=CONTACT_SELECT, start=-1
            )
            contacts.extend(c for c in page.items if c.id in bound)
        return LeadContactsView(lead=lead, contacts=linked_contacts(bindings, contacts))

    async def search(self, text: str) -> list[Contact]:
        """Contacts by phone (any stored spelling) or by a part of the first/last name."""
        query = " ".join(text.split())
        if len(query) > CONTACT_SEARCH_MAX:
            raise ContactSearchError(ContactSearchProblem.TOO_LONG)
        if len(query) < CONTACT_SEARCH_MIN:
            raise ContactSearchError(ContactSearchProblem.TOO_SHORT)
        if looks_like_phone(query):
            return await self._search_by_phone(query)
        filters = name_filters(query)
        return await self._run({f"name{i}": _contact_list(f) for i, f in enumerate(filters)})

    async def _search_by_phone(self, query: str) -> list[Contact]:
        wanted = normalize_phone(query, self._region)
        if wanted is None:
            raise ContactSearchError(ContactSearchProblem.BAD_PHONE)
        spellings = phone_prefixes(wanted)
        # One request: the duplicate index compares whole numbers whatever their formatting
        # (its ids feed the list by reference), and the PHONE filter catches stored values
        # that merely start with the number (an extension after it).
        commands = {
            "dup": BatchCommand(
                "crm.duplicate.findbycomm",
                {"type": "PHONE", "values": spellings, "entity_type": "CONTACT"},
            ),
            "dup_contacts": _contact_list({"@ID": result_ref("dup", "CONTACT")}),
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
        self, commands: dict[str, BatchCommand], *, skip: frozenset[str] | set[str] = frozenset()
    ) -> list[Contact]:
        result = await self._portal.batch(commands)
        result.raise_for_errors()
        seen: dict[int, Contact] = {}
        for key in commands:
            if key in skip:
                continue
            for raw in result.results.get(key) or []:
                contact = Contact.model_validate(raw)
                if contact.id is not None and contact.id not in seen:
                    seen[contact.id] = contact
        return sorted(seen.values(), key=lambda c: -(c.id or 0))[:SEARCH_RESULTS_MAX]

    async def link(self, identity: Identity, lead_id: int, contact_id: int) -> bool:
        """Bind an existing contact; False when it was already bound."""
        # One read for both checks; an id that is no contact is refused (NotFoundError), as
        # the portal would bind a dangling id.
        result = await self._portal.batch(
            {
                "lead": BatchCommand("crm.lead.get", {"id": lead_id}),
                "contact": BatchCommand("crm.contact.get", {"id": contact_id}),
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
                "lead": BatchCommand("crm.lead.get", {"id": lead_id}),
                "bindings": BatchCommand("crm.lead.contact.items.get", {"id": lead_id}),
            },
            halt=True,
        )
        visible_lead_in_batch(identity, lead_id, result, "lead")
        bindings = [LeadContactBinding.model_validate(b) for b in (result["bindings"] or [])]
        wanted = primary_moved_to(bindings, contact_id)
        if wanted is None:
            return False
        if any(b.contact_id == contact_id and b.is_primary for b in bindings):
            return True
        await self._portal.set_lead_contacts(lead_id, wanted)
        await self._actions.record(identity, lead_id, LeadAction.CONTACT_MADE_PRIMARY)
        return True

    async def create_from_lead(self, identity: Identity, lead_id: int) -> int:
        """Create a contact from the lead's name, phones and e-mails and bind it; its id."""
        lead = await visible_lead(self._portal, identity, lead_id)
        draft = contact_draft_from_lead(lead)
        # One request: the binding refers to the new id; halt so no binding without a contact.
        result = await self._portal.batch(
            {
                "add": BatchCommand(
                    "crm.contact.add",
                    {"fields": draft.to_portal(), "params": {"REGISTER_SONET_EVENT": "N"}},
                ),
                "bind": BatchCommand(
                    "crm.lead.contact.add",
                    {"id": lead_id, "fields": {"CONTACT_ID": result_ref("add")}},
                ),
            },
            halt=True,
        )
        contact_id = int(result["add"])  # raises the portal's refusal, if any
        await self._actions.record(identity, lead_id, LeadAction.CONTACT_CREATED)
        result["bind"]  # raises if the new contact could not be bound
        await self._actions.record(identity, lead_id, LeadAction.CONTACT_LINKED)
        return contact_id
