"""Reading every lead that matches a filter: keyset pages chained 50 to a batch request."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

import pytest

from bot.portal import (
    OperationTimeLimitError,
    PortalClient,
    PortalError,
    PortalLimiter,
    WebhookAuth,
)
from bot.portal.batch import BatchCommand, BatchResult
from bot.portal.reading import (
    DEFAULT_CHAINS,
    LEADS_PER_REQUEST,
    PAGE_SIZE,
    iter_leads_in_chains,
)
from tests.emulators.bitrix24 import Bitrix24Emulator
from tests.portal.conftest import ClientFactory


async def test_ten_thousand_leads_are_read_in_order_in_five_requests(
    client: PortalClient, portal_emulator: Bitrix24Emulator
) -> None:
    ids = portal_emulator.seed_leads(10_000)
    seen = [lead.id async for lead in client.iter_leads(select=["ID", "TITLE"])]
    assert seen == ids
    # The light first request (top 50 and first 50), then 2,500 leads per request, and no
    # request to find the end.
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


async def test_the_end_is_known_up_front_so_no_request_finds_it(
    client: PortalClient, portal_emulator: Bitrix24Emulator
) -> None:
    # The top 50 and the first 50 in the first request, the 4,900 between in two more.
    ids = portal_emulator.seed_leads(2_500 + 2_500)
    assert [lead.id async for lead in client.iter_leads(select=["ID"])] == ids
    assert portal_emulator.count_calls("batch") == 3
    first = portal_emulator.calls[0].params["cmd"]
    assert len(first) == 2
    assert "order[ID]=DESC" in unquote(first["top"])
    assert "order[ID]=ASC" in unquote(first["head"])


async def test_the_rest_of_the_range_is_read_as_chains_at_once(
    client: PortalClient, portal_emulator: Bitrix24Emulator
) -> None:
    ids = portal_emulator.seed_leads(12_000, STATUS_ID=lambda i: "NEW" if i % 2 else "JUNK")
    wanted = [lead_id for index, lead_id in enumerate(ids) if index % 2]
    portal_emulator.list_server_time = 0.002  # 0.1 s per batch of 50 list commands
    got = [lead.id async for lead in client.iter_leads({"STATUS_ID": "NEW"}, ["ID"])]
    assert got == wanted
    assert portal_emulator.max_in_flight > 1
    # 6,000 matching leads: the first request (100) and three segments, read at once.
    assert portal_emulator.count_calls("batch") == 4


async def test_stopping_early_cancels_the_chains_ahead(
    client: PortalClient, portal_emulator: Bitrix24Emulator
) -> None:
    ids = portal_emulator.seed_leads(10_000)
    got = []
    async for lead in client.iter_leads(select=["ID"]):
        got.append(lead.id)
        if len(got) == 3_000:
            break
    assert got == ids[:3_000]


@pytest.mark.parametrize("unresolved", ["error", "empty", "keep"])
async def test_pages_after_the_first_short_page_are_ignored_whatever_they_answer(
    client: PortalClient, portal_emulator: Bitrix24Emulator, unresolved: str
) -> None:
    portal_emulator.unresolved_references = unresolved  # type: ignore[assignment]
    ids = portal_emulator.seed_leads(130)
    assert [lead.id async for lead in client.iter_leads(select=["ID"])] == ids
    # The first request brings ids 1-50 and 81-130; one chain of 50 pages reads the 30 between.
    batch = portal_emulator.calls[-1]
    assert batch.method == "batch"
    assert portal_emulator.count_calls("batch") == 2
    assert len(batch.batch_methods) == 50


async def test_a_failing_page_before_the_end_still_raises(
    client: PortalClient, portal_emulator: Bitrix24Emulator
) -> None:
    portal_emulator.unresolved_references = "error"
    portal_emulator.seed_leads(2_000)
    # Each list command costs 10 s of the method's budget: the 21st in the batch is refused.
    portal_emulator.operating_costs["crm.lead.list"] = 10.0
    portal_emulator.operating_limit = 200.0
    with pytest.raises(OperationTimeLimitError):
        _ = [lead async for lead in client.iter_leads(select=["ID"])]


async def test_uneven_density_still_reads_everything_once_in_order(
    client: PortalClient, portal_emulator: Bitrix24Emulator
) -> None:
    # Sparse at the start (the density guess is low), dense later: segments overflow and
    # continue with another request.
    ids = portal_emulator.seed_leads(
        12_000, STATUS_ID=lambda i: "NEW" if i >= 6_000 or i % 10 == 0 else "JUNK"
    )
    wanted = [lead_id for index, lead_id in enumerate(ids) if index >= 6_000 or index % 10 == 0]
    got = [lead.id async for lead in client.iter_leads({"STATUS_ID": "NEW"}, ["ID"])]
    assert got == wanted


@pytest.mark.parametrize("chains", [1, None])
async def test_a_denser_segment_is_yielded_a_request_at_a_time(
    client: PortalClient,
    portal_emulator: Bitrix24Emulator,
    monkeypatch: pytest.MonkeyPatch,
    chains: int | None,
) -> None:
    # Sparse at the start, so the segments are planned too wide: one holds several requests'
    # leads. Each request's leads are yielded before its chain asks for the next, so what a
    # read holds is one request's leads per chain, not a whole segment's.
    ids = portal_emulator.seed_leads(
        16_000, STATUS_ID=lambda i: "NEW" if i >= 8_000 or i % 20 == 0 else "JUNK"
    )
    wanted = [lead_id for index, lead_id in enumerate(ids) if index >= 8_000 or index % 20 == 0]
    received: list[int] = []  # leads the reader had received when each request was sent
    yielded = 0
    held: list[int] = []
    batch = client.batch

    async def counted(commands: Mapping[str, Any], **options: Any) -> BatchResult:
        held.append(sum(received) - yielded)
        result = await batch(commands, **options)
        received.append(sum(len(rows) for rows in result.results.values()))
        return result

    monkeypatch.setattr(client, "batch", counted)
    got = []
    async for lead in client.iter_leads({"STATUS_ID": "NEW"}, ["ID"], chains=chains):
        got.append(lead.id)
        yielded += 1
    assert got == wanted
    runs_at_once = 1 if chains == 1 else DEFAULT_CHAINS
    # The light first request's two pages, and a request's leads per chain running.
    assert max(held) <= 2 * PAGE_SIZE + runs_at_once * LEADS_PER_REQUEST


async def test_a_few_new_leads_cost_one_light_request(
    client: PortalClient, portal_emulator: Bitrix24Emulator
) -> None:
    ids = portal_emulator.seed_leads(40)
    got = [lead.id async for lead in client.iter_leads({">ID": ids[9]}, ["ID"])]
    assert got == ids[10:]
    assert portal_emulator.count_calls("batch") == 1
    assert portal_emulator.calls[0].batch_methods == ["crm.lead.list"] * 2


async def test_an_idle_limiter_reads_every_segment_at_once(
    make_client: ClientFactory, portal_emulator: Bitrix24Emulator
) -> None:
    # Ten segments, burst 50: every chain is sent without waiting and nothing is refused.
    portal_emulator.rate_limit = True
    portal_emulator.drain_per_second = 2.0
    portal_emulator.burst = 50
    ids = portal_emulator.seed_leads(25_100)
    portal_emulator.list_server_time = 0.01  # 0.5 s per batch of 50 list commands
    limited = make_client(
        WebhookAuth(portal_emulator.webhook_url),
        limiter=PortalLimiter(drain_per_second=2.0, burst=50),
    )
    assert [lead.id async for lead in limited.iter_leads(select=["ID"])] == ids
    assert portal_emulator.count_calls("batch") == 11
    assert portal_emulator.max_in_flight > DEFAULT_CHAINS
    assert not any(call.rejected_by_limit for call in portal_emulator.calls)


async def test_a_portal_that_repeats_its_pages_is_refused_not_read_forever() -> None:
    """A chain whose full pages bring nothing past its cursor (a portal that ignores the
    `>ID` start of a keyset page) would plan the same segment again and again."""
    requests = 0

    async def ignores_the_start(commands: Mapping[str, BatchCommand]) -> BatchResult:
        nonlocal requests
        requests += 1
        if requests == 1:  # the first and the last 50 of ids 1-1000: the rest is planned
            return BatchResult(
                results={
                    "top": [{"ID": str(i)} for i in range(1000, 950, -1)],
                    "head": [{"ID": str(i)} for i in range(1, 51)],
                }
            )
        return BatchResult(
            results={key: [{"ID": str(i)} for i in range(1, 51)] for key in commands}
        )

    got: list[int | None] = []

    async def read() -> None:
        async for lead in iter_leads_in_chains(ignores_the_start, {}, ["ID"], 0, chains=1):
            got.append(lead.id)

    with pytest.raises(PortalError, match="did not advance"):
        await read()
    assert got == list(range(1, 51))
    assert requests == 2
