"""Working hours of a chat: its time zone, working days and hours, and quiet outside them.

Opened from /settings for the user's own chat and by /hours in any chat; in a group only a
manager may change them (checked again on every change).
"""

from __future__ import annotations

import re
from typing import Any

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message
from aiogram_dialog import Dialog, DialogManager, Window
from aiogram_dialog.widgets.input import MessageInput
from aiogram_dialog.widgets.kbd import (
    Back,
    Button,
    Cancel,
    ManagedMultiselect,
    Multiselect,
    Row,
    SwitchTo,
)
from aiogram_dialog.widgets.text import Format

from bot.access.roles import Identity
from bot.access.service import AccessDenied
from bot.i18n import Translator
from bot.schedule.hours import WorkHours, parse_wall_time
from bot.schedule.service import HoursService
from bot.storage.timestamps import utc_now
from dialogs.services import caller, hours_of
from dialogs.states import CHAT_KEY, PRIVATE_KEY, THREAD_KEY, HoursDialog, start_hours
from dialogs.widgets import Notice, Tr, clear_notice, scrolling_select, set_notice

ZONES = (
    "Europe/Kaliningrad",
    "Europe/Moscow",
    "Europe/Samara",
    "Asia/Yekaterinburg",
    "Asia/Omsk",
    "Asia/Novosibirsk",
    "Asia/Krasnoyarsk",
    "Asia/Irkutsk",
    "Asia/Yakutsk",
    "Asia/Vladivostok",
    "Asia/Magadan",
    "Asia/Kamchatka",
    "Europe/Minsk",
    "Europe/Kyiv",
    "Asia/Almaty",
    "Asia/Tashkent",
    "Asia/Tbilisi",
    "Asia/Yerevan",
    "Asia/Baku",
    "Europe/Istanbul",
    "Europe/London",
    "Europe/Berlin",
    "Asia/Dubai",
    "UTC",
)
"""Zones offered as buttons; any other IANA name can be typed."""

ZONE_LIST_ID = "hours_zones"
DAYS_ID = "hours_days"
_RANGE_SPLIT = re.compile(r"\s*(?:-|–|—|\.\.|to|до)\s*", re.IGNORECASE)


def _chat(manager: DialogManager) -> tuple[int, int | None]:
    """The chat whose hours are open, re-checked against the caller on every use."""
    data = manager.start_data
    if not isinstance(data, dict) or CHAT_KEY not in data:
        raise AccessDenied("no chat")
    chat_id, thread_id = int(data[CHAT_KEY]), data.get(THREAD_KEY)
    if not caller(manager).may_manage_chat(chat_id, private=bool(data.get(PRIVATE_KEY))):
        raise AccessDenied("not this chat's manager")
    return chat_id, int(thread_id) if thread_id is not None else None


def days_text(tr: Translator, days: frozenset[int]) -> str:
    """Working days as the user reads them: "Mon–Fri", "Mon, Wed, Sat", or "none"."""
    if not days:
        return tr.get("hours-days-none")
    ordered = sorted(days)
    if len(ordered) > 2 and ordered == list(range(ordered[0], ordered[-1] + 1)):
        return f"{tr.get(f'hours-day-{ordered[0]}')}–{tr.get(f'hours-day-{ordered[-1]}')}"
    return ", ".join(tr.get(f"hours-day-{day}") for day in ordered)


def parse_window(text: str) -> tuple[Any, Any] | None:
    """Working hours typed as "9-18", "09:00–18:00" or "22:00 to 6:00" (None: not that)."""
    parts = _RANGE_SPLIT.split(text.strip(), maxsplit=1)
    if len(parts) != 2:
        return None
    start, end = parse_wall_time(parts[0]), parse_wall_time(parts[1])
    if start is None or end is None or start == end:
        return None
    return start, end


async def get_hours(
    dialog_manager: DialogManager, hours: HoursService, tr: Translator, **_: Any
) -> dict[str, Any]:
    """The chat's hours as the window shows them."""
    chat_id, thread_id = _chat(dialog_manager)
    current: WorkHours = await hours.hours_of(chat_id, thread_id)
    return {
        "zone": current.zone.key,
        "now": current.local(utc_now()).strftime("%H:%M"),
        "days": days_text(tr, current.days),
        "start": current.start.strftime("%H:%M"),
        "end": current.end.strftime("%H:%M"),
        "quiet": current.quiet,
        "loud": not current.quiet,
        "zones": [(zone, zone) for zone in ZONES],
        "weekdays": [(tr.get(f"hours-day-{day}"), str(day)) for day in range(1, 8)],
    }


async def on_zone_chosen(
    callback: CallbackQuery, _: object, manager: DialogManager, zone: str
) -> None:
    """A zone from the list."""
    await _set_zone(manager, zone)


async def on_zone_typed(message: Message, _: MessageInput, manager: DialogManager) -> None:
    """A zone typed by name."""
    await _set_zone(manager, (message.text or "")[:64])


async def _set_zone(manager: DialogManager, name: str) -> None:
    chat_id, thread_id = _chat(manager)
    changed = await hours_of(manager).set_zone(chat_id, thread_id, name)
    if changed is None:
        set_notice(manager, "hours-zone-unknown", zone=name)
        return
    set_notice(manager, "hours-zone-set", zone=changed.zone.key)
    await manager.switch_to(HoursDialog.main)


