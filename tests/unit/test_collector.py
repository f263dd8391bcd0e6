"""The collector kept off the long-lived heap: what settling freezes and frees, and when."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import itertools
import weakref
from collections.abc import Iterator

import pytest

from bot.collector import REFRESH_SECONDS, Settled, SettleSchedule, settle, settle_forever
from bot.metrics import GC_FROZEN, MetricsRegistry, register_bot_metrics, settle_observer


class Node:
    """An object that can be part of a reference cycle (and be watched through a weakref)."""

    def __init__(self) -> None:
        self.other: Node | None = None


@pytest.fixture(autouse=True)
def thawed() -> Iterator[None]:
    """Each test starts and ends with nothing frozen (the test process shares its heap)."""
    gc.unfreeze()
    yield
    gc.unfreeze()


def walked(obj: object) -> bool:
    """Whether the collector's passes still walk `obj` (frozen objects are in no generation)."""
    return any(candidate is obj for candidate in gc.get_objects())


def cycle() -> tuple[Node, weakref.ref[Node]]:
    first, second = Node(), Node()
    first.other, second.other = second, first
    return first, weakref.ref(first)


def test_what_lives_when_settling_is_no_longer_walked_by_full_passes() -> None:
    kept = Node()
    assert walked(kept)
    settled = settle()
    assert not walked(kept)
    assert settled.frozen == gc.get_freeze_count() > 0
    # Still an ordinary object: freed as soon as nothing refers to it.
    watch = weakref.ref(kept)
    del kept
    assert watch() is None


def test_garbage_is_freed_before_the_rest_is_frozen() -> None:
    node, watch = cycle()
    del node  # a cycle: only a pass of the collector frees it
    assert watch() is not None
    settle()
    assert watch() is None


def test_a_plain_settling_does_not_walk_the_oldest_generation() -> None:
    passes: list[int] = []

    def note(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            passes.append(info["generation"])

    gc.callbacks.append(note)
    try:
        settle()
        assert passes == [1]
        settle(refresh=True)
        assert passes == [1, 2]
    finally:
        gc.callbacks.remove(note)


def test_an_old_cycle_already_garbage_is_frozen_and_freed_by_the_next_refresh() -> None:
    node, watch = cycle()
    gc.collect(1)
    gc.collect(1)  # survived two passes: now in the oldest generation
    del node
    settle()
    assert watch() is not None  # not looked for among the old
    gc.collect()
    assert watch() is not None  # frozen: full passes do not see it either
    settle(refresh=True)
    assert watch() is None


def test_a_frozen_cycle_that_becomes_garbage_is_freed_by_the_next_refresh() -> None:
    node, watch = cycle()
    settle()
    del node
    settle()  # a plain settling leaves the frozen alone
    gc.collect()
    assert watch() is not None
    settle(refresh=True)
    assert watch() is None


def test_settling_comes_early_after_start_then_every_ten_minutes_thawing_once_an_hour() -> None:
    plan = SettleSchedule()
    steps = [plan.next() for _ in range(16)]
    moments: list[float] = []
    at = 0.0
    for wait, _ in steps:
        at += wait
        moments.append(at)
    assert moments[:5] == [30.0, 120.0, 600.0, 1200.0, 1800.0]
    assert all(b - a == 600.0 for a, b in itertools.pairwise(moments[2:]))
    refreshed = [at for at, (_, refresh) in zip(moments, steps, strict=True) if refresh]
    assert refreshed == [REFRESH_SECONDS, 2 * REFRESH_SECONDS]


async def test_settling_runs_on_its_schedule_and_shows_in_the_metrics() -> None:
    registry = MetricsRegistry()
    register_bot_metrics(registry)
    observe = settle_observer(registry)
    seen: list[Settled] = []

    def record(settled: Settled) -> None:
        seen.append(settled)
        observe(settled)

    plan = SettleSchedule(after=(0.01, 0.02), every=0.01, refresh_every=0.03)
    task = asyncio.create_task(settle_forever(record, plan))
    while len(seen) < 3:
        await asyncio.sleep(0.01)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert [s.refreshed for s in seen[:3]] == [False, False, True]
    line = next(x for x in registry.render().splitlines() if x.startswith(f"{GC_FROZEN} "))
    assert float(line.split()[1]) == seen[-1].frozen > 0
