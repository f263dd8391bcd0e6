"""The "Assign to…" button of a message about a lead nobody took, and its rep picker."""

from __future__ import annotations

import logging
from typing import Any

from aiogram import F, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram_dialog import Dialog, DialogManager, Window
from aiogram_dialog.widgets.input import MessageInput
from aiogram_dialog.widgets.kbd import Cancel
from aiogram_dialog.widgets.kbd.select import ManagedRadio

from bot.access.roles import Identity
from bot.i18n import Translator
from bot.notify.buttons import EscalationAction, EscalationButton
from bot.speed.escalation import AssignOutcome, EscalationService
from dialogs.services import bot_of, caller, escalations_of, translator
from dialogs.states import ORIGIN_KEY, AssignLead, start_assign_lead
from dialogs.widgets import DialogValue, Tr, as_text, scrolling_select, started_lead_id

log = logging.getLogger(__name__)

REP_SELECT_ID = "asg_rep"
QUERY = DialogValue("query", as_text, "")
TITLE: DialogValue[str | None] = DialogValue("title", as_text, None)
"""The lead's title, read once: searching and paging re-render without asking the portal."""
PAGE_HEIGHT = 8
QUERY_LIMIT = 64


async def on_assign(
    callback: CallbackQuery,
    callback_data: EscalationButton,
    identity: Identity | None,
    tr: Translator,
    escalations: EscalationService,
    dialog_manager: DialogManager,
) -> None:
    """Open the rep picker, if this press may assign this lead (re-checked on the server)."""
    if identity is None or callback.message is None:
        return
    message = callback.message
    refusal = await escalations.assign_refusal(
        identity,
        chat_id=message.chat.id,
        message_id=message.message_id,
        lead_id=callback_data.lead_id,
    )
    if refusal is not None:
        log.info("assign of lead %d refused: %s", callback_data.lead_id, refusal)
        await callback.answer(tr.get(refusal), show_alert=True)
        return
    await callback.answer()
    await start_assign_lead(
        dialog_manager, callback_data.lead_id, (message.chat.id, message.message_id)
    )


async def get_reps(
    dialog_manager: DialogManager, escalations: EscalationService, **_: Any
) -> dict[str, Any]:
    """The lead's header and the active portal users matching the search."""
    lead_id = started_lead_id(dialog_manager)
    query = QUERY.get(dialog_manager)
    people = await escalations.assignees(query)
    title = TITLE.get(dialog_manager)
    if title is None:
        title = await escalations.lead_title(lead_id)
        TITLE.set(dialog_manager, title)
    return {
        "id": str(lead_id),
        "title": title,
        "query": query,
        "reps": [(name, str(user_id)) for name, user_id in people],
        "nobody": bool(query) and not people,
    }


async def on_search(message: Message, _: MessageInput, manager: DialogManager) -> None:
    """Narrow the list to names containing what was sent."""
    QUERY.set(manager, (message.text or "").strip()[:QUERY_LIMIT])


async def on_rep_picked(
    callback: CallbackQuery, _: ManagedRadio[str], manager: DialogManager, item_id: str
) -> None:
    """Assign the lead to the picked rep (every rule checked again) and close."""
    tr = translator(manager)
    lead_id = started_lead_id(manager)
    if not item_id.isdigit():
        await callback.answer(tr.get("escalation-assign-unknown"), show_alert=True)
        return
    result = await escalations_of(manager).assign(caller(manager), lead_id, int(item_id))
    if result.outcome is not AssignOutcome.ASSIGNED:
        await callback.answer(tr.get(f"escalation-assign-{result.outcome.value}"), show_alert=True)
        if result.outcome is AssignOutcome.UNKNOWN_USER:
            return
        await manager.done()
        return
    done = tr.get_html("escalation-assign-assigned", id=str(lead_id), name=result.name)
    await callback.answer()
    await _settle_origin(manager)
    await manager.done()
    if isinstance(callback.message, Message):
        await callback.message.answer(done)


async def _settle_origin(manager: DialogManager) -> None:
    """The escalation message loses its buttons: the lead is no longer waiting."""
    data = manager.start_data if isinstance(manager.start_data, dict) else {}
    origin = data.get(ORIGIN_KEY)
    if not isinstance(origin, list) or len(origin) != 2:
        return
    chat_id, message_id = origin
    try:
        await bot_of(manager).edit_message_reply_markup(
            chat_id=int(chat_id),
            message_id=int(message_id),
            reply_markup=InlineKeyboardMarkup(inline_keyboard=[]),
        )
    except TelegramAPIError as exc:
        log.info("could not settle escalation message %s: %s", message_id, exc.message)


def build_escalation_router() -> Router:
    """A fresh router for the buttons of escalation messages (Take is the notifications')."""
    router = Router(name="escalation")
    router.callback_query.register(
        on_assign, EscalationButton.filter(F.action == EscalationAction.ASSIGN)
    )
    return router


def build_assign_dialog() -> Dialog:
    """The rep picker: a paged list of active portal users, narrowed by a typed name."""
    return Dialog(
        Window(
            Tr("escalation-assign-prompt"),
            Tr("escalation-assign-nobody", when="nobody"),
            scrolling_select(
                REP_SELECT_ID,
                "reps",
                on_rep_picked,
                scroll_id="asg_reps_scroll",
                height=PAGE_HEIGHT,
                keep_choice=True,
            ),
            MessageInput(on_search),
            Cancel(Tr("button-cancel")),
            state=AssignLead.pick,
            getter=get_reps,
        ),
    )
