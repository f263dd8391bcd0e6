"""Fixtures that start the Telegram Bot API emulator on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiogram import Bot

from tests.emulators.telegram import DEFAULT_TEST_TOKEN, TelegramEmulator


@pytest.fixture
async def telegram_emulator() -> AsyncIterator[TelegramEmulator]:
    """A started emulator whose valid token is DEFAULT_TEST_TOKEN; stopped after the test."""
    emulator = TelegramEmulator(DEFAULT_TEST_TOKEN)
    await emulator.start()
    try:
        yield emulator
    finally:
        await emulator.stop()
    if emulator.emulator_errors:
        pytest.fail(f"the Telegram emulator failed internally: {emulator.emulator_errors!r}")


@pytest.fixture
async def telegram_bot(telegram_emulator: TelegramEmulator) -> AsyncIterator[Bot]:
    """A real aiogram Bot talking to the emulator over sockets; its session is closed after."""
    bot = telegram_emulator.make_bot()
    try:
        yield bot
    finally:
        await bot.session.close()
