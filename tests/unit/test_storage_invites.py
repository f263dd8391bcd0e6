"""One-time invites: single use, expiry, revocation, only hashes stored."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.storage import (
    BindingRepository,
    BindingSource,
    Database,
    Invite,
    InviteRepository,
    RedeemFailure,
    Role,
    SqliteDatabase,
)
from bot.storage.invites import hash_token

ADMIN = 1
REP_TELEGRAM = 555
TTL = timedelta(hours=1)


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def invites(db: Database, clock: FakeClock) -> InviteRepository:
    return InviteRepository(db, clock)


async def test_rep_redeems_invite_and_is_bound_with_its_role(
    db: Database, invites: InviteRepository, clock: FakeClock
) -> None:
    issued = await invites.create(portal_user_id=7, role=Role.MANAGER, created_by=ADMIN, ttl=TTL)
    assert issued.invite.expires_at == clock.now + TTL
    clock.advance(timedelta(minutes=5))

    redeemed = await invites.redeem(issued.token, REP_TELEGRAM, display_name="Olga", language="ru")

    assert isinstance(redeemed, Invite)
    assert (redeemed.used_at, redeemed.used_by) == (clock.now, REP_TELEGRAM)
    assert await invites.get(issued.invite.id) == redeemed
    binding = await BindingRepository(db).get(REP_TELEGRAM)
    assert binding is not None
    assert (binding.portal_user_id, binding.role, binding.bound_via) == (
        7,
        Role.MANAGER,
        BindingSource.INVITE,
    )
    assert (binding.display_name, binding.language, binding.bound_at) == ("Olga", "ru", clock.now)


async def test_invite_works_only_once(invites: InviteRepository) -> None:
    issued = await invites.create(7, Role.REP, ADMIN, TTL)
    assert isinstance(await invites.redeem(issued.token, REP_TELEGRAM), Invite)
    assert await invites.redeem(issued.token, 999) is RedeemFailure.USED


async def test_concurrent_redeems_have_one_winner(invites: InviteRepository) -> None:
    issued = await invites.create(7, Role.REP, ADMIN, TTL)
    results = await asyncio.gather(*(invites.redeem(issued.token, 1000 + i) for i in range(10)))
    assert sum(isinstance(result, Invite) for result in results) == 1
    assert results.count(RedeemFailure.USED) == 9


async def test_expired_invite_is_refused_and_binds_nobody(
    db: Database, invites: InviteRepository, clock: FakeClock
) -> None:
    issued = await invites.create(7, Role.REP, ADMIN, TTL)
    clock.advance(TTL - timedelta(microseconds=1))
    assert issued.invite in await invites.list_pending()
    clock.advance(timedelta(microseconds=1))
    assert await invites.redeem(issued.token, REP_TELEGRAM) is RedeemFailure.EXPIRED
    assert await invites.list_pending() == []
    assert await BindingRepository(db).get(REP_TELEGRAM) is None


async def test_revoked_invite_is_refused(invites: InviteRepository) -> None:
    issued = await invites.create(7, Role.REP, ADMIN, TTL)
    assert await invites.revoke(issued.invite.id)
    assert not await invites.revoke(issued.invite.id)
    assert await invites.redeem(issued.token, REP_TELEGRAM) is RedeemFailure.REVOKED


async def test_used_invite_cannot_be_revoked(invites: InviteRepository) -> None:
    issued = await invites.create(7, Role.REP, ADMIN, TTL)
    await invites.redeem(issued.token, REP_TELEGRAM)
    assert not await invites.revoke(issued.invite.id)
    assert await invites.redeem(issued.token, REP_TELEGRAM) is RedeemFailure.USED


async def test_unknown_token_is_refused(invites: InviteRepository) -> None:
    await invites.create(7, Role.REP, ADMIN, TTL)
    assert await invites.redeem("not-a-token", REP_TELEGRAM) is RedeemFailure.UNKNOWN
    assert await invites.redeem("", REP_TELEGRAM) is RedeemFailure.UNKNOWN


async def test_pending_list_shows_only_redeemable_invites(
    invites: InviteRepository, clock: FakeClock
) -> None:
    used = await invites.create(1, Role.REP, ADMIN, TTL)
    revoked = await invites.create(2, Role.REP, ADMIN, TTL)
    short = await invites.create(3, Role.REP, ADMIN, timedelta(minutes=1))
    pending = await invites.create(4, Role.ADMIN, ADMIN, TTL)
    await invites.redeem(used.token, REP_TELEGRAM)
    await invites.revoke(revoked.invite.id)
    clock.advance(timedelta(minutes=2))
    assert await invites.list_pending() == [pending.invite]
    assert short.invite.is_pending(short.invite.created_at)
    assert not short.invite.is_pending(clock.now)


async def test_tokens_are_long_random_and_deep_link_safe(invites: InviteRepository) -> None:
    tokens = {(await invites.create(7, Role.REP, ADMIN, TTL)).token for _ in range(20)}
    assert len(tokens) == 20
    for token in tokens:
        # 32 random bytes in URL-safe base64; Telegram allows 64 chars of [A-Za-z0-9_-].
        assert len(token) == 43
        assert token.replace("-", "").replace("_", "").isalnum()


def _all_bytes_under(folder: Path) -> bytes:
    # The database file plus any WAL or journal left beside it.
    return b"".join(p.read_bytes() for p in folder.iterdir() if p.is_file())


async def test_only_the_hash_reaches_the_database_file(tmp_path: Path, clock: FakeClock) -> None:
    async with SqliteDatabase(tmp_path / "bot.sqlite3") as db:
        issued = await InviteRepository(db, clock).create(7, Role.REP, ADMIN, TTL)
        assert issued.token not in repr(issued)
    stored = _all_bytes_under(tmp_path)
    assert hash_token(issued.token).encode() in stored
    assert issued.token.encode() not in stored


async def test_non_positive_ttl_is_a_programming_error(invites: InviteRepository) -> None:
    with pytest.raises(ValueError, match="ttl"):
        await invites.create(7, Role.REP, ADMIN, timedelta(0))
