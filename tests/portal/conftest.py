"""Clients of the portal emulator: real PortalClient over loopback HTTP, fast retry settings."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from bot.portal import PortalAuth, PortalClient, PortalLimiter, WebhookAuth
from tests.emulators.bitrix24 import Bitrix24Emulator

ClientFactory = Callable[..., PortalClient]


@pytest.fixture
async def make_client() -> AsyncIterator[ClientFactory]:
    """Build clients with small back-off and a roomy limiter; all are closed after the test."""
    made: list[PortalClient] = []

    def build(auth: PortalAuth, **overrides: Any) -> PortalClient:
        options: dict[str, Any] = {
            "limiter": PortalLimiter(drain_per_second=1000.0, burst=1000, start_full=False),
            "max_retries": 3,
            "backoff_base": 0.001,
            "backoff_cap": 0.01,
            "timeout": 10.0,
        }
        options.update(overrides)
        client = PortalClient(auth=auth, **options)
        made.append(client)
        return client

    yield build
    for client in made:
        await client.aclose()


@pytest.fixture
def client(portal_emulator: Bitrix24Emulator, make_client: ClientFactory) -> PortalClient:
    """A webhook client of the default emulator (admin user 1)."""
    return make_client(WebhookAuth(portal_emulator.webhook_url))
