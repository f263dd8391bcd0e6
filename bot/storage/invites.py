"""One-time invite links: random tokens handed out once and stored only as their hashes."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from bot.storage.bindings import write_binding
from bot.storage.db import Database
from bot.storage.models import Binding, BindingSource, Invite, IssuedInvite, RedeemFailure, Role
from bot.storage.sql import Row, execute, fetch_one_in
from bot.storage.timestamps import Clock, from_db_time, from_db_time_or_none, to_db_time, utc_now

TOKEN_BYTES = 32
"""256 random bits; `token_urlsafe` turns them into 43 characters of [A-Za-z0-9_-], which fits
Telegram's 64-character /start deep-link parameter."""

_COLUMNS = (
    "id, portal_user_id, role, created_by, created_at, expires_at, used_at, used_by, revoked_at, "
    "phone_check"
)


def hash_token(token: str) -> str:
    """The stored form of a token: hex SHA-256. Tokens are random, so no salt is needed."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _invite_from_row(row: Row) -> Invite:
    return Invite(
        id=row["id"],
        portal_user_id=row["portal_user_id"],
        role=Role(row["role"]),
        created_by=row["created_by"],
        created_at=from_db_time(row["created_at"]),
        expires_at=from_db_time(row["expires_at"]),
        used_at=from_db_time_or_none(row["used_at"]),
        used_by=row["used_by"],
        revoked_at=from_db_time_or_none(row["revoked_at"]),
        phone_check=bool(row["phone_check"]),
    )


class InviteRepository:
    """Creates, redeems and revokes invites; time comes from the injected clock."""

    def __init__(self, db: Database, clock: Clock = utc_now) -> None:
        self._db = db
        self._clock = clock

    async def create(
        self,
        portal_user_id: int,
        role: Role,
        created_by: int,
        ttl: timedelta,
        *,
        phone_check: bool = False,
    ) -> IssuedInvite:
        """Make an invite valid for `ttl`; the returned token is the only copy of it anywhere.

        With `phone_check` the invite binds only an account that shares the invitee's phone.
        """
        if ttl <= timedelta(0):
            raise ValueError("invite ttl must be positive")
        token = secrets.token_urlsafe(TOKEN_BYTES)
        now = self._clock()
        expires_at = now + ttl
        async with self._db.transaction(durable=True) as conn:
            created = await fetch_one_in(
                conn,
                """
                INSERT INTO invites (
                    token_hash, portal_user_id, role, created_by, created_at, expires_at,
                    phone_check
                )
                VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id
                """,
                (
                    hash_token(token),
                    portal_user_id,
                    role.value,
                    created_by,
                    to_db_time(now),
                    to_db_time(expires_at),
                    int(phone_check),
                ),
            )
        if created is None:
            raise RuntimeError("the database did not report the new invite's id")
        # Read back so the timestamps carry exactly the stored precision.
        invite = await self.get(int(created["id"]))
        if invite is None:
            raise RuntimeError("invite vanished right after it was created")
        return IssuedInvite(token=token, invite=invite)

    async def get(self, invite_id: int) -> Invite | None:
        """An invite by id, whatever its state."""
        row = await self._db.fetch_one(
            f"SELECT {_COLUMNS} FROM invites WHERE id = ?",  # noqa: S608
            (invite_id,),
        )
        return None if row is None else _invite_from_row(row)

    async def find(self, token_hash: str) -> Invite | RedeemFailure:
        """The pending invite with this token hash, or why it cannot be used (nothing changes)."""
        row = await self._db.fetch_one(
            f"SELECT {_COLUMNS} FROM invites WHERE token_hash = ?",  # noqa: S608
            (token_hash,),
        )
        return RedeemFailure.UNKNOWN if row is None else self._usable(_invite_from_row(row))

    def _usable(self, invite: Invite) -> Invite | RedeemFailure:
        if invite.revoked_at is not None:
            return RedeemFailure.REVOKED
        if invite.used_at is not None:
            return RedeemFailure.USED
        if self._clock() >= invite.expires_at:
            return RedeemFailure.EXPIRED
        return invite

    async def redeem(
        self,
        token: str,
        telegram_user_id: int,
        *,
        display_name: str | None = None,
        language: str | None = None,
    ) -> Invite | RedeemFailure:
        """`redeem_hash` of the token's hash."""
        return await self.redeem_hash(
            hash_token(token), telegram_user_id, display_name=display_name, language=language
        )

    async def redeem_hash(
        self,
        token_hash: str,
        telegram_user_id: int,
        *,
        display_name: str | None = None,
        language: str | None = None,
    ) -> Invite | RedeemFailure:
        """Use the invite and bind the account to its portal user and role, atomically.

        Succeeds only if the token exists and the invite is unused, unrevoked and unexpired; the
        invite is then marked used by `telegram_user_id` and the binding (via `invite`, active)
        is created or replaced in the same durable transaction, so neither can happen without
        the other. Otherwise nothing changes and the reason is returned.
        """
        now = self._clock()
        async with self._db.transaction(durable=True) as conn:
            row = await fetch_one_in(
                conn,
                f"SELECT {_COLUMNS} FROM invites WHERE token_hash = ?",  # noqa: S608
                (token_hash,),
            )
            if row is None:
                return RedeemFailure.UNKNOWN
            invite = _invite_from_row(row)
            usable = self._usable(invite)
            if isinstance(usable, RedeemFailure):
                return usable
            used_at = from_db_time(to_db_time(now))
            await execute(
                conn,
                "UPDATE invites SET used_at = ?, used_by = ? WHERE id = ? AND used_at IS NULL",
                (to_db_time(used_at), telegram_user_id, invite.id),
            )
            await write_binding(
                conn,
                Binding(
                    telegram_user_id=telegram_user_id,
                    portal_user_id=invite.portal_user_id,
                    role=invite.role,
                    bound_via=BindingSource.INVITE,
                    bound_at=used_at,
                    language=language,
                    display_name=display_name,
                ),
            )
        return Invite(
            id=invite.id,
            portal_user_id=invite.portal_user_id,
            role=invite.role,
            created_by=invite.created_by,
            created_at=invite.created_at,
            expires_at=invite.expires_at,
            used_at=used_at,
            used_by=telegram_user_id,
            phone_check=invite.phone_check,
        )

    async def revoke(self, invite_id: int) -> bool:
        """Withdraw an invite that is still pending; False if it was used, revoked or expired."""
        now = to_db_time(self._clock())
        async with self._db.transaction(durable=True) as conn:
            result = await execute(
                conn,
                """
                UPDATE invites SET revoked_at = ?
                WHERE id = ? AND used_at IS NULL AND revoked_at IS NULL AND expires_at > ?
                """,
                (now, invite_id, now),
            )
        return result.rowcount == 1

    async def list_pending(self) -> list[Invite]:
        """Invites that can still be redeemed, oldest first."""
        rows = await self._db.fetch_all(
            f"""
            SELECT {_COLUMNS} FROM invites
            WHERE used_at IS NULL AND revoked_at IS NULL AND expires_at > ?
            ORDER BY id
            """,  # noqa: S608
            (to_db_time(self._clock()),),
        )
        return [_invite_from_row(row) for row in rows]
