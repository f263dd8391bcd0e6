"""Time in people's terms: working hours, time zones, and the next moment a window opens."""

from bot.schedule.hours import DEFAULT_DAYS, DEFAULT_END, DEFAULT_START, WorkHours

__all__ = ["DEFAULT_DAYS", "DEFAULT_END", "DEFAULT_START", "WorkHours"]
