"""Lead products service against the portal emulator: replace-all writes, conflicts, checks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from decimal import Decimal

import pytest

from bot.access.roles import Identity, Role
from bot.leads.actions import BotActionLog
from bot.leads.inflight import WriteInProgressError
from bot.leads.products import (
    LeadProductsService,
    ProductSearchError,
    RowGoneError,
    RowsChangedError,
)
from bot.leads.visibility import LeadHiddenError
from bot.portal import PortalClient, PortalLimiter, ProductRow, WebhookAuth
from bot.storage import Database
from tests.emulators.bitrix24 import Bitrix24Emulator

IVAN = Identity(telegram_user_id=2001, portal_user_id=2, role=Role.REP, name="Ivan Petrov")
OLGA = Identity(telegram_user_id=3001, portal_user_id=3, role=Role.REP, name="Olga Smirnova")

# A row a portal user made by hand: custom name, percent discount, tax, own measure.
HAND_MADE_ROW = {
    "PRODUCT_ID": 0,
    "PRODUCT_NAME": "Measuring visit",
    "PRICE": 1800,
    "PRICE_EXCLUSIVE": 1500,
    "PRICE_NETTO": 2000,
    "PRICE_BRUTTO": 1800,
    "QUANTITY": 2,
    "DISCOUNT_TYPE_ID": 2,
    "DISCOUNT_RATE": 25,
    "DISCOUNT_SUM": 500,
    "TAX_RATE": 20,
    "TAX_INCLUDED": "Y",
    "MEASURE_CODE": 356,
    "MEASURE_NAME": "h",
    "SORT": 10,
}
KEPT_FIELDS = (
    "PRODUCT_ID",
    "PRODUCT_NAME",
    "PRICE",
    "PRICE_EXCLUSIVE",
    "PRICE_NETTO",
    "PRICE_BRUTTO",
    "QUANTITY",
    "DISCOUNT_TYPE_ID",
    "DISCOUNT_RATE",
    "DISCOUNT_SUM",
    "TAX_RATE",
    "TAX_INCLUDED",
    "MEASURE_CODE",
    "MEASURE_NAME",
    "SORT",
)


@pytest.fixture
async def portal(portal_emulator: Bitrix24Emulator) -> AsyncIterator[PortalClient]:
    client = PortalClient(
        auth=WebhookAuth(portal_emulator.webhook_url),
        limiter=PortalLimiter(drain_per_second=1000.0, burst=1000, start_full=False),
        backoff_base=0.001,
    )
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
def service(portal: PortalClient, db: Database) -> LeadProductsService:
    return LeadProductsService(portal, BotActionLog(db))


def ivans_lead(portal_emulator: Bitrix24Emulator) -> int:
    return portal_emulator.ui_add_lead(
        {"TITLE": "Sensors", "ASSIGNED_BY_ID": 2, "CURRENCY_ID": "RUB"}
    )


def product_id(portal_emulator: Bitrix24Emulator, name: str) -> int:
    return next(pid for pid, row in portal_emulator.products.items() if row["NAME"] == name)


async def hand_made(
    portal_emulator: Bitrix24Emulator, portal: PortalClient, lead_id: int
) -> dict[str, object]:
    """A portal user puts the hand-made row on the lead; returns the row as stored."""
    await portal.set_lead_products(lead_id, [ProductRow.model_validate(HAND_MADE_ROW)])
    return dict(portal_emulator.product_rows[lead_id][0])


async def test_view_is_one_batch_with_total_and_currency(
    portal_emulator: Bitrix24Emulator, portal: PortalClient, service: LeadProductsService
) -> None:
    lead_id = ivans_lead(portal_emulator)
    await hand_made(portal_emulator, portal, lead_id)
    before = portal_emulator.count_calls()
    view = await service.view(IVAN, lead_id)
    assert portal_emulator.count_calls() - before == 1
    assert [row.product_name for row in view.rows] == ["Measuring visit"]
    assert view.total == Decimal(3600)
    assert view.currency == "RUB"


async def test_adding_keeps_the_other_rows_whole_and_is_recorded(
    portal_emulator: Bitrix24Emulator,
    portal: PortalClient,
    service: LeadProductsService,
    db: Database,
) -> None:
    lead_id = ivans_lead(portal_emulator)
    before_row = await hand_made(portal_emulator, portal, lead_id)
    seen = await service.view(IVAN, lead_id)
    kit = product_id(portal_emulator, "Sensor kit pro")
    calls = portal_emulator.count_calls()
    await service.add_row(
        IVAN,
        lead_id,
        product_id=kit,
        quantity=Decimal("1.5"),
        price=Decimal("27000.50"),
        seen_signature=seen.signature,
    )
    assert portal_emulator.count_calls() - calls == 2
    stored = portal_emulator.product_rows[lead_id]
    assert [{k: row[k] for k in KEPT_FIELDS} for row in stored[:1]] == [
        {k: before_row[k] for k in KEPT_FIELDS}
    ]
    added = stored[1]
    assert (added["PRODUCT_ID"], added["PRODUCT_NAME"], added["QUANTITY"], added["PRICE"]) == (
        kit,
        "Sensor kit pro",
        1.5,
        27000.5,
    )
    fresh = await service.view(IVAN, lead_id)
    assert fresh.total == Decimal(3600) + Decimal("1.5") * Decimal("27000.5")
    rows = await db.fetch_all(
        "SELECT lead_id, telegram_user_id, portal_user_id, action FROM bot_actions"
    )
    assert [tuple(row) for row in rows] == [(lead_id, 2001, 2, "product_added")]


async def test_removing_keeps_the_other_rows_whole(
    portal_emulator: Bitrix24Emulator,
    portal: PortalClient,
    service: LeadProductsService,
    db: Database,
) -> None:
    lead_id = ivans_lead(portal_emulator)
    before_row = await hand_made(portal_emulator, portal, lead_id)
    seen = await service.view(IVAN, lead_id)
    await service.add_row(
        IVAN,
        lead_id,
        product_id=product_id(portal_emulator, "Delivery within city"),
        quantity=Decimal(1),
        price=Decimal(900),
        seen_signature=seen.signature,
    )
    seen = await service.view(IVAN, lead_id)
    delivery = seen.rows[1]
    assert delivery.id is not None
    await service.remove_row(IVAN, lead_id, delivery.id, seen_signature=seen.signature)
    stored = portal_emulator.product_rows[lead_id]
    assert [{k: row[k] for k in KEPT_FIELDS} for row in stored] == [
        {k: before_row[k] for k in KEPT_FIELDS}
    ]
    actions = await db.fetch_all("SELECT action FROM bot_actions ORDER BY id")
    assert [row[0] for row in actions] == ["product_added", "product_removed"]


async def test_a_concurrent_change_is_reported_not_overwritten(
    portal_emulator: Bitrix24Emulator,
    portal: PortalClient,
    service: LeadProductsService,
    db: Database,
) -> None:
    lead_id = ivans_lead(portal_emulator)
    seen = await service.view(IVAN, lead_id)
    # Meanwhile somebody adds a row in the portal.
    await hand_made(portal_emulator, portal, lead_id)
    with pytest.raises(RowsChangedError) as conflict:
        await service.add_row(
            IVAN,
            lead_id,
            product_id=product_id(portal_emulator, "Sensor kit basic"),
            quantity=Decimal(1),
            price=Decimal(12500),
            seen_signature=seen.signature,
        )
    assert [row.product_name for row in conflict.value.fresh.rows] == ["Measuring visit"]
    assert [row["PRODUCT_NAME"] for row in portal_emulator.product_rows[lead_id]] == [
        "Measuring visit"
    ]
    fresh = conflict.value.fresh
    row_id = fresh.rows[0].id
    assert row_id is not None
    with pytest.raises(RowsChangedError):
        await service.remove_row(IVAN, lead_id, row_id, seen_signature=seen.signature)
    with pytest.raises(RowGoneError):
        await service.remove_row(IVAN, lead_id, 999999, seen_signature=fresh.signature)
    assert len(portal_emulator.product_rows[lead_id]) == 1
    assert await db.fetch_all("SELECT * FROM bot_actions") == []


async def test_a_rep_cannot_touch_a_colleagues_lead_rows(
    portal_emulator: Bitrix24Emulator, portal: PortalClient, service: LeadProductsService
) -> None:
    lead_id = ivans_lead(portal_emulator)
    await hand_made(portal_emulator, portal, lead_id)
    seen = await service.view(IVAN, lead_id)
    row_id = seen.rows[0].id
    assert row_id is not None
    with pytest.raises(LeadHiddenError):
        await service.view(OLGA, lead_id)
    with pytest.raises(LeadHiddenError):
        await service.add_row(
            OLGA,
            lead_id,
            product_id=1,
            quantity=Decimal(1),
            price=Decimal(1),
            seen_signature=seen.signature,
        )
    with pytest.raises(LeadHiddenError):
        await service.remove_row(OLGA, lead_id, row_id, seen_signature=seen.signature)
    assert len(portal_emulator.product_rows[lead_id]) == 1


async def test_catalogue_search_is_one_request_and_refuses_silly_text(
    portal_emulator: Bitrix24Emulator, service: LeadProductsService
) -> None:
    before = portal_emulator.count_calls()
    page = await service.search("  sensor   KIT ")
    assert portal_emulator.count_calls() - before == 1
    assert [p.name for p in page.items] == ["Sensor kit basic", "Sensor kit pro"]
    assert page.items[0].price == Decimal("12500.00")
    for text, too_long in (("s", False), ("x" * 5000, True)):
        with pytest.raises(ProductSearchError) as refused:
            await service.search(text)
        assert refused.value.too_long is too_long
    assert portal_emulator.count_calls() - before == 1


async def test_two_adds_at_once_write_once(
    portal_emulator: Bitrix24Emulator, service: LeadProductsService, db: Database
) -> None:
    lead_id = ivans_lead(portal_emulator)
    seen = await service.view(IVAN, lead_id)

    def add() -> Awaitable[None]:
        return service.add_row(
            IVAN,
            lead_id,
            product_id=product_id(portal_emulator, "Sensor kit pro"),
            quantity=Decimal(1),
            price=Decimal(10),
            seen_signature=seen.signature,
        )

    results = await asyncio.gather(add(), add(), return_exceptions=True)
    assert sum(isinstance(r, WriteInProgressError) for r in results) == 1
    assert len(portal_emulator.product_rows[lead_id]) == 1
    rows = await db.fetch_all("SELECT action FROM bot_actions")
    assert [row[0] for row in rows] == ["product_added"]
