"""Who opened the tab: the AUTH_ID of the portal's form checked against our portal.

The token is presented once, to our own portal's REST endpoint (PORTAL__OAUTH_ENDPOINT, never
the DOMAIN of the form): `user.current` says whose it is and `app.info` that it was issued to
our application, both in one `batch` request. The token is never refreshed, stored or logged.
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass
from typing import Any

import httpx

from bot.portal import PortalClient, PortalError
from bot.portal.auth import RequestCredentials, redact_url
from bot.portal.errors import AuthError
from bot.portal.limiter import PortalLimiter
from bot.portal.methods import GetAppInfo, GetCurrentUser, PortalMethod
from bot.portal.models import AppInfo, PortalUser

_PRESENTED: contextvars.ContextVar[str] = contextvars.ContextVar("tab_presented_token")


class PresentedTokenAuth:
    """`PortalAuth` whose access token is the one presented by the current request.

    It has no refresh: an expired token is the viewer's problem, answered with 401.
    """

    def __init__(self, endpoint: str) -> None:
        self._endpoint = endpoint if endpoint.endswith("/") else endpoint + "/"
        self.redacted_base_url = redact_url(self._endpoint)

    def __repr__(self) -> str:
        return f"PresentedTokenAuth({self.redacted_base_url!r})"

    async def credentials(self) -> RequestCredentials:
        """The endpoint and the token of the request being served."""
        token = _PRESENTED.get("")
        if not token:
            raise AuthError("no token presented", code="NO_TOKEN")
        return RequestCredentials(
            base_url=self._endpoint,
            headers={"Authorization": f"Bearer {token}"},
            params={},
            token=token,
        )


@dataclass(frozen=True, slots=True)
class Viewer:
    """The portal user the token belongs to, and what `app.info` said of our application."""

    portal_user_id: int
    name: str
    app_code: str
    app_installed: bool


class ViewerRefused(Exception):
    """The portal refused the token (401), or it is not our application's (403)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class ViewerCheck:
    """Asks the portal, with the viewer's own token, who they are (one request)."""

    def __init__(
        self,
        *,
        endpoint: str,
        client_id: str | None,
        limiter: PortalLimiter | None = None,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._client_id = client_id
        self._portal = PortalClient(
            auth=PresentedTokenAuth(endpoint),
            limiter=limiter,
            timeout=timeout,
            max_retries=1,
            transport=transport,
        )

    async def aclose(self) -> None:
        """Close the HTTP connections."""
        await self._portal.aclose()

    async def who(self, auth_id: str) -> Viewer:
        """The viewer behind `auth_id`; ViewerRefused when the portal does not vouch for it.

        Other portal failures (PortalError) reach the caller: the page then says the portal
        did not answer.
        """
        me, app = GetCurrentUser(), GetAppInfo()
        commands: dict[str, PortalMethod[Any]] = {"me": me, "app": app}
        reset = _PRESENTED.set(auth_id)
        try:
            result = await self._portal.batch(commands)
        except AuthError as exc:
            raise ViewerRefused(401, f"the portal refused the token ({exc.code})") from None
        finally:
            _PRESENTED.reset(reset)
        try:
            user: PortalUser = result.get("me", me)
            info: AppInfo = result.get("app", app)
        except AuthError as exc:
            raise ViewerRefused(401, f"the portal refused the token ({exc.code})") from None
        except (PortalError, KeyError) as exc:
            code = exc.code if isinstance(exc, PortalError) else "no answer"
            raise ViewerRefused(403, f"the token cannot read the application ({code})") from None
        if user.id is None:
            raise ViewerRefused(401, "the portal named no user for the token")
        if not info.installed:
            raise ViewerRefused(403, "the portal does not report the application installed")
        if self._client_id and info.code != self._client_id:
            raise ViewerRefused(403, "the token belongs to another application")
        return Viewer(
            portal_user_id=user.id,
            name=user.full_name,
            app_code=info.code,
            app_installed=bool(info.installed),
        )
