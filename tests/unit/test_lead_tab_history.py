"""What the lead tab reads of the bot's own history, on both database engines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.storage.db import Database
from bot.storage.outbox import NewOutboxMessage, Notification, OutboxRepository
from bot.storage.reminders import Reminder, ReminderRepository, ReminderState
from bot.tab.history import LeadHistory

START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


class StepClock:
    """A clock that moves a minute each time it is read."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        self.now += timedelta(minutes=1)
        return self.now


def _message(key: str, chat_id: int, lead_id: int, kind: str | None) -> NewOutboxMessage:
    return NewOutboxMessage(key, chat_id, None, lead_id, Notification(text="x", kind=kind))


async def test_only_delivered_messages_about_the_lead_count_newest_first(db: Database) -> None:
    outbox = OutboxRepository(db, clock=StepClock())
    await outbox.add(
        [
            _message("a", 1001, 7, "added"),
            _message("b", -4001, 7, "stage"),
            _message("c", 1001, 7, "digest"),
            _message("d", 2001, 7, "changed"),
            _message("e", 1001, 8, "added"),
            _message("f", 3001, 7, "ping"),
        ]
    )
    telegram_ids = {"a": 11, "b": 12, "c": 13, "e": 14}
    # The outbox hands out one row per chat at a time; "f" (chat 3001) stays pending.
    while due := await outbox.due(50, exclude_chats={3001}):
        for row in due:
            if row.idempotency_key == "d":
                await outbox.skip(row.id, "reader may not see the lead")
            else:
                await outbox.mark_sent(row.id, telegram_ids[row.idempotency_key])
    sent = await LeadHistory(db).deliveries(7)
    assert [(m.chat_id, m.kind) for m in sent] == [
        (1001, "other"),
        (-4001, "stage"),
        (1001, "added"),
    ]
    assert all(m.sent_at is not None for m in sent)
    assert await LeadHistory(db).deliveries(9) == []


async def test_follow_ups_of_the_lead_latest_deadline_first(db: Database) -> None:
    reminders = ReminderRepository(db)
    for activity, lead, days, note in ((1, 7, 1, "first"), (2, 7, 3, "later"), (3, 8, 2, "other")):
        due = START + timedelta(days=days)
        await reminders.schedule(Reminder(activity, lead, 1001, due, due, note=note))
    await reminders.settle(1, ReminderState.DONE)
    found = await LeadHistory(db).followups(7)
    assert [(f.note, f.state) for f in found] == [
        ("later", ReminderState.SCHEDULED),
        ("first", ReminderState.DONE),
    ]
    assert found[0].due_at == START + timedelta(days=3)
