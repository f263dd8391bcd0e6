"""Typed portal methods: one class per REST method, run alone or in a batch with `Ref`s."""

from __future__ import annotations

import ast
import re
from decimal import Decimal
from pathlib import Path

import pytest

from bot.portal import Lead, LeadDraft, PortalClient, ProductRow
from bot.portal.coerce import as_list, int_or_none
from bot.portal.methods import (
    AddLead,
    GetLead,
    GetLeadProductRows,
    ListLeads,
    PortalMethod,
    Ref,
    SetLeadProductRows,
    UpdateLead,
    all_methods,
)
from bot.portal.session import (
    MetricsMiddleware,
    NextRequest,
    OAuthRefreshMiddleware,
    OperatingTimeMiddleware,
    PortalRequest,
    PortalResponse,
    RetryMiddleware,
)
from tests.emulators.bitrix24 import Bitrix24Emulator
from tests.emulators.bitrix24_methods import METHODS
from tests.portal.conftest import ClientFactory

ROOT = Path(__file__).resolve().parents[2]


async def test_a_typed_method_returns_its_type(
    client: PortalClient, portal_emulator: Bitrix24Emulator
) -> None:
    lead_id = await client(AddLead(fields=LeadDraft(title="Typed")))
    lead = await client(GetLead(id=lead_id))
    assert isinstance(lead, Lead)
    assert (lead.id, lead.title) == (lead_id, "Typed")
    page = await client(ListLeads(filter={"ID": lead_id}, select=["ID", "TITLE"]))
    assert [item.title for item in page.items] == ["Typed"]
    assert page.total == 1


async def test_a_batch_of_typed_methods_links_commands_with_refs(
    client: PortalClient, portal_emulator: Bitrix24Emulator
) -> None:
    lead_id = await client.add_lead(LeadDraft(title="Linked"))
    row = ProductRow(product_name="Widget", price=Decimal("10.00"), quantity=Decimal(2))
    await client(SetLeadProductRows(id=lead_id, rows=[row]))
    get_lead = GetLead(id=lead_id)
    get_rows = GetLeadProductRows(id=Ref("lead", "ID"))
    result = await client.batch({"lead": get_lead, "rows": get_rows})
    assert portal_emulator.count_calls("batch") == 1
    lead = result.get("lead", get_lead)
    rows = result.get("rows", get_rows)
    assert isinstance(lead, Lead)
    assert lead.title == "Linked"
    assert [r.product_name for r in rows] == ["Widget"]
    assert result["rows"] == rows
    with pytest.raises(KeyError):
        result.get("rows", GetLeadProductRows(id=lead_id))


async def test_a_batch_with_a_typed_write_is_not_repeated_after_a_lost_answer(
    client: PortalClient, portal_emulator: Bitrix24Emulator
) -> None:
    lead_id = await client.add_lead(LeadDraft(title="Once"))
    portal_emulator.faults.drop_after_execute_next(1)
    with pytest.raises(Exception, match="outcome is unknown"):
        await client.batch(
            {
                "touch": UpdateLead(id=lead_id, fields={"TITLE": "Twice?"}),
                "add": AddLead(fields={"TITLE": "Added once"}),
            }
        )
    titles = [lead["TITLE"] for lead in portal_emulator.leads.values()]
    assert titles.count("Added once") == 1


def test_refs_name_earlier_results_as_the_portal_reads_them() -> None:
    assert Ref("lead", "ID").raw() == "$result[lead][ID]"
    assert Ref("page")[49]["ID"].raw() == "$result[page][49][ID]"
    assert GetLead(id=Ref("add")).params() == {"id": "$result[add]"}


def test_every_typed_method_has_a_handler_in_the_portal_emulator() -> None:
    methods = all_methods()
    assert len(methods) >= 35
    names = [method.__api_method__ for method in methods]
    assert len(names) == len(set(names)), "one class per REST method"
    missing = [name for name in names if name.lower() not in METHODS]
    assert missing == []


def test_the_coercions_read_what_the_portal_sends() -> None:
    assert int_or_none("12") == 12
    blanks: list[object] = [None, "", "x", [], 3.0]
    assert [int_or_none(value) for value in blanks] == [None, None, None, None, 3]
    assert as_list({"0": {"ID": "1"}, "1": {"ID": "2"}}) == [{"ID": "1"}, {"ID": "2"}]
    assert as_list([1]) == [1]
    assert as_list(None) == [] == as_list("text")


async def test_the_session_runs_the_middlewares_and_takes_more(
    portal_emulator: Bitrix24Emulator, make_client: ClientFactory
) -> None:
    from bot.portal import WebhookAuth

    seen: list[tuple[str, int, bool]] = []
    client = make_client(
        WebhookAuth(portal_emulator.webhook_url),
        on_request=lambda method, status, limited: seen.append((method, status, limited)),
    )
    kinds = [type(middleware) for middleware in client.session.middlewares]
    assert kinds == [
        RetryMiddleware,
        OAuthRefreshMiddleware,
        OperatingTimeMiddleware,
        MetricsMiddleware,
    ]
    requests: list[str] = []

    async def record(make_request: NextRequest, request: PortalRequest) -> PortalResponse:
        requests.append(request.method)
        return await make_request(request)

    client.session.middlewares.append(record)
    portal_emulator.faults.fail_next(1, status=502)
    await client.crm_mode()
    # The retry is outside: the added middleware and the metrics see both attempts.
    assert requests == ["crm.settings.mode.get"] * 2
    assert seen == [("crm.settings.mode.get", 502, False), ("crm.settings.mode.get", 200, False)]


# --- the house rules: method names live in bot/portal, dialogs talk to services --------------

_METHOD_STRING = re.compile(r"[\"'](?:crm|user)\.[A-Za-z_.]+[\"']")


def _python_files(*folders: str) -> list[Path]:
    return sorted(path for folder in folders for path in (ROOT / folder).rglob("*.py"))


def _method_strings_outside_the_portal() -> list[str]:
    found = []
    for path in _python_files("bot", "dialogs"):
        relative = path.relative_to(ROOT).as_posix()
        if relative.startswith("bot/portal/"):
            continue
        if _METHOD_STRING.search(path.read_text(encoding="utf-8")):
            found.append(relative)
    return found


def _dialogs_importing_the_client() -> list[str]:
    found = []
    for path in _python_files("dialogs"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                names = {alias.name for alias in node.names}
                if node.module == "bot.portal.client" or (
                    node.module.startswith("bot.portal") and "PortalClient" in names
                ):
                    found.append(path.relative_to(ROOT).as_posix())
            elif isinstance(node, ast.Import) and any(
                alias.name == "bot.portal.client" for alias in node.names
            ):
                found.append(path.relative_to(ROOT).as_posix())
    return sorted(set(found))


def test_no_rest_method_name_outside_the_portal_package() -> None:
    assert _method_strings_outside_the_portal() == []


def test_dialogs_never_import_the_portal_client() -> None:
    assert _dialogs_importing_the_client() == []


def test_a_portal_method_is_a_frozen_pydantic_model() -> None:
    method = GetLead(id=5)
    assert isinstance(method, PortalMethod)
    with pytest.raises(Exception, match="frozen"):
        method.id = 6  # type: ignore[misc]
