"""Per-user update throttling counted over every replica, one token bucket per user in Redis."""

from __future__ import annotations

from redis.asyncio import Redis

from bot.replicas.connection import (
    LUA_NOW,
    REDIS_FAILURES,
    RedisKeys,
    RedisOutage,
    ServerClock,
    now_argument,
)
from bot.throttle import BucketRule, UpdateKind, UserThrottle, Verdict

# KEYS: the user's bucket (hash: tokens, at, warned). ARGV: now, tokens per ms, burst.
# Starts full; a pass takes a token; the first refusal of a run is "warn", the rest "drop".
# The key expires once the bucket would be full again, which forgets idle users.
_THROTTLE_SCRIPT = (
    LUA_NOW
    + """
local refill = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local stored = redis.call('HMGET', KEYS[1], 'tokens', 'at', 'warned')
local tokens = tonumber(stored[1]) or burst
local at = tonumber(stored[2]) or now
local warned = stored[3] == '1'
tokens = math.min(burst, tokens + math.max(0, now - at) * refill)
at = math.max(now, at)
local verdict
if tokens >= 1 then
  tokens = tokens - 1
  warned = false
  verdict = 'pass'
elseif warned then
  verdict = 'drop'
else
  warned = true
  verdict = 'warn'
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(at),
  'warned', warned and '1' or '0')
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) / refill) + 1000)
return verdict
"""
)


class RedisUserThrottle(UserThrottle):
    """`UserThrottle` whose buckets are in Redis: a user whose updates reach several replicas
    (webhook behind a load balancer) has one budget, not one per replica. Each verdict is one
    script run on Redis's clock (the `now` a caller passes is its own clock and is unused)."""

    def __init__(
        self,
        redis: Redis,
        keys: RedisKeys,
        general: BucketRule,
        sign_in: BucketRule,
        *,
        server_clock: ServerClock | None = None,
    ) -> None:
        super().__init__(general, sign_in)
        self._keys = keys
        self._server_clock = server_clock
        self._shared_rules = {UpdateKind.GENERAL: general, UpdateKind.SIGN_IN: sign_in}
        self._script = redis.register_script(_THROTTLE_SCRIPT)
        self._outage = RedisOutage("per-user throttling")

    async def judge(self, user_id: int, kind: UpdateKind, now: float) -> Verdict:
        """The verdict for one update of `user_id`, counted with every replica's."""
        rule = self._shared_rules[kind]
        try:
            reply = await self._script(
                keys=[self._keys.key("throttle", kind.value, user_id)],
                args=[
                    now_argument(self._server_clock),
                    repr(rule.refill_per_second / 1000.0),
                    rule.burst,
                ],
            )
        except REDIS_FAILURES as exc:
            self._outage.failed(exc)
            return await super().judge(user_id, kind, now)
        self._outage.answered()
        return Verdict(reply.decode() if isinstance(reply, bytes) else str(reply))
