"""The application's install callback and uninstall event handler on the bot's web server.

Install: the body must be an ONAPPINSTALL callback whose access token the portal at
PORTAL__OAUTH_ENDPOINT accepts for our application (`app.info` says it is installed), from the
member id configured or recorded before. Then the tokens and the installation are stored, the
offline lead and lead-field events, the uninstall handler and the placements (the lead card's
tab) are bound, and the answer is `{"status": "success"}` as the docs' example handler gives.
Uninstall: the body must carry the recorded member id and application token; intake stops.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiohttp import web

from bot.events.form import MalformedFormError, parse_php_form
from bot.events.receiver import (
    FORM_CONTENT_TYPE,
    LEAD_EVENTS,
    USERFIELD_EVENTS,
    EventRefused,
    same_secret,
)
from bot.install.installation import (
    UNINSTALL_EVENT,
    InstallationStore,
    InstallCallback,
    check_uninstall,
    read_install_callback,
)
from bot.portal import OAuthAuth, PortalClient, PortalError
from bot.portal.methods import BindEvent, BindPlacement, GetAppInfo, UnbindPlacement
from bot.portal.models import AppInfo

log = logging.getLogger(__name__)

MAX_CALLBACK_BYTES = 64 * 1024
ALREADY_BOUND = "ERROR_HANDLER_ALREADY_EXIST"

AppInfoReader = Callable[[str], Awaitable[AppInfo]]
"""`read(access_token)`: `app.info` as the given token sees it on our portal."""


def app_info_reader(endpoint: str, timeout: float) -> AppInfoReader:
    """Reads `app.info` with a token not yet trusted, through a client of its own."""

    async def read(access_token: str) -> AppInfo:
        auth = OAuthAuth(
            endpoint=endpoint,
            access_token=access_token,
            refresh_token="",
            client_id="",
            client_secret="",
        )
        async with PortalClient(auth=auth, timeout=timeout, max_retries=1) as client:
            return await client(GetAppInfo())

    return read


async def read_form(request: web.Request) -> dict[str, Any]:
    """The portal's form-encoded body, nested; EventRefused (415, 413, 400) otherwise."""
    if request.content_type != FORM_CONTENT_TYPE:
        raise EventRefused(415, "expected a form-encoded body")
    if request.content_length is not None and request.content_length > MAX_CALLBACK_BYTES:
        raise EventRefused(413, "body too large")
    # The whole body, however many TCP segments it came in (`content.read(n)` returns what has
    # arrived so far); the server caps bodies at 1 MB.
    raw = await request.read()
    if len(raw) > MAX_CALLBACK_BYTES:
        raise EventRefused(413, "body too large")
    try:
        return parse_php_form(raw.decode("utf-8"))
    except (UnicodeDecodeError, MalformedFormError):
        raise EventRefused(400, "malformed form") from None


class InstallEndpoints:
    """`POST <install path>` and `POST <uninstall path>`."""

    def __init__(
        self,
        *,
        store: InstallationStore,
        auth: OAuthAuth,
        portal: PortalClient,
        read_app_info: AppInfoReader,
        expected_member_id: str | None,
        uninstall_url: str | None,
        on_changed: Callable[[], None],
        wall_clock: Callable[[], float] = time.time,
        placements: Sequence[BindPlacement] = (),
        on_installed: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._store = store
        self._auth = auth
        self._portal = portal
        self._read_app_info = read_app_info
        self._expected_member_id = expected_member_id
        self._uninstall_url = uninstall_url
        self._on_changed = on_changed
        self._wall_clock = wall_clock
        self._placements = tuple(placements)
        self._on_installed = on_installed
        self.refused = 0

    def _refuse(self, status: int, reason: str, request: web.Request) -> web.Response:
        self.refused += 1
        log.warning("application callback refused (%d %s) from %s", status, reason, request.remote)
        return web.json_response({"status": "error", "error": reason}, status=status)

    async def _form(self, request: web.Request) -> dict[str, object]:
        return await read_form(request)

    async def install(self, request: web.Request) -> web.Response:
        """Verify the callback, store tokens and installation, bind the events."""
        try:
            callback = read_install_callback(await self._form(request))
            await self._check_portal(callback)
        except EventRefused as exc:
            return self._refuse(exc.status, exc.reason, request)
        expires_at = (
            self._wall_clock() + callback.expires_in if callback.expires_in is not None else None
        )
        await self._auth.replace_tokens(callback.access_token, callback.refresh_token, expires_at)
        await self._store.installed(callback)
        log.info("application installed on %s", callback.domain)
        try:
            await self._bind()
        except PortalError as exc:
            # The installation stands; the portal shows the error and the admin reinstalls.
            log.warning("binding the application's events failed: %s", exc.code)
            return web.json_response(
                {"status": "error", "error": "events could not be bound"}, status=502
            )
        if self._on_installed is not None:
            await self._on_installed()
        self._on_changed()
        return web.json_response({"status": "success"})

    async def _check_portal(self, callback: InstallCallback) -> None:
        expected = self._expected_member_id
        if expected is None:
            recorded = await self._store.get()
            expected = recorded.member_id if recorded is not None else None
        if expected is not None and not same_secret(callback.member_id, expected):
            raise EventRefused(401, "member id does not match")
        try:
            info = await self._read_app_info(callback.access_token)
        except PortalError as exc:
            raise EventRefused(401, f"the portal refused the token ({exc.code})") from None
        if not info.installed:
            raise EventRefused(401, "the portal does not report the application installed")

    async def _bind(self) -> None:
        bindings = [
            BindEvent(event=event, event_type="offline")
            for event in sorted(LEAD_EVENTS | USERFIELD_EVENTS)
        ]
        if self._uninstall_url is not None:
            bindings.append(BindEvent(event=UNINSTALL_EVENT, handler=self._uninstall_url))
        for binding in bindings:
            try:
                await self._portal(binding)
            except PortalError as exc:
                if exc.code != ALREADY_BOUND:
                    raise
        for placement in self._placements:
            # The docs do not say what a second bind of one handler does: unbind it first.
            await self._portal(
                UnbindPlacement(placement=placement.placement, handler=placement.handler)
            )
            await self._portal(placement)

    async def uninstall(self, request: web.Request) -> web.Response:
        """Verify the ONAPPUNINSTALL event and stop intake."""
        try:
            form = await self._form(request)
            installation = await self._store.get()
            check_uninstall(form, installation)
        except EventRefused as exc:
            return self._refuse(exc.status, exc.reason, request)
        assert installation is not None
        await self._store.uninstalled(installation)
        log.info("application uninstalled from %s; offline intake stopped", installation.domain)
        self._on_changed()
        return web.json_response({"status": "success"})
