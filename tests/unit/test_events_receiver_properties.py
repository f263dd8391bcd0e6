"""The event endpoint under arbitrary input: it never crashes and never writes a forged event."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.events.form import MalformedFormError, parse_php_form
from bot.events.receiver import EventCredentials, EventReceiver, EventRefused, read_event
from bot.storage import SqliteDatabase
from bot.storage.inbox import InboxRepository

TOKEN = "51856fefc120afa4b628cc82d3935cce"
CREDENTIALS = EventCredentials(TOKEN, member_id="memb0001", domain="emulator.bitrix24.test")

KEYS = st.one_of(
    st.sampled_from(
        [
            "event",
            "event_handler_id",
            "data[FIELDS][ID]",
            "data[FIELDS]",
            "ts",
            "auth[application_token]",
            "auth[member_id]",
            "auth[domain]",
            "auth",
            "data[]",
        ]
    ),
    st.text(max_size=24),
)
FORMS = st.dictionaries(KEYS, st.text(max_size=64), max_size=12)


@settings(max_examples=400)
@given(body=st.text(max_size=300))
def test_any_body_is_read_or_refused_cleanly(body: str) -> None:
    # Anything else escaping (KeyError, TypeError...) fails the test.
    with contextlib.suppress(MalformedFormError, EventRefused):
        read_event(parse_php_form(body), CREDENTIALS)


@settings(max_examples=300)
@given(form=FORMS)
def test_no_form_without_the_application_token_is_accepted(form: dict[str, str]) -> None:
    with pytest.raises((MalformedFormError, EventRefused)) as refused:
        read_event(parse_php_form(urlencode(form)), CREDENTIALS)
    if isinstance(refused.value, EventRefused):
        assert refused.value.status in (400, 401)


class _Endpoint:
    """The receiver on loopback with a real SQLite inbox, driven from a private event loop."""

    def __init__(self, tmp_path: Path) -> None:
        self.loop = asyncio.new_event_loop()
        self._tmp = tmp_path

    async def start(self) -> None:
        self.db = SqliteDatabase(self._tmp / "bot.sqlite3")
        await self.db.open()
        self.inbox = InboxRepository(self.db)
        receiver = EventReceiver(
            self.inbox,
            CREDENTIALS,
            max_body_bytes=4096,
            on_catalog_changed=lambda: None,
            on_stored=lambda: None,
        )
        app = web.Application()
        app.router.add_post("/bitrix/events", receiver.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = self.runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/bitrix/events"
        self.http = aiohttp.ClientSession()

    async def post(self, body: bytes, content_type: str) -> tuple[int, int]:
        async with self.http.post(
            self.url, data=body, headers={"Content-Type": content_type}
        ) as response:
            await response.read()
            return response.status, await self.inbox.count()

    async def stop(self) -> None:
        await self.http.close()
        await self.runner.cleanup()
        await self.db.close()


def test_endpoint_refuses_arbitrary_forms_and_writes_nothing(tmp_path: Path) -> None:
    endpoint = _Endpoint(tmp_path)
    loop = endpoint.loop
    loop.run_until_complete(endpoint.start())
    try:

        @settings(
            max_examples=150,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture],
        )
        @given(
            form=FORMS,
            content_type=st.sampled_from(
                [
                    "application/x-www-form-urlencoded",
                    "application/json",
                    "text/plain",
                    "multipart/form-data",
                ]
            ),
            raw=st.binary(max_size=200),
            use_raw=st.booleans(),
        )
        def check(form: dict[str, str], content_type: str, raw: bytes, use_raw: bool) -> None:
            body = raw if use_raw else urlencode(form).encode()
            status, stored = loop.run_until_complete(endpoint.post(body, content_type))
            assert status in (400, 401, 413, 415), status
            assert stored == 0

        check()
        oversized = b"event=" + b"x" * 10_000
        status, stored = loop.run_until_complete(
            endpoint.post(oversized, "application/x-www-form-urlencoded")
        )
        assert (status, stored) == (413, 0)
    finally:
        loop.run_until_complete(endpoint.stop())
        loop.close()
