"""⏰ Follow-up from the card, the buttons of a reminder (Done, Snooze), and /today.

Times are the user's wall clock (their private chat's zone). Creating, completing and
snoozing are re-checked by `FollowUpService` on the server side; callback data only claims
which to-do a button is about.
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import Any

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram_dialog import Data, Dialog, DialogManager, Window
from aiogram_dialog.widgets.input import MessageInput
from aiogram_dialog.widgets.kbd import (
    Button,
    Calendar,
    Cancel,
    Column,
    Group,
    ManagedCalendar,
    Select,
    SwitchTo,
)
from aiogram_dialog.widgets.text import Format

from bot.access.roles import Identity
from bot.followups.service import (
    DueInPastError,
    FollowUpAction,
    FollowUpButton,
    FollowUpService,
    PressOutcome,
    TodayList,
)
from bot.followups.times import (
    COMMON_HOURS,
    QuickChoice,
    Snooze,
    local_text,
    picked_moment,
    quick_choices,
    quick_moment,
)
from bot.i18n import Translator
from bot.leads.render import BUTTON_LIMIT, cut
from bot.leads.visibility import LeadHiddenError
from bot.notify.buttons import LeadAction, LeadButton
from bot.portal import NotFoundError, PortalError
from bot.schedule.hours import parse_wall_time
from dialogs.services import caller, followups_of, translator
from dialogs.states import FollowUpDialog
from dialogs.widgets import (
    DialogValue,
    Notice,
    Tr,
    as_text,
    clear_notice,
    set_notice,
    started_lead_id,
)

log = logging.getLogger(__name__)

QUICK_SELECT_ID = "fu_quick"
HOUR_SELECT_ID = "fu_hour"
CALENDAR_ID = "fu_day"
DUE: DialogValue[datetime | None] = DialogValue(
    "due", datetime.fromisoformat, None, write=datetime.isoformat
)
DAY: DialogValue[date | None] = DialogValue("day", date.fromisoformat, None, write=date.isoformat)
CREATED = DialogValue("created", as_text, "")
"""When the created follow-up is due, as the rep's clock shows it."""

QUICK_LABELS = {
    QuickChoice.IN_HOUR: "followup-in-hour-button",
    QuickChoice.TODAY_EVENING: "followup-today-evening-button",
    QuickChoice.TOMORROW_MORNING: "followup-tomorrow-button",
    QuickChoice.IN_THREE_DAYS: "followup-three-days-button",
}
TODAY_SUBJECT_LIMIT = 60


# --- the dialog: when, then an optional text -----------------------------------------------


async def get_when(
    dialog_manager: DialogManager, followups: FollowUpService, **_: Any
) -> dict[str, Any]:
    """The quick choices still ahead in the caller's zone, and the zone's name."""
    tr = translator(dialog_manager)
    zone = await followups.zone_of(caller(dialog_manager))
    now = followups.now()
    return {
        "choices": [(tr.get(QUICK_LABELS[c]), c.value) for c in quick_choices(now, zone)],
        "zone": zone.key,
    }


async def _keep_due(manager: DialogManager, due: datetime) -> None:
    DUE.set(manager, due)
    clear_notice(manager)
    await manager.switch_to(FollowUpDialog.text)


async def on_quick(
    _: CallbackQuery, __: Select[str], manager: DialogManager, item_id: str
) -> None:
    """A quick choice: its moment now (a choice gone past meanwhile is refused)."""
    service = followups_of(manager)
    try:
        choice = QuickChoice(item_id)
    except ValueError:
        return
    zone = await service.zone_of(caller(manager))
    due = quick_moment(choice, service.now(), zone)
    if due is None:
        set_notice(manager, "followup-past")
        return
    await _keep_due(manager, due)


async def on_day(_: Any, __: ManagedCalendar, manager: DialogManager, picked: date) -> None:
    """A day from the calendar (a day already over is refused); then the time."""
    service = followups_of(manager)
    zone = await service.zone_of(caller(manager))
    if picked < service.now().astimezone(zone).date():
        set_notice(manager, "followup-past")
        return
    DAY.set(manager, picked)
    clear_notice(manager)
    await manager.switch_to(FollowUpDialog.time)


