"""The Bitrix24 emulator over raw HTTP: envelope, auth, leads, lists, batch, limits, events."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from aiohttp import web

from tests.emulators.bitrix24 import Bitrix24Emulator
from tests.emulators.bitrix24_crm import CrmTable
from tests.emulators.bitrix24_php import http_build_query, parse_str, php_json, php_truthy
from tests.emulators.bitrix24_state import COUNT_SECONDS_PER_ROW
from tests.reference import EXAMPLES

TIME_KEYS = {"start", "finish", "duration", "processing", "date_start", "date_finish"}


def example(name: str) -> Any:
    """A verbatim fixture from the reference examples."""
    return json.loads((EXAMPLES / name).read_text())


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


async def call(
    http: httpx.AsyncClient, emu: Bitrix24Emulator, method: str, payload: Any = None
) -> httpx.Response:
    return await http.post(emu.webhook_url + method, json=payload or {})


async def result_of(
    http: httpx.AsyncClient, emu: Bitrix24Emulator, method: str, payload: Any = None
) -> Any:
    response = await call(http, emu, method, payload)
    assert response.status_code == 200, response.text
    return response.json()["result"]


# ---------------------------------------------------------------- envelope and auth


async def test_success_envelope_has_result_and_time_block(portal_emulator, http):
    response = await call(http, portal_emulator, "crm.settings.mode.get")
    body = response.json()
    assert response.status_code == 200
    assert body["result"] == 1
    assert set(body["time"]) >= TIME_KEYS | {"operating", "operating_reset_at"}
    assert body["time"]["date_start"].endswith("+03:00")


async def test_errors_carry_only_error_and_description(portal_emulator, http):
    response = await call(http, portal_emulator, "crm.lead.get", {"id": 999})
    assert response.status_code == 400
    assert response.json() == {"error": "", "error_description": "Not found"}


async def test_unknown_method_is_404(portal_emulator, http):
    response = await call(http, portal_emulator, "crm.lead.nothing")
    assert response.status_code == 404
    assert response.json() == {
        "error": "ERROR_METHOD_NOT_FOUND",
        "error_description": "Method not found!",
    }


async def test_method_names_are_case_insensitive_and_json_suffix_optional(portal_emulator, http):
    response = await http.get(portal_emulator.webhook_url + "CRM.Settings.Mode.Get.json")
    assert response.json()["result"] == 1


async def test_bad_webhook_secret_is_invalid_credentials(portal_emulator, http):
    url = f"{portal_emulator.base_url}/rest/1/wrongsecret/crm.lead.list"
    response = await http.post(url, json={})
    assert response.status_code == 401
    assert response.json()["error"] == "INVALID_CREDENTIALS"


async def test_missing_token_is_no_auth_found(portal_emulator, http):
    response = await http.post(portal_emulator.oauth_endpoint + "crm.lead.list", json={})
    assert response.status_code == 401
    assert response.json() == {
        "error": "NO_AUTH_FOUND",
        "error_description": "Wrong authorization data",
    }


async def test_oauth_token_accepted_as_param_and_bearer(portal_emulator, http):
    access, _ = portal_emulator.issue_oauth_tokens(user_id=2)
    by_param = await http.post(
        portal_emulator.oauth_endpoint + "user.current", json={"auth": access}
    )
    by_query = await http.get(
        portal_emulator.oauth_endpoint + f"user.current?access_token={access}"
    )
    by_header = await http.post(
        portal_emulator.oauth_endpoint + "user.current.json",
        headers={"Authorization": f"Bearer {access}"},
    )
    for response in (by_param, by_query, by_header):
        assert response.status_code == 200
        assert response.json()["result"]["ID"] == "2"


async def test_expired_and_unknown_tokens(portal_emulator, http):
    access, _ = portal_emulator.issue_oauth_tokens()
    portal_emulator.expire_access_tokens()
    expired = await http.post(
        portal_emulator.oauth_endpoint + "crm.lead.list", json={"auth": access}
    )
    unknown = await http.post(
        portal_emulator.oauth_endpoint + "crm.lead.list", json={"auth": "x1"}
    )
    assert (expired.status_code, expired.json()["error"]) == (401, "expired_token")
    assert (unknown.status_code, unknown.json()["error"]) == (401, "invalid_token")


async def test_refresh_rotates_tokens_and_consumes_the_old_refresh_token(portal_emulator, http):
    old_access, refresh = portal_emulator.issue_oauth_tokens(user_id=3)
    portal_emulator.expire_access_tokens()
    response = await http.get(
        portal_emulator.token_url,
        params={"grant_type": "refresh_token", "refresh_token": refresh},
    )
    tokens = response.json()
    assert response.status_code == 200
    assert tokens["refresh_token"] != refresh
    assert tokens["access_token"] != old_access
    assert tokens["user_id"] == 3
    assert tokens["client_endpoint"] == portal_emulator.oauth_endpoint
    assert {"expires", "expires_in", "member_id", "scope", "server_endpoint", "domain"} <= set(
        tokens
    )
    ok = await http.post(
        portal_emulator.oauth_endpoint + "user.current", json={"auth": tokens["access_token"]}
    )
    assert ok.json()["result"]["ID"] == "3"
    again = await http.get(
        portal_emulator.token_url,
        params={"grant_type": "refresh_token", "refresh_token": refresh},
    )
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"


async def test_webhook_without_crm_scope_gets_insufficient_scope(portal_emulator, http):
    portal_emulator.set_webhook_scopes(["user"])
    response = await call(http, portal_emulator, "crm.lead.list")
    assert response.status_code == 401
    assert response.json() == {
        "error": "insufficient_scope",
        "error_description": "The request requires higher privileges than provided by the "
        "webhook token",
    }


async def test_event_bind_refuses_webhooks(portal_emulator, http):
    response = await call(
        http, portal_emulator, "event.bind", {"event": "ONCRMLEADADD", "handler": "http://x/"}
    )
    assert response.status_code == 403
    assert response.json()["error"] == "WRONG_AUTH_TYPE"


# ---------------------------------------------------------------- encodings


async def test_verbatim_add_request_creates_the_documented_lead(portal_emulator, http):
    lead_id = await result_of(
        http, portal_emulator, "crm.lead.add", example("crm.lead.add.request.json")
    )
    assert isinstance(lead_id, int)
    lead = await result_of(
        http,
        portal_emulator,
        "crm.lead.get",
        example("crm.lead.get.request.json") | {"ID": lead_id},
    )
    assert lead["TITLE"] == "IP Titov"
    assert lead["OPPORTUNITY"] == "12500.00"
    assert lead["ASSIGNED_BY_ID"] == "1"
    assert lead["PHONE"][0]["VALUE"] == "555888"
    assert lead["PHONE"][0]["TYPE_ID"] == "PHONE"
    assert lead["WEB"][0]["VALUE"] == "www.mysite.com"
    assert "EMAIL" not in lead
    assert lead["BIRTHDATE"] == ""
    assert lead["COMMENTS"] is None
    assert lead["HAS_PHONE"] == "Y"
    assert lead["HAS_EMAIL"] == "N"


async def test_form_encoded_and_get_query_requests_use_php_brackets(portal_emulator, http):
    body = (EXAMPLES / "crm.lead.add.request.form-urlencoded.txt").read_text().strip()
    posted = await http.post(
        portal_emulator.webhook_url + "crm.lead.add",
        content=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    query = (EXAMPLES / "crm.lead.add.request.get-url.txt").read_text().strip().split("?", 1)[1]
    fetched = await http.get(portal_emulator.webhook_url + "crm.lead.add.json?" + query)
    for response in (posted, fetched):
        lead = portal_emulator.leads[response.json()["result"]]
        assert lead["TITLE"] == "My company"
        assert [(p["VALUE"], p["VALUE_TYPE"]) for p in lead["PHONE"]] == [
            ("112233", "WORK"),
            ("555888112", "OTHER"),
        ]


async def test_multipart_form_is_accepted(portal_emulator, http):
    response = await http.post(
        portal_emulator.webhook_url + "crm.lead.add",
        files={
            "fields[TITLE]": (None, "Multipart"),
            "fields[EMAIL][0][VALUE]": (None, "a@b.test"),
        },
    )
    lead = portal_emulator.leads[response.json()["result"]]
    assert lead["TITLE"] == "Multipart"
    assert lead["EMAIL"][0]["VALUE_TYPE"] == "WORK"


def test_php_json_spells_every_empty_map_as_a_list_and_leaves_its_input_alone():
    class Row(dict[str, Any]):
        pass

    inner = {"ok": "1", "none": {}}
    body: dict[str, Any] = {
        "result": [inner, ("a", {})],
        "time": {"start": 1.5},
        "row": Row(UF={}),
        "e": {},
    }
    kept = json.dumps(body, default=dict)
    answer = php_json(body)
    assert answer == {
        "result": [{"ok": "1", "none": []}, ["a", []]],
        "time": {"start": 1.5},
        "row": {"UF": []},
        "e": [],
    }
    assert json.dumps(body, default=dict) == kept  # nothing of the input changed
    plain = {"result": [{"ID": "1", "TITLE": None, "OPPORTUNITY": 1.5}], "total": 1}
    assert php_json(plain) is plain  # nothing to spell: handed on as it is


def test_parse_str_follows_php():
    parsed = parse_str("cmd[0]=a&cmd[1]=b&filter[%3EID]=5&select[]=ID&select[]=TITLE&x=1+2")
    assert parsed == {
        "cmd": ["a", "b"],
        "filter": {">ID": "5"},
        "select": ["ID", "TITLE"],
        "x": "1 2",
    }
    assert parse_str(http_build_query({"a": {"b": [1, "x y"]}})) == {"a": {"b": ["1", "x y"]}}


@pytest.mark.parametrize(
    ("value", "truthy"),
    [
        (0, False),
        ("0", False),
        ("", False),
        (False, False),
        (None, False),
        ("false", True),
        (1, True),
        ("1", True),
        (True, True),
    ],
)
def test_php_truthiness(value, truthy):
    assert php_truthy(value) is truthy


# ---------------------------------------------------------------- lead rules


async def test_add_defaults_title_stage_and_derived_fields(portal_emulator, http):
    lead_id = await result_of(
        http,
        portal_emulator,
        "crm.lead.add",
        {
            "fields": {
                "STATUS_ID": "NO_SUCH",
                "BOGUS": "x",
                "ID": 77,
                "ORIGIN_ID": "ext-1",
                "ORIGINATOR_ID": "bot",
            }
        },
    )
    lead = await result_of(http, portal_emulator, "crm.lead.get", {"id": str(lead_id)})
    assert lead["TITLE"] == f"Lead #{lead_id}"
    assert lead["ID"] == str(lead_id)
    assert lead["STATUS_ID"] == "NEW"
    assert lead["STATUS_SEMANTIC_ID"] == "P"
    assert lead["DATE_CLOSED"] == ""
    assert lead["MOVED_BY_ID"] == "1"
    assert lead["IS_RETURN_CUSTOMER"] == "N"
    assert lead["CURRENCY_ID"] == "RUB"
    assert lead["OPPORTUNITY"] == "0.00"
    assert "BOGUS" not in lead
    found = await result_of(
        http,
        portal_emulator,
        "crm.lead.list",
        {"filter": {"ORIGIN_ID": "ext-1", "ORIGINATOR_ID": "bot"}, "select": ["ID"]},
    )
    assert found == [{"ID": str(lead_id)}]


async def test_update_moves_stage_and_ignores_unknown_stage(portal_emulator, http):
    lead_id = portal_emulator.seed_leads(1)[0]
    assert (
        await result_of(
            http,
            portal_emulator,
            "crm.lead.update",
            {"id": lead_id, "fields": {"STATUS_ID": "NOPE", "NAME": "Renamed"}},
        )
        is True
    )
    lead = portal_emulator.leads[lead_id]
    assert (lead["STATUS_ID"], lead["NAME"]) == ("NEW", "Renamed")
    portal_emulator.wall_clock = lambda: 2_000_000_000.0
    await result_of(
        http, portal_emulator, "crm.lead.update", {"id": lead_id, "fields": {"STATUS_ID": "JUNK"}}
    )
    lead = portal_emulator.leads[lead_id]
    assert lead["STATUS_SEMANTIC_ID"] == "F"
    assert lead["DATE_CLOSED"] == lead["DATE_MODIFY"] == lead["MOVED_TIME"]
    assert lead["DATE_MODIFY"].startswith("2033-05-18")
    await result_of(
        http,
        portal_emulator,
        "crm.lead.update",
        {"id": lead_id, "fields": {"STATUS_ID": "CONVERTED", "COMPANY_ID": 5}},
    )
    lead = portal_emulator.leads[lead_id]
    assert (lead["STATUS_SEMANTIC_ID"], lead["IS_RETURN_CUSTOMER"]) == ("S", "Y")


async def test_update_and_delete_errors(portal_emulator, http):
    missing = await call(http, portal_emulator, "crm.lead.update", {"id": 404, "fields": {}})
    invalid = await call(http, portal_emulator, "crm.lead.update", {"id": 0, "fields": {}})
    gone = await call(http, portal_emulator, "crm.lead.delete", {"id": 404})
    not_array = await call(http, portal_emulator, "crm.lead.add", {"fields": "x"})
    assert missing.json() == {"error": "", "error_description": "Lead is not found"}
    assert invalid.json()["error_description"] == "ID is not defined or invalid."
    assert gone.json() == {"error": "", "error_description": "Not found"}
    assert not_array.json()["error_description"] == "Parameter 'fields' must be array."
    assert {r.status_code for r in (missing, invalid, gone, not_array)} == {400}


async def test_delete_removes_the_lead(portal_emulator, http):
    lead_id = portal_emulator.seed_leads(1)[0]
    assert await result_of(http, portal_emulator, "crm.lead.delete", {"id": lead_id}) is True
    assert lead_id not in portal_emulator.leads
    response = await call(http, portal_emulator, "crm.lead.get", {"id": lead_id})
    assert response.json()["error_description"] == "Not found"


async def test_multifield_merge_rules_follow_the_documented_examples(portal_emulator, http):
    existing = example("multifield.existing-phones-4.json")
    lead_id = portal_emulator.seed_leads(1)[0]
    portal_emulator.leads[lead_id]["PHONE"] = [dict(item) for item in existing]
    await result_of(
        http,
        portal_emulator,
        "crm.lead.update",
        {"id": lead_id, **example("multifield.update.delete-values.request.json")},
    )
    assert portal_emulator.leads[lead_id]["PHONE"] == example("multifield.after-delete.json")

    await result_of(
        http,
        portal_emulator,
        "crm.lead.update",
        {"id": lead_id, **example("multifield.update.add-value.request.json")},
    )
    phones = portal_emulator.leads[lead_id]["PHONE"]
    assert [p["VALUE"] for p in phones] == ["44444", "55555"]
    assert phones[1]["ID"] not in {"222", "223", "224", "225"}

    await result_of(
        http,
        portal_emulator,
        "crm.lead.update",
        {
            "id": lead_id,
            "fields": {
                "PHONE": [
                    {"ID": 225, "VALUE": " 66666 ", "VALUE_TYPE": "MOBILE"},
                    {"VALUE": "55555", "VALUE_TYPE": "WORK"},
                    {"ID": 999999, "VALUE": "77777"},
                    {"VALUE": ""},
                ]
            },
        },
    )
    phones = portal_emulator.leads[lead_id]["PHONE"]
    assert [(p["VALUE"], p["VALUE_TYPE"]) for p in phones] == [
        ("66666", "MOBILE"),
        ("55555", "WORK"),
        ("77777", "WORK"),
    ]
    assert phones[0]["ID"] == "225"


async def test_multifield_ids_are_global_across_leads(portal_emulator, http):
    first = await result_of(
        http,
        portal_emulator,
        "crm.lead.add",
        {"fields": {"PHONE": [{"VALUE": "1"}], "EMAIL": [{"VALUE": "a@b.c"}]}},
    )
    second = await result_of(
        http, portal_emulator, "crm.lead.add", {"fields": {"PHONE": [{"VALUE": "1"}]}}
    )
    ids = [
        portal_emulator.leads[first]["PHONE"][0]["ID"],
        portal_emulator.leads[first]["EMAIL"][0]["ID"],
        portal_emulator.leads[second]["PHONE"][0]["ID"],
    ]
    assert len(set(ids)) == 3


# ---------------------------------------------------------------- list


async def test_list_pages_round_start_down_and_report_next_and_total(portal_emulator, http):
    portal_emulator.seed_leads(120)
    first = (await call(http, portal_emulator, "crm.lead.list", {"select": ["ID"]})).json()
    middle = (
        await call(http, portal_emulator, "crm.lead.list", {"select": ["ID"], "start": 75})
    ).json()
    last = (
        await call(http, portal_emulator, "crm.lead.list", {"select": ["ID"], "start": 100})
    ).json()
    assert (len(first["result"]), first["next"], first["total"]) == (50, 50, 120)
    assert [int(r["ID"]) for r in middle["result"]] == list(range(51, 101))
    assert middle["next"] == 100
    assert len(last["result"]) == 20
    assert "next" not in last


async def test_start_minus_one_skips_count(portal_emulator, http):
    portal_emulator.seed_leads(60)
    body = (
        await call(
            http,
            portal_emulator,
            "crm.lead.list",
            {"start": -1, "order": {"ID": "ASC"}, "filter": {">ID": 5}, "select": ["ID"]},
        )
    ).json()
    assert body["total"] == 0
    assert "next" not in body
    assert [int(r["ID"]) for r in body["result"]] == list(range(6, 56))


async def test_keyset_paging_reads_every_lead_once(portal_emulator, http):
    portal_emulator.seed_leads(130)
    portal_emulator.leads_table.delete(64)
    seen: list[int] = []
    last = 0
    while True:
        page = await result_of(
            http,
            portal_emulator,
            "crm.lead.list",
            {"start": -1, "order": {"ID": "ASC"}, "filter": {">ID": last}, "select": ["ID"]},
        )
        seen += [int(r["ID"]) for r in page]
        if len(page) < 50:
            break
        last = seen[-1]
    assert seen == [i for i in range(1, 131) if i != 64]


async def test_filters_support_operators_and_drop_unknown_keys(portal_emulator, http):
    portal_emulator.seed_leads(
        6,
        OPPORTUNITY=lambda i: 1000 * i,
        NAME=lambda i: ["Anna", "Boris", "Anton", "Vera", "anastasia", None][i],
        STATUS_ID=lambda i: ["NEW", "IN_PROCESS", "JUNK", "NEW", "CONVERTED", "NEW"][i],
        ASSIGNED_BY_ID=lambda i: 2 if i % 2 else 3,
    )

    async def ids(flt: dict[str, Any], **extra: Any) -> list[int]:
        items = await result_of(
            http, portal_emulator, "crm.lead.list", {"filter": flt, "select": ["ID"], **extra}
        )
        return [int(r["ID"]) for r in items]

    assert await ids({">OPPORTUNITY": 2000}) == [4, 5, 6]
    assert await ids({">=OPPORTUNITY": 2000, "<OPPORTUNITY": 4000}) == [3, 4]
    assert await ids({"<=OPPORTUNITY": 1000}) == [1, 2]
    assert await ids({"!STATUS_ID": "NEW"}) == [2, 3, 5]
    assert await ids({"@STATUS_ID": ["JUNK", "CONVERTED"]}) == [3, 5]
    assert await ids({"!@STATUS_ID": ["NEW"]}) == [2, 3, 5]
    assert await ids({"%NAME": "an"}) == [1, 3, 5]
    assert await ids({"=%NAME": "an%"}) == [1, 3, 5]
    assert await ids({"%=NAME": "%a"}) == [1, 4, 5]
    assert await ids({"!%NAME": "an"}) == [2, 4, 6]
    assert await ids({"%STATUS_ID": "NE"}) == []  # LIKE on a crm_status field is exact
    assert await ids({"ASSIGNED_BY_ID": 2, "NOT_A_FIELD": "x"}) == [2, 4, 6]
    assert await ids({"NAME": ""}) == [6]
    assert await ids({"!NAME": ""}) == [1, 2, 3, 4, 5]
    assert await ids({}, order={"STATUS_ID": "DESC", "ID": "ASC"}) == [3, 5, 2, 1, 4, 6]
    assert await ids({}, order={"OPPORTUNITY": "DESC"}) == [6, 5, 4, 3, 2, 1]


async def test_id_lists_and_whole_numbers_match_as_the_portal_compares_them(portal_emulator, http):
    # Stored as the portal would keep them: plain digits, and a few odd texts that PHP's
    # (float) cast still reads as the same number.
    portal_emulator.seed_leads(
        8, ASSIGNED_BY_ID=lambda i: ["7", "07", " 7", "7.0", "70", "8", 7, ""][i]
    )
    portal_emulator.leads_table.delete(5)

    async def ids(flt: dict[str, Any], **extra: Any) -> list[int]:
        items = await result_of(
            http, portal_emulator, "crm.lead.list", {"filter": flt, "select": ["ID"], **extra}
        )
        return [int(r["ID"]) for r in items]

    assert await ids({"ASSIGNED_BY_ID": 7}) == [1, 2, 3, 4, 7]
    assert await ids({"ASSIGNED_BY_ID": "7"}) == [1, 2, 3, 4, 7]
    assert await ids({"!ASSIGNED_BY_ID": 7}) == [6, 8]
    assert await ids({"@ASSIGNED_BY_ID": [8, 70]}) == [6]
    # `@ID` finds its rows by key: unknown and deleted ids are left out, bounds still apply.
    assert await ids({"@ID": [8, 3, 5, 99, 1]}) == [1, 3, 8]
    assert await ids({"@ID": [8, 3, 5, 99, 1], ">ID": 1}, order={"ID": "DESC"}) == [8, 3]
    assert await ids({"@ID": [1, 2, 3], "ASSIGNED_BY_ID": 7, "!ID": 2}) == [1, 3]
    assert await ids({"@ID": [1, 2], "ID": 2}) == [2]
    page = await result_of(
        http,
        portal_emulator,
        "crm.lead.list",
        {"filter": {"@ID": [6, 4, 2]}, "order": {"ID": "ASC"}, "start": -1, "select": ["ID"]},
    )
    assert [int(r["ID"]) for r in page] == [2, 4, 6]


async def test_a_filter_by_responsible_sees_every_change_of_it(portal_emulator, http):
    # The filter finds rows through an index; rows are edited in place (by the REST methods,
    # the emulator's own helpers, tests), and each edit must reach it.
    portal_emulator.seed_leads(6, ASSIGNED_BY_ID=lambda i: "7" if i < 3 else "8")

    async def ids(flt: dict[str, Any], **extra: Any) -> list[int]:
        items = await result_of(
            http, portal_emulator, "crm.lead.list", {"filter": flt, "select": ["ID"], **extra}
        )
        return [int(r["ID"]) for r in items]

    assert await ids({"ASSIGNED_BY_ID": 7}) == [1, 2, 3]
    await result_of(
        http, portal_emulator, "crm.lead.update", {"id": 4, "fields": {"ASSIGNED_BY_ID": 7}}
    )
    assert await ids({"ASSIGNED_BY_ID": 7}) == [1, 2, 3, 4]
    portal_emulator.leads_table.rows[1]["ASSIGNED_BY_ID"] = "8"
    assert await ids({"ASSIGNED_BY_ID": 7}) == [2, 3, 4]
    portal_emulator.leads_table.rows[2].update(ASSIGNED_BY_ID="9")
    assert await ids({"ASSIGNED_BY_ID": 7}) == [3, 4]
    portal_emulator.leads_table.delete(3)
    added = portal_emulator.add_lead({"TITLE": "New", "ASSIGNED_BY_ID": 7}, 1)
    assert await ids({"ASSIGNED_BY_ID": 7}) == [4, added]
    assert await ids({"@ASSIGNED_BY_ID": [8, 9]}) == [1, 2, 5, 6]
    assert await ids({"ASSIGNED_BY_ID": 8, ">ID": 1}, order={"ID": "DESC"}) == [6, 5]
    portal_emulator.leads_table.rows[4]["TITLE"] = "Zebra"
    assert await ids({"ASSIGNED_BY_ID": 7}, order={"TITLE": "ASC"}) == [added, 4]
    portal_emulator.leads_table.rows[4].pop("ASSIGNED_BY_ID")
    assert await ids({"ASSIGNED_BY_ID": 7}) == [added]
    # Bounds on the responsible (the morning's team reads in slices) may go through the index.
    assert await ids({">=ASSIGNED_BY_ID": 8, "<=ASSIGNED_BY_ID": 9}) == [1, 2, 5, 6]
    assert await ids({">ASSIGNED_BY_ID": 7, "<ASSIGNED_BY_ID": 9, ">ID": 1}) == [5, 6]
    latest = await ids({">=ASSIGNED_BY_ID": 8, "<=ID": 5}, order={"ID": "DESC"}, start=-1)
    assert latest == [5, 2, 1]
    assert await ids({"<ASSIGNED_BY_ID": 8}, order={"ID": "DESC"}) == [added]
    assert await ids({">=ASSIGNED_BY_ID": 9, "!ASSIGNED_BY_ID": 9}) == []
    portal_emulator.leads_table.rows[5]["ASSIGNED_BY_ID"] = "10"
    assert await ids({">ASSIGNED_BY_ID": 9}, order={"ID": "ASC"}) == [5]
    assert await ids({">ASSIGNED_BY_ID": 9}, order={"TITLE": "ASC"}) == [5]


def _responsible_between(table: CrmTable, low: int, high: int) -> list[int]:
    """The ids of the rows whose responsible is from `low` to `high`, by a check of every row."""
    return sorted(
        row_id
        for row_id, row in table.rows.items()
        if str(row.get("ASSIGNED_BY_ID", "")).isdigit()
        and low <= int(row["ASSIGNED_BY_ID"]) <= high
    )


async def test_a_narrow_range_of_responsibles_is_read_through_the_index(
    portal_emulator, http, monkeypatch
):
    # 20 responsibles with 3 leads each: a range of two of them holds a tenth of the rows, so
    # the index's buckets are merged in id order instead of a scan of every row.
    portal_emulator.seed_leads(60, ASSIGNED_BY_ID=lambda i: str(100 + i % 20))
    table = portal_emulator.leads_table
    through_index: list[bool] = []
    ranged = CrmTable._ranged_ids

    def spy(self: CrmTable, terms: Any, descending: bool) -> Any:
        found = ranged(self, terms, descending)
        through_index.append(found is not None)
        return found

    monkeypatch.setattr(CrmTable, "_ranged_ids", spy)

    async def ids(flt: dict[str, Any], **extra: Any) -> list[int]:
        items = await result_of(
            http, portal_emulator, "crm.lead.list", {"filter": flt, "select": ["ID"], **extra}
        )
        return [int(r["ID"]) for r in items]

    two = {">=ASSIGNED_BY_ID": 105, "<=ASSIGNED_BY_ID": 106}
    assert await ids(two) == _responsible_between(table, 105, 106) == [6, 7, 26, 27, 46, 47]
    assert await ids({**two, ">ID": 7}, order={"ID": "DESC"}, start=-1) == [47, 46, 27, 26]
    assert await ids({**two, "<ID": 30, "!ID": 7}) == [6, 26, 27]
    table.rows[1]["ASSIGNED_BY_ID"] = "106"  # edited in place: the index sees it
    table.rows[6].update(ASSIGNED_BY_ID="150")
    assert await ids(two) == _responsible_between(table, 105, 106) == [1, 7, 26, 27, 46, 47]
    assert await ids({">ASSIGNED_BY_ID": 149}) == [6]
    assert through_index == [True] * 5
    # A range holding most rows is scanned (the scan's page can stop early).
    through_index.clear()
    assert len(await ids({">=ASSIGNED_BY_ID": 100})) == 50
    assert through_index == [False]


async def test_the_responsible_index_places_changed_rows_again_without_a_rebuild(
    portal_emulator, http
):
    # 20 responsibles with 3 leads each. A lead's update rewrites its whole row: the index is
    # kept, and its merged ranges too while no row changes responsible. After edits of every
    # kind its answer equals a check of every row.
    portal_emulator.seed_leads(60, ASSIGNED_BY_ID=lambda i: str(100 + i % 20))
    table = portal_emulator.leads_table

    async def ids(low: int, high: int, **extra: Any) -> list[int]:
        flt = {">=ASSIGNED_BY_ID": low, "<=ASSIGNED_BY_ID": high, **extra.pop("flt", {})}
        items = await result_of(
            http, portal_emulator, "crm.lead.list", {"filter": flt, "select": ["ID"], **extra}
        )
        return [int(r["ID"]) for r in items]

    assert await ids(105, 106) == _responsible_between(table, 105, 106) == [6, 7, 26, 27, 46, 47]
    index = table._indexes["ASSIGNED_BY_ID"]
    merged = dict(index.merged)
    portal_emulator.update_lead(6, {"TITLE": "Renamed"}, 1, fire=False)
    assert await ids(105, 106) == _responsible_between(table, 105, 106)
    assert table._indexes["ASSIGNED_BY_ID"] is index
    assert index.merged == merged  # nobody changed responsible: the ranges were kept

    portal_emulator.update_lead(7, {"ASSIGNED_BY_ID": 150}, 1, fire=False)
    table.rows[1]["ASSIGNED_BY_ID"] = "106"  # edited in place
    table.rows[26].pop("ASSIGNED_BY_ID")  # no responsible: any filter value may match it
    table.rows[46]["ASSIGNED_BY_ID"] = "0106"  # not a whole number's text
    table.delete(27)
    added = portal_emulator.seed_leads(2, ASSIGNED_BY_ID=lambda i: ("105", "999")[i])
    for low, high in ((105, 106), (150, 150), (100, 200), (999, 999), (107, 149)):
        first_page = _responsible_between(table, low, high)[:50]
        assert await ids(low, high) == first_page, (low, high)
    assert await ids(105, 106) == [1, 6, 46, 47, added[0]]  # "0106" is 106 to a filter
    latest = await ids(105, 106, order={"ID": "DESC"}, start=-1, flt={"<ID": added[0]})
    assert latest == [47, 46, 6, 1]
    assert table._indexes["ASSIGNED_BY_ID"] is index
    assert index.texts[-2:] == ["150", "999"]  # new responsibles' buckets, in order
    table.delete(added[1])  # the only lead of 999: its bucket goes
    assert await ids(999, 999) == []
    assert "999" not in index.buckets
    assert index.values == [int(text) for text in index.texts]


async def test_what_changed_since_a_moment_is_read_through_the_date_index(
    portal_emulator, http, monkeypatch
):
    # 40 leads, each modified a minute after the one before; then edits of every kind: the
    # index's answer always equals a check of every row, in both orders and in an id window.
    base = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
    stamp = "%Y-%m-%dT%H:%M:%S+00:00"
    ids = portal_emulator.seed_leads(
        40, DATE_MODIFY=lambda i: (base + timedelta(minutes=i)).strftime(stamp)
    )
    table = portal_emulator.leads_table
    through_index: list[bool] = []
    dated = CrmTable._dated_ids

    def spy(self: CrmTable, terms: Any) -> Any:
        found = dated(self, terms)
        through_index.append(found is not None)
        return found

    monkeypatch.setattr(CrmTable, "_dated_ids", spy)

    async def listed(op: str, moment: datetime, **extra: Any) -> list[int]:
        flt = {f"{op}DATE_MODIFY": moment.isoformat(), **extra.pop("flt", {})}
        items = await result_of(
            http, portal_emulator, "crm.lead.list", {"filter": flt, "select": ["ID"], **extra}
        )
        return [int(r["ID"]) for r in items]

    def expected(moment: datetime, *, inclusive: bool = False) -> list[int]:
        found = []
        for row_id, row in sorted(table.rows.items()):
            value = datetime.fromisoformat(row["DATE_MODIFY"]) if row["DATE_MODIFY"] else None
            if value is not None and (value > moment or (inclusive and value == moment)):
                found.append(row_id)
        return found

    since = base + timedelta(minutes=35)
    assert await listed(">", since) == expected(since) == ids[36:]
    assert await listed(">=", since) == expected(since, inclusive=True) == ids[35:]
    portal_emulator.wall_clock = lambda: (base + timedelta(hours=1)).timestamp()
    portal_emulator.update_lead(ids[3], {"TITLE": "Changed"}, 1, fire=False)
    table.rows[ids[38]]["DATE_MODIFY"] = base.strftime(stamp)  # edited in place, back in time
    table.delete(ids[37])
    added = portal_emulator.seed_leads(1)[0]
    assert await listed(">", since) == expected(since) == [ids[3], ids[36], ids[39], added]
    latest = await listed(">", since, order={"ID": "DESC"}, start=-1, flt={"<ID": added})
    assert latest == [ids[39], ids[36], ids[3]]
    assert through_index == [True] * 4
    # Most rows changed since: the scan in id order answers (a page can stop early there).
    through_index.clear()
    assert await listed(">", base - timedelta(days=1)) == expected(base - timedelta(days=1))
    assert through_index == [False]


async def test_date_filters_accept_iso(portal_emulator, http):
    portal_emulator.wall_clock = lambda: 1_700_000_000.0  # 2023-11-14
    early = portal_emulator.seed_leads(2)
    portal_emulator.wall_clock = lambda: 1_800_000_000.0  # 2027-01-15
    late = portal_emulator.seed_leads(1)
    items = await result_of(
        http,
        portal_emulator,
        "crm.lead.list",
        {"filter": {">DATE_CREATE": "2025-01-01T00:00:00"}, "select": ["ID"]},
    )
    assert [int(r["ID"]) for r in items] == late
    items = await result_of(
        http,
        portal_emulator,
        "crm.lead.list",
        {"filter": {"<DATE_MODIFY": "2025-01-01"}, "select": ["ID"]},
    )
    assert [int(r["ID"]) for r in items] == early


async def test_multifield_filter_is_a_prefix_match_only_without_operators(portal_emulator, http):
    for phone in ("+79161234567", "+79169999999", "84951112233"):
        await result_of(
            http, portal_emulator, "crm.lead.add", {"fields": {"PHONE": [{"VALUE": phone}]}}
        )

    async def ids(flt: dict[str, Any]) -> list[int]:
        items = await result_of(
            http, portal_emulator, "crm.lead.list", {"filter": flt, "select": ["ID", "PHONE"]}
        )
        return [int(r["ID"]) for r in items]

    assert await ids({"PHONE": "+7916"}) == [1, 2]
    assert await ids({"PHONE": "+79161234567"}) == [1]
    assert await ids({"PHONE": "1234567"}) == []
    assert await ids({"%PHONE": "1234567"}) == [1, 2, 3]  # prefixed multifield keys are dropped


async def test_select_masks(portal_emulator, http):
    portal_emulator.add_user_field({"FIELD_NAME": "NOTE", "USER_TYPE_ID": "string"}, fire=False)
    portal_emulator.seed_leads(1, PHONE=[{"VALUE": "123"}])
    star = (await result_of(http, portal_emulator, "crm.lead.list", {"select": ["*"]}))[0]
    uf = (await result_of(http, portal_emulator, "crm.lead.list", {"select": ["UF_*"]}))[0]
    named = (
        await result_of(http, portal_emulator, "crm.lead.list", {"select": ["TITLE", "PHONE"]})
    )[0]
    assert "TITLE" in star
    assert "PHONE" not in star
    assert "UF_CRM_NOTE" not in star
    assert uf == {"ID": "1", "UF_CRM_NOTE": None}
    assert set(named) == {"ID", "TITLE", "PHONE"}
    got = await result_of(http, portal_emulator, "crm.lead.get", {"id": 1})
    assert got["UF_CRM_NOTE"] == ""


async def test_list_validates_array_params(portal_emulator, http):
    response = await call(http, portal_emulator, "crm.lead.list", {"order": "ID"})
    assert response.json() == {
        "error": "",
        "error_description": "Parameter 'order' must be array.",
    }


async def test_list_of_20000_leads_is_readable_by_keyset(portal_emulator, http):
    portal_emulator.seed_leads(20_000)
    page = await result_of(
        http,
        portal_emulator,
        "crm.lead.list",
        {"start": -1, "order": {"ID": "ASC"}, "filter": {">ID": 19_990}, "select": ["ID"]},
    )
    assert [int(r["ID"]) for r in page] == list(range(19_991, 20_001))


# ---------------------------------------------------------------- dictionaries and fields


async def test_status_list_has_default_stages_with_semantics(portal_emulator, http):
    portal_emulator.add_lead_stage("UC_CALLBACK", "Call back", 25)
    body = (
        await call(
            http,
            portal_emulator,
            "crm.status.list",
            {"order": {"SORT": "ASC"}, "filter": {"ENTITY_ID": "STATUS"}},
        )
    ).json()
    stages = body["result"]
    assert [s["STATUS_ID"] for s in stages] == [
        "NEW",
        "IN_PROCESS",
        "UC_CALLBACK",
        "PROCESSED",
        "CONVERTED",
        "JUNK",
    ]
    assert body["total"] == 6
    assert [s["EXTRA"]["SEMANTICS"] for s in stages][-2:] == ["success", "failure"]
    assert [s["SEMANTICS"] for s in stages][-3:] == [None, "S", "F"]
    assert stages[0]["SORT"] == "10"
    sources = await result_of(
        http, portal_emulator, "crm.status.entity.items", {"entityId": "SOURCE"}
    )
    assert sources[0] == {"NAME": "Call", "SORT": 10, "STATUS_ID": "CALL"}


async def test_lead_fields_include_user_fields(portal_emulator, http):
    portal_emulator.add_user_field(
        {"FIELD_NAME": "BUDGET", "USER_TYPE_ID": "double", "MANDATORY": "Y", "LABEL": "Budget"},
        fire=False,
    )
    fields = await result_of(http, portal_emulator, "crm.lead.fields")
    assert fields["STATUS_ID"]["statusType"] == "STATUS"
    assert fields["CONTACT_ID"]["isDeprecated"] is True
    assert fields["UF_CRM_BUDGET"]["isDynamic"] is True
    assert fields["UF_CRM_BUDGET"]["isRequired"] is True
    assert fields["UF_CRM_BUDGET"]["title"] == "UF_CRM_BUDGET"
    assert fields["UF_CRM_BUDGET"]["formLabel"] == "Budget"


async def test_lead_fields_match_the_documented_catalogue(portal_emulator, http):
    documented = example("crm.lead.fields.response.json")["result"]
    fields = await result_of(http, portal_emulator, "crm.lead.fields")
    assert fields == documented


# ---------------------------------------------------------------- batch


async def test_linked_batch_example_runs_known_commands(portal_emulator, http):
    body = (
        await call(http, portal_emulator, "batch", example("batch.request.linked.json"))
    ).json()
    result = body["result"]
    assert result["result"]["get_user"]["ID"] == "1"
    assert result["result_error"]["get_department"]["error"] == "ERROR_METHOD_NOT_FOUND"
    assert result["result_total"] == []
    assert set(result["result_time"]["get_user"]) >= TIME_KEYS


async def test_batch_references_whole_value_and_inside_strings(portal_emulator, http):
    cmd = {
        "add": "crm.lead.add?fields[TITLE]=First&fields[NAME]=Ann",
        "copy": "crm.lead.add?fields[TITLE]=Copy of $result[add]&fields[NAME]=$result[get][NAME]",
        "get": "crm.lead.get?id=$result[add]",
        "list": "crm.lead.list?filter[@ID][]=$result[add]&select[]=ID",
        "ids": "crm.lead.list?filter[@ID]=$result[list]&select[]=TITLE",
    }
    result = (await call(http, portal_emulator, "batch", {"halt": 0, "cmd": cmd})).json()["result"]
    assert result["result"]["add"] == 1
    assert result["result"]["get"]["TITLE"] == "First"
    # get runs after copy, so the copy's reference to it stays unresolved text.
    assert portal_emulator.leads[2]["TITLE"] == "Copy of 1"
    assert result["result_total"] == {"list": 1, "ids": 0}
    assert result["result"]["list"] == [{"ID": "1"}]


async def test_batch_halt_stops_at_first_error_and_false_string_is_truthy(portal_emulator, http):
    cmd = {"a": "crm.lead.get?id=999", "b": "crm.settings.mode.get"}
    go_on = (await call(http, portal_emulator, "batch", {"halt": 0, "cmd": cmd})).json()["result"]
    stop = (await call(http, portal_emulator, "batch", {"halt": "false", "cmd": cmd})).json()[
        "result"
    ]
    assert go_on["result"] == {"b": 1}
    assert go_on["result_error"]["a"] == {"error": "", "error_description": "Not found"}
    assert stop["result"] == []
    assert list(stop["result_error"]) == ["a"]


async def test_batch_over_fifty_commands_and_nested_batch(portal_emulator, http):
    cmd = [f"crm.lead.add?fields[TITLE]=L{i}" for i in range(52)] + ["batch?cmd[0]=x"]
    response = await call(http, portal_emulator, "batch", {"cmd": cmd})
    result = response.json()["result"]
    assert response.status_code == 200
    assert len(result["result"]) == 50
    assert len(portal_emulator.leads) == 50
    assert result["result_error"]["50"]["error"] == "ERROR_BATCH_LENGTH_EXCEEDED"
    assert result["result_error"]["51"]["error_description"] == "Max batch length exceeded"
    assert result["result_error"]["52"]["error"] == "ERROR_BATCH_LENGTH_EXCEEDED"
    assert portal_emulator.count_calls("batch") == 1
    assert portal_emulator.count_executed("crm.lead.add") == 50

    nested = await call(http, portal_emulator, "batch", {"cmd": {"inner": "batch?cmd[a]=x"}})
    assert nested.json()["result"]["result_error"]["inner"]["error"] == (
        "ERROR_BATCH_METHOD_NOT_ALLOWED"
    )


async def test_batch_over_get_with_double_encoded_command(portal_emulator, http):
    url = (EXAMPLES / "batch.request.get-url.double-encoded.txt").read_text().strip()
    query = url.split("?", 1)[1]
    response = await http.get(portal_emulator.webhook_url + "batch?" + query)
    assert response.json()["result"]["result"] == [1]
    assert portal_emulator.leads[1]["TITLE"] == "John&Martin"


async def test_batch_sub_results_move_paging_into_maps(portal_emulator, http):
    portal_emulator.seed_leads(70)
    cmd = {"page": "crm.lead.list?select[]=ID&start=50", "first": "crm.lead.list?select[]=ID"}
    result = (await call(http, portal_emulator, "batch", {"cmd": cmd})).json()["result"]
    assert len(result["result"]["page"]) == 20
    assert result["result_total"] == {"page": 70, "first": 70}
    assert result["result_next"] == {"first": 50}


async def test_a_batch_of_reads_answers_a_repeated_keyset_page_once(portal_emulator, http):
    portal_emulator.seed_leads(3)
    page = "crm.lead.list?select[]=ID&order[ID]=ASC&filter[>ID]=0&start=-1"
    counting = "crm.lead.list?select[]=ID&filter[>ID]=0"
    cmd = {"p0": page, "p1": page, "p2": page, "count": counting, "again": counting}
    table = portal_emulator.leads_table
    before, counted = table.queries, table.rows_counted
    result = (await call(http, portal_emulator, "batch", {"cmd": cmd})).json()["result"]
    pages = [result["result"][key] for key in ("p0", "p1", "p2")]
    assert pages == [[{"ID": "1"}, {"ID": "2"}, {"ID": "3"}]] * 3
    assert (result["result_total"]["count"], result["result_total"]["again"]) == (3, 3)
    # The keyset page once; each counting page runs (and counts its rows) every time.
    assert table.queries - before == 3
    assert table.rows_counted - counted == 6


async def test_a_batch_that_writes_reads_what_its_write_changed(portal_emulator, http):
    lead_id = portal_emulator.seed_leads(1)[0]
    page = "crm.lead.list?select[]=ID&filter[TITLE]=Renamed&start=-1"
    cmd = {
        "before": page,
        "rename": f"crm.lead.update?id={lead_id}&fields[TITLE]=Renamed",
        "after": page,
    }
    result = (await call(http, portal_emulator, "batch", {"cmd": cmd})).json()["result"]
    assert result["result"]["before"] == []
    assert result["result"]["after"] == [{"ID": str(lead_id)}]


# ---------------------------------------------------------------- limits


async def test_leaky_bucket_rejects_without_executing_and_drains(portal_emulator, http):
    now = [100.0]
    portal_emulator.clock = lambda: now[0]
    portal_emulator.rate_limit = True
    portal_emulator.burst = 3
    portal_emulator.drain_per_second = 2.0
    statuses = []
    for index in range(6):
        response = await call(
            http, portal_emulator, "crm.lead.add", {"fields": {"TITLE": f"L{index}"}}
        )
        statuses.append(response.status_code)
    # Refused only while the counter is above the burst: counters 0, 1, 2 and 3 all pass.
    assert statuses == [200, 200, 200, 200, 503, 503]
    assert response.json() == {
        "error": "QUERY_LIMIT_EXCEEDED",
        "error_description": "Too many requests",
    }
    assert len(portal_emulator.leads) == 4
    assert [c.rejected_by_limit for c in portal_emulator.calls] == [False] * 4 + [True] * 2
    now[0] += 0.5  # one slot drained
    assert (await call(http, portal_emulator, "crm.settings.mode.get")).status_code == 200
    assert (await call(http, portal_emulator, "crm.settings.mode.get")).status_code == 503


async def test_batch_takes_one_bucket_slot(portal_emulator, http):
    portal_emulator.clock = lambda: 5.0
    portal_emulator.rate_limit = True
    portal_emulator.burst = 1
    cmd = [f"crm.lead.add?fields[TITLE]=B{i}" for i in range(10)]
    assert (await call(http, portal_emulator, "batch", {"cmd": cmd})).status_code == 200
    assert len(portal_emulator.leads) == 10
    assert (await call(http, portal_emulator, "crm.lead.list")).status_code == 200
    assert (await call(http, portal_emulator, "crm.lead.list")).status_code == 503


async def test_operating_time_limit_blocks_one_method_per_credential(portal_emulator, http):
    portal_emulator.operating_limit = 250.0
    portal_emulator.operating_costs["crm.lead.list"] = 100.0
    statuses = [(await call(http, portal_emulator, "crm.lead.list")).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    blocked = await call(http, portal_emulator, "crm.lead.list")
    assert blocked.json() == {
        "error": "OPERATION_TIME_LIMIT",
        "error_description": "Method is blocked due to operation time limit.",
    }
    other = (await call(http, portal_emulator, "crm.lead.fields")).json()
    assert other["time"]["operating"] < 100
    access, _ = portal_emulator.issue_oauth_tokens()
    oauth = await http.post(
        portal_emulator.oauth_endpoint + "crm.lead.list", json={"auth": access}
    )
    assert oauth.status_code == 200
    assert oauth.json()["time"]["operating"] == 100.0
    assert isinstance(oauth.json()["time"]["operating_reset_at"], int)


# ---------------------------------------------------------------- faults


async def test_fail_next_answers_5xx_without_executing(portal_emulator, http):
    portal_emulator.faults.fail_next(1, status=502)
    failed = await call(http, portal_emulator, "crm.lead.add", {"fields": {"TITLE": "x"}})
    ok = await call(http, portal_emulator, "crm.lead.add", {"fields": {"TITLE": "y"}})
    assert (failed.status_code, ok.status_code) == (502, 200)
    assert [lead["TITLE"] for lead in portal_emulator.leads.values()] == ["y"]


async def test_drop_next_closes_the_connection_without_executing(portal_emulator, http):
    portal_emulator.faults.drop_next(1)
    with pytest.raises(httpx.RemoteProtocolError):
        await call(http, portal_emulator, "crm.lead.add", {"fields": {"TITLE": "x"}})
    assert portal_emulator.leads == {}
    assert portal_emulator.calls[-1].fault == "drop"


async def test_drop_after_execute_loses_the_answer_but_keeps_the_write(portal_emulator, http):
    portal_emulator.faults.drop_after_execute_next(1)
    with pytest.raises(httpx.RemoteProtocolError):
        await call(http, portal_emulator, "crm.lead.add", {"fields": {"TITLE": "lost answer"}})
    assert [lead["TITLE"] for lead in portal_emulator.leads.values()] == ["lost answer"]
    again = await call(http, portal_emulator, "crm.lead.get", {"id": 1})
    assert again.status_code == 200


READ_ONLY_IMPATIENT = httpx.Timeout(10.0, read=0.05)
"""A client that gives up on a late answer, never on a connection slow to open (busy machine)."""


async def test_slow_method_runs_to_its_end_after_the_client_hangs_up(portal_emulator, http):
    portal_emulator.faults.slow_method("crm.lead.add", 0.3)
    with pytest.raises(httpx.ReadTimeout):
        await http.post(
            portal_emulator.webhook_url + "crm.lead.add",
            json={"fields": {"TITLE": "slow"}},
            timeout=READ_ONLY_IMPATIENT,
        )
    assert portal_emulator.leads == {}  # not saved yet when the client gave up
    for _ in range(200):
        if portal_emulator.leads:
            break
        await asyncio.sleep(0.01)
    assert [lead["TITLE"] for lead in portal_emulator.leads.values()] == ["slow"]
    portal_emulator.faults.clear()
    assert await result_of(http, portal_emulator, "crm.lead.get", {"id": 1})


async def test_refused_method_answers_its_error_alone_and_in_a_batch(portal_emulator, http):
    portal_emulator.faults.refuse_method("crm.product.list", "ACCESS_DENIED", "Access denied.")
    response = await call(http, portal_emulator, "crm.product.list")
    assert response.status_code == 403
    assert response.json() == {"error": "ACCESS_DENIED", "error_description": "Access denied."}
    batch = await result_of(
        http, portal_emulator, "batch", {"cmd": {"p": "crm.product.list", "m": "crm.lead.list"}}
    )
    assert "p" in batch["result_error"]
    assert "m" in batch["result"]
    assert portal_emulator.count_executed("crm.product.list") == 0
    portal_emulator.faults.clear()
    assert (await call(http, portal_emulator, "crm.product.list")).status_code == 200


async def test_malformed_next_returns_non_json_200(portal_emulator, http):
    portal_emulator.faults.malformed_next(1)
    response = await call(http, portal_emulator, "crm.lead.add", {"fields": {"TITLE": "x"}})
    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        response.json()
    assert portal_emulator.leads == {}


async def test_latency_delays_answers(portal_emulator):
    portal_emulator.faults.latency = 1.0
    async with httpx.AsyncClient(timeout=READ_ONLY_IMPATIENT) as impatient:
        with pytest.raises(httpx.ReadTimeout):
            await impatient.post(portal_emulator.webhook_url + "crm.settings.mode.get")
    portal_emulator.faults.latency = 0.0


async def test_calls_are_logged_per_request(portal_emulator, http):
    await call(http, portal_emulator, "crm.lead.list")
    await call(http, portal_emulator, "CRM.LEAD.LIST")
    await call(http, portal_emulator, "batch", {"cmd": ["crm.lead.list", "crm.lead.fields"]})
    assert portal_emulator.count_calls() == 3
    assert portal_emulator.count_calls("crm.lead.list") == 2
    assert portal_emulator.calls[-1].batch_methods == ["crm.lead.list", "crm.lead.fields"]
    assert portal_emulator.calls[0].status == 200
    assert portal_emulator.calls[0].auth_kind == "webhook"


# ---------------------------------------------------------------- events


class EventSink:
    """A tiny aiohttp app that records the form POSTs it receives."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.received: list[dict[str, str]] = []
        self.raw: list[tuple[str, bytes]] = []
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.raw.append((request.content_type, body))
        self.received.append(dict(parse_qsl(body.decode())))
        return web.Response(status=self.status, text="ok")

    async def __aenter__(self) -> EventSink:
        app = web.Application()
        app.router.add_post("/hook", self.handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self.runner.addresses[0][1]}/hook"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.runner is not None
        await self.runner.cleanup()


