"""Each chat's time: its zone (the bot's TIMEZONE unless the chat chose one) and working hours."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from datetime import time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.schedule.hours import (
    DEFAULT_DAYS,
    DEFAULT_END,
    DEFAULT_START,
    WorkHours,
    format_days,
    parse_days,
)
from bot.storage.hours import HoursRepository, StoredHours
from bot.storage.models import Binding

MINUTES_PER_HOUR = 60


def known_zone(name: str) -> ZoneInfo | None:
    """The IANA zone of that name, or None when there is no such zone."""
    cleaned = name.strip()
    if not cleaned or cleaned.startswith(("/", ".")) or ".." in cleaned:
        return None
    try:
        return ZoneInfo(cleaned)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _wall(minute: int | None, default: time) -> time:
    if minute is None:
        return default
    return time(minute // MINUTES_PER_HOUR, minute % MINUTES_PER_HOUR)


def _minute(wall: time) -> int:
    return wall.hour * MINUTES_PER_HOUR + wall.minute


PortalZone = Callable[[int], Awaitable[str | None]]
"""The zone a Telegram user set in their portal profile (None when they set none)."""

PeopleZones = Callable[[Sequence[Binding]], Awaitable[Mapping[int, str | None]]]
"""`PortalZone` of several bound people at once, by Telegram user id, from the bindings the
caller holds."""

YIELD_EVERY = 500
"""People whose hours `hours_of_people` works out before it lets the event loop run."""


class HoursService:
    """Reads and changes a chat's zone and working hours; private chats are their user's.

    A chat's zone is the one it picked; else, for a private chat, its user's portal profile
    zone; else the bot's TIMEZONE.
    """

    def __init__(
        self,
        repository: HoursRepository,
        default_zone: ZoneInfo,
        portal_zone: PortalZone | None = None,
        people_zones: PeopleZones | None = None,
    ) -> None:
        self._repository = repository
        self._default_zone = default_zone
        self._portal_zone = portal_zone
        self._people_zones = people_zones
        self._listeners: list[Callable[[], None]] = []

    def on_change(self, listener: Callable[[], None]) -> None:
        """Call `listener` after any chat changes its hours (e.g. to send a held digest now)."""
        self._listeners.append(listener)

    @property
    def default_zone(self) -> ZoneInfo:
        """The zone of every chat that did not choose one (the TIMEZONE setting)."""
        return self._default_zone

    async def _fallback_zone(self, chat_id: int, stored: StoredHours) -> ZoneInfo:
        if stored.time_zone is None and chat_id > 0 and self._portal_zone is not None:
            zone = known_zone(await self._portal_zone(chat_id) or "")
            if zone is not None:
                return zone
        return self._default_zone

    def _hours(self, stored: StoredHours, fallback: ZoneInfo | None = None) -> WorkHours:
        zone = known_zone(stored.time_zone or "") or fallback or self._default_zone
        days = DEFAULT_DAYS if stored.days is None else parse_days(stored.days)
        return WorkHours(
            zone=zone,
            days=days,
            start=_wall(stored.start_minute, DEFAULT_START),
            end=_wall(stored.end_minute, DEFAULT_END),
            quiet=stored.quiet,
        )

    async def hours_of(self, chat_id: int, thread_id: int | None = None) -> WorkHours:
        """The chat's working hours and zone (defaults where it set nothing)."""
        stored = await self._repository.get(chat_id, thread_id)
        return self._hours(stored, await self._fallback_zone(chat_id, stored))

    async def quiet_hours_of(self, chat_id: int, thread_id: int | None = None) -> WorkHours | None:
        """The chat's hours when it asked for quiet outside them, else None (one cheap read)."""
        stored = await self._repository.get(chat_id, thread_id)
        if not stored.quiet:
            return None
        return self._hours(stored, await self._fallback_zone(chat_id, stored))

    async def hours_of_many(
        self, chats: list[tuple[int, int | None]]
    ) -> dict[tuple[int, int], WorkHours]:
        """Several chats' hours at once, keyed by (chat, topic or 0); every chat asked has one."""
        stored = await self._repository.many(chats)
        found: dict[tuple[int, int], WorkHours] = {}
        for chat, thread in chats:
            row = stored.get((chat, thread or 0), StoredHours())
            found[(chat, thread or 0)] = self._hours(row, await self._fallback_zone(chat, row))
        return found

    async def hours_of_people(self, people: Sequence[Binding]) -> dict[int, WorkHours]:
        """Bound people's hours (their private chats), by Telegram user id, in a few reads.

        For a morning's thousands of people: the stored hours in a few reads, and the portal
        zones of those who chose none at once from their bindings, where one person at a time
        took two reads each.
        """
        ids = [person.telegram_user_id for person in people]
        stored = await self._repository.many([(chat, None) for chat in ids])
        rows = {chat: stored.get((chat, 0), StoredHours()) for chat in ids}
        if self._people_zones is None:
            return {
                chat: self._hours(row, await self._fallback_zone(chat, row))
                for chat, row in rows.items()
            }
        unzoned = [person for person in people if rows[person.telegram_user_id].time_zone is None]
        zones = await self._people_zones(unzoned) if unzoned else {}
        found: dict[int, WorkHours] = {}
        for seen, (chat, row) in enumerate(rows.items(), 1):
            if seen % YIELD_EVERY == 0:
                await asyncio.sleep(0)  # thousands of people: acks go between
            fallback = known_zone(zones.get(chat) or "") or self._default_zone
            found[chat] = self._hours(row, fallback)
        return found

    async def zone_of(self, chat_id: int) -> ZoneInfo:
        """The zone a user (their private chat) or a group counts days in."""
        return (await self.hours_of(chat_id)).zone

    async def _change(
        self, chat_id: int, thread_id: int | None, change: Callable[[StoredHours], StoredHours]
    ) -> WorkHours:
        updated = change(await self._repository.get(chat_id, thread_id))
        await self._repository.save(chat_id, thread_id, updated)
        for listener in self._listeners:
            listener()
        return self._hours(updated)

    async def set_zone(self, chat_id: int, thread_id: int | None, name: str) -> WorkHours | None:
        """Count the chat's days in that zone; None (nothing changed) when it is unknown."""
        zone = known_zone(name)
        if zone is None:
            return None
        return await self._change(chat_id, thread_id, lambda s: replace(s, time_zone=zone.key))

    async def set_days(
        self, chat_id: int, thread_id: int | None, days: frozenset[int]
    ) -> WorkHours:
        """Work on these ISO weekdays (Monday is 1)."""
        return await self._change(chat_id, thread_id, lambda s: replace(s, days=format_days(days)))

    async def set_window(
        self, chat_id: int, thread_id: int | None, start: time, end: time
    ) -> WorkHours:
        """Work from `start` to `end` (an end not after the start runs over midnight)."""
        return await self._change(
            chat_id,
            thread_id,
            lambda s: replace(s, start_minute=_minute(start), end_minute=_minute(end)),
        )

    async def set_quiet(self, chat_id: int, thread_id: int | None, quiet: bool) -> WorkHours:
        """Hold non-urgent notifications outside the working hours (or stop holding them)."""
        return await self._change(chat_id, thread_id, lambda s: replace(s, quiet=quiet))
