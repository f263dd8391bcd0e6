"""Admin tools: which optional fields the capture form asks for, and in which order."""

from __future__ import annotations

from typing import Any

from aiogram.types import CallbackQuery
from aiogram_dialog import Dialog, DialogManager, Window
from aiogram_dialog.widgets.kbd import Button, Cancel, Select

from bot.admin.form import FormFieldsService, move, required_fields, toggle
from bot.leads.catalog import PortalCatalog
from dialogs.services import caller, catalog_of, form_fields_of
from dialogs.states import AdminForm
from dialogs.widgets import Notice, Tr, clear_notice, scrolling_select, set_notice

CHOSEN_SELECT_ID = "frm_chosen"
OFFERED_SELECT_ID = "frm_offered"
SAVE_ID = "frm_save"
DEFAULT_ID = "frm_default"
CHOSEN_HEIGHT = 10
OFFERED_HEIGHT = 8

CHOSEN_KEY = "chosen"
OFFERED_KEY = "offered"
UP, DOWN, REMOVE, ADD = "u", "d", "r", "a"


async def _working_choice(manager: DialogManager) -> tuple[list[str], list[str]]:
    """The choice being edited and every choosable code, read once per dialog."""
    data = manager.dialog_data
    if CHOSEN_KEY not in data:
        service = form_fields_of(manager)
        snapshot = await catalog_of(manager).get()
        data[OFFERED_KEY] = [f.code for f in service.offered(snapshot.fields)]
        data[CHOSEN_KEY] = await service.current(caller(manager))
    return list(data[CHOSEN_KEY]), list(data[OFFERED_KEY])


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
            (f"✅ {index + 1}. {titles.get(code, code)}", f"{REMOVE}{index}"),
            ("⬆️", f"{UP}{index}"),
            ("⬇️", f"{DOWN}{index}"),
        ]
    others = [
        (f"⬜ {titles.get(code, code)}", f"{ADD}{index}")
        for index, code in enumerate(offered)
        if code not in chosen
    ]
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
    action, index = item_id[:1], int(item_id[1:])
    if not 0 <= index < len(chosen):
        return
    code = chosen[index]
    if action == REMOVE:
        chosen = toggle(chosen, code)
    elif action in (UP, DOWN):
        chosen = move(chosen, code, -1 if action == UP else 1)
    manager.dialog_data[CHOSEN_KEY] = chosen


async def on_offered_pressed(
    _: CallbackQuery, __: Select[str], manager: DialogManager, item_id: str
) -> None:
    """Add a field at the end of the form."""
    form_fields_of(manager).authorize(caller(manager))
    clear_notice(manager)
    chosen, offered = await _working_choice(manager)
    index = int(item_id[1:])
    if 0 <= index < len(offered) and offered[index] not in chosen:
        manager.dialog_data[CHOSEN_KEY] = toggle(chosen, offered[index])


async def on_save(_: CallbackQuery, __: Button, manager: DialogManager) -> None:
    """Store the choice; the capture form uses it from the next lead on."""
    chosen, _offered = await _working_choice(manager)
    stored = await form_fields_of(manager).save(caller(manager), chosen)
    manager.dialog_data[CHOSEN_KEY] = stored
    set_notice(manager, "admin-form-saved", count=len(stored))


async def on_default(_: CallbackQuery, __: Button, manager: DialogManager) -> None:
    """Go back to the default fields (stored at once)."""
    service = form_fields_of(manager)
    await service.reset(caller(manager))
    fields = (await catalog_of(manager).get()).fields
    manager.dialog_data[CHOSEN_KEY] = service.default_choice(fields)
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
            scrolling_select(
                OFFERED_SELECT_ID,
                "offered",
                on_offered_pressed,
                scroll_id="frm_offered_scroll",
                height=OFFERED_HEIGHT,
            ),
            Button(Tr("admin-form-save-button"), id=SAVE_ID, on_click=on_save),
            Button(Tr("admin-form-default-button"), id=DEFAULT_ID, on_click=on_default),
            Cancel(Tr("button-back")),
            state=AdminForm.main,
            getter=get_form,
        ),
    )
