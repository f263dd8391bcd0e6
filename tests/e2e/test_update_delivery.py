"""Every Telegram update is handled at least once and at most once per update_id: stored before
the webhook's 200 or the poller's next offset, replayed after a crash, never handled twice."""

from __future__ import annotations

import contextlib
import json
import socket
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

from bot.app import Application
from bot.config import Settings, StorageSettings
from bot.logs import quiet_leaky_loggers
from bot.storage.timestamps import utc_now
from bot.storage.updates import StoredUpdate, UpdateOutcome, UpdateRepository
from bot.web import WEBHOOK_PATH
from tests.e2e.conftest import (
    FAST_BACKOFF,
    BotRunner,
    SettingsFactory,
    dies_before_marking,
    eventually,
    sign_in,
)
from tests.emulators.telegram import TelegramEmulator
from tests.fixtures_storage import Backend

WEBHOOK_SECRET = "s3cret-Token_1-0123456789abcdefghij"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
OLGA = 2002
ANNA_PHONE = "+79160000001"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _storage(backend: Backend) -> StorageSettings:
    if backend.name == "postgres":
        return StorageSettings(url=SecretStr(backend.location))
    return StorageSettings(path=Path(backend.location))


@contextlib.asynccontextmanager
async def _running(settings: Settings) -> AsyncIterator[Application]:
    app = Application(settings, polling_backoff=FAST_BACKOFF)
    try:
        await app.start()
        yield app
    finally:
        await app.stop()


def _start_command(update_id: int, user: dict[str, Any]) -> dict[str, Any]:
    """A user's /start as Telegram sends it."""
    return {
        "update_id": update_id,
        "message": {
            "message_id": 1,
            "from": user,
            "chat": {"id": user["id"], "type": "private", "first_name": user["first_name"]},
            "date": int(time.time()),
            "text": "/start",
            "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
        },
    }


async def test_the_same_webhook_update_posted_twice_gets_one_reply(
    make_settings: SettingsFactory, telegram_emulator: TelegramEmulator
) -> None:
    port = _free_port()
    url = f"http://127.0.0.1:{port}{WEBHOOK_PATH}"
    settings = make_settings(web_port=port, webhook_url=url, webhook_secret=WEBHOOK_SECRET)
    olga = telegram_emulator.user(OLGA, "Olga")
    async with _running(settings) as app, httpx.AsyncClient() as client:
        await olga.send("/start")
        await olga.wait_for_message()
        delivered = telegram_emulator.updates[-1]
        await eventually(lambda: _outcome_is(app, delivered["update_id"], UpdateOutcome.HANDLED))

        # Telegram did not see the first 200 and delivers the update again.
        again = await client.post(
            url, content=json.dumps(delivered), headers={SECRET_HEADER: WEBHOOK_SECRET}
        )
        assert again.status_code == 200
        # A later update is answered: the repeated one had its turn before it.
        await olga.send("/start")
        await olga.wait_for_message()

    assert len(telegram_emulator.bot_messages(OLGA)) == 2
    assert len([u for u in telegram_emulator.updates if "message" in u]) == 2


async def test_a_webhook_update_the_database_could_not_take_is_refused_and_comes_again(
    make_settings: SettingsFactory, telegram_emulator: TelegramEmulator
) -> None:
    port = _free_port()
    url = f"http://127.0.0.1:{port}{WEBHOOK_PATH}"
    settings = make_settings(web_port=port, webhook_url=url, webhook_secret=WEBHOOK_SECRET)
    telegram_emulator.webhook_attempts = 100  # Telegram keeps trying for hours
    olga = telegram_emulator.user(OLGA, "Olga")
    async with _running(settings) as app:
        async with app.db.transaction() as conn:
            await conn.execute("ALTER TABLE telegram_updates RENAME TO telegram_updates_away")
        await olga.send("/start")
        update_id = telegram_emulator.updates[-1]["update_id"]

        async def refused_twice() -> bool:
            statuses = [
                d.status for d in telegram_emulator.webhook_deliveries if d.update_id == update_id
            ]
            return statuses.count(503) >= 2

        await eventually(refused_twice)
        assert telegram_emulator.bot_messages(OLGA) == []

        async with app.db.transaction() as conn:
            await conn.execute("ALTER TABLE telegram_updates_away RENAME TO telegram_updates")
        await olga.wait_for_message(timeout=10)
        await eventually(lambda: _outcome_is(app, update_id, UpdateOutcome.HANDLED))

    statuses = [d.status for d in telegram_emulator.webhook_deliveries if d.update_id == update_id]
    assert statuses[-1] == 200
    assert set(statuses[:-1]) == {503}
    assert len(telegram_emulator.bot_messages(OLGA)) == 1