async def on_days_open(callback: CallbackQuery, _: Button, manager: DialogManager) -> None:
    """Tick the stored days before showing them."""
    chat_id, thread_id = _chat(manager)
    current = await hours_of(manager).hours_of(chat_id, thread_id)
    days = manager.find(DAYS_ID)
    assert isinstance(days, ManagedMultiselect)
    await days.reset_checked()
    for day in current.days:
        await days.set_checked(str(day), True)
    clear_notice(manager)
    await manager.switch_to(HoursDialog.days)


async def on_days_save(callback: CallbackQuery, _: Button, manager: DialogManager) -> None:
    """Keep the ticked days."""
    chat_id, thread_id = _chat(manager)
    days = manager.find(DAYS_ID)
    assert isinstance(days, ManagedMultiselect)
    chosen = frozenset(int(day) for day in days.get_checked())
    await hours_of(manager).set_days(chat_id, thread_id, chosen)
    set_notice(manager, "hours-saved")
    await manager.switch_to(HoursDialog.main)


async def on_window_typed(message: Message, _: MessageInput, manager: DialogManager) -> None:
    """Working hours typed as a range."""
    chat_id, thread_id = _chat(manager)
    window = parse_window((message.text or "")[:64])
    if window is None:
        set_notice(manager, "hours-window-invalid")
        return
    await hours_of(manager).set_window(chat_id, thread_id, *window)
    set_notice(manager, "hours-saved")
    await manager.switch_to(HoursDialog.main)


async def on_quiet_toggle(callback: CallbackQuery, _: Button, manager: DialogManager) -> None:
    """Hold notifications outside the hours, or stop holding them."""
    chat_id, thread_id = _chat(manager)
    service = hours_of(manager)
    current = await service.hours_of(chat_id, thread_id)
    await service.set_quiet(chat_id, thread_id, not current.quiet)
    set_notice(manager, "hours-quiet-now-on" if not current.quiet else "hours-quiet-now-off")


async def _clear(callback: CallbackQuery, _: Button, manager: DialogManager) -> None:
    clear_notice(manager)


def build_hours_dialog() -> Dialog:
    """A fresh working-hours dialog."""
    return Dialog(
        Window(
            Tr("hours-title"),
            Tr("hours-zone-line"),
            Tr("hours-days-line"),
            Tr("hours-window-line"),
            Tr("hours-quiet-on", when="quiet"),
            Tr("hours-quiet-off", when="loud"),
            Notice(),
            Row(
                SwitchTo(
                    Tr("hours-zone-button"),
                    id="hours_zone",
                    state=HoursDialog.zone,
                    on_click=_clear,
                ),
                Button(Tr("hours-days-button"), id="hours_days_open", on_click=on_days_open),
            ),
            SwitchTo(
                Tr("hours-window-button"),
                id="hours_window",
                state=HoursDialog.window,
                on_click=_clear,
            ),
            Button(
                Tr("hours-quiet-turn-off"), id="quiet_off", on_click=on_quiet_toggle, when="quiet"
            ),
            Button(
                Tr("hours-quiet-turn-on"), id="quiet_on", on_click=on_quiet_toggle, when="loud"
            ),
            Cancel(Tr("button-back")),
            state=HoursDialog.main,
            getter=get_hours,
        ),
        Window(
            Tr("hours-zone-prompt"),
            Notice(),
            scrolling_select(
                "hours_zone_pick",
                "zones",
                on_zone_chosen,
                scroll_id=ZONE_LIST_ID,
                height=6,
                width=2,
            ),
            MessageInput(on_zone_typed),
            Back(Tr("button-back")),
            state=HoursDialog.zone,
            getter=get_hours,
        ),
        Window(
            Tr("hours-days-prompt"),
            Row(
                Multiselect(
                    Format("✅ {item[0]}"),
                    Format("{item[0]}"),
                    id=DAYS_ID,
                    item_id_getter=lambda item: item[1],
                    items="weekdays",
                ),
            ),
            Button(Tr("hours-save-button"), id="hours_days_save", on_click=on_days_save),
            SwitchTo(Tr("button-back"), id="hours_days_back", state=HoursDialog.main),
            state=HoursDialog.days,
            getter=get_hours,
        ),
        Window(
            Tr("hours-window-prompt"),
            Notice(),
            MessageInput(on_window_typed),
            SwitchTo(Tr("button-back"), id="hours_window_back", state=HoursDialog.main),
            state=HoursDialog.window,
            getter=get_hours,
        ),
    )


async def on_hours_command(
    message: Message, identity: Identity | None, tr: Translator, dialog_manager: DialogManager
) -> None:
    """/hours: this chat's working hours; in a group only a manager may open them."""
    if identity is None:
        return
    private = message.chat.type == "private"
    if not identity.may_manage_chat(message.chat.id, private=private):
        await message.reply(tr.get_html("hours-refused"))
        return
    thread_id = message.message_thread_id if message.is_topic_message else None
    await start_hours(dialog_manager, message.chat.id, thread_id, private=private)


async def on_settings_hours(callback: CallbackQuery, _: Button, manager: DialogManager) -> None:
    """From /settings: the user's own chat."""
    user_id = caller(manager).telegram_user_id
    await start_hours(manager, user_id, None, private=True)


def build_hours_router() -> Router:
    """The /hours command, in private chats and groups."""
    router = Router(name="hours")
    router.message.register(on_hours_command, Command("hours"))
    return router
