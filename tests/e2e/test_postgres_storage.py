"""The bot on PostgreSQL: sign-in, subscriptions, notifications, a Take race and a restart."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from pydantic import SecretStr
from redis.asyncio import Redis

from bot.app import Application
from bot.config import (
    ConfigurationError,
    EventsSettings,
    NotifySettings,
    RedisSettings,
    StorageSettings,
)
from bot.portal.limiter import Lane
from bot.replicas import SharedLeakyBucket
from bot.storage.db import DATABASE_ERRORS
from bot.storage.inbox import InboxRepository
from bot.storage.outbox import OutboxRepository
from bot.storage.postgres import PostgresDatabase
from bot.storage.sql import execute
from bot.storage.subscriptions import SubscriptionRepository
from bot.storage.timestamps import to_db_time, utc_now
from tests.e2e.conftest import ADMIN_TELEGRAM_ID, about, eventually, notifying_app, sign_in
from tests.e2e.test_notifications import ANNA_PHONE, GROUP_ID, IVAN_PHONE, IVAN_TG, subscribe
from tests.emulators.bitrix24 import Bitrix24Emulator
from tests.emulators.telegram import TelegramEmulator, TelegramUser
from tests.fixtures_redis import replica
from tests.fixtures_storage import postgres_schema

NOTIFY = NotifySettings(
    private_interval_seconds=0.05,
    group_per_minute=1200,
    global_per_second=200,
    global_burst=50,
    backoff_seconds=0.05,
    max_attempts=3,
)


async def test_a_team_on_postgres_gets_its_leads_takes_them_and_keeps_all_after_a_restart(
    tmp_path: Path, telegram_emulator: TelegramEmulator, portal_emulator: Bitrix24Emulator
) -> None:
    async with postgres_schema() as url:
        storage = StorageSettings(url=SecretStr(url))
        async with notifying_app(
            tmp_path, telegram_emulator, portal_emulator, NOTIFY, storage
        ) as app:
            assert isinstance(app.db, PostgresDatabase)
            anna = await sign_in(telegram_emulator, ADMIN_TELEGRAM_ID, "Anna", ANNA_PHONE)
            ivan = await sign_in(telegram_emulator, IVAN_TG, "Ivan", IVAN_PHONE)
            telegram_emulator.add_group(
                GROUP_ID, "Sales", admins=[ADMIN_TELEGRAM_ID], members=[IVAN_TG]
            )
            await subscribe(anna.in_group(GROUP_ID))
            lead_id = portal_emulator.ui_add_lead(
                {"TITLE": "Pipes <&> Co", "ASSIGNED_BY_ID": 1}, 1
            )
            offer = await telegram_emulator.wait_for_message(GROUP_ID, about(lead_id, "New lead"))
            assert "Pipes <&> Co" in (offer.text or "")
            data = offer.button("🙋 Take").callback_data
            assert data is not None
            # A Take is checked against the sent row: wait until its sending is recorded.
            await eventually(lambda: _nothing_pending(OutboxRepository(app.db)))
            press = await ivan.in_group(GROUP_ID).press_data(offer.message_id, data)
            answer = await telegram_emulator.wait_for_callback_answer(press)
            assert answer.text == "The lead is yours now."
            assert int(portal_emulator.leads[lead_id]["ASSIGNED_BY_ID"]) == 2

        # A restart (or another replica) on the same database: nobody signs in again.
        async with notifying_app(
            tmp_path, telegram_emulator, portal_emulator, NOTIFY, storage
        ) as app:
            [subscription] = await SubscriptionRepository(app.db).for_chat(GROUP_ID)
            assert subscription.created_by == ADMIN_TELEGRAM_ID
            second = portal_emulator.ui_add_lead({"TITLE": "Valves", "ASSIGNED_BY_ID": 2}, 1)
            await telegram_emulator.wait_for_message(GROUP_ID, about(second, "New lead"))
            await ivan.send("/start")
            menu = await ivan.wait_for_message(lambda m: "Main menu" in (m.text or ""))
            assert menu.from_bot


async def test_an_unreachable_postgres_stops_start_up_with_one_sentence_naming_the_setting(
    tmp_path: Path, telegram_emulator: TelegramEmulator, portal_emulator: Bitrix24Emulator
) -> None:
    storage = StorageSettings(url=SecretStr("postgresql://bot:s3cr3t@127.0.0.1:1/bot"))
    with pytest.raises(ConfigurationError) as refused:
        async with notifying_app(tmp_path, telegram_emulator, portal_emulator, NOTIFY, storage):
            pass
    message = str(refused.value)
    assert message.startswith("PostgreSQL at STORAGE__URL could not be used")
    assert "s3cr3t" not in message


async def test_a_database_that_does_not_exist_is_named_by_the_servers_refusal(
    tmp_path: Path, telegram_emulator: TelegramEmulator, portal_emulator: Bitrix24Emulator
) -> None:
    """The driver's own error kind reaches the sentence, not a wrapper's name."""
    async with postgres_schema() as url:  # the server is there
        missing = urlunsplit(urlsplit(url)._replace(path="/no_such_database_here"))
    storage = StorageSettings(url=SecretStr(missing))
    with pytest.raises(ConfigurationError) as refused:
        async with notifying_app(tmp_path, telegram_emulator, portal_emulator, NOTIFY, storage):
            pass
    assert "(InvalidCatalogNameError)" in str(refused.value)
    assert isinstance(refused.value.__cause__, DATABASE_ERRORS)


async def test_two_replicas_on_one_database_send_each_notification_once(
    tmp_path: Path, telegram_emulator: TelegramEmulator, portal_emulator: Bitrix24Emulator
) -> None:
    async with postgres_schema() as url:
        storage = StorageSettings(url=SecretStr(url))
        async with notifying_app(
            tmp_path, telegram_emulator, portal_emulator, NOTIFY, storage
        ) as first:
            anna = await sign_in(telegram_emulator, ADMIN_TELEGRAM_ID, "Anna", ANNA_PHONE)
            await subscribe(anna)
            # The portal's events reach the replica that does not run the workers.
            async with follower_taking_events(first, portal_emulator) as second:
                lead_id = portal_emulator.ui_add_lead({"TITLE": "Valves", "ASSIGNED_BY_ID": 1}, 1)
                await anna.wait_for_message(about(lead_id, "New lead"), timeout=15)
                outbox = OutboxRepository(second.db)
                await eventually(lambda: _nothing_pending(outbox), timeout=15)
                offers = [m for m in anna.transcript() if about(lead_id, "New lead")(m)]
                assert len(offers) == 1
                assert await outbox.count("sent") == 1
                # The follower runs no processor, so it builds no subscribers' index either.
                assert second.processor is not None
                assert second.processor.subscribers_indexed is None


@pytest.mark.parametrize("bot_redis", ["redis"], indirect=True)
async def test_replicas_sharing_redis_all_drain_the_queues_and_send_each_notification_once(
    tmp_path: Path,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
    bot_redis: RedisSettings,
) -> None:
    async with postgres_schema() as url:
        storage = StorageSettings(url=SecretStr(url))
        async with notifying_app(
            tmp_path, telegram_emulator, portal_emulator, NOTIFY, storage, redis=bot_redis
        ) as first:
            anna = await sign_in(telegram_emulator, ADMIN_TELEGRAM_ID, "Anna", ANNA_PHONE)
            await subscribe(anna)
            telegram_emulator.add_group(GROUP_ID, "Sales", admins=[ADMIN_TELEGRAM_ID])
            await subscribe(anna.in_group(GROUP_ID))
            # The replica that leads nothing processes the events and sends: the leader's own
            # queue workers are stopped, so nothing reaches Telegram unless the follower's do.
            async with follower_taking_events(first, portal_emulator) as second:
                await stop_queue_workers(first)
                leads = [
                    portal_emulator.ui_add_lead({"TITLE": f"Valves {n}", "ASSIGNED_BY_ID": 1}, 1)
                    for n in range(5)
                ]
                for lead_id in leads:
                    await anna.wait_for_message(about(lead_id, "New lead"), timeout=15)
                    await telegram_emulator.wait_for_message(
                        GROUP_ID, about(lead_id, "New lead"), timeout=15
                    )
                outbox = OutboxRepository(second.db)
                await eventually(lambda: _nothing_pending(outbox), timeout=15)
                for lead_id in leads:
                    offers = [m for m in anna.transcript() if about(lead_id, "New lead")(m)]
                    assert len(offers) == 1
                    group = telegram_emulator.transcript(GROUP_ID)
                    assert len([m for m in group if about(lead_id, "New lead")(m)]) == 1
                assert await outbox.count("sent") == 10
                assert second.processor is not None
                assert second.sender is not None
                assert second.processor.leads_read > 0
                assert second.sender.sent == 10
                assert second.leadership is not None
                assert not second.leadership.leading


@pytest.mark.parametrize("bot_redis", ["redis"], indirect=True)
async def test_a_batch_whose_claim_ran_out_while_it_was_read_is_left_to_its_new_holder(
    tmp_path: Path,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
    bot_redis: RedisSettings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="bot.events.processor")
    async with replica_with_anna(tmp_path, telegram_emulator, portal_emulator, bot_redis) as (
        app,
        anna,
    ):
        reading = asyncio.Event()
        go_on = asyncio.Event()

        async def stall(_seconds: float) -> None:
            reading.set()
            await go_on.wait()

        # The replica stalls while the portal answers its read of the batch's leads ...
        portal_emulator.list_server_time = 0.001
        portal_emulator.server_sleep = stall
        lead_id = portal_emulator.ui_add_lead({"TITLE": "Valves", "ASSIGNED_BY_ID": 1}, 1)
        await asyncio.wait_for(reading.wait(), timeout=15)
        portal_emulator.list_server_time = 0.0
        # ... long enough for its claim to run out and another replica to take the batch.
        inbox = InboxRepository(app.db)
        [event] = await inbox.unprocessed()
        async with app.db.transaction() as conn:
            await execute(
                conn,
                "UPDATE inbox SET claimed_by = ?, claimed_until = ? WHERE id = ?",
                ("other", to_db_time(utc_now() + timedelta(hours=1)), event.id),
            )
        go_on.set()

        async def warned() -> bool:
            return any("claim on 1 events ran out" in r.getMessage() for r in caplog.records)

        await eventually(warned, timeout=15)
        outbox = OutboxRepository(app.db)
        assert await outbox.count() == 0
        assert [e.id for e in await inbox.unprocessed()] == [event.id]
        assert await inbox.claim("mine-too", 10, timedelta(seconds=6)) == []

        # The other replica lets go (it stopped): this one takes the batch and notifies once.
        await inbox.release("other", [event.id])
        await anna.wait_for_message(about(lead_id, "New lead"), timeout=15)
        await eventually(lambda: _nothing_pending(outbox), timeout=15)
        assert await outbox.count("sent") == 1
        assert len([m for m in anna.transcript() if about(lead_id, "New lead")(m)]) == 1


@pytest.mark.parametrize("bot_redis", ["redis"], indirect=True)
async def test_events_that_come_while_a_replica_waits_for_the_portal_join_its_one_read(
    tmp_path: Path,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
    bot_redis: RedisSettings,
    redis_client: Redis,
    redis_prefix: str,
) -> None:
    async with replica_with_anna(tmp_path, telegram_emulator, portal_emulator, bot_redis) as (
        app,
        anna,
    ):
        leads = [
            portal_emulator.ui_add_lead({"TITLE": f"Pumps {n}", "ASSIGNED_BY_ID": 1}, 1)
            for n in range(2)
        ]
        for lead_id in leads:
            await anna.wait_for_message(about(lead_id, "New lead"), timeout=15)
        processor, portal = app.processor, app.portal
        assert processor is not None
        assert portal is not None
        reads = processor.reads

        # Another replica has spent the shared budget (five requests over the burst: about
        # 3 s at 2/s). This replica last saw it nearly empty, so only its turn tells it.
        other = SharedLeakyBucket(
            redis_client, replica(redis_prefix, "other"), drain_per_second=2.0, burst=50
        )
        await other.fill()
        await redis_client.execute_command(
            "HINCRBYFLOAT", f"{redis_prefix}portal:bucket", "level", 5
        )
        portal_emulator.ui_update_lead(leads[0], {"STATUS_ID": "IN_PROCESS"}, 1)

        async def waiting_for_its_turn() -> bool:
            return portal.limiter.waiting(Lane.BACKGROUND) == 1

        await eventually(waiting_for_its_turn)
        portal_emulator.ui_update_lead(leads[1], {"STATUS_ID": "IN_PROCESS"}, 1)
        for lead_id in leads:
            await anna.wait_for_message(about(lead_id, "Stage:"), timeout=15)
        assert processor.reads == reads + 1  # both changes in the read the wait was for


@asynccontextmanager
async def replica_with_anna(
    tmp_path: Path,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
    bot_redis: RedisSettings,
) -> AsyncIterator[tuple[Application, TelegramUser]]:
    """One replica on a fresh PostgreSQL schema and the test's Redis, and Anna signed in and
    following her leads. No catch-up poll after the first: the next lead list the portal
    answers is a batch's read."""
    events = EventsSettings(poll_interval_seconds=3600, coalesce_seconds=0.05)
    async with postgres_schema() as url:
        storage = StorageSettings(url=SecretStr(url))
        async with notifying_app(
            tmp_path,
            telegram_emulator,
            portal_emulator,
            NOTIFY,
            storage,
            redis=bot_redis,
            events=events,
        ) as app:
            anna = await sign_in(telegram_emulator, ADMIN_TELEGRAM_ID, "Anna", ANNA_PHONE)
            await subscribe(anna)
            yield app, anna


@asynccontextmanager
async def follower_taking_events(
    first: Application, portal_emulator: Bitrix24Emulator
) -> AsyncIterator[Application]:
    """A second replica of `first` on its database, which `first` leads; the portal's events
    go to the second from now on. Stopped on the way out."""
    second = Application(first.settings)
    await second.start()
    try:
        assert first.leadership is not None
        assert second.leadership is not None
        assert first.leadership.leading
        assert not second.leadership.leading
        for handler in portal_emulator.event_handlers:
            handler.handler = f"http://127.0.0.1:{second.port}/bitrix/events"
        yield second
    finally:
        await second.stop()


async def stop_queue_workers(app: Application) -> None:
    """Cancel this replica's event processor and outbox sender (its other workers go on)."""
    owners = (app.processor, app.sender)
    running = [
        task
        for task in asyncio.all_tasks()
        if getattr(task.get_coro(), "cr_frame", None) is not None
        and task.get_coro().cr_frame.f_locals.get("self") in owners  # type: ignore[union-attr]
    ]
    assert len(running) == 2
    for task in running:
        task.cancel()
    await asyncio.gather(*running, return_exceptions=True)


async def _nothing_pending(outbox: OutboxRepository) -> bool:
    return await outbox.count("pending") == 0
