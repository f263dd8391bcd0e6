"""Stages, sources and fields come from the portal in one request and are cached."""

from __future__ import annotations

import asyncio

from bot.leads.catalog import RETRY_SECONDS, PortalCatalog
from bot.portal import Lane, PortalClient, Semantics
from tests.emulators.bitrix24 import Bitrix24Emulator
from tests.fixtures_portal import RecordingLimiter


async def test_catalog_reads_everything_in_one_request_and_caches_it(
    client: PortalClient, portal_emulator: Bitrix24Emulator
) -> None:
    now = [0.0]
    catalog = PortalCatalog(client, ttl=60.0, clock=lambda: now[0])
    before = portal_emulator.count_calls()
    snapshot = await catalog.get()
    assert portal_emulator.count_calls() == before + 1
    assert [s.status_id for s in snapshot.stages][:3] == ["NEW", "IN_PROCESS", "PROCESSED"]
    assert snapshot.stage("JUNK") is not None
    assert snapshot.stage("JUNK").semantics is Semantics.FAILURE  # type: ignore[union-attr]
    assert snapshot.source_name("CALL")
    assert "TITLE" in snapshot.fields
    await catalog.get()
    assert portal_emulator.count_calls() == before + 1
    now[0] += 61.0
    # Expired: answered at once with the last reading while one refresh runs aside.
    assert await catalog.get() is snapshot
    assert await catalog.get() is snapshot
    await _calls_reach(portal_emulator, before + 2)
    assert await catalog.get() is not snapshot
    assert portal_emulator.count_calls() == before + 2


async def _calls_reach(portal: Bitrix24Emulator, count: int) -> None:
    for _ in range(500):
        if portal.count_calls() >= count:
            await asyncio.sleep(0.01)  # the refresh stores what it read
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{portal.count_calls()} portal calls, expected {count}")


async def test_a_refresh_aside_that_fails_keeps_the_reading_and_waits_before_trying_again(
    client: PortalClient, portal_emulator: Bitrix24Emulator
) -> None:
    now = [0.0]
    catalog = PortalCatalog(client, ttl=60.0, clock=lambda: now[0])
    snapshot = await catalog.get()
    portal_emulator.faults.refuse_method("crm.status.list", "ACCESS_DENIED", "Access denied")
    before = portal_emulator.count_calls()
    now[0] += 61.0
    assert await catalog.get() is snapshot
    await _calls_reach(portal_emulator, before + 1)
    assert await catalog.get() is snapshot
    now[0] += RETRY_SECONDS - 1
    assert await catalog.get() is snapshot
    await asyncio.sleep(0.05)
    assert portal_emulator.count_calls() == before + 1
    portal_emulator.faults.refusals.clear()
    now[0] += 2
    assert await catalog.get() is snapshot
    await _calls_reach(portal_emulator, before + 2)
    assert await catalog.get() is not snapshot


async def test_invalidated_catalog_sees_a_new_user_field(
    client: PortalClient, portal_emulator: Bitrix24Emulator
) -> None:
    catalog = PortalCatalog(client)
    assert not any(code.startswith("UF_CRM_") for code in (await catalog.get()).fields)
    portal_emulator.add_user_field({"FIELD_NAME": "BUDGET", "USER_TYPE_ID": "double"})
    catalog.invalidate()
    assert "UF_CRM_BUDGET" in (await catalog.get()).fields


async def test_failed_refresh_keeps_the_last_reading(
    client: PortalClient, portal_emulator: Bitrix24Emulator
) -> None:
    catalog = PortalCatalog(client)
    first = await catalog.get()
    catalog.invalidate()
    portal_emulator.faults.fail_next(10, status=500)
    assert await catalog.get() is first


async def test_an_invalidation_during_a_refresh_aside_makes_the_next_read_ask_again(
    client: PortalClient, portal_emulator: Bitrix24Emulator
) -> None:
    # The reading under way may have been taken before the change that invalidated it.
    now = [0.0]
    catalog = PortalCatalog(client, ttl=60.0, clock=lambda: now[0])
    snapshot = await catalog.get()
    portal_emulator.faults.slow_method("batch", 0.3)
    before = portal_emulator.count_calls()
    now[0] += 61.0
    assert await catalog.get() is snapshot  # the refresh aside starts
    await _calls_reach(portal_emulator, before + 1)
    catalog.invalidate()
    fresh = await catalog.get()  # waits for the one under way, then reads again
    assert portal_emulator.count_calls() == before + 2
    assert await catalog.get() is fresh
    assert portal_emulator.count_calls() == before + 2


async def test_the_refresh_aside_takes_the_routine_lane(
    recorded_portal: tuple[PortalClient, RecordingLimiter], portal_emulator: Bitrix24Emulator
) -> None:
    # Nobody waits for it: it takes the slots the processor's reads leave.
    portal, limiter = recorded_portal
    now = [0.0]
    catalog = PortalCatalog(portal, ttl=60.0, clock=lambda: now[0])
    await catalog.get(lane=Lane.BACKGROUND)
    before = portal_emulator.count_calls()
    now[0] += 61.0
    await catalog.get(lane=Lane.BACKGROUND)
    await _calls_reach(portal_emulator, before + 1)
    assert limiter.lanes == [Lane.BACKGROUND, Lane.ROUTINE]
