"""The portal event endpoint: verify, store durably in the inbox, then answer 2xx."""

from __future__ import annotations

import asyncio
import hmac
import logging
import re
from asyncio import Future
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from bot.events.form import MalformedFormError, parse_php_form
from bot.storage.inbox import InboxRepository

log = logging.getLogger(__name__)

LEAD_EVENTS = frozenset({"ONCRMLEADADD", "ONCRMLEADUPDATE", "ONCRMLEADDELETE"})
USERFIELD_EVENTS = frozenset(
    {
        "ONCRMLEADUSERFIELDADD",
        "ONCRMLEADUSERFIELDUPDATE",
        "ONCRMLEADUSERFIELDDELETE",
        "ONCRMLEADUSERFIELDSETENUMVALUES",
    }
)
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
# ASCII digits only, no leading zero, at most 10 digits: `isdigit()` would take "٥" or "²",
# and an id of 2**63 or more does not fit SQLite's INTEGER.
LEAD_ID = re.compile(r"[1-9][0-9]{0,9}")
READ_CHUNK_BYTES = 16 * 1024


class EventRefused(Exception):
    """The event is not from our portal (401) or not an event at all (400)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True, slots=True)
class PortalEvent:
    """A verified portal event as the inbox stores it."""

    event: str
    lead_id: int | None
    handler_id: str
    ts: str
    fields: dict[str, str]

    @property
    def dedup_key(self) -> str:
        """Same event, lead, send time and handler: a repeat of the same delivery."""
        subject = self.lead_id if self.lead_id is not None else self.fields.get("ID", "")
        return f"ev:{self.event}:{subject}:{self.ts}:{self.handler_id}"


@dataclass(frozen=True, slots=True)
class EventCredentials:
    """What a genuine event from our portal carries (member id and domain when configured)."""

    application_token: str
    member_id: str | None = None
    domain: str | None = None


def same_secret(given: Any, expected: str) -> bool:
    # Constant time, so the token cannot be guessed byte by byte from response times.
    return isinstance(given, str) and hmac.compare_digest(given.encode(), expected.encode())


def read_event(form: dict[str, Any], credentials: EventCredentials) -> PortalEvent:
    """Check a decoded body against our portal's credentials and the event shape."""
    auth = form.get("auth")
    if not isinstance(auth, dict):
        raise EventRefused(401, "no auth block")
    token_ok = same_secret(auth.get("application_token"), credentials.application_token)
    member_ok = credentials.member_id is None or same_secret(
        auth.get("member_id"), credentials.member_id
    )
    domain_ok = credentials.domain is None or same_secret(
        str(auth.get("domain", "")).lower(), credentials.domain.lower()
    )
    if not (token_ok and member_ok and domain_ok):
        raise EventRefused(401, "application token, member id or domain does not match")
    event = form.get("event")
    if not isinstance(event, str) or not event:
        raise EventRefused(400, "no event name")
    event = event.upper()
    data = form.get("data")
    fields = data.get("FIELDS") if isinstance(data, dict) else None
    if not isinstance(fields, dict):
        raise EventRefused(400, "no data[FIELDS]")
    flat = {str(k): v for k, v in fields.items() if isinstance(v, str)}
    lead_id: int | None = None
    if event in LEAD_EVENTS:
        raw_id = flat.get("ID", "")
        if LEAD_ID.fullmatch(raw_id) is None:
            raise EventRefused(400, "data[FIELDS][ID] is not a lead id")
        lead_id = int(raw_id)
    ts = form.get("ts", "")
    handler_id = form.get("event_handler_id", "")
    if not isinstance(ts, str) or not isinstance(handler_id, str):
        raise EventRefused(400, "ts or event_handler_id is not a value")
    return PortalEvent(event=event, lead_id=lead_id, handler_id=handler_id, ts=ts, fields=flat)


