"""A rep puts products on a lead from its card: search, quantity, price, total, removal."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from typing import Any

from bot.app import Application
from bot.portal import ProductRow
from tests.e2e.conftest import sign_in
from tests.emulators.bitrix24 import Bitrix24Emulator
from tests.emulators.telegram import TelegramEmulator
from tests.emulators.telegram_driver import TelegramUser
from tests.emulators.telegram_models import ChatMessage

IVAN_TELEGRAM_ID = 2001
IVAN_PHONE = "+79161234567"  # portal user 2, Ivan Petrov (a rep)

ROWS_READ = "batch[crm.lead.get,crm.lead.productrows.get]"


def has(fragment: str) -> Any:
    """A predicate: the message's text contains `fragment`."""
    return lambda m: fragment in (m.text or "")


def portal_calls(portal: Bitrix24Emulator, since: int) -> list[str]:
    """Requests the portal got since `since`, batches with their commands."""
    return [
        f"batch[{','.join(call.batch_methods)}]" if call.method == "batch" else call.method
        for call in portal.calls[since:]
    ]


def bot_actions(app: Application) -> list[tuple[int, int, int, str]]:
    """Rows of bot_actions, read straight from the SQLite file."""
    with sqlite3.connect(app.settings.storage.path) as conn:
        rows = conn.execute(
            "SELECT lead_id, telegram_user_id, portal_user_id, action FROM bot_actions "
            "WHERE action LIKE 'product_%' ORDER BY id"
        ).fetchall()
    return [tuple(row) for row in rows]


def lead(portal: Bitrix24Emulator) -> int:
    return portal.ui_add_lead(
        {"TITLE": "Sensors for the warehouse", "ASSIGNED_BY_ID": 2, "CURRENCY_ID": "RUB"}
    )


async def open_products(user: TelegramUser, lead_id: int) -> ChatMessage:
    """Open the lead's card by its deep link, then its products."""
    await user.send(f"/start lead_{lead_id}")
    await user.wait_for_message(lambda m: "📦 Products" in m.labels)
    await user.press("📦 Products")
    return await user.wait_for_message(has("Products of lead"))


async def choose(user: TelegramUser, search: str, product: str) -> None:
    """Search the catalogue and pick a product; stops at the quantity question."""
    await user.press("➕ Add a product")
    await user.wait_for_message(has("Send a part of the product name"))
    await user.send(search)
    found = await user.wait_for_message(has("Choose one"))
    await user.press(next(label for label in found.labels if label.startswith(product)))
    await user.wait_for_message(has("How many?"))


