"""Event handlers of the application: `event.bind`, `event.unbind`, `event.get`, and the
offline queue: `event.offline.get`, `event.offline.clear`, `event.offline.error`."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from bot.portal.methods.base import PortalMethod
from bot.portal.models import EventHandler, OfflineEvent, OfflineEvents
from bot.portal.session import PortalResponse

__all__ = [
    "BindEvent",
    "ClearOfflineEvents",
    "FailOfflineEvents",
    "GetEvents",
    "GetOfflineEvents",
    "ListOfflineEvents",
    "UnbindEvent",
]


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


class GetOfflineEvents(PortalMethod[OfflineEvents]):
    """`event.offline.get` (admin OAuth token only; others get 403 ACCESS_DENIED).

    `clear=0` reserves the records under a new `process_id` instead of deleting them (needs the
    portal's extended offline events, else WRONG_LICENSE); `process_id` reads a reservation
    again. Not idempotent: each call without `process_id` reserves a fresh set.
    """

    __api_method__: ClassVar[str] = "event.offline.get"
    __returning__: ClassVar[Any] = OfflineEvents
    __idempotent__: ClassVar[bool] = False

    clear: Literal[0, 1] = 0
    process_id: str | None = None
    limit: int | None = None


class ListOfflineEvents(PortalMethod[list[OfflineEvent]]):
    """`event.offline.list`: a read-only page of 50 queue records, with their reservations."""

    __api_method__: ClassVar[str] = "event.offline.list"
    __returning__: ClassVar[Any] = list[OfflineEvent]

    order: dict[str, str] | None = None
    start: int | None = None


class ClearOfflineEvents(PortalMethod[bool]):
    """`event.offline.clear`: delete the records reserved under `process_id` (or the listed)."""

    __api_method__: ClassVar[str] = "event.offline.clear"
    __returning__: ClassVar[Any] = bool

    process_id: str
    id: list[int] | None = None
    message_id: list[str] | None = None


class FailOfflineEvents(PortalMethod[bool]):
    """`event.offline.error`: move reserved records out of the queue, marked as errors."""

    __api_method__: ClassVar[str] = "event.offline.error"
    __returning__: ClassVar[Any] = bool

    process_id: str
    message_id: list[str]
