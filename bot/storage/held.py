"""Notifications a quiet chat was not sent outside its working hours, kept for its digest."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.storage.db import Database
from bot.storage.outbox import NewOutboxMessage, OutboxMessage, OutboxRepository
from bot.storage.sql import Connection, execute
from bot.storage.timestamps import Clock, from_db_time, to_db_time, utc_now


@dataclass(frozen=True, slots=True)
class HeldNotification:
    """One notification that waits for the chat's window: what the digest needs of it."""

    id: int
    chat_id: int
    thread_id: int | None
    lead_id: int | None
    kind: str | None
    title: str | None
    held_at: datetime


@dataclass(frozen=True, slots=True)
class HeldChat:
    """A chat (or forum topic) with notifications waiting, and how many."""

    chat_id: int
    thread_id: int | None
    count: int


class HeldRepository:
    """Holds outbox rows aside and hands them back, all at once, as one digest message."""

    def __init__(self, db: Database, outbox: OutboxRepository, clock: Clock = utc_now) -> None:
        self._db = db
        self._outbox = outbox
        self._clock = clock

    async def hold(self, row: OutboxMessage) -> None:
        """Take the row out of the sending queue and keep it for the digest (one transaction)."""
        now = to_db_time(self._clock())
        async with self._db.transaction() as conn:
            await execute(
                conn,
                "UPDATE outbox SET state = 'sent', sent_at = ?, last_error = ? "
                "WHERE id = ? AND state = 'pending'",
                (now, "held for the digest", row.id),
            )
            await execute(
                conn,
                "INSERT INTO held_notifications (outbox_id, chat_id, thread_id, lead_id, kind, "
                "title, held_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (outbox_id) DO NOTHING",
                (
                    row.id,
                    row.chat_id,
                    row.thread_id or 0,
                    row.lead_id,
                    row.notification.kind,
                    row.notification.title,
                    now,
                ),
            )

    async def chats(self) -> list[HeldChat]:
        """Every chat with something held, and how much."""
        rows = await self._db.fetch_all(
            "SELECT chat_id, thread_id, count(*) AS n FROM held_notifications "
            "GROUP BY chat_id, thread_id ORDER BY chat_id, thread_id"
        )
        return [HeldChat(r["chat_id"], r["thread_id"] or None, r["n"]) for r in rows]

    async def of_chat(self, chat_id: int, thread_id: int | None) -> list[HeldNotification]:
        """What the chat has waiting, oldest first."""
        rows = await self._db.fetch_all(
            "SELECT id, chat_id, thread_id, lead_id, kind, title, held_at "
            "FROM held_notifications WHERE chat_id = ? AND thread_id = ? ORDER BY id",
            (chat_id, thread_id or 0),
        )
        return [
            HeldNotification(
                id=r["id"],
                chat_id=r["chat_id"],
                thread_id=r["thread_id"] or None,
                lead_id=r["lead_id"],
                kind=r["kind"],
                title=r["title"],
                held_at=from_db_time(r["held_at"]),
            )
            for r in rows
        ]

    async def release(
        self, chat_id: int, thread_id: int | None, up_to_id: int, digest: NewOutboxMessage | None
    ) -> int:
        """Queue the digest and forget what it covers (rows up to `up_to_id`), atomically.

        The digest's idempotency key names the last row it covers, so a crash before the
        commit sends nothing and loses nothing; one after it sends the digest once.
        """
        async with self._db.transaction(durable=True) as conn:
            if digest is not None:
                await self._outbox.add_in(conn, digest)
            result = await execute(
                conn,
                "DELETE FROM held_notifications WHERE chat_id = ? AND thread_id = ? AND id <= ?",
                (chat_id, thread_id or 0, up_to_id),
            )
        return result.rowcount

    async def move_chat_in(self, conn: Connection, old_id: int, new_id: int) -> None:
        """A group became a supergroup: what it had waiting follows it."""
        await execute(
            conn, "UPDATE held_notifications SET chat_id = ? WHERE chat_id = ?", (new_id, old_id)
        )

    async def drop_chat_in(self, conn: Connection, chat_id: int) -> int:
        """The chat is gone for the bot: nothing it had waiting will be sent."""
        result = await execute(
            conn, "DELETE FROM held_notifications WHERE chat_id = ?", (chat_id,)
        )
        return result.rowcount
