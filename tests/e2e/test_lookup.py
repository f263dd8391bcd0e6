"""Finding leads: /find by phone fragment, name or #id, "My leads", inline mode, deep links.

Reps only ever see their own leads, however they ask.
"""

from __future__ import annotations

from bot.app import Application
from tests.e2e.conftest import ADMIN_TELEGRAM_ID
from tests.e2e.lead_fixtures import (
    IVAN_PORTAL_ID,
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

CB_SEP = "\x1d"


async def test_rep_finds_own_leads_by_phone_fragment_name_and_id(
    running_bot: Application,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    windows = add_lead(
        portal_emulator,
        IVAN_PORTAL_ID,
        TITLE="Windows for Romashka",
        NAME="Petr",
        PHONE=[{"VALUE": "+79161112233", "VALUE_TYPE": "WORK"}],
    )
    add_lead(
        portal_emulator,
        OLGA_PORTAL_ID,
        TITLE="Doors for Olga's client",
        PHONE=[{"VALUE": "+79161119999", "VALUE_TYPE": "WORK"}],
    )
    add_lead(portal_emulator, IVAN_PORTAL_ID, TITLE="Roof for Petrovich", STATUS_ID="IN_PROCESS")
    rep = await ivan(telegram_emulator)
    await warm_caches(running_bot)

    before = portal_emulator.count_calls()
    await rep.send("/find 8 916 111")
    found = await rep.wait_for_message(lambda m: "Found" in text_of(m))
    assert portal_emulator.count_calls() - before == 1
    assert "Windows for Romashka" in text_of(found)
    assert "Unassigned" in text_of(found)  # the portal's own stage name
    assert "Doors" not in text_of(found)
    assert any("Windows for Romashka" in label for label in found.labels)

    before = portal_emulator.count_calls()
    await rep.send("/find petr")
    by_name = await rep.wait_for_message(lambda m: "“petr”" in text_of(m))
    assert portal_emulator.count_calls() - before == 1
    assert "Windows for Romashka" in text_of(by_name)
    assert "Roof for Petrovich" in text_of(by_name)
    assert "In progress" in text_of(by_name)
    # Newest first.
    assert text_of(by_name).index("Roof") < text_of(by_name).index("Windows")

    await rep.send("/find 555000")
    nothing = await rep.wait_for_message(lambda m: "Nothing found" in text_of(m))
    assert "555000" in text_of(nothing)

    card = await open_card(rep, windows, "Windows for Romashka")
    assert f"#{windows}" in text_of(card)


async def test_find_button_asks_for_a_query_then_pages_results(
    running_bot: Application,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    for index in range(11):
        add_lead(portal_emulator, IVAN_PORTAL_ID, TITLE=f"Kitchen {index:02d}")
    rep = await ivan(telegram_emulator)
    await rep.press("🔍 Find")
    await rep.wait_for_message(lambda m: "Send what to look for" in text_of(m))
    await rep.send("k")
    await rep.wait_for_message(lambda m: "too short" in text_of(m))
    await rep.send("kitchen")
    first = await rep.wait_for_message(lambda m: "Page 1 of 2" in text_of(m))
    assert "Found 11 leads" in text_of(first)
    assert "Kitchen 10" in text_of(first)
    await rep.press("Next »")
    second = await rep.wait_for_message(lambda m: "Page 2 of 2" in text_of(m))
    assert "Kitchen 00" in text_of(second)
    await rep.press("10. Kitchen 01")
    card = await rep.wait_for_message(
        lambda m: "Kitchen 01" in text_of(m) and "Stage" in text_of(m)
    )
    assert "🔀 Stage" in card.labels


async def test_my_leads_grouped_by_stage_with_counts(
    running_bot: Application,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    add_lead(portal_emulator, IVAN_PORTAL_ID, TITLE="New one")
    add_lead(portal_emulator, IVAN_PORTAL_ID, TITLE="New two")
    add_lead(portal_emulator, IVAN_PORTAL_ID, TITLE="Working", STATUS_ID="IN_PROCESS")
    add_lead(portal_emulator, IVAN_PORTAL_ID, TITLE="Won already", STATUS_ID="CONVERTED")
    add_lead(portal_emulator, OLGA_PORTAL_ID, TITLE="Olga's new")
    rep = await ivan(telegram_emulator)
    await warm_caches(running_bot)

    before = portal_emulator.count_calls()
    await rep.send("/my")
    mine = await rep.wait_for_message(lambda m: "My open leads" in text_of(m))
    assert portal_emulator.count_calls() - before == 1
    text = text_of(mine)
    assert "Unassigned: 2 leads" in text
    assert "In progress: 1 lead" in text
    assert text.index("Unassigned") < text.index("In progress")
    assert "Good lead" not in text
    assert "Olga" not in " ".join(mine.labels)
    assert "Whose leads" not in " ".join(mine.labels)

    # Anna (admin) uses Telegram in Russian: plurals follow Russian rules.
    admin = telegram_emulator.user(
        ADMIN_TELEGRAM_ID, "Анна", phone="+79160000001", language_code="ru"
    )
    await admin.send("/start")
    await admin.wait_for_message()
    await admin.reply_keyboard_press("📱 Поделиться номером")
    await admin.wait_for_message(lambda m: "Главное меню" in text_of(m))
    await admin.send("/my")
    await admin.wait_for_message(lambda m: "Мои открытые лиды" in text_of(m))
    await admin.press("👤 Чьи лиды")
    await admin.wait_for_message(lambda m: "Ivan Petrov" in m.labels)
    await admin.press("Ivan Petrov")
    ivans = await admin.wait_for_message(lambda m: "Открытые лиды: Ivan Petrov" in text_of(m))
    assert "Unassigned: 2 лида" in text_of(ivans)
    assert "In progress: 1 лид" in text_of(ivans)
    await admin.press("👤 Чьи лиды")
    await admin.wait_for_message(lambda m: "👥 Все" in m.labels)
    await admin.press("👥 Все")
    everybody = await admin.wait_for_message(lambda m: "всех сотрудников" in text_of(m))
    assert "Unassigned: 3 лида" in text_of(everybody)


async def test_chosen_responsible_is_kept_through_a_card_and_back(
    running_bot: Application,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    add_lead(portal_emulator, IVAN_PORTAL_ID, TITLE="Ivan's fence")
    add_lead(portal_emulator, OLGA_PORTAL_ID, TITLE="Olga's gate")
    admin = await anna(telegram_emulator)
    await admin.send("/my")
    await admin.wait_for_message(lambda m: "My open leads" in text_of(m))
    await admin.press("👤 Whose leads")
    await admin.wait_for_message(lambda m: "Ivan Petrov" in m.labels)
    await admin.press("Ivan Petrov")
    ivans = await admin.wait_for_message(lambda m: "Open leads of Ivan Petrov" in text_of(m))
    [fence] = [label for label in ivans.labels if "Ivan's fence" in label]
    assert not any("Olga's gate" in label for label in ivans.labels)

    await admin.press(fence)
    await admin.wait_for_message(lambda m: "« Back" in m.labels and "Ivan's fence" in text_of(m))
    await admin.press("« Back")
    back = await admin.wait_for_message(lambda m: "Open leads of" in text_of(m))
    assert "Open leads of Ivan Petrov" in text_of(back)
    assert not any("Olga's gate" in label for label in back.labels)

    await admin.press("👤 Whose leads")
    await admin.wait_for_message(lambda m: "🙋 Mine" in m.labels)
    await admin.press("🙋 Mine")
    mine = await admin.wait_for_message(lambda m: "My open leads" in text_of(m))
    assert not any("fence" in label or "gate" in label for label in mine.labels)


async def test_inline_query_lists_only_the_reps_own_leads(
    running_bot: Application,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    own = add_lead(portal_emulator, IVAN_PORTAL_ID, TITLE="Shop <b>&</b> Co", OPPORTUNITY=500)
    add_lead(portal_emulator, OLGA_PORTAL_ID, TITLE="Shop of Olga")
    rep = await ivan(telegram_emulator)

    answer = await rep.inline_query("shop")
    assert answer.is_personal
    assert answer.cache_time is not None
    assert answer.cache_time <= 10
    assert [r["id"] for r in answer.results] == [f"lead{own}"]
    result = answer.results[0]
    content = result["input_message_content"]
    assert content["parse_mode"] == "HTML"
    assert "Shop &lt;b&gt;&amp;&lt;/b&gt; Co" in content["message_text"]
    assert "500.00" in content["message_text"]
    button = result["reply_markup"]["inline_keyboard"][0][0]
    assert button["url"].endswith(f"?start=lead_{own}")

    everything = await rep.inline_query("")
    assert [r["id"] for r in everything.results] == [f"lead{own}"]
    olgas = await rep.inline_query("olga")
    assert olgas.results == []


async def test_deep_link_opens_the_card_after_the_check(
    running_bot: Application,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    own = add_lead(portal_emulator, IVAN_PORTAL_ID, TITLE="Deep linked lead")
    colleague = add_lead(portal_emulator, OLGA_PORTAL_ID, TITLE="Olga's secret lead")
    rep = await ivan(telegram_emulator)

    await rep.send(f"/start lead_{own}")
    card = await rep.wait_for_message(lambda m: "Deep linked lead" in text_of(m))
    assert "🔀 Stage" in card.labels

    await rep.send(f"/start lead_{colleague}")
    refused = await rep.wait_for_message(lambda m: "don't have access" in text_of(m))
    assert "secret" not in text_of(refused)
    await rep.send("/start lead_999999")
    await rep.wait_for_message(lambda m: "don't have access" in text_of(m))


async def test_rep_cannot_reach_a_colleagues_lead_by_id_or_forged_button(
    running_bot: Application,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    own = add_lead(portal_emulator, IVAN_PORTAL_ID, TITLE="Mine to see")
    colleague = add_lead(portal_emulator, OLGA_PORTAL_ID, TITLE="Olga's secret lead")
    rep = await ivan(telegram_emulator)

    await rep.send(f"/find #{colleague}")
    refused = await rep.wait_for_message(lambda m: "don't have access" in text_of(m))
    assert "secret" not in text_of(refused)

    await rep.send("/find mine")
    results = await rep.wait_for_message(lambda m: "Found" in text_of(m))
    data = results.button(next(b for b in results.labels if "Mine to see" in b)).callback_data
    assert data is not None
    assert data.endswith(str(own))
    forged = data[: -len(str(own))] + str(colleague)
    await rep.press_data(results.message_id, forged)
    denied = await rep.wait_for_message(lambda m: "don't have access" in text_of(m))
    assert "secret" not in text_of(denied)
    assert CB_SEP in data
