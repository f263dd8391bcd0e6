"""The notification outbox: rows written with the inbox mark, drained by the sender."""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.storage.claims import ClaimedTable
from bot.storage.db import Database
from bot.storage.json_codec import decode_json, encode_json
from bot.storage.sql import Connection, execute, execute_many, fetch_all_in
from bot.storage.timestamps import Clock, from_db_time, to_db_time, utc_now

_CLAIMED = ClaimedTable("outbox", "state = 'pending'")

DUE_QUERY = """
SELECT o.id, o.idempotency_key, o.chat_id, o.thread_id, o.lead_id, o.payload,
       o.attempts, o.next_attempt_at, o.priority
FROM outbox AS o
WHERE o.state = 'pending'{live} AND o.chat_id NOT IN ({excluded})
  AND o.next_attempt_at <= ?
  AND NOT EXISTS (
      SELECT 1 FROM outbox AS h
      WHERE h.state = 'pending' AND h.chat_id = o.chat_id
        AND (h.priority, h.id) < (o.priority, o.id)
  ){also}
ORDER BY o.priority, o.id LIMIT ?
"""
"""The head of each chat not excluded (a JSON array), if due: its oldest live row, or its oldest
routine row when no live one waits (a notification overtakes the chat's morning nudge, never
another notification); live heads first, then oldest first.

The pending rows are walked in that order (`outbox_pending_order`) and each is kept if no row
of its chat comes before it (`outbox_pending_heads`), until `LIMIT` are found: the cost is the
rows walked, not the queue. Grouping every pending row by chat first cost 9.6 ms a call with
8,800 rows pending (the morning's nudges), 0.18 ms this way; the sender asks several times a
second.

`{excluded}` is the dialect's `int_array_rows`; `{live}`, `LIVE_ONLY` to leave out the chats
that have only routine rows waiting, or empty; `{also}`, a further condition on the head `o`
(empty for none)."""
LIVE_ONLY = " AND o.priority = 0"

HELD_ELSEWHERE = """
EXISTS (
    SELECT 1 FROM outbox AS c
    WHERE c.state = 'pending' AND c.chat_id = {row}.chat_id
      AND c.claimed_by <> ? AND c.claimed_until > ?
)"""
"""Whether another replica holds a row of the chat of `{row}` (its placeholders: the holder
asking, now)."""

CLAIM_QUERY = """
UPDATE outbox SET claimed_by = ?, claimed_until = ?
WHERE id IN (
    SELECT o.id FROM outbox AS o
    WHERE o.id IN ({candidates}) AND o.state = 'pending' AND NOT {held_elsewhere}
    {skip_locked}
)
RETURNING id, idempotency_key, chat_id, thread_id, lead_id, payload, attempts,
          next_attempt_at, priority
"""
"""Takes the heads `due` found (read outside the write lock, which the acknowledgements of
portal events and Telegram updates wait for) for one replica: those still pending and in no
other replica's hands. A chat of which another replica holds a row waits for it, so each
chat's messages go out one at a time and in order, whichever replica sends them."""

PRUNE_BATCH = 1000
"""Rows deleted per transaction by `prune`."""


def _within(rows: list[Any], routine: int | None) -> list[Any]:
    """The heads (live first) with no more than `routine` routine ones (None: all)."""
    if routine is None:
        return rows
    kept: list[Any] = []
    for row in rows:
        if row["priority"]:
            if routine <= 0:
                break  # the routine heads come after every live one
            routine -= 1
        kept.append(row)
    return kept


class MalformedNotificationError(ValueError):
    """A stored row does not hold a notification (hand-edited, or written by a broken build)."""


@dataclass(frozen=True, slots=True)
class MessageButton:
    """An inline button: `callback_data` for the bot, or `url` to open."""

    text: str
    callback_data: str | None = None
    url: str | None = None

    def to_json(self) -> dict[str, str]:
        """The stored form: Telegram's own field names."""
        stored = {"text": self.text}
        if self.callback_data is not None:
            stored["callback_data"] = self.callback_data
        if self.url is not None:
            stored["url"] = self.url
        return stored

    @classmethod
    def from_json(cls, stored: object) -> MessageButton:
        """A stored button; raises `MalformedNotificationError` for anything else."""
        if not isinstance(stored, dict) or not isinstance(stored.get("text"), str):
            raise MalformedNotificationError("a button without a text")
        data, url = stored.get("callback_data"), stored.get("url")
        if not isinstance(data, str | None) or not isinstance(url, str | None):
            raise MalformedNotificationError("a button whose data or url is not text")
        if (data is None) == (url is None):
            raise MalformedNotificationError("a button needs exactly one of data and url")
        return cls(text=stored["text"], callback_data=data, url=url)


