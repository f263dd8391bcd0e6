"""Admin tools: custom lead fields in the portal (list, create, rename, list values, delete)."""

from __future__ import annotations

from operator import itemgetter
from typing import Any

from aiogram.types import CallbackQuery, Message
from aiogram_dialog import Dialog, DialogManager, Window
from aiogram_dialog.widgets.input import MessageInput
from aiogram_dialog.widgets.kbd import Button, Cancel, Column, Radio, SwitchTo
from aiogram_dialog.widgets.kbd.select import ManagedRadio
from aiogram_dialog.widgets.text import Format

from bot.admin.fields import (
    CustomFieldService,
    FieldType,
    LabelProblem,
    NameProblem,
    ValuesProblem,
    check_field_name,
    check_label,
    field_label,
    parse_list_values,
)
from dialogs.services import caller, custom_fields_of, translator
from dialogs.states import AdminFields
from dialogs.widgets import (
    NOTICE,
    DialogValue,
    Notice,
    Tr,
    as_text,
    as_texts,
    checked_item,
    clear_notice,
    scrolling_select,
    set_notice,
)

FIELD_SELECT_ID = "fld_pick"
TYPE_SELECT_ID = "fld_type"
VALUE_SELECT_ID = "fld_value"
NEW_FIELD_ID = "fld_new"
CREATE_ID = "fld_create"
REQUIRED_ID = "fld_required"
DELETE_ID = "fld_delete"
VALUE_DELETE_ID = "fld_value_del"
PAGE_HEIGHT = 8

DRAFT_LABEL = DialogValue("new_label", as_text, "")
DRAFT_NAME = DialogValue("new_name", as_text, "")
DRAFT_VALUES: DialogValue[list[str]] = DialogValue("new_values", as_texts, [])
MAX_TYPED = 4000

_NAME_PROBLEMS = {
    NameProblem.EMPTY: "admin-fields-name-empty",
    NameProblem.BAD_CHARS: "admin-fields-name-bad-chars",
    NameProblem.TOO_LONG: "admin-fields-name-too-long",
    NameProblem.EXISTS: "admin-fields-name-exists",
}
_LABEL_PROBLEMS = {
    LabelProblem.EMPTY: "admin-fields-label-empty",
    LabelProblem.TOO_LONG: "admin-fields-label-too-long",
}
_VALUES_PROBLEMS = {
    ValuesProblem.EMPTY: "admin-fields-values-empty",
    ValuesProblem.TOO_LONG: "admin-fields-values-too-long",
    ValuesProblem.TOO_MANY: "admin-fields-values-too-many",
    ValuesProblem.DUPLICATE: "admin-fields-values-duplicate",
}


def _language(manager: DialogManager) -> str:
    return translator(manager).language


def _field_id(manager: DialogManager) -> int:
    return int(checked_item(manager, FIELD_SELECT_ID))


def _value_id(manager: DialogManager) -> int:
    return int(checked_item(manager, VALUE_SELECT_ID))


def _draft_type(manager: DialogManager) -> FieldType:
    """The type picked for the new field (the type list keeps it)."""
    return FieldType(checked_item(manager, TYPE_SELECT_ID))


def _typed(message: Message) -> str:
    return (message.text or "")[:MAX_TYPED]


# --- list and one field ----------------------------------------------------------------------


async def get_fields(
    dialog_manager: DialogManager, custom_fields: CustomFieldService, **_: Any
) -> dict[str, Any]:
    """Every custom field as a button line."""
    tr = translator(dialog_manager)
    fields = await custom_fields.list_fields(caller(dialog_manager), _language(dialog_manager))
    items = [
        (
            tr.get(
                "admin-fields-line",
                label=f.label,
                type=f.type,
                required="yes" if f.required else "no",
                count=f.values,
            ),
            str(f.id),
        )
        for f in fields
    ]
    return {"fields": items, "count": len(items)}


async def on_field_selected(
    _: CallbackQuery, __: ManagedRadio[str], manager: DialogManager, item_id: str
) -> None:
    """Open one field (the list keeps which one)."""
    clear_notice(manager)
    await manager.switch_to(AdminFields.field)


async def get_field(
    dialog_manager: DialogManager, custom_fields: CustomFieldService, **_: Any
) -> dict[str, Any]:
    """The picked field, re-read from the portal."""
    field = await custom_fields.get_field(caller(dialog_manager), _field_id(dialog_manager))
    items = [(item.value or "", str(item.id)) for item in field.items or [] if item.id]
    return {
        "label": field_label(field, _language(dialog_manager)),
        "code": field.field_name,
        "type": field.user_type_id or "",
        "required": "yes" if field.mandatory else "no",
        "is_required": bool(field.mandatory),
        "is_optional": not field.mandatory,
        "is_list": field.user_type_id == FieldType.LIST.value,
        "count": len(items),
        "values": items,
    }