async def test_outgoing_webhook_gets_form_encoded_lead_events(portal_emulator, http):
    async with EventSink() as sink:
        token = portal_emulator.add_outgoing_webhook(sink.url, ["ONCRMLEADADD", "ONCRMLEADUPDATE"])
        lead_id = await result_of(
            http, portal_emulator, "crm.lead.add", {"fields": {"TITLE": "E"}}
        )
        await result_of(http, portal_emulator, "crm.lead.update", {"id": lead_id, "fields": {}})
        await result_of(http, portal_emulator, "crm.lead.delete", {"id": lead_id})
        await portal_emulator.drain_events()
    assert [e["event"] for e in sink.received] == ["ONCRMLEADADD", "ONCRMLEADUPDATE"]
    first = sink.received[0]
    documented = dict(
        parse_qsl(
            (EXAMPLES / "ONCRMLEADADD.event.form-urlencoded.derived.txt").read_text().strip()
        )
    )
    webhook_auth_keys = {
        "auth[domain]",
        "auth[client_endpoint]",
        "auth[server_endpoint]",
        "auth[member_id]",
        "auth[application_token]",
    }
    assert (
        set(first) == {"event", "event_handler_id", "data[FIELDS][ID]", "ts"} | webhook_auth_keys
    )
    assert webhook_auth_keys < set(documented)
    assert first["data[FIELDS][ID]"] == str(lead_id)
    assert first["auth[application_token]"] == token
    assert first["auth[member_id]"] == "memb0001"
    assert first["auth[domain]"] == "emulator.bitrix24.test"
    assert first["event_handler_id"].isdigit()
    assert sink.raw[0][0] == "application/x-www-form-urlencoded"
    assert b"data%5BFIELDS%5D%5BID%5D=" in sink.raw[0][1]
    assert all(e.ok for e in portal_emulator.delivered_events)


