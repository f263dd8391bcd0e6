"""The runtime: languages, restarts, webhook mode, and Telegram misbehaving."""

from __future__ import annotations

import asyncio
import socket

import httpx
import pytest
from redis.asyncio import Redis

from bot.app import Application
from bot.config import ConfigurationError, RedisSettings
from bot.storage import KeyValueRepository
from bot.web import WEBHOOK_PATH
from tests.e2e.conftest import BotRunner, eventually, sign_in
from tests.emulators.bitrix24 import Bitrix24Emulator
from tests.emulators.telegram import TelegramEmulator

IVAN_PHONE = "+79161234567"
ANNA_PHONE = "+79160000001"
# Starts with the secret the log check in conftest looks for; 32+ characters as required.
WEBHOOK_SECRET = "s3cret-Token_1-0123456789abcdefghij"


async def test_language_switch_changes_every_text(
    running_bot: Application, telegram_emulator: TelegramEmulator
) -> None:
    ivan = await sign_in(telegram_emulator, 2001, "Ivan", IVAN_PHONE)
    await ivan.press("⚙️ Settings")
    await ivan.wait_for_message(lambda m: "Русский" in m.labels)
    await ivan.press("Русский")
    settings = await ivan.wait_for_message(lambda m: "Язык" in (m.text or ""))
    assert "« Назад" in settings.labels
    await ivan.send("/menu")
    menu = await ivan.wait_for_message(lambda m: "Главное меню" in (m.text or ""))
    assert all(label.isascii() is False for label in menu.labels)
    await ivan.send("/help")
    help_text = await ivan.wait_for_message()
    assert "Что умеет бот" in (help_text.text or "")
    commands = telegram_emulator.calls_of("setMyCommands")
    chat_scoped = [c for c in commands if "chat" in str(c.params.get("scope", ""))]
    assert chat_scoped, "the chat's command list follows the chosen language"


async def test_russian_telegram_user_is_greeted_in_russian(
    running_bot: Application, telegram_emulator: TelegramEmulator
) -> None:
    user = telegram_emulator.user(2005, "Пётр", language_code="ru")
    await user.send("/start")
    greeting = await user.wait_for_message()
    assert "Пётр" in (greeting.text or "")
    assert "📱 Поделиться номером" in greeting.keyboard_labels


async def test_commands_are_registered_per_language(
    running_bot: Application, telegram_emulator: TelegramEmulator
) -> None:
    calls = telegram_emulator.calls_of("setMyCommands")
    languages = {c.params.get("language_code") for c in calls}
    assert {None, "ru"} <= languages


@pytest.mark.parametrize("bot_redis", ["sqlite", "redis"], indirect=True)
async def test_restart_in_the_middle_of_a_dialog_continues(
    bot_runner: BotRunner, telegram_emulator: TelegramEmulator, bot_redis: RedisSettings
) -> None:
    """Dialog state lives in SQLite, or in Redis (shared by replicas) when REDIS__URL is set."""
    await bot_runner.start()
    anna = await sign_in(telegram_emulator, 1001, "Anna", ANNA_PHONE)
    await anna.press("🛠 Admin")
    await anna.wait_for_message(lambda m: "➕ Create invite" in m.labels)
    await anna.press("➕ Create invite")
    await anna.wait_for_message(lambda m: "Olga Smirnova" in m.labels)

    await bot_runner.start()  # a new process on the same database

    await anna.press("Olga Smirnova")
    roles = await anna.wait_for_message(lambda m: "Manager" in m.labels)
    assert "Olga Smirnova" in (roles.text or "")
    assert await dialog_keys_in_redis(bot_redis) == (bot_redis.url is not None)


