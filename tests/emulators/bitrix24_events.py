"""Online event delivery of the Bitrix24 emulator: handlers, form-encoded POSTs, no retries."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from tests.emulators.bitrix24_crm import IdSequence
from tests.emulators.bitrix24_php import build_pairs, http_build_query

LEAD_EVENTS = ("ONCRMLEADADD", "ONCRMLEADUPDATE", "ONCRMLEADDELETE")
LEAD_USERFIELD_EVENTS = (
    "ONCRMLEADUSERFIELDADD",
    "ONCRMLEADUSERFIELDUPDATE",
    "ONCRMLEADUSERFIELDDELETE",
    "ONCRMLEADUSERFIELDSETENUMVALUES",
)
KNOWN_EVENTS = frozenset(
    {
        *LEAD_EVENTS,
        *LEAD_USERFIELD_EVENTS,
        "ONCRMCONTACTADD",
        "ONCRMCONTACTUPDATE",
        "ONCRMCONTACTDELETE",
        "ONCRMDEALADD",
        "ONCRMDEALUPDATE",
        "ONCRMDEALDELETE",
        "ONCRMTIMELINECOMMENTADD",
        "ONAPPTEST",
        "ONAPPINSTALL",
        "ONAPPUNINSTALL",
        "ONOFFLINEEVENT",
    }
)
RETRY_ATTEMPTS = 3


@dataclass
class DeliveredEvent:
    """One POST of an event to a handler (ok=False when it failed)."""

    event: str
    handler_url: str
    event_handler_id: int
    form: dict[str, str]
    ok: bool
    status: int | None = None
    error: str | None = None


@dataclass
class EventHandlerRow:
    """A registered online event handler (outgoing webhook or OAuth app binding)."""

    id: int
    event: str
    handler: str
    kind: str  # "webhook" | "app"
    application_token: str
    auth_type: int = 0


AuthBuilder = Callable[[EventHandlerRow, int], dict[str, Any]]


class EventDispatcher:
    """Queues events for matching handlers and POSTs them from one background worker."""

    def __init__(
        self,
        auth_for: AuthBuilder,
        wall_clock: Callable[[], float],
        lose_events: Callable[[], bool],
        retry_failed: Callable[[], bool],
    ) -> None:
        self.handlers: list[EventHandlerRow] = []
        self.delivered: list[DeliveredEvent] = []
        self.fired: list[tuple[str, dict[str, Any]]] = []
        self.lost: list[tuple[str, str]] = []
        self.outgoing_webhook_tokens: dict[str, list[str]] = {}
        self._auth_for = auth_for
        self._wall_clock = wall_clock
        self._lose_events = lose_events
        self._retry_failed = retry_failed
        self._ids = IdSequence(700)
        self._session: aiohttp.ClientSession | None = None
        self._queue: asyncio.Queue[tuple[EventHandlerRow, str, dict[str, Any], int]] | None = None
        self._worker: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Open the HTTP session and start the worker."""
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        self._queue = asyncio.Queue()
        self._worker = asyncio.create_task(self._work())

    async def stop(self) -> None:
        """Cancel pending deliveries and close the session."""
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None
        if self._session is not None:
            await self._session.close()
            self._session = None
        self._queue = None

    def add_outgoing_webhook(self, handler_url: str, events: Iterable[str]) -> str:
        """Register an outgoing webhook (one handler row per event); returns its token."""
        token = secrets.token_hex(16)
        names = [e.upper() for e in events]
        for name in names:
            self.handlers.append(
                EventHandlerRow(self._ids.take(), name, handler_url, "webhook", token)
            )
        self.outgoing_webhook_tokens[token] = names
        return token

    def bind_app_handler(
        self, event: str, handler_url: str, application_token: str, auth_type: int
    ) -> EventHandlerRow:
        """Add an event.bind row for the OAuth app."""
        row = EventHandlerRow(
            self._ids.take(), event, handler_url, "app", application_token, auth_type
        )
        self.handlers.append(row)
        return row

    def fire(self, event: str, data: dict[str, Any], user_id: int) -> None:
        """Queue an event for every matching handler (delivery happens in the background)."""
        self.fired.append((event, data))
        for handler in self.handlers:
            if handler.event != event:
                continue
            if self._lose_events():
                self.lost.append((event, handler.handler))
                continue
            if self._queue is not None:
                self._queue.put_nowait((handler, event, data, user_id))

    async def drain(self) -> None:
        """Wait until every queued event has been delivered (or has failed)."""
        if self._queue is not None:
            await self._queue.join()

    def payload(
        self, handler: EventHandlerRow, event: str, data: Mapping[str, Any], user_id: int
    ) -> dict[str, Any]:
        """The decoded body of one delivery (§8.2 shape)."""
        return {
            "event": event,
            "event_handler_id": str(handler.id),
            "data": data,
            "ts": str(int(self._wall_clock())),
            "auth": self._auth_for(handler, user_id),
        }

    async def _work(self) -> None:
        assert self._queue is not None
        queue = self._queue
        while True:
            handler, event, data, user_id = await queue.get()
            try:
                await self._deliver(handler, event, data, user_id)
            finally:
                queue.task_done()

    async def _deliver(
        self, handler: EventHandlerRow, event: str, data: Mapping[str, Any], user_id: int
    ) -> None:
        assert self._session is not None
        payload = self.payload(handler, event, data, user_id)
        body = http_build_query(payload).encode()
        form = dict(build_pairs(payload))
        attempts = RETRY_ATTEMPTS if self._retry_failed() else 1
        for attempt in range(attempts):
            status: int | None = None
            error: str | None = None
            try:
                async with self._session.post(
                    handler.handler,
                    data=body,
                    headers={
                        "Content-Type": "application/x-www-form-urlencoded",
                        "User-Agent": "Bitrix24 Webhook Engine",
                    },
                ) as response:
                    status = response.status
                    await response.read()
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                error = type(exc).__name__
            ok = status is not None and 200 <= status < 300
            self.delivered.append(
                DeliveredEvent(event, handler.handler, handler.id, form, ok, status, error)
            )
            if ok:
                return
            if attempt + 1 < attempts:
                await asyncio.sleep(0.05)


