"""The lead card: every part in one portal request, and each action re-checked and recorded."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

from bot.app import Application
from bot.portal import LeadContactBinding, ProductRow
from bot.write_journal import MARK_CHARACTERS
from tests.e2e.conftest import rewrite_stored_dialog_data
from tests.e2e.lead_fixtures import (
    IVAN_PORTAL_ID,
    IVAN_TELEGRAM_ID,
    OLGA_PORTAL_ID,
    add_lead,
    anna,
    ivan,
    open_card,
    text_of,
    warm_caches,
)
from tests.emulators.bitrix24 import Bitrix24Emulator
from tests.emulators.telegram import TelegramEmulator
from tests.emulators.telegram_driver import TelegramUser
from tests.emulators.telegram_models import ChatMessage

CB_SEP = "\x1d"


async def actions(app: Application) -> list[tuple[int, int, int, str]]:
    rows = await app.db.fetch_all(
        "SELECT lead_id, telegram_user_id, portal_user_id, action FROM bot_actions ORDER BY id"
    )
    return [(r[0], r[1], r[2], r[3]) for r in rows]


def comments_of(portal: Bitrix24Emulator, lead_id: int) -> list[str]:
    """The lead's comments as people read them: each carries its write's invisible mark."""
    comments = [
        str(c["COMMENT"])
        for c in portal.timeline_comments.values()
        if c["ENTITY_TYPE"] == "lead" and c["ENTITY_ID"] == lead_id
    ]
    assert all(len(c) - len(c.rstrip(MARK_CHARACTERS)) == 32 for c in comments)
    return [c.rstrip(MARK_CHARACTERS) for c in comments]


async def press_and_see(user: TelegramUser, label: str, expected: str) -> str:
    await user.press(label)
    message = await user.wait_for_message(lambda m: expected in text_of(m))
    return text_of(message)


async def test_card_shows_every_part_with_exactly_one_request(
    running_bot: Application,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    lead_id = add_lead(
        portal_emulator,
        IVAN_PORTAL_ID,
        TITLE="Windows for Romashka",
        NAME="Petr",
        LAST_NAME="Sidorov",
        SOURCE_ID="CALL",
        STATUS_ID="IN_PROCESS",
        COMPANY_TITLE="OOO Romashka",
        OPPORTUNITY=12500,
        CURRENCY_ID="RUB",
        PHONE=[{"VALUE": "+79161112233", "VALUE_TYPE": "WORK"}],
        EMAIL=[{"VALUE": "petr@romashka.test", "VALUE_TYPE": "WORK"}],
    )
    assert running_bot.portal is not None
    for name in ("Anna Contact", "Boris Contact"):
        first, last = name.split()
        contact = portal_emulator.add_contact({"NAME": first, "LAST_NAME": last}, 1)
        await running_bot.portal.add_lead_contact(lead_id, LeadContactBinding(contact_id=contact))
    await running_bot.portal.set_lead_products(
        lead_id,
        [
            ProductRow(product_name="Window", price=Decimal(1000), quantity=Decimal(2)),
            ProductRow(product_name="Sill", price=Decimal("250.5"), quantity=Decimal(1)),
        ],
    )
    rep = await ivan(telegram_emulator)
    await warm_caches(running_bot)

    before = portal_emulator.count_calls()
    card = await open_card(rep, lead_id, "Windows for Romashka")
    assert portal_emulator.count_calls() - before == 1
    text = text_of(card)
    for part in (
        "Stage: In progress",
        "Responsible: Ivan Petrov",
        "Source: Call",
        "Name: Petr Sidorov",
        "Phone: +79161112233",
        "Email: petr@romashka.test",
        "Company: OOO Romashka",
        # The portal recalculates the amount from the product rows.
        "Amount: 2 250.50 RUB",
        "Contacts: Anna Contact, Boris Contact",
        "Window × 2 — 2 000.00 RUB",
        "Total: 2 250.50 RUB",
        "Updated: ",
    ):
        assert part in text, part
    assert text.splitlines()[-1].endswith(", Ivan Petrov")  # last modified by
    url_button = card.button("🔗 Open in Bitrix24")
    assert url_button.raw["url"].endswith(f"/crm/lead/details/{lead_id}/")
    assert "emusecret" not in url_button.raw["url"]
    for label in ("🔀 Stage", "✏️ Edit", "📝 Note", "👥 Contacts", "📦 Products"):
        assert label in card.labels
    # A rep gets neither Take (it is theirs) nor Delete.
    assert "🙋 Take" not in card.labels
    assert "🗑 Delete" not in card.labels

    # Moving between the card's windows costs nothing.
    before = portal_emulator.count_calls()
    await press_and_see(rep, "✏️ Edit", "What do you want to change?")
    await press_and_see(rep, "« Back", "Windows for Romashka")
    assert portal_emulator.count_calls() == before


async def test_failure_stage_asks_for_a_reason_that_reaches_the_timeline(
    running_bot: Application,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    lead_id = add_lead(portal_emulator, IVAN_PORTAL_ID, TITLE="Soon junk")
    rep = await ivan(telegram_emulator)
    await open_card(rep, lead_id, "Soon junk")
    await warm_caches(running_bot)

    await rep.press("🔀 Stage")
    choice = await rep.wait_for_message(lambda m: "Choose the new stage" in text_of(m))
    assert choice.labels[:4] == ["In progress", "Processed", "Good lead", "Junk lead"]
    await press_and_see(rep, "Junk lead", "Why does the lead go to")
    before = portal_emulator.count_calls()
    await rep.send("The client <bought> elsewhere & left")
    card = await rep.wait_for_message(lambda m: "Saved" in text_of(m))
    assert portal_emulator.count_calls() - before == 2
    assert "Stage: Junk lead" in text_of(card)
    assert portal_emulator.leads[lead_id]["STATUS_ID"] == "JUNK"
    assert comments_of(portal_emulator, lead_id) == [
        "Stage changed to “Junk lead”. Reason: The client <bought> elsewhere & left"
        "\n\n— via Telegram by Ivan Petrov"
    ]
    assert await actions(running_bot) == [(lead_id, IVAN_TELEGRAM_ID, IVAN_PORTAL_ID, "stage")]

    # A process stage moves at once.
    await rep.press("🔀 Stage")
    await rep.wait_for_message(lambda m: "Choose the new stage" in text_of(m))
    await rep.press("In progress")
    await rep.wait_for_message(lambda m: "Stage: In progress" in text_of(m))
    assert portal_emulator.leads[lead_id]["STATUS_ID"] == "IN_PROCESS"


async def test_success_stage_explains_that_only_the_stage_changes(
    running_bot: Application,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    lead_id = add_lead(portal_emulator, IVAN_PORTAL_ID, TITLE="Almost won")
    rep = await ivan(telegram_emulator)
    await open_card(rep, lead_id, "Almost won")
    await rep.press("🔀 Stage")
    await rep.wait_for_message(lambda m: "Choose the new stage" in text_of(m))
    explained = await press_and_see(rep, "Good lead", "can't convert a lead through its API")
    assert "no contact, company or deal is created" in explained
    assert portal_emulator.leads[lead_id]["STATUS_ID"] == "NEW"
    await press_and_see(rep, "✅ Move it", "Stage: Good lead")
    assert portal_emulator.leads[lead_id]["STATUS_ID"] == "CONVERTED"
    assert not portal_emulator.deals
    assert comments_of(portal_emulator, lead_id) == []


async def test_rep_edits_a_field_and_one_phone_keeping_the_other(
    running_bot: Application,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    lead_id = add_lead(
        portal_emulator,
        IVAN_PORTAL_ID,
        TITLE="Old title",
        PHONE=[
            {"VALUE": "+79160000011", "VALUE_TYPE": "WORK"},
            {"VALUE": "+79160000022", "VALUE_TYPE": "MOBILE"},
        ],
    )
    rep = await ivan(telegram_emulator)
    await open_card(rep, lead_id, "Old title")

    await press_and_see(rep, "✏️ Edit", "What do you want to change?")
    await press_and_see(rep, "Title", "Now: Old title")
    before = portal_emulator.count_calls()
    await rep.send("New <title>")
    card = await rep.wait_for_message(lambda m: "Saved" in text_of(m))
    assert portal_emulator.count_calls() - before == 2
    assert "New <title>" in text_of(card)
    assert portal_emulator.leads[lead_id]["TITLE"] == "New <title>"

    await press_and_see(rep, "✏️ Edit", "What do you want to change?")
    await press_and_see(rep, "Amount", "Amount")
    await rep.send("12,5 thousand")
    await rep.wait_for_message(lambda m: "Send a number" in text_of(m))
    await rep.send("12 500,50")
    await rep.wait_for_message(lambda m: "Amount: 12 500.50" in text_of(m))

    await press_and_see(rep, "✏️ Edit", "What do you want to change?")
    await press_and_see(rep, "Phone", "choose a value")
    await press_and_see(rep, "+79160000011", "+79160000011")
    await press_and_see(rep, "✏️ Change", "Send the new")
    await rep.send("not a phone")
    await rep.wait_for_message(lambda m: "can't read that as a phone" in text_of(m))
    await rep.send("8 (916) 555-44-33")
    card = await rep.wait_for_message(lambda m: "+79165554433" in text_of(m))
    phones = [(p["VALUE"], p["VALUE_TYPE"]) for p in portal_emulator.leads[lead_id]["PHONE"]]
    assert sorted(phones) == [("+79160000022", "MOBILE"), ("+79165554433", "WORK")]
    assert "+79160000022" in text_of(card)

    await press_and_see(rep, "✏️ Edit", "What do you want to change?")
    await press_and_see(rep, "Email", "choose a value")
    await press_and_see(rep, "➕ Add", "Send the new")
    await rep.send("client@example.test")
    await rep.wait_for_message(lambda m: "Email: client@example.test" in text_of(m))

    await press_and_see(rep, "✏️ Edit", "What do you want to change?")
    await press_and_see(rep, "Phone", "choose a value")
    await press_and_see(rep, "+79160000022", "+79160000022")
    await rep.press("🗑 Remove")
    await rep.wait_for_message(
        lambda m: "Saved" in text_of(m) and "+79160000022" not in text_of(m)
    )
    phones = [p["VALUE"] for p in portal_emulator.leads[lead_id]["PHONE"]]
    assert phones == ["+79165554433"]
    assert [a[3] for a in await actions(running_bot)] == ["edit"] * 5


async def test_manager_takes_a_colleagues_lead(
    running_bot: Application,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    lead_id = add_lead(portal_emulator, OLGA_PORTAL_ID, TITLE="Olga's lead")
    manager = await anna(telegram_emulator)
    card = await open_card(manager, lead_id, "Olga's lead")
    assert "Responsible: Olga Smirnova" in text_of(card)
    before = portal_emulator.count_calls()
    await manager.press("🙋 Take")
    taken = await manager.wait_for_message(lambda m: "Responsible: Anna Admin" in text_of(m))
    assert portal_emulator.count_calls() - before == 2
    assert "🙋 Take" not in taken.labels
    assert portal_emulator.leads[lead_id]["ASSIGNED_BY_ID"] == "1"
    assert [a[3] for a in await actions(running_bot)] == ["take"]


async def test_rep_adds_a_text_note_and_a_voice_note(
    running_bot: Application,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    lead_id = add_lead(portal_emulator, IVAN_PORTAL_ID, TITLE="Noted lead")
    rep = await ivan(telegram_emulator)
    await open_card(rep, lead_id, "Noted lead")
    await press_and_see(rep, "📝 Note", "Send the note")
    before = portal_emulator.count_calls()
    await rep.send("Called, will think till Friday")
    await rep.wait_for_message(lambda m: "Saved" in text_of(m))
    assert portal_emulator.count_calls() - before == 2

    await press_and_see(rep, "📝 Note", "Send the note")
    telegram_emulator.post_user_message(
        rep.chat_id,
        rep.user,
        {
            "voice": {"file_id": "VOICE-FILE-1", "file_unique_id": "v1", "duration": 4},
            "caption": "after the meeting",
        },
    )
    await asyncio.sleep(0)
    await rep.wait_for_message(lambda m: "Saved" in text_of(m))
    assert comments_of(portal_emulator, lead_id) == [
        "Called, will think till Friday\n\n— via Telegram by Ivan Petrov",
        "Voice message in Telegram, file id VOICE-FILE-1\nafter the meeting"
        "\n\n— via Telegram by Ivan Petrov",
    ]
    assert [a[3] for a in await actions(running_bot)] == ["note", "note"]


async def test_manager_deletes_after_confirmation_and_a_rep_cannot(
    running_bot: Application,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    own = add_lead(portal_emulator, IVAN_PORTAL_ID, TITLE="Rep keeps this")
    rep = await ivan(telegram_emulator)
    card = await open_card(rep, own, "Rep keeps this")
    assert "🗑 Delete" not in card.labels
    # Forged presses of the delete buttons the rep was never shown.
    data = card.button("📝 Note").callback_data
    assert data is not None
    intent = data.split(CB_SEP)[0]
    await rep.press_data(card.message_id, f"{intent}{CB_SEP}card_to_delete")
    await asyncio.sleep(0.2)
    await rep.press_data(rep.last_message().message_id, f"{intent}{CB_SEP}card_delete_yes")
    await asyncio.sleep(0.3)
    assert own in portal_emulator.leads
    assert await actions(running_bot) == []

    doomed = add_lead(portal_emulator, OLGA_PORTAL_ID, TITLE="Duplicate to remove")
    manager = await anna(telegram_emulator)
    await open_card(manager, doomed, "Duplicate to remove")
    await press_and_see(manager, "🗑 Delete", "Delete the lead")
    assert doomed in portal_emulator.leads
    before = portal_emulator.count_calls()
    await press_and_see(manager, "🗑 Yes, delete", "is deleted")
    assert portal_emulator.count_calls() - before == 2
    assert doomed not in portal_emulator.leads
    assert [a[3] for a in await actions(running_bot)] == ["delete"]


async def test_hostile_values_render_safely(
    running_bot: Application,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    hostile = '<b>Иван</b> & "Co" 😀 </i>'
    lead_id = add_lead(
        portal_emulator,
        IVAN_PORTAL_ID,
        TITLE="Заказ 😀 <script>" + "Ж" * 5000,
        NAME=hostile,
        COMPANY_TITLE=hostile * 100,
        COMMENTS=hostile * 300,
        PHONE=[{"VALUE": "+7916" + str(i).zfill(7), "VALUE_TYPE": "WORK"} for i in range(30)],
    )
    rep = await ivan(telegram_emulator)
    card = await open_card(rep, lead_id, "Заказ 😀 <script>")
    assert card.html is not None
    assert len(card.html.encode("utf-16-le")) // 2 <= 4096
    assert "<b>Иван</b> &" in text_of(card)
    assert "&lt;b&gt;Иван&lt;/b&gt; &amp;" in card.html
    answer = await rep.inline_query("Заказ")
    message_text = answer.results[0]["input_message_content"]["message_text"]
    assert len(message_text) <= 4096
    assert "&lt;script&gt;" in message_text


def last_line(message: ChatMessage) -> str:
    return text_of(message).splitlines()[-1]


async def test_card_names_the_rep_who_changed_it_through_the_bot(
    running_bot: Application,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    lead_id = portal_emulator.add_lead(
        {"TITLE": "Credited lead", "ASSIGNED_BY_ID": IVAN_PORTAL_ID}, 1
    )
    rep = await ivan(telegram_emulator)
    card = await open_card(rep, lead_id, "Credited lead")
    assert last_line(card).endswith(", Anna Admin")  # made in the portal by its admin

    await press_and_see(rep, "✏️ Edit", "What do you want to change?")
    await press_and_see(rep, "Title", "Send the new value")
    await rep.send("Credited lead, measured")
    saved = await rep.wait_for_message(lambda m: "Saved" in text_of(m))
    # The portal credits the webhook's user; the card names the rep.
    assert portal_emulator.leads[lead_id]["MODIFY_BY_ID"] == "1"
    assert last_line(saved).endswith(", Ivan Petrov")
    await rep.press("🔄 Refresh")
    again = await rep.wait_for_message(lambda m: "Saved" not in text_of(m) and bool(m.labels))
    assert last_line(again).endswith(", Ivan Petrov")

    # A later change made in the portal by somebody else is theirs.
    portal_emulator.ui_update_lead(lead_id, {"COMMENTS": "Called back"}, OLGA_PORTAL_ID)
    await rep.press("🔄 Refresh")
    portal_side = await rep.wait_for_message(lambda m: "Olga" in text_of(m))
    assert last_line(portal_side).endswith(", Olga Smirnova")


async def test_out_of_date_card_is_replaced_by_the_reason(
    running_bot: Application,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    lead_id = add_lead(portal_emulator, IVAN_PORTAL_ID, TITLE="Soon Olga's")
    rep = await ivan(telegram_emulator)
    await open_card(rep, lead_id, "Soon Olga's")
    await warm_caches(running_bot)
    await press_and_see(rep, "🔀 Stage", "Choose the new stage")

    portal_emulator.ui_update_lead(lead_id, {"ASSIGNED_BY_ID": OLGA_PORTAL_ID})
    await rep.press("In progress")
    stale = await rep.wait_for_message(lambda m: "out of date" in text_of(m))
    assert "reassigned or deleted" in text_of(stale)
    assert "Soon Olga's" not in text_of(stale)
    # No live buttons of the old card, only ways out.
    assert stale.labels == ["🔍 Find a lead", "🏠 Menu", "« Back"]
    assert portal_emulator.leads[lead_id]["STATUS_ID"] == "NEW"
    assert await actions(running_bot) == []
    await rep.press("🔍 Find a lead")
    await rep.wait_for_message(lambda m: "🔍" in text_of(m) or "Send" in text_of(m))


async def test_service_refuses_changes_the_card_does_not_offer(
    running_bot: Application,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    lead_id = add_lead(portal_emulator, IVAN_PORTAL_ID, TITLE="Keep me")
    rep = await ivan(telegram_emulator)
    card = await open_card(rep, lead_id, "Keep me")
    await warm_caches(running_bot)
    await press_and_see(rep, "✏️ Edit", "What do you want to change?")
    fields = rep.last_message()
    data = fields.button("Title").callback_data
    assert data is not None
    # A forged field choice (the responsible) and a forged source id.
    await rep.press_data(fields.message_id, data.rsplit(":", 1)[0] + ":ASSIGNED_BY_ID")
    await press_and_see(rep, "Source", "Choose the source")
    sources = rep.last_message()
    source_data = sources.button("Call").callback_data
    assert source_data is not None
    query = await rep.press_data(sources.message_id, source_data.rsplit(":", 1)[0] + ":NOPE")
    refused = await telegram_emulator.wait_for_callback_answer(query)
    assert "can't be made from the card" in (refused.text or "")
    lead = portal_emulator.leads[lead_id]
    assert (str(lead["ASSIGNED_BY_ID"]), lead.get("SOURCE_ID")) == (str(IVAN_PORTAL_ID), None)
    assert await actions(running_bot) == []
    assert card.message_id == sources.message_id


async def test_forged_take_on_a_lead_that_went_to_a_colleague_takes_nothing(
    running_bot: Application,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    lead_id = add_lead(portal_emulator, IVAN_PORTAL_ID, TITLE="Was mine")
    rep = await ivan(telegram_emulator)
    card = await open_card(rep, lead_id, "Was mine")
    assert "🙋 Take" not in card.labels
    data = card.button("📝 Note").callback_data
    assert data is not None
    portal_emulator.ui_update_lead(lead_id, {"ASSIGNED_BY_ID": OLGA_PORTAL_ID})
    await rep.press_data(card.message_id, f"{data.split(CB_SEP)[0]}{CB_SEP}card_take")
    await rep.wait_for_message(lambda m: "out of date" in text_of(m))
    assert str(portal_emulator.leads[lead_id]["ASSIGNED_BY_ID"]) == str(OLGA_PORTAL_ID)
    assert await actions(running_bot) == []


def flatten_card(dialog_data: dict[str, Any]) -> bool:
    """The kept card in the shape of the version before `KeptCard`: the rendered text under
    "card" and the rest beside it."""
    if "kept_card" not in dialog_data:
        return False
    kept = dialog_data.pop("kept_card")
    dialog_data.update(card=kept.pop("text"), **kept)
    return True


async def test_a_card_window_from_before_an_upgrade_reads_its_card_again(
    bot_runner: Any, telegram_emulator: TelegramEmulator, portal_emulator: Bitrix24Emulator
) -> None:
    app = await bot_runner.start()
    lead_id = add_lead(portal_emulator, IVAN_PORTAL_ID, TITLE="Kept over the upgrade")
    rep = await ivan(telegram_emulator)
    await open_card(rep, lead_id, "Kept over the upgrade")

    await bot_runner.stop()
    assert rewrite_stored_dialog_data(app.settings.storage.path, flatten_card) == 1
    await bot_runner.start()

    await rep.press("🔀 Stage")
    await rep.wait_for_message(lambda m: "Choose the new stage" in text_of(m))
    await rep.press("« Back")
    card = await rep.wait_for_message(lambda m: "Kept over the upgrade" in text_of(m))
    assert "🔀 Stage" in card.labels
