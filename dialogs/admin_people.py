"""Admin tools: people and chats — who hears about leads where, and undelivered notifications.

Every getter and every click goes through `PeopleService`, which checks the caller again.
Bindings, roles and invites live in the admin dialog; this one links to them.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.types import CallbackQuery
from aiogram_dialog import Dialog, DialogManager, Window
from aiogram_dialog.widgets.common import ManagedScroll
from aiogram_dialog.widgets.kbd import (
    Button,
    Cancel,
    Column,
    Row,
    Select,
    Start,
    StubScroll,
    SwitchTo,
)
from aiogram_dialog.widgets.kbd.select import ManagedRadio
from aiogram_dialog.widgets.text import Const, Format

from bot.admin.people import ChatEntry, PeopleService
from bot.i18n import Translator
from bot.storage.outbox import DeadLetter
from dialogs.services import caller, people_of, translator
from dialogs.states import AdminDialog, AdminPeople
from dialogs.widgets import (
    Notice,
    Tr,
    checked_item,
    clear_notice,
    scrolling_select,
    set_notice,
    widget_of,
)

log = logging.getLogger(__name__)

CHAT_SELECT_ID = "ppl_chat"
REMOVE_DISABLED_ID = "ppl_remove"
RESEND_SELECT_ID = "ppl_resend"
RESEND_ALL_ID = "ppl_resend_all"
PREVIOUS_ID = "ppl_prev"
NEXT_ID = "ppl_next"
DEAD_PAGES_ID = "ppl_dead_pages"
PAGE_HEIGHT = 8

STATE_MARKS = {"active": "🟢", "paused": "⏸", "disabled": "⛔"}


def _chosen_chat(manager: DialogManager) -> tuple[int, int | None]:
    """The chat (and topic) picked in the list of chats."""
    raw_chat, _sep, raw_thread = checked_item(manager, CHAT_SELECT_ID).partition(":")
    return int(raw_chat), int(raw_thread) if raw_thread else None


def chat_state(entry: ChatEntry) -> str:
    """Disabled when any subscription of the chat is, else paused when all are, else active."""
    chats = entry.chats
    if chats.disabled:
        return "disabled"
    return "paused" if chats.paused == chats.total else "active"


async def _group_title(bot: Bot, chat_id: int) -> str | None:
    try:
        chat = await bot.get_chat(chat_id)
    except TelegramAPIError:
        # A chat the bot was removed from can no longer be read; its id stands in.
        return None
    return chat.title


async def chat_name(tr: Translator, bot: Bot, entry: ChatEntry) -> str:
    """The group's title, or "private chat of <name>"; the id when neither is known."""
    chats = entry.chats
    if chats.is_group:
        title = await _group_title(bot, chats.chat_id)
        name = title or tr.get("admin-people-unknown-chat", id=chats.chat_id)
    elif entry.owner_name:
        name = tr.get("admin-people-private-chat", name=entry.owner_name)
    else:
        name = tr.get("admin-people-unknown-chat", id=chats.chat_id)
    if chats.thread_id is not None:
        name = tr.get("admin-people-in-topic", chat=name, thread=chats.thread_id)
    return name


