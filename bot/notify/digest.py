"""Quiet hours: notifications held outside a chat's working hours, then sent as one digest.

The sender asks `QuietHours` about each subscription message before it goes; what waits is
kept in `held_notifications`. When the chat's window opens, `DigestWorker` turns everything
held for it into one message: counts by kind, the leads that matter most with buttons, and a
link to the rest in the portal. Urgent notifications (see `notify.match.is_urgent`) never wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bot.i18n import DEFAULT_LANGUAGE, Translations, Translator
from bot.notify.buttons import LeadAction, LeadButton
from bot.notify.render import MAX_MESSAGE_LENGTH, Links
from bot.schedule.hours import WorkHours
from bot.schedule.service import HoursService
from bot.storage.held import HeldNotification, HeldRepository
from bot.storage.outbox import (
    Keyboard,
    MessageButton,
    NewOutboxMessage,
    Notification,
    OutboxMessage,
)
from bot.storage.sql import Connection
from bot.storage.subscriptions import EventKind, SubscriptionRepository
from bot.storage.timestamps import Clock, utc_now

log = logging.getLogger(__name__)

TOP_LINES = 10
"""Leads named one by one in a digest; the rest are counted."""

TOP_BUTTONS = 5
"""Leads of the top lines that also get a button."""

TITLE_LENGTH = 60
CHECK_SECONDS = 30.0
"""How often the worker looks for chats whose window has opened."""

_ORDER = (EventKind.ADDED, EventKind.STAGE, EventKind.CHANGED, EventKind.DELETED)
_ICONS = {
    EventKind.ADDED: "🆕",
    EventKind.STAGE: "🔀",
    EventKind.CHANGED: "✏️",
    EventKind.DELETED: "🗑",
}


def _kind(held: HeldNotification) -> EventKind:
    try:
        return EventKind(held.kind or EventKind.CHANGED.value)
    except ValueError:
        return EventKind.CHANGED


def _short(title: str | None, lead_id: int | None) -> str:
    text = (title or "").strip() or (f"#{lead_id}" if lead_id is not None else "—")
    return text if len(text) <= TITLE_LENGTH else text[: TITLE_LENGTH - 1] + "…"


@dataclass(frozen=True, slots=True)
class DigestLead:
    """One lead in a digest: the most important thing that happened to it, and its title."""

    lead_id: int
    kind: EventKind
    title: str | None


def top_leads(held: list[HeldNotification]) -> list[DigestLead]:
    """Each lead once, by its most important kind (new, moved, changed, deleted), newest first."""
    best: dict[int, tuple[int, int, DigestLead]] = {}
    for item in held:
        if item.lead_id is None:
            continue
        kind = _kind(item)
        rank = _ORDER.index(kind)
        known = best.get(item.lead_id)
        title = item.title or (known[2].title if known else None)
        if known is None or rank < known[0] or (rank == known[0] and item.id > known[1]):
            best[item.lead_id] = (rank, item.id, DigestLead(item.lead_id, kind, title))
    ordered = sorted(best.values(), key=lambda entry: (entry[0], -entry[1]))
    return [entry[2] for entry in ordered]


def render_digest(
    tr: Translator,
    held: list[HeldNotification],
    links: Links,
    *,
    is_group: bool,
    since: str,
) -> tuple[str, Keyboard]:
    """The digest message (valid HTML, under Telegram's 4,096 characters) and its buttons."""
    counts = dict.fromkeys(_ORDER, 0)
    for item in held:
        counts[_kind(item)] += 1
    leads = top_leads(held)
    lines = [
        tr.get_html("digest-title", count=len(held), leads=len(leads)),
        tr.get_html("digest-since", since=since),
        tr.get_html(
            "digest-counts",
            fresh=counts[EventKind.ADDED],
            moved=counts[EventKind.STAGE],
            edited=counts[EventKind.CHANGED],
            removed=counts[EventKind.DELETED],
        ),
    ]
    shown = leads[:TOP_LINES]
    if shown:
        lines.append("")
        lines.append(tr.get_html("digest-top"))
        lines.extend(
            tr.get_html(
                "digest-line",
                icon=_ICONS[lead.kind],
                id=str(lead.lead_id),
                title=_short(lead.title, lead.lead_id),
            )
            for lead in shown
        )
    if len(leads) > len(shown):
        lines.append(tr.get_html("digest-more", count=len(leads) - len(shown)))
    text = "\n".join(lines)
    if len(text) > MAX_MESSAGE_LENGTH:  # a translation gone wild: keep the counts only
        text = "\n".join(lines[:3])
    buttons: list[MessageButton] = []
    for lead in shown:
        if lead.kind is EventKind.DELETED or len(buttons) >= TOP_BUTTONS:
            continue
        label = f"📇 #{lead.lead_id}"
        if is_group:
            buttons.append(MessageButton(label, url=links.card_deep_link(lead.lead_id)))
        else:
            data = LeadButton(action=LeadAction.CARD, lead_id=lead.lead_id).pack()
            buttons.append(MessageButton(label, callback_data=data))
    rows: list[tuple[MessageButton, ...]] = [tuple(buttons)] if buttons else []
    portal = links.portal_leads_url()
    if portal is not None:
        rows.append((MessageButton(tr.get("digest-portal-button"), url=portal),))
    return text, tuple(rows)


class QuietHours:
    """Asked by the sender before each subscription message: send now, or hold it?"""

    def __init__(self, hours: HoursService, held: HeldRepository, clock: Clock = utc_now) -> None:
        self._hours = hours
        self._held = held
        self._clock = clock
        self.held = 0

    async def hold_if_off_work(self, row: OutboxMessage) -> bool:
        """Hold a non-urgent subscription message of a quiet chat outside its working hours."""
        notification = row.notification
        if notification.subscriber is None or notification.urgent:
            return False
        hours = await self._hours.quiet_hours_of(row.chat_id, row.thread_id)
        if hours is None or not hours.holds(self._clock()):
            return False
        await self._held.hold(row)
        self.held += 1
        return True

    async def move_chat_in(self, conn: Connection, old_id: int, new_id: int) -> None:
        """A group became a supergroup: its held notifications follow it."""
        await self._held.move_chat_in(conn, old_id, new_id)

    async def drop_chat_in(self, conn: Connection, chat_id: int) -> int:
        """The chat is gone: its held notifications go too."""
        return await self._held.drop_chat_in(conn, chat_id)


class DigestWorker:
    """Sends each chat's digest once its window is open (or it stopped being quiet)."""

    def __init__(
        self,
        *,
        held: HeldRepository,
        hours: HoursService,
        subscriptions: SubscriptionRepository,
        translations: Translations,
        links: Links,
        on_queued: Callable[[], None],
        clock: Clock = utc_now,
        check_seconds: float = CHECK_SECONDS,
    ) -> None:
        self._held = held
        self._hours = hours
        self._subscriptions = subscriptions
        self._translations = translations
        self._links = links
        self._on_queued = on_queued
        self._clock = clock
        self._check_seconds = check_seconds
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Look again now (a chat changed its hours)."""
        self._wake.set()

    async def run(self) -> None:
        """Send due digests until cancelled."""
        while True:
            try:
                await self.send_due()
            except Exception:
                log.exception("digest round failed; trying again shortly")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._check_seconds):
                    await self._wake.wait()
            self._wake.clear()

    async def send_due(self) -> int:
        """Queue a digest for every chat with something held whose window is open now."""
        queued = 0
        now = self._clock()
        for chat in await self._held.chats():
            hours = await self._hours.hours_of(chat.chat_id, chat.thread_id)
            if hours.holds(now):
                continue
            if await self._send(chat.chat_id, chat.thread_id, hours, now):
                queued += 1
        if queued:
            self._on_queued()
        return queued

    async def _send(
        self, chat_id: int, thread_id: int | None, hours: WorkHours, now: datetime
    ) -> bool:
        held = await self._held.of_chat(chat_id, thread_id)
        if not held:
            return False
        tr = await self._translator(chat_id, thread_id)
        since = hours.local(held[0].held_at).strftime("%d.%m %H:%M")
        text, buttons = render_digest(tr, held, self._links, is_group=chat_id < 0, since=since)
        last = held[-1].id
        digest = NewOutboxMessage(
            idempotency_key=f"digest:{chat_id}:{thread_id or 0}:{last}",
            chat_id=chat_id,
            thread_id=thread_id,
            lead_id=None,
            notification=Notification(text=text, buttons=buttons, kind="digest"),
            routine=True,
        )
        await self._held.release(chat_id, thread_id, last, digest)
        log.info("digest of %d notifications queued for chat %d", len(held), chat_id)
        return True

    async def _translator(self, chat_id: int, thread_id: int | None) -> Translator:
        subscriptions = await self._subscriptions.for_chat(chat_id, thread_id)
        language = next((s.language for s in subscriptions if s.language), DEFAULT_LANGUAGE)
        return self._translations.for_language(language)
