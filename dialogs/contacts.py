"""The contacts of one lead: list, link by phone or name, create from the lead, unlink, primary."""

from __future__ import annotations

import logging
from typing import Any

from aiogram.types import CallbackQuery, Message
from aiogram_dialog import Dialog, DialogManager, Window
from aiogram_dialog.widgets.input import MessageInput
from aiogram_dialog.widgets.kbd import Button, Cancel, Column, Select, SwitchTo
from aiogram_dialog.widgets.kbd.select import ManagedRadio
from aiogram_dialog.widgets.text import Format

from bot.access.roles import Action
from bot.leads.contacts import (
    CONTACT_SEARCH_MAX,
    ContactSearchError,
    ContactSearchProblem,
    LeadContactsService,
    NothingToCopyError,
    WriteInProgressError,
    mask_phone,
)
from bot.leads.render import cut
from bot.portal import Contact, NotFoundError
from dialogs.services import caller, lead_contacts_of, translator
from dialogs.states import LeadContacts
from dialogs.widgets import (
    DialogValue,
    Notice,
    Tr,
    as_text,
    checked_item,
    clear_notice,
    scrolling_select,
    set_notice,
    started_lead_id,
)

log = logging.getLogger(__name__)

CONTACT_SELECT_ID = "lc_contact"
FOUND_SELECT_ID = "lc_found"
LINK_ID = "lc_link"
CREATE_ID = "lc_create"
CREATE_YES_ID = "lc_create_yes"
PRIMARY_ID = "lc_primary"
UNLINK_ID = "lc_unlink"
BACK_TO_LIST_ID = "lc_back"
PAGE_HEIGHT = 8
LABEL_MAX = 60


def _read_known(raw: Any) -> dict[int, tuple[str, bool]]:
    return {int(key): (str(value[0]), bool(value[1])) for key, value in raw.items()}


def _write_known(known: dict[int, tuple[str, bool]]) -> dict[str, list[Any]]:
    return {str(key): list(value) for key, value in known.items()}


def _read_found(raw: Any) -> list[tuple[str, int, str]]:
    return [(str(label), int(contact_id), str(name)) for label, contact_id, name in raw]


KNOWN: DialogValue[dict[int, tuple[str, bool]]] = DialogValue(
    "contacts", _read_known, {}, write=_write_known
)
"""The lead's contacts as the list showed them: name and whether primary, by contact id."""
FOUND: DialogValue[list[tuple[str, int, str]]] = DialogValue(
    "found", _read_found, [], write=lambda rows: [list(row) for row in rows]
)
"""What this user's last search found: button label, contact id, name."""
QUERY = DialogValue("query", as_text, "")
SEARCH_PROBLEM = DialogValue("search_problem", as_text, "")


def _chosen(manager: DialogManager) -> int:
    """The contact picked in the list of the lead's contacts."""
    return int(checked_item(manager, CONTACT_SELECT_ID))


async def on_leave_list(_: CallbackQuery, __: Any, manager: DialogManager) -> None:
    """A notice is shown once, under the list: moving on forgets it."""
    clear_notice(manager)


def _contact_name(manager: DialogManager, contact_id: int, name: str) -> str:
    return name or translator(manager).get("contacts-unnamed", id=contact_id)


def _known_name(manager: DialogManager, contact_id: int) -> str:
    name, _ = KNOWN.get(manager).get(contact_id, ("", False))
    return _contact_name(manager, contact_id, name)


# --- the list ----------------------------------------------------------------------------------


async def get_contacts(
    dialog_manager: DialogManager, lead_contacts: LeadContactsService, **_: Any
) -> dict[str, Any]:
    """The lead's contacts, re-read on every showing (one batch request)."""
    tr = translator(dialog_manager)
    lead_id = started_lead_id(dialog_manager)
    view = await lead_contacts.view(caller(dialog_manager), lead_id)
    lines = []
    buttons = []
    known: dict[int, tuple[str, bool]] = {}
    for contact in view.contacts:
        name = _contact_name(dialog_manager, contact.contact_id, contact.name)
        if contact.is_primary:
            key = "contacts-primary-line" if contact.phone else "contacts-primary-line-no-phone"
        else:
            key = "contacts-line" if contact.phone else "contacts-line-no-phone"
        lines.append(tr.get_html(key, name=name, phone=contact.phone))
        buttons.append(
            (cut(("⭐ " if contact.is_primary else "") + name, LABEL_MAX), contact.contact_id)
        )
        known[contact.contact_id] = (contact.name, contact.is_primary)
    KNOWN.set(dialog_manager, known)
    return {
        "id": lead_id,
        "title": view.lead.title or "",
        "lines": "\n".join(lines),
        "contacts": buttons,
        "has_contacts": bool(buttons),
        "no_contacts": not buttons,
    }


