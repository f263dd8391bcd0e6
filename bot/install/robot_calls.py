"""Calls of the "Send to Telegram" rule, carried from the portal's POST to its answer.

Each call is one durable record (`robot.call.<hash of the event token>` in the key-value
table), written before the portal gets its 200, and moved on by `RobotCalls`:

- `received`: the lead is read, the recipient found, the message queued in the outbox under
  `robot:<key>` (so the sender's limits, retries and restarts apply, and it goes once);
- `queued`: waits for the outbox row to be sent, given up, or skipped;
- `answer`: `bizproc.event.send` with `delivered` and `error` when the portal waits;
- `done`: kept a week so a re-delivered call is recognised, then pruned.

A crash anywhere leaves the record in its last state, and the next pass goes on from there;
queueing twice under the same outbox key is a no-op.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError

from bot.i18n import DEFAULT_LANGUAGE, Translations, Translator
from bot.notify.buttons import LeadAction, LeadButton
from bot.notify.render import Links
from bot.portal import AccessDeniedError, Lane, NotFoundError, PortalClient, PortalError
from bot.portal.methods import GetLead, SendBizprocEvent
from bot.storage.bindings import BindingRepository
from bot.storage.db import Database
from bot.storage.json_codec import decode_json, encode_json
from bot.storage.outbox import (
    Keyboard,
    MessageButton,
    NewOutboxMessage,
    Notification,
    OutboxRepository,
)
from bot.storage.sql import execute
from bot.storage.subscriptions import SubscriptionRepository
from bot.storage.timestamps import Clock, to_db_time, utc_now

log = logging.getLogger(__name__)

KEY_PREFIX = "robot.call."
OUTBOX_PREFIX = "robot:"
MAX_BODY_CHARS = 3500
"""Characters of the template a message carries (Telegram takes 4096 with the header)."""
MAX_TITLE_CHARS = 200
MAX_ATTEMPTS = 5
"""Portal failures in a row before a call is answered as not delivered."""
KEEP_DONE = timedelta(days=7)
SKIPPED = "skipped: "
IDLE_SECONDS = 5.0


class Recipient(StrEnum):
    """The rule's `recipient` options."""

    RESPONSIBLE = "responsible"
    GROUP = "group"


class CallState(StrEnum):
    """Where a call is on its way (see the module docstring)."""

    RECEIVED = "received"
    QUEUED = "queued"
    ANSWER = "answer"
    DONE = "done"


@dataclass(frozen=True, slots=True)
class RobotCall:
    """One call of the rule and how far it got."""

    key: str
    event_token: str
    waits: bool
    lead_id: int
    recipient: str
    group: str
    template: str
    state: CallState = CallState.RECEIVED
    delivered: bool = False
    error: str = ""
    attempts: int = 0
    done_at: str | None = None

    def __repr__(self) -> str:
        # The event token lets anyone answer for the workflow: never in a log line.
        return f"RobotCall(key={self.key[:8]!r}, lead_id={self.lead_id}, state={self.state})"

    @property
    def outbox_key(self) -> str:
        """The idempotency key of the call's message."""
        return f"{OUTBOX_PREFIX}{self.key}"

    def answered(self, delivered: bool, error: str = "") -> RobotCall:
        """Ready to report the outcome."""
        return replace(self, state=CallState.ANSWER, delivered=delivered, error=error[:500])

    @classmethod
    def from_json(cls, stored: Any) -> RobotCall | None:
        """A stored record; None for anything else (a hand-edited row stays out of the way)."""
        if not isinstance(stored, dict):
            return None
        try:
            return cls(**{**stored, "state": CallState(stored["state"])})
        except (TypeError, ValueError, KeyError):
            return None


