"""Widgets shared by every dialog: translated texts."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from aiogram_dialog import DialogManager
from aiogram_dialog.widgets.common import WhenCondition
from aiogram_dialog.widgets.text import Text

from bot.access.roles import Identity
from bot.access.service import AccessDenied
from bot.i18n import FluentArg, Translator
from dialogs.states import LEAD_ID_KEY

TRANSLATOR_KEY = "tr"
NOTICE_KEY = "notice"

_FLUENT_TYPES = (str, int, float, Decimal, date, datetime)


def translator(manager: DialogManager) -> Translator:
    """The caller's translator, put into middleware data by the identity middleware."""
    tr = manager.middleware_data[TRANSLATOR_KEY]
    assert isinstance(tr, Translator)
    return tr


def caller(manager: DialogManager) -> Identity:
    """The bound user behind the current update; refuses anyone else (checked per update)."""
    identity = manager.middleware_data.get("identity")
    if not isinstance(identity, Identity):
        raise AccessDenied("not signed in")
    return identity


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
    """The one-off message an action left in `dialog_data` (a locale key and its arguments)."""

    async def _render_text(self, data: dict[str, Any], manager: DialogManager) -> str:
        notice = manager.dialog_data.get(NOTICE_KEY)
        if not isinstance(notice, dict):
            return ""
        args: dict[str, FluentArg] = dict(notice.get("args") or {})
        return "\n\n" + translator(manager).get_html(str(notice["key"]), **args)


def set_notice(manager: DialogManager, key: str, **args: FluentArg) -> None:
    """Show `key` once under the next window."""
    manager.dialog_data[NOTICE_KEY] = {"key": key, "args": args}


def clear_notice(manager: DialogManager) -> None:
    """Forget the notice (a fresh window shows none)."""
    manager.dialog_data.pop(NOTICE_KEY, None)
