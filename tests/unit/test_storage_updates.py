"""Telegram updates stored before they are acknowledged: once per update_id, claimed by one
replica at a time, replayed when a claim runs out, pruned once handled and old."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.storage import Database
from bot.storage.inbox import InboxRepository
from bot.storage.outbox import OutboxRepository
from bot.storage.retention import Retention, RetentionPolicy
from bot.storage.snapshots import SnapshotRepository
from bot.storage.updates import StoredUpdate, UpdateOutcome, UpdateRepository
from tests.fixtures_storage import Backend

START = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
CLAIM = timedelta(minutes=5)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


def update(update_id: int, text: str = "/start") -> StoredUpdate:
    return StoredUpdate(update_id, {"update_id": update_id, "message": {"text": text}})


async def test_an_update_delivered_twice_is_stored_once(db: Database) -> None:
    updates = UpdateRepository(db, Clock())
    assert await updates.store([update(7), update(8)], claim_for=CLAIM) == {7, 8}
    assert await updates.store([update(8), update(9)], claim_for=CLAIM) == {9}
    assert await updates.waiting_count() == 3


async def test_a_claimed_update_is_not_claimed_again_until_its_claim_runs_out(
    db: Database,
) -> None:
    clock = Clock()
    updates = UpdateRepository(db, clock)
    await updates.store([update(3), update(1, "hello")], claim_for=CLAIM)
    assert await updates.claim_waiting(CLAIM) == []

    clock.now = START + CLAIM
    replayed = await updates.claim_waiting(CLAIM)
    assert replayed == [update(1, "hello"), update(3)]
    # Claimed again by this caller: another replica asking now gets nothing.
    assert await updates.claim_waiting(CLAIM) == []


async def test_a_handled_update_is_never_replayed_and_keeps_only_its_outcome(
    db: Database,
) -> None:
    clock = Clock()
    updates = UpdateRepository(db, clock)
    await updates.store([update(1), update(2)], claim_for=CLAIM)
    assert await updates.finish(1, UpdateOutcome.HANDLED)
    assert not await updates.finish(1, UpdateOutcome.FAILED)
    assert await updates.outcome(1) is UpdateOutcome.HANDLED
    assert await updates.outcome(2) is None
    row = await db.fetch_one("SELECT payload FROM telegram_updates WHERE update_id = 1")
    assert row is not None
    assert row["payload"] == "{}"

    clock.now = START + CLAIM * 3
    assert [u.update_id for u in await updates.claim_waiting(CLAIM)] == [2]
    # A re-delivery of the handled one is not new.
    assert await updates.store([update(1)], claim_for=CLAIM) == set()


async def test_claims_of_a_stopped_process_end_on_start(backend: Backend) -> None:
    async with backend.database() as db:
        await UpdateRepository(db, Clock()).store([update(5)], claim_for=CLAIM)
    async with backend.database() as db:
        updates = UpdateRepository(db, Clock())
        assert await updates.release_claims() == 1
        assert await updates.claim_waiting(CLAIM) == [update(5)]


async def test_retention_prunes_old_handled_updates_and_keeps_waiting_ones(
    db: Database,
) -> None:
    clock = Clock()
    updates = UpdateRepository(db, clock)
    await updates.store([update(i) for i in range(1, 6)], claim_for=CLAIM)
    for update_id in (1, 2, 3):
        await updates.finish(update_id, UpdateOutcome.HANDLED)
    clock.now = START + timedelta(days=10)
    await updates.store([update(6)], claim_for=CLAIM)
    await updates.finish(6, UpdateOutcome.UNHANDLED)

    retention = Retention(
        inbox=InboxRepository(db, clock),
        outbox=OutboxRepository(db, clock),
        snapshots=SnapshotRepository(db, clock),
        policy=RetentionPolicy(
            inbox=timedelta(days=7),
            outbox=timedelta(days=14),
            bot_actions=timedelta(days=30),
            lead_claims=timedelta(days=30),
            telegram_updates=timedelta(days=7),
            chunk_rows=2,
        ),
        updates=updates,
        clock=clock,
        pause_seconds=0,
    )
    report = await retention.prune_once()
    assert report.deleted["telegram_updates"] == 3
    rows = await db.fetch_all("SELECT update_id FROM telegram_updates ORDER BY update_id")
    assert [row[0] for row in rows] == [4, 5, 6]
    assert await updates.waiting_count() == 2
