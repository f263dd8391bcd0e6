"""The quick choices of a follow-up, picked moments, snoozes and "today", in the user's zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from bot.followups.times import (
    QuickChoice,
    Snooze,
    day_bounds,
    local_text,
    picked_moment,
    quick_choices,
    quick_moment,
    snoozed,
)

MOSCOW = ZoneInfo("Europe/Moscow")
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def test_quick_choices_are_wall_clock_times_in_the_users_zone() -> None:
    now = datetime(2026, 12, 4, 9, 20, tzinfo=UTC)  # 12:20 in Moscow
    assert quick_moment(QuickChoice.IN_HOUR, now, MOSCOW) == datetime(
        2026, 12, 4, 10, 20, tzinfo=UTC
    )
    assert quick_moment(QuickChoice.TODAY_EVENING, now, MOSCOW) == datetime(
        2026, 12, 4, 15, 0, tzinfo=UTC
    )
    assert quick_moment(QuickChoice.TOMORROW_MORNING, now, MOSCOW) == datetime(
        2026, 12, 5, 7, 0, tzinfo=UTC
    )
    assert quick_moment(QuickChoice.IN_THREE_DAYS, now, MOSCOW) == datetime(
        2026, 12, 7, 7, 0, tzinfo=UTC
    )


def test_today_evening_is_left_out_once_18_00_has_passed() -> None:
    before = datetime(2026, 12, 4, 14, 59, tzinfo=UTC)  # 17:59 in Moscow
    after = datetime(2026, 12, 4, 15, 0, tzinfo=UTC)  # 18:00 sharp: not ahead any more
    assert QuickChoice.TODAY_EVENING in quick_choices(before, MOSCOW)
    assert quick_moment(QuickChoice.TODAY_EVENING, after, MOSCOW) is None
    assert quick_choices(after, MOSCOW) == [
        QuickChoice.IN_HOUR,
        QuickChoice.TOMORROW_MORNING,
        QuickChoice.IN_THREE_DAYS,
    ]


def test_the_local_day_decides_tomorrow_not_the_utc_day() -> None:
    # 23:30 on 4 December in New York is already 5 December in UTC.
    now = datetime(2026, 12, 5, 4, 30, tzinfo=UTC)
    assert quick_moment(QuickChoice.TOMORROW_MORNING, now, NEW_YORK) == datetime(
        2026, 12, 5, 15, 0, tzinfo=UTC
    )
    assert quick_moment(QuickChoice.TODAY_EVENING, now, NEW_YORK) is None


def test_tomorrow_10_00_across_a_dst_change_keeps_the_local_hour() -> None:
    # Berlin leaves summer time in the night to 25 October 2026: 10:00 is 08:00 UTC before,
    # 09:00 UTC after.
    now = datetime(2026, 10, 24, 12, 0, tzinfo=UTC)
    assert quick_moment(QuickChoice.TOMORROW_MORNING, now, BERLIN) == datetime(
        2026, 10, 25, 9, 0, tzinfo=UTC
    )
    assert quick_moment(QuickChoice.IN_THREE_DAYS, now, BERLIN) == datetime(
        2026, 10, 27, 9, 0, tzinfo=UTC
    )
    # "In an hour" is an hour of real time, whatever the wall clock does.
    night = datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # 02:30 CEST, an hour before the change
    assert quick_moment(QuickChoice.IN_HOUR, night, BERLIN) == datetime(
        2026, 10, 25, 1, 30, tzinfo=UTC
    )


def test_a_wall_time_skipped_by_spring_forward_moves_forward_by_the_gap() -> None:
    now = datetime(2026, 3, 28, 12, 0, tzinfo=UTC)
    # 02:30 does not exist in Berlin on 29 March 2026; it becomes 03:30 CEST (01:30 UTC).
    moment = picked_moment(date(2026, 3, 29), time(2, 30), now, BERLIN)
    assert moment == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    assert moment.astimezone(BERLIN).strftime("%H:%M") == "03:30"


def test_a_picked_moment_must_be_in_the_future() -> None:
    now = datetime(2026, 12, 4, 11, 0, tzinfo=UTC)  # 14:00 in Moscow
    assert picked_moment(date(2026, 12, 4), time(14, 0), now, MOSCOW) is None
    assert picked_moment(date(2026, 12, 3), time(18, 0), now, MOSCOW) is None
    assert picked_moment(date(2026, 12, 4), time(14, 30), now, MOSCOW) == datetime(
        2026, 12, 4, 11, 30, tzinfo=UTC
    )


def test_snoozes_count_from_now() -> None:
    now = datetime(2026, 12, 4, 20, 50, tzinfo=UTC)  # 23:50 in Moscow
    assert snoozed(Snooze.MINUTES_15, now, MOSCOW) == datetime(2026, 12, 4, 21, 5, tzinfo=UTC)
    assert snoozed(Snooze.HOUR, now, MOSCOW) == datetime(2026, 12, 4, 21, 50, tzinfo=UTC)
    assert snoozed(Snooze.TOMORROW_MORNING, now, MOSCOW) == datetime(2026, 12, 5, 7, 0, tzinfo=UTC)


def test_today_is_the_users_calendar_day() -> None:
    now = datetime(2026, 12, 4, 22, 0, tzinfo=UTC)  # already 5 December, 01:00, in Moscow
    assert day_bounds(now, MOSCOW) == (
        datetime(2026, 12, 4, 21, 0, tzinfo=UTC),
        datetime(2026, 12, 5, 21, 0, tzinfo=UTC),
    )


def test_due_moments_are_shown_on_the_users_wall_clock() -> None:
    now = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
    assert local_text(datetime(2026, 12, 4, 15, 0, tzinfo=UTC), MOSCOW, now) == "18:00"
    assert local_text(datetime(2026, 12, 5, 7, 0, tzinfo=UTC), MOSCOW, now) == "05.12 10:00"
    assert local_text(datetime(2027, 1, 5, 7, 0, tzinfo=UTC), MOSCOW, now) == "05.01.2027 10:00"
