"""Retention: old processed events, sent messages, bot actions and claims go, in chunks;
what is still pending or dead stays; the status counts and the preview read indexes only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.storage import Database
from bot.storage.inbox import InboxRepository
from bot.storage.outbox import NewOutboxMessage, Notification, OutboxRepository
from bot.storage.retention import Retention, RetentionPolicy
from bot.storage.snapshots import LeadClaim, SnapshotRepository
from tests.fixtures_storage import sqlite_only

START = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


async def _fill(db: Database, clock: Clock, prefix: str) -> None:
    """Per table: 5 finished rows, 1 pending (or dead) row, written at `clock.now`."""
    inbox, outbox = InboxRepository(db, clock), OutboxRepository(db, clock)
    snapshots = SnapshotRepository(db, clock)
    for i in range(6):
        await inbox.add(f"{prefix}{i}", "ONCRMLEADUPDATE", i + 1, {})
    events = await inbox.unprocessed()
    async with db.transaction() as conn:
        await inbox.mark_processed_in(conn, [e.id for e in events[:5]])
    await outbox.add(
        [NewOutboxMessage(f"{prefix}m{i}", 100 + i, None, 1, Notification("x")) for i in range(7)]
    )
    rows = await outbox.due(10)
    for row in rows[:4]:
        await outbox.mark_sent(row.id)
    await outbox.skip(rows[4].id, "reader may not see it")
    await outbox.mark_dead(rows[5].id, "400: chat not found")
    for i in range(5):
        await snapshots.record_bot_action(i + 1, 2001, 2, "stage")
        await snapshots.claim(
            -100, (10 if prefix == "new" else 0) + i, i + 1, LeadClaim(i + 1, 2001, 2, "I")
        )


async def _counts(db: Database) -> dict[str, int]:
    counts = {}
    for table in ("inbox", "outbox", "bot_actions", "lead_claims"):
        row = await db.fetch_one(f"SELECT count(*) FROM {table}")  # noqa: S608
        assert row is not None
        counts[table] = int(row[0])
    return counts


async def test_old_finished_rows_go_in_chunks_and_pending_dead_and_recent_rows_stay(
    db: Database,
) -> None:
    clock = Clock()
    await _fill(db, clock, "old")
    clock.now = START + timedelta(days=40)
    await _fill(db, clock, "new")
    assert await _counts(db) == {"inbox": 12, "outbox": 14, "bot_actions": 10, "lead_claims": 10}

    policy = RetentionPolicy(
        inbox=timedelta(days=7),
        outbox=timedelta(days=14),
        bot_actions=timedelta(days=30),
        lead_claims=timedelta(days=30),
        chunk_rows=2,
    )
    retention = Retention(
        inbox=InboxRepository(db, clock),
        outbox=OutboxRepository(db, clock),
        snapshots=SnapshotRepository(db, clock),
        policy=policy,
        clock=clock,
        pause_seconds=0,
    )
    report = await retention.prune_once()

    # Old: 5 processed events, 4 sent + 1 skipped message, 5 actions, 5 claims.
    assert report.deleted == {"inbox": 5, "outbox": 5, "bot_actions": 5, "lead_claims": 5}
    assert await _counts(db) == {"inbox": 7, "outbox": 9, "bot_actions": 5, "lead_claims": 5}
    assert len(await InboxRepository(db, clock).unprocessed()) == 2
    outbox = OutboxRepository(db, clock)
    assert await outbox.count("dead") == 2
    assert await outbox.count("pending") == 2
    assert (await retention.prune_once()).total == 0


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT count(*) FROM inbox WHERE processed_at IS NULL",
        "SELECT count(*) FROM outbox WHERE state = 'pending'",
        "SELECT count(*) FROM outbox WHERE state = 'dead'",
        "SELECT data FROM lead_snapshots ORDER BY updated_at DESC, lead_id DESC LIMIT 5",
        "SELECT DISTINCT lead_id FROM inbox WHERE processed_at IS NULL AND lead_id IN (1, 2)",
    ],
)
@sqlite_only
async def test_status_counts_and_the_preview_read_an_index_not_the_table(
    db: Database, sql: str
) -> None:
    plan = await db.fetch_all(f"EXPLAIN QUERY PLAN {sql}")
    details = " ".join(str(row[3]) for row in plan)
    assert "INDEX" in details, details
