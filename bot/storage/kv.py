"""Small durable settings as JSON under string keys (portal tokens, poller watermark, ...)."""

from __future__ import annotations

from typing import Any

from bot.storage.db import Database
from bot.storage.json_codec import decode_json, encode_json
from bot.storage.sql import execute
from bot.storage.timestamps import Clock, to_db_time, utc_now


class KeyValueRepository:
    """JSON values under string keys; values must round-trip through JSON exactly."""

    def __init__(self, db: Database, clock: Clock = utc_now) -> None:
        self._db = db
        self._clock = clock

    async def get(self, key: str, default: Any = None) -> Any:
        """The value stored under `key`, or `default` if there is none."""
        row = await self._db.fetch_one("SELECT value FROM kv WHERE key = ?", (key,))
        return default if row is None else decode_json(row["value"])

    async def set(self, key: str, value: object, *, durable: bool = False) -> None:
        """Store `value` under `key`, replacing any previous one.

        Pass `durable=True` when losing the write on power failure would hurt, e.g. rotated
        OAuth refresh tokens, which the portal invalidates as soon as it issues new ones.
        Raises `NotJsonError` for values that would not read back equal.
        """
        text = encode_json(value, what=f"kv[{key!r}]")
        async with self._db.transaction(durable=durable) as conn:
            await execute(
                conn,
                """
                INSERT INTO kv (key, value, updated_at) VALUES (?, ?, ?)
                ON CONFLICT (key) DO UPDATE SET
                    value = excluded.value, updated_at = excluded.updated_at
                """,
                (key, text, to_db_time(self._clock())),
            )

    async def delete(self, key: str) -> bool:
        """Remove `key`; False if it was not there."""
        async with self._db.transaction() as conn:
            result = await execute(conn, "DELETE FROM kv WHERE key = ?", (key,))
        return result.rowcount == 1
