"""Stages, sources and fields come from the portal in one request and are cached."""

from __future__ import annotations

from bot.leads.catalog import PortalCatalog
from bot.portal import PortalClient, Semantics
from tests.emulators.bitrix24 import Bitrix24Emulator


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
    await catalog.get()
    assert portal_emulator.count_calls() == before + 2


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
