"""Several replicas of the bot sharing one Redis: dialog state, request budgets and pauses.

Each class here has an in-process twin with the same methods (`PortalLimiter`, `FloodPause`,
`SendBudget`, `UserThrottle`); `bot.app` picks one or the other by `REDIS__URL`. Every take of
a budget is one Lua script, so replicas never race between reading a budget and spending it,
and every figure is kept on Redis's clock (`TIME`), so the replicas' clocks never matter.
"""

from bot.replicas.connection import RedisKeys, check_redis, ping, redis_client
from bot.replicas.dialog_state import RedisDialogStorage
from bot.replicas.portal_limiter import BucketTake, RedisPortalLimiter, SharedLeakyBucket
from bot.replicas.telegram import RedisFloodPause, RedisSendBudget
from bot.replicas.throttle import RedisUserThrottle

__all__ = [
    "BucketTake",
    "RedisDialogStorage",
    "RedisFloodPause",
    "RedisKeys",
    "RedisPortalLimiter",
    "RedisSendBudget",
    "RedisUserThrottle",
    "SharedLeakyBucket",
    "check_redis",
    "ping",
    "redis_client",
]
