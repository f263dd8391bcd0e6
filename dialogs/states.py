"""Every StatesGroup of the bot, and typed helpers that start each dialog."""

from __future__ import annotations

from aiogram.fsm.state import State, StatesGroup
from aiogram_dialog import DialogManager, ShowMode, StartMode


class MainMenu(StatesGroup):
    """The main menu."""

    main = State()


class SettingsDialog(StatesGroup):
    """Personal settings: the language."""

    main = State()


class AdminDialog(StatesGroup):
    """Admin tools: bindings, roles and invites."""

    main = State()
    bindings = State()
    binding = State()
    role = State()
    revoke = State()
    invite_user = State()
    invite_role = State()
    invite_created = State()
    invites = State()


async def start_main_menu(manager: DialogManager, *, show_mode: ShowMode = ShowMode.SEND) -> None:
    """Open the main menu as the only dialog of the chat."""
    await manager.start(MainMenu.main, mode=StartMode.RESET_STACK, show_mode=show_mode)


async def start_settings(manager: DialogManager) -> None:
    """Open personal settings on top of whatever is open."""
    await manager.start(SettingsDialog.main)


async def start_admin(manager: DialogManager) -> None:
    """Open the admin tools on top of whatever is open."""
    await manager.start(AdminDialog.main)
