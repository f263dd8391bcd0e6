"""How requests prove who they are: an incoming-webhook URL or OAuth tokens that refresh."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal, Protocol
from urllib.parse import urlsplit, urlunsplit

import httpx

from bot.portal.errors import AuthError, UnavailableError, error_from_payload

__all__ = ["OAuthAuth", "PortalAuth", "TokensCallback", "WebhookAuth", "redact_url"]

TokensCallback = Callable[[str, str, float | None], Awaitable[None]]
"""`on_tokens(access_token, refresh_token, expires_at)`: store freshly issued tokens."""


def redact_url(url: str) -> str:
    """The URL without anything secret: the webhook code in the path and the query."""
    parts = urlsplit(url)
    segments = parts.path.split("/")
    if "rest" in segments:
        at = segments.index("rest")
        # /rest/{user_id}/{secret}/...: keep the user id, hide the secret.
        if len(segments) > at + 2 and segments[at + 1].isdigit() and segments[at + 2]:
            segments[at + 2] = "***"
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, "/".join(segments), "", ""))


@dataclass(frozen=True)
class RequestCredentials:
    """What one request carries: its base URL, headers, and the token used (for refresh)."""

    base_url: str
    headers: dict[str, str]
    params: dict[str, str]
    token: str | None = None


class PortalAuth(Protocol):
    """Anything that can sign a request to the portal."""

    @property
    def redacted_base_url(self) -> str:
        """The base URL safe to log."""
        ...

    async def credentials(self) -> RequestCredentials:
        """Base URL and auth material for the next request."""
        ...


class WebhookAuth:
    """An incoming webhook: `https://{portal}/rest/{user_id}/{secret}/` (the URL is the secret)."""

    def __init__(self, url: str) -> None:
        if "/rest/" not in url:
            raise ValueError("a webhook URL looks like https://<portal>/rest/<user id>/<secret>/")
        self._url = url if url.endswith("/") else url + "/"
        self.redacted_base_url = redact_url(self._url)

    async def credentials(self) -> RequestCredentials:
        """The webhook URL is the base; nothing else is needed."""
        return RequestCredentials(base_url=self._url, headers={}, params={})

    def __repr__(self) -> str:
        return f"WebhookAuth({self.redacted_base_url!r})"


class OAuthAuth:
    """OAuth access + refresh tokens of an application, refreshed on `expired_token`.

    Refreshes are serialised: the refresh token is single-use, so two concurrent refreshes
    would race and one would get `invalid_grant`. Callers that hit `expired_token` while a
    refresh runs wait for it and reuse the new token.
    """

    def __init__(
        self,
        *,
        endpoint: str,
        access_token: str,
        refresh_token: str,
        client_id: str,
        client_secret: str,
        token_url: str = "https://oauth.bitrix.info/oauth/token/",  # noqa: S107 - a URL
        expires_at: float | None = None,
        on_tokens: TokensCallback | None = None,
        send_as: Literal["bearer", "param"] = "bearer",
    ) -> None:
        self._endpoint = endpoint if endpoint.endswith("/") else endpoint + "/"
        self._access = access_token
        self._refresh = refresh_token
        self._client_id = client_id
        self._client_secret = client_secret
        self._token_url = token_url
        self.expires_at = expires_at
        self._on_tokens = on_tokens
        self._send_as = send_as
        self._lock = asyncio.Lock()
        self.redacted_base_url = redact_url(self._endpoint)

    def __repr__(self) -> str:
        return f"OAuthAuth({self.redacted_base_url!r}, client_id={self._client_id!r})"

    async def credentials(self) -> RequestCredentials:
        """The REST endpoint plus the current access token (header or `auth` param)."""
        token = self._access
        if not token:
            # An application whose installation has not brought tokens yet.
            raise AuthError(
                "no access token yet: the application is not installed", code="NO_TOKEN"
            )
        if self._send_as == "bearer":
            return RequestCredentials(
                base_url=self._endpoint,
                headers={"Authorization": f"Bearer {token}"},
                params={},
                token=token,
            )
        return RequestCredentials(
            base_url=self._endpoint, headers={}, params={"auth": token}, token=token
        )

    async def replace_tokens(
        self, access_token: str, refresh_token: str, expires_at: float | None
    ) -> None:
        """Take a new token pair from outside (an application installation) and store it."""
        async with self._lock:
            self._access, self._refresh, self.expires_at = access_token, refresh_token, expires_at
            if self._on_tokens is not None:
                await self._on_tokens(access_token, refresh_token, expires_at)

    async def refresh(self, http: httpx.AsyncClient, stale_token: str | None) -> None:
        """Get new tokens unless someone already replaced `stale_token` while we waited."""
        async with self._lock:
            if stale_token is not None and stale_token != self._access:
                return
            try:
                response = await http.get(
                    self._token_url,
                    params={
                        "grant_type": "refresh_token",
                        "client_id": self._client_id,
                        "client_secret": self._client_secret,
                        "refresh_token": self._refresh,
                    },
                )
            except httpx.HTTPError as exc:
                raise UnavailableError(
                    f"token refresh failed: {type(exc).__name__}", method="oauth.token"
                ) from None
            try:
                body = response.json()
            except ValueError:
                raise UnavailableError(
                    "token server sent a malformed answer",
                    method="oauth.token",
                    status=response.status_code,
                ) from None
            if not isinstance(body, dict):
                raise UnavailableError(
                    "token server sent a malformed answer",
                    method="oauth.token",
                    status=response.status_code,
                )
            if "error" in body or "access_token" not in body:
                error = error_from_payload(
                    str(body.get("error", "")),
                    str(body.get("error_description", "no tokens in the answer")),
                    method="oauth.token",
                    status=response.status_code,
                )
                if isinstance(error, UnavailableError):
                    raise error
                if not isinstance(error, AuthError):
                    error = AuthError(
                        error.description,
                        code=error.code,
                        method="oauth.token",
                        status=error.status,
                    )
                raise error
            self._access = str(body["access_token"])
            self._refresh = str(body.get("refresh_token") or self._refresh)
            expires = body.get("expires")
            if expires is None and body.get("expires_in") is not None:
                expires = time.time() + float(body["expires_in"])
            self.expires_at = float(expires) if expires is not None else None
            if self._on_tokens is not None:
                await self._on_tokens(self._access, self._refresh, self.expires_at)
