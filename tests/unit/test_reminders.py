"""The reminder repository and scheduler: once per due moment, held by quiet hours, merged from
the portal without undoing what the user settled."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.followups.scheduler import ReminderScheduler
from bot.i18n import Translations
from bot.schedule.service import HoursService
from bot.storage import BindingRepository, Database
from bot.storage.hours import HoursRepository
from bot.storage.models import Binding, BindingSource, Role
from bot.storage.outbox import NewOutboxMessage, Notification, OutboxRepository
from bot.storage.reminders import PortalTodo, Reminder, ReminderRepository, ReminderState
from bot.storage.sql import Connection

USER = 2001
START = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)  # a Friday


class Clock:
    def __init__(self) -> None:
        self.moment = START

    def __call__(self) -> datetime:
        return self.moment


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def reminders(db: Database, clock: Clock) -> ReminderRepository:
    return ReminderRepository(db, clock=clock)


def reminder(activity_id: int, due: datetime, **fields: object) -> Reminder:
    return Reminder(
        activity_id=activity_id,
        lead_id=10,
        telegram_user_id=USER,
        due_at=due,
        fire_at=due,
        lead_title="Windows",
        **fields,  # type: ignore[arg-type]
    )


def message(key: str) -> NewOutboxMessage:
    return NewOutboxMessage(
        idempotency_key=key,
        chat_id=USER,
        thread_id=None,
        lead_id=10,
        notification=Notification(text="due"),
    )


async def test_a_reminder_is_due_from_its_moment_and_claimed_once(
    db: Database, reminders: ReminderRepository, clock: Clock
) -> None:
    outbox = OutboxRepository(db)
    await reminders.schedule(reminder(1, START + timedelta(minutes=5)))
    assert await reminders.due(10) == []
    assert await reminders.next_fire_at() == START + timedelta(minutes=5)

    clock.moment = START + timedelta(minutes=5)
    [due] = await reminders.due(10)
    assert await reminders.claim(due, outbox, message("r1"))
    assert not await reminders.claim(due, outbox, message("r1-again"))
    assert await outbox.count("pending") == 1
    stored = await reminders.get(1)
    assert stored is not None
    assert (stored.state, stored.fired) == (ReminderState.SENT, 1)
    assert await reminders.next_fire_at() is None


async def test_a_claim_that_cannot_queue_its_message_leaves_the_reminder_scheduled(
    db: Database, reminders: ReminderRepository, clock: Clock
) -> None:
    class BrokenOutbox(OutboxRepository):
        async def add_in(self, conn: Connection, message: NewOutboxMessage) -> bool:
            raise RuntimeError("disk full")

    await reminders.schedule(reminder(1, START))
    [due] = await reminders.due(10)
    with pytest.raises(RuntimeError):
        await reminders.claim(due, BrokenOutbox(db), message("r1"))
    stored = await reminders.get(1)
    assert stored is not None
    assert (stored.state, stored.fired) == (ReminderState.SCHEDULED, 0)


async def test_the_portal_moves_a_deadline_but_never_reopens_a_settled_reminder(
    reminders: ReminderRepository,
) -> None:
    due = START + timedelta(hours=1)
    todos = [PortalTodo(1, 10, USER, due), PortalTodo(2, 11, USER, due)]
    assert await reminders.merge_from_portal(todos) == 2
    assert await reminders.merge_from_portal(todos) == 0
    assert await reminders.settle(2, ReminderState.DONE)
    moved = [
        PortalTodo(1, 10, USER, due + timedelta(hours=1)),
        PortalTodo(2, 11, USER, due + timedelta(hours=1)),
    ]
    assert await reminders.merge_from_portal(moved) == 1
    first, second = await reminders.get(1), await reminders.get(2)
    assert first is not None
    assert second is not None
    assert (first.due_at, first.fire_at, first.state) == (
        due + timedelta(hours=1),
        due + timedelta(hours=1),
        ReminderState.SCHEDULED,
    )
    assert (second.due_at, second.state) == (due, ReminderState.DONE)
    assert not await reminders.settle(2, ReminderState.DONE)


async def test_quiet_hours_hold_a_reminder_until_the_window_opens(
    db: Database, reminders: ReminderRepository, clock: Clock
) -> None:
    bindings = BindingRepository(db)
    await bindings.upsert(
        Binding(
            telegram_user_id=USER,
            portal_user_id=2,
            role=Role.REP,
            bound_via=BindingSource.CONTACT,
            bound_at=START,
        )
    )
    hours = HoursService(HoursRepository(db), default_zone=ZoneInfo("Europe/Moscow"))
    await hours.set_window(USER, None, time(9, 0), time(18, 0))
    await hours.set_quiet(USER, None, quiet=True)
    outbox = OutboxRepository(db)
    queued: list[int] = []
    scheduler = ReminderScheduler(
        reminders=reminders,
        outbox=outbox,
        hours=hours,
        bindings=bindings,
        translations=Translations.load(),
        clock=clock,
        on_queued=lambda: queued.append(1),
    )
    # 19:00 in Moscow on a Friday: held until Monday 09:00 (06:00 UTC).
    late = datetime(2026, 12, 4, 16, 0, tzinfo=UTC)
    await reminders.schedule(reminder(1, late))
    clock.moment = late
    assert await scheduler.fire_due() == 0
    monday = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)
    assert await reminders.next_fire_at() == monday
    clock.moment = monday - timedelta(seconds=1)
    assert await scheduler.fire_due() == 0
    clock.moment = monday
    assert await scheduler.fire_due() == 1
    assert queued == [1]
    [row] = await outbox.due(10)
    assert "Follow-up: Windows" in row.notification.text
    assert "04.12 19:00" in row.notification.text  # when it was due, on the user's clock
    assert await scheduler.fire_due() == 0
