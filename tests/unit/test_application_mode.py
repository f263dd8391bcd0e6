"""Application mode's pure parts: the install callback, the uninstall check, queue records."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from bot.config import AppSettings, PortalSettings, Settings
from bot.events.offline import inbox_row
from bot.events.receiver import EventRefused
from bot.install.installation import (
    Installation,
    check_uninstall,
    read_install_callback,
)
from bot.portal.models import OfflineEvents
from tests.reference import EXAMPLES


def install_form(**auth: str) -> dict[str, Any]:
    values = {
        "access_token": "acc",
        "refresh_token": "ref",
        "expires_in": "3600",
        "member_id": "m1",
        "domain": "Portal.Example.COM",
        "application_token": "tok",
    }
    values.update(auth)
    return {"event": "ONAPPINSTALL", "data": {"INSTALLED": "Y"}, "auth": values}


INSTALLED = Installation("m1", "portal.example.com", "tok", installed=True, changed_at="")


def test_install_callback_brings_tokens_and_the_portal_identity() -> None:
    callback = read_install_callback(install_form())
    assert (callback.access_token, callback.refresh_token, callback.expires_in) == (
        "acc",
        "ref",
        3600,
    )
    assert (callback.member_id, callback.domain, callback.application_token) == (
        "m1",
        "portal.example.com",
        "tok",
    )
    assert "acc" not in repr(callback)
    assert "tok" not in repr(INSTALLED)


@pytest.mark.parametrize(
    "form",
    [
        {"event": "ONCRMLEADADD", "auth": install_form()["auth"]},
        {"event": "ONAPPINSTALL"},
        install_form(refresh_token=""),
        install_form(application_token=""),
        {**install_form(), "auth": {**install_form()["auth"], "member_id": ["m1"]}},
    ],
)
def test_install_callback_without_what_it_must_carry_is_refused(form: dict[str, Any]) -> None:
    with pytest.raises(EventRefused) as refused:
        read_install_callback(form)
    assert refused.value.status == 400


def test_uninstall_needs_the_stored_member_id_and_application_token() -> None:
    good = {"event": "onAppUninstall", "auth": {"member_id": "m1", "application_token": "tok"}}
    check_uninstall(good, INSTALLED)
    for auth in ({"member_id": "m1", "application_token": "x"}, {"member_id": "m2"}, {}):
        with pytest.raises(EventRefused) as refused:
            check_uninstall({"event": "ONAPPUNINSTALL", "auth": auth}, INSTALLED)
        assert refused.value.status == 401
    with pytest.raises(EventRefused) as not_installed:
        check_uninstall(good, None)
    assert not_installed.value.status == 401
    with pytest.raises(EventRefused) as other_event:
        check_uninstall({**good, "event": "ONAPPINSTALL"}, INSTALLED)
    assert other_event.value.status == 400


def record(**fields: Any) -> Any:
    row = {
        "ID": "7",
        "TIMESTAMP_X": "2024-07-18T12:32:31+02:00",
        "EVENT_NAME": "ONCRMLEADUPDATE",
        "EVENT_DATA": {"FIELDS": {"ID": "42"}},
        "EVENT_ADDITIONAL": {"user_id": 3},
        "MESSAGE_ID": "a" * 32,
    }
    row.update(fields)
    return OfflineEvents.model_validate({"process_id": "p" * 32, "events": [row]}).events[0]


def test_a_queue_record_becomes_the_receivers_inbox_row() -> None:
    key, event, lead_id, payload = inbox_row(record()) or ("", "", None, {})
    assert (event, lead_id) == ("ONCRMLEADUPDATE", 42)
    assert payload == {
        "ts": "2024-07-18T12:32:31+02:00",
        "handler_id": "offline",
        "fields": {"ID": "42"},
    }
    # Read again under the same process: the same key; refreshed by a later change: a new one.
    assert inbox_row(record()) == inbox_row(record())
    later = inbox_row(record(TIMESTAMP_X="2024-07-18T12:40:00+02:00"))
    assert later is not None
    assert later[0] != key


@pytest.mark.parametrize(
    "fields",
    [
        {"EVENT_NAME": "ONCRMDEALADD"},
        {"EVENT_DATA": False},
        {"EVENT_DATA": {"FIELDS": {"ID": "0x10"}}},
        {"EVENT_DATA": {"FIELDS": {"ID": "99999999999"}}},
    ],
)
def test_records_that_are_not_a_leads_change_are_skipped(fields: dict[str, Any]) -> None:
    assert inbox_row(record(**fields)) is None


def test_the_documented_queue_answer_parses() -> None:
    body = json.loads((EXAMPLES / "event.offline.get.response.json").read_text())
    batch = OfflineEvents.model_validate(body["result"])
    assert batch.process_id is None
    assert [e.event_name for e in batch.events] == ["ONCRMLEADADD"]
    # The docs' example carries EVENT_DATA false: nothing to store.
    assert inbox_row(batch.events[0]) is None


def app_settings(**portal: Any) -> Settings:
    values: dict[str, Any] = {
        "oauth_endpoint": "https://portal.example.com/rest/",
        "oauth_client_id": "local.1",
        "oauth_client_secret": "secret",
    }
    values.update(portal)
    return Settings(_env_file=None, portal=PortalSettings(**values), app=AppSettings(enabled=True))


def test_application_mode_settings_name_what_is_missing() -> None:
    assert app_settings().app.offline_poll_seconds == 1.0
    with pytest.raises(ValidationError, match="leave PORTAL__WEBHOOK_URL empty"):
        app_settings(webhook_url="https://portal.example.com/rest/1/abc/")
    with pytest.raises(ValidationError, match="PORTAL__OAUTH_CLIENT_SECRET is required"):
        app_settings(oauth_client_secret="")
    with pytest.raises(ValidationError, match="APP__PUBLIC_URL must look like"):
        AppSettings(public_url="bot.example.com")
    assert AppSettings(public_url="https://bot.example.com/").public_url == (
        "https://bot.example.com"
    )
