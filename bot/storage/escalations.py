"""Speed to lead: new leads until their first take, and the new-lead messages that count it.

`lead_takes` has one row per lead the bot announced as new: when it was created, its first
stage and responsible, and how it ended (taken, assigned, moved on, closed, deleted).
`lead_watches` has one row per new-lead message of a subscription that escalates: the
deadline of its escalation, what its live counter shows, and whether its last edit is done.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from bot.storage.db import Database
from bot.storage.json_codec import decode_json
from bot.storage.outbox import MalformedNotificationError, Notification
from bot.storage.sql import Connection, execute, execute_many
from bot.storage.timestamps import (
    Clock,
    from_db_time,
    from_db_time_or_none,
    to_db_time,
    utc_now,
)

IDS_PER_QUERY = 500
"""Lead ids per `IN (...)` list (SQLite allows 999 parameters)."""
PRUNE_BATCH = 500

DUE_QUERY = """
SELECT id, lead_id, subscription_id, chat_id, started_at, escalate_at
FROM lead_watches WHERE escalated_at IS NULL AND ended_at IS NULL AND escalate_at <= ?
ORDER BY escalate_at, id LIMIT ?
"""
"""Watches whose deadline has come, not escalated nor ended (through `lead_watches_due`)."""

LIVE_QUERY = """
SELECT w.id, w.lead_id, w.subscription_id, w.chat_id, o.telegram_message_id,
       o.payload, w.started_at, w.shown_minutes, w.shown_at, w.ended_at, w.outcome,
       t.taken_by
