"""Mutes: how long each button mutes, who may press it, and what the store answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from bot.access.roles import Identity, Role
from bot.notify.buttons import MuteAction
from bot.notify.mute import may_mute, mute_end
from bot.storage import Database
from bot.storage.mutes import MuteRepository

MSK = timezone(timedelta(hours=3))
REP = Identity(telegram_user_id=100, portal_user_id=2, role=Role.REP)
MANAGER = Identity(telegram_user_id=200, portal_user_id=3, role=Role.MANAGER)


def test_an_hour_is_an_hour_and_today_ends_at_local_midnight() -> None:
    now = datetime(2026, 12, 3, 22, 30, tzinfo=UTC)  # 01:30 on the 4th in Moscow
    assert mute_end(MuteAction.HOUR, now, MSK) == now + timedelta(hours=1)
    assert mute_end(MuteAction.TODAY, now, MSK) == datetime(2026, 12, 5, tzinfo=MSK)
    assert mute_end(MuteAction.TODAY, now, UTC) == datetime(2026, 12, 4, tzinfo=UTC)


def test_a_private_chat_is_muted_by_its_owner_a_group_by_a_manager() -> None:
    assert may_mute(REP, 100, private=True)
    assert not may_mute(REP, 999, private=True)  # a forged press from another account
    assert not may_mute(REP, -4001, private=False)
    assert may_mute(MANAGER, -4001, private=False)


async def test_a_mute_holds_until_its_moment_and_per_topic(db: Database) -> None:
    now = [datetime(2026, 12, 4, 10, tzinfo=UTC)]
    mutes = MuteRepository(db, clock=lambda: now[0])
    until = now[0] + timedelta(hours=1)
    await mutes.mute(-4001, 7, until, 200)
    assert await mutes.muted_until(-4001, 7) == until
    assert await mutes.muted_until(-4001, None) is None  # another topic of the forum
    now[0] = until
    assert await mutes.muted_until(-4001, 7) is None
    assert await mutes.unmute(-4001, 7)
    assert not await mutes.unmute(-4001, 7)
