"""The sender reads every outbox row the bot has stored, and gives up on a malformed one.

Rows go into a SQLite outbox as earlier versions wrote them (raw JSON); the real
`OutboxSender` sends them through a real aiogram `Bot` to the Telegram emulator.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer

from bot.access.roles import Identity, Role
from bot.config import NotifySettings
from bot.notify.sender import OutboxSender
from bot.storage import Database, SqliteDatabase, to_db_time, utc_now
from bot.storage.outbox import OutboxRepository
from bot.storage.subscriptions import SubscriptionRepository
from bot.telegram_retry import FloodPause, TelegramRetryMiddleware
from tests.e2e.conftest import eventually
from tests.emulators.telegram import DEFAULT_TEST_TOKEN, TelegramEmulator

IVAN_TG, IVAN_PORTAL = 700_001, 2
ANNA_TG = 700_002
MARIA_TG, MARIA_PORTAL = 700_003, 3
GROUP = -5002
READERS = {
    IVAN_TG: Identity(IVAN_TG, IVAN_PORTAL, Role.REP, "Ivan Petrov"),
    MARIA_TG: Identity(MARIA_TG, MARIA_PORTAL, Role.MANAGER, "Maria Ivanova"),
}

# The processor's rows since the first release: a group message subscribed by a manager,
# and the private copy of Ivan, the lead's responsible.
GROUP_ROW = (
    '{"text":"<b>Lead #7 added</b>","buttons":[[{"text":"📇 Open card",'
    '"url":"https://t.me/leads_bot?start=lead_7"},{"text":"🙋 Take",'
    '"callback_data":"nl:take:7"}],[{"text":"🌐 Open in portal",'
    '"url":"https://portal.test/crm/lead/details/7/"}]],"subscriber":700003,'
    '"assigned_by_id":2,"kind":"added"}'
)
PRIVATE_ROW = (
    '{"text":"<b>Lead #7 changed</b>","buttons":[[{"text":"📇 Open card",'
    '"callback_data":"nl:card:7"},{"text":"🙋 Take","callback_data":"nl:take:7"}]],'
    '"subscriber":700001,"assigned_by_id":2,"kind":"changed"}'
)


async def reader(telegram_user_id: int) -> Identity | None:
    """Ivan is a bound rep and Maria a manager; nobody else is bound."""
    return READERS.get(telegram_user_id)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    async with SqliteDatabase(tmp_path / "bot.sqlite3") as database:
        yield database


async def queue_raw(
    db: Database, key: str, chat_id: int, lead_id: int | None, payload: str
) -> int:
    """Put a row into the outbox exactly as stored by some version of the bot."""
    now = to_db_time(utc_now())
    async with db.transaction() as conn:
        row = await conn.fetch_one(
            "INSERT INTO outbox (idempotency_key, chat_id, thread_id, lead_id, payload, "
            "next_attempt_at, created_at) VALUES (?, ?, NULL, ?, ?, ?, ?) RETURNING id",
            (key, chat_id, lead_id, payload, now, now),
        )
        assert row is not None
        return int(row["id"])


@contextlib.asynccontextmanager
async def sending(telegram_emulator: TelegramEmulator, db: Database) -> AsyncIterator[None]:
    """The sender, sending HTML with the app's request middleware, until the block ends."""
    pause = FloodPause()
    session = AiohttpSession(api=TelegramAPIServer.from_base(telegram_emulator.base_url))
    session.middleware(TelegramRetryMiddleware(pause, max_attempts=1))
    bot = Bot(DEFAULT_TEST_TOKEN, session=session, default=DefaultBotProperties(parse_mode="HTML"))
    sender = OutboxSender(
        bot=bot,
        db=db,
        outbox=OutboxRepository(db),
        subscriptions=SubscriptionRepository(db),
        identify=reader,
        pause=pause,
        settings=NotifySettings(),
    )
    task = asyncio.create_task(sender.run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await bot.session.close()


async def states(db: Database) -> dict[str, str]:
    rows = await db.fetch_all("SELECT idempotency_key, state FROM outbox")
    return {row["idempotency_key"]: row["state"] for row in rows}


async def test_rows_queued_by_earlier_versions_go_out_with_their_buttons(
    telegram_emulator: TelegramEmulator, db: Database
) -> None:
    telegram_emulator.add_group(GROUP, "Sales")
    telegram_emulator.user(IVAN_TG, "Ivan")
    telegram_emulator.user(ANNA_TG, "Anna")
    await queue_raw(db, "group", GROUP, 7, GROUP_ROW)
    await queue_raw(db, "ivan", IVAN_TG, 7, PRIVATE_ROW)
    # Queued by hand (benches), before rows had a lead: the text alone.
    await queue_raw(db, "anna", ANNA_TG, None, '{"text":"Hello <b>there</b>"}')

    async with sending(telegram_emulator, db):

        async def all_sent() -> bool:
            return set((await states(db)).values()) == {"sent"}

        await eventually(all_sent)

    group = telegram_emulator.last_message(GROUP)
    assert group.html == "<b>Lead #7 added</b>"
    assert [[b.text for b in row] for row in group.buttons] == [
        ["📇 Open card", "🙋 Take"],
        ["🌐 Open in portal"],
    ]
    assert group.buttons[0][0].url == "https://t.me/leads_bot?start=lead_7"
    assert group.buttons[0][1].callback_data == "nl:take:7"
    # Ivan is the responsible: his own chat offers him no Take of his own lead.
    ivan = telegram_emulator.last_message(IVAN_TG)
    assert [[b.callback_data for b in row] for row in ivan.buttons] == [["nl:card:7"]]
    anna = telegram_emulator.last_message(ANNA_TG)
    assert (anna.text, anna.buttons) == ("Hello there", [])


@pytest.mark.parametrize(
    "payload",
    [
        "[]",
        '{"buttons":[]}',
        '{"text":"x","buttons":[[{"text":"Open"}]]}',
        '{"text":"x","subscriber":"700001"}',
    ],
)
async def test_a_malformed_row_becomes_a_dead_letter_and_its_chat_moves_on(
    telegram_emulator: TelegramEmulator, db: Database, payload: str
) -> None:
    telegram_emulator.user(ANNA_TG, "Anna")
    broken = await queue_raw(db, "broken", ANNA_TG, 7, payload)
    await queue_raw(db, "next", ANNA_TG, 8, '{"text":"Lead #8"}')

    async with sending(telegram_emulator, db):

        async def next_sent() -> bool:
            return (await states(db)).get("next") == "sent"

        await eventually(next_sent)

    assert await states(db) == {"broken": "dead", "next": "sent"}
    [letter] = await OutboxRepository(db).dead_letters()
    assert letter.id == broken
    assert letter.reason.startswith("malformed row: ")
    # Nothing of the broken row reached Telegram.
    assert [m.text for m in telegram_emulator.bot_messages(ANNA_TG)] == ["Lead #8"]
