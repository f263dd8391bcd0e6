"""Small durable settings as JSON under string keys (portal tokens, poller watermark, ...)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bot.storage.db import Database
from bot.storage.json_codec import decode_json, encode_json
from bot.storage.sql import execute, execute_many
from bot.storage.timestamps import Clock, to_db_time, utc_now

KEYS_PER_READ = 500
"""Keys asked for in one statement by `get_many` (well under every engine's parameter cap)."""

_UPSERT = """
INSERT INTO kv (key, value, updated_at) VALUES (?, ?, ?)
ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at
"""


class KeyValueRepository:
    """JSON values under string keys; values must round-trip through JSON exactly."""

    def __init__(self, db: Database, clock: Clock = utc_now) -> None:
        self._db = db
        self._clock = clock

    async def get(self, key: str, default: Any = None) -> Any:
        """The value stored under `key`, or `default` if there is none."""
        row = await self._db.fetch_one("SELECT value FROM kv WHERE key = ?", (key,))
        return default if row is None else decode_json(row["value"])

    async def get_many(self, keys: Sequence[str]) -> dict[str, Any]:
        """The values stored under those keys (a key with none is left out), in few reads."""
        found: dict[str, Any] = {}
        wanted = sorted(set(keys))
        for start in range(0, len(wanted), KEYS_PER_READ):
            chunk = wanted[start : start + KEYS_PER_READ]
            marks = ", ".join("?" for _ in chunk)
            rows = await self._db.fetch_all(
                f"SELECT key, value FROM kv WHERE key IN ({marks})",  # noqa: S608
                chunk,
            )
            found.update((row["key"], decode_json(row["value"])) for row in rows)
        return found

    async def set_many(self, values: Mapping[str, object]) -> None:
        """Store several values in one transaction, each replacing any previous one."""
        if not values:
            return
        now = to_db_time(self._clock())
        rows = [
            (key, encode_json(value, what=f"kv[{key!r}]"), now) for key, value in values.items()
        ]
        async with self._db.transaction() as conn:
            await execute_many(conn, _UPSERT, rows)

    async def set(self, key: str, value: object, *, durable: bool = False) -> None:
        """Store `value` under `key`, replacing any previous one.

        Pass `durable=True` when losing the write on power failure would hurt, e.g. rotated
        OAuth refresh tokens, which the portal invalidates as soon as it issues new ones.
        Raises `NotJsonError` for values that would not read back equal.
        """
        text = encode_json(value, what=f"kv[{key!r}]")
        async with self._db.transaction(durable=durable) as conn:
            await execute(conn, _UPSERT, (key, text, to_db_time(self._clock())))

    async def delete(self, key: str) -> bool:
        """Remove `key`; False if it was not there."""
        async with self._db.transaction() as conn:
            result = await execute(conn, "DELETE FROM kv WHERE key = ?", (key,))
        return result.rowcount == 1
