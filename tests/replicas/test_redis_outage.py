"""Redis going away: every shared budget falls back to this replica's own, and says so once."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator
from functools import partial

import pytest
from aiogram.fsm.storage.base import StorageKey
from aiogram.fsm.storage.redis import DefaultKeyBuilder
from redis.asyncio import Redis

from bot.config import NotifySettings
from bot.portal.limiter import Lane
from bot.readiness import Reachability, Readiness
from bot.replicas import (
    RedisFloodPause,
    RedisKeys,
    RedisPortalLimiter,
    RedisSendBudget,
    RedisUserThrottle,
    ping,
)
from bot.replicas.dialog_state import RenewedRedisIsolation
from bot.storage import SqliteDatabase
from bot.storage.db import MEMORY
from bot.throttle import BucketRule, UpdateKind, Verdict
from tests.replicas.test_shared_portal_budget import Clock


@pytest.fixture
async def gone_redis() -> AsyncIterator[Redis]:
    """A client of a port where nothing listens (a Redis that went away)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = Redis.from_url(f"redis://127.0.0.1:{port}/0", socket_connect_timeout=1)
    try:
        yield client
    finally:
        await client.aclose()


KEYS = RedisKeys("test:gone:", replica="a")


async def test_the_portal_budget_falls_back_to_this_replica_and_says_so_once(
    gone_redis: Redis, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    limiter = RedisPortalLimiter(gone_redis, KEYS, drain_per_second=2.0, burst=3, clock=clock)
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            await limiter.acquire(Lane.INTERACTIVE)
        await limiter.report_limit_exceeded()
    assert limiter.room() == 0  # the local bucket is full now
    warnings = [r.getMessage() for r in caplog.records if "Redis did not answer" in r.getMessage()]
    assert warnings == [
        "Redis did not answer (ConnectionError): the portal's request budget falls back to "
        "this replica alone until it does"
    ]


async def test_telegram_budgets_and_pause_fall_back_to_this_replica(gone_redis: Redis) -> None:
    clock = Clock()
    budget = RedisSendBudget(gone_redis, KEYS, NotifySettings(), clock=clock)
    turn = await budget.take(42)
    assert turn.send is not None
    await budget.done(turn.send)
    held = await budget.take(42)
    assert held.chat_waits  # the private chat's gap, kept in the process
    pause = RedisFloodPause(gone_redis, KEYS)
    await pause.pause_for(5)
    assert 0 < await pause.remaining() <= 5


async def test_throttling_falls_back_to_this_replica(gone_redis: Redis) -> None:
    rule = BucketRule(rate=1, per_seconds=60, burst=1)
    throttle = RedisUserThrottle(gone_redis, KEYS, rule, rule)
    assert await throttle.judge(1, UpdateKind.GENERAL, 0.0) is Verdict.PASS
    assert await throttle.judge(1, UpdateKind.GENERAL, 0.0) is Verdict.WARN


async def test_readiness_names_redis_when_it_does_not_answer(
    gone_redis: Redis, redis_client: Redis
) -> None:
    async def answers() -> None:
        return None

    async with SqliteDatabase(MEMORY) as db:
        for client, ok in ((redis_client, True), (gone_redis, False)):
            readiness = Readiness(
                db=db,
                portal=Reachability(),
                telegram=Reachability(),
                portal_probe=answers,
                telegram_probe=answers,
                check_seconds=30,
                queue_age_seconds=300,
                redis_probe=partial(ping, client),
            )
            report = await readiness.report()
            assert report["ready"] is ok
            assert report["checks"]["redis"]["ok"] is ok
            assert report["checks"]["redis"].get("problem") == (None if ok else "ConnectionError")


async def test_a_chat_members_updates_stay_one_at_a_time_in_this_replica(
    gone_redis: Redis, caplog: pytest.LogCaptureFixture
) -> None:
    isolation = RenewedRedisIsolation(gone_redis, DefaultKeyBuilder(prefix="test:gone:fsm"))
    member = StorageKey(bot_id=1, chat_id=7, user_id=7)
    order: list[str] = []
    held = asyncio.Event()

    async def first() -> None:
        async with isolation.lock(member):
            held.set()
            await asyncio.sleep(0.05)
            order.append("first")

    async def second() -> None:
        await held.wait()
        async with isolation.lock(member):
            order.append("second")

    with caplog.at_level(logging.WARNING):
        await asyncio.gather(first(), second())
    assert order == ["first", "second"]
    assert [
        r.getMessage() for r in caplog.records if "Redis did not answer" in r.getMessage()
    ] == [
        "Redis did not answer (ConnectionError): one update at a time per chat member falls "
        "back to this replica alone until it does"
    ]