async def get_time(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    """The picked day and the common hours."""
    day = DAY.get(dialog_manager)
    return {
        "day": day.strftime("%d.%m.%Y") if day else "",
        "hours": [(wall.strftime("%H:%M"), wall.strftime("%H:%M")) for wall in COMMON_HOURS],
    }


async def _pick_time(manager: DialogManager, text: str) -> bool:
    """The picked day at that time, if it is a time and still ahead (else a notice)."""
    wall = parse_wall_time(text)
    if wall is None:
        set_notice(manager, "followup-bad-time")
        return False
    service = followups_of(manager)
    zone = await service.zone_of(caller(manager))
    day = DAY.get(manager)
    if day is None:  # a time pressed in a window left from an earlier follow-up
        await manager.switch_to(FollowUpDialog.when)
        return False
    due = picked_moment(day, wall, service.now(), zone)
    if due is None:
        set_notice(manager, "followup-past")
        return False
    await _keep_due(manager, due)
    return True


async def on_hour(_: CallbackQuery, __: Select[str], manager: DialogManager, item_id: str) -> None:
    """One of the common hours on the picked day."""
    await _pick_time(manager, item_id)


async def on_typed_time(message: Message, _: MessageInput, manager: DialogManager) -> None:
    """A typed time such as 14:30 on the picked day."""
    await _pick_time(manager, message.text or "")


async def get_text(
    dialog_manager: DialogManager, followups: FollowUpService, **_: Any
) -> dict[str, Any]:
    """When the follow-up will be due, on the caller's clock."""
    due = DUE.get(dialog_manager)
    zone = await followups.zone_of(caller(dialog_manager))
    return {"due": local_text(due, zone, followups.now()) if due else ""}


async def _create(manager: DialogManager, text: str) -> None:
    tr = translator(manager)
    service = followups_of(manager)
    due = DUE.get(manager)
    if due is None:  # a text sent to a window left from an earlier follow-up
        await manager.switch_to(FollowUpDialog.when)
        return
    try:
        created = await service.create(
            caller(manager),
            started_lead_id(manager),
            due,
            title=tr.get("followup-todo-title"),
            text=text,
        )
    except DueInPastError:
        set_notice(manager, "followup-past")
        await manager.switch_to(FollowUpDialog.when)
        return
    except (LeadHiddenError, NotFoundError):
        set_notice(manager, "followup-lead-gone")
        await manager.switch_to(FollowUpDialog.when)
        return
    except PortalError as exc:
        log.warning("follow-up not created: %s", exc.code or type(exc).__name__)
        set_notice(manager, "followup-failed")
        return
    CREATED.set(manager, local_text(created.due, created.zone, service.now()))
    clear_notice(manager)
    await manager.switch_to(FollowUpDialog.created)


async def on_text(message: Message, _: MessageInput, manager: DialogManager) -> None:
    """The follow-up's text (cut to the portal's description size)."""
    text = (message.text or "").strip()
    if not text:
        return
    await _create(manager, text)


async def on_skip_text(_: CallbackQuery, __: Button, manager: DialogManager) -> None:
    """No text: create the follow-up as it is."""
    await _create(manager, "")


async def get_created(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    """The local time the follow-up is due."""
    return {"due": CREATED.get(dialog_manager)}


async def on_start(_: Data, manager: DialogManager) -> None:
    """A fresh dialog shows no notice."""
    clear_notice(manager)


def build_followup_dialog() -> Dialog:
    """A fresh follow-up dialog (started from the lead card)."""
    return Dialog(
        Window(
            Tr("followup-when"),
            Notice(),
            Column(
                Select(
                    Format("{item[0]}"),
                    id=QUICK_SELECT_ID,
                    item_id_getter=lambda item: item[1],
                    items="choices",
                    on_click=on_quick,
                )
            ),
            SwitchTo(Tr("followup-pick-day-button"), id="fu_to_day", state=FollowUpDialog.day),
            Cancel(Tr("button-back")),
            state=FollowUpDialog.when,
            getter=get_when,
        ),
        Window(
            Tr("followup-pick-day"),
            Notice(),
            Calendar(id=CALENDAR_ID, on_click=on_day),
            SwitchTo(Tr("button-back"), id="fu_day_back", state=FollowUpDialog.when),
            state=FollowUpDialog.day,
        ),
        Window(
            Tr("followup-pick-time"),
            Notice(),
            Group(
                Select(
                    Format("{item[0]}"),
                    id=HOUR_SELECT_ID,
                    item_id_getter=lambda item: item[1],
                    items="hours",
                    on_click=on_hour,
                ),
                width=3,
            ),
            MessageInput(on_typed_time, content_types=["text"]),
            SwitchTo(Tr("button-back"), id="fu_time_back", state=FollowUpDialog.day),
            state=FollowUpDialog.time,
            getter=get_time,
        ),
        Window(
            Tr("followup-text"),
            Notice(),
            MessageInput(on_text, content_types=["text"]),
            Button(Tr("followup-skip-button"), id="fu_skip", on_click=on_skip_text),
            SwitchTo(Tr("button-back"), id="fu_text_back", state=FollowUpDialog.when),
            state=FollowUpDialog.text,
            getter=get_text,
        ),
        Window(
            Tr("followup-created"),
            Cancel(Tr("followup-back-to-card-button")),
            state=FollowUpDialog.created,
            getter=get_created,
        ),
        on_start=on_start,
    )


# --- the reminder's buttons ---------------------------------------------------------------


def _about(button: InlineKeyboardButton, activity_id: int) -> bool:
    data = button.callback_data or ""
    if not data.startswith(FollowUpButton.__prefix__ + FollowUpButton.__separator__):
        return False
    try:
        return FollowUpButton.unpack(data).id == activity_id
    except (TypeError, ValueError):
        return False


async def _settle_message(bot: Bot, callback: CallbackQuery, activity_id: int, line: str) -> None:
    """The pressed message says what happened and loses the to-do's buttons (a reminder all of
    them, /today that to-do's row)."""
    message = callback.message
    if not isinstance(message, Message):
        return
    rows = message.reply_markup.inline_keyboard if message.reply_markup else []
    kept = [row for row in rows if not any(_about(button, activity_id) for button in row)]
    try:
        await bot.edit_message_text(
            text=f"{message.html_text or ''}\n\n{line}",
            chat_id=message.chat.id,
            message_id=message.message_id,
            reply_markup=InlineKeyboardMarkup(inline_keyboard=kept),
        )
    except TelegramAPIError as exc:
        log.info("could not settle reminder message %d: %s", message.message_id, exc.message)


async def on_done(
    callback: CallbackQuery,
    callback_data: FollowUpButton,
    bot: Bot,
    identity: Identity | None,
    tr: Translator,
    followups: FollowUpService,
) -> None:
    """Complete the to-do in the portal (re-checked: the caller's, on a lead they see)."""
    if identity is None:
        return
    result = await followups.done(identity, callback_data.id)
    key = f"followup-{result.outcome.value}"
    if result.outcome not in (PressOutcome.DONE, PressOutcome.COMPLETED):
        await callback.answer(tr.get(key), show_alert=True)
        return
    await callback.answer(tr.get(key))
    await _settle_message(bot, callback, callback_data.id, tr.get_html(key))


async def on_snooze(
    callback: CallbackQuery,
    callback_data: FollowUpButton,
    bot: Bot,
    identity: Identity | None,
    tr: Translator,
    followups: FollowUpService,
) -> None:
    """Move the to-do's deadline in the portal and remind again then."""
    if identity is None:
        return
    try:
        snooze = Snooze(callback_data.snooze)
    except ValueError:
        await callback.answer(tr.get("followup-refused"), show_alert=True)
        return
    result = await followups.snooze(identity, callback_data.id, snooze)
    key = f"followup-{result.outcome.value}"
    if result.outcome is PressOutcome.COMPLETED:
        await callback.answer(tr.get(key))
        await _settle_message(bot, callback, callback_data.id, tr.get_html(key))
        return
    if result.outcome is not PressOutcome.SNOOZED or result.due is None or result.zone is None:
        await callback.answer(tr.get(key), show_alert=True)
        return
    due = local_text(result.due, result.zone, followups.now())
    await callback.answer(tr.get(key, due=due))
    await _settle_message(bot, callback, callback_data.id, tr.get_html(key, due=due))


# --- /today ---------------------------------------------------------------------------------


def render_today(tr: Translator, today: TodayList) -> tuple[str, InlineKeyboardMarkup | None]:
    """The list of to-dos due today and overdue, with Done and Open buttons for each."""
    if not today.items:
        return tr.get_html("followup-today-empty"), None
    lines = [tr.get_html("followup-today-title", count=len(today.items))]
    rows: list[list[InlineKeyboardButton]] = []
    for number, item in enumerate(today.items, start=1):
        key = "followup-today-overdue-line" if item.overdue else "followup-today-line"
        subject = cut(item.subject, TODAY_SUBJECT_LIMIT) or tr.get("followup-todo-title")
        lines.append(
            tr.get_html(
                key,
                number=number,
                due=local_text(item.due, today.zone, today.now),
                subject=subject,
                id=item.lead_id,
            )
        )
        rows.append(
            [
                InlineKeyboardButton(
                    text=cut(tr.get("followup-today-done-label", number=number), BUTTON_LIMIT),
                    callback_data=FollowUpButton(
                        action=FollowUpAction.DONE, id=item.activity_id
                    ).pack(),
                ),
                InlineKeyboardButton(
                    text=cut(tr.get("followup-today-open-label", id=item.lead_id), BUTTON_LIMIT),
                    callback_data=LeadButton(action=LeadAction.CARD, lead_id=item.lead_id).pack(),
                ),
            ]
        )
    if today.more:
        lines.append(tr.get_html("followup-today-more"))
    return "\n".join(lines), InlineKeyboardMarkup(inline_keyboard=rows)


async def on_today(
    message: Message, identity: Identity | None, tr: Translator, followups: FollowUpService
) -> None:
    """/today: the caller's follow-ups due today (in their zone) and overdue."""
    if identity is None:
        return
    try:
        today = await followups.today(identity)
    except PortalError as exc:
        log.warning("/today failed: %s", exc.code or type(exc).__name__)
        await message.answer(tr.get_html("followup-today-failed"))
        return
    text, markup = render_today(tr, today)
    await message.answer(text, reply_markup=markup)


def build_followups_router() -> Router:
    """A fresh router for /today and the buttons of reminders."""
    router = Router(name="followups")
    router.message.register(on_today, Command("today"), F.chat.type == "private")
    router.callback_query.register(on_done, FollowUpButton.filter(F.action == FollowUpAction.DONE))
    router.callback_query.register(
        on_snooze, FollowUpButton.filter(F.action == FollowUpAction.SNOOZE)
    )
    return router
