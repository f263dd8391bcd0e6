"""The portal's request budget shared by every replica: one leaky bucket in Redis."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from redis.asyncio import Redis

from bot.portal.limiter import INTERACTIVE_SHARE, Lane, PortalLimiter
from bot.replicas.connection import (
    LUA_NOW,
    REDIS_FAILURES,
    RedisKeys,
    RedisOutage,
    ServerClock,
    now_argument,
)

BACKGROUND_POLL_SECONDS = 0.05
"""How often a background caller held back by another replica's users asks again."""

# KEYS: the bucket (a hash: level, at, streak), the replicas whose users wait (a sorted set
# by expiry).
# ARGV: now, drain per second, burst, lane, replica, interactive callers behind, action,
# a refused worker's next try (ms), the users' slots after which a background caller goes.
# The bucket is the portal's counter as all replicas together have filled it; a request may
# go while it leaves the counter at most at the burst. Returns {granted, wait ms, level, now}.
_BUCKET_SCRIPT = (
    LUA_NOW
    + """
local drain = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local lane = ARGV[4]
local replica = ARGV[5]
local others = tonumber(ARGV[6])
local action = ARGV[7]
local share = tonumber(ARGV[9])
local stored = redis.call('HMGET', KEYS[1], 'level', 'at', 'streak')
local level = tonumber(stored[1]) or 0
local at = tonumber(stored[2]) or now
local streak = tonumber(stored[3]) or 0
level = math.max(0, level - math.max(0, now - at) * drain / 1000)
at = math.max(now, at)
-- Users waiting anywhere hold their place a little longer than the next slot needs.
local hold = 2000 / drain + 250
local function save()
  redis.call('HSET', KEYS[1], 'level', tostring(level), 'at', tostring(at), 'streak', streak)
  redis.call('PEXPIRE', KEYS[1], math.ceil(level * 1000 / drain) + 1000)
end
if action == 'fill' then
  level = math.max(level, burst)
  save()
  return {1, '0', tostring(level), tostring(now)}
end
if action == 'give_back' then
  level = math.max(0, level - 1)
  save()
  return {1, '0', tostring(level), tostring(now)}
end
-- Users waiting anywhere hold workers back, except a background caller's one slot in
-- share + 1 (the streak counts users' slots since the last background one).
if lane ~= 'interactive' and not (lane == 'background' and streak >= share) then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
  if redis.call('ZCARD', KEYS[2]) > 0 then
    local wait = math.max((level + 1 - burst) * 1000 / drain, tonumber(ARGV[8]))
    return {0, tostring(wait), tostring(level), tostring(now)}
  end
end
local wait = (level + 1 - burst) * 1000 / drain
if wait > 0 then
  if lane == 'interactive' then
    redis.call('ZADD', KEYS[2], now + wait + hold, replica)
    redis.call('PEXPIRE', KEYS[2], math.ceil(wait + hold) + 1000)
  end
  return {0, tostring(wait), tostring(level), tostring(now)}
end
level = level + 1
if lane == 'interactive' then
  if others > 0 then
    redis.call('ZADD', KEYS[2], now + hold, replica)
    redis.call('PEXPIRE', KEYS[2], math.ceil(hold) + 1000)
  else
    redis.call('ZREM', KEYS[2], replica)
  end
  -- Only users' slots taken while users still wait somewhere count toward the workers' turn.
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
  if redis.call('ZCARD', KEYS[2]) > 0 then
    streak = math.min(streak + 1, share)
  else
    streak = 0
  end
elseif lane == 'background' then
  streak = 0
end
save()
return {1, '0', tostring(level), tostring(now)}
"""
)


@dataclass(frozen=True, slots=True)
class BucketTake:
    """One run of the shared bucket: granted or not, the wait until a slot may be free, the
    shared counter after the run, and when it ran (seconds on Redis's or the injected clock)."""

    granted: bool
    wait: float
    level: float
    at: float


