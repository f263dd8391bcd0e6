"""/status tells everyone who they are; admins also see the bot's health. Simple CRM mode."""

from __future__ import annotations

from bot.app import Application
from tests.e2e.conftest import ADMIN_TELEGRAM_ID, BotRunner, sign_in
from tests.emulators.bitrix24 import Bitrix24Emulator
from tests.emulators.telegram import TelegramEmulator

IVAN_PHONE = "+79161234567"
ANNA_PHONE = "+79160000001"


async def test_rep_sees_who_they_are_and_the_portal_but_no_internals(
    running_bot: Application, telegram_emulator: TelegramEmulator
) -> None:
    ivan = await sign_in(telegram_emulator, 2001, "Ivan", IVAN_PHONE)
    await ivan.send("/status")
    status = await ivan.wait_for_message(lambda m: "Status" in (m.text or ""))
    text = status.text or ""
    assert "Ivan Petrov" in text
    assert "Portal: connected" in text
    assert "Portal requests" not in text
    assert "Notifications:" not in text


async def test_admin_sees_budget_queues_and_intake(
    running_bot: Application, telegram_emulator: TelegramEmulator
) -> None:
    anna = await sign_in(telegram_emulator, ADMIN_TELEGRAM_ID, "Anna", ANNA_PHONE)
    await anna.send("/status")
    status = await anna.wait_for_message(lambda m: "Status" in (m.text or ""))
    text = status.text or ""
    assert "CRM mode: classic" in text
    assert "of 50 in the burst used, 2 per second" in text
    assert "Events:" in text
    assert "Notifications:" in text
    assert "Catch-up poller" in text


async def test_unreachable_portal_is_reported_plainly(
    running_bot: Application,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    anna = await sign_in(telegram_emulator, ADMIN_TELEGRAM_ID, "Anna", ANNA_PHONE)
    portal_emulator.faults.fail_next(100, status=502)
    await anna.send("/status")
    status = await anna.wait_for_message(lambda m: "Status" in (m.text or ""), timeout=15)
    assert "not reachable" in (status.text or "")


async def test_simple_crm_mode_switches_capture_off(
    bot_runner: BotRunner,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    portal_emulator.simple_mode = True
    await bot_runner.start()
    ivan = await sign_in(telegram_emulator, 2001, "Ivan", IVAN_PHONE)
    await ivan.send("/new")
    refusal = await ivan.wait_for_message(lambda m: "simple CRM mode" in (m.text or ""))
    assert "deal" in (refusal.text or "")
    leads_before = len(portal_emulator.leads)
    await ivan.send("/status")
    status = await ivan.wait_for_message(lambda m: "Status" in (m.text or ""))
    assert "simple CRM mode" in (status.text or "")
    assert len(portal_emulator.leads) == leads_before
