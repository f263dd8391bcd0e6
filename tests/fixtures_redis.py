"""Redis for the tests of several replicas: the real server, a fresh key prefix per test.

`TEST_REDIS_URL` points at it (redis://127.0.0.1:6379/0 by default). Every test writes only
under its own prefix and deletes it at the end, so parallel runs never see each other's keys.
Without the server those tests are skipped, or fail under REQUIRE_SERVICES=1 (`tests.services`).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from bot.config import ConfigurationError, RedisSettings
from bot.replicas import RedisKeys, check_redis
from tests.services import service_missing

DEFAULT_TEST_REDIS_URL = "redis://127.0.0.1:6379/0"


def redis_url_for_tests() -> str:
    """Where the tests' Redis is."""
    return os.environ.get("TEST_REDIS_URL", DEFAULT_TEST_REDIS_URL)


async def require_redis(client: Redis) -> None:
    """Return when the tests' Redis answers; otherwise skip the test (or fail it when the
    services are required), closing the client."""
    try:
        await check_redis(client)
    except ConfigurationError:
        await client.aclose()
        service_missing("Redis (TEST_REDIS_URL)", redis_url_for_tests(), "no answer to PING")


async def delete_prefix(client: Redis, prefix: str) -> None:
    """Delete every key under `prefix`."""
    keys = [key async for key in client.scan_iter(match=f"{prefix}*", count=500)]
    if keys:
        await client.delete(*keys)


@pytest.fixture
def redis_prefix() -> str:
    """A key prefix no other test uses."""
    return f"test:{uuid.uuid4().hex[:12]}:"


@pytest.fixture
async def redis_client(redis_prefix: str) -> AsyncIterator[Redis]:
    """A client of the tests' Redis; the test's keys are deleted afterwards."""
    client = Redis.from_url(redis_url_for_tests())
    await require_redis(client)
    try:
        yield client
    finally:
        await delete_prefix(client, redis_prefix)
        await client.aclose()


def replica(redis_prefix: str, name: str) -> RedisKeys:
    """The keys of one replica (its own name, the test's prefix)."""
    return RedisKeys(redis_prefix, replica=name)


@pytest.fixture
async def bot_redis(
    request: pytest.FixtureRequest, redis_prefix: str
) -> AsyncIterator[RedisSettings]:
    """The bot's REDIS__* settings: none by default, the tests' Redis when parametrised with
    "redis" (indirectly)."""
    if getattr(request, "param", "sqlite") != "redis":
        yield RedisSettings()
        return
    client = Redis.from_url(redis_url_for_tests())
    await require_redis(client)
    try:
        yield RedisSettings(url=redis_url_for_tests(), key_prefix=redis_prefix)
    finally:
        await delete_prefix(client, redis_prefix)
        await client.aclose()