async def test_app_handlers_bound_over_oauth_receive_tokens(portal_emulator, http):
    access, _ = portal_emulator.issue_oauth_tokens(user_id=1)
    rest = portal_emulator.oauth_endpoint
    async with EventSink() as sink:
        bind = {"auth": access, "event": "onCrmLeadUpdate", "handler": sink.url}
        assert (await http.post(rest + "event.bind", json=bind)).json()["result"] is True
        duplicate = await http.post(rest + "event.bind", json=bind)
        unknown = await http.post(rest + "event.bind", json={**bind, "event": "ONNOPE"})
        listed = (await http.post(rest + "event.get", json={"auth": access})).json()["result"]
        lead_id = portal_emulator.seed_leads(1)[0]
        portal_emulator.ui_update_lead(lead_id, {"TITLE": "Changed in UI"}, user_id=2)
        await portal_emulator.drain_events()
        unbound = (
            await http.post(rest + "event.unbind", json={**bind, "event": "ONCRMLEADUPDATE"})
        ).json()
    assert duplicate.json()["error"] == "ERROR_HANDLER_ALREADY_EXIST"
    assert unknown.json() == {
        "error": "ERROR_EVENT_NOT_FOUND",
        "error_description": "Event not found",
    }
    assert listed == [
        {"event": "ONCRMLEADUPDATE", "handler": sink.url, "auth_type": "0", "offline": 0}
    ]
    assert unbound["result"] == {"count": 1}
    (event,) = sink.received
    assert event["auth[application_token]"] == "apptoken0001"
    user = await http.post(rest + "user.current", json={"auth": event["auth[access_token]"]})
    assert user.json()["result"]["ID"] == "2"  # tokens of the user who made the change
    assert {"auth[refresh_token]", "auth[expires_in]", "auth[scope]", "auth[status]"} <= set(event)


