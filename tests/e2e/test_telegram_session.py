"""The bot's Telegram session: what aiogram's answer parsing costs stays paid once."""

from __future__ import annotations

import gc
import weakref

from aiogram.methods import Response
from aiogram.types import Message

from bot.app import Application
from tests.emulators.telegram import TelegramEmulator


async def test_telegram_answers_keep_their_response_class(
    running_bot: Application, telegram_emulator: TelegramEmulator
) -> None:
    # aiogram asks pydantic for `Response[Message]` at every answer; pydantic keeps it only
    # while something refers to it, so without the session's reference each collection made
    # the next answer build the class again, on the event loop.
    vera = telegram_emulator.user(2301, "Vera")
    await vera.send("/start")
    await vera.wait_for_message()
    await running_bot.sender_bot.send_message(2301, "one")
    held = weakref.ref(Response[Message])
    gc.collect()
    assert held() is not None
    await running_bot.sender_bot.send_message(2301, "two")
    assert Response[Message] is held()
