"""/report: pick a period (or two dates), get the period's leads as a picture."""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import BufferedInputFile, CallbackQuery, Message
from aiogram_dialog import ChatEvent, Dialog, DialogManager, ShowMode, Window
from aiogram_dialog.widgets.kbd import (
    Button,
    Calendar,
    Cancel,
    Column,
    ManagedCalendar,
    SwitchTo,
)
from aiogram_dialog.widgets.text import Format

from bot.portal import PortalError
from bot.reports.data import DateRange, Period
from dialogs.services import bot_of, caller, reports_of, translator
from dialogs.states import ReportDialog, start_report
from dialogs.widgets import DialogValue, Tr

log = logging.getLogger(__name__)

FIRST_DAY: DialogValue[date | None] = DialogValue(
    "first_day", date.fromisoformat, None, write=date.isoformat
)
PERIOD_IDS = {Period.TODAY: "rep_today", Period.WEEK: "rep_week", Period.MONTH: "rep_month"}
DATES_ID = "rep_dates"
FIRST_CALENDAR_ID = "rep_first"
LAST_CALENDAR_ID = "rep_last"


async def _send(manager: DialogManager, chat_id: int, period: DateRange) -> None:
    """Draw the report and send it as a photo; the dialog closes either way."""
    tr = translator(manager)
    bot = bot_of(manager)
    await bot.send_message(chat_id, tr.get_html("report-working"))
    try:
        report = await reports_of(manager).build(caller(manager), period, tr)
    except PortalError as exc:
        log.warning("report failed: portal %s", exc.code)
        await bot.send_message(chat_id, tr.get_html("report-failed"))
    else:
        photo = BufferedInputFile(report.png, filename="report.png")
        await bot.send_photo(chat_id, photo, caption=report.caption)
    await manager.done(show_mode=ShowMode.NO_UPDATE)


def _chat_id(event: CallbackQuery) -> int:
    return event.message.chat.id if event.message is not None else event.from_user.id


async def on_period(callback: CallbackQuery, button: Button, manager: DialogManager) -> None:
    """Today, the last 7 or the last 30 days."""
    period = next(p for p, widget_id in PERIOD_IDS.items() if widget_id == button.widget_id)
    await callback.answer()
    await _send(manager, _chat_id(callback), DateRange.of(period, reports_of(manager).today()))


async def on_first_day(
    _: ChatEvent, __: ManagedCalendar, manager: DialogManager, picked: date
) -> None:
    """The first day of chosen dates."""
    FIRST_DAY.set(manager, picked)
    await manager.switch_to(ReportDialog.last_day)


async def on_last_day(
    event: ChatEvent, __: ManagedCalendar, manager: DialogManager, picked: date
) -> None:
    """The last day: the report of the days between (in either order)."""
    first = FIRST_DAY.get(manager) or picked
    identity = caller(manager)
    chat_id = _chat_id(event) if isinstance(event, CallbackQuery) else identity.telegram_user_id
    await _send(manager, chat_id, DateRange.between(first, picked))


async def get_last_day(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    """The first day, shown while the last one is picked."""
    first = FIRST_DAY.get(dialog_manager) or reports_of(dialog_manager).today()
    text = translator(dialog_manager).get_html(
        "report-pick-last", first=first.strftime("%d.%m.%Y")
    )
    return {"text": text}


async def on_report(message: Message, dialog_manager: DialogManager) -> None:
    """/report: ask for the period."""
    await start_report(dialog_manager)


def build_report_router() -> Router:
    """A fresh router for /report (private chats)."""
    router = Router(name="report")
    router.message.filter(F.chat.type == "private")
    router.message.register(on_report, Command("report"))
    return router


def build_report_dialog() -> Dialog:
    """The period's window and the two calendars of chosen dates."""
    return Dialog(
        Window(
            Tr("report-prompt"),
            Column(
                *(
                    Button(
                        Tr(f"report-period-{period.value}-button"),
                        id=widget_id,
                        on_click=on_period,
                    )
                    for period, widget_id in PERIOD_IDS.items()
                ),
                SwitchTo(
                    Tr("report-period-dates-button"), id=DATES_ID, state=ReportDialog.first_day
                ),
            ),
            Cancel(Tr("button-cancel")),
            state=ReportDialog.period,
        ),
        Window(
            Tr("report-pick-first"),
            Calendar(id=FIRST_CALENDAR_ID, on_click=on_first_day),
            Cancel(Tr("button-cancel")),
            state=ReportDialog.first_day,
        ),
        Window(
            Format("{text}"),
            Calendar(id=LAST_CALENDAR_ID, on_click=on_last_day),
            Cancel(Tr("button-cancel")),
            state=ReportDialog.last_day,
            getter=get_last_day,
        ),
    )
