"""Requests from a rep to the owner of a duplicate lead: open until handed over or withdrawn."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from bot.storage.db import Database
from bot.storage.sql import Row, execute, fetch_one_in
from bot.storage.timestamps import Clock, from_db_time, from_db_time_or_none, to_db_time, utc_now

_COLUMNS = (
    "id, lead_id, requester_telegram_id, requester_portal_id, owner_portal_id, note, state, "
    "resolved_by, created_at, resolved_at"
)


class RequestState(StrEnum):
    """Where a request stands."""

    OPEN = "open"
    HANDED = "handed"
    WITHDRAWN = "withdrawn"


@dataclass(frozen=True, slots=True)
class OwnerRequest:
    """A rep's request about a lead of somebody else's."""

    id: int
    lead_id: int
    requester_telegram_id: int
    requester_portal_id: int
    owner_portal_id: int | None
    note: str
    state: RequestState
    created_at: datetime
    resolved_by: int | None = None
    resolved_at: datetime | None = None


def _from_row(row: Row) -> OwnerRequest:
    return OwnerRequest(
        id=row["id"],
        lead_id=row["lead_id"],
        requester_telegram_id=row["requester_telegram_id"],
        requester_portal_id=row["requester_portal_id"],
        owner_portal_id=row["owner_portal_id"],
        note=row["note"],
        state=RequestState(row["state"]),
        created_at=from_db_time(row["created_at"]),
        resolved_by=row["resolved_by"],
        resolved_at=from_db_time_or_none(row["resolved_at"]),
    )


class OwnerRequestRepository:
    """Stores requests; resolving is one conditional update, so two presses race safely."""

    def __init__(self, db: Database, clock: Clock = utc_now) -> None:
        self._db = db
        self._clock = clock

    async def open(
        self,
        *,
        lead_id: int,
        requester_telegram_id: int,
        requester_portal_id: int,
        owner_portal_id: int | None,
        note: str,
    ) -> tuple[OwnerRequest, bool]:
        """The rep's open request about the lead, made now unless one is open; True if new."""
        async with self._db.transaction(durable=True) as conn:
            row = await fetch_one_in(
                conn,
                f"SELECT {_COLUMNS} FROM owner_requests "  # noqa: S608 - fixed column list
                "WHERE requester_telegram_id = ? AND lead_id = ? AND state = 'open'",
                (requester_telegram_id, lead_id),
            )
            if row is not None:
                return _from_row(row), False
            inserted = await fetch_one_in(
                conn,
                "INSERT INTO owner_requests (lead_id, requester_telegram_id, "
                "requester_portal_id, owner_portal_id, note, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
                (
                    lead_id,
                    requester_telegram_id,
                    requester_portal_id,
                    owner_portal_id,
                    note,
                    to_db_time(self._clock()),
                ),
            )
            created = await fetch_one_in(
                conn,
                f"SELECT {_COLUMNS} FROM owner_requests WHERE id = ?",  # noqa: S608
                (None if inserted is None else inserted["id"],),
            )
        assert created is not None
        return _from_row(created), True

    async def get(self, request_id: int) -> OwnerRequest | None:
        """The request with this id, if any."""
        row = await self._db.fetch_one(
            f"SELECT {_COLUMNS} FROM owner_requests WHERE id = ?",  # noqa: S608
            (request_id,),
        )
        return _from_row(row) if row is not None else None

    async def resolve(self, request_id: int, state: RequestState, by_telegram_id: int) -> bool:
        """Close an open request; False when it was already closed (somebody was first)."""
        async with self._db.transaction(durable=True) as conn:
            result = await execute(
                conn,
                "UPDATE owner_requests SET state = ?, resolved_by = ?, resolved_at = ? "
                "WHERE id = ? AND state = 'open'",
                (state.value, by_telegram_id, to_db_time(self._clock()), request_id),
            )
        return result.rowcount == 1

    async def reopen(self, request_id: int) -> None:
        """Undo a resolve whose portal write failed, so the request can be pressed again."""
        async with self._db.transaction(durable=True) as conn:
            await execute(
                conn,
                "UPDATE owner_requests SET state = 'open', resolved_by = NULL, "
                "resolved_at = NULL WHERE id = ?",
                (request_id,),
            )
