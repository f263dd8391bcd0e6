"""Admin tools: which optional fields the capture form asks for, and in which order."""

from __future__ import annotations

from operator import itemgetter
from typing import Any

from aiogram.types import CallbackQuery
from aiogram_dialog import Dialog, DialogManager, Window
from aiogram_dialog.widgets.kbd import Button, Cancel, ScrollingGroup, Select
from aiogram_dialog.widgets.kbd.select import ManagedMultiselect
from aiogram_dialog.widgets.text import Format

from bot.admin.form import FormFieldsService, move, required_fields
from bot.leads.catalog import PortalCatalog
from dialogs.services import caller, catalog_of, form_fields_of
from dialogs.states import AdminForm
from dialogs.widgets import (
    AddingMultiselect,
    DialogValue,
    Notice,
    Tr,
    as_texts,
    check_in_order,
    clear_notice,
    scrolling_select,
    set_notice,
    widget_of,
)

CHOSEN_SELECT_ID = "frm_chosen"
OFFERED_SELECT_ID = "frm_offered"
SAVE_ID = "frm_save"
DEFAULT_ID = "frm_default"
CHOSEN_HEIGHT = 10
OFFERED_HEIGHT = 8

OFFERED: DialogValue[list[str] | None] = DialogValue("offered", as_texts, None)
"""Every code the form may ask, read from the portal once per dialog."""
UP, DOWN, REMOVE = "u", "d", "r"


def _fields(manager: DialogManager) -> ManagedMultiselect[str]:
    """The chosen fields, in the order the form asks them; the ⬜ list adds to them."""
    return widget_of(manager, OFFERED_SELECT_ID, ManagedMultiselect)


async def _working_choice(manager: DialogManager) -> tuple[list[str], list[str]]:
    """The choice being edited and every choosable code (read from the portal once)."""
    offered = OFFERED.get(manager)
    if offered is None:
        service = form_fields_of(manager)
        snapshot = await catalog_of(manager).get()
        offered = [f.code for f in service.offered(snapshot.fields)]
        OFFERED.set(manager, offered)
        await check_in_order(_fields(manager), await service.current(caller(manager)))
    return [code for code in _fields(manager).get_checked() if code in offered], offered


async def get_form(
    dialog_manager: DialogManager,
    form_fields: FormFieldsService,
    catalog: PortalCatalog,
    **_: Any,
) -> dict[str, Any]:
    """The chosen fields with their controls, the others to add, the required ones as text."""
    form_fields.authorize(caller(dialog_manager))
    chosen, offered = await _working_choice(dialog_manager)
    fields = (await catalog.get()).fields
    titles = {f.code: f.label for f in form_fields.offered(fields)}
    rows: list[tuple[str, str]] = []
    for index, code in enumerate(chosen):
        rows += [
            (f"✅ {index + 1}. {titles.get(code, code)}", f"{REMOVE}{code}"),
            ("⬆️", f"{UP}{code}"),
            ("⬇️", f"{DOWN}{code}"),
        ]
    others = [(titles.get(code, code), code) for code in offered if code not in chosen]
    required = ", ".join(f.label for f in required_fields(fields))
    return {
        "chosen": rows,
        "offered": others,
        "count": len(chosen),
        "fields": required,
        "has_required": bool(required),
    }


async def on_chosen_pressed(
    _: CallbackQuery, __: Select[str], manager: DialogManager, item_id: str
) -> None:
    """Take a chosen field out, or move it up or down."""
    form_fields_of(manager).authorize(caller(manager))
    clear_notice(manager)
    chosen, _offered = await _working_choice(manager)
    action, code = item_id[:1], item_id[1:]
    if code not in chosen:
        return
    if action == REMOVE:
        await _fields(manager).set_checked(code, False)
    elif action in (UP, DOWN):
        await check_in_order(_fields(manager), move(chosen, code, -1 if action == UP else 1))


async def on_offered_pressed(
    _: CallbackQuery, __: ManagedMultiselect[str], manager: DialogManager, item_id: str
) -> None:
    """Add a field at the end of the form (the list checks it after this)."""
    form_fields_of(manager).authorize(caller(manager))
    clear_notice(manager)


async def on_save(_: CallbackQuery, __: Button, manager: DialogManager) -> None:
    """Store the choice; the capture form uses it from the next lead on."""
    chosen, _offered = await _working_choice(manager)
    stored = await form_fields_of(manager).save(caller(manager), chosen)
    await check_in_order(_fields(manager), stored)
    set_notice(manager, "admin-form-saved", count=len(stored))


async def on_default(_: CallbackQuery, __: Button, manager: DialogManager) -> None:
    """Go back to the default fields (stored at once)."""
    service = form_fields_of(manager)
    await service.reset(caller(manager))
    fields = (await catalog_of(manager).get()).fields
    await check_in_order(_fields(manager), service.default_choice(fields))
    set_notice(manager, "admin-form-default-set")


def build_admin_form_dialog() -> Dialog:
    """A fresh form fields dialog."""
    return Dialog(
        Window(
            Tr("admin-form-header"),
            Tr("admin-form-required", when="has_required"),
            Notice(),
            scrolling_select(
                CHOSEN_SELECT_ID,
                "chosen",
                on_chosen_pressed,
                scroll_id="frm_chosen_scroll",
                width=3,
                height=CHOSEN_HEIGHT,
            ),
            ScrollingGroup(
                # Only the fields not chosen yet are listed: a press adds one at the end.
                AddingMultiselect(
                    Format("✅ {item[0]}"),
                    Format("⬜ {item[0]}"),
                    id=OFFERED_SELECT_ID,
                    item_id_getter=itemgetter(1),
                    items="offered",
                    on_click=on_offered_pressed,
                ),
                id="frm_offered_scroll",
                width=1,
                height=OFFERED_HEIGHT,
                hide_on_single_page=True,
            ),
            Button(Tr("admin-form-save-button"), id=SAVE_ID, on_click=on_save),
            Button(Tr("admin-form-default-button"), id=DEFAULT_ID, on_click=on_default),
            Cancel(Tr("button-back")),
            state=AdminForm.main,
            getter=get_form,
        ),
    )
