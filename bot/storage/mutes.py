"""Muted chats: notifications to a chat (or one forum topic) are not sent until a moment."""

from __future__ import annotations

from datetime import datetime

from bot.storage.db import Database
from bot.storage.sql import execute
from bot.storage.timestamps import Clock, from_db_time, to_db_time, utc_now


class MuteRepository:
    """One row per muted chat and topic; a row whose moment has passed means nothing."""

    def __init__(self, db: Database, clock: Clock = utc_now) -> None:
        self._db = db
        self._clock = clock

    async def mute(
        self, chat_id: int, thread_id: int | None, until: datetime, set_by: int
    ) -> None:
        """Hold the chat's notifications until `until` (replacing an earlier mute)."""
        async with self._db.transaction(durable=True) as conn:
            await execute(
                conn,
                "INSERT INTO chat_mutes (chat_id, thread_id, until, set_by) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (chat_id, thread_id) DO UPDATE SET until = excluded.until, "
                "set_by = excluded.set_by",
                (chat_id, thread_id or 0, to_db_time(until), set_by),
            )

    async def unmute(self, chat_id: int, thread_id: int | None) -> bool:
        """Send again from now on; False when the chat was not muted."""
        async with self._db.transaction(durable=True) as conn:
            result = await execute(
                conn,
                "DELETE FROM chat_mutes WHERE chat_id = ? AND thread_id = ?",
                (chat_id, thread_id or 0),
            )
        return result.rowcount == 1

    async def muted_until(self, chat_id: int, thread_id: int | None) -> datetime | None:
        """When the chat's mute ends, while it lasts (None: not muted now)."""
        row = await self._db.fetch_one(
            "SELECT until FROM chat_mutes WHERE chat_id = ? AND thread_id = ?",
            (chat_id, thread_id or 0),
        )
        if row is None:
            return None
        until = from_db_time(row["until"])
        return until if until > self._clock() else None
