"""The durable inbox of portal events: written before the portal gets its 2xx."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.storage.claims import ClaimedTable
from bot.storage.db import Database
from bot.storage.json_codec import decode_json, encode_json
from bot.storage.sql import Connection, SqlParams, execute, fetch_all_in
from bot.storage.timestamps import Clock, from_db_time, to_db_time, utc_now

_CLAIMED = ClaimedTable("inbox", "processed_at IS NULL")


@dataclass(frozen=True, slots=True)
class InboxEvent:
    """One stored event (from the portal's POST or from the catch-up poller)."""

    id: int
    dedup_key: str
    event: str
    lead_id: int | None
    payload: dict[str, Any]
    received_at: datetime


# Rows per multi-row INSERT (5 parameters each, well under SQLite's parameter limit).
ROWS_PER_INSERT = 100

HELD_ELSEWHERE = """
SELECT 1 FROM inbox AS other
WHERE other.processed_at IS NULL AND other.claimed_by <> ? AND other.claimed_until > ?
"""
"""A batch of unprocessed events that another holder (the first parameter) still claims at
the moment given (the second)."""

CLAIMABLE_QUERY = f"""
SELECT 1 FROM inbox WHERE processed_at IS NULL AND NOT EXISTS ({HELD_ELSEWHERE}) LIMIT 1
"""  # noqa: S608 - constants only
"""Whether `claim` would give a holder (the first parameter) anything at that moment."""

CLAIM_QUERY = """
UPDATE inbox SET claimed_by = ?, claimed_until = ?
WHERE id IN (
    SELECT i.id FROM inbox AS i
    WHERE i.processed_at IS NULL AND NOT EXISTS ({held_elsewhere})
    ORDER BY i.id LIMIT ?{skip_locked}
)
RETURNING id, dedup_key, event, lead_id, payload, received_at
"""
"""The oldest unprocessed events, while no other replica holds a batch of them.

One batch at a time, whichever replica takes it: every batch costs one request of the portal's
one bucket, shared by all replicas, so the events that arrive while a batch is read wait for the
next one and it carries them all (three replicas each reading what came in its own third of a
second would spend three requests on it). It also keeps each lead's events in one replica's
hands, so a change is never compared with its snapshot twice at once. A claim that ran out (its
replica died) no longer holds anything back; write transactions never interleave, so two
replicas cannot both see the inbox free."""


class InboxRepository:
    """Inbox rows: insert once per dedup key, read unprocessed, mark processed in a transaction."""

    def __init__(self, db: Database, clock: Clock = utc_now) -> None:
        self._db = db
        self._clock = clock

    async def add(
        self,
        dedup_key: str,
        event: str,
        lead_id: int | None,
        payload: dict[str, Any],
        *,
        durable: bool = True,
    ) -> bool:
        """Store an event; False when one with the same dedup key is already there."""
        async with self._db.transaction(durable=durable) as conn:
            return await self.add_in(conn, dedup_key, event, lead_id, payload)

    async def add_many(
        self, events: list[tuple[str, str, int | None, dict[str, Any]]], *, durable: bool = True
    ) -> list[bool]:
        """Store several events in one transaction (one disk flush); True for each new one.

        One multi-row INSERT: each statement is a round trip to the database thread, and
        this transaction is what the portal's acknowledgements wait for.
        """
        if not events:
            return []
        statements = self._inserts(events)
        new_keys: set[str] = set()
        if len(statements) == 1:
            # The usual batch: one statement, its own transaction (fewest trips to the database).
            [(sql, params)] = statements
            rows = await self._db.write_one(sql, params, durable=durable)
            new_keys.update(row[0] for row in rows)
        else:
            async with self._db.transaction(durable=durable) as conn:
                for sql, params in statements:
                    new_keys.update(row[0] for row in await fetch_all_in(conn, sql, params))
        return _first_places(events, new_keys)

    def add_now(
        self, events: list[tuple[str, str, int | None, dict[str, Any]]]
    ) -> list[bool] | None:
        """`add_many` (durable) without yielding to the loop, when the database can write at
        once (`Database.write_now`); None when it cannot, or for more than one statement's
        worth of events."""
        statements = self._inserts(events)
        if len(statements) != 1:
            return None
        [(sql, params)] = statements
        rows = self._db.write_now(sql, params)
        if rows is None:
            return None
        return _first_places(events, {row[0] for row in rows})

    def _inserts(
        self, events: list[tuple[str, str, int | None, dict[str, Any]]]
    ) -> list[tuple[str, list[object]]]:
        received = to_db_time(self._clock())
        statements = []
        for start in range(0, len(events), ROWS_PER_INSERT):
            chunk = events[start : start + ROWS_PER_INSERT]
            values = ",".join("(?, ?, ?, ?, ?)" for _ in chunk)
            params: list[object] = [
                value
                for key, event, lead_id, payload in chunk
                for value in (key, event, lead_id, encode_json(payload), received)
            ]
            statements.append(
                (
                    "INSERT INTO inbox (dedup_key, event, lead_id, payload, received_at) "  # noqa: S608
                    f"VALUES {values} ON CONFLICT (dedup_key) DO NOTHING RETURNING dedup_key",
                    params,
                )
            )
        return statements

    async def add_in(
        self,
        conn: Connection,
        dedup_key: str,
        event: str,
        lead_id: int | None,
        payload: dict[str, Any],
    ) -> bool:
        """Like `add`, inside the caller's transaction."""
        result = await execute(
            conn,
            """
            INSERT INTO inbox (dedup_key, event, lead_id, payload, received_at)
            VALUES (?, ?, ?, ?, ?) ON CONFLICT (dedup_key) DO NOTHING
            """,
            (dedup_key, event, lead_id, encode_json(payload), to_db_time(self._clock())),
        )
        return result.rowcount == 1

    async def unprocessed(self, limit: int = 1000, after_id: int = 0) -> list[InboxEvent]:
        """Events not yet processed, oldest first (those with an id above `after_id`)."""
        rows = await self._db.fetch_all(
            """
            SELECT id, dedup_key, event, lead_id, payload, received_at FROM inbox
            WHERE processed_at IS NULL AND id > ? ORDER BY id LIMIT ?
            """,
            (after_id, limit),
        )
        return [_event(row) for row in rows]

    async def has_unprocessed(self, *, claimable_by: str | None = None) -> bool:
        """Whether any event waits; with `claimable_by`, only while no other replica holds a
        batch, so `claim` would give that holder something (a read: no write lock)."""
        params: SqlParams = ()
        if claimable_by is None:
            query = "SELECT 1 FROM inbox WHERE processed_at IS NULL LIMIT 1"
        else:
            query = CLAIMABLE_QUERY
            params = (claimable_by, to_db_time(self._clock()))
        return await self._db.fetch_one(query, params) is not None

    async def claim(self, holder: str, limit: int, lease: timedelta) -> list[InboxEvent]:
        """Take up to `limit` unprocessed events for `holder` until `lease` from now, oldest
        first; none while another replica holds a batch (see `CLAIM_QUERY`). Events whose
        holder's claim ran out (a replica that died), or `holder`'s own, are taken again.
        """
        # A read first: an idle replica asks every second, and a write waits for the lock.
        if not await self.has_unprocessed():
            return []
        now = self._clock()
        async with self._db.transaction() as conn:
            query = CLAIM_QUERY.format(
                held_elsewhere=HELD_ELSEWHERE,
                skip_locked=conn.dialect.skip_locked.format(alias="i"),
            )
            rows = await fetch_all_in(
                conn,
                query,
                (holder, to_db_time(now + lease), holder, to_db_time(now), limit),
            )
        return sorted((_event(row) for row in rows), key=lambda event: event.id)

    async def renew(self, holder: str, ids: Collection[int], lease: timedelta) -> int:
        """Extend `holder`'s claim on these unprocessed events; returns how many it still held
        (fewer than asked: the claim ran out and another replica may have them now)."""
        return await _CLAIMED.renew(self._db, holder, ids, self._clock() + lease)

    async def release(self, holder: str, ids: Collection[int]) -> None:
        """Let go of `holder`'s claim on these events at once (any replica may take them)."""
        await _CLAIMED.release(self._db, holder, ids)

    async def mark_processed_in(self, conn: Connection, ids: list[int]) -> None:
        """Mark events processed inside the caller's transaction."""
        now = to_db_time(self._clock())
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            await execute(
                conn,
                f"UPDATE inbox SET processed_at = ? WHERE id IN ({marks})",  # noqa: S608
                (now, *chunk),
            )

    async def pending_lead_ids(self, lead_ids: list[int]) -> set[int]:
        """Which of these leads already have an event waiting to be processed."""
        found: set[int] = set()
        for start in range(0, len(lead_ids), 500):
            chunk = lead_ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = await self._db.fetch_all(
                "SELECT DISTINCT lead_id FROM inbox "  # noqa: S608
                f"WHERE processed_at IS NULL AND lead_id IN ({marks})",
                chunk,
            )
            found.update(int(row[0]) for row in rows)
        return found

    async def prune(self, *, processed_before: datetime, limit: int) -> int:
        """Delete up to `limit` events processed before that moment; returns how many went."""
        async with self._db.transaction() as conn:
            result = await execute(
                conn,
                """
                DELETE FROM inbox WHERE id IN (
                    SELECT id FROM inbox WHERE processed_at IS NOT NULL AND processed_at < ?
                    ORDER BY processed_at LIMIT ?)
                """,
                (to_db_time(processed_before), limit),
            )
        return result.rowcount

    async def pending_count(self) -> int:
        """Events waiting to be processed (reads the partial index only)."""
        row = await self._db.fetch_one("SELECT count(*) FROM inbox WHERE processed_at IS NULL")
        return int(row[0]) if row is not None else 0

    async def last_received_at(self) -> datetime | None:
        """When the newest stored event arrived (the last row by id, no scan)."""
        row = await self._db.fetch_one("SELECT received_at FROM inbox ORDER BY id DESC LIMIT 1")
        return None if row is None else from_db_time(row[0])

    async def note_failure(self, ids: list[int], error: str) -> None:
        """Count a failed processing attempt of these events."""
        async with self._db.transaction() as conn:
            for event_id in ids:
                await execute(
                    conn,
                    "UPDATE inbox SET attempts = attempts + 1, last_error = ? WHERE id = ?",
                    (error[:500], event_id),
                )

    async def count(self, *, processed: bool | None = None) -> int:
        """How many events are stored (optionally only processed or unprocessed ones)."""
        where = ""
        if processed is True:
            where = " WHERE processed_at IS NOT NULL"
        elif processed is False:
            where = " WHERE processed_at IS NULL"
        row = await self._db.fetch_one(f"SELECT count(*) FROM inbox{where}")  # noqa: S608
        return int(row[0]) if row is not None else 0


def _event(row: Any) -> InboxEvent:
    return InboxEvent(
        id=row["id"],
        dedup_key=row["dedup_key"],
        event=row["event"],
        lead_id=row["lead_id"],
        payload=decode_json(row["payload"]),
        received_at=from_db_time(row["received_at"]),
    )


def _first_places(
    events: list[tuple[str, str, int | None, dict[str, Any]]], new_keys: set[str]
) -> list[bool]:
    """True for each event stored new; a key repeated within the batch is new only at its
    first place."""
    result = []
    for key, _, _, _ in events:
        result.append(key in new_keys)
        new_keys.discard(key)
    return result
