"""The sender against the emulator's flood limits: no 429, and no chat held back by a group.

A real aiogram `Bot` with the app's request middleware, the real `OutboxSender` and a SQLite
outbox; the emulator answers 429 whenever a send would exceed one of Telegram's ceilings.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Collection
from pathlib import Path

import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from redis.asyncio import Redis

from bot.access.roles import Identity
from bot.config import NotifySettings
from bot.notify.budget import SendBudget, SendTurn
from bot.notify.sender import OutboxSender
from bot.replicas import RedisFloodPause, RedisKeys, RedisSendBudget
from bot.storage import Database, SqliteDatabase
from bot.storage.outbox import NewOutboxMessage, Notification, OutboxMessage, OutboxRepository
from bot.storage.subscriptions import SubscriptionRepository
from bot.telegram_retry import FloodPause, TelegramRetryMiddleware
from tests.e2e.conftest import eventually
from tests.emulators.telegram import DEFAULT_TEST_TOKEN, TelegramEmulator
from tests.fixtures_redis import replica

GROUP = -5001
FIRST_CHAT = 700_000


async def nobody(telegram_user_id: int) -> Identity | None:
    """These rows carry no subscriber, so nobody is asked about."""
    return None


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    async with SqliteDatabase(tmp_path / "bot.sqlite3") as database:
        yield database


@pytest.fixture
def outbox(db: Database) -> OutboxRepository:
    return OutboxRepository(db)


def new_sender(
    telegram_emulator: TelegramEmulator,
    outbox: OutboxRepository,
    shared: tuple[Redis, RedisKeys] | None = None,
    budget: SendBudget | None = None,
) -> tuple[OutboxSender, Bot]:
    """The sender with default (Telegram's) limits and the app's request middleware; with
    `shared`, its budget and flood pause are those of every replica on that Redis."""
    settings = NotifySettings()
    pause = FloodPause() if shared is None else RedisFloodPause(*shared)
    if shared is not None:
        budget = RedisSendBudget(*shared, settings)
    session = AiohttpSession(api=TelegramAPIServer.from_base(telegram_emulator.base_url))
    session.middleware(TelegramRetryMiddleware(pause, max_attempts=1))
    db = outbox._db
    bot = Bot(DEFAULT_TEST_TOKEN, session=session)
    sender = OutboxSender(
        bot=bot,
        db=db,
        outbox=outbox,
        subscriptions=SubscriptionRepository(db),
        identify=nobody,
        pause=pause,
        settings=settings,
        budget=budget,
    )
    return sender, bot


@contextlib.asynccontextmanager
async def running_sender(
    telegram_emulator: TelegramEmulator,
    db: Database,
    outbox: OutboxRepository,
    shared: tuple[Redis, RedisKeys] | None = None,
    budget: SendBudget | None = None,
) -> AsyncIterator[OutboxSender]:
    """The sender running until the block ends."""
    sender, bot = new_sender(telegram_emulator, outbox, shared, budget)
    task = asyncio.create_task(sender.run())
    try:
        yield sender
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await bot.session.close()


def private_chats(telegram_emulator: TelegramEmulator, count: int) -> list[int]:
    """`count` private chats the bot may write to."""
    chats = [FIRST_CHAT + index for index in range(count)]
    for chat in chats:
        telegram_emulator.user(chat, f"User {chat}")
    return chats


def delivered_to(telegram_emulator: TelegramEmulator, chats: list[int]) -> set[int]:
    """Which of `chats` got a message."""
    return {
        int(call.params["chat_id"])
        for call in telegram_emulator.calls_of("sendMessage")
        if call.ok and int(call.params.get("chat_id", 0)) in chats
    }


async def test_private_chats_are_not_held_back_by_a_busy_group(
    telegram_emulator: TelegramEmulator, db: Database, outbox: OutboxRepository
) -> None:
    telegram_emulator.add_group(GROUP, "Busy")
    chats = private_chats(telegram_emulator, 5)
    telegram_emulator.enable_flood_limits()
    # More group rows than the sender reads at a time, all queued ahead of the private ones.
    await outbox.add(
        [NewOutboxMessage(f"g{n}", GROUP, None, n, Notification("g")) for n in range(250)]
    )
    await outbox.add([NewOutboxMessage(f"p{c}", c, None, 1, Notification("p")) for c in chats])

    async with running_sender(telegram_emulator, db, outbox):

        async def all_private_delivered() -> bool:
            return delivered_to(telegram_emulator, chats) == set(chats)

        await eventually(all_private_delivered)

    # The group got only what its own limit allows; the rest still waits its turn.
    assert await outbox.count("pending") >= 240
    assert telegram_emulator.flood_errors == []


async def nudges_going_to_89_chats(
    telegram_emulator: TelegramEmulator, outbox: OutboxRepository
) -> int:
    """Nudges queued for 89 private chats, Telegram's limits on; a 90th chat, for a live one."""
    chats = private_chats(telegram_emulator, 90)
    telegram_emulator.enable_flood_limits()
    await outbox.add(
        [
            NewOutboxMessage(f"n{c}", c, None, None, Notification("nudge"), routine=True)
            for c in chats[:-1]
        ]
    )
    return chats[-1]


def sent_to(telegram_emulator: TelegramEmulator) -> list[int]:
    """The chats of the messages sent, in order."""
    calls = telegram_emulator.calls_of("sendMessage")
    return [int(call.params["chat_id"]) for call in calls if call.ok]


async def test_a_live_notification_waits_behind_a_few_nudges_at_most(
    telegram_emulator: TelegramEmulator, db: Database, outbox: OutboxRepository
) -> None:
    live_chat = await nudges_going_to_89_chats(telegram_emulator, outbox)

    async with running_sender(telegram_emulator, db, outbox) as sender:

        async def nudges_going_out() -> bool:
            return len(sent_to(telegram_emulator)) >= 3

        await eventually(nudges_going_out)
        before = len(sent_to(telegram_emulator))
        await outbox.add([NewOutboxMessage("live", live_chat, None, 1, Notification("live"))])

        async def live_sent() -> bool:
            return live_chat in sent_to(telegram_emulator)

        await eventually(live_sent, timeout=10)
    # The nudges take at most half the sends in flight, so the live one starts at once; in
    # the budget's line it goes before the nudges already waiting there (8 of them went out
    # first when the line served in arrival order). What may pass it: the nudge whose send
    # let the sender see the new row, the one holding the line, one on its way to Telegram.
    overtaken_by = sent_to(telegram_emulator).index(live_chat) - before
    assert overtaken_by <= 4
    assert sender.sent < 89  # the nudges were still going out
    assert telegram_emulator.flood_errors == []


class RecordingBudget(SendBudget):
    """The process's send budget, noting every ask: (chat, routine, granted)."""

    def __init__(self) -> None:
        super().__init__(NotifySettings())
        self.asks: list[tuple[int, bool, bool]] = []

    async def take(
        self,
        chat_id: int,
        *,
        chat_gap: bool = True,
        mark_chat: bool = False,
        routine: bool = False,
    ) -> SendTurn:
        turn = await super().take(chat_id, chat_gap=chat_gap, mark_chat=mark_chat, routine=routine)
        self.asks.append((chat_id, routine, turn.send is not None))
        return turn


async def test_a_live_notification_takes_the_send_the_nudges_leave_it_at_once(
    telegram_emulator: TelegramEmulator, db: Database, outbox: OutboxRepository
) -> None:
    live_chat = await nudges_going_to_89_chats(telegram_emulator, outbox)
    budget = RecordingBudget()

    async with running_sender(telegram_emulator, db, outbox, budget=budget):

        async def nudges_waiting_for_the_budget() -> bool:
            return any(routine and not granted for _, routine, granted in budget.asks)

        await eventually(nudges_waiting_for_the_budget)
        await outbox.add([NewOutboxMessage("live", live_chat, None, 1, Notification("live"))])

        async def live_sent() -> bool:
            return live_chat in sent_to(telegram_emulator)

        await eventually(live_sent, timeout=10)
    # The nudges leave part of the budget unused and wait for theirs out of the line, so the
    # notification's first ask is granted (it waited for the nudge holding the line, and then
    # for a send of its own, when they took all of it).
    assert [granted for chat, _, granted in budget.asks if chat == live_chat] == [True]
    assert telegram_emulator.flood_errors == []


async def test_a_burst_to_many_chats_and_a_group_gets_no_429(
    telegram_emulator: TelegramEmulator, db: Database, outbox: OutboxRepository
) -> None:
    telegram_emulator.add_group(GROUP, "Sales")
    chats = private_chats(telegram_emulator, 60)
    telegram_emulator.enable_flood_limits()
    rows = [NewOutboxMessage(f"p{c}", c, None, 1, Notification("p")) for c in chats]
    # Three messages to the chat of the first user and to the group, among the others.
    rows[10:10] = [
        NewOutboxMessage(f"a{n}", chats[0], None, 1, Notification("a")) for n in range(3)
    ]
    rows[20:20] = [NewOutboxMessage(f"g{n}", GROUP, None, 1, Notification("g")) for n in range(3)]
    await outbox.add(rows)

    async with running_sender(telegram_emulator, db, outbox):

        async def all_sent() -> bool:
            return await outbox.count("pending") == 0

        await eventually(all_sent, timeout=30.0)

    assert telegram_emulator.flood_errors == []
    assert await outbox.count("sent") == len(rows)


async def test_two_replicas_writing_to_the_same_chats_share_one_budget_and_get_no_429(
    telegram_emulator: TelegramEmulator, tmp_path: Path, redis_client: Redis, redis_prefix: str
) -> None:
    """Each replica alone keeps under Telegram's 30/s; two would not without sharing."""
    telegram_emulator.add_group(GROUP, "Sales")
    chats = private_chats(telegram_emulator, 60)
    telegram_emulator.enable_flood_limits()
    async with contextlib.AsyncExitStack() as stack:
        outboxes = []
        for name in ("a", "b"):
            db = await stack.enter_async_context(SqliteDatabase(tmp_path / f"{name}.sqlite3"))
            outbox = OutboxRepository(db)
            rows = [NewOutboxMessage(f"p{c}", c, None, 1, Notification(name)) for c in chats]
            rows[30:30] = [NewOutboxMessage("g", GROUP, None, 1, Notification(name))]
            await outbox.add(rows)
            shared = (redis_client, replica(redis_prefix, name))
            await stack.enter_async_context(running_sender(telegram_emulator, db, outbox, shared))
            outboxes.append(outbox)

        async def all_sent() -> bool:
            counts = [await outbox.count("pending") for outbox in outboxes]
            return counts == [0, 0]

        await eventually(all_sent, timeout=30.0)
        assert [await outbox.count("sent") for outbox in outboxes] == [61, 61]

    assert telegram_emulator.flood_errors == []


@pytest.mark.parametrize("steps", range(6))
async def test_a_sender_woken_as_it_is_cancelled_still_stops(
    telegram_emulator: TelegramEmulator, outbox: OutboxRepository, steps: int
) -> None:
    """A wake-up that lands in the same turn as the cancel must not swallow the cancel."""
    sender, bot = new_sender(telegram_emulator, outbox)
    task = asyncio.create_task(sender.run())
    try:
        await asyncio.sleep(0.05)  # idle, waiting to be woken
        sender.wake()
        for _ in range(steps):
            await asyncio.sleep(0)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            async with asyncio.timeout(5):
                await task
        assert task.cancelled()
    finally:
        task.cancel()
        await bot.session.close()


class CountingOutbox(OutboxRepository):
    """The outbox, counting the rows it read out (each is decoded) for the sender."""

    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self.rows_read = 0
        self.reads = 0

    async def due(
        self,
        limit: int,
        exclude_chats: Collection[int] = frozenset(),
        *,
        routine: int | None = None,
    ) -> list[OutboxMessage]:
        rows = await super().due(limit, exclude_chats, routine=routine)
        self.rows_read += len(rows)
        self.reads += 1
        return rows


async def test_nudges_are_read_only_as_many_as_may_start(
    telegram_emulator: TelegramEmulator, db: Database
) -> None:
    # With its routine sends all in flight the sender asks for live rows only, and otherwise
    # for no more routine rows than may start: a morning's nudges were read and decoded again
    # at every round before.
    chats = private_chats(telegram_emulator, 60)
    outbox = CountingOutbox(db)
    await outbox.add(
        [
            NewOutboxMessage(f"n{c}", c, None, None, Notification("nudge"), routine=True)
            for c in chats
        ]
    )
    async with running_sender(telegram_emulator, db, outbox):

        async def all_sent() -> bool:
            return delivered_to(telegram_emulator, chats) == set(chats)

        await eventually(all_sent, timeout=20)
    assert outbox.rows_read <= len(chats) + 10
    # And it asks about once per nudge: 169 times for these 60 when it asked for live and
    # routine rows apart, after every start, and whenever any chat's gap ended (54 now).
    assert outbox.reads <= 1.5 * len(chats)
