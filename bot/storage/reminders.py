"""Follow-up reminders: one row per portal to-do, fired once per due moment through the outbox.

A row is `scheduled` until its `fire_at` comes; the scheduler then claims it and queues its
message in the same transaction (`claim`), so a crash either did both or neither, and a restart
fires what was missed once. `fire_at` starts at the to-do's deadline and moves later while the
user's quiet hours hold it. Done and cancelled rows are never fired again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from bot.storage.db import Database
from bot.storage.outbox import NewOutboxMessage, OutboxRepository
from bot.storage.sql import Row, execute
from bot.storage.timestamps import Clock, from_db_time, to_db_time, utc_now

NOTE_LIMIT = 1000
TITLE_LIMIT = 255


class ReminderState(StrEnum):
    """Where a reminder is: waiting, sent to the user, or settled."""

    SCHEDULED = "scheduled"
    SENT = "sent"
    DONE = "done"
    CANCELLED = "cancelled"


SETTLED = frozenset({ReminderState.DONE, ReminderState.CANCELLED})


@dataclass(frozen=True, slots=True)
class Reminder:
    """One to-do's reminder: whom to tell about which lead, when it is due and when to fire."""

    activity_id: int
    lead_id: int
    telegram_user_id: int
    due_at: datetime
    fire_at: datetime
    state: ReminderState = ReminderState.SCHEDULED
    lead_title: str = ""
    note: str = ""
    fired: int = 0


_COLUMNS = (
    "activity_id, lead_id, telegram_user_id, due_at, fire_at, state, lead_title, note, fired"
)


def _reminder(row: Row) -> Reminder:
    return Reminder(
        activity_id=row["activity_id"],
        lead_id=row["lead_id"],
        telegram_user_id=row["telegram_user_id"],
        due_at=from_db_time(row["due_at"]),
        fire_at=from_db_time(row["fire_at"]),
        state=ReminderState(row["state"]),
        lead_title=row["lead_title"],
        note=row["note"],
        fired=row["fired"],
    )


@dataclass(frozen=True, slots=True)
class PortalTodo:
    """An open to-do the portal listed: its lead, its deadline, whom to tell."""

    activity_id: int
    lead_id: int
    telegram_user_id: int
    due_at: datetime
    lead_title: str = ""
    note: str = ""


