"""Shared steps of the lead lookup and card stories."""

from __future__ import annotations

from typing import Any

from bot.app import Application
from bot.storage import BindingRepository, Role
from tests.e2e.conftest import ADMIN_TELEGRAM_ID, sign_in
from tests.emulators.bitrix24 import Bitrix24Emulator
from tests.emulators.telegram import TelegramEmulator
from tests.emulators.telegram_driver import TelegramUser
from tests.emulators.telegram_models import ChatMessage

IVAN_TELEGRAM_ID = 2001  # portal user 2, a rep
OLGA_TELEGRAM_ID = 3001  # portal user 3
IVAN_PORTAL_ID = 2
OLGA_PORTAL_ID = 3


def add_lead(portal: Bitrix24Emulator, assigned: int, **fields: Any) -> int:
    """A lead made in the portal for `assigned` (REST semantics, no events delivered)."""
    return portal.add_lead({"ASSIGNED_BY_ID": assigned, **fields}, assigned)


async def ivan(telegram: TelegramEmulator) -> TelegramUser:
    """Ivan Petrov, a rep, signed in and at the menu."""
    return await sign_in(telegram, IVAN_TELEGRAM_ID, "Ivan", "+79161234567")


async def olga(telegram: TelegramEmulator) -> TelegramUser:
    """Olga Smirnova, signed in as a rep."""
    return await sign_in(telegram, OLGA_TELEGRAM_ID, "Olga", "+79162345678")


async def anna(telegram: TelegramEmulator) -> TelegramUser:
    """Anna Admin (config admin: sees and manages every lead)."""
    return await sign_in(telegram, ADMIN_TELEGRAM_ID, "Anna", "+79160000001")


async def make_manager(app: Application, telegram_user_id: int) -> None:
    """Give a bound user the manager role directly."""
    assert await BindingRepository(app.db).set_role(telegram_user_id, Role.MANAGER)


async def warm_caches(app: Application) -> None:
    """Stages/sources/fields are cached for 10 minutes; counted requests exclude their refresh."""
    assert app.dispatcher is not None
    await app.dispatcher["catalog"].get()


def text_of(message: ChatMessage) -> str:
    """A message's plain text."""
    return message.text or ""


async def open_card(user: TelegramUser, lead_id: int, title_part: str) -> ChatMessage:
    """Open a lead's card by `/find #id`."""
    await user.send(f"/find #{lead_id}")
    return await user.wait_for_message(lambda m: title_part in text_of(m) and bool(m.labels))
