"""Commands available everywhere for bound users: /menu, /help, /cancel, /settings."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import Message
from aiogram_dialog import DialogManager

from bot.access.roles import Action, Identity
from bot.i18n import Translator
from dialogs.states import MainMenu, start_main_menu, start_settings

AVAILABLE_COMMANDS = (
    "start",
    "menu",
    "new",
    "find",
    "my",
    "today",
    "report",
    "settings",
    "hours",
    "help",
    "cancel",
    "subscribe",
    "subscriptions",
    "status",
)
"""The commands the bot answers today, in the order Telegram shows them."""


async def on_menu(message: Message, dialog_manager: DialogManager) -> None:
    """Open the main menu, closing whatever was open."""
    await start_main_menu(dialog_manager)


async def on_help(message: Message, identity: Identity | None, tr: Translator) -> None:
    """What the bot can do (and, for admins, the admin tools)."""
    text = tr.get_html("help-text")
    if identity is not None and identity.may(Action.MANAGE_BINDINGS):
        text += "\n\n" + tr.get_html("help-admin-text")
    await message.answer(text)


async def on_cancel(message: Message, tr: Translator, dialog_manager: DialogManager) -> None:
    """Leave whatever flow is open and return to the menu."""
    in_flow = dialog_manager.has_context() and (
        dialog_manager.current_context().state != MainMenu.main
    )
    if not in_flow:
        await message.answer(tr.get_html("cancel-nothing"))
        return
    await message.answer(tr.get_html("cancel-done"))
    await start_main_menu(dialog_manager)


async def on_settings(message: Message, dialog_manager: DialogManager) -> None:
    """Open personal settings."""
    await start_settings(dialog_manager)


def build_commands_router() -> Router:
    """A fresh router for the general commands (private chats)."""
    router = Router(name="commands")
    router.message.filter(F.chat.type == "private")
    router.message.register(on_menu, Command("menu"))
    router.message.register(on_help, Command("help"))
    router.message.register(on_cancel, Command("cancel"))
    router.message.register(on_settings, Command("settings"))
    return router
