"""What a user sees when a flow fails: a sentence that says what happened, never a crash."""

from __future__ import annotations

import logging
from typing import Any

from aiogram import Router
from aiogram.filters import ExceptionTypeFilter
from aiogram.types import ErrorEvent, Message
from aiogram_dialog import DialogManager, ShowMode
from aiogram_dialog.api.exceptions import OutdatedIntent, UnknownIntent, UnknownState

from bot.access.service import AccessDenied
from bot.i18n import Translator
from bot.leads.problems import portal_problem
from bot.leads.visibility import LeadHiddenError
from bot.portal import PortalError
from dialogs.states import start_main_menu

log = logging.getLogger(__name__)


async def _tell(event: ErrorEvent, text: str) -> None:
    update = event.update
    if update.callback_query is not None:
        await update.callback_query.answer(text[:200], show_alert=True)
    elif update.message is not None:
        await update.message.answer(text)


async def on_stale_dialog(
    event: ErrorEvent, tr: Translator, dialog_manager: DialogManager, **_: Any
) -> None:
    """A button from before a restart or from a closed dialog: show the menu again."""
    log.info("stale dialog button: %s", type(event.exception).__name__)
    update = event.update
    if update.callback_query is not None:
        await update.callback_query.answer()
        message = update.callback_query.message
        if isinstance(message, Message):
            await message.answer(tr.get_html("error-stale-button"))
    elif update.message is not None:
        await update.message.answer(tr.get_html("error-stale-button"))
    await start_main_menu(dialog_manager, show_mode=ShowMode.SEND)


async def on_access_denied(event: ErrorEvent, tr: Translator, **_: Any) -> None:
    """A role check failed on the server side."""
    log.info("access denied: %s", event.exception)
    await _tell(event, tr.get_html("access-admins-only"))


async def on_lead_hidden(event: ErrorEvent, tr: Translator, **_: Any) -> None:
    """The lead is not the caller's to see (or does not exist, for reps)."""
    log.info("lead hidden from the caller: %s", event.exception)
    await _tell(event, tr.get_html("access-lead-hidden"))


async def on_portal_error(event: ErrorEvent, tr: Translator, **_: Any) -> None:
    """The portal failed or refused; nothing was changed by us."""
    exc = event.exception
    assert isinstance(exc, PortalError)
    log.warning("portal error in a flow: %s", exc.code or type(exc).__name__)
    key, args = portal_problem(exc)
    await _tell(event, tr.get_html(key, **args))


async def on_unexpected(event: ErrorEvent, tr: Translator | None = None, **_: Any) -> None:
    """Anything else: log it with its traceback, tell the user plainly."""
    log.error("unhandled error in update %d", event.update.update_id, exc_info=event.exception)
    if tr is not None:
        await _tell(event, tr.get_html("error-unexpected"))


def build_errors_router() -> Router:
    """A fresh router with the error handlers, most specific first."""
    router = Router(name="errors")
    router.errors.register(
        on_stale_dialog, ExceptionTypeFilter(UnknownIntent, UnknownState, OutdatedIntent)
    )
    router.errors.register(on_access_denied, ExceptionTypeFilter(AccessDenied, PermissionError))
    router.errors.register(on_lead_hidden, ExceptionTypeFilter(LeadHiddenError))
    router.errors.register(on_portal_error, ExceptionTypeFilter(PortalError))
    router.errors.register(on_unexpected)
    return router
