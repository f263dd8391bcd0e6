"""The cyclic garbage collector kept off the long-lived heap.

A full pass of Python's collector walks every object that survived two younger passes, and
pauses everything while it does. What starting makes is frozen once ready (`bot.app.run`), but
a big team's data comes after that: the portal's users, the subscriptions' index, the people
bound, the caches read from the database. With 10,000 subscriptions that is some 140,000
objects, and a full pass took 50–65 ms on a slow machine, several times a minute, each time
holding back every acknowledgement and message in flight.

`settle` moves what lives by then out of the collector's reach (`gc.freeze`), after a pass over
the young generations that frees the garbage just made, so only young objects are walked
afterwards. It does not walk the oldest generation first: with 10,000 subscriptions that pass
took 35–67 ms on a slow machine, the longest hold of the loop after start, and found 43
objects of garbage. A frozen object is still freed when nothing refers to it any more; only a
cycle that was garbage when frozen, or that it later becomes part of, waits. So every
`REFRESH_SECONDS` the frozen objects are thawed and collected in a full pass, and what is left is
frozen again: garbage frozen by mistake lives an hour at most.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable
from dataclasses import dataclass

SETTLE_AFTER_SECONDS = (30.0, 120.0, 600.0)
"""When to settle after start: the team's data is read within the first minutes of a start."""

SETTLE_SECONDS = 600.0
"""After those, how often: what a day adds (new people, new subscriptions) joins the frozen."""

REFRESH_SECONDS = 3600.0
"""How often the frozen objects are thawed and walked again (one longer pass an hour)."""


@dataclass(frozen=True, slots=True)
class Settled:
    """What one settling did: seconds it took, and objects frozen after it."""

    seconds: float
    frozen: int
    refreshed: bool


YOUNG = 1
"""The oldest generation a plain settling collects (0 and 1: what came since the last pass)."""


def settle(*, refresh: bool = False) -> Settled:
    """Free the young garbage, then freeze what is left; with `refresh`, thaw the frozen
    objects first and collect everything, so garbage among them is found too."""
    started = time.perf_counter()
    if refresh:
        gc.unfreeze()
        gc.collect()
    else:
        gc.collect(YOUNG)
    gc.freeze()
    return Settled(time.perf_counter() - started, gc.get_freeze_count(), refresh)


@dataclass
class SettleSchedule:
    """When to settle, counted from start (pure arithmetic, tested without waiting)."""

    after: tuple[float, ...] = SETTLE_AFTER_SECONDS
    every: float = SETTLE_SECONDS
    refresh_every: float = REFRESH_SECONDS
    _at: float = 0.0
    _refreshed_at: float = 0.0
    _count: int = 0

    def next(self) -> tuple[float, bool]:
        """Seconds from the last settling to the next, and whether it thaws the frozen first."""
        early = self._count < len(self.after)
        at = self.after[self._count] if early else self._at + self.every
        self._count += 1
        wait, self._at = at - self._at, at
        refresh = at - self._refreshed_at >= self.refresh_every
        if refresh:
            self._refreshed_at = at
        return wait, refresh


async def settle_forever(
    observe: Callable[[Settled], None], plan: SettleSchedule | None = None
) -> None:
    """Settle on `plan` until cancelled; `observe` gets what each settling did."""
    plan = plan or SettleSchedule()
    while True:
        wait, refresh = plan.next()
        await asyncio.sleep(wait)
        observe(settle(refresh=refresh))
