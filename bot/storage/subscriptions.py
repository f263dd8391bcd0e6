"""Who wants to hear about which leads, in which chat (and forum topic)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar, cast

from bot.storage.db import Database
from bot.storage.json_codec import decode_json, encode_json
from bot.storage.sql import Connection, Row, execute, fetch_all_in_pages, fetch_one_in
from bot.storage.timestamps import Clock, from_db_time, to_db_time, utc_now


class EventKind(StrEnum):
    """What happened to a lead, as subscriptions filter it."""

    ADDED = "added"
    CHANGED = "changed"
    STAGE = "stage"
    DELETED = "deleted"


class Scope(StrEnum):
    """Which leads a subscription covers."""

    MINE = "mine"
    ALL = "all"
    USERS = "users"


@dataclass(frozen=True, slots=True)
class Subscription:
    """One subscription of a chat; empty kinds/stages/sources mean "any"."""

    id: int
    chat_id: int
    thread_id: int | None
    created_by: int
    scope: Scope
    kinds: frozenset[EventKind] = frozenset()
    responsible_ids: frozenset[int] = frozenset()
    stages: frozenset[str] = frozenset()
    sources: frozenset[str] = frozenset()
    paused: bool = False
    disabled_reason: str | None = None
    language: str | None = None
    created_at: datetime | None = None
    escalate_minutes: int | None = None
    """Minutes a new lead may stay untaken before managers are told (None: never)."""
    escalate_to: frozenset[int] = frozenset()
    """Telegram ids of the chats told about an untaken lead (empty: every bound manager)."""

    @property
    def is_group(self) -> bool:
        """Groups and supergroups have negative ids."""
        return self.chat_id < 0

    @property
    def active(self) -> bool:
        """Neither paused nor disabled."""
        return not self.paused and self.disabled_reason is None


@dataclass(frozen=True, slots=True)
class NewSubscription:
    """What a new subscription should hold."""

    chat_id: int
    thread_id: int | None
    created_by: int
    scope: Scope
    kinds: frozenset[EventKind] = field(default_factory=frozenset)
    responsible_ids: frozenset[int] = field(default_factory=frozenset)
    stages: frozenset[str] = field(default_factory=frozenset)
    sources: frozenset[str] = field(default_factory=frozenset)
    language: str | None = None


@dataclass(frozen=True, slots=True)
class ChatSubscriptions:
    """The subscriptions of one chat (one forum topic when `thread_id` is set), counted."""

    chat_id: int
    thread_id: int | None
    total: int
    paused: int
    disabled: int
    disabled_reason: str | None
    created_by: int

    @property
    def is_group(self) -> bool:
        """Groups and supergroups have negative ids."""
        return self.chat_id < 0


_COLUMNS = (
    "id, chat_id, thread_id, created_by, kinds, scope, responsible_ids, stages, sources, "
    "paused, disabled_reason, language, created_at, escalate_minutes, escalate_to"
)


T = TypeVar("T")
_NOTHING: frozenset[Any] = frozenset()


def _set_of(values: Iterable[T]) -> frozenset[T]:
    """The values as a frozenset; no values give one shared empty set. Most of a big team's
    thousands of subscriptions filter on nothing: each empty set of their own held 216 bytes
    and was one more object for the collector to walk (five per subscription)."""
    found = frozenset(values)
    return found if found else cast(frozenset[T], _NOTHING)


def _row_to_subscription(row: Row) -> Subscription:
    return Subscription(
        id=row["id"],
        chat_id=row["chat_id"],
        thread_id=row["thread_id"],
        created_by=row["created_by"],
        scope=Scope(row["scope"]),
        kinds=_set_of(EventKind(k) for k in decode_json(row["kinds"])),
        responsible_ids=_set_of(int(i) for i in decode_json(row["responsible_ids"])),
        stages=_set_of(str(s) for s in decode_json(row["stages"])),
        sources=_set_of(str(s) for s in decode_json(row["sources"])),
        paused=bool(row["paused"]),
        disabled_reason=row["disabled_reason"],
        language=row["language"],
        created_at=from_db_time(row["created_at"]),
        escalate_minutes=row["escalate_minutes"],
        escalate_to=_set_of(int(i) for i in decode_json(row["escalate_to"])),
    )


class SubscriptionRepository:
    """Subscriptions: create, list, edit, pause, remove, disable a gone chat, follow migrations."""

    def __init__(self, db: Database, clock: Clock = utc_now) -> None:
        self._db = db
        self._clock = clock

    async def create(self, new: NewSubscription) -> Subscription:
        """Store a subscription and return it."""
        async with self._db.transaction() as conn:
            inserted = await fetch_one_in(
                conn,
                """
                INSERT INTO subscriptions (chat_id, thread_id, created_by, kinds, scope,
                    responsible_ids, stages, sources, language, created_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id
                """,
                (
                    new.chat_id,
                    new.thread_id,
                    new.created_by,
                    encode_json(sorted(k.value for k in new.kinds)),
                    new.scope.value,
                    encode_json(sorted(new.responsible_ids)),
                    encode_json(sorted(new.stages)),
                    encode_json(sorted(new.sources)),
                    new.language,
                    to_db_time(self._clock()),
                ),
            )
        assert inserted is not None
        found = await self.get(int(inserted["id"]))
        assert found is not None
        return found

    async def get(self, subscription_id: int) -> Subscription | None:
        """One subscription by id."""
        row = await self._db.fetch_one(
            f"SELECT {_COLUMNS} FROM subscriptions WHERE id = ?",  # noqa: S608
            (subscription_id,),
        )
        return None if row is None else _row_to_subscription(row)

    async def active(self) -> list[Subscription]:
        """Every subscription that is neither paused nor disabled."""
        return await fetch_all_in_pages(
            self._db,
            f"SELECT {_COLUMNS} FROM subscriptions "  # noqa: S608
            "WHERE paused = 0 AND disabled_reason IS NULL AND id > ? ORDER BY id LIMIT ?",
            key="id",
            convert=_row_to_subscription,
        )

    async def live_count(self, chat_id: int) -> int:
        """Subscriptions of one chat that are on: not paused and not disabled."""
        row = await self._db.fetch_one(
            "SELECT count(*) FROM subscriptions "
            "WHERE chat_id = ? AND paused = 0 AND disabled_reason IS NULL",
            (chat_id,),
        )
        return int(row[0]) if row is not None else 0

    async def for_chat(self, chat_id: int, thread_id: int | None = None) -> list[Subscription]:
        """Subscriptions of one chat (of one forum topic when `thread_id` is given)."""
        rows = await self._db.fetch_all(
            f"SELECT {_COLUMNS} FROM subscriptions WHERE chat_id = ? "  # noqa: S608
            "AND (CAST(? AS BIGINT) IS NULL OR thread_id = ?) ORDER BY id",
            (chat_id, thread_id, thread_id),
        )
        return [_row_to_subscription(r) for r in rows]

    async def update(
        self,
        subscription_id: int,
        *,
        kinds: frozenset[EventKind] | None = None,
        scope: Scope | None = None,
        paused: bool | None = None,
        responsible_ids: frozenset[int] | None = None,
        stages: frozenset[str] | None = None,
        sources: frozenset[str] | None = None,
        escalate_minutes: int | None = None,
        escalate_to: frozenset[int] | None = None,
    ) -> Subscription | None:
        """Change some settings of a subscription; returns it as it now stands.

        `escalate_minutes` of 0 switches escalation off.
        """
        sets: list[str] = []
        params: list[object] = []
        if kinds is not None:
            sets.append("kinds = ?")
            params.append(encode_json(sorted(k.value for k in kinds)))
        if scope is not None:
            sets.append("scope = ?")
            params.append(scope.value)
        if paused is not None:
            sets.append("paused = ?")
            params.append(1 if paused else 0)
        if responsible_ids is not None:
            sets.append("responsible_ids = ?")
            params.append(encode_json(sorted(responsible_ids)))
        if stages is not None:
            sets.append("stages = ?")
            params.append(encode_json(sorted(stages)))
        if sources is not None:
            sets.append("sources = ?")
            params.append(encode_json(sorted(sources)))
        if escalate_minutes is not None:
            sets.append("escalate_minutes = ?")
            params.append(escalate_minutes or None)
        if escalate_to is not None:
            sets.append("escalate_to = ?")
            params.append(encode_json(sorted(escalate_to)))
        if sets:
            async with self._db.transaction() as conn:
                await execute(
                    conn,
                    f"UPDATE subscriptions SET {', '.join(sets)} WHERE id = ?",  # noqa: S608
                    (*params, subscription_id),
                )
        return await self.get(subscription_id)

    async def remove(self, subscription_id: int) -> bool:
        """Delete a subscription; False if it was not there."""
        async with self._db.transaction() as conn:
            result = await execute(
                conn, "DELETE FROM subscriptions WHERE id = ?", (subscription_id,)
            )
        return result.rowcount == 1

    async def chats(self) -> list[ChatSubscriptions]:
        """Every chat (and forum topic) that has subscriptions, with their states counted."""
        rows = await self._db.fetch_all(
            """
            SELECT chat_id, thread_id, count(*) AS total, sum(paused) AS paused,
                   count(disabled_reason) AS disabled, max(disabled_reason) AS reason,
                   min(created_by) AS created_by
            FROM subscriptions GROUP BY chat_id, thread_id ORDER BY chat_id, thread_id
            """
        )
        return [
            ChatSubscriptions(
                chat_id=r["chat_id"],
                thread_id=r["thread_id"],
                total=int(r["total"]),
                paused=int(r["paused"] or 0),
                disabled=int(r["disabled"] or 0),
                disabled_reason=r["reason"],
                created_by=r["created_by"],
            )
            for r in rows
        ]

    async def remove_disabled(self, chat_id: int) -> int:
        """Delete the disabled subscriptions of a chat; returns how many went."""
        async with self._db.transaction() as conn:
            result = await execute(
                conn,
                "DELETE FROM subscriptions WHERE chat_id = ? AND disabled_reason IS NOT NULL",
                (chat_id,),
            )
        return result.rowcount

    async def disable_chat_in(self, conn: Connection, chat_id: int, reason: str) -> int:
        """Disable every subscription of a chat the bot can no longer write to."""
        result = await execute(
            conn,
            "UPDATE subscriptions SET disabled_reason = ? "
            "WHERE chat_id = ? AND disabled_reason IS NULL",
            (reason[:200], chat_id),
        )
        return result.rowcount

    async def move_chat_in(self, conn: Connection, old_id: int, new_id: int) -> int:
        """A group became a supergroup: its subscriptions follow the new id."""
        result = await execute(
            conn, "UPDATE subscriptions SET chat_id = ? WHERE chat_id = ?", (new_id, old_id)
        )
        return result.rowcount