class SharedLeakyBucket:
    """The portal's counter as every replica together fills it, kept in Redis.

    `take` is one script run: it drains the counter to now and counts one request when that
    leaves it at most at the burst. An interactive caller that has to wait marks its replica
    as having users in line, and background and routine takes of every replica are refused
    while any such mark is fresh, except one background take after every `INTERACTIVE_SHARE`
    interactive ones; a replica that stops keeping its mark loses it within a second or so.
    Routine callers give way to background ones within each replica.
    """

    def __init__(
        self,
        redis: Redis,
        keys: RedisKeys,
        *,
        drain_per_second: float,
        burst: int,
        server_clock: ServerClock | None = None,
    ) -> None:
        self.drain_per_second = drain_per_second
        self.burst = burst
        self._keys = keys
        self._server_clock = server_clock
        self._script = redis.register_script(_BUCKET_SCRIPT)

    async def _run(self, lane: Lane, others: int, action: str) -> BucketTake:
        reply = await self._script(
            keys=[self._keys.key("portal", "bucket"), self._keys.key("portal", "interactive")],
            args=[
                now_argument(self._server_clock),
                repr(self.drain_per_second),
                self.burst,
                lane.value,
                self._keys.replica,
                others,
                action,
                BACKGROUND_POLL_SECONDS * 1000.0,
                INTERACTIVE_SHARE,
            ],
        )
        return BucketTake(
            granted=bool(int(reply[0])),
            wait=float(reply[1]) / 1000.0,
            level=float(reply[2]),
            at=float(reply[3]) / 1000.0,
        )

    async def take(self, lane: Lane, *, others: int = 0) -> BucketTake:
        """Count one request of `lane` now if the counter has room; `others` is how many
        interactive callers of this replica wait behind this one."""
        return await self._run(lane, others, "take")

    async def fill(self) -> BucketTake:
        """The portal refused a request for rate: its counter is at least at the burst."""
        return await self._run(Lane.INTERACTIVE, 0, "fill")

    async def give_back(self) -> BucketTake:
        """Uncount one request taken and never sent."""
        return await self._run(Lane.INTERACTIVE, 0, "give_back")


class RedisPortalLimiter(PortalLimiter):
    """`PortalLimiter` whose bucket is a `SharedLeakyBucket`, so all replicas together keep
    the portal's limit: nobody goes while the shared counter is at the burst.

    Callers of this process queue as in `PortalLimiter` (users before workers), and the
    shared bucket keeps background callers of every replica behind users waiting anywhere.
    `bucket` mirrors the shared counter as of this replica's last script run (what `level`
    and `room` read). `on_grant(at)` is told of every slot taken.
    """

    def __init__(
        self,
        redis: Redis,
        keys: RedisKeys,
        *,
        drain_per_second: float = 2.0,
        burst: int = 50,
        clock: Callable[[], float] = time.monotonic,
        server_clock: ServerClock | None = None,
        on_grant: Callable[[float], None] | None = None,
    ) -> None:
        super().__init__(drain_per_second=drain_per_second, burst=burst, clock=clock)
        self.shared = SharedLeakyBucket(
            redis,
            keys,
            drain_per_second=drain_per_second,
            burst=burst,
            server_clock=server_clock,
        )
        self._on_grant = on_grant
        self._outage = RedisOutage("the portal's request budget")

    def _mirror(self, result: BucketTake) -> None:
        self.bucket.level = result.level
        self.bucket.updated_at = self._clock()

    async def _take(self, lane: Lane, *, others: int) -> float:
        try:
            result = await self.shared.take(lane, others=others)
        except REDIS_FAILURES as exc:
            self._outage.failed(exc)
            return await super()._take(lane, others=others)
        self._outage.answered()
        self._mirror(result)
        if result.granted:
            if self._on_grant is not None:
                self._on_grant(result.at)
            return 0.0
        return max(result.wait, 0.001)

    async def report_limit_exceeded(self) -> None:
        """The portal refused a request for rate: every replica slows down to the drain rate."""
        try:
            self._mirror(await self.shared.fill())
        except REDIS_FAILURES as exc:
            self._outage.failed(exc)
            await super().report_limit_exceeded()

    async def give_back(self) -> None:
        """Uncount a slot taken and never used, in the shared counter."""
        try:
            self._mirror(await self.shared.give_back())
        except REDIS_FAILURES as exc:
            self._outage.failed(exc)
            self.bucket.give_back(self._clock())
        else:
            self._outage.answered()
        self._wake_head()

    def room(self) -> int:
        """Requests that could go now without waiting, as this replica last saw the counter."""
        bucket = self.bucket
        return max(0, math.floor(bucket.burst - bucket.level_at(self._clock())))
