"""When a follow-up is due: the quick choices, a picked day and time, snoozes, "today".

Pure functions of an explicit `now` (aware) and the user's zone; results are UTC moments.
Wall-clock times go through the zone on the day they fall on, so a choice made before a DST
change lands on the local hour after it. A wall time that does not exist that day (skipped by a
spring-forward) moves forward by the gap; one that happens twice (fall-back) is the first.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

EVENING = time(18, 0)
MORNING = time(10, 0)
COMMON_HOURS = (time(9, 0), time(10, 0), time(12, 0), time(14, 0), time(16, 0), time(18, 0))
"""The hours offered as buttons after a day is picked."""


class QuickChoice(StrEnum):
    """The one-tap due moments of a new follow-up."""

    IN_HOUR = "h1"
    TODAY_EVENING = "e"
    TOMORROW_MORNING = "t"
    IN_THREE_DAYS = "d3"


class Snooze(StrEnum):
    """How far a reminder's Snooze moves the to-do."""

    MINUTES_15 = "m15"
    HOUR = "h1"
    TOMORROW_MORNING = "t"


def at_local(day: date, wall: time, zone: ZoneInfo) -> datetime:
    """A wall-clock time on a day in the zone, as a UTC moment."""
    return datetime.combine(day, wall, tzinfo=zone).astimezone(UTC)


def local_today(now: datetime, zone: ZoneInfo) -> date:
    """The calendar day it is in the zone."""
    return now.astimezone(zone).date()


def quick_moment(choice: QuickChoice, now: datetime, zone: ZoneInfo) -> datetime | None:
    """The moment a quick choice means now; None when it is already past (today 18:00)."""
    today = local_today(now, zone)
    if choice is QuickChoice.IN_HOUR:
        return (now + timedelta(hours=1)).astimezone(UTC)
    if choice is QuickChoice.TODAY_EVENING:
        moment = at_local(today, EVENING, zone)
        return moment if moment > now else None
    if choice is QuickChoice.TOMORROW_MORNING:
        return at_local(today + timedelta(days=1), MORNING, zone)
    return at_local(today + timedelta(days=3), MORNING, zone)


def quick_choices(now: datetime, zone: ZoneInfo) -> list[QuickChoice]:
    """The quick choices that are still ahead, in the order they are offered."""
    return [choice for choice in QuickChoice if quick_moment(choice, now, zone) is not None]


def picked_moment(day: date, wall: time, now: datetime, zone: ZoneInfo) -> datetime | None:
    """A picked day and time as a moment; None when it is not in the future."""
    moment = at_local(day, wall, zone)
    return moment if moment > now else None


def snoozed(snooze: Snooze, now: datetime, zone: ZoneInfo) -> datetime:
    """The new due moment of a snoozed reminder, counted from `now`."""
    if snooze is Snooze.MINUTES_15:
        return (now + timedelta(minutes=15)).astimezone(UTC)
    if snooze is Snooze.HOUR:
        return (now + timedelta(hours=1)).astimezone(UTC)
    return at_local(local_today(now, zone) + timedelta(days=1), MORNING, zone)


def day_bounds(now: datetime, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """Start and end (exclusive) of the zone's current day, as UTC moments."""
    today = local_today(now, zone)
    return at_local(today, time(0, 0), zone), at_local(today + timedelta(days=1), time(0, 0), zone)


def local_text(moment: datetime, zone: ZoneInfo, now: datetime) -> str:
    """A due moment on the user's wall clock: "14:30" today, else "05.12 14:30"."""
    local = moment.astimezone(zone)
    if local.date() == local_today(now, zone):
        return local.strftime("%H:%M")
    if local.year == now.astimezone(zone).year:
        return local.strftime("%d.%m %H:%M")
    return local.strftime("%d.%m.%Y %H:%M")