async def on_toggle_required(_: CallbackQuery, __: Button, manager: DialogManager) -> None:
    """Make the field required, or optional again."""
    field_id = _field_id(manager)
    service = custom_fields_of(manager)
    field = await service.get_field(caller(manager), field_id)
    required = not field.mandatory
    await service.set_required(caller(manager), field_id, required)
    set_notice(manager, "admin-fields-required-set" if required else "admin-fields-optional-set")


async def on_rename_typed(message: Message, _: MessageInput, manager: DialogManager) -> None:
    """Rename the field in the admin's language."""
    label = check_label(_typed(message))
    if isinstance(label, LabelProblem):
        set_notice(manager, _LABEL_PROBLEMS[label])
        return
    await custom_fields_of(manager).rename_field(
        caller(manager), _field_id(manager), _language(manager), label
    )
    set_notice(manager, "admin-fields-renamed", label=label)
    await manager.switch_to(AdminFields.field)


async def on_delete_confirmed(_: CallbackQuery, __: Button, manager: DialogManager) -> None:
    """Delete the field for good."""
    await custom_fields_of(manager).delete_field(caller(manager), _field_id(manager))
    set_notice(manager, "admin-fields-deleted")
    await manager.switch_to(AdminFields.fields)


# --- list values -----------------------------------------------------------------------------


async def on_add_values_typed(message: Message, _: MessageInput, manager: DialogManager) -> None:
    """Add the values typed one per line."""
    service = custom_fields_of(manager)
    field = await service.get_field(caller(manager), _field_id(manager))
    existing = [item.value or "" for item in field.items or []]
    values = parse_list_values(_typed(message), existing)
    if isinstance(values, ValuesProblem):
        set_notice(manager, _VALUES_PROBLEMS[values])
        return
    await service.add_values(caller(manager), _field_id(manager), values)
    set_notice(manager, "admin-fields-values-added", count=len(values))
    await manager.switch_to(AdminFields.values)


async def on_value_selected(
    _: CallbackQuery, __: ManagedRadio[str], manager: DialogManager, item_id: str
) -> None:
    """Open one list value (the list keeps which one)."""
    clear_notice(manager)
    await manager.switch_to(AdminFields.value)


async def get_value(
    dialog_manager: DialogManager, custom_fields: CustomFieldService, **_: Any
) -> dict[str, Any]:
    """The field and the picked list value."""
    data = await get_field(dialog_manager, custom_fields)
    item_id = str(_value_id(dialog_manager))
    value = next((text for text, id_ in data["values"] if id_ == item_id), None)
    data.update(value=value or "", found=value is not None)
    return data


async def on_value_rename_typed(message: Message, _: MessageInput, manager: DialogManager) -> None:
    """Give the picked list value a new text."""
    service = custom_fields_of(manager)
    field = await service.get_field(caller(manager), _field_id(manager))
    item_id = _value_id(manager)
    others = [item.value or "" for item in field.items or [] if item.id != item_id]
    values = parse_list_values(_typed(message), others)
    if isinstance(values, ValuesProblem) or len(values) != 1:
        problem = values if isinstance(values, ValuesProblem) else ValuesProblem.TOO_MANY
        set_notice(manager, _VALUES_PROBLEMS[problem])
        return
    await service.rename_value(caller(manager), _field_id(manager), item_id, values[0])
    set_notice(manager, "admin-fields-value-renamed", value=values[0])
    await manager.switch_to(AdminFields.values)


async def on_value_delete_confirmed(_: CallbackQuery, __: Button, manager: DialogManager) -> None:
    """Remove the picked list value."""
    item_id = _value_id(manager)
    await custom_fields_of(manager).delete_value(caller(manager), _field_id(manager), item_id)
    set_notice(manager, "admin-fields-value-deleted")
    await manager.switch_to(AdminFields.values)


# --- a new field -----------------------------------------------------------------------------


async def get_types(
    dialog_manager: DialogManager, custom_fields: CustomFieldService, **_: Any
) -> dict[str, Any]:
    """The field types an admin can create (checks the permission before the first step)."""
    custom_fields.authorize(caller(dialog_manager))
    tr = translator(dialog_manager)
    return {"types": [(tr.get("admin-fields-type", type=t.value), t.value) for t in FieldType]}


async def on_new_field(_: CallbackQuery, __: Button, manager: DialogManager) -> None:
    """Start a new field from a clean draft."""
    custom_fields_of(manager).authorize(caller(manager))
    for value in (DRAFT_LABEL, DRAFT_NAME, DRAFT_VALUES, NOTICE):
        value.clear(manager)
    await manager.switch_to(AdminFields.new_type)