Keyboard = tuple[tuple[MessageButton, ...], ...]


@dataclass(frozen=True, slots=True)
class Notification:
    """What one outbox row sends: the text (HTML), its buttons, and whom it is for.

    `subscriber` is the Telegram id of who subscribed the chat (None: a message to a person
    that no subscription sent, such as an owner request): the sender checks again, at send
    time, that this person may still see a lead whose responsible is `assigned_by_id`.
    `urgent` ones go out even outside the chat's working hours; `title` names the lead in a
    digest of the notifications that waited for them.
    """

    text: str
    buttons: Keyboard = ()
    subscriber: int | None = None
    assigned_by_id: int | None = None
    kind: str | None = None
    urgent: bool = False
    title: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The stored form (the same keys rows have always had)."""
        stored: dict[str, Any] = {
            "text": self.text,
            "buttons": [[button.to_json() for button in row] for row in self.buttons],
        }
        for key in ("subscriber", "assigned_by_id", "kind", "title"):
            value = getattr(self, key)
            if value is not None:
                stored[key] = value
        if self.urgent:
            stored["urgent"] = True
        return stored

    @classmethod
    def from_json(cls, stored: object) -> Notification:
        """A stored notification, whichever build wrote it; raises `MalformedNotificationError`.

        Rows without buttons, subscriber or kind (owner requests, older builds) are complete.
        """
        if not isinstance(stored, dict) or not isinstance(stored.get("text"), str):
            raise MalformedNotificationError("no text")
        rows = stored.get("buttons") or []
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise MalformedNotificationError("buttons are not rows")
        numbers = {key: stored.get(key) for key in ("subscriber", "assigned_by_id")}
        for key, value in numbers.items():
            if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
                raise MalformedNotificationError(f"{key} is not a number")
        kind, title = stored.get("kind"), stored.get("title")
        return cls(
            text=stored["text"],
            buttons=tuple(tuple(MessageButton.from_json(b) for b in row) for row in rows),
            subscriber=numbers["subscriber"],
            assigned_by_id=numbers["assigned_by_id"],
            kind=kind if isinstance(kind, str) else None,
            urgent=stored.get("urgent") is True,
            title=title if isinstance(title, str) else None,
        )


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """One message to one chat (a forum topic when `thread_id` is set)."""

    id: int
    idempotency_key: str
    chat_id: int
    thread_id: int | None
    lead_id: int | None
    notification: Notification
    attempts: int
    next_attempt_at: datetime
    routine: bool = False
    """Queued as routine (a nudge, a digest): live notifications go first."""


@dataclass(frozen=True, slots=True)
class NewOutboxMessage:
    """A message to queue; its key makes queueing it twice harmless."""

    idempotency_key: str
    chat_id: int
    thread_id: int | None
    lead_id: int | None
    notification: Notification
    routine: bool = False
    """A message sent to many people at one moment (the morning nudge, a digest): it goes when
    no live notification is waiting, so a crowd of them never delays what just happened."""


@dataclass(frozen=True, slots=True)
class SentNotification:
    """A message the outbox delivered: where it went, which lead it is about, for whom."""

    id: int
    chat_id: int
    thread_id: int | None
    lead_id: int | None
    subscriber: int | None
    kind: str | None = None


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A message given up on, with the reason."""

    id: int
    chat_id: int
    lead_id: int | None
    attempts: int
    reason: str
    thread_id: int | None = None
    created_at: datetime | None = None


