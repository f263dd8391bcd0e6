"""Muting notifications from a button: for an hour, or until midnight in the chat's time zone."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta, tzinfo

from bot.access.roles import Identity
from bot.notify.buttons import MuteAction
from bot.storage.mutes import MuteRepository

MUTE_HOUR = timedelta(hours=1)

ChatZone = Callable[[int, int | None], Awaitable[tzinfo]]
"""The time zone a chat (or forum topic) counts its days in."""


@dataclass(frozen=True, slots=True)
class MuteResult:
    """How a press ended: the locale key of the answer, and the mute's end if one is on."""

    key: str
    until: datetime | None = None
    local_until: str = ""
    """`until` on the chat's own clock, as the answer says it."""


def mute_end(action: MuteAction, now: datetime, zone: tzinfo) -> datetime:
    """An hour from now, or the next midnight in `zone`."""
    if action is MuteAction.HOUR:
        return now + MUTE_HOUR
    local = now.astimezone(zone)
    return datetime.combine(local.date() + timedelta(days=1), time.min, tzinfo=zone)


def may_mute(identity: Identity, chat_id: int, *, private: bool) -> bool:
    """A private chat's own user; in a group, whoever may subscribe groups (managers)."""
    return identity.may_manage_chat(chat_id, private=private)


class MuteService:
    """Mutes and unmutes chats; the sender skips a muted chat's notifications."""

    def __init__(
        self,
        mutes: MuteRepository,
        *,
        zone: tzinfo,
        clock: Callable[[], datetime],
        chat_zone: ChatZone | None = None,
    ) -> None:
        self._mutes = mutes
        self._zone = zone
        self._clock = clock
        self._chat_zone = chat_zone

    async def _zone_of(self, chat_id: int, thread_id: int | None) -> tzinfo:
        if self._chat_zone is None:
            return self._zone
        return await self._chat_zone(chat_id, thread_id)

    async def press(
        self,
        identity: Identity,
        action: MuteAction,
        *,
        chat_id: int,
        thread_id: int | None,
        private: bool,
    ) -> MuteResult:
        """Mute or unmute the chat the button is in, if the presser may."""
        if not may_mute(identity, chat_id, private=private):
            return MuteResult("notify-mute-refused")
        if action is MuteAction.OFF:
            await self._mutes.unmute(chat_id, thread_id)
            return MuteResult("notify-mute-off")
        zone = await self._zone_of(chat_id, thread_id)
        until = mute_end(action, self._clock(), zone)
        await self._mutes.mute(chat_id, thread_id, until, identity.telegram_user_id)
        return MuteResult("notify-mute-on", until, local_time(until, zone))


def local_time(moment: datetime, zone: tzinfo) -> str:
    """`HH:MM` in `zone` (midnight reads as 24:00)."""
    local = moment.astimezone(zone)
    return "24:00" if local.time() == time.min else local.strftime("%H:%M")
