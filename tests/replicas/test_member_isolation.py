"""One update at a time per chat member across replicas: the Redis lock, renewed while held,
and run out within its time to live when its replica is gone."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from aiogram.fsm.storage.base import StorageKey
from aiogram.fsm.storage.redis import DefaultKeyBuilder
from redis.asyncio import Redis

from bot.replicas.dialog_state import RenewedRedisIsolation

MEMBER = StorageKey(bot_id=1, chat_id=7, user_id=7)
OTHER = StorageKey(bot_id=1, chat_id=8, user_id=8)
TTL = timedelta(seconds=0.6)


def isolation(redis_client: Redis, redis_prefix: str) -> RenewedRedisIsolation:
    keys = DefaultKeyBuilder(prefix=f"{redis_prefix}fsm", with_destiny=True)
    return RenewedRedisIsolation(redis_client, keys, ttl=TTL)


async def test_a_members_next_update_waits_for_the_one_being_handled(
    redis_client: Redis, redis_prefix: str
) -> None:
    first, second = isolation(redis_client, redis_prefix), isolation(redis_client, redis_prefix)
    order: list[str] = []
    held = asyncio.Event()

    async def long_update() -> None:
        async with first.lock(MEMBER):
            held.set()
            order.append("first begins")
            await asyncio.sleep(TTL.total_seconds() * 2)  # longer than the lock lives unrenewed
            order.append("first ends")

    async def next_update() -> None:
        await held.wait()
        async with second.lock(MEMBER):
            order.append("second")

    async def other_member() -> None:
        await held.wait()
        async with second.lock(OTHER):
            order.append("other member")

    await asyncio.gather(long_update(), next_update(), other_member())
    assert order == ["first begins", "other member", "first ends", "second"]


async def test_a_lock_left_by_a_dead_replica_runs_out(
    redis_client: Redis, redis_prefix: str
) -> None:
    keys = DefaultKeyBuilder(prefix=f"{redis_prefix}fsm", with_destiny=True)
    # What a replica that died holding the lock leaves: the lock, renewed by nobody.
    left = redis_client.lock(keys.build(MEMBER, "lock"), timeout=TTL.total_seconds())
    assert await left.acquire(blocking=False)
    live = isolation(redis_client, redis_prefix)
    async with asyncio.timeout(TTL.total_seconds() * 5), live.lock(MEMBER):
        assert not await left.owned()  # taken once the left lock ran out, not beside it
