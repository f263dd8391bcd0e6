"""The intake of Telegram updates, with a real Dispatcher on each engine: an update is handled
once per update_id, its outcome recorded, and two replicas replaying together share the work."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta
from typing import Any

from aiogram import Bot, Dispatcher, Router
from aiogram.filters import Command
from aiogram.types import Message, Update

from bot.storage import Database
from bot.storage.updates import StoredUpdate, UpdateOutcome, UpdateRepository
from bot.updates import ReplyJournal, UpdateIntake, update_payload
from tests.emulators.telegram import DEFAULT_TEST_TOKEN, TelegramEmulator
from tests.fixtures_storage import Backend

CLAIM = timedelta(minutes=5)
START = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


def message(update_id: int, text: str) -> Update:
    return Update.model_validate(
        {
            "update_id": update_id,
            "message": {
                "message_id": update_id,
                "date": 1_772_000_000,
                "chat": {"id": 7, "type": "private"},
                "from": {"id": 7, "is_bot": False, "first_name": "U"},
                "text": text,
            },
        }
    )


def counting_dispatcher(seen: list[int]) -> Dispatcher:
    """/count records the update; /boom fails; anything else finds no handler."""
    router = Router()

    @router.message(Command("count"))
    async def on_count(event: Message, event_update: Update) -> None:
        seen.append(event_update.update_id)

    @router.message(Command("boom"))
    async def on_boom(event: Message) -> None:
        raise RuntimeError("a handler failed")

    dispatcher = Dispatcher()
    dispatcher.include_router(router)
    return dispatcher


def intake(db: Database, seen: list[int], clock: Any = None) -> UpdateIntake:
    return UpdateIntake(
        dispatcher=counting_dispatcher(seen),
        bot=Bot(DEFAULT_TEST_TOKEN),
        updates=UpdateRepository(db, clock or Clock()),
        claim_for=CLAIM,
    )


async def settle(db: Database) -> None:
    """Wait until nothing stored is left unhandled."""
    updates = UpdateRepository(db)
    async with asyncio.timeout(5):
        while await updates.waiting_count():
            await asyncio.sleep(0.01)


async def test_an_update_accepted_twice_is_handled_once(db: Database) -> None:
    seen: list[int] = []
    updates = intake(db, seen)
    await updates.accept([message(1, "/count"), message(1, "/count")])
    await updates.accept([message(1, "/count")])
    await settle(db)
    await updates.accept([message(1, "/count")])
    await updates.close()
    assert seen == [1]
    assert await UpdateRepository(db).outcome(1) is UpdateOutcome.HANDLED


async def test_each_outcome_is_recorded(db: Database) -> None:
    seen: list[int] = []
    updates = intake(db, seen)
    await updates.accept([message(1, "/count"), message(2, "/boom"), message(3, "hello")])
    await settle(db)
    repository = UpdateRepository(db)
    assert [await repository.outcome(i) for i in (1, 2, 3)] == [
        UpdateOutcome.HANDLED,
        UpdateOutcome.FAILED,
        UpdateOutcome.UNHANDLED,
    ]


async def test_two_replicas_replaying_together_handle_each_update_once(
    backend: Backend,
) -> None:
    clock = Clock()
    async with backend.database() as first_db, backend.database() as second_db:
        stored = [StoredUpdate(i, update_payload(message(i, "/count"))) for i in range(1, 41)]
        # Stored by a replica that died: its claims run out before the others look.
        await UpdateRepository(first_db, clock).store(stored, claim_for=CLAIM)
        clock.now = START + CLAIM
        seen: list[int] = []
        first, second = intake(first_db, seen, clock), intake(second_db, seen, clock)
        replayed = await asyncio.gather(first.replay_waiting(), second.replay_waiting())
        assert sum(replayed) == 40
        assert sorted(seen) == list(range(1, 41))
        assert await UpdateRepository(first_db).waiting_count() == 0


async def test_a_long_handler_keeps_its_claim_and_a_dead_replicas_update_is_taken_over(
    backend: Backend,
) -> None:
    clock = Clock()
    release = asyncio.Event()
    seen: list[int] = []
    router = Router()

    @router.message(Command("slow"))
    async def on_slow(event: Message, event_update: Update) -> None:
        seen.append(event_update.update_id)
        await release.wait()  # a handler waiting on the portal longer than a claim lasts

    dispatcher = Dispatcher()
    dispatcher.include_router(router)
    async with backend.database() as live_db, backend.database() as other_db:
        live = UpdateIntake(
            dispatcher=dispatcher,
            bot=Bot(DEFAULT_TEST_TOKEN),
            updates=UpdateRepository(live_db, clock),
            claim_for=CLAIM,
        )
        await live.accept([message(1, "/slow")])
        async with asyncio.timeout(5):
            while not seen:
                await asyncio.sleep(0.01)
        # A replica that stored update 2 and died: nobody renews its claim.
        await UpdateRepository(other_db, clock).store(
            [StoredUpdate(2, update_payload(message(2, "/slow")))], claim_for=CLAIM
        )
        clock.now += CLAIM * 0.75
        assert await live.renew_claims() == 1
        clock.now += CLAIM * 0.75  # past both first claims: only the renewed one holds
        other = UpdateIntake(
            dispatcher=dispatcher,
            bot=Bot(DEFAULT_TEST_TOKEN),
            updates=UpdateRepository(other_db, clock),
            claim_for=CLAIM,
        )
        release.set()
        assert await other.replay_waiting() == 1
        async with asyncio.timeout(5):
            while await UpdateRepository(live_db).waiting_count():
                await asyncio.sleep(0.01)
        assert sorted(seen) == [1, 2]
        await live.close()


def replying_dispatcher(first_run: asyncio.Event, shown: list[int]) -> Dispatcher:
    """/two sends "one", then "two"; while `first_run` is set, its process dies in between
    (the handler never gets past "one"). /other sends "one" on the first run and edits it on
    a replay (a replay that finds the dialog moved on)."""
    router = Router()

    @router.message(Command("two"))
    async def on_two(event: Message, bot: Bot) -> None:
        sent = await bot.send_message(7, "one")
        shown.append(sent.message_id)
        if first_run.is_set():
            await asyncio.Event().wait()  # the process dies here
        await bot.send_message(7, "two")

    @router.message(Command("other"))
    async def on_other(event: Message, bot: Bot) -> None:
        if first_run.is_set():
            sent = await bot.send_message(7, "one")
            shown.append(sent.message_id)
            await asyncio.Event().wait()
        await bot.edit_message_text("edited", chat_id=7, message_id=shown[0])

    dispatcher = Dispatcher()
    dispatcher.include_router(router)
    return dispatcher


async def run_twice(
    db: Database, telegram_emulator: TelegramEmulator, text: str
) -> tuple[list[int], UpdateRepository]:
    """The update's first run dies after its first reply; another process replays it."""
    telegram_emulator.user(7, "U")
    clock = Clock()
    first_run, shown = asyncio.Event(), list[int]()
    first_run.set()
    dispatcher = replying_dispatcher(first_run, shown)
    repository = UpdateRepository(db, clock)
    bot = telegram_emulator.make_bot()
    bot.session.middleware(ReplyJournal(repository))
    try:
        first = UpdateIntake(dispatcher=dispatcher, bot=bot, updates=repository, claim_for=CLAIM)
        await first.accept([message(1, text)])
        async with asyncio.timeout(5):
            while not shown:
                await asyncio.sleep(0.01)
        await first.close()  # killed in the middle of the handler
        assert await repository.outcome(1) is None

        first_run.clear()
        clock.now += CLAIM
        second = UpdateIntake(dispatcher=dispatcher, bot=bot, updates=repository, claim_for=CLAIM)
        assert await second.replay_waiting() == 1
    finally:
        await bot.session.close()
    return shown, repository


