"""Client-side mirror of the portal's leaky-bucket request limit, with three priority lanes.

The portal adds 1 to a per-portal counter for every HTTP request (a `batch` is one request),
drains it by `drain_per_second`, and refuses a request (503 QUERY_LIMIT_EXCEEDED, not
executed) that arrives while the counter is above `burst`. `LeakyBucket` is that arithmetic
with time passed in, so it is tested without sleeping; `PortalLimiter` puts callers in line
and sleeps for them.

We cannot read the portal's counter. By default the limiter assumes an idle portal, so the
burst is there for whoever needs it first; when the portal nevertheless answers 503 (the
bucket was full from our previous run or from another app on the same IP), the client calls
`report_limit_exceeded` and everybody continues at the drain rate. That costs one refused,
unexecuted request per caller in flight at that moment. `start_full=True` never risks it, at
the price of pacing the first requests even when the portal is idle.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

__all__ = ["Lane", "LeakyBucket", "PortalLimiter"]

ROUTINE_SHARE = 4
"""While both wait, a routine caller gets the slot after this many background ones: under
steady event traffic, which could take every slot, the morning's reads still advance (at a
quarter of the rate), and the processor only reads a little more per request."""


class Lane(StrEnum):
    """Who is waiting, in order of precedence: a user (interactive) goes before workers that
    keep notifications live (background), and they go before routine rounds (routine: the
    morning's stale-lead reads for a whole team), which take what the others leave and, while
    workers keep the portal busy, one slot in `ROUTINE_SHARE + 1`."""

    INTERACTIVE = "interactive"
    BACKGROUND = "background"
    ROUTINE = "routine"


@dataclass
class LeakyBucket:
    """The portal's counter as we believe it to be at time `updated_at` (monotonic seconds)."""

    drain_per_second: float = 2.0
    burst: int = 50
    level: float = 0.0
    updated_at: float = 0.0

    def __post_init__(self) -> None:
        if self.drain_per_second <= 0:
            raise ValueError("drain_per_second must be positive")
        if self.burst < 1:
            raise ValueError("burst must be at least 1")

    def level_at(self, now: float) -> float:
        """The counter at `now`, after draining since the last update."""
        elapsed = max(0.0, now - self.updated_at)
        return max(0.0, self.level - elapsed * self.drain_per_second)

    def delay(self, now: float) -> float:
        """Seconds to wait from `now` until the counter is no longer above the burst (0 = go)."""
        excess = self.level_at(now) - self.burst
        return max(0.0, excess / self.drain_per_second)

    def room(self, now: float) -> int:
        """Requests that can go at `now` and leave the counter no higher than the burst."""
        return max(0, math.floor(self.burst - self.level_at(now)))

    def record(self, now: float) -> None:
        """Count one request sent at `now`."""
        self.level = self.level_at(now) + 1.0
        self.updated_at = max(now, self.updated_at)

    def fill(self, now: float) -> None:
        """The portal said QUERY_LIMIT_EXCEEDED: its counter was above the burst at `now`."""
        self.level = max(self.level_at(now), float(self.burst) + 1.0)
        self.updated_at = max(now, self.updated_at)


@dataclass(eq=False)
class _Waiter:
    lane: Lane
    wake: asyncio.Event = field(default_factory=asyncio.Event)


class PortalLimiter:
    """One per process (per portal): every request to the portal first calls `acquire`.

    This one keeps the budget in the process; `bot.replicas.RedisPortalLimiter` shares it
    between replicas through Redis, behind the same methods.
    """

    def __init__(
        self,
        *,
        drain_per_second: float = 2.0,
        burst: int = 50,
        start_full: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clock = clock
        now = clock()
        self.bucket = LeakyBucket(
            drain_per_second=drain_per_second,
            burst=burst,
            level=float(burst) if start_full else 0.0,
            updated_at=now,
        )
        self._lines: dict[Lane, deque[_Waiter]] = {lane: deque() for lane in Lane}
        self._background_streak = 0
        """Slots background callers took in a row while a routine caller waited."""

    def _head(self) -> _Waiter | None:
        interactive, background, routine = (self._lines[lane] for lane in Lane)
        if interactive:
            return interactive[0]
        if routine and (not background or self._background_streak >= ROUTINE_SHARE):
            return routine[0]  # never starved: every ROUTINE_SHARE-th slot of the workers
        if background:
            return background[0]
        return None

    def waiting(self, lane: Lane) -> int:
        """How many callers of `lane` are waiting now."""
        return len(self._lines[lane])

    async def acquire(self, lane: Lane = Lane.INTERACTIVE) -> None:
        """Wait for this caller's turn and a free slot; the request counts from now."""
        waiter = _Waiter(lane)
        self._lines[lane].append(waiter)
        try:
            while True:
                timeout: float | None = None
                if self._head() is waiter:
                    timeout = await self._take(lane, others=self._others_waiting(waiter))
                    if timeout <= 0:
                        if lane is Lane.ROUTINE:
                            self._background_streak = 0
                        elif lane is Lane.BACKGROUND and self._lines[Lane.ROUTINE]:
                            self._background_streak += 1
                        return
                waiter.wake.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(timeout):
                        await waiter.wake.wait()
        finally:
            self._lines[lane].remove(waiter)
            head = self._head()
            if head is not None:
                head.wake.set()

    def _others_waiting(self, waiter: _Waiter) -> int:
        """Interactive callers of this process waiting behind `waiter`."""
        return sum(1 for other in self._lines[Lane.INTERACTIVE] if other is not waiter)

    async def _take(self, lane: Lane, *, others: int) -> float:
        """Count one request of the head of the line now, or say how long until it may go.

        `others` is how many interactive callers wait behind it (budgets shared with other
        processes use it to keep background callers everywhere behind them).
        """
        now = self._clock()
        delay = self.bucket.delay(now)
        if delay <= 0:
            self.bucket.record(now)
        return delay

    def wait_seconds(self) -> float:
        """How long a request made now would wait for a slot (0 when it would go at once)."""
        return self.bucket.delay(self._clock())

    def level(self) -> float:
        """Our estimate of the portal's counter now (0 = idle, `bucket.burst` = full)."""
        return self.bucket.level_at(self._clock())

    def room(self) -> int:
        """Requests that can go now without waiting (the burst we believe is left)."""
        return self.bucket.room(self._clock())

    async def report_limit_exceeded(self) -> None:
        """The portal refused a request for rate: everybody slows down to the drain rate."""
        self.bucket.fill(self._clock())
