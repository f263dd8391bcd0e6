"""Application side of the Bitrix24 emulator: installing and uninstalling the local application.

Installing POSTs the installation callback (the `ONAPPINSTALL` body: `event`, `data[...]`,
`ts`, `auth[...]` with fresh tokens of the installing admin and the `application_token`) to the
application's "initial installation path", as the portal does for an API-only local
application. Handlers bound with `event.bind` (online and offline) are dropped at install: the
docs tell applications to bind again in their installer. Uninstalling delivers
`ONAPPUNINSTALL` to the handlers bound for it, revokes every token of the application and
empties its offline queue.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from tests.emulators.bitrix24_php import http_build_query
from tests.emulators.bitrix24_state import EmulatorState

FORM_HEADERS = {
    "Content-Type": "application/x-www-form-urlencoded",
    "User-Agent": "Bitrix24 Webhook Engine",
}


@dataclass(frozen=True)
class CallbackAnswer:
    """What the application's URL answered to an install or uninstall call."""

    status: int
    body: str


class AppArea(EmulatorState):
    """The local application: install callback, uninstall event, `app.info` state."""

    def install_payload(self, user_id: int = 1, language: str = "en") -> dict[str, Any]:
        """The decoded body of the installation callback (ONAPPINSTALL shape)."""
        access, refresh = self.portal.issue_oauth_tokens(user_id)
        return {
            "event": "ONAPPINSTALL",
            "data": {
                "VERSION": str(self.app_version),
                "ACTIVE": "Y",
                "INSTALLED": "Y",
                "LANGUAGE_ID": language,
            },
            "ts": str(int(self.wall_clock())),
            "auth": {
                "access_token": access,
                "expires_in": "3600",
                "scope": ",".join(sorted(self.oauth_scopes - {"basic"})),
                "domain": self.domain,
                "server_endpoint": "https://oauth.bitrix.info/rest/",
                "status": "L",
                "client_endpoint": self.portal.oauth_endpoint,
                "member_id": self.member_id,
                "refresh_token": refresh,
                "application_token": self.application_token,
                "user_id": str(user_id),
            },
        }

    def uninstall_payload(self, clean: bool = False, language: str = "en") -> dict[str, Any]:
        """The decoded body of ONAPPUNINSTALL (no tokens: the API is already closed)."""
        return {
            "event": "ONAPPUNINSTALL",
            "data": {"LANGUAGE_ID": language, "CLEAN": "1" if clean else "0"},
            "ts": str(int(self.wall_clock())),
            "auth": {
                "domain": self.domain,
                "server_endpoint": "https://oauth.bitrix.info/rest/",
                "client_endpoint": self.portal.oauth_endpoint,
                "member_id": self.member_id,
                "application_token": self.application_token,
            },
        }

    async def install_app(self, install_url: str, user_id: int = 1) -> CallbackAnswer:
        """An admin installs the application: bindings reset, then the callback is POSTed."""
        if not self.portal.is_admin(user_id):
            raise PermissionError("only a portal administrator installs applications")
        if not self.app_installed:
            # A fresh installation gets a new application token; a reinstall keeps it.
            self.application_token = secrets.token_hex(16)
            self.issued_credentials.append(self.application_token)
        self.events.handlers[:] = [h for h in self.events.handlers if h.kind != "app"]
        self.offline.subscriptions.clear()
        self.app_installed = True
        self.app_handler_host = urlsplit(install_url).hostname
        return await self._post(install_url, self.install_payload(user_id))

    async def uninstall_app(self, clean: bool = False) -> list[CallbackAnswer]:
        """An admin deletes the application: ONAPPUNINSTALL to its handlers, access revoked."""
        self.app_installed = False
        payload = self.uninstall_payload(clean)
        targets = [
            h.handler
            for h in self.events.handlers
            if h.kind == "app" and h.event == "ONAPPUNINSTALL"
        ]
        self.events.handlers[:] = [h for h in self.events.handlers if h.kind != "app"]
        self.offline.subscriptions.clear()
        self.offline.records.clear()
        self.robots.clear()
        # The portal drops the application's widgets with it (the lead card's tab goes away).
        placements = getattr(self, "placements", None)
        if isinstance(placements, list):
            placements.clear()
        self._access_tokens.clear()
        self._refresh_tokens.clear()
        return [await self._post(url, payload) for url in targets]

    async def post_form(self, url: str, payload: dict[str, Any]) -> CallbackAnswer:
        """POST any decoded body form-encoded, as the portal's queue would (forgery tests)."""
        return await self._post(url, payload)

    async def _post(self, url: str, payload: dict[str, Any]) -> CallbackAnswer:
        timeout = aiohttp.ClientTimeout(total=10)
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.post(
                url, data=http_build_query(payload).encode(), headers=FORM_HEADERS
            ) as response,
        ):
            return CallbackAnswer(response.status, await response.text())