class RobotCallStore:
    """The call records, each under its own key of the `kv` table."""

    def __init__(self, db: Database, clock: Clock = utc_now) -> None:
        self._db = db
        self._clock = clock

    async def add(self, call: RobotCall) -> bool:
        """Store a new call durably; False when a call with its key is already there."""
        async with self._db.transaction(durable=True) as conn:
            result = await execute(
                conn,
                "INSERT INTO kv (key, value, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT (key) DO NOTHING",
                (KEY_PREFIX + call.key, encode_json(asdict(call)), to_db_time(self._clock())),
            )
        return result.rowcount == 1

    async def save(self, call: RobotCall) -> None:
        """Record how far the call got."""
        async with self._db.transaction(durable=True) as conn:
            await execute(
                conn,
                "UPDATE kv SET value = ?, updated_at = ? WHERE key = ?",
                (encode_json(asdict(call)), to_db_time(self._clock()), KEY_PREFIX + call.key),
            )

    async def get(self, key: str) -> RobotCall | None:
        """One call by its key."""
        row = await self._db.fetch_one("SELECT value FROM kv WHERE key = ?", (KEY_PREFIX + key,))
        return None if row is None else RobotCall.from_json(decode_json(row["value"]))

    async def open_calls(self) -> list[RobotCall]:
        """Calls not done yet, oldest first; done ones older than a week are pruned."""
        rows = await self._db.fetch_all(
            "SELECT key, value FROM kv WHERE key LIKE ? ORDER BY updated_at, key",
            (KEY_PREFIX + "%",),
        )
        found: list[RobotCall] = []
        stale: list[str] = []
        horizon = self._clock() - KEEP_DONE
        for row in rows:
            call = RobotCall.from_json(decode_json(row["value"]))
            if call is None:
                continue
            if call.state is not CallState.DONE:
                found.append(call)
            elif call.done_at is not None and datetime.fromisoformat(call.done_at) < horizon:
                stale.append(str(row["key"]))
        if stale:
            async with self._db.transaction() as conn:
                for key in stale:
                    await execute(conn, "DELETE FROM kv WHERE key = ?", (key,))
        return found

    async def message_state(self, outbox_key: str) -> tuple[str, str] | None:
        """(state, last error) of the call's outbox row, or None when there is none."""
        row = await self._db.fetch_one(
            "SELECT state, last_error FROM outbox WHERE idempotency_key = ?", (outbox_key,)
        )
        return None if row is None else (str(row["state"]), str(row["last_error"] or ""))


def cut_text(text: str, limit: int) -> tuple[str, int]:
    """`text` up to `limit` characters, and how many were cut off."""
    if len(text) <= limit:
        return text, 0
    return text[:limit], len(text) - limit


def render_robot_message(tr: Translator, lead_id: int, title: str, template: str) -> str:
    """The message (HTML): the lead's header, then the evaluated template, escaped and cut."""
    short_title, _ = cut_text(title, MAX_TITLE_CHARS)
    body, cut = cut_text(template.strip(), MAX_BODY_CHARS)
    lines = [tr.get_html("robot-message", id=str(lead_id), title=short_title), ""]
    if cut:
        lines += [html.escape(body.rstrip()) + "…", tr.get_html("robot-cut", cut=str(cut))]
    else:
        lines.append(html.escape(body))
    return "\n".join(lines)


def robot_buttons(tr: Translator, lead_id: int, links: Links, *, is_group: bool) -> Keyboard:
    """Open the card (the bot's deep link in a group), and the lead in the portal."""
    label = tr.get("notify-open-button")
    card = (
        MessageButton(label, url=links.card_deep_link(lead_id))
        if is_group
        else MessageButton(
            label, callback_data=LeadButton(action=LeadAction.CARD, lead_id=lead_id).pack()
        )
    )
    portal = links.portal_url(lead_id)
    if portal:
        return ((card,), (MessageButton(tr.get("notify-portal-button"), url=portal),))
    return ((card,),)


@dataclass(frozen=True, slots=True)
class _Target:
    chat_id: int
    language: str | None
    subscriber: int | None


class _NotDelivered(Exception):
    """The call ends as not delivered, for the reason given (in the portal's language)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


GroupTitle = Callable[[int], Awaitable[str | None]]
"""The title Telegram shows for a group chat (None when it cannot be read)."""
Names = Callable[[Collection[int]], Awaitable[Mapping[int, str]]]


def telegram_group_title(bot: Bot) -> GroupTitle:
    """Reads a group's title with `getChat`."""

    async def title(chat_id: int) -> str | None:
        try:
            chat = await bot.get_chat(chat_id)
        except TelegramAPIError:
            return None
        return chat.title

    return title