async def test_a_replay_does_not_send_again_what_its_first_run_sent(
    db: Database, telegram_emulator: TelegramEmulator
) -> None:
    shown, repository = await run_twice(db, telegram_emulator, "/two")
    assert [m.text for m in telegram_emulator.bot_messages(7)] == ["one", "two"]
    # The replay got the message the first run sent, as Telegram had answered it.
    assert shown[1] == shown[0]
    assert await repository.outcome(1) is UpdateOutcome.HANDLED
    assert await repository.replies(1) == []


async def test_a_replay_that_takes_another_path_sends_nothing_more(
    db: Database, telegram_emulator: TelegramEmulator
) -> None:
    _, repository = await run_twice(db, telegram_emulator, "/other")
    assert [m.text for m in telegram_emulator.bot_messages(7)] == ["one"]
    assert telegram_emulator.count("editMessageText") == 0
    assert await repository.outcome(1) is UpdateOutcome.HANDLED


async def test_replies_sent_outside_an_update_are_not_recorded(
    db: Database, telegram_emulator: TelegramEmulator
) -> None:
    telegram_emulator.user(7, "U")
    repository = UpdateRepository(db)
    bot = telegram_emulator.make_bot()
    bot.session.middleware(ReplyJournal(repository))
    try:
        await bot.send_message(7, "a notification")
    finally:
        await bot.session.close()
    assert await db.fetch_all("SELECT * FROM telegram_replies") == []


async def test_after_a_restart_the_update_left_unhandled_goes_before_newer_ones(
    db: Database,
) -> None:
    clock = Clock()
    seen: list[int] = []
    # The last run stored update 1 and died; its claim has run out.
    await UpdateRepository(db, clock).store(
        [StoredUpdate(1, update_payload(message(1, "/count")))], claim_for=CLAIM
    )
    clock.now += CLAIM
    updates = intake(db, seen, clock)
    updates.hold_new_updates()
    await updates.accept([message(2, "/count")])  # the user's next press, made meanwhile
    await asyncio.sleep(0.05)
    assert seen == []  # stored, not handled before the replay
    running = asyncio.create_task(updates.run())
    try:
        await settle(db)
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
    assert seen == [1, 2]


async def test_new_updates_are_held_for_one_claim_at_most(db: Database) -> None:
    """A first replay pass that never ends (a replay waiting on the portal) does not keep new
    updates waiting longer than a claim lasts."""
    seen: list[int] = []
    updates = UpdateIntake(
        dispatcher=counting_dispatcher(seen),
        bot=Bot(DEFAULT_TEST_TOKEN),
        updates=UpdateRepository(db),
        claim_for=timedelta(seconds=0.2),
    )
    updates.hold_new_updates()  # and `run`, which would end the hold, never gets to it
    await updates.accept([message(2, "/count")])
    await settle(db)
    assert seen == [2]
