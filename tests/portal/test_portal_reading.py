"""Reading every lead that matches a filter: keyset pages chained 50 to a batch request."""

from __future__ import annotations

from bot.portal import PortalClient
from tests.emulators.bitrix24 import Bitrix24Emulator


async def test_ten_thousand_leads_are_read_in_order_in_five_requests(
    client: PortalClient, portal_emulator: Bitrix24Emulator
) -> None:
    ids = portal_emulator.seed_leads(10_000)
    seen = [lead.id async for lead in client.iter_leads(select=["ID", "TITLE"])]
    assert seen == ids
    # 2,500 leads per request; the fifth request finds the end.
    assert portal_emulator.count_calls("batch") == 5
    assert portal_emulator.count_calls("crm.lead.list") == 0


async def test_reading_respects_the_filter_and_starting_id(
    client: PortalClient, portal_emulator: Bitrix24Emulator
) -> None:
    ids = portal_emulator.seed_leads(
        300, STATUS_ID=lambda i: "IN_PROCESS" if i % 3 == 0 else "NEW"
    )
    wanted = [lead_id for index, lead_id in enumerate(ids) if index % 3 == 0]
    got = [
        lead.id
        async for lead in client.iter_leads({"STATUS_ID": "IN_PROCESS"}, ["ID", "STATUS_ID"])
    ]
    assert got == wanted
    after = wanted[10]
    tail = [lead.id async for lead in client.iter_leads({">ID": after, "STATUS_ID": "IN_PROCESS"})]
    assert tail == wanted[11:]


async def test_page_boundary_exactly_at_fifty_ends_cleanly(
    client: PortalClient, portal_emulator: Bitrix24Emulator
) -> None:
    ids = portal_emulator.seed_leads(100)
    assert [lead.id async for lead in client.iter_leads()] == ids
    portal_emulator.seed_leads(2_400)
    assert len([lead.id async for lead in client.iter_leads(select=["ID"])]) == 2_500


async def test_reading_without_batch_pages_one_request_at_a_time(
    client: PortalClient, portal_emulator: Bitrix24Emulator
) -> None:
    ids = portal_emulator.seed_leads(260)
    got = [lead.id async for lead in client.iter_leads(select=["ID"], batch=False)]
    assert got == ids
    assert portal_emulator.count_calls("crm.lead.list") == 6
    assert all(call.params.get("start") in (-1, "-1") for call in portal_emulator.calls)


async def test_empty_portal_reads_nothing(client: PortalClient) -> None:
    assert [lead async for lead in client.iter_leads()] == []
