"""Dialog state in Redis, where every replica finds it."""

from __future__ import annotations

from datetime import timedelta

from aiogram.fsm.storage.redis import DefaultKeyBuilder, RedisStorage
from redis.asyncio import Redis

from bot.replicas.connection import RedisKeys


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