async def test_lost_and_failed_deliveries_are_not_retried_by_default(portal_emulator):
    async with EventSink(status=500) as sink:
        portal_emulator.add_outgoing_webhook(sink.url, ["ONCRMLEADADD"])
        portal_emulator.ui_add_lead({"TITLE": "first"})
        await portal_emulator.drain_events()
        assert len(sink.received) == 1
        assert portal_emulator.delivered_events[-1].ok is False
        portal_emulator.retry_failed_deliveries = True
        portal_emulator.ui_add_lead({"TITLE": "second"})
        await portal_emulator.drain_events()
        assert len(sink.received) == 4
        portal_emulator.faults.lose_events = True
        portal_emulator.ui_add_lead({"TITLE": "third"})
        await portal_emulator.drain_events()
        assert len(sink.received) == 4
    assert portal_emulator.lost_events == [("ONCRMLEADADD", sink.url)]


async def test_ui_changes_and_user_field_changes_fire_events(portal_emulator, http):
    async with EventSink() as sink:
        portal_emulator.add_outgoing_webhook(
            sink.url,
            [
                "ONCRMLEADADD",
                "ONCRMLEADDELETE",
                "ONCRMLEADUSERFIELDADD",
                "ONCRMLEADUSERFIELDUPDATE",
                "ONCRMLEADUSERFIELDDELETE",
            ],
        )
        lead_id = portal_emulator.ui_add_lead({"TITLE": "From UI"}, user_id=3)
        portal_emulator.ui_delete_lead(lead_id)
        field_id = await result_of(
            http,
            portal_emulator,
            "crm.lead.userfield.add",
            {"fields": {"FIELD_NAME": "SIZE", "USER_TYPE_ID": "integer"}},
        )
        await result_of(
            http,
            portal_emulator,
            "crm.lead.userfield.update",
            {"id": field_id, "fields": {"SORT": 5}},
        )
        await result_of(http, portal_emulator, "crm.lead.userfield.delete", {"id": field_id})
        await portal_emulator.drain_events()
    assert [e["event"] for e in sink.received] == [
        "ONCRMLEADADD",
        "ONCRMLEADDELETE",
        "ONCRMLEADUSERFIELDADD",
        "ONCRMLEADUSERFIELDUPDATE",
        "ONCRMLEADUSERFIELDDELETE",
    ]
    uf_event = sink.received[2]
    assert uf_event["data[FIELDS][ID]"] == str(field_id)
    assert uf_event["data[FIELDS][ENTITY_ID]"] == "CRM_LEAD"
    assert uf_event["data[FIELDS][FIELD_NAME]"] == "UF_CRM_SIZE"