FROM lead_watches AS w
JOIN outbox AS o ON o.idempotency_key = w.message_key
LEFT JOIN lead_takes AS t ON t.lead_id = w.lead_id
WHERE w.settled = 0 AND o.state = 'sent' AND o.telegram_message_id IS NOT NULL
ORDER BY w.id LIMIT ?
"""
"""Sent new-lead messages still counting or ending; read through `lead_watches_live`."""


class Outcome(StrEnum):
    """How a new lead stopped waiting."""

    TAKEN = "taken"
    """Someone pressed Take."""
    ASSIGNED = "assigned"
    """A manager assigned it through the bot."""
    REASSIGNED = "reassigned"
    """Its responsible was changed in the portal."""
    MOVED = "moved"
    """It left its first stage."""
    CLOSED = "closed"
    """It was won or lost before anyone took it."""
    DELETED = "deleted"
    """It was deleted."""
    CAPPED = "capped"
    """Nobody took it within the counting cap (only a watch ends so; the lead still waits)."""


TAKE_OUTCOMES = frozenset({Outcome.TAKEN, Outcome.ASSIGNED, Outcome.REASSIGNED, Outcome.MOVED})
"""Outcomes that count as taken for speed to lead."""


@dataclass(frozen=True, slots=True)
class LeadStart:
    """A new lead as it started: followed until its first take."""

    lead_id: int
    created_at: datetime
    first_stage: str
    first_assigned: int | None
    source_id: str


@dataclass(frozen=True, slots=True)
class NewWatch:
    """A new-lead message of an escalating subscription (found by its outbox key)."""

    lead_id: int
    subscription_id: int
    chat_id: int
    thread_id: int | None
    message_key: str
    started_at: datetime
    escalate_at: datetime


@dataclass(frozen=True, slots=True)
class TakeRecord:
    """How long a lead waited for its first take, and who took it."""

    lead_id: int
    created_at: datetime
    taken_at: datetime
    outcome: Outcome
    portal_user_id: int | None
    source_id: str

    @property
    def minutes(self) -> float:
        """Minutes from creation to the take (never negative)."""
        return max(0.0, (self.taken_at - self.created_at).total_seconds() / 60)


@dataclass(frozen=True, slots=True)
class DueWatch:
    """A watch whose escalation deadline has passed."""

    id: int
    lead_id: int
    subscription_id: int
    chat_id: int
    started_at: datetime
    escalate_at: datetime


@dataclass(frozen=True, slots=True)
class LiveWatch:
    """A sent new-lead message whose counter or final line is still to be shown."""

    id: int
    lead_id: int
    subscription_id: int
    chat_id: int
    message_id: int
    notification: Notification
    started_at: datetime
    shown_minutes: int
    shown_at: datetime | None
    ended_at: datetime | None
    outcome: Outcome | None
    taken_by: str | None


def _chunks(ids: Sequence[int]) -> list[Sequence[int]]:
    return [ids[i : i + IDS_PER_QUERY] for i in range(0, len(ids), IDS_PER_QUERY)]


class EscalationRepository:
    """New leads until taken, and the messages that show how long they have waited."""

    def __init__(self, db: Database, clock: Clock = utc_now) -> None:
        self._db = db
        self._clock = clock

    async def add_in(
        self,
        conn: Connection,
        takes: Collection[LeadStart],
        watches: Collection[NewWatch],
    ) -> None:
        """Follow new leads and watch their messages (repeats are left out), in the caller's
        transaction: the outbox rows of the same messages go in with them."""
        if takes:
            await execute_many(
                conn,
                "INSERT INTO lead_takes (lead_id, created_at, first_stage, first_assigned, "
                "source_id) VALUES (?, ?, ?, ?, ?) ON CONFLICT (lead_id) DO NOTHING",
                [
                    (
                        t.lead_id,
                        to_db_time(t.created_at),
                        t.first_stage,
                        t.first_assigned,
                        t.source_id,
                    )
                    for t in takes
                ],
            )
        if watches:
            await execute_many(
                conn,
                "INSERT INTO lead_watches (lead_id, subscription_id, chat_id, thread_id, "
                "message_key, started_at, escalate_at) VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (message_key) DO NOTHING",
                [
                    (
                        w.lead_id,
                        w.subscription_id,
                        w.chat_id,
                        w.thread_id,
                        w.message_key,
                        to_db_time(w.started_at),
                        to_db_time(w.escalate_at),
                    )
                    for w in watches
                ],
            )

    async def add(self, takes: Collection[LeadStart], watches: Collection[NewWatch]) -> None:
        """`add_in` in a transaction of its own."""
        async with self._db.transaction() as conn:
            await self.add_in(conn, takes, watches)

    async def open_takes(self, lead_ids: Collection[int]) -> dict[int, LeadStart]:
        """The leads among these that nobody has taken yet."""
        found: dict[int, LeadStart] = {}
        for chunk in _chunks(sorted(lead_ids)):
            marks = ",".join("?" for _ in chunk)
            rows = await self._db.fetch_all(
                "SELECT lead_id, created_at, first_stage, first_assigned, source_id "  # noqa: S608
                f"FROM lead_takes WHERE outcome IS NULL AND lead_id IN ({marks})",
                chunk,
            )
            for row in rows:
                found[row["lead_id"]] = LeadStart(
                    lead_id=row["lead_id"],
                    created_at=from_db_time(row["created_at"]),
                    first_stage=row["first_stage"],
                    first_assigned=row["first_assigned"],
                    source_id=row["source_id"],
                )
        return found

    async def end(
        self,
        lead_id: int,
        outcome: Outcome,
        *,
        at: datetime,
        portal_user_id: int | None = None,
        taken_by: str | None = None,
    ) -> bool:
        """The lead stopped waiting: note how (the first end wins) and end its watches.

        Returns False when it had already ended (or was never followed).
        """
        async with self._db.transaction() as conn:
            ended = await execute(
                conn,
                "UPDATE lead_takes SET outcome = ?, taken_at = ?, portal_user_id = ?, "
                "taken_by = ? WHERE lead_id = ? AND outcome IS NULL",
                (outcome.value, to_db_time(at), portal_user_id, taken_by, lead_id),
            )
            await execute(
                conn,
                "UPDATE lead_watches SET ended_at = ?, outcome = ? "
                "WHERE lead_id = ? AND ended_at IS NULL",
                (to_db_time(at), outcome.value, lead_id),
            )
        return ended.rowcount == 1

    async def cap(self, watch_id: int, at: datetime) -> None:
        """Stop counting on one message (the lead waited longer than the cap)."""
        async with self._db.transaction() as conn:
            await execute(
                conn,
                "UPDATE lead_watches SET ended_at = ?, outcome = ? "
                "WHERE id = ? AND ended_at IS NULL",
                (to_db_time(at), Outcome.CAPPED.value, watch_id),
            )

    async def due(self, now: datetime, limit: int) -> list[DueWatch]:
        """Watches whose deadline is at or before `now`, not escalated nor ended; oldest first."""
        rows = await self._db.fetch_all(DUE_QUERY, (to_db_time(now), limit))
        return [
            DueWatch(
                id=r["id"],
                lead_id=r["lead_id"],
                subscription_id=r["subscription_id"],
                chat_id=r["chat_id"],
                started_at=from_db_time(r["started_at"]),
                escalate_at=from_db_time(r["escalate_at"]),
            )
            for r in rows
        ]

    async def next_due_at(self) -> datetime | None:
        """The earliest deadline still to come."""
        row = await self._db.fetch_one(
            "SELECT min(escalate_at) FROM lead_watches "
            "WHERE escalated_at IS NULL AND ended_at IS NULL"
        )
        return None if row is None or row[0] is None else from_db_time(row[0])

    async def mark_escalated_in(
        self, conn: Connection, watch_ids: Collection[int], at: datetime
    ) -> None:
        """These watches have been escalated (inside the transaction that queued the
        messages, so a restart neither loses nor repeats them)."""
        await execute_many(
            conn,
            "UPDATE lead_watches SET escalated_at = ? WHERE id = ? AND escalated_at IS NULL",
            [(to_db_time(at), watch_id) for watch_id in watch_ids],
        )

    async def escalated_at(self, watch_id: int) -> datetime | None:
        """When a watch was escalated (None: not yet, or never)."""
        row = await self._db.fetch_one(
            "SELECT escalated_at FROM lead_watches WHERE id = ?", (watch_id,)
        )
        return None if row is None else from_db_time_or_none(row["escalated_at"])

    async def live(self, limit: int) -> list[LiveWatch]:
        """Sent new-lead messages whose counter runs or whose last line is not shown yet.

        Messages not sent yet are left out: there is nothing to edit.
        """
        rows = await self._db.fetch_all(LIVE_QUERY, (limit,))
        live: list[LiveWatch] = []
        for r in rows:
            try:
                notification = Notification.from_json(decode_json(r["payload"]))
            except (MalformedNotificationError, ValueError):
                await self.settle(r["id"])  # never editable; nothing to count on
                continue
            live.append(
                LiveWatch(
                    id=r["id"],
                    lead_id=r["lead_id"],
                    subscription_id=r["subscription_id"],
                    chat_id=r["chat_id"],
                    message_id=r["telegram_message_id"],
                    notification=notification,
                    started_at=from_db_time(r["started_at"]),
                    shown_minutes=r["shown_minutes"],
                    shown_at=from_db_time_or_none(r["shown_at"]),
                    ended_at=from_db_time_or_none(r["ended_at"]),
                    outcome=Outcome(r["outcome"]) if r["outcome"] else None,
                    taken_by=r["taken_by"],
                )
            )
        return live

    async def shown(self, watch_id: int, minutes: int, at: datetime) -> None:
        """The message now says the lead has waited `minutes`."""
        async with self._db.transaction() as conn:
            await execute(
                conn,
                "UPDATE lead_watches SET shown_minutes = ?, shown_at = ? WHERE id = ?",
                (minutes, to_db_time(at), watch_id),
            )

    async def settle(self, watch_id: int) -> None:
        """The message shows how the wait ended (or never will): nothing more to edit."""
        async with self._db.transaction() as conn:
            await execute(conn, "UPDATE lead_watches SET settled = 1 WHERE id = ?", (watch_id,))

    async def is_watched(self, chat_id: int, telegram_message_id: int) -> bool:
        """Whether this sent message has a counter still running or its last line still to be
        shown (that line is then the worker's job)."""
        row = await self._db.fetch_one(
            "SELECT 1 FROM outbox AS o "
            "JOIN lead_watches AS w ON w.message_key = o.idempotency_key "
            "WHERE o.chat_id = ? AND o.telegram_message_id = ? AND w.settled = 0",
            (chat_id, telegram_message_id),
        )
        return row is not None

    async def takes(self, lead_ids: Collection[int]) -> dict[int, TakeRecord]:
        """The first takes of these leads, where the bot followed them until one."""
        found: dict[int, TakeRecord] = {}
        outcomes = sorted(o.value for o in TAKE_OUTCOMES)
        for chunk in _chunks(sorted(lead_ids)):
            marks = ",".join("?" for _ in chunk)
            rows = await self._db.fetch_all(
                "SELECT lead_id, created_at, taken_at, outcome, portal_user_id, source_id "  # noqa: S608
                f"FROM lead_takes WHERE lead_id IN ({marks}) "
                f"AND outcome IN ({','.join('?' for _ in outcomes)})",
                (*chunk, *outcomes),
            )
            for r in rows:
                found[r["lead_id"]] = TakeRecord(
                    lead_id=r["lead_id"],
                    created_at=from_db_time(r["created_at"]),
                    taken_at=from_db_time(r["taken_at"]),
                    outcome=Outcome(r["outcome"]),
                    portal_user_id=r["portal_user_id"],
                    source_id=r["source_id"],
                )
        return found

    async def prune(self, *, watches_before: datetime, takes_before: datetime) -> int:
        """Delete the watches of leads created before `watches_before` (long settled, or never
        to be: a message that was never sent), and every take row of leads created before
        `takes_before` (reports reach back that far at most)."""
        deleted = 0
        for sql, before in (
            (
                "DELETE FROM lead_watches WHERE id IN (SELECT id FROM lead_watches "
                "WHERE started_at < ? LIMIT ?)",
                watches_before,
            ),
            (
                "DELETE FROM lead_takes WHERE lead_id IN (SELECT lead_id FROM lead_takes "
                "WHERE created_at < ? LIMIT ?)",
                takes_before,
            ),
        ):
            while True:
                async with self._db.transaction() as conn:
                    result = await execute(conn, sql, (to_db_time(before), PRUNE_BATCH))
                deleted += result.rowcount
                if result.rowcount < PRUNE_BATCH:
                    break
        return deleted
