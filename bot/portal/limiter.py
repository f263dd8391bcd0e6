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
from collections.abc import AsyncIterator, Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from enum import StrEnum

__all__ = ["Lane", "LeakyBucket", "PortalLimiter"]

ROUTINE_SHARE = 4
"""While both wait, a routine caller gets the slot after this many background ones: under
steady event traffic, which could take every slot, the morning's reads still advance (at a
quarter of the rate), and the processor only reads a little more per request."""


INTERACTIVE_SHARE = 4
"""While both wait, a background caller gets the slot after this many interactive ones: users
who keep the portal busy (several reps capturing at once on a spent budget) would otherwise
hold notifications back for as long as they type; this way a user waits at most one slot more
in `INTERACTIVE_SHARE + 1`, and the processor, which reads thousands of leads per request,
keeps up."""


class Lane(StrEnum):
    """Who is waiting, in order of precedence: a user (interactive) goes before workers that
    keep notifications live (background), and they go before routine rounds (routine: the
    morning's stale-lead reads for a whole team), which take what the others leave and, while
    workers keep the portal busy, one slot in `ROUTINE_SHARE + 1`. Workers likewise get one
    slot in `INTERACTIVE_SHARE + 1` while users keep it busy."""

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

    def give_back(self, now: float) -> None:
        """Uncount one request recorded earlier and never sent."""
        self.level = max(0.0, self.level_at(now) - 1.0)
        self.updated_at = max(now, self.updated_at)


SPACED_BELOW_ROOM = 2.0
"""Workers' requests are spaced evenly (`worker_gap`) only while the bucket has less room than
this: with more, nobody waits for a slot."""


def worker_gap(bucket: LeakyBucket, now: float, last_worker_at: float | None) -> float:
    """How long a worker holds back, while a routine caller waits, so that the workers'
    requests come evenly spaced.

    At a full bucket the workers' slots came at the drain rate, `ROUTINE_SHARE` of them, and then
    the routine caller's made a gap of two (1.0 s at 2 requests a second). The processor's reads
    are what a live notification waits for, and its longest wait is the widest gap between two
    reads: spaced at `ROUTINE_SHARE` in `ROUTINE_SHARE + 1` of the drain rate instead (0.625 s),
    the workers get as many slots, the routine caller its share from the room this leaves, and
    no gap is wider than the others.
    """
    if last_worker_at is None or bucket.level_at(now) <= bucket.burst - SPACED_BELOW_ROOM:
        return 0.0
    spacing = (ROUTINE_SHARE + 1) / (ROUTINE_SHARE * bucket.drain_per_second)
    return max(0.0, last_worker_at + spacing - now)


@dataclass(eq=False)
class _Waiter:
    lane: Lane
    wake: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass(eq=False)
class _Reservation:
    lane: Lane
    used: bool = False


_RESERVED: ContextVar[_Reservation | None] = ContextVar("portal_reserved_slot", default=None)


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
        self._interactive_streak = 0
        """Slots interactive callers took in a row while a background caller waited."""
        self._worker_at: float | None = None
        """When a background caller last took a slot."""

    def _head(self) -> _Waiter | None:
        interactive, background, routine = (self._lines[lane] for lane in Lane)
        if interactive:
            if background and self._interactive_streak >= INTERACTIVE_SHARE:
                return background[0]  # never starved: one slot after INTERACTIVE_SHARE
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
        """Wait for this caller's turn and a free slot; the request counts from now.

        Inside `reserved(lane)` the first request of that lane takes the slot already held.
        """
        reservation = _RESERVED.get()
        if reservation is not None and reservation.lane is lane and not reservation.used:
            reservation.used = True
            return
        waiter = _Waiter(lane)
        self._lines[lane].append(waiter)
        try:
            while True:
                timeout: float | None = None
                if self._head() is waiter:
                    timeout = self._spacing(lane)
                    if timeout <= 0:
                        timeout = await self._take(lane, others=self._others_waiting(waiter))
                    if timeout <= 0:
                        self._count_turn(lane)
                        return
                waiter.wake.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(timeout):
                        await waiter.wake.wait()
        finally:
            self._lines[lane].remove(waiter)
            self._wake_head()

    def _spacing(self, lane: Lane) -> float:
        """How long the head of the line holds back before taking a slot (`worker_gap`)."""
        if lane is not Lane.BACKGROUND or not self._lines[Lane.ROUTINE]:
            return 0.0
        return worker_gap(self.bucket, self._clock(), self._worker_at)

    def _count_turn(self, lane: Lane) -> None:
        """Keep the streaks that give the lower lanes their shares."""
        if lane is Lane.INTERACTIVE:
            if self._lines[Lane.BACKGROUND]:
                self._interactive_streak += 1
        elif lane is Lane.BACKGROUND:
            self._worker_at = self._clock()
            self._interactive_streak = 0
            if self._lines[Lane.ROUTINE]:
                self._background_streak += 1
        else:
            self._background_streak = 0

    @contextlib.asynccontextmanager
    async def reserved(self, lane: Lane) -> AsyncIterator[None]:
        """Wait for a slot of `lane` first, then run the block; its first request of that lane
        (in this task, or a task it starts) goes on that slot without waiting again.

        A worker that reads what has queued up takes its turn before looking, so whatever
        arrives during the wait joins the one request. A slot the block leaves unused is given
        back.
        """
        await self.acquire(lane)
        reservation = _Reservation(lane)
        token = _RESERVED.set(reservation)
        try:
            yield
        finally:
            _RESERVED.reset(token)
            if not reservation.used:
                await self.give_back()

    async def give_back(self) -> None:
        """Uncount a slot taken and never used, and let the next caller try for it."""
        self.bucket.give_back(self._clock())
        self._wake_head()

    def _wake_head(self) -> None:
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

    def level(self) -> float:
        """Our estimate of the portal's counter now (0 = idle, `bucket.burst` = full)."""
        return self.bucket.level_at(self._clock())

    def room(self) -> int:
        """Requests that can go now without waiting (the burst we believe is left)."""
        return self.bucket.room(self._clock())

    async def report_limit_exceeded(self) -> None:
        """The portal refused a request for rate: everybody slows down to the drain rate."""
        self.bucket.fill(self._clock())
