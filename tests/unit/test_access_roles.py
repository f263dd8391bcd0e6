"""The role rules: reps see their own leads, managers all, admins everything."""

from __future__ import annotations

import pytest

from bot.access.roles import Action, Identity, Role


def test_rep_sees_only_own_leads() -> None:
    rep = Identity(telegram_user_id=100, portal_user_id=2, role=Role.REP)
    assert rep.may_see_lead(2)
    assert not rep.may_see_lead(3)
    assert not rep.may_see_lead(None)


@pytest.mark.parametrize("role", [Role.MANAGER, Role.ADMIN])
def test_managers_and_admins_see_every_lead(role: Role) -> None:
    boss = Identity(telegram_user_id=100, portal_user_id=2, role=role)
    assert boss.may_see_lead(3)
    assert boss.may_see_lead(None)


def test_only_admins_manage_bindings_and_fields() -> None:
    manager = Identity(telegram_user_id=1, portal_user_id=1, role=Role.MANAGER)
    admin = Identity(telegram_user_id=2, portal_user_id=2, role=Role.ADMIN)
    assert manager.may(Action.DELETE_LEAD)
    assert not manager.may(Action.MANAGE_BINDINGS)
    assert admin.may(Action.MANAGE_BINDINGS)
    assert admin.may(Action.MANAGE_FIELDS)
    rep = Identity(telegram_user_id=3, portal_user_id=3, role=Role.REP)
    assert not any(rep.may(action) for action in Action)
