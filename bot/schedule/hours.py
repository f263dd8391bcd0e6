"""A chat's working hours: which weekdays, from when to when, in which time zone.

Pure logic: every function takes the moment it reasons about, so tests never read the clock.
Moments are aware datetimes (UTC in storage); local times are derived with the zone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

DEFAULT_DAYS: frozenset[int] = frozenset({1, 2, 3, 4, 5})
"""ISO weekdays (Monday is 1) of a working week when nobody set another."""

DEFAULT_START = time(9, 0)
DEFAULT_END = time(18, 0)

_SEARCH_DAYS = 8  # a week and a day: enough to find the next working day of any non-empty set


@dataclass(frozen=True, slots=True)
class WorkHours:
    """When a chat works; `quiet` holds non-urgent notifications outside these hours.

    A window whose end is not after its start runs over midnight (22:00–06:00 is a night
    shift); it belongs to the day it starts on. An empty set of days is never open.
    """

    zone: ZoneInfo
    days: frozenset[int] = field(default=DEFAULT_DAYS)
    start: time = DEFAULT_START
    end: time = DEFAULT_END
    quiet: bool = False

    @property
    def overnight(self) -> bool:
        """The window ends on the next calendar day."""
        return self.end <= self.start

    def local(self, moment: datetime) -> datetime:
        """The moment on this chat's wall clock."""
        return moment.astimezone(self.zone)

    def today(self, moment: datetime) -> date:
        """The calendar day it is for this chat at the moment."""
        return self.local(moment).date()

    def _window_on(self, day: date) -> tuple[datetime, datetime]:
        opens = datetime.combine(day, self.start, tzinfo=self.zone)
        closes_day = day + timedelta(days=1) if self.overnight else day
        closes = datetime.combine(closes_day, self.end, tzinfo=self.zone)
        return opens.astimezone(UTC), closes.astimezone(UTC)

    def is_open(self, moment: datetime) -> bool:
        """Whether the moment falls inside a working window."""
        day = self.today(moment)
        for start_day in (day - timedelta(days=1), day):
            if start_day.isoweekday() not in self.days:
                continue
            opens, closes = self._window_on(start_day)
            if opens <= moment < closes:
                return True
        return False

    def next_opening(self, moment: datetime) -> datetime | None:
        """The first window start after the moment (None when no day is a working day)."""
        day = self.today(moment)
        for offset in range(_SEARCH_DAYS + 1):
            candidate = day + timedelta(days=offset)
            if candidate.isoweekday() not in self.days:
                continue
            opens, _ = self._window_on(candidate)
            if opens > moment:
                return opens
        return None

    def holds(self, moment: datetime) -> bool:
        """Whether a non-urgent notification at the moment waits for the window."""
        return self.quiet and bool(self.days) and not self.is_open(moment)

    def at_local(self, day: date, wall: time) -> datetime:
        """A wall-clock time on a day of this chat, as a UTC moment."""
        return datetime.combine(day, wall, tzinfo=self.zone).astimezone(UTC)


def parse_days(text: str) -> frozenset[int]:
    """ISO weekdays from their storage form "1,2,3" (unknown parts are dropped)."""
    days = set()
    for part in text.split(","):
        part = part.strip()
        if part.isdigit() and 1 <= int(part) <= 7:
            days.add(int(part))
    return frozenset(days)


def format_days(days: frozenset[int]) -> str:
    """The storage form of a set of ISO weekdays."""
    return ",".join(str(day) for day in sorted(days))


def parse_wall_time(text: str) -> time | None:
    """A wall-clock time typed as 9, 9:30, 09.30 or 0930 (None when it is not one)."""
    cleaned = text.strip().replace(".", ":").replace(" ", "")
    if cleaned.isdigit() and len(cleaned) in (3, 4):
        cleaned = f"{cleaned[:-2]}:{cleaned[-2:]}"
    hours, _, minutes = cleaned.partition(":")
    if not hours.isdigit() or (minutes and not minutes.isdigit()) or len(hours) > 2:
        return None
    hour, minute = int(hours), int(minutes or 0)
    if hour > 23 or minute > 59 or len(minutes) not in (0, 2):
        return None
    return time(hour, minute)
