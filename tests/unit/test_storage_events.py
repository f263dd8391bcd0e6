"""The event pipeline's tables on both engines: inbox, subscriptions, snapshots, claims."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from bot.storage import Database
from bot.storage.inbox import InboxRepository
from bot.storage.outbox import NewOutboxMessage, Notification, OutboxRepository
from bot.storage.revisions import TableRevisions
from bot.storage.snapshots import LeadClaim, SnapshotRepository
from bot.storage.subscriptions import EventKind, NewSubscription, Scope, SubscriptionRepository

BIG_CHAT = -1001234567890  # a supergroup id: needs 64 bits
START = datetime(2026, 12, 4, 9, tzinfo=UTC)


class Clock:
    """A settable clock."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


async def test_an_event_is_stored_once_per_key_and_processed_in_order(db: Database) -> None:
    clock = Clock()
    inbox = InboxRepository(db, clock)
    assert await inbox.add("k1", "ONCRMLEADADD", 7, {"id": 7})
    assert not await inbox.add("k1", "ONCRMLEADADD", 7, {"id": 7})
    stored = await inbox.add_many(
        [
            ("k2", "ONCRMLEADUPDATE", 8, {"id": 8, "name": "<b>Иван</b>"}),
            ("k1", "ONCRMLEADADD", 7, {}),
            ("k2", "ONCRMLEADUPDATE", 8, {}),
            ("k3", "ONCRMLEADDELETE", None, {}),
        ]
    )
    assert stored == [True, False, False, True]
    events = await inbox.unprocessed()
    assert [e.dedup_key for e in events] == ["k1", "k2", "k3"]
    assert events[1].payload == {"id": 8, "name": "<b>Иван</b>"}
    assert await inbox.pending_lead_ids([7, 8, 9]) == {7, 8}

    async with db.transaction() as conn:
        await inbox.mark_processed_in(conn, [events[0].id, events[1].id])
    await inbox.note_failure([events[2].id], "portal down")
    assert [e.dedup_key for e in await inbox.unprocessed()] == ["k3"]
    assert await inbox.count(processed=True) == 2
    assert await inbox.pending_count() == 1
    assert await inbox.last_received_at() == START

    assert await inbox.prune(processed_before=START + timedelta(seconds=1), limit=1) == 1
    assert await inbox.prune(processed_before=START + timedelta(seconds=1), limit=10) == 1
    assert await inbox.count() == 1


async def test_a_chat_subscribes_edits_and_follows_its_group_to_a_new_id(db: Database) -> None:
    subscriptions = SubscriptionRepository(db, Clock())
    revisions = TableRevisions(db)
    before = (await revisions.current())["subscriptions"]
    whole = await subscriptions.create(
        NewSubscription(
            chat_id=-4001,
            thread_id=None,
            created_by=42,
            scope=Scope.USERS,
            kinds=frozenset({EventKind.ADDED, EventKind.STAGE}),
            responsible_ids=frozenset({5, 3}),
            language="ru",
        )
    )
    topic = await subscriptions.create(
        NewSubscription(chat_id=-4001, thread_id=17, created_by=43, scope=Scope.ALL)
    )
    assert whole.responsible_ids == frozenset({3, 5})
    assert whole.kinds == frozenset({EventKind.ADDED, EventKind.STAGE})
    assert [s.id for s in await subscriptions.for_chat(-4001)] == [whole.id, topic.id]
    assert [s.id for s in await subscriptions.for_chat(-4001, 17)] == [topic.id]

    paused = await subscriptions.update(topic.id, paused=True, stages=frozenset({"NEW"}))
    assert paused is not None
    assert paused.paused
    assert paused.stages == frozenset({"NEW"})
    assert [s.id for s in await subscriptions.active()] == [whole.id]
    assert await subscriptions.live_count(-4001) == 1

    async with db.transaction() as conn:
        assert await subscriptions.disable_chat_in(conn, -4001, "bot was kicked") == 2
    [chat_row] = [c for c in await subscriptions.chats() if c.thread_id is None]
    assert (chat_row.total, chat_row.paused, chat_row.disabled) == (1, 0, 1)
    assert chat_row.disabled_reason == "bot was kicked"
    assert chat_row.created_by == 42

    async with db.transaction() as conn:
        assert await subscriptions.move_chat_in(conn, -4001, BIG_CHAT) == 2
    assert await subscriptions.for_chat(-4001) == []
    assert len(await subscriptions.for_chat(BIG_CHAT)) == 2
    assert await subscriptions.remove_disabled(BIG_CHAT) == 2
    assert not await subscriptions.remove(whole.id)
    # Two inserts, one update, two rows disabled, two moved, two deleted: one bump per row.
    assert (await revisions.current())["subscriptions"] == before + 9