async def on_contact_selected(
    _: CallbackQuery, __: ManagedRadio[int], manager: DialogManager, contact_id: int
) -> None:
    """Open one linked contact (the list keeps which one)."""
    clear_notice(manager)
    await manager.switch_to(LeadContacts.contact)


# --- one contact -------------------------------------------------------------------------------


async def get_contact(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    """The chosen contact as the list showed it (the actions re-check everything)."""
    contact_id = _chosen(dialog_manager)
    is_primary = KNOWN.get(dialog_manager).get(contact_id, ("", False))[1]
    return {
        "name": _known_name(dialog_manager, contact_id),
        "is_primary": is_primary,
        "not_primary": not is_primary,
    }


async def on_make_primary(_: CallbackQuery, __: Button, manager: DialogManager) -> None:
    """Make the chosen contact the lead's primary contact."""
    contact_id = _chosen(manager)
    name = _known_name(manager, contact_id)
    done = await lead_contacts_of(manager).make_primary(
        caller(manager), started_lead_id(manager), contact_id
    )
    set_notice(manager, "contacts-primary-set" if done else "contacts-not-linked", name=name)
    await manager.switch_to(LeadContacts.main)


async def on_unlink(_: CallbackQuery, __: Button, manager: DialogManager) -> None:
    """Unlink the chosen contact from the lead."""
    contact_id = _chosen(manager)
    name = _known_name(manager, contact_id)
    done = await lead_contacts_of(manager).unlink(
        caller(manager), started_lead_id(manager), contact_id
    )
    set_notice(manager, "contacts-unlinked" if done else "contacts-not-linked", name=name)
    await manager.switch_to(LeadContacts.main)


# --- linking an existing contact ---------------------------------------------------------------


async def get_search(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    """The search prompt, with the last refusal if any."""
    problem = SEARCH_PROBLEM.take(dialog_manager)
    return {
        "too_short": problem == ContactSearchProblem.TOO_SHORT.value,
        "too_long": problem == ContactSearchProblem.TOO_LONG.value,
        "bad_phone": problem == ContactSearchProblem.BAD_PHONE.value,
        "not_text": problem == "not_text",
        "count": CONTACT_SEARCH_MAX,
        "rep": not caller(dialog_manager).may(Action.VIEW_ALL_LEADS),
    }


def _found_label(manager: DialogManager, contact: Contact) -> str:
    name = _contact_name(manager, contact.id or 0, contact.full_name)
    phone = next((item.value for item in contact.phone if item.value), "")
    if phone and not caller(manager).may(Action.VIEW_ALL_LEADS):
        # A list of found contacts is no phone book for reps.
        phone = mask_phone(phone, lead_contacts_of(manager).default_region)
    return cut(f"{name} · {phone}" if phone else name, LABEL_MAX)


async def on_search(message: Message, _: MessageInput, manager: DialogManager) -> None:
    """Look contacts up by the phone or the name the user sent."""
    text = message.text
    if not text:
        SEARCH_PROBLEM.set(manager, "not_text")
        return
    try:
        found = await lead_contacts_of(manager).search(caller(manager), text)
    except ContactSearchError as exc:
        SEARCH_PROBLEM.set(manager, exc.problem.value)
        return
    QUERY.set(manager, " ".join(text.split())[:CONTACT_SEARCH_MAX])
    FOUND.set(
        manager,
        [
            (
                _found_label(manager, contact),
                contact.id,
                _contact_name(manager, contact.id, contact.full_name),
            )
            for contact in found
            if contact.id
        ],
    )
    await manager.switch_to(LeadContacts.found)


async def get_found(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    """Contacts found by the last search."""
    found = [(label, contact_id) for label, contact_id, _ in FOUND.get(dialog_manager)]
    return {
        "found": found,
        "count": len(found),
        "nothing": not found,
        "query": QUERY.get(dialog_manager),
    }


async def on_found_selected(
    _: CallbackQuery, __: Select[int], manager: DialogManager, contact_id: int
) -> None:
    """Link the chosen contact to the lead."""
    names = {contact_id: name for _, contact_id, name in FOUND.get(manager)}
    if contact_id not in names:
        # Only what this user's own search found can be linked from here.
        await manager.switch_to(LeadContacts.search)
        return
    name = names[contact_id]
    try:
        linked = await lead_contacts_of(manager).link(
            caller(manager), started_lead_id(manager), contact_id
        )
    except NotFoundError:
        set_notice(manager, "contacts-contact-gone")
    else:
        set_notice(manager, "contacts-linked" if linked else "contacts-already-linked", name=name)
    await manager.switch_to(LeadContacts.main)


# --- creating a contact from the lead ----------------------------------------------------------


async def get_create(
    dialog_manager: DialogManager, lead_contacts: LeadContactsService, **_: Any
) -> dict[str, Any]:
    """What the new contact would get from the lead."""
    tr = translator(dialog_manager)
    try:
        draft = await lead_contacts.create_preview(
            caller(dialog_manager), started_lead_id(dialog_manager)
        )
    except NothingToCopyError:
        return {"can_create": False, "cannot_create": True, "name": "", "phone": "", "email": ""}
    none = tr.get("contacts-value-none")
    name = " ".join(part for part in (draft.name, draft.last_name) if part)
    return {
        "can_create": True,
        "cannot_create": False,
        "name": name or none,
        "phone": ", ".join(str(change.value) for change in draft.phone or []) or none,
        "email": ", ".join(str(change.value) for change in draft.email or []) or none,
    }


async def on_create(callback: CallbackQuery, __: Button, manager: DialogManager) -> None:
    """Create the contact from the lead and link it (a second tap while it runs waits)."""
    try:
        await lead_contacts_of(manager).create_from_lead(caller(manager), started_lead_id(manager))
    except WriteInProgressError:
        await callback.answer(translator(manager).get("write-in-progress"))
        return
    except NothingToCopyError:
        set_notice(manager, "contacts-nothing-to-copy")
    else:
        set_notice(manager, "contacts-created")
    await manager.switch_to(LeadContacts.main)


def build_lead_contacts_dialog() -> Dialog:
    """A fresh lead contacts dialog."""
    return Dialog(
        Window(
            Tr("contacts-title"),
            Format("{lines}", when="has_contacts"),
            Tr("contacts-none", when="no_contacts"),
            Tr("contacts-hint", when="has_contacts"),
            Notice(),
            scrolling_select(
                CONTACT_SELECT_ID,
                "contacts",
                on_contact_selected,
                scroll_id="lc_contacts_scroll",
                height=PAGE_HEIGHT,
                type_factory=int,
                keep_choice=True,
            ),
            Column(
                SwitchTo(
                    Tr("contacts-link-button"),
                    id=LINK_ID,
                    state=LeadContacts.search,
                    on_click=on_leave_list,
                ),
                SwitchTo(
                    Tr("contacts-create-button"),
                    id=CREATE_ID,
                    state=LeadContacts.create,
                    on_click=on_leave_list,
                ),
            ),
            Cancel(Tr("button-back")),
            state=LeadContacts.main,
            getter=get_contacts,
        ),
        Window(
            Tr("contacts-contact-title"),
            Tr("contacts-contact-primary", when="is_primary"),
            Button(
                Tr("contacts-make-primary-button"),
                id=PRIMARY_ID,
                on_click=on_make_primary,
                when="not_primary",
            ),
            Button(Tr("contacts-unlink-button"), id=UNLINK_ID, on_click=on_unlink),
            SwitchTo(Tr("button-back"), id=BACK_TO_LIST_ID, state=LeadContacts.main),
            state=LeadContacts.contact,
            getter=get_contact,
        ),
        Window(
            Tr("contacts-search-prompt"),
            Tr("contacts-search-rep-hint", when="rep"),
            Tr("contacts-search-too-short", when="too_short"),
            Tr("contacts-search-too-long", when="too_long"),
            Tr("contacts-search-bad-phone", when="bad_phone"),
            Tr("contacts-search-not-text", when="not_text"),
            MessageInput(on_search),
            SwitchTo(Tr("button-back"), id="lc_search_back", state=LeadContacts.main),
            state=LeadContacts.search,
            getter=get_search,
        ),
        Window(
            Tr("contacts-found", when="count"),
            Tr("contacts-found-nothing", when="nothing"),
            scrolling_select(
                FOUND_SELECT_ID,
                "found",
                on_found_selected,
                scroll_id="lc_found_scroll",
                height=PAGE_HEIGHT,
                type_factory=int,
            ),
            SwitchTo(Tr("contacts-search-again-button"), id="lc_again", state=LeadContacts.search),
            SwitchTo(Tr("button-back"), id="lc_found_back", state=LeadContacts.main),
            state=LeadContacts.found,
            getter=get_found,
        ),
        Window(
            Tr("contacts-create-confirm", when="can_create"),
            Tr("contacts-nothing-to-copy", when="cannot_create"),
            Button(
                Tr("contacts-create-yes-button"),
                id=CREATE_YES_ID,
                on_click=on_create,
                when="can_create",
            ),
            SwitchTo(Tr("button-back"), id="lc_create_back", state=LeadContacts.main),
            state=LeadContacts.create,
            getter=get_create,
        ),
    )
