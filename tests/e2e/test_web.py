"""The bot's HTTP server: readiness, the Telegram webhook's refusals, and what is exposed."""

from __future__ import annotations

import contextlib
import logging
import socket
from collections.abc import AsyncIterator

import httpx
import pytest

from bot.app import Application
from bot.config import MetricsSettings, RedisSettings, Settings, WebSettings
from bot.web import WEBHOOK_PATH
from tests.e2e.conftest import FAST_BACKOFF, BotRunner, SettingsFactory, eventually
from tests.emulators.bitrix24 import Bitrix24Emulator
from tests.emulators.telegram import TelegramEmulator

WEBHOOK_SECRET = "s3cret-Token_1-0123456789abcdefghij"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.asynccontextmanager
async def _app(settings: Settings) -> AsyncIterator[Application]:
    app = Application(settings, polling_backoff=FAST_BACKOFF)
    try:
        await app.start()
        yield app
    finally:
        await app.stop()


@pytest.mark.parametrize("bot_redis", ["sqlite", "redis"], indirect=True)
async def test_readiness_turns_503_with_the_reason_when_the_portal_fails_and_back(
    make_settings: SettingsFactory, portal_emulator: Bitrix24Emulator, bot_redis: RedisSettings
) -> None:
    settings = make_settings()
    # Probe the portal whenever nothing was heard from it for 50 ms (30 s by default).
    settings.web = WebSettings(host="127.0.0.1", port=0, ready_check_seconds=0.05)
    async with _app(settings) as app, httpx.AsyncClient() as client:
        url = f"http://127.0.0.1:{app.port}/readyz"
        ready = await client.get(url)
        assert ready.status_code == 200, ready.text
        body = ready.json()
        assert body["ready"] is True
        shared = {"redis"} if bot_redis.url is not None else set()
        assert set(body["checks"]) == {
            "database",
            "inbox",
            "outbox",
            "portal",
            "telegram",
            *shared,
        }
        assert (await client.get(f"http://127.0.0.1:{app.port}/healthz")).json() == {"ok": True}

        portal_emulator.faults.fail_next(10_000, status=500)
        answers: list[httpx.Response] = []

        async def not_ready() -> bool:
            answers.append(await client.get(url))
            return answers[-1].status_code == 503

        await eventually(not_ready, timeout=10)
        portal = answers[-1].json()["checks"]["portal"]
        assert portal["ok"] is False
        assert portal["problem"]
        # Liveness does not depend on the portal.
        assert (await client.get(f"http://127.0.0.1:{app.port}/healthz")).status_code == 200

        portal_emulator.faults.clear()

        async def ready_again() -> bool:
            return (await client.get(url)).status_code == 200

        await eventually(ready_again, timeout=10)


async def test_readiness_never_probes_the_portal_more_than_once_per_period(
    running_bot: Application, portal_emulator: Bitrix24Emulator
) -> None:
    async with httpx.AsyncClient() as client:
        url = f"http://127.0.0.1:{running_bot.port}/readyz"
        first = await client.get(url)
        assert first.status_code == 200
        before = len(portal_emulator.calls)
        for _ in range(20):
            assert (await client.get(url)).status_code == 200
    assert len(portal_emulator.calls) == before


@pytest.fixture
async def webhook_app(
    make_settings: SettingsFactory, telegram_emulator: TelegramEmulator
) -> AsyncIterator[tuple[Application, str]]:
    port = _free_port()
    url = f"http://127.0.0.1:{port}{WEBHOOK_PATH}"
    settings = make_settings(web_port=port, webhook_url=url, webhook_secret=WEBHOOK_SECRET)
    async with _app(settings) as app:
        yield app, url


async def test_webhook_refuses_a_non_ascii_secret_header_with_401(
    webhook_app: tuple[Application, str],
) -> None:
    _, url = webhook_app
    async with httpx.AsyncClient() as client:
        answer = await client.post(
            url, content=b"{}", headers={SECRET_HEADER.encode(): "сек-рет-ä".encode()}
        )
    assert answer.status_code == 401


async def test_webhook_refuses_malformed_json_with_the_right_secret_with_400(
    webhook_app: tuple[Application, str],
) -> None:
    _, url = webhook_app
    async with httpx.AsyncClient() as client:
        broken = await client.post(
            url, content=b'{"update_id": 1,', headers={SECRET_HEADER: WEBHOOK_SECRET}
        )
        not_utf8 = await client.post(
            url, content=b"\xff\xfe{}", headers={SECRET_HEADER: WEBHOOK_SECRET}
        )
    assert broken.status_code == 400
    assert not_utf8.status_code == 400


@pytest.mark.parametrize(
    "body",
    [b'{"update_id": "nope"}', b"[1, 2]", b'{"update_id": 5, "message": {"chat": 1}}'],
)
async def test_webhook_refuses_an_invalid_update_with_400_and_no_dead_task(
    webhook_app: tuple[Application, str],
    caplog: pytest.LogCaptureFixture,
    body: bytes,
) -> None:
    _, url = webhook_app
    async with httpx.AsyncClient() as client:
        answer = await client.post(url, content=body, headers={SECRET_HEADER: WEBHOOK_SECRET})
    assert answer.status_code == 400
    assert answer.json()["error"] == "not an update"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert "Task exception was never retrieved" not in caplog.text


async def test_metrics_are_closed_on_a_public_address_without_a_token(
    make_settings: SettingsFactory, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings()
    settings.web = WebSettings(host="0.0.0.0", port=0)  # noqa: S104 - what is being tested
    async with _app(settings) as app, httpx.AsyncClient() as client:
        answer = await client.get(f"http://127.0.0.1:{app.port}/metrics")
    assert answer.status_code == 404
    assert "/metrics is not served" in caplog.text


async def test_metrics_on_a_public_address_need_the_token(make_settings: SettingsFactory) -> None:
    settings = make_settings()
    settings.web = WebSettings(host="0.0.0.0", port=0)  # noqa: S104 - what is being tested
    settings.metrics = MetricsSettings(token="scrape-token-123")
    async with _app(settings) as app, httpx.AsyncClient() as client:
        url = f"http://127.0.0.1:{app.port}/metrics"
        without = await client.get(url)
        with_token = await client.get(url, headers={"Authorization": "Bearer scrape-token-123"})
    assert without.status_code == 401
    assert with_token.status_code == 200
    assert "bot_" in with_token.text


async def test_plain_http_portal_url_is_accepted_with_a_warning(
    bot_runner: BotRunner, caplog: pytest.LogCaptureFixture
) -> None:
    app = await bot_runner.start()
    assert app.portal is not None
    warnings = [r for r in caplog.records if "uses plain http://" in r.getMessage()]
    assert warnings
    assert warnings[0].levelno == logging.WARNING
    assert "PORTAL__WEBHOOK_URL" in warnings[0].getMessage()
