"""What the bot last saw of each lead, who took a lead from a message, and recent bot actions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.storage.db import Database
from bot.storage.json_codec import decode_json, encode_json
from bot.storage.sql import Connection, execute, execute_many, fetch_one_in
from bot.storage.timestamps import Clock, from_db_time, to_db_time, utc_now


@dataclass(frozen=True, slots=True)
class RecentBotAction:
    """A write the bot made for a user (from the bot_actions table)."""

    lead_id: int
    telegram_user_id: int
    portal_user_id: int
    action: str
    at: datetime


@dataclass(frozen=True, slots=True)
class LeadClaim:
    """Who took the lead offered by one message."""

    lead_id: int
    telegram_user_id: int
    portal_user_id: int
    name: str


class SnapshotRepository:
    """Lead snapshots (the last seen tracked fields), lead claims and bot action look-ups."""

    def __init__(self, db: Database, clock: Clock = utc_now) -> None:
        self._db = db
        self._clock = clock

    async def get_many(self, lead_ids: list[int]) -> dict[int, dict[str, Any]]:
        """Stored snapshots by lead id (missing ids are absent)."""
        found: dict[int, dict[str, Any]] = {}
        for start in range(0, len(lead_ids), 500):
            chunk = lead_ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = await self._db.fetch_all(
                f"SELECT lead_id, data FROM lead_snapshots WHERE lead_id IN ({marks})",  # noqa: S608
                chunk,
            )
            found.update({row["lead_id"]: decode_json(row["data"]) for row in rows})
        return found

    async def recent(self, limit: int) -> list[dict[str, Any]]:
        """The most recently updated snapshots, newest first."""
        rows = await self._db.fetch_all(
            "SELECT data FROM lead_snapshots ORDER BY updated_at DESC, lead_id DESC LIMIT ?",
            (limit,),
        )
        return [decode_json(row["data"]) for row in rows]

    async def prune_bot_actions(self, *, before: datetime, limit: int) -> int:
        """Delete up to `limit` bot actions older than that moment; returns how many went."""
        async with self._db.transaction() as conn:
            result = await execute(
                conn,
                "DELETE FROM bot_actions WHERE id IN "
                "(SELECT id FROM bot_actions WHERE at < ? ORDER BY at LIMIT ?)",
                (to_db_time(before), limit),
            )
        return result.rowcount

    async def prune_claims(self, *, before: datetime, limit: int) -> int:
        """Delete up to `limit` lead claims older than that moment; returns how many went."""
        async with self._db.transaction() as conn:
            result = await execute(
                conn,
                "DELETE FROM lead_claims WHERE (chat_id, message_id) IN (SELECT chat_id, "
                "message_id FROM lead_claims WHERE claimed_at < ? ORDER BY claimed_at LIMIT ?)",
                (to_db_time(before), limit),
            )
        return result.rowcount

    async def put_in(self, conn: Connection, lead_id: int, data: dict[str, Any]) -> None:
        """Store a lead's snapshot inside the caller's transaction."""
        await execute(
            conn,
            """
            INSERT INTO lead_snapshots (lead_id, data, updated_at) VALUES (?, ?, ?)
            ON CONFLICT (lead_id) DO UPDATE SET data = excluded.data,
                updated_at = excluded.updated_at
            """,
            (lead_id, encode_json(data), to_db_time(self._clock())),
        )

    async def put_many_in(self, conn: Connection, snapshots: dict[int, dict[str, Any]]) -> None:
        """Store many snapshots in one round trip inside the caller's transaction."""
        now = to_db_time(self._clock())
        await execute_many(
            conn,
            """
            INSERT INTO lead_snapshots (lead_id, data, updated_at) VALUES (?, ?, ?)
            ON CONFLICT (lead_id) DO UPDATE SET data = excluded.data,
                updated_at = excluded.updated_at
            """,
            [(lead_id, encode_json(data), now) for lead_id, data in snapshots.items()],
        )

    async def delete_in(self, conn: Connection, lead_id: int) -> None:
        """Forget a deleted lead inside the caller's transaction."""
        await execute(conn, "DELETE FROM lead_snapshots WHERE lead_id = ?", (lead_id,))

    async def bot_actions_since(
        self, lead_ids: list[int], window: timedelta
    ) -> dict[int, RecentBotAction]:
        """The latest bot action per lead within `window` from now."""
        if not lead_ids:
            return {}
        since = to_db_time(self._clock() - window)
        found: dict[int, RecentBotAction] = {}
        for start in range(0, len(lead_ids), 500):
            chunk = lead_ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = await self._db.fetch_all(
                "SELECT lead_id, telegram_user_id, portal_user_id, action, at "  # noqa: S608
                f"FROM bot_actions WHERE lead_id IN ({marks}) AND at >= ? ORDER BY at, id",
                (*chunk, since),
            )
            for row in rows:
                found[row["lead_id"]] = RecentBotAction(
                    lead_id=row["lead_id"],
                    telegram_user_id=row["telegram_user_id"],
                    portal_user_id=row["portal_user_id"],
                    action=row["action"],
                    at=from_db_time(row["at"]),
                )
        return found

    async def claim(
        self, chat_id: int, message_id: int, lead_id: int, claim: LeadClaim
    ) -> LeadClaim:
        """Take the lead of a message unless someone already did; returns the winning claim."""
        async with self._db.transaction(durable=True) as conn:
            await execute(
                conn,
                """
                INSERT INTO lead_claims (chat_id, message_id, lead_id, telegram_user_id,
                    portal_user_id, name, claimed_at)
                VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (chat_id, message_id) DO NOTHING
                """,
                (
                    chat_id,
                    message_id,
                    lead_id,
                    claim.telegram_user_id,
                    claim.portal_user_id,
                    claim.name,
                    to_db_time(self._clock()),
                ),
            )
            row = await fetch_one_in(
                conn,
                "SELECT lead_id, telegram_user_id, portal_user_id, name FROM lead_claims "
                "WHERE chat_id = ? AND message_id = ?",
                (chat_id, message_id),
            )
        assert row is not None
        return LeadClaim(
            lead_id=row["lead_id"],
            telegram_user_id=row["telegram_user_id"],
            portal_user_id=row["portal_user_id"],
            name=row["name"],
        )

    async def release_claim(self, chat_id: int, message_id: int, telegram_user_id: int) -> None:
        """Undo a claim whose portal update failed, so someone may try again."""
        async with self._db.transaction() as conn:
            await execute(
                conn,
                "DELETE FROM lead_claims WHERE chat_id = ? AND message_id = ? "
                "AND telegram_user_id = ?",
                (chat_id, message_id, telegram_user_id),
            )

    async def record_bot_action(
        self, lead_id: int, telegram_user_id: int, portal_user_id: int, action: str
    ) -> None:
        """Note a write the bot made for a user (echo suppression and attribution)."""
        async with self._db.transaction() as conn:
            await execute(
                conn,
                "INSERT INTO bot_actions (lead_id, telegram_user_id, portal_user_id, action, at) "
                "VALUES (?, ?, ?, ?, ?)",
                (lead_id, telegram_user_id, portal_user_id, action, to_db_time(self._clock())),
            )
