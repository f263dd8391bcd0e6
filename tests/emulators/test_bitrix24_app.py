"""The emulator's local application: install callback, ONAPPUNINSTALL, app.info."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.emulators.bitrix24 import Bitrix24Emulator
from tests.emulators.test_bitrix24_emulator import EventSink


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


async def app_call(
    http: httpx.AsyncClient, emu: Bitrix24Emulator, token: str, method: str, **params: Any
) -> httpx.Response:
    return await http.post(emu.oauth_endpoint + method, json={"auth": token, **params})


async def test_install_posts_the_callback_with_admin_tokens_and_application_token(
    portal_emulator, http
):
    async with EventSink() as sink:
        answer = await portal_emulator.install_app(sink.url)
    assert answer.status == 200
    (form,) = sink.received
    assert form["event"] == "ONAPPINSTALL"
    assert form["data[INSTALLED]"] == "Y"
    assert form["auth[member_id]"] == portal_emulator.member_id
    assert form["auth[domain]"] == portal_emulator.domain
    assert form["auth[application_token]"] == portal_emulator.application_token
    assert form["auth[client_endpoint]"] == portal_emulator.oauth_endpoint
    info = await app_call(http, portal_emulator, form["auth[access_token]"], "app.info")
    assert info.json()["result"]["INSTALLED"] is True
    assert info.json()["result"]["CODE"] == portal_emulator.client_id


async def test_only_an_admin_installs_and_install_drops_earlier_bindings(portal_emulator, http):
    admin, _ = portal_emulator.issue_oauth_tokens(user_id=1)
    await app_call(
        http, portal_emulator, admin, "event.bind", event="ONCRMLEADADD", event_type="offline"
    )
    async with EventSink() as sink:
        with pytest.raises(PermissionError):
            await portal_emulator.install_app(sink.url, user_id=2)
        assert portal_emulator.offline.subscriptions == [("ONCRMLEADADD", "")]
        await portal_emulator.install_app(sink.url)
    assert portal_emulator.offline.subscriptions == []


async def test_app_info_needs_an_application_context(portal_emulator, http):
    response = await http.post(portal_emulator.webhook_url + "app.info", json={})
    assert response.status_code == 400
    assert response.json() == {
        "error": "ACCESS_DENIED",
        "error_description": "Access denied! Application context required",
    }


async def test_uninstall_tells_the_bound_handler_and_closes_the_api(portal_emulator, http):
    admin, _ = portal_emulator.issue_oauth_tokens(user_id=1)
    token_before = portal_emulator.application_token
    async with EventSink() as sink:
        bound = await app_call(
            http, portal_emulator, admin, "event.bind", event="ONAPPUNINSTALL", handler=sink.url
        )
        assert bound.json()["result"] is True
        await app_call(
            http, portal_emulator, admin, "event.bind", event="ONCRMLEADADD", event_type="offline"
        )
        answers = await portal_emulator.uninstall_app(clean=True)
    assert [a.status for a in answers] == [200]
    (form,) = sink.received
    assert form["event"] == "ONAPPUNINSTALL"
    assert form["data[CLEAN]"] == "1"
    assert form["auth[application_token]"] == token_before
    assert "auth[access_token]" not in form
    refused = await app_call(http, portal_emulator, admin, "app.info")
    assert refused.json()["error"] == "invalid_token"
    assert portal_emulator.offline.subscriptions == []
    async with EventSink() as sink:
        await portal_emulator.install_app(sink.url)
    # A fresh installation after an uninstall has a new application token.
    assert sink.received[0]["auth[application_token]"] != token_before


async def test_control_endpoint_installs_and_uninstalls(portal_emulator, http):
    async with EventSink() as sink:
        response = await http.post(
            portal_emulator.base_url + "/_emulator/app/install", json={"install_url": sink.url}
        )
        assert response.json()["status"] == 200
        denied = await http.post(
            portal_emulator.base_url + "/_emulator/app/install",
            json={"install_url": sink.url, "user_id": 2},
        )
        assert denied.status_code == 403
    gone = await http.post(portal_emulator.base_url + "/_emulator/app/uninstall", json={})
    assert gone.json() == {"statuses": []}
    assert portal_emulator.app_installed is False
