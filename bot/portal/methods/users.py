"""Portal users: `user.get`, `user.current`."""

from __future__ import annotations

from typing import Any, ClassVar

from bot.portal.methods.base import PortalMethod
from bot.portal.models import PortalUser

__all__ = ["GetCurrentUser", "GetUsers"]


class GetUsers(PortalMethod[list[PortalUser]]):
    """`user.get`: one page (50) of users matching `filter` (e.g. `{"ACTIVE": True}`), by ID."""

    __api_method__: ClassVar[str] = "user.get"
    __returning__: ClassVar[Any] = list[PortalUser]

    filter: dict[str, Any] | None = None
    start: int = 0

    def params(self) -> dict[str, Any]:
        """`user.get` takes `FILTER`, `sort` and `order` in its own spelling."""
        params: dict[str, Any] = {"start": self.start, "sort": "ID", "order": "ASC"}
        if self.filter:
            params["FILTER"] = dict(self.filter)
        return params


class GetCurrentUser(PortalMethod[PortalUser]):
    """`user.current`: the portal user behind the credentials."""

    __api_method__: ClassVar[str] = "user.current"
    __returning__: ClassVar[Any] = PortalUser
