"""The one middleware that tells every update who sent it, in which language, and gates it."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import (
    CallbackQuery,
    InlineQuery,
    InlineQueryResultsButton,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    TelegramObject,
    Update,
    User,
)

from bot.access.service import AccessService, Caller
from bot.i18n import Translations, Translator, language_of
from bot.portal import PortalError

log = logging.getLogger(__name__)

UNBOUND_COMMANDS = ("/start", "/help")
SIGN_IN_PAYLOAD = "signin"


def share_phone_keyboard(tr: Translator) -> ReplyKeyboardMarkup:
    """The reply keyboard with the one button that shares the user's own contact."""
    return ReplyKeyboardMarkup(
        keyboard=[
            [KeyboardButton(text=tr.get("onboarding-share-phone-button"), request_contact=True)]
        ],
        resize_keyboard=True,
        one_time_keyboard=True,
        input_field_placeholder=tr.get("onboarding-share-phone-placeholder"),
    )


def _allowed_unbound(update: Update) -> bool:
    """Updates an unbound account may send: starting, help, and its own contact in private."""
    message = update.message
    if message is None or message.chat.type != "private":
        return False
    if message.contact is not None:
        return True
    text = (message.text or "").strip()
    return any(text == c or text.startswith(c + " ") for c in UNBOUND_COMMANDS)


class IdentityMiddleware(BaseMiddleware):
    """Resolves the caller's binding and role for every update; unbound callers are refused.

    Handlers find `identity` (or None), `caller`, `tr`, `access` and `translations` in their
    data. Every handler still re-checks permission for the object it touches.
    """

    def __init__(self, access: AccessService, translations: Translations) -> None:
        self._access = access
        self._translations = translations

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        """Resolve the caller, then pass the update on or refuse it."""
        user: User | None = data.get("event_from_user")
        data["access"] = self._access
        data["translations"] = self._translations
        if user is None or user.is_bot:
            data["identity"] = None
            data["tr"] = self._translations.for_language(None)
            return await handler(event, data)
        try:
            caller = await self._access.resolve(user.id)
        except PortalError as exc:
            log.warning("cannot resolve telegram user %d: portal %s", user.id, exc.code)
            caller = Caller(identity=None, language=None)
            portal_down = True
        else:
            portal_down = False
        tr = self._translations.for_language(caller.language or language_of(user.language_code))
        data["caller"] = caller
        data["identity"] = caller.identity
        data["tr"] = tr
        if caller.identity is not None or not isinstance(event, Update):
            return await handler(event, data)
        if _allowed_unbound(event) and not portal_down:
            return await handler(event, data)
        key = "error-portal-unreachable" if portal_down else "onboarding-not-bound"
        if caller.lost_access:
            key = "onboarding-deactivated"
        elif caller.blocked and not portal_down:
            key = "onboarding-access-revoked"
        await self._refuse(event, tr, key)
        return None

    @staticmethod
    async def _refuse(update: Update, tr: Translator, key: str) -> None:
        text = tr.get_html(key)
        if update.message is not None:
            await _refuse_message(update.message, tr, text)
        elif update.callback_query is not None:
            await _refuse_callback(update.callback_query, tr.get(key))
        elif update.inline_query is not None:
            await _refuse_inline(update.inline_query, tr)


async def _refuse_message(message: Message, tr: Translator, text: str) -> None:
    if message.chat.type == "private":
        await message.answer(text, reply_markup=share_phone_keyboard(tr))


async def _refuse_callback(callback: CallbackQuery, text: str) -> None:
    await callback.answer(text[:200], show_alert=True)


async def _refuse_inline(query: InlineQuery, tr: Translator) -> None:
    await query.answer(
        [],
        cache_time=0,
        is_personal=True,
        button=InlineQueryResultsButton(
            text=tr.get("inline-unbound-button"), start_parameter=SIGN_IN_PAYLOAD
        ),
    )