class RobotCalls:
    """Moves every open call on: queue the message, wait for its fate, answer the portal."""

    def __init__(
        self,
        *,
        portal: PortalClient,
        store: RobotCallStore,
        outbox: OutboxRepository,
        bindings: BindingRepository,
        subscriptions: SubscriptionRepository,
        translations: Translations,
        links: Links,
        group_title: GroupTitle,
        names: Names,
        on_queued: Callable[[], None],
        interval: float = 0.5,
        clock: Clock = utc_now,
    ) -> None:
        self._portal = portal
        self._store = store
        self._outbox = outbox
        self._bindings = bindings
        self._subscriptions = subscriptions
        self._translations = translations
        self._portal_tr = translations.for_language(DEFAULT_LANGUAGE)
        self._links = links
        self._group_title = group_title
        self._names = names
        self._on_queued = on_queued
        self._interval = interval
        self._clock = clock
        self._wake = asyncio.Event()
        self.answered = 0

    def wake(self) -> None:
        """A call was stored: look at it now."""
        self._wake.set()

    async def run(self) -> None:
        """Pass over the open calls until cancelled: often while some are open."""
        while True:
            try:
                still_open = await self.pass_once()
            except PortalError as exc:
                log.warning("robot calls: pass failed (%s)", exc.code or type(exc).__name__)
                still_open = 1
            self._wake.clear()
            # Idle, a look every few seconds still finds calls another replica stored.
            wait = self._interval if still_open else IDLE_SECONDS
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self._wake.wait()

    async def pass_once(self) -> int:
        """Move each open call as far as it goes now; returns how many stay open."""
        still_open = 0
        for call in await self._store.open_calls():
            while True:
                moved = await self._advance(call)
                if moved != call:
                    await self._store.save(moved)
                settled = moved.state is call.state
                call = moved
                if settled:
                    break  # waiting, or failed this time: the next pass tries again
            if call.state is not CallState.DONE:
                still_open += 1
        return still_open

    async def _advance(self, call: RobotCall) -> RobotCall:
        if call.state is CallState.RECEIVED:
            return await self._queue(call)
        if call.state is CallState.QUEUED:
            return await self._fate(call)
        if call.state is CallState.ANSWER:
            return await self._answer(call)
        return call

    async def _queue(self, call: RobotCall) -> RobotCall:
        tr = self._portal_tr
        try:
            if not call.template.strip():
                raise _NotDelivered(tr.get("robot-error-empty"))
            try:
                lead = await self._portal(GetLead(id=call.lead_id), lane=Lane.BACKGROUND)
            except NotFoundError:
                raise _NotDelivered(
                    tr.get("robot-error-lead-missing", id=str(call.lead_id))
                ) from None
            if call.recipient == Recipient.RESPONSIBLE:
                target = await self._responsible(lead.assigned_by_id)
            elif call.recipient == Recipient.GROUP:
                target = await self._team_group(call.group)
            else:
                raise _NotDelivered(tr.get("robot-error-recipient"))
        except _NotDelivered as failed:
            log.info("robot call %s for lead %d: not delivered", call.key[:8], call.lead_id)
            return call.answered(False, failed.reason)
        except PortalError as exc:
            if call.attempts + 1 >= MAX_ATTEMPTS:
                return call.answered(False, tr.get("robot-error-portal"))
            log.warning("robot call %s: portal failed (%s)", call.key[:8], exc.code)
            return replace(call, attempts=call.attempts + 1)
        reader = self._translations.for_language(target.language)
        title = lead.title or f"#{call.lead_id}"
        message = NewOutboxMessage(
            idempotency_key=call.outbox_key,
            chat_id=target.chat_id,
            thread_id=None,
            lead_id=call.lead_id,
            notification=Notification(
                text=render_robot_message(reader, call.lead_id, title, call.template),
                buttons=robot_buttons(
                    reader, call.lead_id, self._links, is_group=target.chat_id < 0
                ),
                subscriber=target.subscriber,
                assigned_by_id=lead.assigned_by_id,
                kind="robot",
                # Sent now, not held for working hours: the rule waits for the outcome.
                urgent=True,
                title=title,
            ),
        )
        await self._outbox.add([message])
        self._on_queued()
        return replace(call, state=CallState.QUEUED, attempts=0)

    async def _responsible(self, portal_user_id: int | None) -> _Target:
        tr = self._portal_tr
        if portal_user_id is None:
            raise _NotDelivered(tr.get("robot-error-not-signed-in", name="—"))
        bindings = await self._bindings.find_by_portal_user(portal_user_id)
        if not bindings:
            names = await self._names([portal_user_id])
            name = names.get(portal_user_id, f"#{portal_user_id}")
            raise _NotDelivered(tr.get("robot-error-not-signed-in", name=name))
        for binding in bindings:
            chat = await self._subscriptions.for_chat(binding.telegram_user_id)
            # A private chat whose subscriptions were disabled is gone (the bot was stopped).
            if not any(sub.disabled_reason for sub in chat):
                return _Target(binding.telegram_user_id, binding.language, None)
        names = await self._names([portal_user_id])
        name = names.get(portal_user_id, f"#{portal_user_id}")
        raise _NotDelivered(tr.get("robot-error-notifications-off", name=name))

    async def _team_group(self, group: str) -> _Target:
        tr = self._portal_tr
        if not group:
            raise _NotDelivered(tr.get("robot-error-group-empty"))
        groups: dict[int, tuple[int, str | None]] = {}
        for sub in await self._subscriptions.active():
            if sub.is_group and sub.chat_id not in groups:
                groups[sub.chat_id] = (sub.created_by, sub.language)
        wanted_id = int(group) if group.lstrip("-").isdigit() else None
        if wanted_id is not None:
            found = [chat_id for chat_id in groups if chat_id == wanted_id]
        else:
            found = []
            for chat_id in groups:
                title = await self._group_title(chat_id)
                if title is not None and title.strip().casefold() == group.casefold():
                    found.append(chat_id)
        if not found:
            raise _NotDelivered(tr.get("robot-error-no-group", group=group))
        if len(found) > 1:
            raise _NotDelivered(tr.get("robot-error-two-groups", group=group))
        created_by, language = groups[found[0]]
        # The subscriber is checked again at send time: the group sees only what it may.
        return _Target(found[0], language, created_by)

    async def _fate(self, call: RobotCall) -> RobotCall:
        state = await self._store.message_state(call.outbox_key)
        tr = self._portal_tr
        if state is None:
            return call.answered(False, tr.get("robot-error-not-sent", reason="no message"))
        status, last_error = state
        if status == "pending":
            return call
        if status == "sent" and not last_error.startswith(SKIPPED):
            return call.answered(True)
        reason = last_error.removeprefix(SKIPPED) or status
        return call.answered(False, tr.get("robot-error-not-sent", reason=reason))

    async def _answer(self, call: RobotCall) -> RobotCall:
        done = replace(call, state=CallState.DONE, done_at=self._clock().isoformat())
        if not call.waits:
            return done
        values = {"delivered": "Y" if call.delivered else "N", "error": call.error}
        try:
            await self._portal(
                SendBizprocEvent(
                    event_token=call.event_token,
                    return_values=values,
                    log_message=call.error or None,
                ),
                lane=Lane.BACKGROUND,
            )
        except AccessDeniedError:
            # The workflow no longer waits (its timeout passed, or it was stopped).
            log.warning("robot call %s: the portal no longer takes its answer", call.key[:8])
            return done
        except PortalError as exc:
            if call.attempts + 1 >= MAX_ATTEMPTS:
                log.warning("robot call %s: answer given up (%s)", call.key[:8], exc.code)
                return done
            return replace(call, attempts=call.attempts + 1)
        self.answered += 1
        return done
