"""Portal users added after the start are found at once; wrong phones cannot flood the portal."""

from __future__ import annotations

import asyncio
import time

from bot.access.directory import MISS_READ_INTERVAL
from bot.app import Application
from bot.portal.limiter import Lane
from tests.e2e.conftest import sign_in
from tests.emulators.bitrix24 import Bitrix24Emulator
from tests.emulators.telegram import TelegramEmulator

NEWCOMER_PHONE = "+79165550101"


async def test_portal_user_added_after_start_signs_in_at_once(
    running_bot: Application,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    newcomer = portal_emulator.add_user("Nina", "Novikova", personal_mobile=NEWCOMER_PHONE)
    nina = await sign_in(telegram_emulator, 2101, "Nina", NEWCOMER_PHONE)
    signed_in = [m for m in nina.transcript() if "signed in" in (m.text or "")]
    assert signed_in
    assert "Nina Novikova" in (signed_in[-1].text or "")
    assert running_bot.access is not None
    bound = await running_bot.access.identify(2101)
    assert bound is not None
    assert bound.portal_user_id == int(newcomer["ID"])


async def test_responsible_added_after_start_is_named_not_numbered(
    running_bot: Application, portal_emulator: Bitrix24Emulator
) -> None:
    newcomer = portal_emulator.add_user("Oleg", "Orlov")
    assert running_bot.access is not None
    user = await running_bot.access.directory.active_user(int(newcomer["ID"]))
    assert user is not None
    assert user.full_name == "Oleg Orlov"
    reads = portal_emulator.count_calls("batch")
    # An id below the newest one known cannot be a newcomer's: no portal read for it.
    assert await running_bot.access.directory.active_user(4) is None
    assert portal_emulator.count_calls("batch") == reads


async def test_wrong_phones_cost_at_most_one_portal_read_per_interval(
    running_bot: Application,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    reads_before = portal_emulator.count_calls("batch") + portal_emulator.count_calls("user.get")
    attempts = 6
    for attempt in range(attempts):
        # Several accounts: each account alone is throttled by the sign-in limit anyway.
        stranger = telegram_emulator.user(2110 + attempt, "Mallory")
        await stranger.share_contact(f"+7999000{attempt:04d}", first_name="Mallory")
        await stranger.wait_for_message(lambda m: "no active portal user" in (m.text or ""))
    reads = (
        portal_emulator.count_calls("batch")
        + portal_emulator.count_calls("user.get")
        - reads_before
    )
    # One read for the first miss, then at most one more per interval that passed meanwhile.
    allowed = 1 + int((loop.time() - started) // MISS_READ_INTERVAL)
    assert 1 <= reads <= allowed < attempts


async def test_a_starting_bot_reads_its_users_ahead_of_the_workers(
    running_bot: Application,
) -> None:
    # A replica that starts while the others keep the portal's budget spent answers nobody
    # until it has its users: that read goes with the users, not behind the workers.
    assert running_bot.portal is not None
    assert running_bot.access is not None
    limiter = running_bot.portal.limiter
    bucket = limiter.bucket
    bucket.drain_per_second = 0.2  # a slot every 5 s
    bucket.level, bucket.updated_at = bucket.burst + 0.1, time.monotonic()
    worker = asyncio.create_task(limiter.acquire(Lane.BACKGROUND))
    try:
        await asyncio.sleep(0)
        assert limiter.waiting(Lane.BACKGROUND) == 1  # in line first
        await asyncio.wait_for(running_bot.access.directory.start(), timeout=10)
        assert not worker.done()
    finally:
        worker.cancel()
        bucket.drain_per_second = 2.0


async def test_a_refresh_keeps_the_users_it_holds_and_takes_the_changed_ones(
    running_bot: Application, portal_emulator: Bitrix24Emulator
) -> None:
    assert running_bot.access is not None
    directory = running_bot.access.directory
    unchanged, edited = await directory.active_user(1), await directory.active_user(3)
    assert unchanged is not None
    assert edited is not None
    portal_emulator.users[3]["PERSONAL_MOBILE"] = "+79165550999"
    await directory.refresh()
    # Unchanged users are the objects already held: a re-read of a big team holds a second
    # copy only of the users that changed.
    assert await directory.active_user(1) is unchanged
    now = await directory.active_user(3)
    assert now is not None
    assert now is not edited
    assert now.personal_mobile == "+79165550999"
    assert [user.id for user in await directory.users_with_phone("+79165550999")] == [3]
