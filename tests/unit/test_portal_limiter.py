"""The limiter's arithmetic (no clock) and its lanes (real loop, fast drain, order only)."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from bot.portal.limiter import (
    INTERACTIVE_SHARE,
    ROUTINE_SHARE,
    Lane,
    LeakyBucket,
    PortalLimiter,
    worker_gap,
)


def test_empty_bucket_lets_a_full_burst_through_at_once() -> None:
    # The portal refuses only while its counter is above the burst: levels 0..50 all pass.
    bucket = LeakyBucket(drain_per_second=2.0, burst=50)
    for _ in range(51):
        assert bucket.delay(0.0) == 0.0
        bucket.record(0.0)
    assert bucket.delay(0.0) == pytest.approx(0.5)


def test_full_bucket_paces_requests_at_the_drain_rate() -> None:
    bucket = LeakyBucket(drain_per_second=2.0, burst=50, level=50.0)
    now = 0.0
    sent_at = []
    for _ in range(5):
        now += bucket.delay(now)
        bucket.record(now)
        sent_at.append(now)
    assert sent_at == pytest.approx([0.0, 0.5, 1.0, 1.5, 2.0])


def test_room_is_the_burst_left_without_reaching_above_it() -> None:
    bucket = LeakyBucket(drain_per_second=2.0, burst=50)
    assert bucket.room(0.0) == 50
    for _ in range(10):
        bucket.record(0.0)
    assert bucket.room(0.0) == 40
    # Drained by 1.5 requests in 0.75 s: one more whole request fits.
    assert bucket.room(0.75) == 41
    bucket.fill(1.0)
    assert bucket.room(1.0) == 0
    assert bucket.room(2.0) == 1


def test_bucket_drains_to_zero_and_not_below() -> None:
    bucket = LeakyBucket(drain_per_second=2.0, burst=50, level=10.0)
    assert bucket.level_at(2.0) == pytest.approx(6.0)
    assert bucket.level_at(100.0) == 0.0
    bucket.record(100.0)
    assert bucket.level == pytest.approx(1.0)


def test_limit_exceeded_marks_the_bucket_full() -> None:
    bucket = LeakyBucket(drain_per_second=5.0, burst=250)
    bucket.record(0.0)
    bucket.fill(1.0)
    assert bucket.level_at(1.0) == pytest.approx(251.0)
    assert bucket.delay(1.0) == pytest.approx(0.2)


def test_time_going_backwards_does_not_refill() -> None:
    bucket = LeakyBucket(drain_per_second=1.0, burst=3, level=3.0, updated_at=10.0)
    assert bucket.level_at(5.0) == pytest.approx(3.0)


@pytest.mark.parametrize(("drain", "burst"), [(0.0, 10), (-1.0, 10), (1.0, 0)])
def test_bucket_rejects_nonsense_settings(drain: float, burst: int) -> None:
    with pytest.raises(ValueError, match="must"):
        LeakyBucket(drain_per_second=drain, burst=burst)


def test_limiter_starts_full_or_empty_as_asked() -> None:
    assert PortalLimiter(burst=7, start_full=True).bucket.level == 7.0
    assert PortalLimiter(burst=7, start_full=False).bucket.level == 0.0


async def lines_served(*groups: list[tuple[str, Lane]]) -> list[str]:
    """The order in which callers get their slots from a full bucket; each group of callers
    gets in line after the ones before it."""
    limiter = PortalLimiter(drain_per_second=500.0, burst=1, start_full=True)
    await limiter.report_limit_exceeded()  # the portal's counter is above the burst
    order: list[str] = []

    async def take(name: str, lane: Lane) -> None:
        await limiter.acquire(lane)
        order.append(name)

    tasks: list[asyncio.Task[None]] = []
    for group in groups:
        tasks += [asyncio.create_task(take(name, lane)) for name, lane in group]
        await asyncio.sleep(0)
    await asyncio.gather(*tasks)
    return order


async def test_waiting_interactive_caller_goes_before_waiting_background_callers() -> None:
    order = await lines_served(
        [(f"bg{i}", Lane.BACKGROUND) for i in range(3)], [("user", Lane.INTERACTIVE)]
    )
    assert order == ["user", "bg0", "bg1", "bg2"]


async def test_routine_callers_take_what_the_other_lanes_leave() -> None:
    # The morning's nudge reads were in line first; the processor's read and a user come after.
    order = await lines_served(
        [(f"nudge{i}", Lane.ROUTINE) for i in range(2)],
        [("processor", Lane.BACKGROUND), ("user", Lane.INTERACTIVE)],
    )
    assert order == ["user", "processor", "nudge0", "nudge1"]


async def test_routine_callers_are_not_starved_by_workers_that_keep_the_portal_busy() -> None:
    assert ROUTINE_SHARE == 4  # the order below is written for it
    order = await lines_served(
        [(f"nudge{i}", Lane.ROUTINE) for i in range(2)]
        + [(f"bg{i}", Lane.BACKGROUND) for i in range(10)]
    )
    assert order == [
        *("bg0", "bg1", "bg2", "bg3", "nudge0"),
        *("bg4", "bg5", "bg6", "bg7", "nudge1"),
        *("bg8", "bg9"),
    ]


def full_bucket_slots(slots: int, *, spaced: bool) -> list[tuple[Lane, float]]:
    """Who goes when at a full bucket (2 a second) while a worker and a routine caller both
    always wait: the routine caller after every `ROUTINE_SHARE` workers, as the limiter's
    line has it, each at the earliest the bucket (and, when `spaced`, `worker_gap`) allows."""
    bucket = LeakyBucket(drain_per_second=2.0, burst=50, level=50.0)
    now = 0.0
    last_worker: float | None = None
    streak = 0
    slots_taken: list[tuple[Lane, float]] = []
    for _ in range(slots):
        lane = Lane.ROUTINE if streak == ROUTINE_SHARE else Lane.BACKGROUND
        if lane is Lane.BACKGROUND and spaced:
            now += worker_gap(bucket, now, last_worker)
        now += bucket.delay(now)
        bucket.record(now)
        slots_taken.append((lane, now))
        if lane is Lane.BACKGROUND:
            last_worker = now
            streak += 1
        else:
            streak = 0
    return slots_taken


def worker_gaps(slots: list[tuple[Lane, float]]) -> list[float]:
    times = [at for lane, at in slots if lane is Lane.BACKGROUND]
    return [later - earlier for earlier, later in itertools.pairwise(times)]


def test_workers_are_spaced_evenly_while_a_routine_caller_takes_its_share() -> None:
    # The processor's reads are what a live notification waits for: the widest gap between two
    # is its longest wait. Without spacing, the routine caller's slot made a gap of two.
    assert max(worker_gaps(full_bucket_slots(20, spaced=False))) == pytest.approx(1.0)
    slots = full_bucket_slots(20, spaced=True)
    assert worker_gaps(slots) == pytest.approx([0.625] * 15)
    # As many slots for each lane as before, and the bucket is never overdrawn.
    assert [lane for lane, _ in slots].count(Lane.ROUTINE) == 4
    assert slots[-1][1] == pytest.approx(9.5)  # 20 slots in 9.5 s: the drain rate, 2 a second


def test_workers_are_not_held_back_while_the_bucket_has_room() -> None:
    bucket = LeakyBucket(drain_per_second=2.0, burst=50, level=10.0)
    assert worker_gap(bucket, 0.0, last_worker_at=0.0) == 0.0
    full = LeakyBucket(drain_per_second=2.0, burst=50, level=49.5)
    assert worker_gap(full, 0.0, last_worker_at=0.0) == pytest.approx(0.625)
    assert worker_gap(full, 0.0, last_worker_at=None) == 0.0


async def test_a_worker_holds_back_at_a_full_bucket_only_while_a_routine_caller_waits() -> None:
    now = [100.0]
    limiter = PortalLimiter(drain_per_second=2.0, burst=50, start_full=True, clock=lambda: now[0])
    limiter.bucket.level = 40.0  # room: 10 requests
    await limiter.acquire(Lane.BACKGROUND)
    now[0] += 0.1
    await limiter.acquire(Lane.BACKGROUND)  # nobody routine waits: at once
    limiter.bucket.level = 50.5  # full: the next slot comes in 0.25 s
    nudge = asyncio.create_task(limiter.acquire(Lane.ROUTINE))
    await asyncio.sleep(0)  # the routine caller waits, behind the worker that comes next
    worker = asyncio.create_task(limiter.acquire(Lane.BACKGROUND))
    now[0] += 0.3  # the bucket has a slot again
    await asyncio.sleep(0.05)
    assert not worker.done()  # it holds back until 0.625 s after the last worker's slot
    assert not nudge.done()  # and the routine caller's turn comes after it
    now[0] += 0.325
    async with asyncio.timeout(5):
        await worker
    assert not nudge.done()
    now[0] += 0.5
    async with asyncio.timeout(5):
        await nudge


async def test_workers_are_not_starved_by_users_who_keep_the_portal_busy() -> None:
    assert INTERACTIVE_SHARE == 4  # the order below is written for it
    order = await lines_served(
        [(f"bg{i}", Lane.BACKGROUND) for i in range(2)]
        + [(f"user{i}", Lane.INTERACTIVE) for i in range(10)]
    )
    assert order == [
        *("user0", "user1", "user2", "user3", "bg0"),
        *("user4", "user5", "user6", "user7", "bg1"),
        *("user8", "user9"),
    ]


async def test_users_alone_do_not_save_up_a_turn_for_workers() -> None:
    limiter = PortalLimiter(drain_per_second=500.0, burst=1, start_full=True)
    for _ in range(6):
        await limiter.acquire(Lane.INTERACTIVE)  # no worker waits: nothing is counted
    await limiter.report_limit_exceeded()
    order: list[str] = []

    async def take(name: str, lane: Lane) -> None:
        await limiter.acquire(lane)
        order.append(name)

    callers = [("bg", Lane.BACKGROUND)] + [(f"user{i}", Lane.INTERACTIVE) for i in range(6)]
    await asyncio.gather(*(take(name, lane) for name, lane in callers))
    assert order == ["user0", "user1", "user2", "user3", "bg", "user4", "user5"]


async def test_a_reserved_slot_carries_the_first_request_of_its_lane_in_the_block() -> None:
    now = [100.0]
    limiter = PortalLimiter(drain_per_second=1.0, burst=5, clock=lambda: now[0])
    async with limiter.reserved(Lane.BACKGROUND):
        assert limiter.bucket.level_at(now[0]) == pytest.approx(1.0)  # taken on entering
        await limiter.acquire(Lane.INTERACTIVE)  # another lane: a slot of its own
        await limiter.acquire(Lane.BACKGROUND)  # the reserved one
        assert limiter.bucket.level_at(now[0]) == pytest.approx(2.0)
        await limiter.acquire(Lane.BACKGROUND)  # the next needs its own
        assert limiter.bucket.level_at(now[0]) == pytest.approx(3.0)
    assert limiter.bucket.level_at(now[0]) == pytest.approx(3.0)  # nothing given back


async def test_a_reserved_slot_left_unused_is_given_back() -> None:
    now = [100.0]
    limiter = PortalLimiter(drain_per_second=1.0, burst=5, clock=lambda: now[0])
    await limiter.acquire()
    async with limiter.reserved(Lane.BACKGROUND):
        assert limiter.bucket.level_at(now[0]) == pytest.approx(2.0)
    assert limiter.bucket.level_at(now[0]) == pytest.approx(1.0)
    with pytest.raises(RuntimeError):
        async with limiter.reserved(Lane.BACKGROUND):
            raise RuntimeError("the block failed before its request")
    assert limiter.bucket.level_at(now[0]) == pytest.approx(1.0)


async def test_a_reservation_waits_for_the_slot_and_is_seen_by_tasks_the_block_starts() -> None:
    limiter = PortalLimiter(drain_per_second=500.0, burst=1, start_full=True)
    await limiter.report_limit_exceeded()  # the counter is above the burst: entering waits
    async with limiter.reserved(Lane.BACKGROUND):
        level = limiter.bucket.level
        await asyncio.create_task(limiter.acquire(Lane.BACKGROUND))
        assert limiter.bucket.level == level  # no second slot was counted


async def test_same_lane_is_first_come_first_served() -> None:
    limiter = PortalLimiter(drain_per_second=500.0, burst=1, start_full=True)
    await limiter.report_limit_exceeded()  # the portal's counter is above the burst
    order: list[int] = []

    async def take(index: int) -> None:
        await limiter.acquire(Lane.INTERACTIVE)
        order.append(index)

    await asyncio.gather(*(take(i) for i in range(6)))
    assert order == list(range(6))


async def test_cancelled_waiter_leaves_the_line() -> None:
    limiter = PortalLimiter(drain_per_second=100.0, burst=1, start_full=True)
    await limiter.report_limit_exceeded()  # the portal's counter is above the burst
    stuck = asyncio.create_task(limiter.acquire(Lane.BACKGROUND))
    await asyncio.sleep(0)
    assert limiter.waiting(Lane.BACKGROUND) == 1
    stuck.cancel()
    with pytest.raises(asyncio.CancelledError):
        await stuck
    assert limiter.waiting(Lane.BACKGROUND) == 0
    await limiter.acquire(Lane.BACKGROUND)


async def test_limiter_uses_injected_clock_for_the_counter() -> None:
    now = [100.0]
    limiter = PortalLimiter(drain_per_second=1.0, burst=2, start_full=False, clock=lambda: now[0])
    await limiter.acquire()
    await limiter.acquire()
    assert limiter.bucket.level_at(now[0]) == pytest.approx(2.0)
    now[0] += 2.0
    assert limiter.bucket.delay(now[0]) == 0.0
    await limiter.report_limit_exceeded()
    assert limiter.bucket.level_at(now[0]) == pytest.approx(3.0)
    assert limiter.bucket.delay(now[0]) == pytest.approx(1.0)