def _when(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if moment else "—"


async def get_people(
    dialog_manager: DialogManager, people: PeopleService, **_: Any
) -> dict[str, Any]:
    """How many chats hear about leads, how many are disabled, how many messages are dead."""
    service = people
    identity = caller(dialog_manager)
    entries = await service.chats(identity)
    dead = await service.dead_letters(identity, 0)
    return {
        "chats": len(entries),
        "disabled": sum(1 for e in entries if e.chats.disabled),
        "dead": dead.total,
    }


async def get_chats(
    dialog_manager: DialogManager, people: PeopleService, bot: Bot, **_: Any
) -> dict[str, Any]:
    """Every chat with subscriptions as a button line."""
    tr = translator(dialog_manager)
    entries = await people.chats(caller(dialog_manager))
    items = []
    for entry in entries:
        state = chat_state(entry)
        line = tr.get(
            "admin-people-chat-line",
            chat=await chat_name(tr, bot, entry),
            count=entry.chats.total,
        )
        thread = entry.chats.thread_id
        key = f"{entry.chats.chat_id}:{'' if thread is None else thread}"
        items.append((f"{STATE_MARKS[state]} {line}", key))
    return {"chat_items": items, "has_chats": bool(items), "no_chats": not items}


async def on_chat_selected(
    _: CallbackQuery, __: ManagedRadio[str], manager: DialogManager, item_id: str
) -> None:
    """Open one chat's details (the list keeps which one)."""
    clear_notice(manager)
    await manager.switch_to(AdminPeople.chat)


async def get_chat(
    dialog_manager: DialogManager, people: PeopleService, bot: Bot, **_: Any
) -> dict[str, Any]:
    """One chat's subscriptions, re-read, with the disabled reason."""
    tr = translator(dialog_manager)
    chat_id, thread_id = _chosen_chat(dialog_manager)
    entry = await people.chat(caller(dialog_manager), chat_id, thread_id)
    if entry is None:
        return {"found": False, "gone": True, "is_disabled": False}
    return {
        "found": True,
        "gone": False,
        "chat": await chat_name(tr, bot, entry),
        "count": entry.chats.total,
        "paused": entry.chats.paused,
        "is_disabled": entry.chats.disabled > 0,
        "reason": entry.chats.disabled_reason or "",
    }


async def on_remove_disabled(_: CallbackQuery, __: Button, manager: DialogManager) -> None:
    """Delete the disabled subscriptions of the chat on screen."""
    chat_id, _thread_id = _chosen_chat(manager)
    removed = await people_of(manager).remove_disabled(caller(manager), chat_id)
    set_notice(manager, "admin-people-removed", count=removed)


def dead_line(tr: Translator, letter: DeadLetter, chat: str) -> str:
    """One undelivered notification as HTML: id, lead, chat, when, and the last error."""
    return tr.get_html(
        "admin-people-dead-line",
        id=letter.id,
        lead=f"#{letter.lead_id}" if letter.lead_id is not None else "—",
        chat=chat,
        when=_when(letter.created_at),
        error=letter.reason or "—",
    )


async def _letter_chat(
    tr: Translator, bot: Bot, letter: DeadLetter, entries: dict[int, ChatEntry]
) -> str:
    entry = entries.get(letter.chat_id)
    if entry is not None:
        return await chat_name(tr, bot, entry)
    if letter.chat_id < 0:
        title = await _group_title(bot, letter.chat_id)
        if title:
            return title
    return tr.get("admin-people-unknown-chat", id=letter.chat_id)


async def get_dead(
    dialog_manager: DialogManager, people: PeopleService, bot: Bot, **_: Any
) -> dict[str, Any]:
    """One page of undelivered notifications, newest first, each with a Resend button."""
    tr = translator(dialog_manager)
    service = people
    identity = caller(dialog_manager)
    pages = widget_of(dialog_manager, DEAD_PAGES_ID, ManagedScroll)
    page = await service.dead_letters(identity, await pages.get_page())
    if page.page != await pages.get_page():
        # Fewer letters than when the page was turned: keep the last page that has any.
        await pages.set_page(page.page)
    entries = {e.chats.chat_id: e for e in await service.chats(identity)}
    lines = [
        dead_line(tr, letter, await _letter_chat(tr, bot, letter, entries))
        for letter in page.letters
    ]
    items = [
        (tr.get("admin-people-resend-item", id=letter.id), str(letter.id))
        for letter in page.letters
    ]
    return {
        "page": page.page + 1,
        "pages": page.pages,
        "total": page.total,
        "has_dead": page.total > 0,
        "no_dead": page.total == 0,
        "has_previous": page.page > 0,
        "has_next": page.page + 1 < page.pages,
        "letters": "\n\n".join(lines),
        "resend_items": items,
    }


async def on_resend(
    _: CallbackQuery, __: Select[str], manager: DialogManager, item_id: str
) -> None:
    """Put one undelivered notification back into the outbox."""
    done = await people_of(manager).resend(caller(manager), int(item_id))
    if done:
        set_notice(manager, "admin-people-resent", id=int(item_id))
    else:
        set_notice(manager, "admin-people-resend-gone")


async def on_resend_all(_: CallbackQuery, __: Button, manager: DialogManager) -> None:
    """Put every undelivered notification back into the outbox."""
    count = await people_of(manager).resend_all(caller(manager))
    set_notice(manager, "admin-people-resent-all", count=count)


def _turn(step: int) -> Any:
    async def on_click(_: CallbackQuery, __: Button, manager: DialogManager) -> None:
        clear_notice(manager)
        pages = widget_of(manager, DEAD_PAGES_ID, ManagedScroll)
        await pages.set_page(max(0, await pages.get_page() + step))

    return on_click


async def on_open_dead(_: CallbackQuery, __: Button, manager: DialogManager) -> None:
    """Start at the newest undelivered notifications."""
    clear_notice(manager)
    await widget_of(manager, DEAD_PAGES_ID, ManagedScroll).set_page(0)


def build_admin_people_dialog() -> Dialog:
    """A fresh people and chats dialog."""
    return Dialog(
        Window(
            Tr("admin-people-title"),
            Column(
                SwitchTo(Tr("admin-people-chats-button"), id="ppl_chats", state=AdminPeople.chats),
                SwitchTo(
                    Tr("admin-people-dead-button"),
                    id="ppl_dead",
                    state=AdminPeople.dead,
                    on_click=on_open_dead,
                ),
                Start(Tr("admin-bindings-button"), id="ppl_bindings", state=AdminDialog.bindings),
                Start(Tr("admin-invites-button"), id="ppl_invites", state=AdminDialog.invites),
            ),
            Cancel(Tr("button-back")),
            state=AdminPeople.main,
            getter=get_people,
        ),
        Window(
            Tr("admin-people-chats-header"),
            Tr("admin-people-chats-empty", when="no_chats"),
            scrolling_select(
                CHAT_SELECT_ID,
                "chat_items",
                on_chat_selected,
                scroll_id="ppl_chats_scroll",
                height=PAGE_HEIGHT,
                keep_choice=True,
            ),
            SwitchTo(Tr("button-back"), id="ppl_chats_back", state=AdminPeople.main),
            state=AdminPeople.chats,
            getter=get_chats,
        ),
        Window(
            Tr("admin-people-chat", when="found"),
            Tr("admin-people-chat-disabled", when="is_disabled"),
            Tr("admin-people-chat-gone", when="gone"),
            Notice(),
            Button(
                Tr("admin-people-remove-button"),
                id=REMOVE_DISABLED_ID,
                on_click=on_remove_disabled,
                when="is_disabled",
            ),
            SwitchTo(Tr("button-back"), id="ppl_chat_back", state=AdminPeople.chats),
            state=AdminPeople.chat,
            getter=get_chat,
        ),
        Window(
            Tr("admin-people-dead-header"),
            Tr("admin-people-dead-empty", when="no_dead"),
            # Already HTML: every line was escaped when it was formatted.
            Format("{letters}", when="has_dead"),
            Notice(),
            Column(
                Select(
                    Format("{item[0]}"),
                    id=RESEND_SELECT_ID,
                    item_id_getter=lambda item: item[1],
                    items="resend_items",
                    on_click=on_resend,
                ),
            ),
            Row(
                Button(Const("◀️"), id=PREVIOUS_ID, on_click=_turn(-1), when="has_previous"),
                Button(Const("▶️"), id=NEXT_ID, on_click=_turn(1), when="has_next"),
                # Holds the page number; it draws no buttons of its own.
                StubScroll(id=DEAD_PAGES_ID, pages="pages"),
            ),
            Button(
                Tr("admin-people-resend-all-button"),
                id=RESEND_ALL_ID,
                on_click=on_resend_all,
                when="has_dead",
            ),
            SwitchTo(Tr("button-back"), id="ppl_dead_back", state=AdminPeople.main),
            state=AdminPeople.dead,
            getter=get_dead,
        ),
    )
