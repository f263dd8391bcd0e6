"""The emulator's widget side: placement.bind/get/unbind and opening a lead card's tab."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.emulators.bitrix24 import Bitrix24Emulator
from tests.emulators.test_bitrix24_emulator import EventSink

TAB = "CRM_LEAD_DETAIL_TAB"


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


async def call(
    http: httpx.AsyncClient, emu: Bitrix24Emulator, token: str, method: str, **params: Any
) -> httpx.Response:
    return await http.post(emu.oauth_endpoint + method, json={"auth": token, **params})


async def test_an_admin_binds_lists_and_unbinds_the_lead_tab(
    portal_emulator: Bitrix24Emulator, http: httpx.AsyncClient
) -> None:
    admin, _ = portal_emulator.issue_oauth_tokens(user_id=1)
    titles = {"en": {"TITLE": "Telegram"}, "ru": {"TITLE": "Телеграм"}}
    bound = await call(
        http,
        portal_emulator,
        admin,
        "placement.bind",
        PLACEMENT=TAB,
        HANDLER="https://bot.test/tab",
        TITLE="Telegram",
        LANG_ALL=titles,
    )
    assert bound.json()["result"] is True
    listed = (await call(http, portal_emulator, admin, "placement.get")).json()["result"]
    assert [(r["placement"], r["handler"], r["options"]) for r in listed] == [
        (TAB, "https://bot.test/tab", [])
    ]
    assert listed[0]["langAll"]["ru"]["TITLE"] == "Телеграм"
    removed = await call(
        http, portal_emulator, admin, "placement.unbind", PLACEMENT=TAB, HANDLER="https://x"
    )
    assert removed.json()["result"] == {"count": 0}
    removed = await call(http, portal_emulator, admin, "placement.unbind", PLACEMENT=TAB)
    assert removed.json()["result"] == {"count": 2}
    assert portal_emulator.placements == []


async def test_placement_calls_refuse_what_the_docs_refuse(
    portal_emulator: Bitrix24Emulator, http: httpx.AsyncClient
) -> None:
    rep, _ = portal_emulator.issue_oauth_tokens(user_id=2)
    admin, _ = portal_emulator.issue_oauth_tokens(user_id=1)
    hook_url = portal_emulator.add_incoming_webhook(1, scopes=("crm", "placement"))
    webhook = await http.post(
        hook_url + "placement.bind",
        json={"PLACEMENT": TAB, "HANDLER": "https://bot.test/tab"},
    )
    assert webhook.json()["error"] == "WRONG_AUTH_TYPE"
    not_admin = await call(
        http, portal_emulator, rep, "placement.bind", PLACEMENT=TAB, HANDLER="https://b"
    )
    assert not_admin.json()["error"] == "ACCESS_DENIED"
    no_placement = await call(http, portal_emulator, admin, "placement.bind", HANDLER="https://b")
    assert no_placement.json()["error"] == "ERROR_ARGUMENT"
    unknown = await call(
        http, portal_emulator, admin, "placement.bind", PLACEMENT="NOPE", HANDLER="https://b"
    )
    assert unknown.json()["error"] == "ERROR_PLACEMENT_NOT_FOUND"
    unbind = await call(http, portal_emulator, admin, "placement.unbind")
    assert (unbind.status_code, unbind.json()["error"]) == (400, "ERROR_ARGUMENT")


async def test_opening_the_tab_posts_a_fresh_token_of_the_viewer_and_the_lead(
    portal_emulator: Bitrix24Emulator, http: httpx.AsyncClient
) -> None:
    admin, _ = portal_emulator.issue_oauth_tokens(user_id=1)
    async with EventSink() as sink:
        await call(http, portal_emulator, admin, "placement.bind", PLACEMENT=TAB, HANDLER=sink.url)
        opened = await portal_emulator.open_tab(2, 15, language="ru")
    assert opened.status == 200
    (form,) = sink.received
    assert form["PLACEMENT"] == TAB
    assert json.loads(form["PLACEMENT_OPTIONS"])["ID"] == "15"
    assert form["member_id"] == portal_emulator.member_id
    assert form["APPLICATION_TOKEN"] == portal_emulator.application_token
    me = await call(http, portal_emulator, form["AUTH_ID"], "user.current")
    assert me.json()["result"]["ID"] in (2, "2")
    assert "LANG=ru" in portal_emulator.tab_url("ru")
    page = portal_emulator.tab_frame_page(2, 15)
    assert 'target="tab"' in page
    assert "src=" not in page  # nothing is loaded from outside
