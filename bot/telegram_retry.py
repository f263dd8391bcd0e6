"""A request middleware for aiogram's session: Telegram's flood control and transient errors."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.exceptions import (
    TelegramConflictError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods import GetUpdates, TelegramMethod
from aiogram.methods.base import Response, TelegramType

if TYPE_CHECKING:
    from aiogram import Bot

log = logging.getLogger(__name__)


class FloodPause:
    """The one pause every call of a bot token honours after a 429 (the budget is per token).

    This one holds the calls of this process; `bot.replicas.RedisFloodPause` holds those of
    every replica, behind the same methods.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._until = 0.0
        self.retry_after_seen = 0

    async def pause_for(self, seconds: float) -> None:
        """Hold every call for `seconds` from now (never shortening a longer pause)."""
        self.retry_after_seen += 1
        self._until = max(self._until, self._clock() + seconds)

    async def remaining(self) -> float:
        """Seconds left of the current pause (0 when calls may go)."""
        return max(0.0, self._until - self._clock())


class TelegramRetryMiddleware(BaseRequestMiddleware):
    """Honour 429 `retry_after` for every call and retry 5xx and network errors with jitter.

    getUpdates is left to aiogram's polling loop, which has its own backoff.
    `on_request(method, flood_wait)` is told of every other attempt (for metrics).
    """

    def __init__(
        self,
        pause: FloodPause | None = None,
        *,
        max_attempts: int = 5,
        backoff_base: float = 0.5,
        backoff_cap: float = 10.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        on_request: Callable[[str, bool], None] | None = None,
    ) -> None:
        self.pause = pause or FloodPause()
        self.on_request = on_request
        self._max_attempts = max_attempts
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._sleep = sleep

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        """Run the call, waiting out flood pauses and retrying transient failures."""
        if method.__api_method__ == GetUpdates.__api_method__:
            try:
                return await make_request(bot, method)
            except TelegramConflictError:
                # aiogram's polling retries by itself; say once per failure what is wrong.
                log.error(
                    "Telegram refused getUpdates (409 Conflict): another instance of this bot "
                    "is polling with the same token, or a webhook is set; stop the other "
                    "instance, or run only one"
                )
                raise
        attempt = 0
        while True:
            attempt += 1
            wait = await self.pause.remaining()
            if wait > 0:
                await self._sleep(wait)
            try:
                response = await make_request(bot, method)
            except TelegramRetryAfter as exc:
                self._observe(method, flood_wait=True)
                await self.pause.pause_for(exc.retry_after)
                log.warning(
                    "telegram flood control on %s: pausing %ss",
                    type(method).__name__,
                    exc.retry_after,
                )
                if attempt >= self._max_attempts:
                    raise
            except (TelegramServerError, TelegramNetworkError) as exc:
                self._observe(method, flood_wait=False)
                if attempt >= self._max_attempts:
                    raise
                delay = random.uniform(
                    0, min(self._backoff_cap, self._backoff_base * 2 ** (attempt - 1))
                )
                log.warning(
                    "telegram %s failed (%s), retry %d in %.2fs",
                    type(method).__name__,
                    type(exc).__name__,
                    attempt,
                    delay,
                )
                await self._sleep(delay)
            except Exception:
                self._observe(method, flood_wait=False)
                raise
            else:
                self._observe(method, flood_wait=False)
                return response

    def _observe(self, method: TelegramMethod[TelegramType], *, flood_wait: bool) -> None:
        if self.on_request is not None:
            self.on_request(method.__api_method__, flood_wait)
