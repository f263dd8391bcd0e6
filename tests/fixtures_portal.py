"""Fixtures that start the Bitrix24 portal emulator on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.emulators.bitrix24 import Bitrix24Emulator


@pytest.fixture
async def portal_emulator() -> AsyncIterator[Bitrix24Emulator]:
    """A started portal emulator: default stages/sources, DEFAULT_USERS, rate limit off."""
    emulator = Bitrix24Emulator()
    await emulator.start()
    try:
        yield emulator
    finally:
        await emulator.stop()
