"""What a chat (or forum topic) set about its time: zone, working days and hours, quiet."""

from __future__ import annotations

from dataclasses import dataclass

from bot.storage.db import Database
from bot.storage.sql import execute
from bot.storage.timestamps import Clock, to_db_time, utc_now


@dataclass(frozen=True, slots=True)
class StoredHours:
    """A chat's row as stored; None means "not set, use the default"."""

    time_zone: str | None = None
    days: str | None = None
    start_minute: int | None = None
    end_minute: int | None = None
    quiet: bool = False


CHATS_PER_READ = 1000
"""Chats whose stored hours `many` reads in one statement."""


class HoursRepository:
    """One row per chat and topic that changed anything about its time."""

    def __init__(self, db: Database, clock: Clock = utc_now) -> None:
        self._db = db
        self._clock = clock

    async def get(self, chat_id: int, thread_id: int | None = None) -> StoredHours:
        """The chat's settings (all defaults when it never set any)."""
        row = await self._db.fetch_one(
            "SELECT time_zone, days, start_minute, end_minute, quiet FROM chat_hours "
            "WHERE chat_id = ? AND thread_id = ?",
            (chat_id, thread_id or 0),
        )
        if row is None:
            return StoredHours()
        return StoredHours(
            time_zone=row["time_zone"],
            days=row["days"],
            start_minute=row["start_minute"],
            end_minute=row["end_minute"],
            quiet=bool(row["quiet"]),
        )

    async def many(
        self, chats: list[tuple[int, int | None]]
    ) -> dict[tuple[int, int], StoredHours]:
        """The stored rows of several chats at once, keyed by (chat, topic or 0)."""
        wanted = {(chat, thread or 0) for chat, thread in chats}
        if not wanted:
            return {}
        chat_ids = sorted({chat for chat, _ in wanted})
        columns = "chat_id, thread_id, time_zone, days, start_minute, end_minute, quiet"
        rows = []
        # A morning's thousands of people: reads of a bounded size (engines cap parameters).
        for start in range(0, len(chat_ids), CHATS_PER_READ):
            chunk = chat_ids[start : start + CHATS_PER_READ]
            marks = ", ".join("?" for _ in chunk)
            sql = f"SELECT {columns} FROM chat_hours WHERE chat_id IN ({marks})"  # noqa: S608
            rows.extend(await self._db.fetch_all(sql, chunk))
        found: dict[tuple[int, int], StoredHours] = {}
        for row in rows:
            key = (row["chat_id"], row["thread_id"])
            if key in wanted:
                found[key] = StoredHours(
                    time_zone=row["time_zone"],
                    days=row["days"],
                    start_minute=row["start_minute"],
                    end_minute=row["end_minute"],
                    quiet=bool(row["quiet"]),
                )
        return found

    async def save(self, chat_id: int, thread_id: int | None, hours: StoredHours) -> None:
        """Replace the chat's settings with these."""
        values = (
            hours.time_zone,
            hours.days,
            hours.start_minute,
            hours.end_minute,
            int(hours.quiet),
        )
        async with self._db.transaction(durable=True) as conn:
            await execute(
                conn,
                "INSERT INTO chat_hours (chat_id, thread_id, time_zone, days, start_minute, "
                "end_minute, quiet, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (chat_id, thread_id) DO UPDATE SET time_zone = excluded.time_zone, "
                "days = excluded.days, start_minute = excluded.start_minute, "
                "end_minute = excluded.end_minute, quiet = excluded.quiet, "
                "updated_at = excluded.updated_at",
                (chat_id, thread_id or 0, *values, to_db_time(self._clock())),
            )