async def test_seed_leads_fires_no_events(portal_emulator):
    portal_emulator.seed_leads(3)
    assert portal_emulator.fired_events == []


# ---------------------------------------------------------------- user fields


async def test_user_field_lifecycle_with_enumeration(portal_emulator, http):
    request = example("crm.lead.userfield.add.enumeration.request.json")
    field_id = await result_of(http, portal_emulator, "crm.lead.userfield.add", request)
    field = await result_of(http, portal_emulator, "crm.lead.userfield.get", {"id": field_id})
    assert field["FIELD_NAME"] == "UF_CRM_ENUMERATION_EXAMPLE"
    assert field["ENTITY_ID"] == "CRM_LEAD"
    assert field["SHOW_FILTER"] == "E"
    assert field["SORT"] == "2000"
    assert field["EDIT_FORM_LABEL"]["en"] == "Custom field (list)"
    assert [item["VALUE"] for item in field["LIST"]] == [f"List item #{i}" for i in range(1, 5)]
    assert all(item["ID"].isdigit() for item in field["LIST"])
    first, second = field["LIST"][0]["ID"], field["LIST"][1]["ID"]
    await result_of(
        http,
        portal_emulator,
        "crm.lead.userfield.update",
        {
            "id": field_id,
            "fields": {
                "LIST": [
                    {"ID": first, "DEL": "Y"},
                    {"ID": second, "VALUE": "Renamed"},
                    {"VALUE": "Added"},
                ]
            },
        },
    )
    field = await result_of(http, portal_emulator, "crm.lead.userfield.get", {"id": field_id})
    assert [item["VALUE"] for item in field["LIST"]] == [
        "Renamed",
        "List item #3",
        "List item #4",
        "Added",
    ]
    descriptor = (await result_of(http, portal_emulator, "crm.lead.fields"))[field["FIELD_NAME"]]
    assert descriptor["type"] == "enumeration"
    assert descriptor["items"][0] == {"ID": second, "VALUE": "Renamed"}
    lead_id = await result_of(
        http, portal_emulator, "crm.lead.add", {"fields": {field["FIELD_NAME"]: second}}
    )
    assert portal_emulator.leads[lead_id][field["FIELD_NAME"]] == int(second)
    listed = await result_of(
        http,
        portal_emulator,
        "crm.lead.userfield.list",
        {"filter": {"USER_TYPE_ID": "enumeration", "LANG": "en"}},
    )
    assert [f["ID"] for f in listed] == [str(field_id)]
    assert listed[0]["EDIT_FORM_LABEL"] == "Custom field (list)"
    assert await result_of(http, portal_emulator, "crm.lead.userfield.delete", {"id": field_id})
    assert field["FIELD_NAME"] not in portal_emulator.leads[lead_id]
    missing = await call(http, portal_emulator, "crm.lead.userfield.get", {"id": field_id})
    assert missing.json()["error"] == "ERROR_NOT_FOUND"


