"""Telegram's flood budgets of one bot token, shared by every replica through Redis."""

from __future__ import annotations

import itertools
import time
from collections.abc import Awaitable, Callable
from typing import cast

from redis.asyncio import Redis

from bot.config import NotifySettings
from bot.notify.budget import GAP_MARGIN, ROUTINE_RESERVE, SendBudget, SendTurn
from bot.replicas.connection import (
    LUA_NOW,
    REDIS_FAILURES,
    RedisKeys,
    RedisOutage,
    ServerClock,
    now_argument,
)
from bot.telegram_retry import FloodPause

IN_FLIGHT_POLL_SECONDS = 0.005
IN_FLIGHT_HOLD_SECONDS = 60.0
"""A send whose answer never came back (its replica died) leaves the window after this."""

# KEYS: the pause. ARGV: seconds. Sets the pause unless a longer one is on already.
_PAUSE_SCRIPT = """
local ms = math.ceil(tonumber(ARGV[1]) * 1000)
if redis.call('PTTL', KEYS[1]) < ms then
  redis.call('SET', KEYS[1], '1', 'PX', ms)
end
return redis.call('PTTL', KEYS[1])
"""


class RedisFloodPause(FloodPause):
    """`FloodPause` kept in Redis as a key that expires when the pause ends, so a 429 seen by
    one replica holds the calls of every replica for its `retry_after`."""

    def __init__(self, redis: Redis, keys: RedisKeys) -> None:
        super().__init__()
        self._redis = redis
        self._key = keys.key("telegram", "pause")
        self._script = redis.register_script(_PAUSE_SCRIPT)
        self._outage = RedisOutage("Telegram's flood pause")

    async def pause_for(self, seconds: float) -> None:
        """Hold every replica's calls for `seconds` from now (never shortening a longer pause)."""
        await super().pause_for(seconds)  # this replica's own copy, for when Redis is away
        try:
            await self._script(keys=[self._key], args=[repr(max(seconds, 0.001))])
        except REDIS_FAILURES as exc:
            self._outage.failed(exc)

    async def remaining(self) -> float:
        """Seconds left of the pause any replica set (0 when calls may go)."""
        own = await super().remaining()
        try:
            ttl = await cast(Awaitable[int], self._redis.pttl(self._key))
        except REDIS_FAILURES as exc:
            self._outage.failed(exc)
            return own
        self._outage.answered()
        return max(own, max(0, ttl) / 1000.0)


# KEYS: the overall token bucket (hash: tokens, at), the one-second window of sends (sorted
# set: send -> when it was answered, or a time far ahead while in flight), the chat's gap.
# ARGV: now, rate, burst, window size, chat gap ms, send, in-flight hold ms, poll ms, action,
# the chat's gap: '1' waits for it and starts it, 'm' only starts it, '0' leaves it alone;
# sends' worth of the budget to leave unused (a routine send's reserve).
# Returns {granted, wait ms, the wait is the chat's, now}.
_SEND_SCRIPT = (
    LUA_NOW
    + """
local rate = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local window_size = tonumber(ARGV[4])
local send = ARGV[6]
local hold = tonumber(ARGV[7])
if ARGV[9] == 'done' then
  redis.call('ZADD', KEYS[2], 'XX', now, send)
  return {1, '0', 0, tostring(now)}
end
local chat_gap = ARGV[10] == '1'
local mark_chat = ARGV[10] ~= '0'
local chat_wait = 0
if chat_gap then
  chat_wait = redis.call('PTTL', KEYS[3])
end
if chat_wait > 0 then
  return {0, tostring(chat_wait), 1, tostring(now)}
end
local stored = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(stored[1]) or burst
local at = tonumber(stored[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate / 1000)
at = math.max(now, at)
local reserve = math.max(0, math.min(tonumber(ARGV[11]) or 0, burst - 1, window_size - 1))
local wait = 0
if tokens < 1 + reserve then
  wait = (1 + reserve - tokens) * 1000 / rate
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - 1000)
local count = redis.call('ZCARD', KEYS[2])
local room = window_size - reserve
if count >= room then
  -- the send that must leave the window first (the earliest answered ones go first)
  local leaving = redis.call('ZRANGE', KEYS[2], count - room, count - room, 'WITHSCORES')
  local answered = tonumber(leaving[2])
  if answered > now then
    wait = math.max(wait, tonumber(ARGV[8]))
  else
    wait = math.max(wait, answered + 1000 - now)
  end
end
if wait > 0 then
  return {0, tostring(wait), 0, tostring(now)}
end
tokens = tokens - 1
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(at))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / rate) + 1000)
redis.call('ZADD', KEYS[2], now + hold, send)
redis.call('PEXPIRE', KEYS[2], math.ceil(hold) + 1000)
if mark_chat then
  redis.call('SET', KEYS[3], '1', 'PX', math.ceil(tonumber(ARGV[5])))
end
return {1, '0', 0, tostring(now)}
"""
)


