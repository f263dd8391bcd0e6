"""Widgets shared by every dialog: translated texts, one-off notices, scrolling lists."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from operator import itemgetter
from typing import Any

from aiogram_dialog import DialogManager
from aiogram_dialog.widgets.common import ManagedScroll, WhenCondition
from aiogram_dialog.widgets.kbd import Radio, ScrollingGroup, Select
from aiogram_dialog.widgets.kbd.select import (
    ItemIdGetter,
    ManagedRadio,
    OnItemClick,
    TypeFactory,
)
from aiogram_dialog.widgets.text import Format, Text

from bot.access.service import AccessDenied
from bot.i18n import FluentArg
from dialogs.services import translator
from dialogs.states import LEAD_ID_KEY

NOTICE_KEY = "notice"

_FLUENT_TYPES = (str, int, float, Decimal, date, datetime)


def started_lead_id(manager: DialogManager) -> int:
    """The lead a sub-dialog (contacts, products) was started for, from its start data."""
    data = manager.start_data
    if not isinstance(data, dict) or LEAD_ID_KEY not in data:
        raise AccessDenied("no lead")
    return int(data[LEAD_ID_KEY])


class Tr(Text):
    """A locale message; its variables are taken by name from the window's data, escaped."""

    def __init__(self, key: str, when: WhenCondition = None) -> None:
        super().__init__(when=when)
        self.key = key

    async def _render_text(self, data: dict[str, Any], manager: DialogManager) -> str:
        tr = translator(manager)
        args = {
            name: data[name]
            for name in tr.variables(self.key)
            if isinstance(data.get(name), _FLUENT_TYPES)
        }
        return tr.get_html(self.key, **args)


class Notice(Text):
    """The one-off message an action left in `dialog_data` (a locale key and its arguments).

    Variables the action did not give are taken by name from the window's data, as `Tr` does.
    """

    async def _render_text(self, data: dict[str, Any], manager: DialogManager) -> str:
        notice = manager.dialog_data.get(NOTICE_KEY)
        if not isinstance(notice, dict):
            return ""
        tr = translator(manager)
        key = str(notice["key"])
        args: dict[str, FluentArg] = {
            name: data[name]
            for name in tr.variables(key)
            if isinstance(data.get(name), _FLUENT_TYPES)
        }
        args.update(notice.get("args") or {})
        for name in notice.get("decimals") or ():
            args[name] = Decimal(str(args[name]))
        return "\n\n" + tr.get_html(key, **args)


def set_notice(manager: DialogManager, key: str, **args: FluentArg) -> None:
    """Show `key` once under the next window."""
    # Dialog data is stored as JSON: amounts travel as text and become numbers again.
    decimals = [name for name, value in args.items() if isinstance(value, Decimal)]
    manager.dialog_data[NOTICE_KEY] = {
        "key": key,
        "args": {name: str(args[name]) if name in decimals else args[name] for name in args},
        "decimals": decimals,
    }


def clear_notice(manager: DialogManager) -> None:
    """Forget the notice (a fresh window shows none)."""
    manager.dialog_data.pop(NOTICE_KEY, None)


def radio_of(manager: DialogManager, list_id: str) -> ManagedRadio[Any]:
    """A list that keeps its choice (`scrolling_select(keep_choice=True)`, `Radio`)."""
    radio = manager.find(list_id)
    if not isinstance(radio, ManagedRadio):
        raise LookupError(f"no radio {list_id}")
    return radio


def checked_item(manager: DialogManager, list_id: str) -> str:
    """The item last pressed in a list that keeps its choice; LookupError when none was."""
    item = radio_of(manager, list_id).get_checked()
    if item is None:
        raise LookupError(f"nothing chosen in {list_id}")
    return str(item)


def scroll_of(manager: DialogManager, scroll_id: str) -> ManagedScroll:
    """The page a scroll (`StubScroll`, `ScrollingGroup`) keeps: `get_page()`, `set_page(n)`."""
    scroll = manager.find(scroll_id)
    if not isinstance(scroll, ManagedScroll):
        raise LookupError(f"no scroll {scroll_id}")
    return scroll


def scrolling_select(
    select_id: str,
    items: str,
    on_click: OnItemClick[Any, Any] | None,
    *,
    scroll_id: str,
    height: int,
    width: int = 1,
    type_factory: TypeFactory[Any] = str,
    text: Text | None = None,
    item_id_getter: ItemIdGetter = itemgetter(1),
    keep_choice: bool = False,
    when: str | None = None,
) -> ScrollingGroup:
    """A paged list of buttons, one per item of `items` (by default `(label, id)` pairs).

    With `keep_choice` the list remembers the pressed item (a `Radio`): read it with
    `manager.find(select_id).get_checked()` in later windows of the dialog.
    """
    label = text or Format("{item[0]}")
    select: Select[Any]
    if keep_choice:
        select = Radio(
            label,
            label,
            id=select_id,
            item_id_getter=item_id_getter,
            items=items,
            type_factory=type_factory,
            on_click=on_click,
        )
    else:
        select = Select(
            label,
            id=select_id,
            item_id_getter=item_id_getter,
            items=items,
            type_factory=type_factory,
            on_click=on_click,
        )
    return ScrollingGroup(
        select, id=scroll_id, width=width, height=height, hide_on_single_page=True, when=when
    )