class EventReceiver:
    """aiohttp handler of `POST <event_path>`: answers 2xx only after the inbox has committed."""

    def __init__(
        self,
        inbox: InboxRepository,
        credentials: EventCredentials | None,
        *,
        max_body_bytes: int,
        on_catalog_changed: Callable[[], None],
        on_stored: Callable[[], None],
    ) -> None:
        self._inbox = inbox
        self._credentials = credentials
        self._max_body = max_body_bytes
        self._on_catalog_changed = on_catalog_changed
        self._on_stored = on_stored
        self.refused = 0
        self._waiting: list[tuple[tuple[str, str, int | None, dict[str, Any]], Future[bool]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def _store(self, event: PortalEvent, payload: dict[str, Any]) -> bool:
        """Store durably; events arriving together share one commit (one disk flush)."""
        item = (event.dedup_key, event.event, event.lead_id, payload)
        if self._writer is None or self._writer.done():
            # Nobody is writing: stored right here when the database can (no trip to its
            # thread, no turn of the loop to wait for), else the usual way below.
            stored = self._inbox.add_now([item])
            if stored is not None:
                return stored[0]
        done: Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_waiting())
        return await done

    async def _write_waiting(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            items = [item for item, _ in batch]
            try:
                stored = self._inbox.add_now(items)
                if stored is None:
                    stored = await self._inbox.add_many(items, durable=True)
            except Exception:
                # One bad event must not fail its neighbours: each gets its own commit, and
                # only the one that fails again answers 5xx (nothing acknowledged is lost).
                if len(batch) > 1:
                    log.warning("group commit of %d events failed; one by one", len(batch))
                await self._write_each(batch)
                continue
            for (_, done), new in zip(batch, stored, strict=True):
                if not done.done():
                    done.set_result(new)

    async def _write_each(
        self, batch: list[tuple[tuple[str, str, int | None, dict[str, Any]], Future[bool]]]
    ) -> None:
        for item, done in batch:
            try:
                [new] = await self._inbox.add_many([item], durable=True)
            except Exception as exc:  # this request answers 5xx; the portal may send it again
                if not done.done():
                    done.set_exception(exc)
                continue
            if not done.done():
                done.set_result(new)

    async def _read_body(self, request: web.Request) -> bytes | None:
        """The whole body however many TCP segments it came in; None when over the cap."""
        chunks: list[bytes] = []
        size = 0
        while True:
            # `read(n)` returns what is buffered (maybe a part); only b"" means the end.
            chunk = await request.content.read(READ_CHUNK_BYTES)
            if not chunk:
                return b"".join(chunks)
            size += len(chunk)
            if size > self._max_body:
                return None
            chunks.append(chunk)

    def _refuse(self, status: int, reason: str, request: web.Request) -> web.Response:
        self.refused += 1
        log.warning("portal event refused (%d %s) from %s", status, reason, request.remote)
        return web.json_response({"ok": False, "error": reason}, status=status)

    async def handle(self, request: web.Request) -> web.Response:
        """Verify and store one event."""
        if self._credentials is None:
            return self._refuse(401, "events are not configured (polling only)", request)
        if request.content_type != FORM_CONTENT_TYPE:
            return self._refuse(415, "expected a form-encoded body", request)
        if request.content_length is not None and request.content_length > self._max_body:
            return self._refuse(413, "body too large", request)
        raw = await self._read_body(request)
        if raw is None:
            return self._refuse(413, "body too large", request)
        try:
            event = read_event(parse_php_form(raw.decode("utf-8")), self._credentials)
        except UnicodeDecodeError:
            return self._refuse(400, "body is not UTF-8", request)
        except MalformedFormError as exc:
            return self._refuse(400, str(exc), request)
        except EventRefused as exc:
            return self._refuse(exc.status, exc.reason, request)
        if event.event in USERFIELD_EVENTS:
            self._on_catalog_changed()
        elif event.event not in LEAD_EVENTS:
            # Not ours to handle, but genuine: a 2xx keeps the portal from marking us slow.
            return web.json_response({"ok": True, "ignored": True})
        payload = {"ts": event.ts, "handler_id": event.handler_id, "fields": event.fields}
        stored = await self._store(event, payload)
        if stored:
            self._on_stored()
        return web.json_response({"ok": True, "duplicate": not stored})
