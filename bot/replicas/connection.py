"""The Redis connection and the names of the keys the replicas share."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import cast

from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.config import ConfigurationError, RedisSettings

log = logging.getLogger(__name__)

REDIS_FAILURES = (RedisError, OSError)
"""What a Redis call raises when Redis is down or unreachable."""

ServerClock = Callable[[], float]
"""Seconds on one clock every replica reads; None in its place means Redis's own `TIME`."""


@dataclass(frozen=True, slots=True)
class RedisKeys:
    """Every key the bot writes starts with `prefix`; `replica` names this process."""

    prefix: str
    replica: str = field(default_factory=lambda: uuid.uuid4().hex[:12])

    def key(self, *parts: str | int) -> str:
        """`prefix` followed by the parts joined with colons."""
        return self.prefix + ":".join(str(part) for part in parts)


def redis_client(settings: RedisSettings) -> Redis:
    """A client of the configured Redis (it connects on first use)."""
    assert settings.url is not None
    return Redis.from_url(settings.url.get_secret_value(), socket_timeout=10.0)


async def ping(client: Redis) -> None:
    """One PING; raises what the client raises when Redis does not answer."""
    await cast(Awaitable[bool], client.ping())


async def check_redis(client: Redis) -> None:
    """One PING, so start-up names REDIS__URL when Redis cannot be reached."""
    try:
        await ping(client)
    except (RedisError, OSError) as exc:
        raise ConfigurationError(
            f"Redis did not answer ({type(exc).__name__}): check REDIS__URL and that Redis runs"
        ) from exc


class RedisOutage:
    """Says once when Redis stops answering one part of the bot, and once when it is back.

    While Redis is away each part falls back to its in-process twin: the bot keeps serving,
    within the limits of one replica, rather than failing every request.
    """

    def __init__(self, part: str) -> None:
        self._part = part
        self.down = False

    def failed(self, exc: BaseException) -> None:
        """A call to Redis failed."""
        if not self.down:
            self.down = True
            log.warning(
                "Redis did not answer (%s): %s falls back to this replica alone until it does",
                type(exc).__name__,
                self._part,
            )

    def answered(self) -> None:
        """A call to Redis succeeded."""
        if self.down:
            self.down = False
            log.warning("Redis answers again: %s is shared by the replicas again", self._part)


def now_argument(clock: ServerClock | None) -> str:
    """The `now` a script takes: milliseconds of the injected clock, or empty for `TIME`."""
    return "" if clock is None else repr(clock() * 1000.0)


LUA_NOW = """
local now
if ARGV[1] ~= '' then
  now = tonumber(ARGV[1])
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
end
"""
"""Lua prologue: `now` in milliseconds from ARGV[1], or from the server's clock."""
