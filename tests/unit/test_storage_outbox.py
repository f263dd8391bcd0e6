"""The outbox repository: one due row per chat, the index it reads, sent ids, pruning."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.storage import Database
from bot.storage.outbox import (
    DUE_QUERY,
    LIVE_ONLY,
    PRUNE_BATCH,
    MalformedNotificationError,
    MessageButton,
    NewOutboxMessage,
    Notification,
    OutboxRepository,
)
from bot.storage.sql import SQLITE
from bot.storage.timestamps import to_db_time
from tests.fixtures_storage import sqlite_only

GROUP, ANNA, IVAN = -100, 11, 12
START = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def outbox(db: Database, clock: Clock) -> OutboxRepository:
    return OutboxRepository(db, clock)


def message(key: str, chat_id: int, lead_id: int = 1) -> NewOutboxMessage:
    return NewOutboxMessage(key, chat_id, None, lead_id, Notification(key, subscriber=ANNA))


async def test_a_busy_group_fills_no_window_each_chat_gives_its_oldest_row(
    outbox: OutboxRepository,
) -> None:
    await outbox.add([message(f"g{n}", GROUP) for n in range(300)])
    await outbox.add([message("anna1", ANNA), message("ivan", IVAN), message("anna2", ANNA)])

    due = await outbox.due(2)
    assert [(m.chat_id, m.idempotency_key) for m in due] == [(GROUP, "g0"), (ANNA, "anna1")]
    due = await outbox.due(200, exclude_chats={GROUP})
    assert [m.idempotency_key for m in due] == ["anna1", "ivan"]
    assert await outbox.due(200, exclude_chats={GROUP, ANNA, IVAN}) == []


async def test_routine_rows_wait_while_live_ones_are_due_and_keep_each_chats_order(
    outbox: OutboxRepository,
) -> None:
    # The morning's nudges were queued first; a notification that comes after goes before them.
    nudges = [replace(message(f"nudge{chat}", chat), routine=True) for chat in range(1, 6)]
    await outbox.add(nudges)
    await outbox.add([message("live", GROUP), message("anna-live", 1)])

    due = await outbox.due(4)
    # Chat 1's notification overtakes its own nudge; notifications keep their order.
    assert [m.idempotency_key for m in due] == ["live", "anna-live", "nudge2", "nudge3"]
    # With one routine send free, one nudge comes after the notifications (in the same ask).
    capped = await outbox.due(4, routine=1)
    assert [m.idempotency_key for m in capped] == ["live", "anna-live", "nudge2"]
    await outbox.add([message("anna-later", 1)])
    await outbox.mark_sent(due[1].id)
    assert [m.idempotency_key for m in await outbox.due(2)] == ["live", "anna-later"]
    # With its routine sends all in flight, the sender asks for live rows only.
    live = await outbox.due(10, routine=0)
    assert [m.idempotency_key for m in live] == ["live", "anna-later"]
    await outbox.mark_sent(live[0].id)
    await outbox.mark_sent(live[1].id)
    assert await outbox.due(10, routine=0) == []
    assert len(await outbox.due(10)) == 5  # the nudges are all still there


async def test_a_chat_keeps_its_order_while_its_oldest_row_waits_to_be_retried(
    outbox: OutboxRepository, clock: Clock
) -> None:
    await outbox.add([message("first", ANNA), message("second", ANNA), message("ivan", IVAN)])
    first = (await outbox.due(10))[0]
    await outbox.retry_later(first.id, timedelta(seconds=30), "502")

    assert [m.idempotency_key for m in await outbox.due(10)] == ["ivan"]
    clock.now += timedelta(seconds=31)
    assert [m.idempotency_key for m in await outbox.due(10)] == ["first", "ivan"]


@sqlite_only
@pytest.mark.parametrize("live", [LIVE_ONLY, ""], ids=["live", "all"])
async def test_due_walks_the_pending_rows_in_order_and_stops_at_the_limit(
    outbox: OutboxRepository, db: Database, live: str
) -> None:
    # History makes a scan expensive; with it present, the planner must still pick the index.
    await outbox.add([message(f"m{n}", n % 50 + 1) for n in range(2000)])
    async with db.transaction() as conn:
        await conn.execute("UPDATE outbox SET state = 'sent' WHERE id <= 1900")
    query = DUE_QUERY.format(excluded=SQLITE.int_array_rows, live=live, also="")
    plan = await db.fetch_all(f"EXPLAIN QUERY PLAN {query}", ("[1, 2]", "2027", 200))
    steps = [row["detail"] for row in plan]
    # The pending rows in the order they go out, so LIMIT ends the walk: no grouping of the
    # whole queue, no sort; each row's chat is looked up in the heads' index.
    assert any("USING INDEX outbox_pending_order" in step for step in steps), steps
    assert any("USING INDEX outbox_pending_heads (chat_id=?" in step for step in steps), steps
    assert not any("TEMP B-TREE" in step for step in steps), steps
    outbox_steps = [step for step in steps if " o " in f" {step} " or " h " in f" {step} "]
    assert all("INDEX" in step for step in outbox_steps), steps


@pytest.mark.parametrize("seed", range(6))
async def test_due_gives_each_chats_head_as_the_queue_defines_it(
    outbox: OutboxRepository, db: Database, clock: Clock, seed: int
) -> None:
    rng = random.Random(seed)
    chats = [GROUP, ANNA, IVAN, 13, 14, 15, 16, 17]
    queued = [
        replace(message(f"k{n}", rng.choice(chats)), routine=rng.random() < 0.4)
        for n in range(120)
    ]
    await outbox.add(queued)
    rows = await outbox.due(1000)
    later = {m.id for m in rows if rng.random() < 0.2}
    for row_id in later:
        await outbox.retry_later(row_id, timedelta(minutes=5), "502")
    done = set(rng.sample(sorted(m.id for m in rows if m.id not in later), 3))
    for row_id in done:
        await outbox.mark_sent(row_id, row_id)
    excluded = {rng.choice(chats)}
    stored = await db.fetch_all("SELECT id, chat_id, priority, state, next_attempt_at FROM outbox")
    now = to_db_time(clock())
    heads: dict[int, Any] = {}
    for row in sorted(stored, key=lambda r: (r["priority"], r["id"])):
        if row["state"] == "pending":
            heads.setdefault(row["chat_id"], row)
    expected = sorted(
        (
            r
            for r in heads.values()
            if r["chat_id"] not in excluded and r["next_attempt_at"] <= now
        ),
        key=lambda r: (r["priority"], r["id"]),
    )
    assert [m.id for m in await outbox.due(1000, excluded)] == [r["id"] for r in expected]
    live = [r["id"] for r in expected if r["priority"] == 0]
    assert [m.id for m in await outbox.due(1000, excluded, routine=0)] == live
    assert [m.id for m in await outbox.due(3, excluded)] == [r["id"] for r in expected][:3]


async def test_a_sent_message_is_found_by_its_chat_and_telegram_id(
    outbox: OutboxRepository,
) -> None:
    await outbox.add([message("offer", GROUP, lead_id=77), message("other", ANNA, lead_id=5)])
    offer, other = await outbox.due(10)
    await outbox.mark_sent(offer.id, 9001)
    await outbox.mark_sent(other.id, 9002)

    found = await outbox.sent_notification(GROUP, 9001)
    assert found is not None
    assert (found.id, found.lead_id, found.thread_id, found.subscriber) == (
        offer.id,
        77,
        None,
        ANNA,
    )
    # Another chat's message id, or an id the outbox never sent, finds nothing.
    assert await outbox.sent_notification(GROUP, 9002) is None
    assert await outbox.sent_notification(ANNA, 9001) is None
    assert await outbox.sent_notification(GROUP, 1) is None


async def test_prune_deletes_old_sent_and_skipped_rows_and_keeps_pending_and_recent(
    outbox: OutboxRepository, clock: Clock
) -> None:
    await outbox.add([message(f"old{n}", ANNA + n) for n in range(4)])
    sent, skipped, dead, pending = await outbox.due(10)
    await outbox.mark_sent(sent.id, 1)
    await outbox.skip(skipped.id, "not visible")
    await outbox.mark_dead(dead.id, "400")
    clock.now += timedelta(days=10)
    await outbox.add([message("recent", IVAN + 100)])
    recent = (await outbox.due(10, exclude_chats={pending.chat_id}))[0]
    await outbox.mark_sent(recent.id, 2)

    cutoff = START + timedelta(days=5)
    assert await outbox.prune(sent_before=cutoff) == 2
    assert await outbox.count("dead") == 1
    assert await outbox.count("pending") == 1
    assert await outbox.sent_notification(recent.chat_id, 2) is not None
    assert await outbox.prune(sent_before=cutoff, dead_before=cutoff) == 1
    assert (await outbox.count("dead"), await outbox.count("pending")) == (0, 1)
    assert await outbox.count() == 2


async def test_prune_goes_in_batches_until_nothing_old_is_left(
    outbox: OutboxRepository, db: Database, clock: Clock
) -> None:
    total = PRUNE_BATCH * 2 + 5
    await outbox.add([message(f"m{n}", ANNA) for n in range(total)])
    async with db.transaction() as conn:
        await conn.execute("UPDATE outbox SET state = 'sent', sent_at = created_at")
    clock.now += timedelta(days=1)
    assert await outbox.prune(sent_before=clock.now) == total
    assert await outbox.count() == 0


@pytest.mark.parametrize(
    ("query", "index"),
    [
        (
            "SELECT id FROM outbox WHERE state = 'sent' AND sent_at < ? LIMIT 1000",
            "outbox_sent_by_time",
        ),
        (
            "SELECT id FROM outbox WHERE state = 'dead' AND created_at < ? LIMIT 1000",
            "outbox_dead_by_time",
        ),
        (
            "SELECT id FROM outbox WHERE chat_id = ? AND telegram_message_id = ? "
            "AND state = 'sent'",
            "outbox_by_telegram_message",
        ),
    ],
)
@sqlite_only
async def test_pruning_and_take_checks_read_an_index(db: Database, query: str, index: str) -> None:
    plan = await db.fetch_all(f"EXPLAIN QUERY PLAN {query}", (1, 2)[: query.count("?")])
    details = " | ".join(row["detail"] for row in plan)
    assert index in details, details


def test_a_notification_survives_the_round_trip_through_its_stored_form() -> None:
    notification = Notification(
        "<b>Lead</b> & co",
        (
            (MessageButton("Open", callback_data="nl:card:7"), MessageButton("Take", "nl:take:7")),
            (MessageButton("Portal", url="https://portal.test/crm/lead/details/7/"),),
        ),
        subscriber=ANNA,
        assigned_by_id=3,
        kind="updated",
    )
    stored = notification.to_json()
    assert stored["buttons"][1] == [
        {"text": "Portal", "url": "https://portal.test/crm/lead/details/7/"}
    ]
    assert Notification.from_json(stored) == notification


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        # An owner request: a message to a person, no subscriber behind it.
        ({"text": "ask", "buttons": []}, Notification("ask")),
        # Rows written before buttons and kinds were stored.
        ({"text": "old"}, Notification("old")),
        (
            {"text": "t", "subscriber": 5, "assigned_by_id": None, "kind": "added"},
            Notification("t", subscriber=5, kind="added"),
        ),
    ],
)
def test_rows_of_every_earlier_shape_still_read(stored: object, expected: Notification) -> None:
    assert Notification.from_json(stored) == expected


@pytest.mark.parametrize(
    "stored",
    [
        None,
        [],
        {"buttons": []},
        {"text": 5},
        {"text": "t", "buttons": {"a": 1}},
        {"text": "t", "buttons": [[{"callback_data": "x"}]]},
        {"text": "t", "buttons": [[{"text": "both", "callback_data": "x", "url": "u"}]]},
        {"text": "t", "buttons": [[{"text": "neither"}]]},
        {"text": "t", "subscriber": "5"},
        {"text": "t", "assigned_by_id": True},
    ],
)
def test_a_malformed_row_is_refused_with_a_reason(stored: object) -> None:
    with pytest.raises(MalformedNotificationError):
        Notification.from_json(stored)


async def test_a_malformed_row_is_set_aside_and_holds_its_chat_back_no_longer(
    outbox: OutboxRepository, db: Database
) -> None:
    await outbox.add([message("broken", ANNA), message("next", ANNA)])
    async with db.transaction() as conn:
        await conn.execute("UPDATE outbox SET payload = '[1]' WHERE idempotency_key = 'broken'")

    assert [m.idempotency_key for m in await outbox.due(10)] == ["next"]
    [dead] = await outbox.dead_letters()
    assert dead.reason.startswith("malformed row")


async def test_many_messages_are_queued_in_one_statement_and_a_repeat_is_left_out(
    outbox: OutboxRepository,
) -> None:
    nudges = [replace(message(f"nudge{chat}", chat), routine=True) for chat in (ANNA, IVAN)]
    await outbox.queue_many(nudges)
    await outbox.queue_many([nudges[0], message("live", ANNA)])
    due = await outbox.due(10)
    assert [m.idempotency_key for m in due] == ["live", f"nudge{IVAN}"]
    await outbox.mark_sent(due[0].id, 1)
    assert [m.idempotency_key for m in await outbox.due(10)] == [f"nudge{ANNA}", f"nudge{IVAN}"]
