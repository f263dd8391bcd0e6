"""Dialog state in Redis, where every replica finds it, and one update at a time per chat
member across the replicas."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import timedelta

from aiogram.fsm.storage.base import BaseEventIsolation, StorageKey
from aiogram.fsm.storage.memory import SimpleEventIsolation
from aiogram.fsm.storage.redis import DefaultKeyBuilder, KeyBuilder, RedisStorage
from redis.asyncio import Redis
from redis.asyncio.lock import Lock
from redis.exceptions import LockError, RedisError

from bot.replicas.connection import RedisKeys, RedisOutage

log = logging.getLogger(__name__)

LOCK_TTL = timedelta(seconds=8)
"""How long a chat member's lock outlives a replica that died holding it."""
LOCK_POLL_SECONDS = 0.02
"""How often an update waiting for its member's lock asks again."""


class RedisDialogStorage(RedisStorage):
    """aiogram's `RedisStorage` with keys that carry the destiny (aiogram-dialog keeps its
    stacks and contexts apart by it), expiring `ttl` after the last write.

    The client belongs to the composition root: the dispatcher closes its storage when
    polling stops, while updates still in flight and the workers keep using the client.
    """

    def __init__(self, redis: Redis, keys: RedisKeys, ttl: timedelta) -> None:
        super().__init__(
            redis,
            key_builder=DefaultKeyBuilder(prefix=keys.key("fsm"), with_destiny=True),
            state_ttl=ttl,
            data_ttl=ttl,
        )

    async def close(self) -> None:
        """Nothing to release here: `bot.app` closes the client last."""

    def member_isolation(self) -> RenewedRedisIsolation:
        """The lock that keeps a chat member's updates one at a time, on this client."""
        return RenewedRedisIsolation(self.redis, self.key_builder)


class RenewedRedisIsolation(BaseEventIsolation):
    """One update at a time per chat member across every replica: a Redis lock that lives
    `ttl` and is renewed while its update is handled.

    aiogram-dialog reads a press's dialog context before it takes its own lock, so a press
    that comes while the member's previous update is still handled would read the context as
    it was before that update. Holding this lock around the whole update (aiogram's
    dispatcher takes it, keyed like the dialog state) makes the next update wait. A replica
    that dies holding a lock leaves it to run out within `ttl`, about when its claimed
    updates are replayed; aiogram's own Redis isolation holds a lock for 60 s without
    renewing it, so a dead replica would stall its members for a minute and a handler that
    waits longer on the portal would lose its lock.
    """

    def __init__(self, redis: Redis, key_builder: KeyBuilder, ttl: timedelta = LOCK_TTL) -> None:
        self._redis = redis
        self._key_builder = key_builder
        self._ttl = ttl.total_seconds()
        self._local = SimpleEventIsolation()
        self._outage = RedisOutage("one update at a time per chat member")

    @contextlib.asynccontextmanager
    async def lock(self, key: StorageKey) -> AsyncIterator[None]:
        """Hold the chat member's lock while the block runs (while Redis does not answer, a
        lock in this process: updates that need no dialog state are still handled)."""
        lock = self._redis.lock(
            self._key_builder.build(key, "lock"),
            timeout=self._ttl,
            sleep=LOCK_POLL_SECONDS,
            thread_local=False,
        )
        try:
            await lock.acquire()
        except RedisError as exc:
            self._outage.failed(exc)
            async with self._local.lock(key):
                yield
            return
        self._outage.answered()
        keeper = asyncio.create_task(self._keep(lock))
        try:
            yield
        finally:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper
            with contextlib.suppress(RedisError):  # ran out meanwhile (LockError), or Redis left
                await lock.release()

    async def _keep(self, lock: Lock) -> None:
        while True:
            await asyncio.sleep(self._ttl / 3)
            try:
                await lock.reacquire()
            except LockError:
                log.warning("an update's lock ran out while it was handled")
                return
            except RedisError as exc:
                log.warning("could not renew an update's lock: %s", type(exc).__name__)

    async def close(self) -> None:
        """Nothing to close: `bot.app` owns the client."""