async def test_subscriptions_read_back_share_one_empty_set_for_every_filter_on_nothing(
    db: Database,
) -> None:
    """A big team's thousands of subscriptions mostly filter on nothing: five empty sets of
    their own each were 10 MB and 50,000 objects for the collector with 10,000 of them."""
    subscriptions = SubscriptionRepository(db, Clock())
    for chat in (-5001, -5002):
        await subscriptions.create(
            NewSubscription(chat_id=chat, thread_id=None, created_by=42, scope=Scope.ALL)
        )
    await subscriptions.create(
        NewSubscription(
            chat_id=-5003,
            thread_id=None,
            created_by=42,
            scope=Scope.USERS,
            responsible_ids=frozenset({7}),
            stages=frozenset({"NEW"}),
        )
    )
    first, second, third = sorted(await subscriptions.active(), key=lambda s: -s.chat_id)
    empties = {
        id(getattr(sub, name))
        for sub in (first, second)
        for name in ("kinds", "responsible_ids", "stages", "sources", "escalate_to")
    }
    assert len(empties) == 1
    assert first.stages == frozenset()
    assert (third.responsible_ids, third.stages) == (frozenset({7}), frozenset({"NEW"}))
    assert third.kinds is first.kinds


async def test_two_reps_take_one_offer_and_only_the_first_wins(db: Database) -> None:
    snapshots = SnapshotRepository(db, Clock())
    offers = [
        LeadClaim(lead_id=7, telegram_user_id=user, portal_user_id=user + 1000, name=f"Rep {user}")
        for user in (101, 102, 103)
    ]
    winners = await asyncio.gather(*(snapshots.claim(BIG_CHAT, 55, 7, offer) for offer in offers))
    assert len({w.telegram_user_id for w in winners}) == 1
    winner = winners[0].telegram_user_id
    await snapshots.release_claim(BIG_CHAT, 55, winner)
    again = await snapshots.claim(BIG_CHAT, 55, 7, offers[2])
    assert again.telegram_user_id == 103


async def test_snapshots_claims_and_bot_actions_age_out(db: Database) -> None:
    clock = Clock()
    snapshots = SnapshotRepository(db, clock)
    async with db.transaction() as conn:
        await snapshots.put_many_in(conn, {1: {"STAGE": "NEW"}, 2: {"STAGE": "WON"}})
        await snapshots.put_in(conn, 1, {"STAGE": "IN_PROCESS"})
    assert await snapshots.get_many([1, 2, 3]) == {
        1: {"STAGE": "IN_PROCESS"},
        2: {"STAGE": "WON"},
    }
    async with db.transaction() as conn:
        await snapshots.delete_in(conn, 2)
    assert await snapshots.recent(5) == [{"STAGE": "IN_PROCESS"}]

    await snapshots.record_bot_action(7, 101, 1101, "take")
    for message_id in (1, 2, 3):
        await snapshots.claim(-4001, message_id, 7, LeadClaim(7, 101, 1101, "Rep"))
    clock.now = START + timedelta(hours=1)
    assert set(await snapshots.bot_actions_since([7, 8], timedelta(hours=2))) == {7}
    assert await snapshots.bot_actions_since([7], timedelta(minutes=30)) == {}

    later = START + timedelta(minutes=1)
    assert await snapshots.prune_claims(before=later, limit=2) == 2
    assert await snapshots.prune_claims(before=later, limit=2) == 1
    assert await snapshots.prune_bot_actions(before=later, limit=5) == 1


async def test_the_sender_skips_excluded_chats_and_resends_dead_rows(db: Database) -> None:
    outbox = OutboxRepository(db, Clock())
    await outbox.add(
        [
            NewOutboxMessage(f"m{n}", chat, None, n, Notification(f"#{n}"))
            for n, chat in enumerate((BIG_CHAT, BIG_CHAT, 100, 200))
        ]
    )
    due = await outbox.due(10, exclude_chats={200})
    assert [(m.chat_id, m.notification.text) for m in due] == [(BIG_CHAT, "#0"), (100, "#2")]
    await outbox.mark_dead(due[0].id, "chat not found")
    await outbox.mark_dead(due[1].id, "blocked")
    assert await outbox.resend_dead(due[0].id) == 1
    assert await outbox.resend_dead() == 1
    assert await outbox.count("dead") == 0
    assert [m.id for m in await outbox.due(10, exclude_chats={100, 200})] == [due[0].id]