class ReminderRepository:
    """Reminders by portal activity id."""

    def __init__(self, db: Database, clock: Clock = utc_now) -> None:
        self._db = db
        self._clock = clock

    async def schedule(self, reminder: Reminder) -> None:
        """Remind at the reminder's due moment (replacing what was stored for that to-do)."""
        now = to_db_time(self._clock())
        async with self._db.transaction(durable=True) as conn:
            await execute(
                conn,
                f"INSERT INTO reminders ({_COLUMNS}, created_at, updated_at) "  # noqa: S608
                "VALUES (?, ?, ?, ?, ?, 'scheduled', ?, ?, 0, ?, ?) "
                "ON CONFLICT (activity_id) DO UPDATE SET lead_id = excluded.lead_id, "
                "telegram_user_id = excluded.telegram_user_id, due_at = excluded.due_at, "
                "fire_at = excluded.fire_at, state = 'scheduled', "
                "lead_title = excluded.lead_title, note = excluded.note, "
                "updated_at = excluded.updated_at",
                (
                    reminder.activity_id,
                    reminder.lead_id,
                    reminder.telegram_user_id,
                    to_db_time(reminder.due_at),
                    to_db_time(reminder.fire_at),
                    reminder.lead_title[:TITLE_LIMIT],
                    reminder.note[:NOTE_LIMIT],
                    now,
                    now,
                ),
            )

    async def merge_from_portal(self, todos: list[PortalTodo]) -> int:
        """Take the portal's open to-dos: new ones are scheduled, a moved deadline reschedules
        (also a reminder already sent), settled ones stay settled. Returns how many changed."""
        if not todos:
            return 0
        now = to_db_time(self._clock())
        changed = 0
        async with self._db.transaction() as conn:
            for todo in todos:
                due = to_db_time(todo.due_at)
                result = await execute(
                    conn,
                    f"INSERT INTO reminders ({_COLUMNS}, created_at, updated_at) "  # noqa: S608
                    "VALUES (?, ?, ?, ?, ?, 'scheduled', ?, ?, 0, ?, ?) "
                    "ON CONFLICT (activity_id) DO UPDATE SET due_at = excluded.due_at, "
                    "fire_at = excluded.fire_at, state = 'scheduled', "
                    "telegram_user_id = excluded.telegram_user_id, "
                    "updated_at = excluded.updated_at "
                    "WHERE reminders.due_at <> excluded.due_at "
                    "AND reminders.state IN ('scheduled', 'sent')",
                    (
                        todo.activity_id,
                        todo.lead_id,
                        todo.telegram_user_id,
                        due,
                        due,
                        todo.lead_title[:TITLE_LIMIT],
                        todo.note[:NOTE_LIMIT],
                        now,
                        now,
                    ),
                )
                changed += result.rowcount
        return changed

    async def get(self, activity_id: int) -> Reminder | None:
        """The reminder of a to-do, if the bot knows it."""
        row = await self._db.fetch_one(
            f"SELECT {_COLUMNS} FROM reminders WHERE activity_id = ?",  # noqa: S608
            (activity_id,),
        )
        return None if row is None else _reminder(row)

    async def next_fire_at(self) -> datetime | None:
        """When the earliest scheduled reminder fires (None: nothing is scheduled)."""
        row = await self._db.fetch_one(
            "SELECT min(fire_at) FROM reminders WHERE state = 'scheduled'"
        )
        return None if row is None or row[0] is None else from_db_time(row[0])

    async def due(self, limit: int, *, within: timedelta = timedelta(0)) -> list[Reminder]:
        """Scheduled reminders whose moment has come (or comes `within`), earliest first."""
        rows = await self._db.fetch_all(
            f"SELECT {_COLUMNS} FROM reminders "  # noqa: S608
            "WHERE state = 'scheduled' AND fire_at <= ? ORDER BY fire_at LIMIT ?",
            (to_db_time(self._clock() + within), limit),
        )
        return [_reminder(row) for row in rows]

    async def hold(self, reminder: Reminder, until: datetime) -> bool:
        """Fire later (quiet hours); False when the row changed meanwhile."""
        async with self._db.transaction() as conn:
            result = await execute(
                conn,
                "UPDATE reminders SET fire_at = ?, updated_at = ? "
                "WHERE activity_id = ? AND state = 'scheduled' AND fire_at = ?",
                (
                    to_db_time(until),
                    to_db_time(self._clock()),
                    reminder.activity_id,
                    to_db_time(reminder.fire_at),
                ),
            )
        return result.rowcount == 1

    async def claim(
        self, reminder: Reminder, outbox: OutboxRepository, message: NewOutboxMessage
    ) -> bool:
        """Mark the reminder sent and queue its message, both or neither; False when another
        claim (or a snooze, or Done) changed the row first."""
        async with self._db.transaction(durable=True) as conn:
            result = await execute(
                conn,
                "UPDATE reminders SET state = 'sent', fired = fired + 1, updated_at = ? "
                "WHERE activity_id = ? AND state = 'scheduled' AND fire_at = ?",
                (
                    to_db_time(self._clock()),
                    reminder.activity_id,
                    to_db_time(reminder.fire_at),
                ),
            )
            if result.rowcount != 1:
                return False
            await outbox.add_in(conn, message)
        return True

    async def settle(self, activity_id: int, state: ReminderState) -> bool:
        """Done or cancelled: never fire again. False when it was settled already."""
        async with self._db.transaction(durable=True) as conn:
            result = await execute(
                conn,
                "UPDATE reminders SET state = ?, updated_at = ? "
                "WHERE activity_id = ? AND state IN ('scheduled', 'sent')",
                (state.value, to_db_time(self._clock()), activity_id),
            )
        return result.rowcount == 1

    async def count(self, state: ReminderState | None = None) -> int:
        """How many reminders are in a state (all when None)."""
        if state is None:
            row = await self._db.fetch_one("SELECT count(*) FROM reminders")
        else:
            row = await self._db.fetch_one(
                "SELECT count(*) FROM reminders WHERE state = ?", (state.value,)
            )
        return int(row[0]) if row is not None else 0