async def test_an_update_stored_but_not_handled_before_a_crash_is_handled_once_after_restart(
    make_settings: SettingsFactory, telegram_emulator: TelegramEmulator, backend: Backend
) -> None:
    settings = make_settings()
    settings.storage = _storage(backend)
    olga = telegram_emulator.user(OLGA, "Olga")
    claim = timedelta(seconds=settings.telegram.update_claim_seconds)
    # A replica stored the update, claimed it, and died before handling it; its claim has run
    # out by the time the bot starts again. (The bot's own logging rules hold for this write.)
    quiet_leaky_loggers()
    async with backend.database() as db:
        crashed = UpdateRepository(db, clock=lambda: utc_now() - 2 * claim)
        update = _start_command(900_001, olga.user)
        assert await crashed.store([StoredUpdate(900_001, update)], claim_for=claim) == {900_001}

    async with _running(settings) as app:
        reply = await olga.wait_for_message()
        assert reply.text
        await eventually(lambda: _outcome_is(app, 900_001, UpdateOutcome.HANDLED))
        assert await app.updates.waiting_count() == 0

    async with _running(settings) as app:
        # Another update after the restart is answered; the replayed one is not answered again.
        await olga.send("/start")
        await olga.wait_for_message()
        await eventually(lambda: _nothing_waiting(app))

    assert len(telegram_emulator.bot_messages(OLGA)) == 2


async def _nothing_waiting(app: Application) -> bool:
    return await app.updates.waiting_count() == 0


async def _outcome_is(app: Application, update_id: int, outcome: UpdateOutcome) -> bool:
    return await app.updates.outcome(update_id) is outcome


async def test_polling_asks_again_for_updates_it_could_not_store(
    make_settings: SettingsFactory, telegram_emulator: TelegramEmulator, backend: Backend
) -> None:
    settings = make_settings()
    settings.storage = _storage(backend)
    olga = telegram_emulator.user(OLGA, "Olga")
    async with _running(settings) as app:
        async with app.db.transaction() as conn:
            await conn.execute("ALTER TABLE telegram_updates RENAME TO telegram_updates_away")
        await olga.send("/start")
        update_id = telegram_emulator.updates[-1]["update_id"]

        def asked_for(offset_below: int) -> int:
            return len(
                [
                    call
                    for call in telegram_emulator.calls_of("getUpdates")
                    if int(call.params.get("offset") or 0) <= offset_below and call.result
                ]
            )

        async def delivered_three_times() -> bool:
            return asked_for(update_id) >= 3

        # The store fails, so the offset stays below the update and Telegram sends it again.
        await eventually(delivered_three_times)
        assert telegram_emulator.pending_updates
        assert telegram_emulator.bot_messages(OLGA) == []

        async with app.db.transaction() as conn:
            await conn.execute("ALTER TABLE telegram_updates_away RENAME TO telegram_updates")
        await olga.wait_for_message()
        await eventually(lambda: _outcome_is(app, update_id, UpdateOutcome.HANDLED))
        await telegram_emulator.wait_until_delivered()

    assert len(telegram_emulator.bot_messages(OLGA)) == 1


async def test_a_press_replayed_after_its_reply_was_sent_is_not_answered_again(
    bot_runner: BotRunner, telegram_emulator: TelegramEmulator
) -> None:
    """The process died after the press was answered, before it was marked handled: the
    restart replays it and sends nothing the first run had sent."""
    app = await bot_runner.start()
    anna = await sign_in(telegram_emulator, 1001, "Anna", ANNA_PHONE)
    await anna.press("🛠 Admin")
    await anna.wait_for_message(lambda m: "📝 Lead form fields" in m.labels)
    await eventually(lambda: _nothing_waiting(app))

    async def open_the_form_fields() -> None:
        await anna.press("📝 Lead form fields")
        await anna.wait_for_message(lambda m: "✅ 1. Lead Title" in m.labels)

    update_id = await dies_before_marking(app, open_the_form_fields)
    answered = _replies(telegram_emulator)
    app = await bot_runner.start()  # replays the update before anything newer
    await eventually(lambda: _outcome_is(app, update_id, UpdateOutcome.HANDLED))
    assert _replies(telegram_emulator) == answered
    assert await app.updates.replies(update_id) == []  # dropped with the update's body

    # The dialog goes on from where the first run left it.
    await anna.press("✅ 1. Lead Title")
    await anna.wait_for_message(lambda m: "⬜ Lead Title" in m.labels)


def _replies(telegram_emulator: TelegramEmulator) -> list[str]:
    """What the bot sent Anna: messages, edits and answers to her presses."""
    return [
        call.method
        for call in telegram_emulator.calls
        if call.method == "answerCallbackQuery" or str(call.params.get("chat_id")) == "1001"
    ]
