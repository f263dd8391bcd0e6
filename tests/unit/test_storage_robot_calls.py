"""Calls of the Send to Telegram rule in the database: stored once, moved on, pruned."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from bot.install.robot_calls import CallState, RobotCall, RobotCallStore
from bot.storage import Database
from bot.storage.outbox import NewOutboxMessage, Notification, OutboxRepository

CALL = RobotCall(
    key="k" * 32,
    event_token="wf|A1|secret",
    waits=True,
    lead_id=7,
    recipient="responsible",
    group="",
    template="Hello",
)


async def test_a_call_is_stored_once_and_remembers_how_far_it_got(db: Database) -> None:
    store = RobotCallStore(db)
    assert await store.add(CALL)
    assert not await store.add(replace(CALL, template="a second delivery"))
    assert await store.open_calls() == [CALL]
    queued = replace(CALL, state=CallState.QUEUED)
    await store.save(queued)
    assert await store.get(CALL.key) == queued
    other = replace(CALL, key="m" * 32, lead_id=8)
    assert await store.add(other)
    assert [c.key for c in await store.open_calls()] == [CALL.key, other.key]


async def test_done_calls_leave_the_open_list_and_go_after_a_week(db: Database) -> None:
    now = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
    moments = [now]
    store = RobotCallStore(db, clock=lambda: moments[-1])
    await store.add(CALL)
    await store.save(replace(CALL, state=CallState.DONE, done_at=now.isoformat()))
    assert await store.open_calls() == []
    assert await store.get(CALL.key) is not None  # a repeat is still recognised
    moments.append(now + timedelta(days=8))
    assert await store.open_calls() == []
    assert await store.get(CALL.key) is None
    assert await store.add(CALL)


async def test_the_fate_of_the_message_is_read_from_the_outbox(db: Database) -> None:
    store = RobotCallStore(db)
    assert await store.message_state(CALL.outbox_key) is None
    outbox = OutboxRepository(db)
    message = NewOutboxMessage(CALL.outbox_key, 2001, None, 7, Notification(text="Hi"))
    await outbox.add([message])
    assert await store.message_state(CALL.outbox_key) == ("pending", "")
    [row] = await outbox.due(limit=5)
    await outbox.skip(row.id, "muted")
    assert await store.message_state(CALL.outbox_key) == ("sent", "skipped: muted")