@pytest.mark.parametrize(
    ("given", "stored"),
    [("note", "UF_CRM_NOTE"), ("UF_NOTE", "UF_CRM_NOTE"), ("UF_CRM_NOTE", "UF_CRM_NOTE")],
)
async def test_user_field_names_are_prefixed(portal_emulator, http, given, stored):
    field_id = await result_of(
        http,
        portal_emulator,
        "crm.lead.userfield.add",
        {"fields": {"FIELD_NAME": given, "USER_TYPE_ID": "string"}},
    )
    assert portal_emulator.user_fields[field_id]["FIELD_NAME"] == stored


async def test_user_field_validation(portal_emulator, http):
    no_type = await call(
        http, portal_emulator, "crm.lead.userfield.add", {"fields": {"FIELD_NAME": "X"}}
    )
    too_long = await call(
        http,
        portal_emulator,
        "crm.lead.userfield.add",
        {"fields": {"FIELD_NAME": "X" * 44, "USER_TYPE_ID": "string"}},
    )
    bad_chars = await call(
        http,
        portal_emulator,
        "crm.lead.userfield.add",
        {"fields": {"FIELD_NAME": "NO-DASH", "USER_TYPE_ID": "string"}},
    )
    assert no_type.json() == {
        "error": "",
        "error_description": "The 'USER_TYPE_ID' field is not found.",
    }
    assert too_long.json()["error"] == "ERROR_CORE"
    assert bad_chars.json()["error"] == "ERROR_CORE"
    ok = await call(
        http,
        portal_emulator,
        "crm.lead.userfield.add",
        {"fields": {"FIELD_NAME": "X" * 43, "USER_TYPE_ID": "string"}},
    )
    assert ok.status_code == 200


async def test_only_admins_change_user_fields(portal_emulator, http):
    url = portal_emulator.add_incoming_webhook(user_id=2, secret="repsecret")
    response = await http.post(
        url + "crm.lead.userfield.add",
        json={"fields": {"FIELD_NAME": "X", "USER_TYPE_ID": "string"}},
    )
    assert response.json() == {"error": "", "error_description": "Access denied."}


async def test_mandatory_user_fields_are_enforced_on_add(portal_emulator, http):
    portal_emulator.add_user_field(
        {"FIELD_NAME": "CITY", "USER_TYPE_ID": "string", "MANDATORY": "Y", "LABEL": "City"},
        fire=False,
    )
    missing = await call(http, portal_emulator, "crm.lead.add", {"fields": {"TITLE": "x"}})
    assert missing.status_code == 400
    assert missing.json() == {
        "error": "",
        "error_description": 'The "City" field is required.<br />',
    }
    lead_id = await result_of(
        http, portal_emulator, "crm.lead.add", {"fields": {"TITLE": "x", "UF_CRM_CITY": "Kazan"}}
    )
    cleared = await call(
        http, portal_emulator, "crm.lead.update", {"id": lead_id, "fields": {"UF_CRM_CITY": ""}}
    )
    assert cleared.status_code == 400
    assert portal_emulator.leads[lead_id]["UF_CRM_CITY"] == "Kazan"
    untouched = await call(
        http, portal_emulator, "crm.lead.update", {"id": lead_id, "fields": {"TITLE": "y"}}
    )
    assert untouched.status_code == 200


# ---------------------------------------------------------------- contacts and bindings


async def test_contact_crud_and_phone_lookup(portal_emulator, http):
    contact_id = await result_of(
        http,
        portal_emulator,
        "crm.contact.add",
        {"fields": {"NAME": "Ivan", "LAST_NAME": "Buyer", "PHONE": [{"VALUE": "+491701234567"}]}},
    )
    assert isinstance(contact_id, int)
    found = await result_of(
        http,
        portal_emulator,
        "crm.contact.list",
        {"FILTER": {"PHONE": "+491701234567"}, "SELECT": ["ID", "NAME", "LAST_NAME", "PHONE"]},
    )
    assert [c["ID"] for c in found] == [str(contact_id)]
    await result_of(
        http,
        portal_emulator,
        "crm.contact.update",
        {"id": contact_id, "fields": {"NAME": "Ivan II"}},
    )
    contact = await result_of(http, portal_emulator, "crm.contact.get", {"id": contact_id})
    assert contact["NAME"] == "Ivan II"
    assert contact["HAS_PHONE"] == "Y"
    missing = await call(http, portal_emulator, "crm.contact.update", {"id": 999, "fields": {}})
    assert missing.json()["error_description"] == "Contact is not found"


