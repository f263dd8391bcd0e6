"""Roles and the pure rules of what each role may see and do."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.storage.models import Role

__all__ = ["Action", "Identity", "Role"]


class Action(StrEnum):
    """Actions whose permission depends on the role alone."""

    VIEW_ALL_LEADS = "view_all_leads"
    DELETE_LEAD = "delete_lead"
    ASSIGN_TO_OTHERS = "assign_to_others"
    SUBSCRIBE_GROUP = "subscribe_group"
    MANAGE_BINDINGS = "manage_bindings"
    MANAGE_FIELDS = "manage_fields"
    MANAGE_CARD = "manage_card"


_ALLOWED: dict[Role, frozenset[Action]] = {
    Role.REP: frozenset(),
    Role.MANAGER: frozenset(
        {
            Action.VIEW_ALL_LEADS,
            Action.DELETE_LEAD,
            Action.ASSIGN_TO_OTHERS,
            Action.SUBSCRIBE_GROUP,
        }
    ),
    Role.ADMIN: frozenset(Action),
}


@dataclass(frozen=True, slots=True)
class Identity:
    """A Telegram account bound to an active portal user."""

    telegram_user_id: int
    portal_user_id: int
    role: Role
    name: str = ""

    def may(self, action: Action) -> bool:
        """Whether this identity's role allows `action`."""
        return action in _ALLOWED[self.role]

    def may_see_lead(self, assigned_by_id: int | None) -> bool:
        """Reps see the leads they are responsible for; managers and admins see every lead."""
        if self.may(Action.VIEW_ALL_LEADS):
            return True
        return assigned_by_id is not None and assigned_by_id == self.portal_user_id

    def may_manage_chat(self, chat_id: int, *, private: bool) -> bool:
        """Settings of a chat (mute, working hours): a private chat's own user; in a group,
        whoever may subscribe groups (managers and admins)."""
        if private:
            return self.telegram_user_id == chat_id
        return self.may(Action.SUBSCRIBE_GROUP)