@pytest.mark.parametrize("bot_redis", ["sqlite", "redis"], indirect=True)
async def test_form_fields_picked_before_a_restart_are_saved_in_their_order(
    bot_runner: BotRunner, telegram_emulator: TelegramEmulator, bot_redis: RedisSettings
) -> None:
    """The ✅ list (which fields, in which order) is widget state: it outlives the process."""
    first = await bot_runner.start()
    anna = await sign_in(telegram_emulator, 1001, "Anna", ANNA_PHONE)
    await anna.press("🛠 Admin")
    await anna.wait_for_message(lambda m: "📝 Lead form fields" in m.labels)
    await anna.press("📝 Lead form fields")
    await anna.wait_for_message(lambda m: "✅ 1. Lead Title" in m.labels)
    await anna.press("✅ 1. Lead Title")  # out
    await anna.wait_for_message(lambda m: "⬜ Lead Title" in m.labels)
    await anna.press("⬜ Lead Title")  # back in, at the end
    await anna.wait_for_message(lambda m: "✅ 8. Lead Title" in m.labels)

    # Else the last press is replayed after the restart, beside the next one.
    await eventually(lambda: nothing_waiting(first))
    app = await bot_runner.start()  # a new process on the same storage

    await anna.press("⬜ Position")
    form = await anna.wait_for_message(lambda m: "✅ 9. Position" in m.labels)
    assert "✅ 8. Lead Title" in form.labels
    await anna.press("💾 Save")
    await anna.wait_for_message(lambda m: "9 optional fields" in (m.text or ""))
    stored = await KeyValueRepository(app.db).get("form.optional_fields")
    assert stored[-2:] == ["TITLE", "POST"]
    assert stored.count("TITLE") == 1


@pytest.mark.parametrize("bot_redis", ["sqlite", "redis"], indirect=True)
async def test_two_quick_presses_each_see_what_the_one_before_did(
    bot_runner: BotRunner, telegram_emulator: TelegramEmulator, bot_redis: RedisSettings
) -> None:
    """The second press comes while the first is still handled: it waits for it, so it reads
    the dialog as the first left it (aiogram-dialog alone would read it as it was before)."""
    await bot_runner.start()
    anna = await sign_in(telegram_emulator, 1001, "Anna", ANNA_PHONE)
    await anna.press("🛠 Admin")
    await anna.wait_for_message(lambda m: "📝 Lead form fields" in m.labels)
    await anna.press("📝 Lead form fields")
    form = await anna.wait_for_message(lambda m: "✅ 2. First Name" in m.labels)
    await asyncio.gather(
        anna.press("✅ 1. Lead Title", message_id=form.message_id),
        anna.press("✅ 2. First Name", message_id=form.message_id),
    )
    both_out = await anna.wait_for_message(
        lambda m: {"⬜ Lead Title", "⬜ First Name"} <= set(m.labels)
    )
    assert "✅ 1. Last Name" in both_out.labels


async def test_card_action_chosen_before_a_restart_is_the_one_confirmed_after_it(
    bot_runner: BotRunner, telegram_emulator: TelegramEmulator, portal_emulator: Bitrix24Emulator
) -> None:
    first = await bot_runner.start()
    anna = await sign_in(telegram_emulator, 1001, "Anna", ANNA_PHONE)
    await anna.press("🛠 Admin")
    await anna.wait_for_message(lambda m: "🗂 Lead card in the portal" in m.labels)
    await anna.press("🗂 Lead card in the portal")
    await anna.wait_for_message(lambda m: "🔄 Reset to default" in m.labels)
    await anna.press("🔄 Reset to default")
    await anna.wait_for_message(lambda m: "Reset the common lead card" in (m.text or ""))

    await eventually(lambda: nothing_waiting(first))
    await bot_runner.start()

    await anna.press("✅ Yes, go ahead")
    await anna.wait_for_message(lambda m: "back to the portal's default" in (m.text or ""))
    assert portal_emulator.count_calls("crm.lead.details.configuration.reset") == 1
    assert portal_emulator.count_calls("crm.lead.details.configuration.set") == 0


async def nothing_waiting(app: Application) -> bool:
    """Every update so far is marked handled: none is replayed after a restart."""
    return await app.updates.waiting_count() == 0


async def dialog_keys_in_redis(settings: RedisSettings) -> bool:
    """Whether aiogram-dialog's state (kept apart by destiny) is under the bot's prefix."""
    if settings.url is None:
        return False
    client = Redis.from_url(settings.url.get_secret_value())
    try:
        keys = [key async for key in client.scan_iter(match=f"{settings.key_prefix}fsm:*")]
    finally:
        await client.aclose()
    # aiogram-dialog's destinies: "aiogd:stack:<id>" and "aiogd:context:<id>".
    destinies = {key.decode().split(":")[-3] for key in keys}
    return any(b":aiogd:stack:" in key for key in keys) and len(destinies) >= 2


