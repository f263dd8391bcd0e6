"""Short-lived signed tokens that let the tab's forms act for the portal user who opened it.

A token names the portal (member id), the portal user, the lead, the page's language and
when it expires, and carries a random nonce; it is signed with HMAC-SHA256 under a server
secret kept in the `kv` store. It is never the portal's AUTH_ID: after the page is served
the bot needs nothing from the portal's session. The nonce makes every page's token unique,
so a form sent twice is recognised as the same action (`TabClaims.action_key`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from bot.storage.kv import KeyValueRepository

SECRET_KEY = "tab.csrf_secret"  # noqa: S105 - the kv key, not the secret
TOKEN_TTL_SECONDS = 15 * 60
MAX_TOKEN_LENGTH = 1024
_VERSION = "t1"


@dataclass(frozen=True, slots=True)
class TabClaims:
    """What a valid token says: who may act on which lead, until when."""

    member_id: str
    portal_user_id: int
    lead_id: int
    language: str
    expires_at: int
    nonce: str

    def action_key(self, action: str) -> str:
        """The outbox idempotency key of `action` sent from this page (one per page)."""
        return f"tab:{action}:{self.lead_id}:{self.portal_user_id}:{self.nonce}"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign_claims(secret: bytes, claims: TabClaims) -> str:
    """The token of `claims` under `secret`."""
    payload = {
        "m": claims.member_id,
        "u": claims.portal_user_id,
        "l": claims.lead_id,
        "g": claims.language,
        "e": claims.expires_at,
        "n": claims.nonce,
    }
    body = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
    mac = hmac.new(secret, f"{_VERSION}.{body}".encode(), hashlib.sha256).digest()
    return f"{_VERSION}.{body}.{_b64(mac)}"


def read_claims(secret: bytes, token: str, now: float) -> TabClaims | None:
    """The claims of a token signed with `secret` and not expired at `now`; None otherwise."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != _VERSION:
        return None
    _, body, given = parts
    expected = hmac.new(secret, f"{_VERSION}.{body}".encode(), hashlib.sha256).digest()
    try:
        if not hmac.compare_digest(_unb64(given), expected):
            return None
        payload = json.loads(_unb64(body))
    except (ValueError, binascii.Error):
        return None
    if not isinstance(payload, dict):
        return None
    member, user, lead = payload.get("m"), payload.get("u"), payload.get("l")
    language, expires, nonce = payload.get("g"), payload.get("e"), payload.get("n")
    if not (
        isinstance(member, str)
        and isinstance(user, int)
        and isinstance(lead, int)
        and isinstance(language, str)
        and isinstance(expires, int)
        and isinstance(nonce, str)
    ):
        return None
    if expires <= now:
        return None
    return TabClaims(member, user, lead, language, expires, nonce)


class TabTokens:
    """Issues and checks the tab's tokens; the secret is made once and kept in `kv`."""

    def __init__(
        self,
        kv: KeyValueRepository,
        *,
        ttl_seconds: int = TOKEN_TTL_SECONDS,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._kv = kv
        self._ttl = ttl_seconds
        self._wall_clock = wall_clock
        self._secret: bytes | None = None

    async def _load(self, *, fresh: bool = False) -> bytes:
        if self._secret is not None and not fresh:
            return self._secret
        stored = await self._kv.get(SECRET_KEY)
        if not isinstance(stored, str) or len(stored) < 64:
            await self._kv.set(SECRET_KEY, secrets.token_hex(32), durable=True)
            # Read back: another replica may have written its secret at the same moment.
            stored = await self._kv.get(SECRET_KEY)
        assert isinstance(stored, str)
        self._secret = bytes.fromhex(stored)
        return self._secret

    async def issue(
        self, *, member_id: str, portal_user_id: int, lead_id: int, language: str
    ) -> str:
        """A fresh token for one page."""
        claims = TabClaims(
            member_id=member_id,
            portal_user_id=portal_user_id,
            lead_id=lead_id,
            language=language,
            expires_at=int(self._wall_clock()) + self._ttl,
            nonce=secrets.token_urlsafe(12),
        )
        return sign_claims(await self._load(), claims)

    async def read(self, token: str) -> TabClaims | None:
        """The claims of a genuine, unexpired token; None for anything else."""
        now = self._wall_clock()
        claims = read_claims(await self._load(), token, now)
        if claims is None and self._secret is not None:
            # Another replica may have stored the secret after this one read it.
            current = self._secret
            if await self._load(fresh=True) != current:
                claims = read_claims(self._secret, token, now)
        return claims
