"""Admins see which chats hear about leads, clean up disabled ones and resend dead letters."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from bot.app import Application
from bot.config import NotifySettings
from bot.storage import BindingRepository, Role
from bot.storage.outbox import OutboxRepository
from bot.storage.subscriptions import SubscriptionRepository
from tests.e2e.conftest import ADMIN_TELEGRAM_ID, eventually, notifying_app, sign_in
from tests.emulators.bitrix24 import Bitrix24Emulator
from tests.emulators.telegram import ChatMessage, TelegramEmulator
from tests.emulators.telegram_driver import ChatDriver, TelegramUser

ANNA_PHONE = "+79160000001"
IVAN_PHONE = "+79161234567"
OLGA_PHONE = "+79162345678"
IVAN_TG, OLGA_TG = 2001, 3001
GROUP_ID = -4001
MAX_ATTEMPTS = 2


@pytest.fixture
async def app(
    tmp_path: Path, telegram_emulator: TelegramEmulator, portal_emulator: Bitrix24Emulator
) -> AsyncIterator[Application]:
    """The app fed by the portal's outgoing webhook; a message dies after two failed tries."""
    notify = NotifySettings(
        private_interval_seconds=0.05,
        global_per_second=200,
        backoff_seconds=0.02,
        max_attempts=MAX_ATTEMPTS,
    )
    async with notifying_app(tmp_path, telegram_emulator, portal_emulator, notify) as application:
        yield application


def has_text(fragment: str) -> Callable[[ChatMessage], bool]:
    return lambda m: fragment in (m.text or "")


def has_label(label: str) -> Callable[[ChatMessage], bool]:
    return lambda m: label in m.labels


async def subscribe(user: ChatDriver) -> None:
    await user.send("/subscribe")
    await user.wait_for_message(has_text("Subscribed"))
    await user.wait_for_message(has_text("Preview"))


async def admin_and_unreachable_rep(
    telegram_emulator: TelegramEmulator,
) -> tuple[TelegramUser, TelegramUser]:
    """Anna (admin) and Ivan, subscribed, whose chat answers every message with a 500."""
    anna = await sign_in(telegram_emulator, ADMIN_TELEGRAM_ID, "Anna", ANNA_PHONE)
    ivan = await sign_in(telegram_emulator, IVAN_TG, "Ivan", IVAN_PHONE)
    await subscribe(ivan)
    telegram_emulator.inject(
        500, "Internal Server Error", times=None, method="sendMessage", chat_id=IVAN_TG
    )
    return anna, ivan


async def open_people(admin: TelegramUser) -> ChatMessage:
    """From the menu to Admin, then People and chats."""
    await admin.send("/menu")
    await admin.wait_for_message(has_label("🛠 Admin"))
    await admin.press("🛠 Admin")
    await admin.wait_for_message(has_label("💬 People and chats"))
    await admin.press("💬 People and chats")
    return await admin.wait_for_message(has_text("Chats that get lead notifications"))


async def test_admin_sees_a_blocked_chat_disabled_with_its_reason_and_removes_it(
    app: Application, telegram_emulator: TelegramEmulator, portal_emulator: Bitrix24Emulator
) -> None:
    anna = await sign_in(telegram_emulator, ADMIN_TELEGRAM_ID, "Anna", ANNA_PHONE)
    ivan = await sign_in(telegram_emulator, IVAN_TG, "Ivan", IVAN_PHONE)
    await subscribe(ivan)
    telegram_emulator.add_group(GROUP_ID, "Sales team", admins=[ADMIN_TELEGRAM_ID])
    await subscribe(anna.in_group(GROUP_ID))
    subscriptions = SubscriptionRepository(app.db)
    await ivan.block_bot()
    portal_emulator.ui_add_lead({"TITLE": "Nobody hears", "ASSIGNED_BY_ID": 2}, 1)

    async def disabled() -> bool:
        subs = await subscriptions.for_chat(IVAN_TG)
        return bool(subs) and all(s.disabled_reason for s in subs)

    await eventually(disabled)
    main = await open_people(anna)
    assert "Chats that get lead notifications: 2 (disabled: 1)" in (main.text or "")
    await anna.press("🔔 Chats with subscriptions")
    listing = await anna.wait_for_message(has_text("Press a chat for details"))
    assert "🟢 Sales team — 1 subscription" in listing.labels
    ivans_line = "⛔ private chat of Ivan Petrov — 1 subscription"
    assert ivans_line in listing.labels

    await anna.press(ivans_line)
    details = await anna.wait_for_message(has_text("Disabled:"))
    assert "blocked by the user" in (details.text or "")
    await anna.press("🧹 Remove the disabled subscriptions")
    await anna.wait_for_message(has_text("1 subscription removed"))
    assert await subscriptions.for_chat(IVAN_TG) == []
    assert len(await subscriptions.for_chat(GROUP_ID)) == 1


