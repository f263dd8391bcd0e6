"""The emulator's robots (bizproc.robot.*, bizproc.event.send, running a rule) and the offline
queue's source keys (auth_connector)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.emulators.bitrix24 import Bitrix24Emulator
from tests.emulators.test_bitrix24_emulator import EventSink

ROBOT: dict[str, Any] = {
    "CODE": "telegram_send",
    "NAME": {"en": "Send", "ru": "Отправить"},
    "USE_SUBSCRIPTION": "Y",
    "PROPERTIES": {"message": {"Name": "Message", "Type": "text"}},
    "RETURN_PROPERTIES": {"delivered": {"Name": "Delivered", "Type": "bool"}},
}


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


async def app_call(
    http: httpx.AsyncClient, emu: Bitrix24Emulator, method: str, user_id: int = 1, **params: Any
) -> httpx.Response:
    token, _ = emu.issue_oauth_tokens(user_id)
    return await http.post(emu.oauth_endpoint + method, json={"auth": token, **params})


def error_of(response: httpx.Response) -> tuple[int, str, str]:
    body = response.json()
    return response.status_code, body["error"], body["error_description"]


async def test_robot_is_added_once_updated_listed_and_deleted(
    portal_emulator: Bitrix24Emulator, http: httpx.AsyncClient
) -> None:
    async with EventSink() as sink:
        await portal_emulator.install_app(sink.url)
        added = await app_call(
            http, portal_emulator, "bizproc.robot.add", HANDLER=sink.url, **ROBOT
        )
        assert added.json()["result"] is True
        again = await app_call(
            http, portal_emulator, "bizproc.robot.add", HANDLER=sink.url, **ROBOT
        )
        assert error_of(again) == (
            400,
            "ERROR_ACTIVITY_ALREADY_INSTALLED",
            "Activity or Automation rule already installed!",
        )
        listed = await app_call(http, portal_emulator, "bizproc.robot.list")
        assert listed.json()["result"] == ["telegram_send"]
        updated = await app_call(
            http,
            portal_emulator,
            "bizproc.robot.update",
            CODE="telegram_send",
            FIELDS={"NAME": "Renamed"},
        )
        assert updated.json()["result"] is True
        assert portal_emulator.robots.robots["telegram_send"].fields["NAME"] == "Renamed"
        empty = await app_call(
            http, portal_emulator, "bizproc.robot.update", CODE="telegram_send", FIELDS={}
        )
        assert error_of(empty)[2] == "No fields to update"
        gone = await app_call(http, portal_emulator, "bizproc.robot.delete", CODE="telegram_send")
        assert gone.json()["result"] is True
        for method, params in (
            ("bizproc.robot.delete", {"CODE": "telegram_send"}),
            ("bizproc.robot.update", {"CODE": "telegram_send", "FIELDS": {"NAME": "x"}}),
        ):
            missing = await app_call(http, portal_emulator, method, **params)
            assert error_of(missing)[1] == "ERROR_ACTIVITY_NOT_FOUND"


@pytest.mark.parametrize(
    ("change", "code", "description"),
    [
        ({"CODE": ""}, "ERROR_ACTIVITY_VALIDATION_FAILURE", "Empty activity code!"),
        ({"CODE": "bad code"}, "ERROR_ACTIVITY_VALIDATION_FAILURE", "Wrong activity code!"),
        ({"NAME": ""}, "ERROR_ACTIVITY_VALIDATION_FAILURE", "Empty activity NAME!"),
        ({"HANDLER": "ftp://x/y"}, "ERROR_UNSUPPORTED_PROTOCOL", "Unsupported handler protocol"),
        (
            {"HANDLER": "https://elsewhere.example/h"},
            "ERROR_WRONG_HANDLER_URL",
            "Wrong handler URL",
        ),
        (
            {"PROPERTIES": {"1st": {"Name": "x"}}},
            "ERROR_ACTIVITY_VALIDATION_FAILURE",
            "Wrong property key 1st!",
        ),
        (
            {"PROPERTIES": {"text": {"Type": "text"}}},
            "ERROR_ACTIVITY_VALIDATION_FAILURE",
            "Empty property NAME text!",
        ),
    ],
)
async def test_robot_add_refuses_what_the_docs_refuse(
    portal_emulator: Bitrix24Emulator,
    http: httpx.AsyncClient,
    change: dict[str, Any],
    code: str,
    description: str,
) -> None:
    async with EventSink() as sink:
        await portal_emulator.install_app(sink.url)
        params = {**ROBOT, "HANDLER": sink.url, **change}
        response = await app_call(http, portal_emulator, "bizproc.robot.add", **params)
    assert error_of(response) == (400, code, description)


async def test_only_an_admin_in_an_application_registers_robots(
    portal_emulator: Bitrix24Emulator, http: httpx.AsyncClient
) -> None:
    rep = await app_call(http, portal_emulator, "bizproc.robot.list", user_id=2)
    assert error_of(rep) == (403, "ACCESS_DENIED", "Access denied!")
    webhook = await http.post(portal_emulator.webhook_url + "bizproc.robot.list", json={})
    assert webhook.status_code in (401, 403)


async def test_a_rule_run_posts_evaluated_properties_and_takes_one_answer(
    portal_emulator: Bitrix24Emulator, http: httpx.AsyncClient
) -> None:
    lead_id = portal_emulator.add_lead(
        {"TITLE": "ACME <Ltd>", "PHONE": [{"VALUE": "+79161234567", "VALUE_TYPE": "WORK"}]}, 1
    )
    async with EventSink() as sink:
        await portal_emulator.install_app(sink.url)
        await app_call(http, portal_emulator, "bizproc.robot.add", HANDLER=sink.url, **ROBOT)
        template = "Call {=Document:TITLE} at {=Document:PHONE}, {=Document:NOPE}."
        run = await portal_emulator.run_robot("telegram_send", lead_id, {"message": template})
    form = sink.received[-1]
    assert form["properties[message]"] == "Call ACME <Ltd> at +79161234567, ."
    assert form["document_id[2]"] == f"LEAD_{lead_id}"
    assert form["document_type[1]"] == "CCrmDocumentLead"
    assert form["event_token"] == run.event_token
    assert form["auth[application_token]"] == portal_emulator.application_token
    assert form["auth[member_id]"] == portal_emulator.member_id

    unknown = await app_call(
        http, portal_emulator, "bizproc.event.send", EVENT_TOKEN="made|up", RETURN_VALUES={}
    )
    assert error_of(unknown) == (403, "ACCESS_DENIED", "Access denied!")
    values = {"delivered": "Y"}
    sent = await app_call(
        http,
        portal_emulator,
        "bizproc.event.send",
        user_id=2,
        EVENT_TOKEN=run.event_token,
        RETURN_VALUES=values,
    )
    assert sent.json()["result"] is True
    assert portal_emulator.robot_run(run.event_token).returned == values
    spent = await app_call(
        http, portal_emulator, "bizproc.event.send", EVENT_TOKEN=run.event_token
    )
    assert error_of(spent)[1] == "ACCESS_DENIED"


async def test_offline_queue_skips_only_changes_made_through_the_connector_it_is_read_with(
    portal_emulator: Bitrix24Emulator, http: httpx.AsyncClient
) -> None:
    await app_call(http, portal_emulator, "event.bind", event="ONCRMLEADADD", event_type="offline")

    async def add(title: str, **extra: Any) -> None:
        response = await app_call(
            http, portal_emulator, "crm.lead.add", fields={"TITLE": title}, **extra
        )
        assert "result" in response.json()

    await add("no connector")
    await add("own connector", auth_connector="telegram_bot")
    batch = await app_call(
        http,
        portal_emulator,
        "batch",
        auth_connector="telegram_bot",
        cmd={"a": "crm.lead.add?fields[TITLE]=in a batch"},
    )
    assert batch.json()["result"]["result_error"] == []
    portal_emulator.ui_add_lead({"TITLE": "in the portal"}, 1)
    queued = [
        portal_emulator.leads[int(r.data["FIELDS"]["ID"])]["TITLE"]
        for r in portal_emulator.offline.records
    ]
    # The source: the app's change through the queue's own (empty) connector is not queued.
    assert queued == ["own connector", "in a batch", "in the portal"]
