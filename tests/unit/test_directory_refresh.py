"""The directory's timed re-read goes in the routine lane, and lookups answer from the list
held until it is late: a lookup never waits for the several requests of a big team's re-read."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest

from bot.access.directory import (
    LATE_AFTER_TTLS,
    READ_PAGES,
    USERS_PER_PAGE,
    USERS_PER_REQUEST,
    DirectoryUser,
    PortalDirectory,
)
from bot.portal import Lane, PortalClient, PortalUser
from tests.emulators.bitrix24 import Bitrix24Emulator
from tests.fixtures_portal import RecordingLimiter

TTL = 300.0


async def started(
    portal: PortalClient, clock: Callable[[], float] = time.monotonic
) -> PortalDirectory:
    """A directory with the usual ttl, its first users read."""
    directory = PortalDirectory(portal, default_region="RU", ttl=TTL, clock=clock)
    await directory.start()
    return directory


async def test_a_lookup_answers_from_the_list_held_until_the_timed_reread_is_late(
    recorded_portal: tuple[PortalClient, RecordingLimiter], portal_emulator: Bitrix24Emulator
) -> None:
    portal, limiter = recorded_portal
    now = [0.0]
    directory = await started(portal, clock=lambda: now[0])
    held = await directory.active_user(1)
    assert held is not None
    portal_emulator.users[1]["LAST_NAME"] = "Renamed"
    reads = portal_emulator.count_calls("batch")
    now[0] = TTL * 1.5  # the timed re-read is due: the lookup does not do it
    assert await directory.active_user(1) is held
    assert portal_emulator.count_calls("batch") == reads
    now[0] = TTL * LATE_AFTER_TTLS  # it is late (or failing): the lookup re-reads
    current = await directory.active_user(1)
    assert current is not None
    assert "Renamed" in current.full_name
    assert portal_emulator.count_calls("batch") == reads + 1
    assert limiter.lanes[-1] is Lane.BACKGROUND  # somebody waits for that one


async def test_the_timed_reread_goes_in_the_routine_lane(
    recorded_portal: tuple[PortalClient, RecordingLimiter], portal_emulator: Bitrix24Emulator
) -> None:
    portal, limiter = recorded_portal
    directory = await started(portal)
    limiter.lanes.clear()
    portal_emulator.users[1]["LAST_NAME"] = "Renamed"
    await directory.refresh()
    assert limiter.lanes == [Lane.ROUTINE]
    user = await directory.active_user(1)
    assert user is not None
    assert "Renamed" in user.full_name


async def test_a_reread_that_finds_nobody_changed_keeps_the_list_and_its_generation(
    recorded_portal: tuple[PortalClient, RecordingLimiter], portal_emulator: Bitrix24Emulator
) -> None:
    portal, _ = recorded_portal
    directory = await started(portal)
    held = await directory.active_user(1)
    generation = directory.generation
    await directory.refresh()
    assert directory.generation == generation
    assert await directory.active_user(1) is held
    portal_emulator.users[1]["LAST_NAME"] = "Renamed"
    await directory.refresh()
    assert directory.generation == generation + 1
    renamed = directory.generation
    portal_emulator.users[2]["ACTIVE"] = False
    await directory.refresh()
    assert directory.generation == renamed + 1
    assert await directory.active_user(2) is None


async def test_the_reads_nobody_waits_for_go_in_smaller_requests_than_the_first(
    recorded_portal: tuple[PortalClient, RecordingLimiter], portal_emulator: Bitrix24Emulator
) -> None:
    team = USERS_PER_REQUEST + 3 * READ_PAGES * USERS_PER_PAGE
    for number in range(team):
        portal_emulator.add_user(f"User{number}", "Bench", user_id=1000 + number)
    portal, _ = recorded_portal
    directory = PortalDirectory(portal, default_region="RU", ttl=TTL)

    def batch_sizes() -> list[int]:
        batches = [call for call in portal_emulator.calls if call.method == "batch"]
        return [len(call.params["cmd"]) for call in batches]

    await directory.start()  # start-up waits for this one: as many users as one request holds
    assert batch_sizes() == [USERS_PER_REQUEST // USERS_PER_PAGE]
    await directory.complete()
    rest = batch_sizes()[1:]
    assert len(rest) >= 3
    assert rest == [READ_PAGES] * len(rest)
    portal_emulator.calls.clear()
    await directory.refresh()
    assert set(batch_sizes()) == {READ_PAGES}
    everyone = await directory.search("", limit=team + 100)
    assert {user.id for user in everyone} >= set(range(1000, 1000 + team))


async def test_a_reread_lets_the_loop_run_between_pages_of_users(
    recorded_portal: tuple[PortalClient, RecordingLimiter],
    portal_emulator: Bitrix24Emulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for number in range(120):  # three pages of `user.get` in one request
        portal_emulator.add_user(f"User{number}", "Bench", user_id=1000 + number)
    portal, _ = recorded_portal
    directory = PortalDirectory(portal, default_region="RU", ttl=TTL)
    turns = 0

    async def ticking() -> None:
        nonlocal turns
        while True:
            turns += 1
            await asyncio.sleep(0)

    seen_at: list[int] = []
    compare = PortalDirectory._known_if_same

    def known_if_same(self: PortalDirectory, user: DirectoryUser) -> DirectoryUser:
        seen_at.append(turns)
        return compare(self, user)

    monkeypatch.setattr(PortalDirectory, "_known_if_same", known_if_same)
    ticker = asyncio.create_task(ticking())
    try:
        await directory.refresh()
    finally:
        ticker.cancel()
    pages = [seen_at[start : start + USERS_PER_PAGE] for start in range(0, 150, USERS_PER_PAGE)]
    assert len(pages[0]) == len(pages[1]) == USERS_PER_PAGE
    # Each page in a turn of its own: the ticker ran between them.
    assert len(set(pages[0])) == 1
    assert pages[0][0] < pages[1][0] < pages[2][0]


async def test_the_directory_keeps_every_field_the_bot_reads_in_a_record_of_its_own(
    recorded_portal: tuple[PortalClient, RecordingLimiter], portal_emulator: Bitrix24Emulator
) -> None:
    # 10,000 users are held for the whole run: a slotted record, not a validated model with
    # its bookkeeping (an attribute dict and the set of fields given) per user.
    raw = portal_emulator.add_user(
        "Olga",
        "Fieldova",
        user_id=4242,
        email="olga@example.com",
        personal_mobile="+7 999 123-45-67",
        work_phone="+7 495 765-43-21",
        personal_phone="8 (916) 000-11-22",
        work_position="Head of sales",
        time_zone="Asia/Yekaterinburg",
    )
    portal, _ = recorded_portal
    directory = await started(portal)
    held = await directory.active_user(4242)
    assert isinstance(held, DirectoryUser)
    assert not hasattr(held, "__dict__")
    read = PortalUser.model_validate(raw)
    for field in DirectoryUser.__dataclass_fields__:
        assert getattr(held, field) == getattr(read, field), field
    assert held.full_name == read.full_name == "Olga Fieldova"
    assert [u.id for u in await directory.users_with_phone("+79991234567")] == [4242]
    assert [u.id for u in await directory.search("fieldova")] == [4242]