async def on_type_selected(
    _: CallbackQuery, __: ManagedRadio[str], manager: DialogManager, item_id: str
) -> None:
    """Ask for the label (the type list keeps the type; an unknown one is refused here)."""
    custom_fields_of(manager).authorize(caller(manager))
    FieldType(item_id)
    await manager.switch_to(AdminFields.new_label)


async def on_label_typed(message: Message, _: MessageInput, manager: DialogManager) -> None:
    """Remember the label, then ask for the code."""
    custom_fields_of(manager).authorize(caller(manager))
    label = check_label(_typed(message))
    if isinstance(label, LabelProblem):
        set_notice(manager, _LABEL_PROBLEMS[label])
        return
    clear_notice(manager)
    DRAFT_LABEL.set(manager, label)
    await manager.switch_to(AdminFields.new_name)


async def on_name_typed(message: Message, _: MessageInput, manager: DialogManager) -> None:
    """Check the code (also against existing fields), then ask for values or confirm."""
    service = custom_fields_of(manager)
    name = check_field_name(_typed(message), await service.field_names(caller(manager)))
    if isinstance(name, NameProblem):
        set_notice(manager, _NAME_PROBLEMS[name])
        return
    clear_notice(manager)
    DRAFT_NAME.set(manager, name)
    if _draft_type(manager) is FieldType.LIST:
        await manager.switch_to(AdminFields.new_values)
    else:
        await manager.switch_to(AdminFields.new_confirm)


async def on_new_values_typed(message: Message, _: MessageInput, manager: DialogManager) -> None:
    """Remember the list values, then confirm."""
    custom_fields_of(manager).authorize(caller(manager))
    values = parse_list_values(_typed(message))
    if isinstance(values, ValuesProblem):
        set_notice(manager, _VALUES_PROBLEMS[values])
        return
    clear_notice(manager)
    DRAFT_VALUES.set(manager, values)
    await manager.switch_to(AdminFields.new_confirm)


async def get_draft(
    dialog_manager: DialogManager, custom_fields: CustomFieldService, **_: Any
) -> dict[str, Any]:
    """The new field as typed so far."""
    custom_fields.authorize(caller(dialog_manager))
    values = DRAFT_VALUES.get(dialog_manager)
    draft_type = _draft_type(dialog_manager)
    return {
        "label": DRAFT_LABEL.get(dialog_manager),
        "code": DRAFT_NAME.get(dialog_manager),
        "type": draft_type.value,
        "count": len(values),
        "values": ", ".join(values),
        "is_list": draft_type is FieldType.LIST,
    }


async def on_create(_: CallbackQuery, __: Button, manager: DialogManager) -> None:
    """Create the field in the portal."""
    label, name = DRAFT_LABEL.get(manager), DRAFT_NAME.get(manager)
    if not label or not name:  # a stale Create of a draft already made or dropped
        await manager.switch_to(AdminFields.fields)
        return
    await custom_fields_of(manager).create_field(
        caller(manager),
        name=name,
        label=label,
        field_type=_draft_type(manager),
        values=DRAFT_VALUES.get(manager),
    )
    for value in (DRAFT_LABEL, DRAFT_NAME, DRAFT_VALUES):
        value.clear(manager)
    set_notice(manager, "admin-fields-created", label=label)
    await manager.switch_to(AdminFields.fields)


def _back(state: Any, widget_id: str) -> SwitchTo:
    return SwitchTo(Tr("button-back"), id=widget_id, state=state, on_click=_clear_on_click)


async def _clear_on_click(_: CallbackQuery, __: Button, manager: DialogManager) -> None:
    clear_notice(manager)


