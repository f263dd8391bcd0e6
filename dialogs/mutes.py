"""🔕 on a notification: mute its chat for an hour or for the rest of the day, or unmute."""

from __future__ import annotations

import logging

from aiogram import Bot, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

from bot.access.roles import Identity
from bot.i18n import Translator
from bot.notify.buttons import MuteAction, MuteButton
from bot.notify.mute import MuteService

log = logging.getLogger(__name__)


def _is_mute(button: InlineKeyboardButton) -> bool:
    prefix = MuteButton.__prefix__ + MuteButton.__separator__
    return bool(button.callback_data and button.callback_data.startswith(prefix))


def swap_mute_row(
    markup: InlineKeyboardMarkup | None, tr: Translator, *, muted: bool
) -> InlineKeyboardMarkup:
    """The message's keyboard with its mute row turned into "Unmute", or back."""
    rows = [
        row for row in (markup.inline_keyboard if markup else []) if not any(map(_is_mute, row))
    ]
    if muted:
        rows.append(
            [
                InlineKeyboardButton(
                    text=tr.get("notify-unmute-button"),
                    callback_data=MuteButton(action=MuteAction.OFF).pack(),
                )
            ]
        )
    else:
        rows.append(
            [
                InlineKeyboardButton(
                    text=tr.get(key), callback_data=MuteButton(action=action).pack()
                )
                for key, action in (
                    ("notify-mute-hour-button", MuteAction.HOUR),
                    ("notify-mute-today-button", MuteAction.TODAY),
                )
            ]
        )
    return InlineKeyboardMarkup(inline_keyboard=rows)


async def on_mute(
    callback: CallbackQuery,
    callback_data: MuteButton,
    bot: Bot,
    identity: Identity | None,
    tr: Translator,
    mutes: MuteService,
) -> None:
    """Mute or unmute the chat the pressed message is in (re-checked: who may)."""
    message = callback.message
    if identity is None or not isinstance(message, Message):
        return
    result = await mutes.press(
        identity,
        callback_data.action,
        chat_id=message.chat.id,
        thread_id=message.message_thread_id if message.is_topic_message else None,
        private=message.chat.type == "private",
    )
    if result.key == "notify-mute-refused":
        await callback.answer(tr.get(result.key), show_alert=True)
        return
    until = result.local_until
    await callback.answer(tr.get(result.key, until=until))
    try:
        await bot.edit_message_reply_markup(
            chat_id=message.chat.id,
            message_id=message.message_id,
            reply_markup=swap_mute_row(message.reply_markup, tr, muted=result.until is not None),
        )
    except TelegramAPIError as exc:
        log.info("could not swap the mute row of message %d: %s", message.message_id, exc.message)


def build_mutes_router() -> Router:
    """A fresh router for the mute buttons of notifications."""
    router = Router(name="mutes")
    router.callback_query.register(on_mute, MuteButton.filter())
    return router
