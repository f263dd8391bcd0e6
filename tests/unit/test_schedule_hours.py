"""Working hours: which moments are inside, when the next window opens, zones and night shifts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from bot.schedule.hours import WorkHours, format_days, parse_days, parse_wall_time
from bot.schedule.service import HoursService, known_zone
from bot.storage import Binding, BindingSource, Database, Role
from bot.storage import hours as hours_storage
from bot.storage.hours import HoursRepository

MOSCOW = ZoneInfo("Europe/Moscow")  # UTC+3, no daylight saving
BERLIN = ZoneInfo("Europe/Berlin")


def utc(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def test_an_office_day_is_open_inside_its_hours_in_its_own_zone() -> None:
    hours = WorkHours(zone=MOSCOW)  # Monday to Friday, 09:00–18:00 Moscow time
    # 2026-12-07 is a Monday. 06:00 UTC is 09:00 in Moscow.
    assert hours.is_open(utc(2026, 12, 7, 6, 0))
    assert not hours.is_open(utc(2026, 12, 7, 5, 59))
    assert hours.is_open(utc(2026, 12, 7, 14, 59))
    assert not hours.is_open(utc(2026, 12, 7, 15, 0))  # 18:00 Moscow: closed
    assert not hours.is_open(utc(2026, 12, 5, 10, 0))  # Saturday


def test_the_next_opening_skips_the_weekend() -> None:
    hours = WorkHours(zone=MOSCOW)
    friday_evening = utc(2026, 12, 4, 16, 0)  # 19:00 Friday in Moscow
    assert hours.next_opening(friday_evening) == utc(2026, 12, 7, 6, 0)
    monday_early = utc(2026, 12, 7, 3, 0)
    assert hours.next_opening(monday_early) == utc(2026, 12, 7, 6, 0)
    assert hours.next_opening(utc(2026, 12, 7, 6, 0)) == utc(2026, 12, 8, 6, 0)


def test_a_night_shift_runs_over_midnight_and_belongs_to_the_day_it_starts() -> None:
    hours = WorkHours(zone=ZoneInfo("UTC"), days=frozenset({5}), start=time(22), end=time(6))
    assert hours.is_open(utc(2026, 12, 4, 23, 0))  # Friday night
    assert hours.is_open(utc(2026, 12, 5, 5, 0))  # Saturday morning: Friday's shift
    assert not hours.is_open(utc(2026, 12, 5, 23, 0))  # Saturday night: not a shift day
    assert not hours.is_open(utc(2026, 12, 4, 5, 0))  # Friday morning: Thursday had none


def test_daylight_saving_moves_the_window_in_utc_but_not_on_the_wall() -> None:
    hours = WorkHours(zone=BERLIN, days=frozenset(range(1, 8)))
    winter = hours.next_opening(utc(2026, 1, 10, 0, 0))
    summer = hours.next_opening(utc(2026, 7, 10, 0, 0))
    assert winter == utc(2026, 1, 10, 8, 0)
    assert summer == utc(2026, 7, 10, 7, 0)


def test_no_working_day_is_never_open_and_holds_nothing() -> None:
    hours = WorkHours(zone=MOSCOW, days=frozenset(), quiet=True)
    assert not hours.is_open(utc(2026, 12, 7, 10, 0))
    assert hours.next_opening(utc(2026, 12, 7, 10, 0)) is None
    assert not hours.holds(utc(2026, 12, 7, 20, 0))


def test_only_a_quiet_chat_holds_notifications_and_only_outside_its_hours() -> None:
    loud = WorkHours(zone=MOSCOW)
    quiet = WorkHours(zone=MOSCOW, quiet=True)
    night = utc(2026, 12, 7, 20, 0)
    assert not loud.holds(night)
    assert quiet.holds(night)
    assert not quiet.holds(utc(2026, 12, 7, 10, 0))


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("9", time(9)),
        ("9:30", time(9, 30)),
        ("09.30", time(9, 30)),
        ("0930", time(9, 30)),
        (" 18:00 ", time(18)),
        ("24:00", None),
        ("9:5", None),
        ("12:60", None),
        ("noon", None),
        ("", None),
        ("123456", None),
    ],
)
def test_wall_times_are_read_as_people_type_them(typed: str, expected: time | None) -> None:
    assert parse_wall_time(typed) == expected


def test_days_round_trip_and_ignore_junk() -> None:
    assert parse_days("1,2,3") == frozenset({1, 2, 3})
    assert parse_days("0,8,x,5, 6") == frozenset({5, 6})
    assert format_days(frozenset({5, 1, 3})) == "1,3,5"


@pytest.mark.parametrize("name", ["Mars/Olympus", "", "../etc/passwd", "/etc/localtime"])
def test_unknown_zones_are_refused(name: str) -> None:
    assert known_zone(name) is None


@pytest.fixture
def service(db: Database) -> HoursService:
    return HoursService(HoursRepository(db), default_zone=MOSCOW)


async def test_a_chat_that_set_nothing_gets_the_bots_zone_and_office_hours(
    service: HoursService,
) -> None:
    hours = await service.hours_of(11)
    assert hours == WorkHours(zone=MOSCOW)


async def test_a_chat_changes_its_zone_days_window_and_quiet_one_by_one(
    service: HoursService,
) -> None:
    assert await service.set_zone(11, None, "Mars/Olympus") is None
    await service.set_zone(11, None, "Europe/Berlin")
    await service.set_days(11, None, frozenset({1, 2, 3, 4, 5, 6}))
    await service.set_window(11, None, time(8, 30), time(17))
    await service.set_quiet(11, None, True)
    hours = await service.hours_of(11)
    assert hours == WorkHours(
        zone=BERLIN, days=frozenset(range(1, 7)), start=time(8, 30), end=time(17), quiet=True
    )
    # A forum topic of a group keeps its own hours; the group itself is untouched.
    await service.set_quiet(-100, 7, True)
    many = await service.hours_of_many([(11, None), (-100, 7), (-100, None)])
    assert many[(11, 0)].zone == BERLIN
    assert many[(-100, 7)].quiet
    assert not many[(-100, 0)].quiet
    assert await service.zone_of(12) == MOSCOW


async def test_a_private_chat_without_a_zone_of_its_own_takes_its_users_portal_zone(
    db: Database,
) -> None:
    profile = {11: "Asia/Novosibirsk", 12: "Mars/Olympus"}

    async def portal_zone(telegram_user_id: int) -> str | None:
        return profile.get(telegram_user_id)

    service = HoursService(HoursRepository(db), default_zone=MOSCOW, portal_zone=portal_zone)
    assert await service.zone_of(11) == ZoneInfo("Asia/Novosibirsk")
    assert await service.zone_of(12) == MOSCOW  # not a zone: the bot's
    assert await service.zone_of(13) == MOSCOW  # nothing in the profile
    assert await service.zone_of(-100) == MOSCOW  # groups have no profile
    await service.set_zone(11, None, "Europe/Berlin")  # the chat's own choice wins
    assert await service.zone_of(11) == BERLIN
    assert await service.quiet_hours_of(11) is None  # not quiet: nothing else is read
    await service.set_quiet(11, None, True)
    quiet = await service.quiet_hours_of(11)
    assert quiet is not None
    assert quiet.zone == BERLIN


def _bound(telegram_user_id: int) -> Binding:
    return Binding(
        telegram_user_id,
        telegram_user_id + 1000,
        Role.REP,
        BindingSource.CONTACT,
        datetime.now(UTC),
    )


@pytest.mark.parametrize("at_once", [True, False], ids=["zones at once", "zone by zone"])
async def test_many_peoples_hours_are_read_together_with_their_portal_zones(
    db: Database, at_once: bool
) -> None:
    profile = {11: "Asia/Novosibirsk", 12: "Mars/Olympus", 14: "Europe/Berlin"}
    asked: list[list[int]] = []

    async def portal_zone(telegram_user_id: int) -> str | None:
        return profile.get(telegram_user_id)

    async def people_zones(people: Sequence[Binding]) -> dict[int, str | None]:
        asked.append([person.telegram_user_id for person in people])
        return {person.telegram_user_id: profile.get(person.telegram_user_id) for person in people}

    service = HoursService(
        HoursRepository(db),
        default_zone=MOSCOW,
        portal_zone=portal_zone,
        people_zones=people_zones if at_once else None,
    )
    await service.set_zone(14, None, "Asia/Tokyo")  # the chat's own choice wins
    await service.set_days(15, None, frozenset({6, 7}))
    people = [_bound(n) for n in range(11, 16)]
    hours = await service.hours_of_people(people)
    assert hours[11].zone == ZoneInfo("Asia/Novosibirsk")
    assert hours[12].zone == MOSCOW  # not a zone: the bot's
    assert hours[13].zone == MOSCOW  # nothing in the profile
    assert hours[14].zone == ZoneInfo("Asia/Tokyo")
    assert hours[15].days == frozenset({6, 7})
    for person in people:
        assert hours[person.telegram_user_id] == await service.hours_of(person.telegram_user_id)
    # Only those without a zone of their own are asked about, all in one call.
    assert asked == ([[11, 12, 13, 15]] if at_once else [])


async def test_chats_read_in_several_statements_give_every_stored_row(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hours_storage, "CHATS_PER_READ", 2)
    repository = HoursRepository(db)
    service = HoursService(repository, default_zone=MOSCOW)
    for chat in (11, 13, 15):
        await service.set_zone(chat, None, "Europe/Berlin")
    stored = await repository.many([(chat, None) for chat in range(11, 16)])
    assert sorted(stored) == [(11, 0), (13, 0), (15, 0)]
    assert all(row.time_zone == "Europe/Berlin" for row in stored.values())