async def test_stale_button_after_restart_restarts_the_menu(
    bot_runner: BotRunner, telegram_emulator: TelegramEmulator
) -> None:
    await bot_runner.start()
    anna = await sign_in(telegram_emulator, 1001, "Anna", ANNA_PHONE)
    menu = anna.last_message()
    settings_button = menu.button("⚙️ Settings")
    assert settings_button.callback_data is not None
    # aiogram-dialog's data is "<intent id>\x1d<widget id>": point it at an unknown intent.
    _, widget = settings_button.callback_data.split("\x1d", 1)
    forged = f"zzzzzz\x1d{widget}"
    await bot_runner.start()
    await anna.press_data(menu.message_id, forged)
    notice = await anna.wait_for_message(lambda m: "outdated" in (m.text or ""))
    assert notice.text is not None
    await anna.wait_for_message(lambda m: "Main menu" in (m.text or ""))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_webhook_mode_takes_updates_and_rejects_a_wrong_secret(
    bot_runner: BotRunner, telegram_emulator: TelegramEmulator
) -> None:
    port = _free_port()
    url = f"http://127.0.0.1:{port}{WEBHOOK_PATH}"
    await bot_runner.start(web_port=port, webhook_url=url, webhook_secret=WEBHOOK_SECRET)
    info = telegram_emulator.calls_of("setWebhook")[-1]
    assert info.params["url"] == url

    user = telegram_emulator.user(2001, "Ivan", phone=IVAN_PHONE)
    await user.send("/start")
    greeting = await user.wait_for_message()
    assert "Share my phone" in (greeting.text or "")
    assert telegram_emulator.webhook_deliveries[-1].secret_header == WEBHOOK_SECRET

    update = {
        "update_id": 999,
        "message": {"message_id": 1, "date": 0, "chat": {"id": 1, "type": "private"}},
    }
    async with httpx.AsyncClient() as client:
        wrong = await client.post(
            url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "guess"}
        )
        missing = await client.post(url, json=update)
    assert wrong.status_code == 401
    assert missing.status_code == 401


async def test_polling_survives_a_429_storm_and_a_5xx_burst(
    running_bot: Application, telegram_emulator: TelegramEmulator
) -> None:
    telegram_emulator.flood_get_updates(4, retry_after=1)
    telegram_emulator.fail_next(3, status=502, method="getUpdates")
    user = telegram_emulator.user(2001, "Ivan", phone=IVAN_PHONE)
    await user.send("/start")
    greeting = await user.wait_for_message(timeout=15)
    assert "Share my phone" in (greeting.text or "")


async def test_sends_wait_out_429_and_retry_5xx(
    running_bot: Application, telegram_emulator: TelegramEmulator
) -> None:
    user = telegram_emulator.user(2001, "Ivan", phone=IVAN_PHONE)
    telegram_emulator.rate_limit_next(1, retry_after=1, method="sendMessage")
    telegram_emulator.fail_next(1, status=500, method="sendMessage")
    await user.send("/start")
    greeting = await user.wait_for_message(timeout=10)
    assert "Share my phone" in (greeting.text or "")
    assert running_bot.retry.pause.retry_after_seen == 1


async def test_bad_token_stops_startup_with_a_clear_message(
    bot_runner: BotRunner, telegram_emulator: TelegramEmulator
) -> None:
    telegram_emulator.revoke_token()
    with pytest.raises(ConfigurationError, match="TELEGRAM__TOKEN was refused"):
        await bot_runner.start()


async def test_unreachable_portal_stops_startup_with_a_clear_message(
    bot_runner: BotRunner, portal_emulator: Bitrix24Emulator
) -> None:
    await portal_emulator.stop()
    with pytest.raises(ConfigurationError, match="PORTAL__WEBHOOK_URL"):
        await bot_runner.start()


async def test_another_instance_polling_is_named_in_the_log_and_polling_goes_on(
    running_bot: Application,
    telegram_emulator: TelegramEmulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    telegram_emulator.inject(
        409,
        "Conflict: terminated by other getUpdates request; "
        "make sure that only one bot instance is running",
        method="getUpdates",
        times=2,
    )
    user = telegram_emulator.user(2001, "Ivan", phone=IVAN_PHONE)
    await user.send("/start")
    greeting = await user.wait_for_message(timeout=10)
    assert "Share my phone" in (greeting.text or "")
    assert any("another instance of this bot" in r.getMessage() for r in caplog.records)