async def test_rep_adds_and_removes_products_and_sees_the_total(
    running_bot: Application,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    lead_id = lead(portal_emulator)
    ivan = await sign_in(telegram_emulator, IVAN_TELEGRAM_ID, "Ivan", IVAN_PHONE)
    mark = len(portal_emulator.calls)
    empty = await open_products(ivan, lead_id)
    assert portal_calls(portal_emulator, mark)[-1] == ROWS_READ
    assert "No products on this lead yet" in (empty.text or "")

    await ivan.press("➕ Add a product")
    await ivan.wait_for_message(has("Send a part of the product name"))
    mark = len(portal_emulator.calls)
    await ivan.send("sensor kit")
    found = await ivan.wait_for_message(has("Found 2 products"))
    assert portal_calls(portal_emulator, mark) == ["crm.product.list"]
    assert [label.split(" — ")[0] for label in found.labels[:2]] == [
        "Sensor kit basic",
        "Sensor kit pro",
    ]
    await ivan.press(next(label for label in found.labels if label.startswith("Sensor kit pro")))
    await ivan.wait_for_message(has("How many?"))

    # Bad quantities get a reason each.
    await ivan.send_sticker()
    await ivan.wait_for_message(has("Send it as text, please."))
    await ivan.send("-2")
    await ivan.wait_for_message(has("must be greater than zero"))
    await ivan.send("two")
    await ivan.wait_for_message(has("That's not a number"))
    await ivan.send("1000000")
    await ivan.wait_for_message(has("at most 100 000"))
    await ivan.send("2")
    price = await ivan.wait_for_message(has("Catalogue price: 27,900"))
    assert "✅ Use 27,900 RUB" in price.labels

    await ivan.send_sticker()
    await ivan.wait_for_message(has("Send it as text, please."))
    await ivan.send("abc")
    await ivan.wait_for_message(has("That's not a number"))
    await ivan.send("1,001")
    await ivan.wait_for_message(has("at most two digits"))
    await ivan.send("-5")
    await ivan.wait_for_message(has("can't be negative"))
    mark = len(portal_emulator.calls)
    await ivan.send("27 000,50")
    added = await ivan.wait_for_message(has("Added: Sensor kit pro × 2"))
    assert portal_calls(portal_emulator, mark) == [
        ROWS_READ,
        "crm.lead.productrows.set",
        ROWS_READ,
    ]
    assert "• Sensor kit pro: 2 × 27,000.5 = 54,001 RUB" in (added.text or "")
    assert "Total: 54,001 RUB" in (added.text or "")

    # A second row at the catalogue price, with a decimal-comma quantity.
    await choose(ivan, "delivery", "Delivery within city")
    await ivan.send("1,5")
    await ivan.wait_for_message(has("Catalogue price: 900"))
    await ivan.press("✅ Use 900 RUB")
    two = await ivan.wait_for_message(has("Added: Delivery within city × 1.5"))
    assert "Total: 55,351 RUB" in (two.text or "")
    stored = portal_emulator.product_rows[lead_id]
    assert [(r["PRODUCT_NAME"], r["QUANTITY"], r["PRICE"]) for r in stored] == [
        ("Sensor kit pro", 2.0, 27000.5),
        ("Delivery within city", 1.5, 900.0),
    ]

    # Remove the first row; the other stays as it was.
    await ivan.press("🗑 Sensor kit pro × 2")
    await ivan.wait_for_message(has("Remove Sensor kit pro from the lead?"))
    mark = len(portal_emulator.calls)
    await ivan.press("🗑 Yes, remove")
    removed = await ivan.wait_for_message(has("Removed: Sensor kit pro"))
    assert portal_calls(portal_emulator, mark) == [
        ROWS_READ,
        "crm.lead.productrows.set",
        ROWS_READ,
    ]
    assert "Total: 1,350 RUB" in (removed.text or "")
    assert [(r["PRODUCT_NAME"], r["QUANTITY"]) for r in portal_emulator.product_rows[lead_id]] == [
        ("Delivery within city", 1.5)
    ]
    assert portal_emulator.leads[lead_id]["OPPORTUNITY"] == "1350.00"
    assert bot_actions(running_bot) == [
        (lead_id, IVAN_TELEGRAM_ID, 2, "product_added"),
        (lead_id, IVAN_TELEGRAM_ID, 2, "product_added"),
        (lead_id, IVAN_TELEGRAM_ID, 2, "product_removed"),
    ]


async def test_a_change_made_meanwhile_is_not_overwritten(
    running_bot: Application,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    lead_id = lead(portal_emulator)
    ivan = await sign_in(telegram_emulator, IVAN_TELEGRAM_ID, "Ivan", IVAN_PHONE)
    await open_products(ivan, lead_id)
    await choose(ivan, "consult", "Consultation, 1 hour")
    await ivan.send("3")
    await ivan.wait_for_message(has("Catalogue price"))

    # Meanwhile a colleague puts a hand-made row on the lead in the portal.
    assert running_bot.portal is not None
    await running_bot.portal.set_lead_products(
        lead_id,
        [ProductRow.model_validate({"PRODUCT_NAME": "Site survey", "PRICE": 5000, "QUANTITY": 1})],
    )
    await ivan.press("✅ Use 3,000 RUB")
    warned = await ivan.wait_for_message(has("Someone changed this lead's products"))
    assert "• Site survey: 1 × 5,000 = 5,000 RUB" in (warned.text or "")
    assert [r["PRODUCT_NAME"] for r in portal_emulator.product_rows[lead_id]] == ["Site survey"]
    assert bot_actions(running_bot) == []

    # With the fresh list seen, the same addition goes through and keeps the colleague's row.
    await choose(ivan, "consult", "Consultation, 1 hour")
    await ivan.send("3")
    await ivan.wait_for_message(has("Catalogue price"))
    await ivan.press("✅ Use 3,000 RUB")
    done = await ivan.wait_for_message(has("Added: Consultation, 1 hour × 3"))
    assert "Total: 14,000 RUB" in (done.text or "")
    assert [r["PRODUCT_NAME"] for r in portal_emulator.product_rows[lead_id]] == [
        "Site survey",
        "Consultation, 1 hour",
    ]


async def test_silly_search_and_a_colleagues_lead_are_refused(
    running_bot: Application,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    lead_id = lead(portal_emulator)
    assert running_bot.portal is not None
    await running_bot.portal.set_lead_products(
        lead_id,
        [ProductRow.model_validate({"PRODUCT_ID": 1, "PRICE": Decimal(3000), "QUANTITY": 2})],
    )
    ivan = await sign_in(telegram_emulator, IVAN_TELEGRAM_ID, "Ivan", IVAN_PHONE)
    listing = await open_products(ivan, lead_id)
    assert "Total: 6,000 RUB" in (listing.text or "")

    await ivan.press("➕ Add a product")
    await ivan.wait_for_message(has("Send a part of the product name"))
    mark = len(portal_emulator.calls)
    await ivan.send("x" * 5000)
    await ivan.wait_for_message(has("too long to look for: send at most 100"))
    assert portal_calls(portal_emulator, mark) == []
    await ivan.send("zzz-no-such")
    await ivan.wait_for_message(has("Nothing in the catalogue matches “zzz-no-such”"))
    await ivan.press("« Back")
    await ivan.wait_for_message(has("Products of lead"))

    await ivan.press("🗑 Consultation, 1 hour × 2")
    confirm = await ivan.wait_for_message(lambda m: "🗑 Yes, remove" in m.labels)
    remove_data = confirm.button("🗑 Yes, remove").callback_data
    assert remove_data is not None
    # The lead goes to Olga before Ivan confirms.
    portal_emulator.ui_update_lead(lead_id, {"ASSIGNED_BY_ID": 3})
    query = await ivan.press_data(confirm.message_id, remove_data)
    refused = await telegram_emulator.wait_for_callback_answer(query)
    assert refused.show_alert
    assert "don't have access to this lead" in (refused.text or "")
    assert len(portal_emulator.product_rows[lead_id]) == 1
    assert bot_actions(running_bot) == []


async def test_two_fast_taps_on_the_catalogue_price_add_one_row(
    running_bot: Application,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    lead_id = lead(portal_emulator)
    ivan = await sign_in(telegram_emulator, IVAN_TELEGRAM_ID, "Ivan", IVAN_PHONE)
    await open_products(ivan, lead_id)
    await choose(ivan, "sensor kit", "Sensor kit pro")
    await ivan.send("2")
    price = await ivan.wait_for_message(has("Catalogue price: 27,900"))
    data = price.button("✅ Use 27,900 RUB").callback_data
    assert data is not None
    # Two callback updates sent without waiting for the first answer.
    first = await ivan.press_data(price.message_id, data)
    second = await ivan.press_data(price.message_id, data)
    await telegram_emulator.wait_for_callback_answer(first)
    await telegram_emulator.wait_for_callback_answer(second)
    await ivan.wait_for_message(has("Added: Sensor kit pro × 2"))
    await telegram_emulator.wait_until_delivered()
    assert len(portal_emulator.product_rows[lead_id]) == 1
    assert bot_actions(running_bot) == [(lead_id, IVAN_TELEGRAM_ID, 2, "product_added")]