async def test_lead_contact_bindings_promote_primary(portal_emulator, http):
    lead_id = portal_emulator.seed_leads(1)[0]

    async def bind(contact_id: int, **extra: Any) -> Any:
        return await result_of(
            http,
            portal_emulator,
            "crm.lead.contact.add",
            {"id": lead_id, "fields": {"CONTACT_ID": contact_id, **extra}},
        )

    assert await bind(10) is True
    assert await bind(20, SORT=20) is True
    assert await bind(10) is False
    items = await result_of(http, portal_emulator, "crm.lead.contact.items.get", {"id": lead_id})
    assert items == [
        {"CONTACT_ID": 10, "SORT": 10, "ROLE_ID": 0, "IS_PRIMARY": "Y"},
        {"CONTACT_ID": 20, "SORT": 20, "ROLE_ID": 0, "IS_PRIMARY": "N"},
    ]
    assert portal_emulator.leads[lead_id]["CONTACT_ID"] == "10"
    assert (
        await result_of(
            http,
            portal_emulator,
            "crm.lead.contact.delete",
            {"id": lead_id, "fields": {"CONTACT_ID": 10}},
        )
        is True
    )
    assert portal_emulator.leads[lead_id]["CONTACT_ID"] == "20"
    # Binding methods do not recalculate IS_RETURN_CUSTOMER.
    assert portal_emulator.leads[lead_id]["IS_RETURN_CUSTOMER"] == "N"
    request = example("crm.lead.contact.items.set.request.json") | {"id": lead_id}
    assert await result_of(http, portal_emulator, "crm.lead.contact.items.set", request) is True
    assert portal_emulator.leads[lead_id]["CONTACT_ID"] == "1010"
    assert await result_of(http, portal_emulator, "crm.lead.contact.items.delete", {"id": lead_id})
    assert portal_emulator.leads[lead_id]["CONTACT_ID"] is None
    missing = await call(http, portal_emulator, "crm.lead.contact.items.get", {"id": 999})
    assert missing.json() == {"error": "", "error_description": "Not found."}


async def test_saving_lead_with_contact_ids_binds_and_marks_return_customer(portal_emulator, http):
    lead_id = await result_of(
        http, portal_emulator, "crm.lead.add", {"fields": {"CONTACT_IDS": [7, 8]}}
    )
    lead = portal_emulator.leads[lead_id]
    assert (lead["CONTACT_ID"], lead["IS_RETURN_CUSTOMER"]) == ("7", "Y")
    items = await result_of(http, portal_emulator, "crm.lead.contact.items.get", {"id": lead_id})
    assert [i["CONTACT_ID"] for i in items] == [7, 8]


async def test_duplicate_search_by_phone_ignores_formatting(portal_emulator, http):
    lead_id = await result_of(
        http,
        portal_emulator,
        "crm.lead.add",
        {"fields": {"PHONE": [{"VALUE": "+7 (916) 123-45-67"}]}},
    )
    contact_id = await result_of(
        http,
        portal_emulator,
        "crm.contact.add",
        {
            "fields": {
                "PHONE": [{"VALUE": "79161234567"}],
                "EMAIL": [{"VALUE": "Buyer@Example.test"}],
            }
        },
    )
    both = await result_of(
        http,
        portal_emulator,
        "crm.duplicate.findbycomm",
        {"type": "phone", "values": ["+79161234567"]},
    )
    assert both == {"LEAD": [lead_id], "CONTACT": [contact_id]}
    by_mail = await result_of(
        http,
        portal_emulator,
        "crm.duplicate.findbycomm",
        {"type": "EMAIL", "values": ["buyer@example.test"], "entity_type": "CONTACT"},
    )
    assert by_mail == {"CONTACT": [contact_id]}
    nothing = await result_of(
        http,
        portal_emulator,
        "crm.duplicate.findbycomm",
        example("crm.duplicate.findbycomm.request.json"),
    )
    assert nothing == []
    no_type = await call(http, portal_emulator, "crm.duplicate.findbycomm", {"values": ["1"]})
    string_values = await call(
        http, portal_emulator, "crm.duplicate.findbycomm", {"type": "PHONE", "values": "1"}
    )
    deal = await call(
        http,
        portal_emulator,
        "crm.duplicate.findbycomm",
        {"type": "PHONE", "values": ["1"], "entity_type": "DEAL"},
    )
    assert no_type.json() == {
        "error": "",
        "error_description": "Communication type is not defined.",
    }
    assert string_values.json()["error_description"] == "Communication values is not defined."
    assert deal.json()["error_description"] == "Deal is not supported in current context."


# ---------------------------------------------------------------- products, timeline, users


async def test_product_rows_replace_the_whole_set(portal_emulator, http):
    lead_id = portal_emulator.seed_leads(1)[0]
    request = example("crm.lead.productrows.set.request.json") | {"id": lead_id}
    assert await result_of(http, portal_emulator, "crm.lead.productrows.set", request) is True
    rows = await result_of(http, portal_emulator, "crm.lead.productrows.get", {"id": lead_id})
    assert [r["PRODUCT_NAME"] for r in rows][1] == "Product #2"
    assert rows[0]["OWNER_TYPE"] == "L"
    assert rows[0]["OWNER_ID"] == str(lead_id)
    assert isinstance(rows[0]["ID"], str)
    assert isinstance(rows[0]["PRODUCT_ID"], int)
    product_id = next(iter(portal_emulator.products))
    await result_of(
        http,
        portal_emulator,
        "crm.lead.productrows.set",
        {"id": lead_id, "rows": [{"PRODUCT_ID": product_id, "PRICE": 100, "QUANTITY": 2}]},
    )
    rows = await result_of(http, portal_emulator, "crm.lead.productrows.get", {"id": lead_id})
    assert len(rows) == 1
    assert rows[0]["PRODUCT_NAME"] == portal_emulator.products[product_id]["NAME"]
    assert portal_emulator.leads[lead_id]["OPPORTUNITY"] == "200.00"
    await result_of(http, portal_emulator, "crm.lead.productrows.set", {"id": lead_id, "rows": []})
    assert (
        await result_of(http, portal_emulator, "crm.lead.productrows.get", {"id": lead_id}) == []
    )
    missing = await call(
        http, portal_emulator, "crm.lead.productrows.set", {"id": 999, "rows": []}
    )
    assert missing.json()["error_description"] == "Not found."


async def test_product_catalogue_filters_by_name(portal_emulator, http):
    products = await result_of(
        http,
        portal_emulator,
        "crm.product.list",
        {"filter": {"%NAME": "sensor"}, "select": ["ID", "NAME", "PRICE", "CURRENCY_ID"]},
    )
    assert [p["NAME"] for p in products] == ["Sensor kit basic", "Sensor kit pro"]
    assert products[0]["PRICE"] == "12500.00"
    assert set(products[0]) == {"ID", "NAME", "PRICE", "CURRENCY_ID"}


async def test_timeline_comments_are_stored_and_listed(portal_emulator, http):
    lead_id = portal_emulator.seed_leads(1)[0]
    comment_id = await result_of(
        http,
        portal_emulator,
        "crm.timeline.comment.add",
        {
            "fields": {
                "ENTITY_ID": lead_id,
                "ENTITY_TYPE": "lead",
                "COMMENT": "Called back",
                "AUTHOR_ID": 2,
            }
        },
    )
    assert isinstance(comment_id, int)
    assert portal_emulator.timeline_comments[comment_id]["COMMENT"] == "Called back"
    listed = await result_of(
        http,
        portal_emulator,
        "crm.timeline.comment.list",
        {"filter": {"ENTITY_ID": lead_id, "ENTITY_TYPE": "lead"}},
    )
    assert [(c["ID"], c["AUTHOR_ID"]) for c in listed] == [(str(comment_id), "2")]
    missing = await call(
        http,
        portal_emulator,
        "crm.timeline.comment.add",
        {"fields": {"ENTITY_ID": 999, "ENTITY_TYPE": "lead", "COMMENT": "x"}},
    )
    assert missing.status_code == 400


async def test_default_users_and_user_get_filters(portal_emulator, http):
    async def ids(payload: dict[str, Any]) -> list[str]:
        return [u["ID"] for u in await result_of(http, portal_emulator, "user.get", payload)]

    assert await ids({}) == ["1", "2", "3", "4"]
    assert await ids({"FILTER": {"ACTIVE": True}}) == ["1", "2", "3"]
    assert await ids({"filter": {"PERSONAL_MOBILE": "+79161234567"}}) == ["2"]
    assert await ids({"ID": 3}) == ["3"]
    assert await ids({"FILTER": {"EMAIL": "olga.smirnova@example.test"}}) == ["3"]
    assert await ids({"FILTER": {"WORK_PHONE": "+74951234567"}}) == ["3"]
    assert await ids({"FILTER": {"FIND": "petrov"}}) == ["2"]
    assert await ids({"FILTER": {"ACTIVE": "N"}}) == ["4"]
    ivan = (await result_of(http, portal_emulator, "user.get", {"ID": 2}))[0]
    assert (ivan["NAME"], ivan["LAST_NAME"], ivan["ACTIVE"]) == ("Ivan", "Petrov", True)
    me = await result_of(http, portal_emulator, "user.current")
    assert (me["ID"], me["NAME"], me["LAST_NAME"]) == ("1", "Anna", "Admin")
    assert await result_of(http, portal_emulator, "user.admin") is True


async def test_user_get_pages_by_id_keyset_and_start_offsets_inside_one_batch(
    portal_emulator, http
):
    for index in range(120):
        portal_emulator.add_user(f"User{index}", active=index % 10 != 0)
    base = {"FILTER": {"ACTIVE": True, ">ID": 3, "!ID": [7]}, "sort": "ID", "order": "ASC"}
    commands = {
        f"u{page}": "user.get?" + http_build_query({**base, "start": page * 50})
        for page in range(3)
    }
    answer = await result_of(http, portal_emulator, "batch", {"halt": 0, "cmd": commands})
    pages = [[int(u["ID"]) for u in answer["result"][f"u{page}"]] for page in range(3)]
    wanted = [
        user_id
        for user_id, user in sorted(portal_emulator.users.items())
        if user_id > 3 and user_id != 7 and user["ACTIVE"]
    ]
    assert [len(page) for page in pages] == [50, 50, len(wanted) - 100]
    assert [user_id for page in pages for user_id in page] == wanted
    assert answer["result_total"] == {key: len(wanted) for key in commands}
    assert answer["result_next"] == {"u0": 50, "u1": 100}
    assert await result_of(http, portal_emulator, "user.get", {"FILTER": {"<=ID": 2}}) != []
    assert [
        u["ID"] for u in await result_of(http, portal_emulator, "user.get", {"FILTER": {"<ID": 3}})
    ] == ["1", "2"]


# ---------------------------------------------------------------- modes and card layout


