"""The tab's routes on the bot's web server: `POST <tab path>` and its two action forms.

Every answer is HTML that no cache keeps (`Cache-Control: no-store`), with a content policy
that allows nothing from outside: no scripts at all, styles only inline, forms only to this
origin. Framing stays allowed, since the portal shows the page in its card's frame.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from bot.tab.service import TabAction, TabAnswer, TabService

MAX_FORM_BYTES = 64 * 1024
FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})
HEADERS = {
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
        "form-action 'self'; base-uri 'none'"
    ),
}


def _html(answer: TabAnswer) -> web.Response:
    return web.Response(
        status=answer.status, text=answer.html, content_type="text/html", headers=HEADERS
    )


class TabEndpoints:
    """`POST <tab path>`, `POST <tab path>/ping`, `POST <tab path>/group`."""

    def __init__(
        self, service: TabService, on_close: Callable[[], Awaitable[None]] | None = None
    ) -> None:
        self._service = service
        self._on_close = on_close

    async def aclose(self) -> None:
        """Close what the tab holds open (the viewer check's HTTP connections)."""
        if self._on_close is not None:
            await self._on_close()

    async def _form(self, request: web.Request) -> dict[str, str] | None:
        if request.content_type not in FORM_TYPES:
            return None
        if request.content_length is not None and request.content_length > MAX_FORM_BYTES:
            return None
        try:
            posted = await request.post()
        except (ValueError, UnicodeDecodeError):
            return None
        return {key: value for key, value in posted.items() if isinstance(value, str)}

    async def open(self, request: web.Request) -> web.Response:
        """The portal opens the tab."""
        form = await self._form(request)
        if form is None:
            form = {}
        return _html(await self._service.open(form, dict(request.query)))

    async def ping(self, request: web.Request) -> web.Response:
        """ "Ping the responsible in Telegram"."""
        return _html(await self._service.act(TabAction.PING, await self._form(request) or {}))

    async def group(self, request: web.Request) -> web.Response:
        """ "Send to the team group"."""
        return _html(await self._service.act(TabAction.SHARE, await self._form(request) or {}))

    def add_routes(self, app: web.Application, path: str) -> None:
        """Register the three routes under `path`."""
        app.router.add_post(path, self.open)
        app.router.add_post(f"{path}/ping", self.ping)
        app.router.add_post(f"{path}/group", self.group)
