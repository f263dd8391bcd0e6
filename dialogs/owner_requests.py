"""The buttons of an owner request: hand the lead over, or answer the rep who asked."""

from __future__ import annotations

import logging
from typing import Any

from aiogram import Bot, F, Router
from aiogram.enums import ContentType
from aiogram.exceptions import TelegramAPIError
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram_dialog import Dialog, DialogManager, Window
from aiogram_dialog.widgets.input import MessageInput
from aiogram_dialog.widgets.kbd import Cancel
from aiogram_dialog.widgets.text import Format

from bot.access.roles import Identity
from bot.i18n import Translator
from bot.leads.owner_requests import (
    OwnerRequestButton,
    OwnerRequestService,
    PressOutcome,
    RequestAction,
)
from dialogs.services import caller, owner_requests_of, translator
from dialogs.states import REQUEST_ID_KEY, OwnerAnswer, start_owner_answer
from dialogs.widgets import Tr

log = logging.getLogger(__name__)


async def on_hand_over(
    callback: CallbackQuery,
    callback_data: OwnerRequestButton,
    bot: Bot,
    identity: Identity | None,
    tr: Translator,
    owner_requests: OwnerRequestService,
) -> None:
    """Hand the lead over to the rep who asked (re-checked: the responsible or a manager)."""
    if identity is None:
        return
    result = await owner_requests.hand_over(identity, callback_data.id)
    if result.outcome is not PressOutcome.HANDED or result.request is None:
        await callback.answer(tr.get(f"owner-request-{result.outcome.value}"), show_alert=True)
        return
    name = await owner_requests.requester_name(result.request)
    await callback.answer(tr.get("owner-request-handed", name=name))
    pressed = callback.message if isinstance(callback.message, Message) else None
    no_buttons = InlineKeyboardMarkup(inline_keyboard=[])
    # Every copy (the owner's, each manager's) is settled, so nobody presses a request that is
    # over; the pressed one also says where the lead went.
    for chat_id, message_id in await owner_requests.request_messages(result.request):
        try:
            if pressed is not None and (chat_id, message_id) == (
                pressed.chat.id,
                pressed.message_id,
            ):
                settled = tr.get_html("owner-request-handed", name=name)
                await bot.edit_message_text(
                    text=f"{pressed.html_text or ''}\n\n{settled}",
                    chat_id=chat_id,
                    message_id=message_id,
                    reply_markup=no_buttons,
                )
            else:
                await bot.edit_message_reply_markup(
                    chat_id=chat_id, message_id=message_id, reply_markup=no_buttons
                )
        except TelegramAPIError as exc:
            log.info("could not settle request message %d: %s", message_id, exc.message)


async def on_answer(
    callback: CallbackQuery,
    callback_data: OwnerRequestButton,
    identity: Identity | None,
    tr: Translator,
    owner_requests: OwnerRequestService,
    dialog_manager: DialogManager,
) -> None:
    """Ask for the answer's text (only the lead's responsible or a manager may answer)."""
    if identity is None:
        return
    refusal = await owner_requests.may_answer(identity, callback_data.id)
    if refusal is not None:
        await callback.answer(tr.get(f"owner-request-{refusal.value}"), show_alert=True)
        return
    await callback.answer()
    await start_owner_answer(dialog_manager, callback_data.id)


def _request_id(manager: DialogManager) -> int:
    data = manager.start_data if isinstance(manager.start_data, dict) else {}
    value = data.get(REQUEST_ID_KEY)
    return value if isinstance(value, int) else 0


async def get_answer_prompt(
    dialog_manager: DialogManager, owner_requests: OwnerRequestService, **_: Any
) -> dict[str, Any]:
    """Whom the answer goes to."""
    request = await owner_requests.request(_request_id(dialog_manager))
    name = await owner_requests.requester_name(request) if request is not None else ""
    tr = translator(dialog_manager)
    return {"text": tr.get_html("owner-answer-prompt", name=name)}


async def on_answer_text(message: Message, _: MessageInput, manager: DialogManager) -> None:
    """Send the answer (once per message, whatever Telegram redelivers) and close."""
    tr = translator(manager)
    text = (message.text or "").strip()
    if not text:
        await message.answer(tr.get_html("owner-answer-empty"))
        return
    service = owner_requests_of(manager)
    request_id = _request_id(manager)
    outcome = await service.answer(
        caller(manager), request_id, text, answer_key=str(message.message_id)
    )
    if outcome is PressOutcome.ANSWERED:
        request = await service.request(request_id)
        name = await service.requester_name(request) if request is not None else ""
        await message.answer(tr.get_html("owner-request-answered", name=name))
    else:
        await message.answer(tr.get_html(f"owner-request-{outcome.value}"))
    await manager.done()


def build_owner_requests_router() -> Router:
    """A fresh router for the buttons on owner request messages."""
    router = Router(name="owner_requests")
    router.callback_query.register(
        on_hand_over, OwnerRequestButton.filter(F.action == RequestAction.HAND_OVER)
    )
    router.callback_query.register(
        on_answer, OwnerRequestButton.filter(F.action == RequestAction.ANSWER)
    )
    return router


def build_owner_answer_dialog() -> Dialog:
    """The one window that takes the answer's text."""
    return Dialog(
        Window(
            Format("{text}"),
            MessageInput(on_answer_text, content_types=[ContentType.ANY]),
            Cancel(Tr("button-cancel")),
            state=OwnerAnswer.text,
            getter=get_answer_prompt,
        ),
    )