@dataclass
class OfflineRecord:
    """One queued offline event (rest_event_offline row)."""

    id: int
    timestamp: float
    event: str
    data: dict[str, Any]
    user_id: int
    message_id: str
    connector: str
    process_id: str = ""
    error: bool = False


class OfflineQueue:
    """Offline events of the app: de-duplicated by MESSAGE_ID, reserved by process_id."""

    def __init__(self, wall_clock: Callable[[], float]) -> None:
        self.records: list[OfflineRecord] = []
        # (event name, connector) pairs the app subscribed to with event_type=offline.
        self.subscriptions: list[tuple[str, str]] = []
        self._ids = IdSequence(1)
        self._wall_clock = wall_clock

    def subscribe(self, event: str, connector: str) -> bool:
        """Add a subscription; False when it already exists."""
        if (event, connector) in self.subscriptions:
            return False
        self.subscriptions.append((event, connector))
        return True

    def unsubscribe(self, event: str, connector: str | None) -> int:
        """Drop matching subscriptions; returns how many."""
        keep = [
            s
            for s in self.subscriptions
            if not (s[0] == event and (connector is None or s[1] == connector))
        ]
        removed = len(self.subscriptions) - len(keep)
        self.subscriptions[:] = keep
        return removed

    def push(
        self, event: str, data: dict[str, Any], user_id: int, origin: tuple[str, str] | None
    ) -> None:
        """Queue for every subscribed connector, except the one that made the change."""
        encoded = json.dumps(data, separators=(",", ":"), sort_keys=True)
        message_id = hashlib.md5(f"{event}|{encoded}".encode()).hexdigest()  # noqa: S324
        for name, connector in self.subscriptions:
            if name != event:
                continue
            if origin is not None and origin == ("app", connector):
                continue
            existing = next(
                (
                    r
                    for r in self.records
                    if r.message_id == message_id
                    and r.connector == connector
                    and not r.process_id
                    and not r.error
                ),
                None,
            )
            if existing is not None:
                existing.timestamp = self._wall_clock()
                continue
            self.records.append(
                OfflineRecord(
                    self._ids.take(),
                    self._wall_clock(),
                    event,
                    data,
                    user_id,
                    message_id,
                    connector,
                )
            )
