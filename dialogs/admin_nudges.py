"""Admin tools: when a lead counts as stale for the nudge each person gets as their day starts."""

from __future__ import annotations

from typing import Any

from aiogram.types import CallbackQuery
from aiogram_dialog import Dialog, DialogManager, Window
from aiogram_dialog.widgets.kbd import Button, Cancel

from bot.i18n import Translator
from bot.leads.nudges import NudgeRules, NudgeService
from dialogs.services import caller, nudges_of
from dialogs.states import AdminNudges
from dialogs.widgets import Notice, Tr, set_notice


def _rule_text(tr: Translator, value: int | None, key: str) -> str:
    return tr.get("admin-nudges-off") if value is None else tr.get(key, count=value)


async def get_nudges(
    dialog_manager: DialogManager, nudges: NudgeService, tr: Translator, **_: Any
) -> dict[str, Any]:
    """The rules in force, as the window and its buttons say them."""
    rules: NudgeRules = await nudges.rules()
    return {
        "idle": _rule_text(tr, rules.stale_days, "admin-nudges-days"),
        "first": _rule_text(tr, rules.first_stage_hours, "admin-nudges-hours"),
        "off": rules.off,
    }


async def on_next_days(_: CallbackQuery, __: Button, manager: DialogManager) -> None:
    """The next choice of "no activity for N days"."""
    await nudges_of(manager).next_stale_days(caller(manager))
    set_notice(manager, "admin-nudges-saved")


async def on_next_hours(_: CallbackQuery, __: Button, manager: DialogManager) -> None:
    """The next choice of "still in the first stage after X hours"."""
    await nudges_of(manager).next_first_stage_hours(caller(manager))
    set_notice(manager, "admin-nudges-saved")


def build_admin_nudges_dialog() -> Dialog:
    """A fresh nudge-rules dialog."""
    return Dialog(
        Window(
            Tr("admin-nudges-title"),
            Tr("admin-nudges-idle-line"),
            Tr("admin-nudges-first-line"),
            Tr("admin-nudges-all-off", when="off"),
            Notice(),
            Button(Tr("admin-nudges-idle-button"), id="nudge_days", on_click=on_next_days),
            Button(Tr("admin-nudges-first-button"), id="nudge_hours", on_click=on_next_hours),
            Cancel(Tr("button-back")),
            state=AdminNudges.main,
            getter=get_nudges,
        ),
    )
