"""The application's installation on the portal: what the install callback brings, what the
uninstall event must prove, and the durable record of both."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from bot.events.receiver import EventRefused, same_secret
from bot.storage.kv import KeyValueRepository
from bot.storage.timestamps import Clock, utc_now

INSTALLATION_KEY = "app.installation"
INSTALL_EVENT = "ONAPPINSTALL"
UNINSTALL_EVENT = "ONAPPUNINSTALL"


@dataclass(frozen=True, slots=True)
class Installation:
    """The portal the application is installed on, and whether it still is."""

    member_id: str
    domain: str
    application_token: str
    installed: bool
    changed_at: str

    def __repr__(self) -> str:
        # The application token proves events genuine: never in a log line.
        return (
            f"Installation(member_id={self.member_id!r}, domain={self.domain!r}, "
            f"installed={self.installed})"
        )


@dataclass(frozen=True, slots=True)
class InstallCallback:
    """The verified shape of the installation callback (the ONAPPINSTALL body)."""

    access_token: str
    refresh_token: str
    expires_in: int | None
    member_id: str
    domain: str
    application_token: str

    def __repr__(self) -> str:
        return f"InstallCallback(member_id={self.member_id!r}, domain={self.domain!r})"


def _text(auth: dict[str, Any], key: str) -> str:
    value = auth.get(key)
    if not isinstance(value, str) or not value or len(value) > 512:
        raise EventRefused(400, f"auth[{key}] is missing")
    return value


def read_install_callback(form: dict[str, Any]) -> InstallCallback:
    """The tokens and portal identity of an install callback; EventRefused(400) otherwise."""
    event = form.get("event")
    if not isinstance(event, str) or event.upper() != INSTALL_EVENT:
        raise EventRefused(400, "not an installation callback")
    auth = form.get("auth")
    if not isinstance(auth, dict):
        raise EventRefused(400, "no auth block")
    raw_expires = auth.get("expires_in")
    expires_in = (
        int(raw_expires) if isinstance(raw_expires, str) and raw_expires.isdigit() else None
    )
    return InstallCallback(
        access_token=_text(auth, "access_token"),
        refresh_token=_text(auth, "refresh_token"),
        expires_in=expires_in,
        member_id=_text(auth, "member_id"),
        domain=_text(auth, "domain").lower(),
        application_token=_text(auth, "application_token"),
    )


def check_uninstall(form: dict[str, Any], installation: Installation | None) -> None:
    """Refuse (401) an ONAPPUNINSTALL that does not carry our member id and application token."""
    event = form.get("event")
    if not isinstance(event, str) or event.upper() != UNINSTALL_EVENT:
        raise EventRefused(400, "not an uninstall event")
    auth = form.get("auth")
    if not isinstance(auth, dict):
        raise EventRefused(401, "no auth block")
    if installation is None:
        raise EventRefused(401, "the application is not installed")
    token_ok = same_secret(auth.get("application_token"), installation.application_token)
    member_ok = same_secret(auth.get("member_id"), installation.member_id)
    if not (token_ok and member_ok):
        raise EventRefused(401, "application token or member id does not match")


class InstallationStore:
    """The installation record, one durable key (the tokens live with the OAuth tokens)."""

    def __init__(self, kv: KeyValueRepository, clock: Clock = utc_now) -> None:
        self._kv = kv
        self._clock = clock

    async def get(self) -> Installation | None:
        """The record, or None before the first installation."""
        stored = await self._kv.get(INSTALLATION_KEY)
        if not isinstance(stored, dict):
            return None
        return Installation(
            member_id=str(stored.get("member_id", "")),
            domain=str(stored.get("domain", "")),
            application_token=str(stored.get("application_token", "")),
            installed=bool(stored.get("installed")),
            changed_at=str(stored.get("changed_at", "")),
        )

    async def installed(self, callback: InstallCallback) -> Installation:
        """Record an installation (or a reinstallation) from a verified callback."""
        record = Installation(
            member_id=callback.member_id,
            domain=callback.domain,
            application_token=callback.application_token,
            installed=True,
            changed_at=self._clock().isoformat(),
        )
        await self._kv.set(INSTALLATION_KEY, asdict(record), durable=True)
        return record

    async def uninstalled(self, installation: Installation) -> None:
        """Record that the portal removed the application (intake stops)."""
        record = Installation(
            member_id=installation.member_id,
            domain=installation.domain,
            application_token=installation.application_token,
            installed=False,
            changed_at=self._clock().isoformat(),
        )
        await self._kv.set(INSTALLATION_KEY, asdict(record), durable=True)


def changed_at(installation: Installation) -> datetime | None:
    """When the installation last changed, or None when the record has no time."""
    try:
        return datetime.fromisoformat(installation.changed_at)
    except ValueError:
        return None
