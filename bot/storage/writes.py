"""Records of the bot's portal writes, each under its own key: started before, done after.

A record is written durably before the portal write and marked done, with the id the portal
gave, after it. The records live in the `kv` table under `write:<key>` and age out with the
handled Telegram updates that made them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from bot.storage.db import Database
from bot.storage.kv import KeyValueRepository
from bot.storage.sql import execute
from bot.storage.timestamps import Clock, from_db_time, to_db_time, utc_now

KEY_PREFIX = "write:"


class WriteState(StrEnum):
    """Where a write stood when its record was last written."""

    STARTED = "started"
    """Recorded before the portal write: its outcome is unknown."""
    DONE = "done"
    """The portal took the write."""


@dataclass(frozen=True, slots=True)
class WriteRecord:
    """One write's record: its state, the id the portal gave (if any), when it started."""

    state: WriteState
    started_at: datetime
    result: int | None = None


class WriteRecordRepository:
    """Write records in the `kv` table: get, start, finish, prune."""

    def __init__(self, db: Database, clock: Clock = utc_now) -> None:
        self._db = db
        self._kv = KeyValueRepository(db, clock)
        self._clock = clock

    async def get(self, key: str) -> WriteRecord | None:
        """The record under `key`, or None when no write was started under it."""
        value = await self._kv.get(KEY_PREFIX + key)
        if not isinstance(value, dict):
            return None
        result = value.get("result")
        return WriteRecord(
            state=WriteState(value["state"]),
            started_at=from_db_time(value["started_at"]),
            result=result if isinstance(result, int) else None,
        )

    async def start(self, key: str) -> WriteRecord:
        """Record, durably, that the write under `key` is about to be sent."""
        record = WriteRecord(WriteState.STARTED, self._clock())
        await self._kv.set(KEY_PREFIX + key, _value(record), durable=True)
        return record

    async def finish(self, key: str, started: WriteRecord, result: int | None) -> None:
        """Record that the portal took the write under `key` (and the id it gave)."""
        record = WriteRecord(WriteState.DONE, started.started_at, result)
        await self._kv.set(KEY_PREFIX + key, _value(record))

    async def prune(self, *, before: datetime, limit: int) -> int:
        """Delete up to `limit` records last written before the moment; returns how many."""
        async with self._db.transaction() as conn:
            result = await execute(
                conn,
                """
                DELETE FROM kv WHERE key IN (
                    SELECT key FROM kv WHERE key LIKE ? AND updated_at < ?
                    ORDER BY updated_at LIMIT ?
                )
                """,
                (KEY_PREFIX + "%", to_db_time(before), limit),
            )
        return result.rowcount


def _value(record: WriteRecord) -> dict[str, object]:
    return {
        "state": record.state.value,
        "started_at": to_db_time(record.started_at),
        "result": record.result,
    }