def build_admin_fields_dialog() -> Dialog:
    """A fresh custom lead fields dialog."""
    return Dialog(
        Window(
            Tr("admin-fields-header"),
            Notice(),
            scrolling_select(
                FIELD_SELECT_ID,
                "fields",
                on_field_selected,
                scroll_id="fld_scroll",
                height=PAGE_HEIGHT,
                keep_choice=True,
            ),
            Button(Tr("admin-fields-new-button"), id=NEW_FIELD_ID, on_click=on_new_field),
            Cancel(Tr("button-back")),
            state=AdminFields.fields,
            getter=get_fields,
        ),
        Window(
            Tr("admin-fields-field"),
            Notice(),
            SwitchTo(
                Tr("admin-fields-rename-button"),
                id="fld_to_rename",
                state=AdminFields.rename,
                on_click=_clear_on_click,
            ),
            SwitchTo(
                Tr("admin-fields-values-button"),
                id="fld_to_values",
                state=AdminFields.values,
                when="is_list",
                on_click=_clear_on_click,
            ),
            Button(
                Tr("admin-fields-make-required-button"),
                id=REQUIRED_ID,
                on_click=on_toggle_required,
                when="is_optional",
            ),
            Button(
                Tr("admin-fields-make-optional-button"),
                id="fld_optional",
                on_click=on_toggle_required,
                when="is_required",
            ),
            SwitchTo(
                Tr("admin-fields-delete-button"),
                id="fld_to_delete",
                state=AdminFields.delete,
                on_click=_clear_on_click,
            ),
            _back(AdminFields.fields, "fld_back_list"),
            state=AdminFields.field,
            getter=get_field,
        ),
        Window(
            Tr("admin-fields-rename-prompt"),
            Notice(),
            MessageInput(on_rename_typed),
            _back(AdminFields.field, "fld_rename_back"),
            state=AdminFields.rename,
            getter=get_field,
        ),
        Window(
            Tr("admin-fields-values-header"),
            Notice(),
            scrolling_select(
                VALUE_SELECT_ID,
                "values",
                on_value_selected,
                scroll_id="fld_values_scroll",
                height=PAGE_HEIGHT,
                keep_choice=True,
            ),
            SwitchTo(
                Tr("admin-fields-add-values-button"),
                id="fld_to_add_values",
                state=AdminFields.add_values,
                on_click=_clear_on_click,
            ),
            _back(AdminFields.field, "fld_values_back"),
            state=AdminFields.values,
            getter=get_field,
        ),
        Window(
            Tr("admin-fields-add-values-prompt"),
            Notice(),
            MessageInput(on_add_values_typed),
            _back(AdminFields.values, "fld_add_values_back"),
            state=AdminFields.add_values,
            getter=get_field,
        ),
        Window(
            Tr("admin-fields-value", when="found"),
            Tr("error-not-found", when=lambda data, *_: not data["found"]),
            Notice(),
            SwitchTo(
                Tr("admin-fields-value-rename-button"),
                id="fld_to_value_rename",
                state=AdminFields.value_rename,
                when="found",
                on_click=_clear_on_click,
            ),
            SwitchTo(
                Tr("admin-fields-value-delete-button"),
                id="fld_to_value_delete",
                state=AdminFields.value_delete,
                when="found",
                on_click=_clear_on_click,
            ),
            _back(AdminFields.values, "fld_value_back"),
            state=AdminFields.value,
            getter=get_value,
        ),
        Window(
            Tr("admin-fields-value-rename-prompt"),
            Notice(),
            MessageInput(on_value_rename_typed),
            _back(AdminFields.value, "fld_value_rename_back"),
            state=AdminFields.value_rename,
            getter=get_value,
        ),
        Window(
            Tr("admin-fields-value-delete-confirm"),
            Button(
                Tr("admin-fields-value-delete-yes-button"),
                id=VALUE_DELETE_ID,
                on_click=on_value_delete_confirmed,
            ),
            _back(AdminFields.value, "fld_value_delete_back"),
            state=AdminFields.value_delete,
            getter=get_value,
        ),
        Window(
            Tr("admin-fields-delete-confirm"),
            Button(
                Tr("admin-fields-delete-yes-button"), id=DELETE_ID, on_click=on_delete_confirmed
            ),
            _back(AdminFields.field, "fld_delete_back"),
            state=AdminFields.delete,
            getter=get_field,
        ),
        Window(
            Tr("admin-fields-new-type"),
            Column(
                Radio(
                    Format("{item[0]}"),
                    Format("{item[0]}"),
                    id=TYPE_SELECT_ID,
                    item_id_getter=itemgetter(1),
                    items="types",
                    on_click=on_type_selected,
                )
            ),
            _back(AdminFields.fields, "fld_new_back"),
            state=AdminFields.new_type,
            getter=get_types,
        ),
        Window(
            Tr("admin-fields-new-label"),
            Notice(),
            MessageInput(on_label_typed),
            _back(AdminFields.new_type, "fld_label_back"),
            state=AdminFields.new_label,
            getter=get_draft,
        ),
        Window(
            Tr("admin-fields-new-name"),
            Notice(),
            MessageInput(on_name_typed),
            _back(AdminFields.new_label, "fld_name_back"),
            state=AdminFields.new_name,
            getter=get_draft,
        ),
        Window(
            Tr("admin-fields-new-values"),
            Notice(),
            MessageInput(on_new_values_typed),
            _back(AdminFields.new_name, "fld_values_back2"),
            state=AdminFields.new_values,
            getter=get_draft,
        ),
        Window(
            Tr("admin-fields-new-confirm"),
            Tr("admin-fields-new-confirm-values", when="is_list"),
            Button(Tr("admin-fields-create-button"), id=CREATE_ID, on_click=on_create),
            _back(AdminFields.fields, "fld_confirm_cancel"),
            state=AdminFields.new_confirm,
            getter=get_draft,
        ),
    )
