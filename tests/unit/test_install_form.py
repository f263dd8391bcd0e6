"""The application's callbacks read the portal's form whole, however it arrives."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bot.events.receiver import EventRefused
from bot.install.endpoints import MAX_CALLBACK_BYTES, read_form

FORM = "application/x-www-form-urlencoded"


@pytest.fixture
async def form_url() -> AsyncIterator[str]:
    """A server that answers each POST with the form `read_form` made of it (or its refusal)."""

    async def echo(request: web.Request) -> web.Response:
        try:
            return web.json_response(await read_form(request))
        except EventRefused as exc:
            return web.json_response({"refused": exc.reason}, status=exc.status)

    app = web.Application()
    app.router.add_post("/install", echo)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/install"
    finally:
        await runner.cleanup()


async def post(url: str, data: Any) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=data, headers={"Content-Type": FORM}) as answer,
    ):
        return answer.status, await answer.json()


async def test_a_form_that_arrives_in_two_parts_is_read_whole(form_url: str) -> None:
    async def in_two_parts() -> AsyncIterator[bytes]:
        yield b"AUTH_ID=abc&auth%5Bdomain%5D=exa"
        await asyncio.sleep(0.05)  # the first part is at the server before the second is sent
        yield b"mple.bitrix24.ru&member_id=m1"

    status, form = await post(form_url, in_two_parts())
    assert status == 200
    assert form == {"AUTH_ID": "abc", "auth": {"domain": "example.bitrix24.ru"}, "member_id": "m1"}


async def test_a_form_over_the_limit_is_refused_also_without_a_length(form_url: str) -> None:
    async def chunked() -> AsyncIterator[bytes]:  # no Content-Length: sent in chunks
        yield b"AUTH_ID=" + b"x" * MAX_CALLBACK_BYTES
        yield b"&more=1"

    assert await post(form_url, chunked()) == (413, {"refused": "body too large"})
