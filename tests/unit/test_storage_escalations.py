"""Speed-to-lead storage: deadlines survive a restart, fire once, and a take ends them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.storage import Database, SqliteDatabase
from bot.storage.escalations import (
    DUE_QUERY,
    LIVE_QUERY,
    EscalationRepository,
    LeadStart,
    NewWatch,
    Outcome,
)
from bot.storage.outbox import NewOutboxMessage, Notification, OutboxRepository

GROUP = -100
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def take(lead_id: int, minutes_ago: float = 0) -> LeadStart:
    return LeadStart(
        lead_id=lead_id,
        created_at=START - timedelta(minutes=minutes_ago),
        first_stage="NEW",
        first_assigned=1,
        source_id="WEB",
    )


def watch(lead_id: int, after_minutes: int = 15) -> NewWatch:
    return NewWatch(
        lead_id=lead_id,
        subscription_id=1,
        chat_id=GROUP,
        thread_id=None,
        message_key=f"{lead_id}:1:{GROUP}:0",
        started_at=START,
        escalate_at=START + timedelta(minutes=after_minutes),
    )


async def test_a_deadline_survives_a_restart_and_fires_once(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    async with SqliteDatabase(path) as db:
        store = EscalationRepository(db)
        await store.add([take(1), take(2)], [watch(1, 15), watch(2, 30)])
        assert await store.due(START + timedelta(minutes=14), 10) == []

    # Down for 40 minutes: both deadlines passed meanwhile.
    async with SqliteDatabase(path) as db:
        store = EscalationRepository(db)
        later = START + timedelta(minutes=40)
        due = await store.due(later, 10)
        assert [w.lead_id for w in due] == [1, 2]
        async with db.transaction() as conn:
            await store.mark_escalated_in(conn, [due[0].id], later)
        assert [w.lead_id for w in await store.due(later, 10)] == [2]
        assert await store.escalated_at(due[0].id) == later
        assert await store.next_due_at() == START + timedelta(minutes=30)

    async with SqliteDatabase(path) as db:
        assert [w.lead_id for w in await EscalationRepository(db).due(later, 10)] == [2]


async def test_the_first_end_wins_and_ends_the_leads_watches(db: Database) -> None:
    store = EscalationRepository(db)
    await store.add([take(1, minutes_ago=4)], [watch(1)])
    assert set(await store.open_takes([1, 2])) == {1}

    assert await store.end(1, Outcome.TAKEN, at=START, portal_user_id=2, taken_by="Ivan")
    assert not await store.end(1, Outcome.MOVED, at=START + timedelta(minutes=1))

    assert await store.open_takes([1]) == {}
    assert await store.due(START + timedelta(hours=1), 10) == []
    record = (await store.takes([1]))[1]
    assert (record.outcome, record.portal_user_id, record.minutes) == (Outcome.TAKEN, 2, 4.0)
    assert record.source_id == "WEB"


async def test_deleted_and_closed_leads_do_not_count_as_taken(db: Database) -> None:
    store = EscalationRepository(db)
    await store.add([take(1), take(2), take(3)], ())
    await store.end(1, Outcome.DELETED, at=START)
    await store.end(2, Outcome.CLOSED, at=START)
    await store.end(3, Outcome.MOVED, at=START + timedelta(minutes=2), portal_user_id=1)
    assert set(await store.takes([1, 2, 3])) == {3}


async def test_only_sent_messages_are_live_and_a_settled_one_is_done(db: Database) -> None:
    store = EscalationRepository(db)
    outbox = OutboxRepository(db)
    await store.add([take(1)], [watch(1)])
    key = watch(1).message_key
    await outbox.add([NewOutboxMessage(key, GROUP, None, 1, Notification("🆕 <b>#1</b>"))])
    assert await store.live(10) == []

    (row,) = await outbox.due(10)
    await outbox.mark_sent(row.id, telegram_message_id=55)
    (live,) = await store.live(10)
    assert (live.message_id, live.notification.text, live.shown_minutes) == (
        55,
        "🆕 <b>#1</b>",
        0,
    )
    assert await store.is_watched(GROUP, 55)
    assert not await store.is_watched(GROUP, 56)

    await store.shown(live.id, 3, START)
    (live,) = await store.live(10)
    assert (live.shown_minutes, live.shown_at) == (3, START)
    await store.settle(live.id)
    assert await store.live(10) == []
    assert not await store.is_watched(GROUP, 55)  # its last line is shown: nothing to wait for


async def test_pruning_keeps_what_reports_still_read(db: Database) -> None:
    store = EscalationRepository(db)
    await store.add([take(1), take(2, minutes_ago=-60 * 24 * 30)], [watch(1)])
    await store.end(1, Outcome.TAKEN, at=START, portal_user_id=2, taken_by="Ivan")
    deleted = await store.prune(
        watches_before=START + timedelta(days=1), takes_before=START + timedelta(days=1)
    )
    assert deleted == 2  # lead 1's watch and take; lead 2 is newer
    assert set(await store.open_takes([1, 2])) == {2}


@pytest.mark.parametrize(
    ("query", "params", "index"),
    [
        (DUE_QUERY, ("2027", 10), "lead_watches_due"),
        (LIVE_QUERY, (10,), "lead_watches_live"),
    ],
)
async def test_the_worker_reads_its_rows_through_partial_indexes(
    tmp_path: Path, query: str, params: tuple[object, ...], index: str
) -> None:
    async with SqliteDatabase(tmp_path / "bot.sqlite3") as db:
        plan = await db.fetch_all(f"EXPLAIN QUERY PLAN {query}", params)
        details = " | ".join(row["detail"] for row in plan)
        assert index in details, details
        assert "SCAN lead_watches " not in f"{details} ", details