class OutboxRepository:
    """Outbox rows and their states: pending, sent, dead (with a reason)."""

    def __init__(self, db: Database, clock: Clock = utc_now) -> None:
        self._db = db
        self._clock = clock

    async def add_in(self, conn: Connection, message: NewOutboxMessage) -> bool:
        """Queue a message inside the caller's transaction; False if its key is already there."""
        now = to_db_time(self._clock())
        result = await execute(
            conn,
            """
            INSERT INTO outbox (idempotency_key, chat_id, thread_id, lead_id, payload,
                                next_attempt_at, created_at, priority)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (idempotency_key) DO NOTHING
            """,
            (
                message.idempotency_key,
                message.chat_id,
                message.thread_id,
                message.lead_id,
                encode_json(message.notification.to_json()),
                now,
                now,
                1 if message.routine else 0,
            ),
        )
        return result.rowcount == 1

    async def add_many_in(self, conn: Connection, messages: list[NewOutboxMessage]) -> None:
        """Queue many messages in one statement inside the caller's transaction (repeats of a
        key already there are left out)."""
        now = to_db_time(self._clock())
        await execute_many(
            conn,
            """
            INSERT INTO outbox (idempotency_key, chat_id, thread_id, lead_id, payload,
                                next_attempt_at, created_at, priority)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (idempotency_key) DO NOTHING
            """,
            [
                (
                    m.idempotency_key,
                    m.chat_id,
                    m.thread_id,
                    m.lead_id,
                    encode_json(m.notification.to_json()),
                    now,
                    now,
                    1 if m.routine else 0,
                )
                for m in messages
            ],
        )

    async def queue_many(self, messages: list[NewOutboxMessage]) -> None:
        """Queue messages in one transaction and one statement (repeats of a key already
        there are left out): for many at once, where `add` makes a round trip per message."""
        async with self._db.transaction() as conn:
            await self.add_many_in(conn, messages)

    async def add(self, messages: list[NewOutboxMessage]) -> int:
        """Queue messages in one transaction; returns how many were new."""
        added = 0
        async with self._db.transaction() as conn:
            for message in messages:
                added += await self.add_in(conn, message)
        return added

    async def due(
        self,
        limit: int,
        exclude_chats: Collection[int] = frozenset(),
        *,
        routine: int | None = None,
    ) -> list[OutboxMessage]:
        """The oldest pending message of each chat, when its time has come; live heads first,
        then oldest first.

        One row per chat, so a busy chat never fills the window and holds the others back;
        `exclude_chats` leaves out chats that may not get a message now (in flight, or their
        flood gap not yet over). Only the pending rows' partial index is read, not history.
        `routine` caps the routine heads (the morning's nudges) among them, 0 leaving out the
        chats that have only routine rows waiting: the sender asks for no more than may start,
        so thousands of nudges are not read and decoded at every round, and it asks once.
        """
        rows = await self._db.fetch_all(
            DUE_QUERY.format(
                excluded=self._db.dialect.int_array_rows,
                live=LIVE_ONLY if routine == 0 else "",
                also="",
            ),
            (json.dumps(sorted(exclude_chats)), to_db_time(self._clock()), limit),
        )
        due, set_aside = await self._messages(_within(rows, routine))
        if set_aside:
            # The chats of the rows set aside may have a next row due already.
            return await self.due(limit, exclude_chats, routine=routine)
        return due

    async def claim_due(
        self,
        holder: str,
        limit: int,
        lease: timedelta,
        exclude_chats: Collection[int] = frozenset(),
        *,
        routine: int | None = None,
    ) -> list[OutboxMessage]:
        """Like `due`, for one of several replicas: the heads are taken for `holder` until
        `lease` from now, and chats of which another replica holds a row are left out.

        A claim ends when the row leaves the queue (sent, skipped, dead), when `retry_later`
        puts it back, with `release`, or when it runs out (its replica died).
        """
        if limit <= 0:
            return []
        now = to_db_time(self._clock())
        dialect = self._db.dialect
        heads = await self._db.fetch_all(
            DUE_QUERY.format(
                excluded=dialect.int_array_rows,
                live=LIVE_ONLY if routine == 0 else "",
                also=" AND NOT " + HELD_ELSEWHERE.format(row="o"),
            ),
            (json.dumps(sorted(exclude_chats)), now, holder, now, limit),
        )
        heads = _within(heads, routine)
        if not heads:
            return []
        async with self._db.transaction() as conn:
            query = CLAIM_QUERY.format(
                candidates=dialect.int_array_rows,
                held_elsewhere=HELD_ELSEWHERE.format(row="o"),
                skip_locked=dialect.skip_locked.format(alias="o"),
            )
            rows = await fetch_all_in(
                conn,
                query,
                (
                    holder,
                    to_db_time(self._clock() + lease),
                    json.dumps([row["id"] for row in heads]),
                    holder,
                    now,
                ),
            )
        rows = sorted(rows, key=lambda row: (row["priority"], row["id"]))
        due, set_aside = await self._messages(rows)
        if set_aside:
            started = sum(m.routine for m in due)
            return due + await self.claim_due(
                holder,
                limit - len(due),
                lease,
                {*exclude_chats, *(m.chat_id for m in due)},
                routine=None if routine is None else max(0, routine - started),
            )
        return due

    async def renew(self, holder: str, ids: Collection[int], lease: timedelta) -> int:
        """Extend `holder`'s claim on these pending rows; returns how many it still held."""
        return await _CLAIMED.renew(self._db, holder, ids, self._clock() + lease)

    async def release(self, holder: str, ids: Collection[int]) -> None:
        """Let go of `holder`'s claim on these rows at once (any replica may send them)."""
        await _CLAIMED.release(self._db, holder, ids)

    async def _messages(self, rows: list[Any]) -> tuple[list[OutboxMessage], bool]:
        """The rows as messages; a row that holds no notification is set aside as dead (True:
        some were)."""
        due: list[OutboxMessage] = []
        set_aside = False
        for row in rows:
            try:
                notification = Notification.from_json(decode_json(row["payload"]))
            except (MalformedNotificationError, ValueError) as exc:
                # Never sendable: set aside with the reason, so it holds no chat back.
                await self.mark_dead(row["id"], f"malformed row: {exc}")
                set_aside = True
                continue
            due.append(
                OutboxMessage(
                    id=row["id"],
                    idempotency_key=row["idempotency_key"],
                    chat_id=row["chat_id"],
                    thread_id=row["thread_id"],
                    lead_id=row["lead_id"],
                    notification=notification,
                    attempts=row["attempts"],
                    next_attempt_at=from_db_time(row["next_attempt_at"]),
                    routine=bool(row["priority"]),
                )
            )
        return due, set_aside

    async def next_due_at(self) -> datetime | None:
        """When the earliest pending message becomes due."""
        row = await self._db.fetch_one(
            "SELECT min(next_attempt_at) FROM outbox WHERE state = 'pending'"
        )
        return None if row is None or row[0] is None else from_db_time(row[0])

    async def mark_sent(self, message_id: int, telegram_message_id: int | None = None) -> None:
        """The message reached Telegram as `telegram_message_id` (kept to check Take presses)."""
        await self._db.write_one(
            "UPDATE outbox SET state = 'sent', sent_at = ?, telegram_message_id = ?, "
            "attempts = attempts + 1 WHERE id = ?",
            (to_db_time(self._clock()), telegram_message_id, message_id),
        )

    async def skip(self, message_id: int, reason: str) -> None:
        """The message is no longer wanted (e.g. the reader may not see the lead any more)."""
        await self._db.write_one(
            "UPDATE outbox SET state = 'sent', sent_at = ?, last_error = ? WHERE id = ?",
            (to_db_time(self._clock()), f"skipped: {reason}"[:500], message_id),
        )

    async def sent_notification(
        self, chat_id: int, telegram_message_id: int
    ) -> SentNotification | None:
        """The row the outbox sent to a chat as that Telegram message (None: not ours, pruned)."""
        row = await self._db.fetch_one(
            "SELECT id, chat_id, thread_id, lead_id, payload FROM outbox "
            "WHERE chat_id = ? AND telegram_message_id = ? AND state = 'sent'",
            (chat_id, telegram_message_id),
        )
        if row is None:
            return None
        try:
            notification: Notification | None = Notification.from_json(decode_json(row["payload"]))
        except (MalformedNotificationError, ValueError):
            notification = None
        return SentNotification(
            id=row["id"],
            chat_id=row["chat_id"],
            thread_id=row["thread_id"],
            lead_id=row["lead_id"],
            subscriber=notification.subscriber if notification is not None else None,
            kind=notification.kind if notification is not None else None,
        )

    async def prune(self, sent_before: datetime, dead_before: datetime | None = None) -> int:
        """Delete sent and skipped rows finished before `sent_before` (and dead rows queued
        before `dead_before` when given); pending rows stay. Returns how many were deleted.

        Deleted in small transactions, so the write lock is never held for long.
        """
        deleted = 0
        batches = [("sent", "sent_at", sent_before)]
        if dead_before is not None:
            batches.append(("dead", "created_at", dead_before))
        for state, column, before in batches:
            while True:
                async with self._db.transaction() as conn:
                    result = await execute(
                        conn,
                        f"DELETE FROM outbox WHERE id IN ("  # noqa: S608 (fixed names)
                        f"SELECT id FROM outbox WHERE state = ? AND {column} < ? LIMIT ?)",
                        (state, to_db_time(before), PRUNE_BATCH),
                    )
                deleted += result.rowcount
                if result.rowcount < PRUNE_BATCH:
                    break
        return deleted

    async def retry_later(
        self, message_id: int, delay: timedelta, error: str, *, count_attempt: bool = True
    ) -> None:
        """Try again after `delay`."""
        async with self._db.transaction() as conn:
            await execute(
                conn,
                "UPDATE outbox SET next_attempt_at = ?, last_error = ?, "
                "attempts = attempts + ?, claimed_by = NULL, claimed_until = NULL WHERE id = ?",
                (
                    to_db_time(self._clock() + delay),
                    error[:500],
                    1 if count_attempt else 0,
                    message_id,
                ),
            )

    async def mark_dead(self, message_id: int, reason: str) -> None:
        """Give up on one message and keep the reason."""
        async with self._db.transaction() as conn:
            await execute(
                conn,
                "UPDATE outbox SET state = 'dead', last_error = ?, attempts = attempts + 1 "
                "WHERE id = ?",
                (reason[:500], message_id),
            )

    async def kill_chat_in(self, conn: Connection, chat_id: int, reason: str) -> int:
        """Give up on every pending message to a chat (inside the caller's transaction)."""
        result = await execute(
            conn,
            "UPDATE outbox SET state = 'dead', last_error = ? "
            "WHERE chat_id = ? AND state = 'pending'",
            (reason[:500], chat_id),
        )
        return result.rowcount

    async def move_chat_in(self, conn: Connection, old_id: int, new_id: int) -> int:
        """Point pending messages of a migrated group at its new id."""
        result = await execute(
            conn,
            "UPDATE outbox SET chat_id = ?, next_attempt_at = ?, claimed_by = NULL, "
            "claimed_until = NULL WHERE chat_id = ? AND state = 'pending'",
            (new_id, to_db_time(self._clock()), old_id),
        )
        return result.rowcount

    async def sent_messages(self, idempotency_keys: Collection[str]) -> list[tuple[int, int]]:
        """(chat id, Telegram message id) of the rows with these keys that were sent."""
        keys = sorted(idempotency_keys)
        if not keys:
            return []
        marks = ",".join("?" for _ in keys)
        rows = await self._db.fetch_all(
            f"SELECT chat_id, telegram_message_id FROM outbox WHERE idempotency_key IN ({marks}) "  # noqa: S608
            "AND state = 'sent' AND telegram_message_id IS NOT NULL",
            keys,
        )
        return [(int(row["chat_id"]), int(row["telegram_message_id"])) for row in rows]

    async def dead_letters(self, limit: int = 50, offset: int = 0) -> list[DeadLetter]:
        """The latest messages given up on, newest first (`offset` skips the newest ones)."""
        rows = await self._db.fetch_all(
            "SELECT id, chat_id, thread_id, lead_id, attempts, last_error, created_at "
            "FROM outbox WHERE state = 'dead' ORDER BY id DESC LIMIT ? OFFSET ?",
            (limit, offset),
        )
        return [
            DeadLetter(
                id=r["id"],
                chat_id=r["chat_id"],
                lead_id=r["lead_id"],
                attempts=r["attempts"],
                reason=r["last_error"] or "",
                thread_id=r["thread_id"],
                created_at=from_db_time(r["created_at"]),
            )
            for r in rows
        ]

    async def resend_dead(self, message_id: int | None = None) -> int:
        """Put a dead message (every dead one when None) back in the queue, due now.

        Its attempts start again from zero, so the sender gives it the full set of tries.
        """
        now = to_db_time(self._clock())
        async with self._db.transaction() as conn:
            result = await execute(
                conn,
                "UPDATE outbox SET state = 'pending', attempts = 0, next_attempt_at = ?, "
                "claimed_by = NULL, claimed_until = NULL "
                "WHERE state = 'dead' AND (CAST(? AS BIGINT) IS NULL OR id = ?)",
                (now, message_id, message_id),
            )
        return result.rowcount

    async def pending_routine(self) -> int:
        """How many routine messages (nudges, digests) wait to be sent."""
        row = await self._db.fetch_one(
            "SELECT count(*) FROM outbox WHERE state = 'pending' AND priority = 1"
        )
        return int(row[0]) if row is not None else 0

    async def count(self, state: str | None = None) -> int:
        """How many rows are in a state (all when None)."""
        if state is None:
            row = await self._db.fetch_one("SELECT count(*) FROM outbox")
        else:
            row = await self._db.fetch_one("SELECT count(*) FROM outbox WHERE state = ?", (state,))
        return int(row[0]) if row is not None else 0
