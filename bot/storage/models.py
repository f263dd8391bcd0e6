"""Plain records read from and written to storage."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Role(StrEnum):
    """What a bound user may do: reps see their own leads, managers all, admins also configure."""

    REP = "rep"
    MANAGER = "manager"
    ADMIN = "admin"


class BindingSource(StrEnum):
    """How a Telegram account came to be bound to a portal user."""

    CONTACT = "contact"
    INVITE = "invite"
    CONFIG = "config"


@dataclass(frozen=True, slots=True)
class Binding:
    """A Telegram account bound to a portal user, with its role and preferences."""

    telegram_user_id: int
    portal_user_id: int
    role: Role
    bound_via: BindingSource
    bound_at: datetime
    active: bool = True
    language: str | None = None
    display_name: str | None = None
    blocked: bool = False
    """Revoked by an admin: signing in by phone is refused until an invite or an admin lifts it."""


@dataclass(frozen=True, slots=True)
class Invite:
    """A one-time invitation to bind as a given portal user; the token itself is never stored."""

    id: int
    portal_user_id: int
    role: Role
    created_by: int
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None
    used_by: int | None = None
    revoked_at: datetime | None = None
    phone_check: bool = False
    """Works only for a Telegram account that shares a phone of the invited portal user."""

    def is_pending(self, now: datetime) -> bool:
        """Whether the invite can still be redeemed at `now`."""
        return self.used_at is None and self.revoked_at is None and now < self.expires_at


@dataclass(frozen=True, slots=True)
class IssuedInvite:
    """A freshly created invite and its plain token, which exists only in this object."""

    token: str
    invite: Invite

    def __repr__(self) -> str:
        # Keeps the token out of logs and tracebacks that print the object.
        return f"IssuedInvite(token=<hidden>, invite={self.invite!r})"


class RedeemFailure(StrEnum):
    """Why an invite token could not be redeemed."""

    UNKNOWN = "unknown"
    USED = "used"
    EXPIRED = "expired"
    REVOKED = "revoked"
