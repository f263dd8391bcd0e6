"""The processor: inbox events -> one batch read -> diff against snapshots -> outbox rows."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.access.roles import Identity
from bot.access.service import AccessService
from bot.i18n import DEFAULT_LANGUAGE, Translations
from bot.leads.catalog import PortalCatalog
from bot.notify.diff import LeadChange, as_int, diff_lead, snapshot_of
from bot.notify.match import may_receive, subscription_wants
from bot.notify.render import Author, Links, Names, render_buttons, render_text
from bot.portal import (
    AccessDeniedError,
    BatchCommand,
    Lane,
    Lead,
    NotFoundError,
    PortalClient,
    PortalError,
    ValidationError,
)
from bot.storage.db import Database
from bot.storage.inbox import InboxEvent, InboxRepository
from bot.storage.outbox import NewOutboxMessage, OutboxRepository
from bot.storage.snapshots import RecentBotAction, SnapshotRepository
from bot.storage.subscriptions import Subscription, SubscriptionRepository

log = logging.getLogger(__name__)

# A bot action explains a change only if the portal's DATE_MODIFY is this close after it
# (clocks of the bot and the portal differ a little).
ATTRIBUTION_TOLERANCE = timedelta(seconds=15)
# Events per transaction: small enough that the receiver never waits long for the lock.
BATCH_LIMIT = 200
IDLE_CHECK_SECONDS = 5.0


def _is_echo(action: RecentBotAction | None, sub: Subscription) -> bool:
    """The user's own change through the bot, about to be told back to that same user."""
    return action is not None and not sub.is_group and sub.chat_id == action.telegram_user_id


@dataclass(frozen=True, slots=True)
class ProcessorTiming:
    """How long the processor waits: coalescing window, bot-action window, retry delay."""

    coalesce_seconds: float
    echo_window: timedelta
    retry_seconds: float


