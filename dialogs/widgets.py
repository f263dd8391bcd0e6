"""Widgets shared by every dialog: translated texts, one-off notices, scrolling lists."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime
from decimal import Decimal
from operator import itemgetter
from typing import Any, Generic, TypeVar

from aiogram.types import CallbackQuery
from aiogram_dialog import DialogManager
from aiogram_dialog.widgets.common import WhenCondition
from aiogram_dialog.widgets.kbd import Multiselect, Radio, ScrollingGroup, Select
from aiogram_dialog.widgets.kbd.select import (
    ItemIdGetter,
    ManagedMultiselect,
    ManagedRadio,
    OnItemClick,
    TypeFactory,
)
from aiogram_dialog.widgets.text import Format, Text

from bot.access.service import AccessDenied
from bot.i18n import FluentArg
from dialogs.services import translator
from dialogs.states import LEAD_ID_KEY

W = TypeVar("W")
V = TypeVar("V")

_FLUENT_TYPES = (str, int, float, Decimal, date, datetime)


def started_lead_id(manager: DialogManager) -> int:
    """The lead a sub-dialog (contacts, products) was started for, from its start data."""
    data = manager.start_data
    if not isinstance(data, dict) or LEAD_ID_KEY not in data:
        raise AccessDenied("no lead")
    return int(data[LEAD_ID_KEY])


class DialogValue(Generic[V]):
    """One value a dialog keeps in its `dialog_data`, under its own key, read back typed.

    Dialog data is stored as plain JSON (the storages refuse anything else): `write` makes a
    value storable (`date.isoformat`, tuples as lists), `read` (`int`, `date.fromisoformat`,
    ...) gives a stored value its type back. A missing value, or one `read` refuses, reads as
    `default`.
    """

    def __init__(
        self,
        key: str,
        read: Callable[[Any], V],
        default: V,
        write: Callable[[Any], Any] | None = None,
    ) -> None:
        self.key = key
        self._read = read
        self.default = default
        self._write = write

    def get(self, manager: DialogManager) -> V:
        """The value, or the default."""
        raw = manager.dialog_data.get(self.key)
        if raw is None:
            return self.default
        try:
            return self._read(raw)
        except (TypeError, ValueError, LookupError, AttributeError):
            return self.default

    def is_set(self, manager: DialogManager) -> bool:
        """Whether a value is stored (the default may be a value of its own)."""
        return manager.dialog_data.get(self.key) is not None

    def set(self, manager: DialogManager, value: V) -> None:
        """Store `value`."""
        stored = value if self._write is None or value is None else self._write(value)
        manager.dialog_data[self.key] = stored

    def clear(self, manager: DialogManager) -> None:
        """Forget the value."""
        manager.dialog_data.pop(self.key, None)

    def take(self, manager: DialogManager) -> V:
        """The value, forgotten as it is read (a one-off message)."""
        value = self.get(manager)
        self.clear(manager)
        return value


def as_text(raw: Any) -> str:
    """A stored value as text (`read` of a text value)."""
    return str(raw)


def as_texts(raw: Any) -> list[str]:
    """A stored list as a list of texts (`read` of a list of codes or values)."""
    if not isinstance(raw, list | tuple):
        raise TypeError("not a list")
    return [str(item) for item in raw]


def as_flag(raw: Any) -> bool:
    """A stored value as a yes/no (`read` of a flag)."""
    return bool(raw)


def _as_dict(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise TypeError("not a mapping")
    return raw


NOTICE: DialogValue[dict[str, Any] | None] = DialogValue("notice", _as_dict, None)
"""The one-off message of `set_notice`: a locale key, its arguments, which are amounts."""


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
        notice = NOTICE.get(manager)
        if notice is None:
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
    NOTICE.set(
        manager,
        {
            "key": key,
            "args": {name: str(args[name]) if name in decimals else args[name] for name in args},
            "decimals": decimals,
        },
    )


def clear_notice(manager: DialogManager) -> None:
    """Forget the notice (a fresh window shows none)."""
    NOTICE.clear(manager)


def widget_of(manager: DialogManager, widget_id: str, kind: type[W]) -> W:
    """The state of a widget of this dialog, e.g. `widget_of(m, ID, ManagedScroll).get_page()`.

    `ManagedScroll` (`StubScroll`, `ScrollingGroup`) keeps a page, `ManagedRadio` a choice,
    `ManagedMultiselect` the checked items in the order they were checked.
    """
    widget = manager.find(widget_id)
    if not isinstance(widget, kind):
        raise LookupError(f"no {kind.__name__} {widget_id}")
    return widget


async def check_in_order(select: ManagedMultiselect[Any], items: Sequence[str]) -> None:
    """Make `items` the checked ones, in this order (a Multiselect keeps the order of checks)."""
    await select.reset_checked()
    for item in items:
        await select.set_checked(item, True)


class AddingMultiselect(Multiselect[str]):
    """A `Multiselect` whose press only checks its item: list the unchecked items to add.

    A press delivered twice (a replayed update) leaves the item checked, where a plain
    `Multiselect` would uncheck it again. Uncheck with `set_checked(item, False)`.
    """

    async def _on_click(
        self,
        callback: CallbackQuery,
        select: Any,
        manager: DialogManager,
        item_id: str,
    ) -> None:
        await self.set_checked(callback, item_id, True, manager)


def checked_item(manager: DialogManager, list_id: str) -> str:
    """The item last pressed in a list that keeps its choice; LookupError when none was."""
    item = widget_of(manager, list_id, ManagedRadio).get_checked()
    if item is None:
        raise LookupError(f"nothing chosen in {list_id}")
    return str(item)


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
