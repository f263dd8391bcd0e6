"""Admins manage custom lead fields, the lead form and the portal's lead card; the bot
throttles floods and reports metrics."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from bot.app import Application
from bot.config import RedisSettings, ThrottleSettings
from bot.metrics import THROTTLED
from bot.storage import BindingRepository, KeyValueRepository
from bot.storage.models import Role
from tests.e2e.conftest import ADMIN_TELEGRAM_ID, FAST_BACKOFF, SettingsFactory, sign_in
from tests.emulators.bitrix24 import Bitrix24Emulator
from tests.emulators.telegram import TelegramEmulator
from tests.emulators.telegram_driver import TelegramUser

ANNA_PHONE = "+79160000001"  # portal user 1, config admin
IVAN_PHONE = "+79161234567"  # portal user 2
OLGA_PHONE = "+79162345678"  # portal user 3
FIELD = "UF_CRM_DELIVERY_ZONE"
COMMON_LAYOUT = [
    {
        "name": "main",
        "title": "About the lead",
        "type": "section",
        "elements": [{"name": "TITLE"}, {"name": "PHONE"}],
    },
    {"name": "more", "title": "More", "type": "section", "elements": [{"name": "COMMENTS"}]},
]
COMMON_KEY = ("C", 0, 1)


def has_text(fragment: str) -> Callable[[Any], bool]:
    return lambda m: fragment in (m.text or "")


def has_label(label: str) -> Callable[[Any], bool]:
    return lambda m: label in m.labels


async def _open_tool(user: TelegramUser, button: str) -> None:
    await user.send("/menu")
    await user.wait_for_message(has_label("🛠 Admin"))
    await user.press("🛠 Admin")
    await user.wait_for_message(has_label(button))
    await user.press(button)


def _field(portal: Bitrix24Emulator, name: str = FIELD) -> dict[str, Any] | None:
    return next((f for f in portal.user_fields.values() if f["FIELD_NAME"] == name), None)


def _values(portal: Bitrix24Emulator) -> list[str]:
    field = _field(portal)
    assert field is not None
    return [item["VALUE"] for item in field["LIST"]]


async def test_admin_creates_renames_edits_and_deletes_a_list_field(
    running_bot: Application,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    admin = await sign_in(telegram_emulator, ADMIN_TELEGRAM_ID, "Anna", ANNA_PHONE)
    before = await running_bot.catalog.get()  # cached: a change must make it read again
    assert FIELD not in before.fields

    await _open_tool(admin, "🧩 Custom lead fields")
    await admin.wait_for_message(has_label("➕ New field"))
    await admin.press("➕ New field")
    await admin.wait_for_message(has_label("List"))
    await admin.press("List")
    await admin.wait_for_message(has_text("as people will see it"))
    await admin.send("Delivery zone")
    await admin.wait_for_message(has_text("field's code"))
    await admin.send("delivery zone!")
    refused = await admin.wait_for_message(has_text("only Latin letters"))
    assert "DELIVERY_ZONE" in (refused.text or "")
    await admin.send("delivery_zone")
    await admin.wait_for_message(has_text("one per line"))
    await admin.send("North\nSouth\n\nEast")
    confirm = await admin.wait_for_message(has_text("Create this field?"))
    assert "UF_CRM_DELIVERY_ZONE" in (confirm.text or "")
    assert "3 values: North, South, East" in (confirm.text or "")
    await admin.press("✅ Create the field")
    await admin.wait_for_message(has_text("has been created"))

    field = _field(portal_emulator)
    assert field is not None
    assert field["USER_TYPE_ID"] == "enumeration"
    assert field["EDIT_FORM_LABEL"]["en"] == "Delivery zone"
    assert _values(portal_emulator) == ["North", "South", "East"]
    catalog = await running_bot.catalog.get()
    assert [i.value for i in catalog.fields[FIELD].items or []] == ["North", "South", "East"]

    line = next(label for label in admin.last_message().labels if "Delivery zone" in label)
    assert line == "Delivery zone — List, 3 values"
    await admin.press(line)
    await admin.wait_for_message(has_label("✏️ Rename"))
    await admin.press("✏️ Rename")
    await admin.wait_for_message(has_text("Send the new name"))
    await admin.send("Delivery area")
    await admin.wait_for_message(has_text("Renamed to Delivery area"))
    field = _field(portal_emulator)
    assert field is not None
    for key in ("EDIT_FORM_LABEL", "LIST_COLUMN_LABEL", "LIST_FILTER_LABEL"):
        assert field[key] == {"en": "Delivery area", "ru": "Delivery area", "de": "Delivery area"}
    catalog = await running_bot.catalog.get()
    assert catalog.fields[FIELD].form_label == "Delivery area"

    await admin.press("📋 List values")
    await admin.wait_for_message(has_label("South"))
    await admin.press("South")
    await admin.wait_for_message(has_label("✏️ Rename value"))
    await admin.press("✏️ Rename value")
    await admin.wait_for_message(has_text("Send the new text"))
    await admin.send("South-west")
    await admin.wait_for_message(has_label("South-west"))
    await admin.press("East")
    await admin.wait_for_message(has_label("🗑 Delete value"))
    await admin.press("🗑 Delete value")
    await admin.wait_for_message(has_label("Yes, delete the value"))
    await admin.press("Yes, delete the value")
    await admin.wait_for_message(has_text("value has been deleted"))
    await admin.press("➕ Add values")
    await admin.wait_for_message(has_text("one per line"))
    await admin.send("north")
    await admin.wait_for_message(has_text("already in the list"))
    await admin.send("West")
    await admin.wait_for_message(has_text("1 value added"))
    assert _values(portal_emulator) == ["North", "South-west", "West"]

    await admin.press("« Back")
    await admin.wait_for_message(has_label("❗ Make required"))
    await admin.press("❗ Make required")
    await admin.wait_for_message(has_text("now required"))
    field = _field(portal_emulator)
    assert field is not None
    assert field["MANDATORY"] == "Y"
    assert (await running_bot.catalog.get()).fields[FIELD].is_required

    await admin.press("🗑 Delete field")
    await admin.wait_for_message(has_label("Yes, delete the field"))
    await admin.press("Yes, delete the field")
    await admin.wait_for_message(has_text("field has been deleted"))
    assert _field(portal_emulator) is None
    assert FIELD not in (await running_bot.catalog.get()).fields


async def test_field_tools_refuse_anyone_but_admins(
    running_bot: Application,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    olga = await sign_in(telegram_emulator, 3001, "Olga", OLGA_PHONE)
    bindings = BindingRepository(running_bot.db)
    await bindings.set_role(3001, Role.ADMIN)
    await _open_tool(olga, "🧩 Custom lead fields")
    listing = await olga.wait_for_message(has_label("➕ New field"))
    new_button = listing.button("➕ New field")
    assert new_button.callback_data is not None

    # A rep replays the admin's button in his own chat: nothing of the tools opens.
    ivan = await sign_in(telegram_emulator, 2001, "Ivan", IVAN_PHONE)
    query_id = await ivan.press_data(ivan.last_message().message_id, new_button.callback_data)
    await telegram_emulator.wait_for_callback_answer(query_id)
    assert not any("New field" in (m.text or "") for m in ivan.transcript())

    # Olga loses the admin role while the tools are open: the next press is refused.
    await bindings.set_role(3001, Role.REP)
    calls_before = portal_emulator.count_calls("crm.lead.userfield.list")
    refused = await olga.press_and_wait("➕ New field")
    assert "available to admins only" in (refused.text or "")
    assert portal_emulator.count_calls("crm.lead.userfield.list") == calls_before
    assert not any("What kind of data" in (m.text or "") for m in olga.transcript())


async def test_admin_picks_form_fields_and_their_order(
    running_bot: Application, telegram_emulator: TelegramEmulator
) -> None:
    admin = await sign_in(telegram_emulator, ADMIN_TELEGRAM_ID, "Anna", ANNA_PHONE)
    await _open_tool(admin, "📝 Lead form fields")
    form = await admin.wait_for_message(has_text("Lead form fields"))
    assert "✅ 1. Lead Title" in form.labels
    assert "✅ 8. Comments" in form.labels
    assert "⬜ Position" in form.labels
    assert not any("Responsible" in label for label in form.labels)

    await admin.press("✅ 2. First Name")  # take it out
    await admin.wait_for_message(has_label("⬜ First Name"))
    await admin.press("⬜ Position")  # added at the end: 8th
    await admin.wait_for_message(has_label("✅ 8. Position"))
    message = admin.last_message()
    up_of_position = [b for row in message.buttons for b in row if b.text == "⬆️"][7]
    assert up_of_position.callback_data is not None
    await admin.press_data(message.message_id, up_of_position.callback_data)
    await admin.wait_for_message(has_label("✅ 7. Position"))
    await admin.press("💾 Save")
    await admin.wait_for_message(has_text("8 optional fields"))

    stored = await KeyValueRepository(running_bot.db).get("form.optional_fields")
    assert stored == [
        "TITLE",
        "LAST_NAME",
        "PHONE",
        "EMAIL",
        "COMPANY_TITLE",
        "SOURCE_ID",
        "POST",
        "COMMENTS",
    ]

    await admin.press("↩️ Default fields")
    await admin.wait_for_message(has_text("Back to the default fields"))
    assert await KeyValueRepository(running_bot.db).get("form.optional_fields") is None


async def test_required_portal_fields_are_shown_as_always_asked(
    running_bot: Application,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    portal_emulator.required_lead_fields.add("COMMENTS")
    admin = await sign_in(telegram_emulator, ADMIN_TELEGRAM_ID, "Anna", ANNA_PHONE)
    await _open_tool(admin, "📝 Lead form fields")
    form = await admin.wait_for_message(has_text("Lead form fields"))
    assert "Always asked (required in the portal): Comments" in (form.text or "")
    assert not any("Comments" in label for label in form.labels)


async def test_card_settings_save_reset_apply_and_force_call_the_portal(
    running_bot: Application,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    portal_emulator.details_configuration[COMMON_KEY] = [dict(s) for s in COMMON_LAYOUT]
    admin = await sign_in(telegram_emulator, ADMIN_TELEGRAM_ID, "Anna", ANNA_PHONE)
    await _open_tool(admin, "🗂 Lead card in the portal")
    card = await admin.wait_for_message(has_text("The common card has 2 sections"))
    assert "About the lead" in (card.text or "")
    assert "Lead Title" in (card.text or "")
    assert "📥 Apply the saved layout" not in card.labels

    async def confirm(button: str, confirmation: str, done: str) -> None:
        await admin.press(button)
        await admin.wait_for_message(has_text(confirmation))
        await admin.press("✅ Yes, go ahead")
        await admin.wait_for_message(has_text(done))

    await confirm("💾 Save this layout", "Save the current common layout", "Layout saved")
    saved = await KeyValueRepository(running_bot.db).get("card.saved_layout")
    assert [s["name"] for s in saved] == ["main", "more"]

    await confirm("🔄 Reset to default", "Reset the common lead card", "back to the portal's")
    assert portal_emulator.count_calls("crm.lead.details.configuration.reset") == 1
    assert COMMON_KEY not in portal_emulator.details_configuration
    assert "default card" in (admin.last_message().text or "")

    await confirm("📥 Apply the saved layout", "Make the saved layout", "now the common card")
    assert portal_emulator.count_calls("crm.lead.details.configuration.set") == 1
    restored = portal_emulator.details_configuration[COMMON_KEY]
    assert [[e["name"] for e in s["elements"]] for s in restored] == [
        ["TITLE", "PHONE"],
        ["COMMENTS"],
    ]

    portal_emulator.details_configuration[("P", 2, 1)] = [dict(COMMON_LAYOUT[1])]
    await confirm("👥 Common card for everyone", "Personal layouts", "Everyone now sees")
    assert (
        portal_emulator.count_calls("crm.lead.details.configuration.forceCommonScopeForAll") == 1
    )
    assert ("P", 2, 1) not in portal_emulator.details_configuration


async def test_confirmation_can_be_declined(
    running_bot: Application,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    admin = await sign_in(telegram_emulator, ADMIN_TELEGRAM_ID, "Anna", ANNA_PHONE)
    await _open_tool(admin, "🗂 Lead card in the portal")
    await admin.wait_for_message(has_text("default card"))
    await admin.press("🔄 Reset to default")
    await admin.wait_for_message(has_label("✅ Yes, go ahead"))
    await admin.press("« Back")
    await admin.wait_for_message(has_label("🔄 Reset to default"))
    assert portal_emulator.count_calls("crm.lead.details.configuration.reset") == 0


async def _wait_for(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(5):
        while not condition():
            await asyncio.sleep(0.01)


@pytest.mark.parametrize("bot_redis", ["sqlite", "redis"], indirect=True)
async def test_throttling_answers_once_and_drops_the_rest(
    make_settings: SettingsFactory, telegram_emulator: TelegramEmulator, bot_redis: RedisSettings
) -> None:
    """Counted in the process, or in Redis over every replica when REDIS__URL is set."""
    settings = make_settings()
    settings.throttle = ThrottleSettings(
        updates=1, updates_per_seconds=3600, updates_burst=3, sign_in_burst=2
    )
    app = Application(settings, polling_backoff=FAST_BACKOFF)
    await app.start()
    try:
        throttled = app.metrics.counter(THROTTLED, labels=("kind", "action"))
        stranger = telegram_emulator.user(4001, "Eve")
        for _ in range(6):
            await stranger.send("/help")
        await stranger.wait_for_message(has_text("Too many requests"))
        await _wait_for(lambda: throttled.value(kind="general", action="drop") == 2)
        # Updates are handled concurrently: the warning may overtake the answers.
        await _wait_for(
            lambda: sum("What I can do" in (m.text or "") for m in stranger.transcript()) == 3
        )
        texts = [m.text or "" for m in stranger.transcript() if m.from_bot]
        assert sum("Too many requests" in t for t in texts) == 1
        assert len(texts) == 4  # three answers, one warning, nothing for the rest

        intruder = telegram_emulator.user(4002, "Mallory")
        for _ in range(3):
            await intruder.send("/start inv_guessed")
        await intruder.wait_for_message(has_text("Too many requests"))

        def refusals() -> int:
            return sum("doesn't work" in (m.text or "") for m in intruder.transcript())

        await _wait_for(lambda: refusals() == 2)
        assert throttled.value(kind="sign_in", action="warn") == 1
    finally:
        await app.stop()


async def test_metrics_endpoint_reports_traffic(
    running_bot: Application, telegram_emulator: TelegramEmulator
) -> None:
    await sign_in(telegram_emulator, 2001, "Ivan", IVAN_PHONE)
    url = f"http://127.0.0.1:{running_bot.port}/metrics"
    async with httpx.AsyncClient() as client:
        response = await client.get(url)
        with_body = await client.request("GET", url, content=b"x" * 10)
        posted = await client.post(url, content=b"{}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    lines = response.text.splitlines()
    samples = {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in lines if line[0] != "#"
    }
    assert samples['bot_updates_total{type="message"}'] >= 2
    assert samples['bot_portal_requests_total{method="batch"}'] >= 1  # users come in batches
    assert samples['bot_telegram_requests_total{method="sendMessage"}'] >= 2
    assert samples["bot_portal_rate_limited_total"] == 0
    assert "# TYPE bot_updates_total counter" in lines
    assert with_body.status_code == 413
    assert posted.status_code == 405
