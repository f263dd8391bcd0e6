"""Telegram updates, stored durably before Telegram is told they arrived, handled once each.

A row is written (and claimed by the replica that wrote it) before the webhook answers 200 or
the poller confirms the offset. Handling marks it with its outcome and drops its body; a row
still unhandled when its claim runs out (its replica died) is claimed again and replayed. The
update_id is the key, so an update delivered twice is stored, and handled, once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from bot.storage.db import Database
from bot.storage.json_codec import decode_json, encode_json
from bot.storage.sql import execute, fetch_all_in
from bot.storage.timestamps import Clock, to_db_time, utc_now

# Rows per multi-row INSERT (4 parameters each, well under SQLite's parameter limit).
ROWS_PER_INSERT = 100
_HANDLED_BODY = "{}"


class UpdateOutcome(StrEnum):
    """How handling an update ended."""

    HANDLED = "handled"
    UNHANDLED = "unhandled"  # no handler took it
    FAILED = "failed"  # a handler raised; the error handlers had their turn


@dataclass(frozen=True, slots=True)
class StoredUpdate:
    """An update waiting to be handled: its id and its body as Telegram sent it."""

    update_id: int
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class SentReply:
    """A reply the handler of an update sent: its place among them, the Bot API method, a
    digest of its text, and Telegram's answer as JSON."""

    seq: int
    method: str
    request: str
    """A digest of what was asked (the text), to tell the same reply from another one."""
    result: Any


class UpdateRepository:
    """The `telegram_updates` table (store, claim, finish, prune) and the replies each
    handler sent (`telegram_replies`)."""

    def __init__(self, db: Database, clock: Clock = utc_now) -> None:
        self._db = db
        self._clock = clock

    async def store(self, updates: Sequence[StoredUpdate], *, claim_for: timedelta) -> set[int]:
        """Store the updates in one durable transaction, each claimed for `claim_for` by the
        caller; returns the ids that were new (the others were stored before)."""
        if not updates:
            return set()
        now = self._clock()
        received, until = to_db_time(now), to_db_time(now + claim_for)
        new: set[int] = set()
        async with self._db.transaction(durable=True) as conn:
            for start in range(0, len(updates), ROWS_PER_INSERT):
                chunk = updates[start : start + ROWS_PER_INSERT]
                values = ",".join("(?, ?, ?, ?)" for _ in chunk)
                params = [
                    value
                    for update in chunk
                    for value in (update.update_id, encode_json(update.payload), received, until)
                ]
                rows = await fetch_all_in(
                    conn,
                    "INSERT INTO telegram_updates "  # noqa: S608
                    "(update_id, payload, received_at, claimed_until) "
                    f"VALUES {values} ON CONFLICT (update_id) DO NOTHING RETURNING update_id",
                    params,
                )
                new.update(int(row[0]) for row in rows)
        return new

    async def claim_waiting(self, claim_for: timedelta, limit: int = 100) -> list[StoredUpdate]:
        """Claim unhandled updates whose claim ran out, oldest first, for `claim_for`."""
        now = self._clock()
        moment = to_db_time(now)
        async with self._db.transaction() as conn:
            # The outer conditions are checked again on a row another replica just claimed.
            rows = await fetch_all_in(
                conn,
                """
                UPDATE telegram_updates SET claimed_until = ?
                WHERE handled_at IS NULL AND claimed_until <= ? AND update_id IN (
                    SELECT update_id FROM telegram_updates
                    WHERE handled_at IS NULL AND claimed_until <= ?
                    ORDER BY update_id LIMIT ?
                )
                RETURNING update_id, payload
                """,
                (to_db_time(now + claim_for), moment, moment, limit),
            )
        return sorted(
            (StoredUpdate(int(row["update_id"]), decode_json(row["payload"])) for row in rows),
            key=lambda update: update.update_id,
        )

    async def renew(self, update_ids: Sequence[int], claim_for: timedelta) -> int:
        """Extend this replica's claims on updates it is still handling; returns how many."""
        if not update_ids:
            return 0
        marks = ",".join("?" for _ in update_ids)
        async with self._db.transaction() as conn:
            result = await execute(
                conn,
                "UPDATE telegram_updates SET claimed_until = ? "  # noqa: S608
                f"WHERE handled_at IS NULL AND update_id IN ({marks})",
                (to_db_time(self._clock() + claim_for), *update_ids),
            )
        return result.rowcount

    async def release_claims(self) -> int:
        """End every claim on an unhandled update (on start, when no other process can hold
        one); returns how many there were."""
        async with self._db.transaction() as conn:
            result = await execute(
                conn,
                "UPDATE telegram_updates SET claimed_until = received_at WHERE handled_at IS NULL",
            )
        return result.rowcount

    async def finish(self, update_id: int, outcome: UpdateOutcome) -> bool:
        """Record that the update was handled, and drop its body and its replies' records;
        False when it already was."""
        async with self._db.transaction() as conn:
            result = await execute(
                conn,
                "UPDATE telegram_updates SET handled_at = ?, outcome = ?, payload = ? "
                "WHERE update_id = ? AND handled_at IS NULL",
                (to_db_time(self._clock()), outcome.value, _HANDLED_BODY, update_id),
            )
            await execute(conn, "DELETE FROM telegram_replies WHERE update_id = ?", (update_id,))
        return result.rowcount == 1

    async def record_reply(self, update_id: int, reply: SentReply) -> None:
        """Record that the handler of the update sent its `reply.seq`-th reply, and Telegram's
        answer (a process killed right after the send may lose the record: a process crash
        keeps it, as it keeps every write)."""
        async with self._db.transaction() as conn:
            await execute(
                conn,
                "INSERT INTO telegram_replies (update_id, seq, method, request, result) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (update_id, seq) DO UPDATE SET "
                "method = excluded.method, request = excluded.request, result = excluded.result",
                (update_id, reply.seq, reply.method, reply.request, encode_json(reply.result)),
            )

    async def replies(self, update_id: int) -> list[SentReply]:
        """The replies recorded for an unhandled update, in the order they were sent."""
        rows = await self._db.fetch_all(
            "SELECT seq, method, request, result FROM telegram_replies "
            "WHERE update_id = ? ORDER BY seq",
            (update_id,),
        )
        return [
            SentReply(
                int(row["seq"]),
                str(row["method"]),
                str(row["request"]),
                decode_json(row["result"]),
            )
            for row in rows
        ]

    async def outcome(self, update_id: int) -> UpdateOutcome | None:
        """How the update's handling ended (None: unknown, or not handled yet)."""
        row = await self._db.fetch_one(
            "SELECT outcome FROM telegram_updates WHERE update_id = ?", (update_id,)
        )
        if row is None or row["outcome"] is None:
            return None
        return UpdateOutcome(row["outcome"])

    async def waiting_count(self) -> int:
        """Updates stored and not handled yet."""
        row = await self._db.fetch_one(
            "SELECT count(*) FROM telegram_updates WHERE handled_at IS NULL"
        )
        return 0 if row is None else int(row[0])

    async def prune(self, *, handled_before: datetime, limit: int) -> int:
        """Delete up to `limit` updates handled before the moment; returns how many went."""
        async with self._db.transaction() as conn:
            result = await execute(
                conn,
                """
                DELETE FROM telegram_updates WHERE update_id IN (
                    SELECT update_id FROM telegram_updates
                    WHERE handled_at IS NOT NULL AND handled_at < ?
                    ORDER BY handled_at LIMIT ?
                )
                """,
                (to_db_time(handled_before), limit),
            )
        return result.rowcount
