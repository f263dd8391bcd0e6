"""Personal settings: the language of every text of the bot, and the way to working hours."""

from __future__ import annotations

import logging
from typing import Any

from aiogram.exceptions import TelegramAPIError
from aiogram.types import BotCommand, BotCommandScopeChat, CallbackQuery
from aiogram_dialog import Dialog, DialogManager, Window
from aiogram_dialog.widgets.kbd import Button, Cancel, Row

from dialogs.commands import AVAILABLE_COMMANDS
from dialogs.hours import on_settings_hours
from dialogs.services import access_of, bot_of, caller, translations_of, use_translator
from dialogs.states import SettingsDialog
from dialogs.widgets import DialogValue, Tr, as_flag

log = logging.getLogger(__name__)

ENGLISH_ID = "lang_en"
RUSSIAN_ID = "lang_ru"
CHANGED_KEY = "language_changed"
CHANGED = DialogValue(CHANGED_KEY, as_flag, False)


async def get_settings(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    """Whether the language was just changed (to confirm it in the window)."""
    return {CHANGED_KEY: CHANGED.get(dialog_manager)}


async def _set_language(callback: CallbackQuery, manager: DialogManager, language: str) -> None:
    identity = caller(manager)
    await access_of(manager).set_language(identity.telegram_user_id, language)
    tr = translations_of(manager).for_language(language)
    use_translator(manager, tr)
    CHANGED.set(manager, True)
    if callback.message is not None:
        descriptions = tr.command_descriptions()
        try:
            await bot_of(manager).set_my_commands(
                [BotCommand(command=c, description=descriptions[c]) for c in AVAILABLE_COMMANDS],
                scope=BotCommandScopeChat(chat_id=callback.message.chat.id),
            )
        except TelegramAPIError as exc:
            log.warning("could not set chat commands: %s", type(exc).__name__)


async def on_english(callback: CallbackQuery, _: Button, manager: DialogManager) -> None:
    """Switch to English."""
    await _set_language(callback, manager, "en")


async def on_russian(callback: CallbackQuery, _: Button, manager: DialogManager) -> None:
    """Switch to Russian."""
    await _set_language(callback, manager, "ru")


def build_settings_dialog() -> Dialog:
    """A fresh settings dialog."""
    return Dialog(
        Window(
            Tr("settings-title"),
            Tr("settings-language-current"),
            Tr("settings-language-set", when=CHANGED_KEY),
            Tr("settings-language-prompt"),
            Row(
                Button(Tr("settings-language-en"), id=ENGLISH_ID, on_click=on_english),
                Button(Tr("settings-language-ru"), id=RUSSIAN_ID, on_click=on_russian),
            ),
            Button(Tr("settings-hours-button"), id="settings_hours", on_click=on_settings_hours),
            Cancel(Tr("button-back")),
            state=SettingsDialog.main,
            getter=get_settings,
        ),
    )