class RedisSendBudget(SendBudget):
    """`SendBudget` kept in Redis: every replica's sends count against one overall budget
    (rate, burst and the one-second window) and one gap per chat, each take one script run.

    `waiting` still says only what this replica knows (its own sends, and chats it found
    held by another replica), which is enough to keep those chats out of its next batch.
    """

    def __init__(
        self,
        redis: Redis,
        keys: RedisKeys,
        limits: NotifySettings,
        *,
        margin: float = GAP_MARGIN,
        clock: Callable[[], float] = time.monotonic,
        server_clock: ServerClock | None = None,
    ) -> None:
        super().__init__(limits, margin=margin, clock=clock)
        self._redis = redis
        self._keys = keys
        self._server_clock = server_clock
        self._rate = limits.global_per_second
        self._burst = limits.global_burst
        self._window_size = max(1, int(self._rate))
        self._ids = itertools.count(1)
        self._script = redis.register_script(_SEND_SCRIPT)
        self._outage = RedisOutage("Telegram's send budget")

    async def _run(
        self,
        chat_id: int,
        send: int,
        action: str,
        *,
        chat_gap: bool = True,
        mark: bool = False,
        reserve: int = 0,
    ) -> tuple[bool, float, bool, float]:
        reply = await self._script(
            keys=[
                self._keys.key("telegram", "sends"),
                self._keys.key("telegram", "window"),
                self._keys.key("telegram", "chat", chat_id),
            ],
            args=[
                now_argument(self._server_clock),
                repr(self._rate),
                self._burst,
                self._window_size,
                repr(self.gaps.gap(chat_id) * 1000.0),
                f"{self._keys.replica}:{send}",
                IN_FLIGHT_HOLD_SECONDS * 1000.0,
                IN_FLIGHT_POLL_SECONDS * 1000.0,
                action,
                "1" if chat_gap else "m" if mark else "0",
                reserve,
            ],
        )
        return (
            bool(int(reply[0])),
            float(reply[1]) / 1000.0,
            bool(int(reply[2])),
            float(reply[3]) / 1000.0,
        )

    async def take(
        self,
        chat_id: int,
        *,
        chat_gap: bool = True,
        mark_chat: bool = False,
        routine: bool = False,
    ) -> SendTurn:
        """Count one send to `chat_id` in the shared budget now, or say how long to wait."""
        send = next(self._ids)
        try:
            granted, wait, chat_waits, at = await self._run(
                chat_id,
                send,
                "take",
                chat_gap=chat_gap,
                mark=mark_chat,
                reserve=ROUTINE_RESERVE if routine else 0,
            )
        except REDIS_FAILURES as exc:
            self._outage.failed(exc)
            turn = await super().take(
                chat_id, chat_gap=chat_gap, mark_chat=mark_chat, routine=routine
            )
            # Sends counted in the process carry negative ids, so `done` finds them there.
            return turn if turn.send is None else SendTurn(-turn.send, at=turn.at)
        self._outage.answered()
        now = self._clock()
        if granted:
            if chat_gap or mark_chat:
                self.gaps.sent(chat_id, now)
            return SendTurn(send, at=at)
        if chat_waits:
            self.gaps.hold(chat_id, now + wait)
        return SendTurn(None, max(wait, 0.001), chat_waits=chat_waits)

    async def done(self, send: int) -> None:
        """The send's answer came back: it leaves the shared window one second from now."""
        if send < 0:
            await super().done(-send)
            return
        try:
            await self._run(0, send, "done")
        except REDIS_FAILURES as exc:
            # Its entry leaves the window by itself (IN_FLIGHT_HOLD_SECONDS).
            self._outage.failed(exc)
