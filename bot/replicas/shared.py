"""Everything the replicas share through Redis, made from one client.

`bot.app` imports this module only when `REDIS__URL` is set: the Redis client library is about
4 MB that a single process keeping its budgets to itself never needs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

from bot.config import NotifySettings, RedisSettings
from bot.replicas.connection import RedisKeys, check_redis, ping, redis_client
from bot.replicas.dialog_state import RedisDialogStorage
from bot.replicas.portal_limiter import RedisPortalLimiter
from bot.replicas.telegram import RedisFloodPause, RedisSendBudget
from bot.replicas.throttle import RedisUserThrottle
from bot.throttle import BucketRule


class SharedThroughRedis:
    """One Redis client and the key names of this bot; builds the shared twin of each budget."""

    def __init__(self, settings: RedisSettings) -> None:
        self.client = redis_client(settings)
        self.keys = RedisKeys(settings.key_prefix)

    async def check(self) -> None:
        """One PING at start-up; a Redis that does not answer is a `ConfigurationError`."""
        await check_redis(self.client)

    def probe(self) -> Callable[[], Awaitable[None]]:
        """The readiness probe: one PING."""
        return lambda: ping(self.client)

    def flood_pause(self) -> RedisFloodPause:
        """Telegram's pause after a 429, seen by every replica."""
        return RedisFloodPause(self.client, self.keys)

    def portal_limiter(self, *, drain_per_second: float, burst: int) -> RedisPortalLimiter:
        """The portal's request budget of all replicas together."""
        return RedisPortalLimiter(
            self.client, self.keys, drain_per_second=drain_per_second, burst=burst
        )

    def send_budget(self, limits: NotifySettings) -> RedisSendBudget:
        """Telegram's send budgets (overall, per chat, per group) of all replicas together."""
        return RedisSendBudget(self.client, self.keys, limits)

    def dialog_storage(self, ttl: timedelta) -> RedisDialogStorage:
        """Dialog state every replica reads, expiring by itself after `ttl`."""
        return RedisDialogStorage(self.client, self.keys, ttl)

    def user_throttle(self, general: BucketRule, sign_in: BucketRule) -> RedisUserThrottle:
        """Each user's update budget, one for all replicas."""
        return RedisUserThrottle(self.client, self.keys, general, sign_in)

    async def close(self) -> None:
        """Close the client's connections."""
        await self.client.aclose()
