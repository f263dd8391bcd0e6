"""Fixtures that start the Bitrix24 portal emulator on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

import pytest

from bot.portal import Lane, PortalClient, PortalLimiter, WebhookAuth
from bot.portal.batch import BatchResult
from tests.emulators.bitrix24 import Bitrix24Emulator


class CountedBatches:
    """Stands in for a client's `batch` (set it as the client's attribute): counts the requests
    and the most in flight at once, then sends each as the client would."""

    def __init__(self, portal: PortalClient) -> None:
        self._batch = portal.batch
        self.requests = 0
        self.in_flight = 0
        self.most = 0

    async def __call__(self, commands: Mapping[str, Any], **options: Any) -> BatchResult:
        self.requests += 1
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        try:
            return await self._batch(commands, **options)
        finally:
            self.in_flight -= 1


@pytest.fixture
async def portal_emulator() -> AsyncIterator[Bitrix24Emulator]:
    """A started portal emulator: default stages/sources, DEFAULT_USERS, rate limit off."""
    emulator = Bitrix24Emulator()
    await emulator.start()
    try:
        yield emulator
    finally:
        await emulator.stop()


class RecordingLimiter(PortalLimiter):
    """A limiter with room for everything that notes the lane of every slot it gives."""

    def __init__(self) -> None:
        super().__init__(drain_per_second=1000.0, burst=1000)
        self.lanes: list[Lane] = []

    async def acquire(self, lane: Lane = Lane.INTERACTIVE) -> None:
        """Note the lane, then wait as any caller would."""
        self.lanes.append(lane)
        await super().acquire(lane)


@pytest.fixture
async def recorded_portal(
    portal_emulator: Bitrix24Emulator,
) -> AsyncIterator[tuple[PortalClient, RecordingLimiter]]:
    """A portal client on the emulator whose limiter notes the lane of every request."""
    limiter = RecordingLimiter()
    client = PortalClient(
        auth=WebhookAuth(portal_emulator.webhook_url), limiter=limiter, backoff_base=0.001
    )
    try:
        yield client, limiter
    finally:
        await client.aclose()
