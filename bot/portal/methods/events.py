"""Event handlers of the application: `event.bind`, `event.unbind`, `event.get`."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from bot.portal.methods.base import PortalMethod
from bot.portal.models import EventHandler
from bot.portal.session import PortalResponse

__all__ = ["BindEvent", "GetEvents", "UnbindEvent"]


class BindEvent(PortalMethod[bool]):
    """`event.bind` (OAuth only; webhooks get WRONG_AUTH_TYPE)."""

    __api_method__: ClassVar[str] = "event.bind"
    __returning__: ClassVar[Any] = bool
    __idempotent__: ClassVar[bool] = False

    event: str
    handler: str | None = None
    auth_type: int | None = None
    event_type: Literal["online", "offline"] = "online"


class UnbindEvent(PortalMethod[int]):
    """`event.unbind`: remove matching handlers; returns how many were removed."""

    __api_method__: ClassVar[str] = "event.unbind"
    __returning__: ClassVar[Any] = int

    event: str
    handler: str | None = None
    auth_type: int | None = None
    event_type: Literal["online", "offline"] = "online"

    def build(self, response: PortalResponse) -> int:
        """`{"count": n}` or a bare number."""
        result = response.result
        if isinstance(result, dict):
            return int(result.get("count", 0))
        return int(result or 0)


class GetEvents(PortalMethod[list[EventHandler]]):
    """`event.get`: the application's registered event handlers."""

    __api_method__: ClassVar[str] = "event.get"
    __returning__: ClassVar[Any] = list[EventHandler]
