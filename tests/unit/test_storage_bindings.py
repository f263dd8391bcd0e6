"""Bindings of Telegram accounts to portal users."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.storage import Binding, BindingRepository, BindingSource, Database, Role
from tests.fixtures_storage import Backend

BOUND_AT = datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=UTC)


def _rep(telegram_user_id: int = 111, portal_user_id: int = 7) -> Binding:
    return Binding(
        telegram_user_id=telegram_user_id,
        portal_user_id=portal_user_id,
        role=Role.REP,
        bound_via=BindingSource.CONTACT,
        bound_at=BOUND_AT,
        display_name="Ivan Petrov",
    )


async def test_rep_bound_by_contact_reads_back_exactly(db: Database) -> None:
    bindings = BindingRepository(db)
    await bindings.upsert(_rep())
    assert await bindings.get(111) == _rep()
    assert await bindings.get(222) is None


async def test_rebinding_replaces_every_field(db: Database) -> None:
    bindings = BindingRepository(db)
    await bindings.upsert(_rep())
    await bindings.deactivate(111)
    again = Binding(
        telegram_user_id=111,
        portal_user_id=9,
        role=Role.MANAGER,
        bound_via=BindingSource.INVITE,
        bound_at=BOUND_AT.replace(day=2),
        language="ru",
    )
    await bindings.upsert(again)
    assert await bindings.get(111) == again


async def test_admin_promotes_rep_and_user_picks_language(db: Database) -> None:
    bindings = BindingRepository(db)
    await bindings.upsert(_rep())
    assert await bindings.set_role(111, Role.MANAGER)
    assert await bindings.set_language(111, "ru")
    assert await bindings.set_display_name(111, "Ivan P.")
    binding = await bindings.get(111)
    assert binding is not None
    assert (binding.role, binding.language, binding.display_name) == (
        Role.MANAGER,
        "ru",
        "Ivan P.",
    )
    assert await bindings.set_language(111, None)
    binding = await bindings.get(111)
    assert binding is not None
    assert binding.language is None


async def test_changes_to_unbound_account_report_false(db: Database) -> None:
    bindings = BindingRepository(db)
    assert not await bindings.set_role(5, Role.ADMIN)
    assert not await bindings.set_language(5, "en")
    assert not await bindings.deactivate(5)
    assert await bindings.list_bindings(include_inactive=True) == []


async def test_deactivated_binding_is_kept_but_not_listed(db: Database) -> None:
    bindings = BindingRepository(db)
    await bindings.upsert(_rep(111, 7))
    await bindings.upsert(_rep(112, 7))
    await bindings.upsert(_rep(113, 8))
    assert await bindings.deactivate(112)
    assert not await bindings.deactivate(112)

    kept = await bindings.get(112)
    assert kept is not None
    assert not kept.active
    assert [b.telegram_user_id for b in await bindings.list_bindings()] == [111, 113]
    assert [b.telegram_user_id for b in await bindings.list_bindings(include_inactive=True)] == [
        111,
        112,
        113,
    ]
    assert [b.telegram_user_id for b in await bindings.find_by_portal_user(7)] == [111]


async def test_bindings_survive_restart(backend: Backend) -> None:
    async with backend.database() as db:
        await BindingRepository(db).upsert(_rep())
    async with backend.database() as db:
        assert await BindingRepository(db).get(111) == _rep()


async def test_naive_time_is_refused(db: Database) -> None:
    naive = Binding(
        telegram_user_id=1,
        portal_user_id=1,
        role=Role.ADMIN,
        bound_via=BindingSource.CONFIG,
        bound_at=datetime(2026, 1, 1),
    )
    with pytest.raises(ValueError, match="naive"):
        await BindingRepository(db).upsert(naive)


async def test_the_active_list_is_read_again_only_after_a_write(db: Database) -> None:
    first, second = BindingRepository(db), BindingRepository(db)
    await first.upsert(_rep(111, 7))
    await first.upsert(_rep(113, 8))
    listed = await first.list_bindings()
    # Another repository of the same database gets the same objects: nothing was read again.
    again = await second.list_bindings()
    assert again == listed
    assert all(a is b for a, b in zip(again, listed, strict=True))
    again.clear()  # each caller gets a list of its own
    assert len(await first.list_bindings()) == 2
    assert await second.set_role(113, Role.MANAGER)
    changed = await first.list_bindings()
    assert [b.role for b in changed] == [Role.REP, Role.MANAGER]
    assert await second.deactivate(111)
    assert [b.telegram_user_id for b in await first.list_bindings()] == [113]
    # Written behind the repositories' backs (another replica): the revision still tells.
    await db.write_one(
        "UPDATE bindings SET display_name = ? WHERE telegram_user_id = ?", ("Olga", 113)
    )
    assert [b.display_name for b in await first.list_bindings()] == ["Olga"]
