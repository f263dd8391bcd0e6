"""One replica runs the background workers; another takes over when it stops or dies."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from bot.ops.leadership import LEASE_NAME, Leadership
from bot.storage import Database
from bot.storage.leases import LeaseRepository

START = datetime(2026, 12, 4, 9, tzinfo=UTC)
LEASE = timedelta(seconds=30)


class Clock:
    """A settable clock."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


async def test_a_lease_has_one_holder_until_it_runs_out_or_is_let_go(db: Database) -> None:
    clock = Clock()
    leases = LeaseRepository(db, clock)
    asked = await asyncio.gather(*(leases.acquire("w", name, LEASE) for name in "abcd"))
    assert sorted(asked) == [False, False, False, True]
    first = "abcd"[asked.index(True)]
    other = next(name for name in "abcd" if name != first)
    assert await leases.holder("w") == first
    assert await leases.acquire("w", first, LEASE)  # renewing
    clock.now += LEASE - timedelta(seconds=1)
    assert not await leases.acquire("w", other, LEASE)
    clock.now += timedelta(seconds=2)  # its holder died: the lease ran out
    assert await leases.holder("w") is None
    assert await leases.acquire("w", other, LEASE)
    assert not await leases.release("w", first)
    assert await leases.release("w", other)
    assert await leases.acquire("w", first, LEASE)


class Worker:
    """A background worker that notes when it runs."""

    def __init__(self) -> None:
        self.running = asyncio.Event()
        self.stopped = asyncio.Event()

    async def run(self) -> None:
        self.running.set()
        try:
            await asyncio.Event().wait()
        finally:
            self.stopped.set()


class CountedLeases(LeaseRepository):
    """Leases that count how often they were refused."""

    refused = 0

    async def acquire(self, name: str, holder: str, ttl: timedelta) -> bool:
        taken = await super().acquire(name, holder, ttl)
        self.refused += not taken
        return taken


async def test_workers_run_on_one_replica_and_move_when_it_stops(db: Database) -> None:
    clock = Clock()
    workers = {name: Worker() for name in ("one", "two")}
    leases = {name: CountedLeases(db, clock) for name in workers}
    replicas = {
        name: Leadership(leases[name], [workers[name].run], holder=name, renew_seconds=0.01)
        for name in workers
    }
    one = asyncio.create_task(replicas["one"].run())
    await workers["one"].running.wait()
    two = asyncio.create_task(replicas["two"].run())
    # The second replica bids again and again and is refused each time.
    await asyncio.wait_for(_refused(leases["two"], 3), 5)
    assert not workers["two"].running.is_set()
    assert leases["one"].refused == 0

    one.cancel()
    await asyncio.gather(one, return_exceptions=True)
    assert workers["one"].stopped.is_set()
    await workers["two"].running.wait()
    assert replicas["two"].leading
    two.cancel()
    await asyncio.gather(two, return_exceptions=True)
    assert await LeaseRepository(db, clock).holder(LEASE_NAME) is None


async def _refused(leases: CountedLeases, times: int) -> None:
    """Wait until the replica has been refused the lease `times` times."""
    while leases.refused < times:
        await asyncio.sleep(0.01)


async def test_a_dead_leaders_workers_are_taken_over_when_its_lease_runs_out(
    db: Database,
) -> None:
    clock = Clock()
    leases = LeaseRepository(db, clock)
    assert await leases.acquire(LEASE_NAME, "dead replica", LEASE)
    worker = Worker()
    counted = CountedLeases(db, clock)
    survivor = Leadership(counted, [worker.run], holder="survivor", renew_seconds=0.01)
    task = asyncio.create_task(survivor.run())
    await asyncio.wait_for(_refused(counted, 3), 5)
    assert not worker.running.is_set()
    clock.now += LEASE
    await worker.running.wait()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


class StuckLeases(LeaseRepository):
    """Leases whose renewals stop coming back after the first one (a database gone slow)."""

    calls = 0

    async def acquire(self, name: str, holder: str, ttl: timedelta) -> bool:
        self.calls += 1
        if self.calls > 1:
            await asyncio.Event().wait()
        return await super().acquire(name, holder, ttl)


async def test_a_leader_whose_renewal_does_not_come_back_stops_before_its_lease_lapses(
    db: Database,
) -> None:
    worker = Worker()
    leases = StuckLeases(db, Clock())
    leader = Leadership(leases, [worker.run], holder="slow", lease_seconds=1.2, renew_seconds=0.05)
    task = asyncio.create_task(leader.run())
    await worker.running.wait()
    # The renewal hangs; the workers stop by the leader's own deadline, not when it returns.
    await asyncio.wait_for(worker.stopped.wait(), 5)
    assert not leader.leading
    assert leader.stepped_down >= 1
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