class EventProcessor:
    """Turns stored events into outbox rows, in the same transaction that marks them done."""

    def __init__(
        self,
        *,
        db: Database,
        portal: PortalClient,
        catalog: PortalCatalog,
        access: AccessService,
        translations: Translations,
        inbox: InboxRepository,
        outbox: OutboxRepository,
        snapshots: SnapshotRepository,
        subscriptions: SubscriptionRepository,
        links: Links,
        timing: ProcessorTiming,
        on_queued: Callable[[], None],
    ) -> None:
        self._db = db
        self._portal = portal
        self._catalog = catalog
        self._access = access
        self._translations = translations
        self._inbox = inbox
        self._outbox = outbox
        self._snapshots = snapshots
        self._subscriptions = subscriptions
        self._links = links
        self._timing = timing
        self._on_queued = on_queued
        self._wake = asyncio.Event()
        self._wake.set()  # leftovers of a previous run first

    def wake(self) -> None:
        """New events are in the inbox."""
        self._wake.set()

    async def run(self) -> None:
        """Process events as they come, until cancelled."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), IDLE_CHECK_SECONDS)
            self._wake.clear()
            # A short pause lets a burst for one lead arrive, so it makes one message.
            await asyncio.sleep(self._timing.coalesce_seconds)
            try:
                while await self.process_once():
                    pass
            except PortalError as exc:
                log.warning("event processing failed (portal %s); retrying", exc.code)
                await asyncio.sleep(self._timing.retry_seconds)
                self._wake.set()

    async def _fetch(self, lead_ids: list[int]) -> dict[int, Lead | None]:
        """Current leads by id (None when the portal no longer has one); one batch per 50.

        Leads the webhook user may not read are left out (their events change nothing).
        """
        if not lead_ids:
            return {}
        commands = {f"l{i}": BatchCommand("crm.lead.get", {"id": i}) for i in lead_ids}
        result = await self._portal.batch(commands, lane=Lane.BACKGROUND)
        leads: dict[int, Lead | None] = {}
        for lead_id in lead_ids:
            key = f"l{lead_id}"
            error = result.errors.get(key)
            if isinstance(error, NotFoundError):
                leads[lead_id] = None
            elif isinstance(error, AccessDeniedError | ValidationError):
                # Not transient: retrying would hold every other event back for good.
                log.warning("lead %d cannot be read (%s); event skipped", lead_id, error.code)
            elif error is not None:
                raise error
            elif key in result.results:
                leads[lead_id] = Lead.model_validate(result.results[key])
            else:
                raise PortalError(f"batch left crm.lead.get {lead_id} unanswered")
        return leads

    async def _names(self, ids: set[int]) -> dict[int, str]:
        names: dict[int, str] = {}
        for user_id in ids:
            try:
                user = await self._access.directory.active_user(user_id)
            except PortalError:
                user = None
            if user is not None and user.full_name:
                names[user_id] = user.full_name
        return names

    async def _identities(self, subscriptions: list[Subscription]) -> dict[int, Identity | None]:
        found: dict[int, Identity | None] = {}
        for sub in subscriptions:
            if sub.created_by not in found:
                found[sub.created_by] = await self._access.identify(sub.created_by)
        return found

    @staticmethod
    def _attributed(action: RecentBotAction | None, lead: dict[str, Any]) -> bool:
        if action is None:
            return False
        modified = lead.get("DATE_MODIFY")
        if not isinstance(modified, str) or not modified:
            return True
        try:
            moment = datetime.fromisoformat(modified)
        except ValueError:
            return True
        return moment <= action.at + ATTRIBUTION_TOLERANCE

    async def process_once(self) -> int:
        """Process up to BATCH_LIMIT stored events; returns how many events it handled."""
        events = await self._inbox.unprocessed(BATCH_LIMIT)
        if not events:
            return 0
        by_lead: dict[int, list[InboxEvent]] = {}
        for event in events:
            if event.lead_id is not None:
                by_lead.setdefault(event.lead_id, []).append(event)
        lead_ids = sorted(by_lead)
        current = await self._fetch(lead_ids)
        stored = await self._snapshots.get_many(lead_ids)
        actions = await self._snapshots.bot_actions_since(lead_ids, self._timing.echo_window)
        subscriptions = await self._subscriptions.active()
        identities = await self._identities(subscriptions)

        changes: list[tuple[LeadChange, int, RecentBotAction | None]] = []
        new_snapshots: dict[int, dict[str, Any] | None] = {}
        for lead_id in lead_ids:
            if lead_id not in current:
                continue
            lead = current[lead_id]
            snapshot = snapshot_of(lead) if lead is not None else None
            new_snapshots[lead_id] = snapshot
            change = diff_lead(lead_id, stored.get(lead_id), snapshot)
            if change is None:
                continue
            action = actions.get(lead_id)
            if not self._attributed(action, change.lead):
                action = None
            last_event = max(e.id for e in by_lead[lead_id])
            changes.append((change, last_event, action))

        messages = await self._messages(changes, subscriptions, identities)
        async with self._db.transaction() as conn:
            kept = {i: snap for i, snap in new_snapshots.items() if snap is not None}
            await self._snapshots.put_many_in(conn, kept)
            for lead_id, snapshot in new_snapshots.items():
                if snapshot is None:
                    await self._snapshots.delete_in(conn, lead_id)
            for message in messages:
                await self._outbox.add_in(conn, message)
            await self._inbox.mark_processed_in(conn, [e.id for e in events])
        if messages:
            self._on_queued()
        return len(events)

    async def _messages(
        self,
        changes: list[tuple[LeadChange, int, RecentBotAction | None]],
        subscriptions: list[Subscription],
        identities: dict[int, Identity | None],
    ) -> list[NewOutboxMessage]:
        if not changes or not subscriptions:
            return []
        user_ids: set[int] = set()
        for change, _, action in changes:
            for key in ("ASSIGNED_BY_ID", "MODIFY_BY_ID"):
                value = as_int(change.lead.get(key))
                if value is not None:
                    user_ids.add(value)
            for item in change.changes:
                for value in (item.old, item.new):
                    if isinstance(value, int):
                        user_ids.add(value)
            if action is not None:
                user_ids.add(action.portal_user_id)
        users = await self._names(user_ids)
        try:
            catalog = await self._catalog.get(lane=Lane.BACKGROUND)
            names = Names(stage=catalog.stage_name, source=catalog.source_name, users=users)
        except PortalError:
            names = Names(stage=lambda v: v or "", source=lambda v: v or "", users=users)

        messages: list[NewOutboxMessage] = []
        for change, last_event, action in changes:
            author = self._author(change, action, names)
            chats_done: set[tuple[int, int | None]] = set()
            for sub in subscriptions:
                target = (sub.chat_id, sub.thread_id)
                if target in chats_done:
                    continue
                identity = identities.get(sub.created_by)
                if identity is None or not subscription_wants(
                    sub, change, identity.portal_user_id
                ):
                    continue
                if not may_receive(identity, sub, change.assigned_by_id):
                    continue
                if (
                    action is not None
                    and not sub.is_group
                    and sub.chat_id == action.telegram_user_id
                ):
                    continue  # the user's own change through the bot is not echoed back
                chats_done.add(target)
                tr = self._translations.for_language(sub.language or DEFAULT_LANGUAGE)
                payload = {
                    "text": render_text(tr, change, names, author),
                    "buttons": render_buttons(tr, change, self._links, is_group=sub.is_group),
                    "subscriber": sub.created_by,
                    "assigned_by_id": change.assigned_by_id,
                    "kind": change.kind.value,
                }
                messages.append(
                    NewOutboxMessage(
                        idempotency_key=f"{change.lead_id}:{last_event}:{sub.chat_id}:"
                        f"{sub.thread_id or 0}",
                        chat_id=sub.chat_id,
                        thread_id=sub.thread_id,
                        lead_id=change.lead_id,
                        payload=payload,
                    )
                )
        return messages

    @staticmethod
    def _author(change: LeadChange, action: RecentBotAction | None, names: Names) -> Author | None:
        if action is not None:
            return Author(names.user(action.portal_user_id), via_bot=True)
        modified_by = change.lead.get("MODIFY_BY_ID")
        if change.kind.value == "deleted" or modified_by in (None, ""):
            return None
        return Author(names.user(modified_by))