async def test_simple_mode_converts_named_leads(portal_emulator, http):
    portal_emulator.simple_mode = True
    assert await result_of(http, portal_emulator, "crm.settings.mode.get") == 2
    named = await result_of(
        http,
        portal_emulator,
        "crm.lead.add",
        {"fields": {"NAME": "Gleb", "PHONE": [{"VALUE": "1"}]}},
    )
    unnamed = await result_of(http, portal_emulator, "crm.lead.add", {"fields": {"TITLE": "x"}})
    lead = await result_of(http, portal_emulator, "crm.lead.get", {"id": named})
    assert (lead["STATUS_ID"], lead["STATUS_SEMANTIC_ID"]) == ("CONVERTED", "S")
    assert portal_emulator.leads[unnamed]["STATUS_ID"] == "NEW"
    deals = await result_of(http, portal_emulator, "crm.deal.list", {"filter": {"LEAD_ID": named}})
    assert len(deals) == 1


async def test_card_configuration_round_trip_and_validation(portal_emulator, http):
    request = example("crm.lead.details.configuration.set.request.json")
    assert await result_of(http, portal_emulator, "crm.lead.details.configuration.set", request)
    key = {"scope": "P", "userId": 1, "extras": {"leadCustomerType": 2}}
    stored = await result_of(http, portal_emulator, "crm.lead.details.configuration.get", key)
    assert [s["name"] for s in stored] == ["main", "additional"]
    assert stored[0]["elements"][4] == {"name": "PHONE", "optionFlags": "1"}
    bad = json.loads(json.dumps(request))
    del bad["data"][1]["elements"][0]["name"]
    error = await call(http, portal_emulator, "crm.lead.details.configuration.set", bad)
    assert error.json() == {
        "error": "",
        "error_description": "Element at index 0 in section at index 1 does not have name.",
    }
    await result_of(http, portal_emulator, "crm.lead.details.configuration.reset", key)
    assert (
        await result_of(http, portal_emulator, "crm.lead.details.configuration.get", key) is None
    )


async def test_renamed_portal_redirects_with_location(portal_emulator, http):
    portal_emulator.moved_to = "http://new-name.example.test"
    response = await http.post(portal_emulator.webhook_url + "crm.lead.list?start=50", json={})
    assert response.status_code == 302
    assert response.headers["Location"] == (
        "http://new-name.example.test/rest/1/emusecret0001/crm.lead.list?start=50"
    )


async def test_control_endpoints_drive_the_portal_over_http(portal_emulator, http):
    base = portal_emulator.base_url + "/_emulator/"
    added = await http.post(base + "ui/lead.add", json={"fields": {"TITLE": "ui"}, "user_id": 2})
    lead_id = added.json()["id"]
    assert portal_emulator.leads[lead_id]["CREATED_BY_ID"] == "2"
    await http.post(base + "ui/lead.update", json={"id": lead_id, "fields": {"TITLE": "ui2"}})
    assert portal_emulator.leads[lead_id]["TITLE"] == "ui2"
    await http.post(base + "settings", json={"simple_mode": True})
    assert portal_emulator.simple_mode is True
    state = (await http.get(base + "state")).json()
    assert state["leads"] == 1
    await http.post(base + "ui/lead.delete", json={"id": lead_id})
    assert portal_emulator.leads == {}
    assert [name for name, _ in portal_emulator.fired_events] == [
        "ONCRMLEADADD",
        "ONCRMLEADUPDATE",
        "ONCRMLEADDELETE",
    ]


async def test_a_filled_bucket_rejects_until_it_drains(portal_emulator, http):
    now = [10.0]
    portal_emulator.clock = lambda: now[0]
    portal_emulator.rate_limit = True
    portal_emulator.fill_bucket()
    # At exactly the burst the counter is not above it: one more passes, then refusals.
    assert (await call(http, portal_emulator, "crm.lead.list")).status_code == 200
    assert (await call(http, portal_emulator, "crm.lead.list")).status_code == 503
    now[0] += 1.0  # two slots at 2/s
    assert (await call(http, portal_emulator, "crm.lead.list")).status_code == 200
    assert (await call(http, portal_emulator, "crm.lead.list")).status_code == 200
    assert (await call(http, portal_emulator, "crm.lead.list")).status_code == 503


async def test_standard_fields_made_required_are_enforced_on_add(portal_emulator, http):
    portal_emulator.required_lead_fields = {"NAME", "PHONE"}
    fields = await result_of(http, portal_emulator, "crm.lead.fields")
    assert (fields["NAME"]["isRequired"], fields["TITLE"]["isRequired"]) == (True, False)
    missing = await call(http, portal_emulator, "crm.lead.add", {"fields": {"NAME": "Ann"}})
    assert missing.json() == {
        "error": "",
        "error_description": 'The "Phone" field is required.<br />',
    }
    ok = await call(
        http,
        portal_emulator,
        "crm.lead.add",
        {"fields": {"NAME": "Ann", "PHONE": [{"VALUE": "1"}]}},
    )
    assert ok.status_code == 200


# ---------------------------------------------------------------- offline events


async def test_offline_queue_collapses_repeats_and_skips_own_changes(portal_emulator, http):
    access, _ = portal_emulator.issue_oauth_tokens(user_id=1)
    rest = portal_emulator.oauth_endpoint

    async def app_call(method: str, payload: dict[str, Any]) -> Any:
        response = await http.post(rest + method, json={"auth": access, **payload})
        return response.json()

    bound = await app_call("event.bind", {"event": "ONCRMLEADUPDATE", "event_type": "offline"})
    assert bound["result"] is True
    lead_id = portal_emulator.seed_leads(1)[0]
    portal_emulator.ui_update_lead(lead_id, {"TITLE": "a"})
    portal_emulator.ui_update_lead(lead_id, {"TITLE": "b"})  # same event+data: one record
    await app_call("crm.lead.update", {"id": lead_id, "fields": {"TITLE": "by the app"}})
    await call(http, portal_emulator, "crm.lead.update", {"id": lead_id, "fields": {}})
    assert len(portal_emulator.offline.records) == 1
    listed = await app_call("event.offline.list", {})
    assert listed["total"] == 1
    assert listed["result"][0]["PROCESS_ID"] == ""

    reserved = (await app_call("event.offline.get", {"clear": 0}))["result"]
    assert len(reserved["process_id"]) == 32
    (record,) = reserved["events"]
    assert record["EVENT_NAME"] == "ONCRMLEADUPDATE"
    assert record["EVENT_DATA"] == {"FIELDS": {"ID": str(lead_id)}}
    assert record["EVENT_ADDITIONAL"] == {"user_id": 1}
    assert len(record["MESSAGE_ID"]) == 32
    again = (await app_call("event.offline.get", {}))["result"]
    assert again == {"process_id": None, "events": []}
    await app_call("event.offline.clear", {"process_id": reserved["process_id"]})
    assert portal_emulator.offline.records == []


async def test_offline_events_need_an_admin_app_and_valid_filters(portal_emulator, http):
    rep_access, _ = portal_emulator.issue_oauth_tokens(user_id=2)
    admin_access, _ = portal_emulator.issue_oauth_tokens(user_id=1)
    rest = portal_emulator.oauth_endpoint
    denied = await http.post(rest + "event.offline.get", json={"auth": rep_access})
    webhook = await call(http, portal_emulator, "event.offline.get")
    bad_field = await http.post(
        rest + "event.offline.get", json={"auth": admin_access, "filter": {"DATA": 1}}
    )
    assert (denied.status_code, denied.json()["error"]) == (403, "ACCESS_DENIED")
    assert webhook.json()["error"] == "WRONG_AUTH_TYPE"
    assert bad_field.json() == {
        "error": "ERROR_ARGUMENT",
        "error_description": "Filter field not allowed: DATA",
    }


# ---------------------------------------------------------------- knobs for benches


async def test_a_bucket_that_refuses_at_the_burst_lets_one_request_fewer_pass(
    portal_emulator, http
):
    now = [10.0]
    portal_emulator.clock = lambda: now[0]
    portal_emulator.rate_limit = True
    portal_emulator.refuse_at_burst = True
    portal_emulator.fill_bucket()
    assert (await call(http, portal_emulator, "crm.lead.list")).status_code == 503
    now[0] += 0.5
    assert (await call(http, portal_emulator, "crm.lead.list")).status_code == 200
    assert (await call(http, portal_emulator, "crm.lead.list")).status_code == 503


async def test_list_commands_take_the_configured_server_time(portal_emulator, http):
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    portal_emulator.server_sleep = sleep
    portal_emulator.list_server_time = 0.04
    await call(http, portal_emulator, "crm.lead.list")
    await call(http, portal_emulator, "crm.lead.get", {"id": 1})
    cmd = {"a": "crm.lead.list", "b": "crm.contact.list", "c": "crm.settings.mode.get"}
    await call(http, portal_emulator, "batch", {"cmd": cmd})
    assert slept == [pytest.approx(0.04), pytest.approx(0.08)]


async def test_counting_a_list_costs_server_time_per_row_and_start_minus_one_skips_it(
    portal_emulator, http
):
    """The reference: a list call with start >= 0 counts every match for `total` (49.9 s for
    2.4 million leads), start=-1 does not (0.097 s)."""
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    portal_emulator.seed_leads(120)
    portal_emulator.server_sleep = sleep
    portal_emulator.count_server_time_per_row = COUNT_SECONDS_PER_ROW
    counted = await call(http, portal_emulator, "crm.lead.list", {"start": 50})
    assert counted.json()["total"] == 120
    keyset = {"start": -1, "order": {"ID": "ASC"}, "filter": {">ID": 50}}
    not_counted = await call(http, portal_emulator, "crm.lead.list", keyset)
    assert "total" not in not_counted.json() or not_counted.json()["total"] == 0
    cmd = {
        "a": "crm.lead.list?start=0&filter[>ID]=100",
        "b": "crm.lead.list?start=-1&filter[>ID]=100",
        "c": "crm.contact.list?start=0",
    }
    await call(http, portal_emulator, "batch", {"cmd": cmd})
    contacts = len(portal_emulator.contacts)
    assert slept == [
        pytest.approx(120 * COUNT_SECONDS_PER_ROW),
        pytest.approx((20 + contacts) * COUNT_SECONDS_PER_ROW),
    ]
    assert pytest.approx(20.86e-6, rel=0.01) == COUNT_SECONDS_PER_ROW


@pytest.mark.parametrize(
    ("mode", "expected_result", "expected_error"),
    [
        ("error", None, "INVALID_ARG_VALUE"),
        ("empty", [], None),
    ],
)
async def test_unresolved_references_answer_an_error_or_nothing(
    portal_emulator, http, mode, expected_result, expected_error
):
    portal_emulator.unresolved_references = mode
    portal_emulator.seed_leads(3)
    cmd = {
        "p0": "crm.lead.list?order[ID]=ASC&select[]=ID&start=-1&filter[>ID]=0",
        "p1": "crm.lead.list?order[ID]=ASC&select[]=ID&start=-1&filter[>ID]=$result[p0][49][ID]",
    }
    result = (await call(http, portal_emulator, "batch", {"cmd": cmd})).json()["result"]
    assert [row["ID"] for row in result["result"]["p0"]] == ["1", "2", "3"]
    assert result["result"].get("p1") == expected_result
    errors = result["result_error"] or {}
    assert (errors.get("p1") or {}).get("error") == expected_error