async def test_dead_letter_is_shown_with_its_reason_and_resent_once_the_fault_clears(
    app: Application, telegram_emulator: TelegramEmulator, portal_emulator: Bitrix24Emulator
) -> None:
    anna, ivan = await admin_and_unreachable_rep(telegram_emulator)
    outbox = OutboxRepository(app.db)
    lead_id = portal_emulator.ui_add_lead({"TITLE": "Lost in transit", "ASSIGNED_BY_ID": 2}, 1)

    async def dead() -> bool:
        return await outbox.count("dead") == 1

    await eventually(dead)
    assert telegram_emulator.count("sendMessage", ok=False) == MAX_ATTEMPTS

    await open_people(anna)
    await anna.press("📮 Undelivered notifications")
    page = await anna.wait_for_message(has_text("Undelivered notifications (page 1 of 1"))
    assert f"lead #{lead_id}" in (page.text or "")
    assert "private chat of Ivan Petrov" in (page.text or "")
    assert "Internal Server Error" in (page.text or "")
    [letter] = await outbox.dead_letters()
    assert f"🔁 Resend #{letter.id}" in page.labels

    telegram_emulator.clear_faults(IVAN_TG)
    await anna.press(f"🔁 Resend #{letter.id}")
    await anna.wait_for_message(has_text("back in the queue"))
    told = await ivan.wait_for_message(has_text(f"New lead #{lead_id}"))
    assert "Lost in transit" in (told.text or "")
    assert await outbox.count("dead") == 0
    assert [m for m in ivan.transcript() if f"#{lead_id}:" in (m.text or "")] == [told]


async def test_non_admin_cannot_reach_people_and_chats(
    app: Application, telegram_emulator: TelegramEmulator
) -> None:
    anna = await sign_in(telegram_emulator, ADMIN_TELEGRAM_ID, "Anna", ANNA_PHONE)
    await anna.send("/menu")
    await anna.wait_for_message(has_label("🛠 Admin"))
    await anna.press("🛠 Admin")
    admin_window = await anna.wait_for_message(has_label("💬 People and chats"))
    people_data = admin_window.button("💬 People and chats").callback_data
    assert people_data is not None

    ivan = await sign_in(telegram_emulator, IVAN_TG, "Ivan", IVAN_PHONE)
    menu = ivan.last_message()
    query_id = await ivan.press_data(menu.message_id, people_data)
    await telegram_emulator.wait_for_callback_answer(query_id)
    assert not any(has_text("Chats that get lead notifications")(m) for m in ivan.transcript())

    # An admin who loses the role while the screen is open is refused on the next press.
    olga = await sign_in(telegram_emulator, OLGA_TG, "Olga", OLGA_PHONE)
    bindings = BindingRepository(app.db)
    await bindings.set_role(OLGA_TG, Role.ADMIN)
    await open_people(olga)
    await bindings.set_role(OLGA_TG, Role.REP)
    answer = await olga.press_and_wait("📮 Undelivered notifications")
    assert "available to admins only" in (answer.text or "")
    assert not any(has_text("Undelivered notifications (page")(m) for m in olga.transcript())


async def test_undelivered_notifications_turn_pages_and_a_resend_keeps_a_page_that_exists(
    app: Application, telegram_emulator: TelegramEmulator, portal_emulator: Bitrix24Emulator
) -> None:
    anna, _ivan = await admin_and_unreachable_rep(telegram_emulator)
    outbox = OutboxRepository(app.db)
    for number in range(6):
        portal_emulator.ui_add_lead({"TITLE": f"Lost {number}", "ASSIGNED_BY_ID": 2}, 1)

    async def dead() -> bool:
        return await outbox.count("dead") == 6

    await eventually(dead)
    oldest = min(letter.id for letter in await outbox.dead_letters())

    await open_people(anna)
    await anna.press("📮 Undelivered notifications")
    first = await anna.wait_for_message(has_text("(page 1 of 2, 6 in all)"))
    assert "◀️" not in first.labels
    assert f"🔁 Resend #{oldest}" not in first.labels
    await anna.press("▶️")
    second = await anna.wait_for_message(has_text("(page 2 of 2, 6 in all)"))
    assert second.labels.count(f"🔁 Resend #{oldest}") == 1
    assert "▶️" not in second.labels

    # The last letter of page 2 goes back to the queue: page 1 of 1 shows, with the notice.
    telegram_emulator.clear_faults(IVAN_TG)
    await anna.press(f"🔁 Resend #{oldest}")
    after = await anna.wait_for_message(has_text("(page 1 of 1, 5 in all)"))
    assert f"Notification #{oldest} is back in the queue" in (after.text or "")
    assert "◀️" not in after.labels
