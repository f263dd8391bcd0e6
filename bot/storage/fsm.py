"""aiogram FSM storage on our database (either engine): dialogs and forms survive restarts."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from aiogram.exceptions import DataNotDictLikeError
from aiogram.fsm.state import State
from aiogram.fsm.storage.base import BaseStorage, StateType, StorageKey

from bot.storage.db import Database
from bot.storage.json_codec import decode_json, encode_json
from bot.storage.sql import Connection, execute, fetch_one_in
from bot.storage.timestamps import Clock, to_db_time, utc_now

log = logging.getLogger(__name__)

# Every row of one chat member's dialog state goes together: a stack without its contexts (or
# contexts without their stack) would make aiogram-dialog fail instead of starting afresh.
_PRUNE_IDLE = """
DELETE FROM fsm
WHERE (bot_id, chat_id, user_id, thread_id, business_connection_id) IN (
    SELECT bot_id, chat_id, user_id, thread_id, business_connection_id FROM fsm
    GROUP BY bot_id, chat_id, user_id, thread_id, business_connection_id
    HAVING max(updated_at) < ?
)
"""

_KEY_WHERE = (
    "bot_id = ? AND chat_id = ? AND user_id = ? AND thread_id = ? "
    "AND business_connection_id = ? AND destiny = ?"
)


def _key_params(key: StorageKey) -> tuple[int, int, int, int, str, str]:
    # NOT NULL key columns: no thread is stored as 0 and no business connection as '', the
    # same identities aiogram's DefaultKeyBuilder gives them in its Redis and Mongo storages.
    return (
        key.bot_id,
        key.chat_id,
        key.user_id,
        key.thread_id or 0,
        key.business_connection_id or "",
        key.destiny,
    )


class SQLiteStorage(BaseStorage):
    """FSM state and data per `StorageKey` (every field, destiny included) in the `fsm` table.

    Each call is its own committed transaction, so a process restart keeps whatever the last
    handler wrote. `durable=True` also fsyncs each write (survives power loss) at a cost per
    update; by default WAL with synchronous=NORMAL is used. Data must be JSON-able and read
    back equal; anything else raises `NotJsonError` instead of being altered silently.
    A key whose state is None and data empty is deleted, as aiogram-dialog clears finished
    contexts by writing `{}`. `close()` leaves the shared database open: its owner closes it.
    """

    def __init__(self, db: Database, *, durable: bool = False, clock: Clock = utc_now) -> None:
        self._db = db
        self._durable = durable
        self._clock = clock

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        """Set the state of `key` (a `State` is stored by its string name)."""
        value = state.state if isinstance(state, State) else state
        async with self._db.transaction(durable=self._durable) as conn:
            await execute(
                conn,
                """
                INSERT INTO fsm (bot_id, chat_id, user_id, thread_id, business_connection_id,
                                 destiny, state, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (bot_id, chat_id, user_id, thread_id, business_connection_id, destiny)
                DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at
                """,
                (*_key_params(key), value, self._now()),
            )
            await self._drop_if_empty(conn, key)

    async def get_state(self, key: StorageKey) -> str | None:
        """The state of `key`, or None."""
        row = await self._db.fetch_one(
            f"SELECT state FROM fsm WHERE {_KEY_WHERE}",  # noqa: S608
            _key_params(key),
        )
        return None if row is None else row["state"]

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        """Replace the data of `key`."""
        text = self._encode(data)
        async with self._db.transaction(durable=self._durable) as conn:
            await self._write_data(conn, key, text)

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        """The data of `key`, a fresh dict each call ({} if none)."""
        row = await self._db.fetch_one(
            f"SELECT data FROM fsm WHERE {_KEY_WHERE}",  # noqa: S608
            _key_params(key),
        )
        if row is None:
            return {}
        data: dict[str, Any] = decode_json(row["data"])
        return data

    async def update_data(self, key: StorageKey, data: Mapping[str, Any]) -> dict[str, Any]:
        """Merge `data` into the stored data in one transaction and return the result."""
        async with self._db.transaction(durable=self._durable) as conn:
            row = await fetch_one_in(
                conn,
                f"SELECT data FROM fsm WHERE {_KEY_WHERE}",  # noqa: S608
                _key_params(key),
            )
            merged: dict[str, Any] = {} if row is None else decode_json(row["data"])
            merged.update(data)
            await self._write_data(conn, key, self._encode(merged))
        return merged

    async def prune(self, idle: timedelta) -> int:
        """Delete the dialog state of every chat untouched for `idle`; returns rows deleted."""
        cutoff = to_db_time(self._clock() - idle)
        async with self._db.transaction() as conn:
            result = await execute(conn, _PRUNE_IDLE, (cutoff,))
        return max(result.rowcount, 0)

    async def prune_forever(self, idle: timedelta, every: float) -> None:
        """`prune(idle)` now and then every `every` seconds, until cancelled."""
        while True:
            try:
                deleted = await self.prune(idle)
            except Exception:  # a failed round must not end the pruning for good
                log.exception("pruning idle dialog state failed")
            else:
                if deleted:
                    log.info("deleted %d rows of idle dialog state", deleted)
            await asyncio.sleep(every)

    async def close(self) -> None:
        """Nothing to release: the database belongs to the composition root."""

    def _now(self) -> str:
        return to_db_time(self._clock())

    @staticmethod
    def _encode(data: Mapping[str, Any]) -> str:
        if not isinstance(data, dict):
            raise DataNotDictLikeError(
                f"Data must be a dict or dict-like object, got {type(data).__name__}"
            )
        return encode_json(data, what="fsm data")

    async def _write_data(self, conn: Connection, key: StorageKey, text: str) -> None:
        await execute(
            conn,
            """
            INSERT INTO fsm (bot_id, chat_id, user_id, thread_id, business_connection_id,
                             destiny, data, updated_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (bot_id, chat_id, user_id, thread_id, business_connection_id, destiny)
                DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at
            """,
            (*_key_params(key), text, self._now()),
        )
        await self._drop_if_empty(conn, key)

    @staticmethod
    async def _drop_if_empty(conn: Connection, key: StorageKey) -> None:
        await execute(
            conn,
            f"DELETE FROM fsm WHERE {_KEY_WHERE} AND state IS NULL AND data = '{{}}'",  # noqa: S608
            _key_params(key),
        )
