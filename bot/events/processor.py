"""The processor: inbox events -> one batch read -> diff against snapshots -> outbox rows.

It shares the event loop (and the database's one lock) with the endpoint that acknowledges
portal events, so it keeps every transaction short (outbox rows go in chunks with
`executemany`) and yields to the loop between chunks of work.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from bot.events.audience import Audience
from bot.i18n import DEFAULT_LANGUAGE, Translations
from bot.leads.catalog import PortalCatalog
from bot.notify.diff import LeadChange, created_since, diff_lead, snapshot_of
from bot.notify.match import SubscriptionIndex, is_urgent
from bot.notify.render import Author, Links, Names, lead_title, render_buttons, render_text
from bot.portal import (
    AccessDeniedError,
    Lane,
    Lead,
    PortalClient,
    PortalError,
    ValidationError,
)
from bot.portal.coerce import int_or_none
from bot.portal.methods import ListLeads
from bot.speed.rules import created_at
from bot.storage.claims import RowClaims, keep_claimed
from bot.storage.db import DATABASE_ERRORS, Database
from bot.storage.escalations import EscalationRepository, NewWatch
from bot.storage.inbox import InboxEvent, InboxRepository
from bot.storage.kv import KeyValueRepository
from bot.storage.outbox import Keyboard, NewOutboxMessage, Notification, OutboxRepository
from bot.storage.revisions import TableRevisions
from bot.storage.snapshots import RecentBotAction, SnapshotRepository
from bot.storage.subscriptions import EventKind, SubscriptionRepository
from bot.storage.timestamps import Clock, utc_now

log = logging.getLogger(__name__)

# A bot action explains a change only if the portal's DATE_MODIFY is this close after it
# (clocks of the bot and the portal differ a little).
ATTRIBUTION_TOLERANCE = timedelta(seconds=15)
# One `batch` of 50 `crm.lead.list` commands with 50 ids each: 2,500 leads per request.
IDS_PER_COMMAND = 50
COMMANDS_PER_REQUEST = 50
BATCH_LIMIT = IDS_PER_COMMAND * COMMANDS_PER_REQUEST
# Inbox rows read per query and outbox rows written per transaction: each holds the
# database lock (which the event endpoint needs to acknowledge) for a few milliseconds only.
INBOX_PAGE = 500
OUTBOX_CHUNK = 500
# Changes matched and rendered, and leads compared, between two yields to the event loop;
# snapshots stored (and their events marked done) per transaction.
CHANGES_PER_SLICE = 20
DIFFS_PER_SLICE = 200
FINISH_CHUNK = 250
# The subscription index is rebuilt when subscriptions or bindings change, or when a re-read
# of the portal's users found somebody changed (deactivated users drop out); not on a timer:
# with 10,000 subscriptions a rebuild reads 10,000 rows again and makes some 6 MB of objects
# again (subscriptions, identities, the index) while the batch waits. The sender checks every
# reader again when it sends anyway.
IDLE_CHECK_SECONDS = 5.0
SHARED_IDLE_CHECK_SECONDS = 1.0
"""With the inbox shared by several replicas: a batch another replica held when this one looked
may be left by a dead replica, to be taken as soon as its claim runs out."""
WATCHING_SINCE_KEY = "events.watching_since"
ADD_EVENT = "ONCRMLEADADD"
DELETE_EVENT = "ONCRMLEADDELETE"
READ_FIELDS = ("ID", "TITLE", "STATUS_ID", "ASSIGNED_BY_ID", "SOURCE_ID", "OPPORTUNITY",
               "CURRENCY_ID", "NAME", "LAST_NAME", "COMPANY_TITLE", "MODIFY_BY_ID",
               "DATE_MODIFY", "DATE_CREATE")  # fmt: skip


@dataclass(frozen=True, slots=True)
class ProcessorTiming:
    """How long the processor waits: coalescing window, bot-action window, retry delay."""

    coalesce_seconds: float
    echo_window: timedelta
    retry_seconds: float


class ChangeObserver(Protocol):
    """Hears of every change the processor found, before its messages are queued."""

    async def observe(self, changes: Sequence[tuple[LeadChange, int | None]]) -> None:
        """Each change with the portal user who made it through the bot (None: not the bot)."""
        ...


@dataclass(frozen=True, slots=True)
class _Found:
    change: LeadChange
    last_event: int
    action: RecentBotAction | None


class EventProcessor:
    """Turns stored events into outbox rows, then marks the events done with the snapshots."""

    def __init__(
        self,
        *,
        db: Database,
        portal: PortalClient,
        catalog: PortalCatalog,
        audience: Audience,
        translations: Translations,
        inbox: InboxRepository,
        outbox: OutboxRepository,
        snapshots: SnapshotRepository,
        subscriptions: SubscriptionRepository,
        kv: KeyValueRepository,
        links: Links,
        timing: ProcessorTiming,
        on_queued: Callable[[], None],
        clock: Clock = utc_now,
        observer: ChangeObserver | None = None,
        escalations: EscalationRepository | None = None,
        claims: RowClaims | None = None,
    ) -> None:
        self._db = db
        self._portal = portal
        self._catalog = catalog
        self._audience = audience
        self._translations = translations
        self._inbox = inbox
        self._outbox = outbox
        self._snapshots = snapshots
        self._subscriptions = subscriptions
        self._revisions = TableRevisions(db)
        self._kv = kv
        self._links = links
        self._timing = timing
        self._on_queued = on_queued
        self._clock = clock
        self._observer = observer
        self._escalations = escalations
        self._claims = claims
        """Set when the processors of several replicas share the inbox: each claims its events."""
        self._wake = asyncio.Event()
        self._wake.set()  # leftovers of a previous run first
        self._index: SubscriptionIndex | None = None
        self._index_key: tuple[int | None, int | None, int] | None = None
        self._index_lock = asyncio.Lock()
        self._watching_since: datetime | None = None
        self.leads_read = 0
        """Leads read from the portal so far (each lead of each batch counts once)."""
        self.reads = 0
        """Requests that read leads (one per batch of events)."""

    def wake(self) -> None:
        """New events are in the inbox."""
        self._wake.set()

    async def run(self) -> None:
        """Process events as they come, until cancelled."""
        await self.watching_since()
        while True:
            idle = IDLE_CHECK_SECONDS if self._claims is None else SHARED_IDLE_CHECK_SECONDS
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(idle):
                    await self._wake.wait()
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

    async def watching_since(self) -> datetime:
        """When the bot started watching the portal (stored at the first start): a lead
        created before it is not announced as new."""
        if self._watching_since is None:
            stored = await self._kv.get(WATCHING_SINCE_KEY)
            if isinstance(stored, str):
                self._watching_since = datetime.fromisoformat(stored)
            else:
                self._watching_since = self._clock()
                await self._kv.set(
                    WATCHING_SINCE_KEY, self._watching_since.isoformat(), durable=True
                )
        return self._watching_since

    async def _pending(self) -> list[InboxEvent]:
        if self._claims is not None:
            return await self._inbox.claim(self._claims.holder, BATCH_LIMIT, self._claims.lease)
        events: list[InboxEvent] = []
        after = 0
        while len(events) < BATCH_LIMIT:
            page = await self._inbox.unprocessed(min(INBOX_PAGE, BATCH_LIMIT - len(events)), after)
            events.extend(page)
            if len(page) < INBOX_PAGE:
                break
            after = page[-1].id
        return events

    async def _fetch(self, lead_ids: list[int]) -> dict[int, Lead | None]:
        """Current leads by id, up to 2,500 in one request (None: the portal has no such lead).

        Leads a command could not read for good (access, validation) are left out: their
        events change nothing, and retrying would hold every other event back.
        """
        commands: dict[str, ListLeads] = {}
        chunks: dict[str, list[int]] = {}
        for number, start in enumerate(range(0, len(lead_ids), IDS_PER_COMMAND)):
            chunk = lead_ids[start : start + IDS_PER_COMMAND]
            key = f"l{number}"
            chunks[key] = chunk
            commands[key] = ListLeads(
                filter={"@ID": chunk}, select=list(READ_FIELDS), order={"ID": "ASC"}, start=-1
            )
        if not commands:
            return {}
        result = await self._portal.batch(commands, lane=Lane.BACKGROUND)
        self.reads += 1
        self.leads_read += len(lead_ids)
        leads: dict[int, Lead | None] = {}
        for key, chunk in chunks.items():
            error = result.errors.get(key)
            if isinstance(error, AccessDeniedError | ValidationError):
                log.warning("%d leads cannot be read (%s); events skipped", len(chunk), error.code)
                continue
            if error is not None:
                raise error
            if key not in result.results:
                raise PortalError("batch left a crm.lead.list command unanswered")
            page = result.get(key, commands[key])
            found = {lead.id: lead for lead in page.items if lead.id is not None}
            await asyncio.sleep(0)  # parsing 2,500 leads at once would hold the loop
            for lead_id in chunk:
                leads[lead_id] = found.get(lead_id)
        return leads

    @property
    def subscribers_indexed(self) -> int | None:
        """Subscriptions in the index the batches match against (None: not built yet)."""
        return None if self._index is None else self._index.size

    async def prepare(self) -> None:
        """Build the subscribers' index now, once the portal's users are read, so the first
        events after a start do not wait for it (10,000 subscriptions: about half a second
        and 9 MB, kept and rebuilt only when the subscriptions, the bindings or the users
        change)."""
        try:
            await self._subscription_index()
        except PortalError as exc:
            log.warning("subscribers' index not built ahead (portal %s)", exc.code)

    async def _subscription_index(self) -> SubscriptionIndex:
        # One build at a time: `prepare` and a first batch may ask together.
        async with self._index_lock:
            revisions = await self._revisions.current()
            key = (revisions.get("subscriptions"), revisions.get("bindings"))
            if self._index is None or (*key, self._audience.generation) != self._index_key:
                # The generation as it was before the identities were looked up: a re-read
                # that lands meanwhile makes the next batch build the index again.
                generation = self._audience.generation
                subscriptions = await self._subscriptions.active()
                identities = await self._audience.identities({s.created_by for s in subscriptions})
                self._index = SubscriptionIndex(subscriptions, identities)
                self._index_key = (*key, generation)
            return self._index

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
        """Process up to 2,500 stored events; returns how many events it handled.

        The portal's slot for the read is taken before the inbox is read: with the budget
        spent, the read would wait for it anyway, and the events that arrive meanwhile join
        this read instead of waiting for the next one.
        """
        holder = None if self._claims is None else self._claims.holder
        if not await self._inbox.has_unprocessed(claimable_by=holder):
            return 0
        async with self._portal.limiter.reserved(Lane.BACKGROUND):
            return await self._take_and_process()

    async def _take_and_process(self) -> int:
        events = await self._pending()
        if not events:
            return 0
        claims = self._claims
        if claims is None:
            await self._process(events)
            return len(events)
        ids = [event.id for event in events]
        keeper = asyncio.create_task(
            keep_claimed(claims, self._inbox.renew, lambda: ids, "inbox events")
        )
        try:
            await self._process(events)
        except BaseException:
            # Any replica may try these again at once (this one too, after its pause).
            with contextlib.suppress(*DATABASE_ERRORS):
                await asyncio.shield(self._inbox.release(claims.holder, ids))
            raise
        finally:
            keeper.cancel()
        return len(events)

    async def _still_held(self, events: list[InboxEvent]) -> bool:
        """Renew the claim on the batch before its messages are queued; False when it ran out
        meanwhile (this replica stalled past it), and another replica may be on them."""
        claims = self._claims
        if claims is None:
            return True
        ids = [event.id for event in events]
        held = await self._inbox.renew(claims.holder, ids, claims.lease)
        if held == len(ids):
            return True
        log.warning(
            "the claim on %d events ran out before they were done; another replica takes them",
            len(ids) - held,
        )
        # What this replica still holds goes back too: the batch is done again as a whole.
        await self._inbox.release(claims.holder, ids)
        return False

    async def _process(self, events: list[InboxEvent]) -> None:
        by_lead: dict[int, list[InboxEvent]] = {}
        for event in events:
            if event.lead_id is not None:
                by_lead.setdefault(event.lead_id, []).append(event)
        lead_ids = sorted(by_lead)
        current = await self._fetch(lead_ids)
        stored = await self._snapshots.get_many(lead_ids)
        actions = await self._snapshots.bot_actions_since(lead_ids, self._timing.echo_window)
        watching_since = await self.watching_since()

        found: list[_Found] = []
        new_snapshots: dict[int, dict[str, Any] | None] = {}
        for number, lead_id in enumerate(lead_ids):
            if number % DIFFS_PER_SLICE == DIFFS_PER_SLICE - 1:
                await asyncio.sleep(0)
            if lead_id not in current:
                continue
            lead = current[lead_id]
            snapshot = snapshot_of(lead) if lead is not None else None
            new_snapshots[lead_id] = snapshot
            kinds = {e.event for e in by_lead[lead_id]}
            deleted = next(
                (
                    e.payload.get("fields") or {}
                    for e in by_lead[lead_id]
                    if e.event == DELETE_EVENT
                ),
                None,
            )
            is_new = ADD_EVENT in kinds or (
                snapshot is not None and created_since(snapshot, watching_since)
            )
            change = diff_lead(
                lead_id,
                stored.get(lead_id),
                snapshot,
                is_new=is_new,
                deleted=deleted if isinstance(deleted, dict) else None,
            )
            if change is None:
                continue
            action = actions.get(lead_id)
            if not self._attributed(action, change.lead):
                action = None
            found.append(_Found(change, max(e.id for e in by_lead[lead_id]), action))

        if not await self._still_held(events):
            return
        queued = 0
        if found and self._observer is not None:
            await self._observer.observe(
                [
                    (item.change, item.action.portal_user_id if item.action else None)
                    for item in found
                ]
            )
        if found:
            index = await self._subscription_index()
            if index.size:
                names = await self._names(found)
                async for chunk, watches in self._messages(found, index, names):
                    async with self._db.transaction() as conn:
                        await self._outbox.add_many_in(conn, chunk)
                        if watches and self._escalations is not None:
                            # With their messages: a watch never exists without its message.
                            await self._escalations.add_in(conn, (), watches)
                    queued += len(chunk)
                    self._on_queued()  # the sender may start on this chunk already
        await self._finish(events, new_snapshots)
        if queued:
            log.debug("%d events made %d notifications", len(events), queued)

    async def _finish(
        self, events: list[InboxEvent], snapshots: dict[int, dict[str, Any] | None]
    ) -> None:
        """Store the new snapshots and mark the events done, a chunk of leads at a time.

        The outbox rows are committed before: a crash in between processes the events
        again, finds the same changes and makes the same idempotency keys (no repeats);
        once a lead's snapshot is stored, its events are done in the same transaction.
        """
        lead_events: dict[int, list[int]] = {}
        other: list[int] = []
        for event in events:
            if event.lead_id is None:
                other.append(event.id)
            else:
                lead_events.setdefault(event.lead_id, []).append(event.id)
        lead_ids = sorted(lead_events)
        for start in range(0, len(lead_ids), FINISH_CHUNK):
            chunk = lead_ids[start : start + FINISH_CHUNK]
            async with self._db.transaction() as conn:
                kept = {i: snapshots[i] for i in chunk if snapshots.get(i) is not None}
                await self._snapshots.put_many_in(conn, kept)  # type: ignore[arg-type]
                for lead_id in chunk:
                    if lead_id in snapshots and snapshots[lead_id] is None:
                        await self._snapshots.delete_in(conn, lead_id)
                ids = [event_id for lead_id in chunk for event_id in lead_events[lead_id]]
                await self._inbox.mark_processed_in(conn, ids + (other if start == 0 else []))
            await asyncio.sleep(0)
        if not lead_ids and other:
            async with self._db.transaction() as conn:
                await self._inbox.mark_processed_in(conn, other)

    async def _names(self, found: Iterable[_Found]) -> Names:
        user_ids: set[int] = set()
        for item in found:
            for key in ("ASSIGNED_BY_ID", "MODIFY_BY_ID"):
                value = int_or_none(item.change.lead.get(key))
                if value is not None:
                    user_ids.add(value)
            for field_change in item.change.changes:
                for value in (field_change.old, field_change.new):
                    if isinstance(value, int):
                        user_ids.add(value)
            if item.action is not None:
                user_ids.add(item.action.portal_user_id)
        users = dict(await self._audience.names(user_ids))
        try:
            catalog = await self._catalog.get(lane=Lane.BACKGROUND)
            return Names(stage=catalog.stage_name, source=catalog.source_name, users=users)
        except PortalError:
            return Names(stage=lambda v: v or "", source=lambda v: v or "", users=users)

    async def _messages(
        self, found: list[_Found], index: SubscriptionIndex, names: Names
    ) -> AsyncIterator[tuple[list[NewOutboxMessage], list[NewWatch]]]:
        """Outbox rows in chunks of OUTBOX_CHUNK, yielding to the loop between slices, with
        the watches of the new-lead messages of subscriptions that escalate."""
        chunk: list[NewOutboxMessage] = []
        watches: list[NewWatch] = []
        now = self._clock()
        for number, item in enumerate(found):
            if number and number % CHANGES_PER_SLICE == 0:
                await asyncio.sleep(0)
            change, action = item.change, item.action
            author = self._author(change, action, names)
            rendered: dict[tuple[str, bool], tuple[str, Keyboard]] = {}
            chats_done: set[tuple[int, int | None]] = set()
            for sub, reader in index.matching(change):
                target = (sub.chat_id, sub.thread_id)
                if target in chats_done:
                    continue
                if (
                    action is not None
                    and not sub.is_group
                    and sub.chat_id == action.telegram_user_id
                ):
                    continue  # the user's own change through the bot is not echoed back
                chats_done.add(target)
                language = sub.language or DEFAULT_LANGUAGE
                variant = (language, sub.is_group)
                if variant not in rendered:
                    tr = self._translations.for_language(language)
                    rendered[variant] = (
                        render_text(tr, change, names, author),
                        render_buttons(tr, change, self._links, is_group=sub.is_group),
                    )
                text, buttons = rendered[variant]
                key = f"{change.lead_id}:{item.last_event}:{sub.chat_id}:{sub.thread_id or 0}"
                if sub.escalate_minutes and change.kind is EventKind.ADDED:
                    started = created_at(change.lead, now)
                    watches.append(
                        NewWatch(
                            lead_id=change.lead_id,
                            subscription_id=sub.id,
                            chat_id=sub.chat_id,
                            thread_id=sub.thread_id,
                            message_key=key,
                            started_at=started,
                            escalate_at=started + timedelta(minutes=sub.escalate_minutes),
                        )
                    )
                chunk.append(
                    NewOutboxMessage(
                        idempotency_key=key,
                        chat_id=sub.chat_id,
                        thread_id=sub.thread_id,
                        lead_id=change.lead_id,
                        notification=Notification(
                            text=text,
                            buttons=buttons,
                            subscriber=sub.created_by,
                            assigned_by_id=change.assigned_by_id,
                            kind=EventKind.STAGE.value
                            if change.stage_changed
                            else change.kind.value,
                            urgent=is_urgent(change, sub, reader),
                            title=lead_title(change.lead, change.lead_id),
                        ),
                    )
                )
                if len(chunk) >= OUTBOX_CHUNK:
                    yield chunk, watches
                    chunk, watches = [], []
        if chunk:
            yield chunk, watches

    @staticmethod
    def _author(change: LeadChange, action: RecentBotAction | None, names: Names) -> Author | None:
        if action is not None:
            return Author(names.user(action.portal_user_id), via_bot=True)
        modified_by = change.lead.get("MODIFY_BY_ID")
        if change.kind.value == "deleted" or modified_by in (None, ""):
            return None
        return Author(names.user(modified_by))
