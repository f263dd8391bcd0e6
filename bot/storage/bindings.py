"""Telegram accounts bound to portal users."""

from __future__ import annotations

from dataclasses import dataclass
from weakref import WeakKeyDictionary

from bot.storage.db import Database
from bot.storage.models import Binding, BindingSource, Role
from bot.storage.revisions import TableRevisions
from bot.storage.sql import Connection, Row, execute, fetch_all_in_pages
from bot.storage.timestamps import from_db_time, to_db_time

_COLUMNS = (
    "telegram_user_id, portal_user_id, role, language, display_name, bound_at, bound_via, active, "
    "blocked"
)


def _binding_from_row(row: Row) -> Binding:
    return Binding(
        telegram_user_id=row["telegram_user_id"],
        portal_user_id=row["portal_user_id"],
        role=Role(row["role"]),
        bound_via=BindingSource(row["bound_via"]),
        bound_at=from_db_time(row["bound_at"]),
        active=bool(row["active"]),
        language=row["language"],
        display_name=row["display_name"],
        blocked=bool(row["blocked"]),
    )


async def write_binding(conn: Connection, binding: Binding) -> None:
    """Insert or replace `binding` inside an open transaction."""
    await execute(
        conn,
        f"""
        INSERT INTO bindings ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (telegram_user_id) DO UPDATE SET
            portal_user_id = excluded.portal_user_id,
            role = excluded.role,
            language = excluded.language,
            display_name = excluded.display_name,
            bound_at = excluded.bound_at,
            bound_via = excluded.bound_via,
            active = excluded.active,
            blocked = excluded.blocked
        """,  # noqa: S608 - the interpolated text is a module constant, values are bound
        (
            binding.telegram_user_id,
            binding.portal_user_id,
            binding.role.value,
            binding.language,
            binding.display_name,
            to_db_time(binding.bound_at),
            binding.bound_via.value,
            int(binding.active),
            int(binding.blocked),
        ),
    )


@dataclass(frozen=True, slots=True)
class _Listed:
    revision: int
    bindings: tuple[Binding, ...]


_LISTED: WeakKeyDictionary[Database, _Listed] = WeakKeyDictionary()
"""The active bindings as last read, per database, with the table's revision then: shared by
every repository of one database, so the workers that look at everybody each pass (nudges,
follow-ups, escalations, the notifications' audience) hold one list between them and read
it again only after a write."""


class BindingRepository:
    """Reads and writes bindings; every write is durable because the user is told it happened."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._revisions = TableRevisions(db)

    async def get(self, telegram_user_id: int) -> Binding | None:
        """The binding of a Telegram account, active or not; None if it was never bound."""
        row = await self._db.fetch_one(
            f"SELECT {_COLUMNS} FROM bindings WHERE telegram_user_id = ?",  # noqa: S608
            (telegram_user_id,),
        )
        return None if row is None else _binding_from_row(row)

    async def upsert(self, binding: Binding) -> None:
        """Create the binding or replace every field of the existing one."""
        async with self._db.transaction(durable=True) as conn:
            await write_binding(conn, binding)

    async def set_role(self, telegram_user_id: int, role: Role) -> bool:
        """Change the role; False if the account is not bound."""
        return await self._update(telegram_user_id, "role = ?", role.value)

    async def set_language(self, telegram_user_id: int, language: str | None) -> bool:
        """Override the interface language (None returns to Telegram's); False if not bound."""
        return await self._update(telegram_user_id, "language = ?", language)

    async def set_display_name(self, telegram_user_id: int, display_name: str | None) -> bool:
        """Remember the name shown for this user; False if not bound."""
        return await self._update(telegram_user_id, "display_name = ?", display_name)

    async def deactivate(self, telegram_user_id: int, *, block: bool = False) -> bool:
        """Take access away while keeping the record; False if not bound or already inactive.

        With `block` (an admin's revocation) the account cannot sign in by phone again until
        an admin lifts the block or it redeems an invite.
        """
        async with self._db.transaction(durable=True) as conn:
            result = await execute(
                conn,
                "UPDATE bindings SET active = 0, "
                "blocked = CASE WHEN blocked = 1 OR ? = 1 THEN 1 ELSE 0 END "
                "WHERE telegram_user_id = ? AND active = 1",
                (int(block), telegram_user_id),
            )
        return result.rowcount == 1

    async def unblock(self, telegram_user_id: int) -> bool:
        """Lift an admin's block (the account stays signed out); False if it was not blocked."""
        async with self._db.transaction(durable=True) as conn:
            result = await execute(
                conn,
                "UPDATE bindings SET blocked = 0 "
                "WHERE telegram_user_id = ? AND blocked = 1 AND active = 0",
                (telegram_user_id,),
            )
        return result.rowcount == 1

    async def list_blocked(self) -> list[Binding]:
        """Accounts an admin revoked and nobody unblocked yet, by Telegram id."""
        rows = await self._db.fetch_all(
            f"SELECT {_COLUMNS} FROM bindings "  # noqa: S608
            "WHERE blocked = 1 AND active = 0 ORDER BY telegram_user_id"
        )
        return [_binding_from_row(row) for row in rows]

    async def list_bindings(self, *, include_inactive: bool = False) -> list[Binding]:
        """All bindings ordered by Telegram id; only active ones unless asked otherwise.

        The active ones come from the list held for the database while the table's revision
        is the one it was read at (one small read instead of 10,000 rows for a big team).
        """
        if include_inactive:
            return await self._read("")
        # The revision first: a write landing during the read below leaves the list held
        # under the older number, so the next call reads again.
        revision = (await self._revisions.current()).get("bindings")
        held = _LISTED.get(self._db)
        if held is not None and held.revision == revision:
            return list(held.bindings)
        bindings = await self._read("active = 1 AND ")
        if revision is not None:
            _LISTED[self._db] = _Listed(revision, tuple(bindings))
        return bindings

    async def _read(self, condition: str) -> list[Binding]:
        return await fetch_all_in_pages(
            self._db,
            f"SELECT {_COLUMNS} FROM bindings WHERE {condition}"  # noqa: S608
            "telegram_user_id > ? ORDER BY telegram_user_id LIMIT ?",
            key="telegram_user_id",
            convert=_binding_from_row,
        )

    async def find_by_portal_user(self, portal_user_id: int) -> list[Binding]:
        """Active bindings of one portal user (a person may use more than one account)."""
        rows = await self._db.fetch_all(
            f"SELECT {_COLUMNS} FROM bindings "  # noqa: S608
            "WHERE portal_user_id = ? AND active = 1 ORDER BY telegram_user_id",
            (portal_user_id,),
        )
        return [_binding_from_row(row) for row in rows]

    async def _update(self, telegram_user_id: int, assignment: str, value: object) -> bool:
        async with self._db.transaction(durable=True) as conn:
            result = await execute(
                conn,
                f"UPDATE bindings SET {assignment} WHERE telegram_user_id = ?",  # noqa: S608
                (value, telegram_user_id),
            )
        return result.rowcount == 1
