"""A newcomer signs in; nobody unbound sees anything."""

from __future__ import annotations

from bot.app import Application
from tests.e2e.conftest import ADMIN_TELEGRAM_ID
from tests.emulators.bitrix24 import Bitrix24Emulator
from tests.emulators.telegram import TelegramEmulator

IVAN_PHONE = "+79161234567"  # portal user 2, Ivan Petrov


async def test_newcomer_is_refused_and_offered_to_share_phone(
    running_bot: Application, telegram_emulator: TelegramEmulator
) -> None:
    user = telegram_emulator.user(2001, "Ivan", phone=IVAN_PHONE)
    await user.send("/menu")
    reply = await user.wait_for_message()
    assert reply.text is not None
    assert "not signed in" in reply.text
    assert "📱 Share my phone" in reply.keyboard_labels


async def test_rep_binds_by_sharing_own_contact(
    running_bot: Application, telegram_emulator: TelegramEmulator
) -> None:
    user = telegram_emulator.user(2001, "Ivan", phone=IVAN_PHONE)
    await user.send("/start")
    greeting = await user.wait_for_message()
    assert "Share my phone" in (greeting.text or "")
    await user.reply_keyboard_press("📱 Share my phone")
    bound = await user.wait_for_message(lambda m: "signed in" in (m.text or ""))
    assert "Ivan Petrov" in (bound.text or "")
    assert "Sales rep" in (bound.text or "")
    menu = await user.wait_for_message(lambda m: "Main menu" in (m.text or ""))
    assert "🛠 Admin" not in menu.labels


async def test_colleagues_contact_never_binds(
    running_bot: Application, telegram_emulator: TelegramEmulator
) -> None:
    olga = telegram_emulator.user(2002, "Olga")
    await olga.share_contact(IVAN_PHONE, first_name="Ivan", user_id=2001)
    reply = await olga.wait_for_message()
    assert "someone else's contact" in (reply.text or "")
    await olga.send("/menu")
    again = await olga.wait_for_message()
    assert "not signed in" in (again.text or "")


async def test_unknown_phone_is_refused(
    running_bot: Application, telegram_emulator: TelegramEmulator
) -> None:
    stranger = telegram_emulator.user(2003, "Max", phone="+79990001122")
    await stranger.send("/start")
    await stranger.wait_for_message()
    await stranger.reply_keyboard_press("📱 Share my phone")
    reply = await stranger.wait_for_message(lambda m: "no active portal user" in (m.text or ""))
    assert reply.text is not None


async def test_unbound_user_gets_no_inline_results_and_no_callbacks(
    running_bot: Application, telegram_emulator: TelegramEmulator
) -> None:
    stranger = telegram_emulator.user(2004, "Eve")
    answer = await stranger.inline_query("7916")
    assert answer.results == []
    assert answer.button is not None
    assert answer.button["start_parameter"] == "signin"
    await stranger.send("/start")
    greeting = await stranger.wait_for_message()
    query_id = await stranger.press_data(greeting.message_id, "forged:lead:1")
    refused = await telegram_emulator.wait_for_callback_answer(query_id)
    assert refused.show_alert
    assert "not signed in" in (refused.text or "")


async def test_deactivated_portal_user_loses_access(
    running_bot: Application,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    user = telegram_emulator.user(2001, "Ivan", phone=IVAN_PHONE)
    await user.send("/start")
    await user.wait_for_message()
    await user.reply_keyboard_press("📱 Share my phone")
    await user.wait_for_message(lambda m: "Main menu" in (m.text or ""))
    portal_emulator.users[2]["ACTIVE"] = False
    assert running_bot.access is not None
    await running_bot.access.directory.refresh()
    await user.send("/menu")
    reply = await user.wait_for_message()
    assert "deactivated" in (reply.text or "")


async def test_config_admin_sees_admin_tools(
    running_bot: Application, telegram_emulator: TelegramEmulator
) -> None:
    admin = telegram_emulator.user(ADMIN_TELEGRAM_ID, "Anna", phone="+79160000001")
    await admin.send("/start")
    await admin.wait_for_message()
    await admin.reply_keyboard_press("📱 Share my phone")
    bound = await admin.wait_for_message(lambda m: "signed in" in (m.text or ""))
    assert "Admin" in (bound.text or "")
    menu = await admin.wait_for_message(lambda m: "Main menu" in (m.text or ""))
    assert "🛠 Admin" in menu.labels
