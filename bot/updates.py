"""Counting the updates being handled, so that shutdown can let them finish."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.types import Update


class InFlightUpdates:
    """Counts updates being handled, so shutdown can let them finish."""

    def __init__(self) -> None:
        self._count = 0
        self._idle = asyncio.Event()
        self._idle.set()

    @contextlib.asynccontextmanager
    async def track(self) -> AsyncIterator[None]:
        """Count one update for as long as the block runs."""
        self._count += 1
        self._idle.clear()
        try:
            yield
        finally:
            self._count -= 1
            if self._count == 0:
                self._idle.set()

    async def wait_idle(self) -> None:
        """Wait until no update is being handled."""
        await self._idle.wait()


class TrackedDispatcher(Dispatcher):
    """A dispatcher that counts every update from its arrival to the end of its error handlers.

    A middleware cannot do this: aiogram's error handlers run outside every update middleware.
    """

    def __init__(self, *, in_flight: InFlightUpdates, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.in_flight = in_flight

    async def feed_update(self, bot: Bot, update: Update, **kwargs: Any) -> Any:
        """Handle one update (polling and webhook both come here), counted."""
        async with self.in_flight.track():
            return await super().feed_update(bot, update, **kwargs)
