"""The bot's HTTP server: liveness, readiness, metrics, portal events and the Telegram webhook.

Routes:
- `GET /healthz`: liveness, `{"ok": true}` while the process serves requests.
- `GET /readyz`: readiness (`bot.readiness`), 200 when ready, 503 with the reasons when not.
- `GET /metrics`: Prometheus text, only with a token or while the server listens on loopback.
- `POST <event path>`: the portal's outgoing webhook.
- `POST /telegram/webhook`: Telegram updates, in webhook mode only.
- `POST <install path>`, `POST <uninstall path>`: the local application's install callback
  and its ONAPPUNINSTALL handler, in application mode only.
- `POST <tab path>` (and `/ping`, `/group`): the lead card's "Telegram" tab (`bot.tab`), in
  application mode only.
- `POST <robot path>`: calls of the "Send to Telegram" automation rule, in application mode.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiogram import Bot
from aiogram.types import Update
from aiohttp import web
from pydantic import ValidationError

from bot.config import Settings
from bot.metrics import MetricsRegistry, metrics_handler
from bot.storage.db import DATABASE_ERRORS
from bot.updates import UpdateIntake

if TYPE_CHECKING:  # application mode's, imported by the bot only when it is on
    from bot.install.endpoints import InstallEndpoints
    from bot.install.robot import RobotEndpoint
    from bot.tab.endpoints import TabEndpoints

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/telegram/webhook"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name
MAX_BODY_BYTES = 1024 * 1024

Handler = Callable[[web.Request], Awaitable[web.Response]]
ReadinessReport = Callable[[], Awaitable[dict[str, Any]]]


def is_loopback(host: str) -> bool:
    """Whether `host` (WEB__HOST) accepts connections from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def metrics_exposed(settings: Settings) -> bool:
    """`/metrics` is served with a token, or without one only on a loopback-bound server."""
    metrics = settings.metrics
    if not metrics.enabled:
        return False
    has_token = metrics.token is not None and bool(metrics.token.get_secret_value())
    return has_token or is_loopback(settings.web.host)


class TelegramWebhook:
    """`POST /telegram/webhook`: checks the secret, parses the update, stores it, answers 200.

    The 200 goes only once the update is stored durably (`UpdateIntake`), so Telegram delivers
    again whatever a crash or a database failure kept from being stored; the update is then
    handled in background, once per update_id. Every malformed request gets a clean 4xx here,
    so Telegram (or a prober) never sees a 500. The secret is compared in constant time as
    bytes, so a header with non-ASCII characters is simply wrong, not an error.
    """

    def __init__(self, intake: UpdateIntake, bot: Bot, secret: str) -> None:
        self._intake = intake
        self._bot = bot
        self._secret = secret.encode()

    async def handle(self, request: web.Request) -> web.Response:
        """Answer 401, 400, 503 (not stored: Telegram retries) or 200 (stored)."""
        given = request.headers.get(SECRET_HEADER, "").encode("utf-8", "surrogateescape")
        if not hmac.compare_digest(given, self._secret):
            return web.json_response({"ok": False, "error": "unauthorized"}, status=401)
        try:
            data = json.loads(await request.read())
        except ValueError:  # JSONDecodeError and UnicodeDecodeError both
            return web.json_response({"ok": False, "error": "malformed JSON"}, status=400)
        try:
            if not isinstance(data, dict):
                raise TypeError("not an object")
            update = Update.model_validate(data, context={"bot": self._bot})
        except (TypeError, ValidationError):
            log.warning("refused a webhook request that is not a Telegram update")
            return web.json_response({"ok": False, "error": "not an update"}, status=400)
        try:
            await self._intake.accept([update])
        except DATABASE_ERRORS as exc:
            log.warning("update %d not stored (%s)", update.update_id, type(exc).__name__)
            return web.json_response({"ok": False, "error": "not stored"}, status=503)
        return web.json_response({})

    async def close(self, _: web.Application | None = None) -> None:
        """Cancel updates still running: shutdown has already given them their grace time."""
        await self._intake.close()


async def listen(runner: web.AppRunner, host: str, port: int) -> int:
    """Set `runner` up and listen; the port it listens on (port 0: the one the system gave).
    OSError when it cannot (the port taken), with the runner cleaned up."""
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    server = getattr(site, "_server", None)
    sockets = getattr(server, "sockets", None) or []
    return int(sockets[0].getsockname()[1]) if sockets else port


def build_web_app(
    settings: Settings,
    *,
    metrics: MetricsRegistry,
    readiness: ReadinessReport,
    portal_event: Handler,
    telegram_webhook: TelegramWebhook | None,
    install: InstallEndpoints | None = None,
    tab: TabEndpoints | None = None,
    robot: RobotEndpoint | None = None,
) -> web.Application:
    """The aiohttp application with every route the settings ask for."""
    app = web.Application(client_max_size=MAX_BODY_BYTES)

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def readyz(_: web.Request) -> web.Response:
        report = await readiness()
        return web.json_response(report, status=200 if report["ready"] else 503)

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    if metrics_exposed(settings):
        token = settings.metrics.token.get_secret_value() if settings.metrics.token else None
        app.router.add_get(settings.metrics.path, metrics_handler(metrics, token=token or None))
    elif settings.metrics.enabled:
        log.warning(
            "%s is not served: set METRICS__TOKEN, or keep WEB__HOST on 127.0.0.1",
            settings.metrics.path,
        )
    app.router.add_post(settings.web.event_path, portal_event)
    if install is not None:
        app.router.add_post(settings.app.install_path, install.install)
        app.router.add_post(settings.app.uninstall_path, install.uninstall)
    if tab is not None:
        tab.add_routes(app, settings.app.tab_path)
    if robot is not None:
        app.router.add_post(settings.app.robot_path, robot.handle)
    if telegram_webhook is not None:
        app.router.add_post(WEBHOOK_PATH, telegram_webhook.handle)
        app.on_shutdown.append(telegram_webhook.close)
    return app
