"""Speed to lead: note each new lead's first take, tell managers about leads nobody took in
time, count the wait on the new-lead message, and assign a lead to a rep from the escalation.

`EscalationService` answers presses and hears the processor; `EscalationWorker` runs in the
background: due escalations (durable, in `lead_watches`) and the counters' edits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from bot.access.directory import PortalDirectory
from bot.access.roles import Action, Identity
from bot.i18n import DEFAULT_LANGUAGE, Translations
from bot.leads.actions import BotActionLog
from bot.leads.catalog import PortalCatalog
from bot.notify.buttons import LeadAction, LeadButton
from bot.notify.diff import LeadChange
from bot.notify.sender import EditResult, without_take
from bot.notify.take import ESCALATION_KIND
from bot.portal import Lane, Lead, LeadChanges, NotFoundError, PortalClient, PortalError
from bot.portal.methods import GetLead, ListLeads, UpdateLead
from bot.speed.rules import (
    CLOSED_SEMANTICS,
    COUNT_CAP,
    EditAllowance,
    Start,
    counter_due,
    created_at,
    escalation_buttons,
    escalation_text,
    final_line,
    outcome_of_change,
    outcome_of_lead,
    waited_minutes,
    waiting_line,
    with_line,
)
from bot.storage import BindingRepository
from bot.storage.db import Database
from bot.storage.escalations import (
    DueWatch,
    EscalationRepository,
    LeadStart,
    LiveWatch,
    Outcome,
)
from bot.storage.models import Binding
from bot.storage.outbox import (
    Keyboard,
    MessageButton,
    NewOutboxMessage,
    Notification,
    OutboxRepository,
)
from bot.storage.subscriptions import EventKind, Subscription, SubscriptionRepository
from bot.storage.timestamps import Clock, utc_now

log = logging.getLogger(__name__)

ROUND_SECONDS = 5.0
"""The worker looks at deadlines and counters this often (sooner when woken)."""
RETRY_SECONDS = 1.0
"""How soon the worker looks again when a chat could not take an edit right then."""
DUE_BATCH = 250
LIVE_LIMIT = 5000
IDS_PER_COMMAND = 50
COMMANDS_PER_REQUEST = 50
GROUP_EDITS_PER_MINUTE = 6
"""Counter edits per group and minute: under a third of Telegram's 20; new messages keep
the rest (final lines, such as "taken by", are not held to it)."""
PRIVATE_EDITS_PER_MINUTE = 30
PRUNE_EVERY_SECONDS = 3600.0
WATCHES_KEPT = timedelta(days=7)
TAKES_KEPT = timedelta(days=400)
READ_FIELDS = ("ID", "TITLE", "STATUS_ID", "STATUS_SEMANTIC_ID", "ASSIGNED_BY_ID", "SOURCE_ID")
ASSIGN_ACTION = "assign"


class Identities(Protocol):
    """Bound, active identities and portal users' names (the processor's audience)."""

    async def identities(self, telegram_user_ids: Collection[int]) -> Mapping[int, Identity]:
        """Bound, active identities by Telegram id."""
        ...

    async def names(self, portal_user_ids: Collection[int]) -> Mapping[int, str]:
        """Full names of active portal users by id."""
        ...


class MessageEditor(Protocol):
    """Edits a sent message within the chat's flood budget (the outbox sender)."""

    async def edit(
        self, chat_id: int, message_id: int, text: str, buttons: Keyboard
    ) -> EditResult:
        """Edit now if the chat's pace allows, else say LATER."""
        ...


class AssignOutcome(StrEnum):
    """How an "Assign to…" ended (locale key `escalation-assign-<value>`)."""

    ASSIGNED = "assigned"
    REFUSED = "refused"
    GONE = "gone"
    CLOSED = "closed"
    UNKNOWN_USER = "unknown"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class AssignResult:
    """The outcome and the name of the rep the lead went to."""

    outcome: AssignOutcome
    name: str = ""


class EscalationService:
    """Takes and assignments of new leads: recorded, re-checked, told."""

    def __init__(
        self,
        *,
        portal: PortalClient,
        store: EscalationRepository,
        outbox: OutboxRepository,
        directory: PortalDirectory,
        bindings: BindingRepository,
        audience: Identities,
        actions: BotActionLog,
        translations: Translations,
        portal_url: Callable[[int], str | None],
        on_queued: Callable[[], None] = lambda: None,
        on_ended: Callable[[], None] = lambda: None,
        clock: Clock = utc_now,
    ) -> None:
        self._portal = portal
        self._store = store
        self._outbox = outbox
        self._directory = directory
        self._bindings = bindings
        self._audience = audience
        self._actions = actions
        self._translations = translations
        self._portal_url = portal_url
        self._on_queued = on_queued
        self._on_ended = on_ended
        self._clock = clock

    async def record_take(self, lead_id: int, identity: Identity) -> None:
        """Someone took the lead with Take: its wait ends now, in their name."""
        name = identity.name or (await self._audience.names([identity.portal_user_id])).get(
            identity.portal_user_id, ""
        )
        if await self._store.end(
            lead_id,
            Outcome.TAKEN,
            at=self._clock(),
            portal_user_id=identity.portal_user_id,
            taken_by=name,
        ):
            log.info("lead %d taken", lead_id)
        self._on_ended()

    async def observe(self, changes: Sequence[tuple[LeadChange, int | None]]) -> None:
        """Follow the new leads among the changes; end the wait of those taken or moved on."""
        now = self._clock()
        new = [
            LeadStart(
                lead_id=change.lead_id,
                created_at=created_at(change.lead, now),
                first_stage=str(change.lead.get("STATUS_ID") or ""),
                first_assigned=change.assigned_by_id,
                source_id=str(change.lead.get("SOURCE_ID") or ""),
            )
            for change, _ in changes
            if change.kind is EventKind.ADDED
        ]
        if new:
            await self._store.add(new, ())
        later = [change for change, _ in changes if change.kind is not EventKind.ADDED]
        if not later:
            return
        waiting = await self._store.open_takes([change.lead_id for change in later])
        ended = 0
        for change in later:
            start = waiting.get(change.lead_id)
            if start is None:
                continue
            outcome = outcome_of_change(Start(start.first_stage, start.first_assigned), change)
            if outcome is None:
                continue
            holder = None if outcome is Outcome.DELETED else change.assigned_by_id
            names = await self._audience.names([holder]) if holder is not None else {}
            await self._store.end(
                change.lead_id,
                outcome,
                at=now,
                portal_user_id=holder,
                taken_by=names.get(holder) if holder is not None else None,
            )
            ended += 1
        if ended:
            self._on_ended()

    async def managers(self) -> list[tuple[int, str]]:
        """Every bound manager and admin now, as (Telegram id, name) by name."""
        bindings = await self._bindings.list_bindings()
        identities = await self._audience.identities([b.telegram_user_id for b in bindings])
        found = [
            (telegram_user_id, identity.name or f"#{identity.portal_user_id}")
            for telegram_user_id, identity in identities.items()
            if identity.may(Action.ASSIGN_TO_OTHERS)
        ]
        return sorted(found, key=lambda item: (item[1].casefold(), item[0]))

    async def is_watched(self, chat_id: int, message_id: int) -> bool:
        """Whether a sent message counts its lead's wait (its last line is the worker's job)."""
        return await self._store.is_watched(chat_id, message_id)

    async def assign_refusal(
        self, identity: Identity, *, chat_id: int, message_id: int, lead_id: int
    ) -> str | None:
        """Why this press of "Assign to…" is refused (a locale key), or None.

        The button's lead id is only a claim: the outbox must have sent this very escalation
        message about that lead to the presser's own chat; only managers and admins assign.
        """
        if not identity.may(Action.ASSIGN_TO_OTHERS):
            return "escalation-assign-refused"
        if chat_id != identity.telegram_user_id:
            return "notify-take-not-offered"
        sent = await self._outbox.sent_notification(chat_id, message_id)
        if sent is None:
            return "notify-take-expired"
        if sent.lead_id != lead_id or sent.kind != ESCALATION_KIND:
            return "notify-take-not-offered"
        return None

    async def assignees(self, query: str, limit: int = 200) -> list[tuple[str, int]]:
        """Active portal users whose name contains `query`, as (name, id) by name."""
        users = await self._directory.search(query, limit=limit)
        return [(u.full_name or f"#{u.id}", u.id) for u in users if u.id is not None]

    async def lead_title(self, lead_id: int) -> str:
        """The lead's title for the picker's header (empty when it cannot be read)."""
        try:
            lead = await self._portal(GetLead(id=lead_id), lane=Lane.INTERACTIVE)
        except PortalError:
            return ""
        return lead.title or ""

    async def assign(self, identity: Identity, lead_id: int, portal_user_id: int) -> AssignResult:
        """Make `portal_user_id` responsible for an open lead and tell them privately.

        Re-checked here, whatever the dialog showed: a manager or an admin, an active portal
        user, a lead that exists and is still open.
        """
        if not identity.may(Action.ASSIGN_TO_OTHERS):
            return AssignResult(AssignOutcome.REFUSED)
        try:
            user = await self._directory.active_user(portal_user_id)
        except PortalError:
            return AssignResult(AssignOutcome.FAILED)
        if user is None:
            return AssignResult(AssignOutcome.UNKNOWN_USER)
        name = user.full_name or f"#{portal_user_id}"
        try:
            lead = await self._portal(GetLead(id=lead_id), lane=Lane.INTERACTIVE)
        except NotFoundError:
            return AssignResult(AssignOutcome.GONE)
        except PortalError as exc:
            log.warning("assign of lead %d: portal %s", lead_id, exc.code)
            return AssignResult(AssignOutcome.FAILED)
        if lead.status_semantic_id in CLOSED_SEMANTICS:
            return AssignResult(AssignOutcome.CLOSED)
        if lead.assigned_by_id != portal_user_id:
            # Noted first, so the update event is attributed to the manager.
            await self._actions.record(identity, lead_id, ASSIGN_ACTION)
            try:
                write = UpdateLead(id=lead_id, fields=LeadChanges(assigned_by_id=portal_user_id))
                await self._portal(write, lane=Lane.INTERACTIVE)
            except PortalError as exc:
                log.warning("assign of lead %d failed: portal %s", lead_id, exc.code)
                return AssignResult(AssignOutcome.FAILED)
        now = self._clock()
        await self._store.end(
            lead_id, Outcome.ASSIGNED, at=now, portal_user_id=portal_user_id, taken_by=name
        )
        self._on_ended()
        await self._tell_rep(identity, lead, portal_user_id, now)
        log.info("lead %d assigned to portal user %d", lead_id, portal_user_id)
        return AssignResult(AssignOutcome.ASSIGNED, name)

    async def _tell_rep(
        self, identity: Identity, lead: Lead, portal_user_id: int, now: datetime
    ) -> None:
        lead_id = lead.id or 0
        messages = []
        for binding in await self._bindings.find_by_portal_user(portal_user_id):
            if not binding.active or binding.blocked:
                continue
            if binding.telegram_user_id == identity.telegram_user_id:
                continue  # the manager assigned it to themselves: they know
            tr = self._translations.for_language(binding.language or DEFAULT_LANGUAGE)
            text = tr.get_html(
                "escalation-assigned-to-you",
                name=identity.name,
                id=str(lead_id),
                title=lead.title or tr.get("lead-untitled"),
            )
            card = LeadButton(action=LeadAction.CARD, lead_id=lead_id).pack()
            rows: list[tuple[MessageButton, ...]] = [
                (MessageButton(tr.get("notify-open-button"), callback_data=card),)
            ]
            url = self._portal_url(lead_id)
            if url:
                rows.append((MessageButton(tr.get("notify-portal-button"), url=url),))
            messages.append(
                NewOutboxMessage(
                    idempotency_key=f"assigned:{lead_id}:{binding.telegram_user_id}:"
                    f"{int(now.timestamp())}",
                    chat_id=binding.telegram_user_id,
                    thread_id=None,
                    lead_id=lead_id,
                    notification=Notification(
                        text, tuple(rows), assigned_by_id=portal_user_id, kind="assigned"
                    ),
                )
            )
        if messages:
            await self._outbox.add(messages)
            self._on_queued()


@dataclass(frozen=True, slots=True)
class TickResult:
    """What one round of the worker did."""

    escalated: int = 0
    """Leads escalated (each to one or more chats)."""
    messages: int = 0
    """Escalation messages queued."""
    ended: int = 0
    """Due leads found taken, moved, closed or deleted by the re-read (not escalated)."""
    edited: int = 0
    """Counter and final edits made."""
    deferred: int = 0
    """Edits a chat could not take right then (its gap, a flood pause): tried again soon."""


@dataclass(frozen=True, slots=True)
class _Edit:
    watch: LiveWatch
    text: str
    buttons: Keyboard
    minutes: int
    final: bool


class EscalationWorker:
    """Escalates new leads nobody took by their deadline; keeps their counters current.

    Deadlines live in the database: after a restart every deadline that passed meanwhile
    fires once, late by the downtime at most. Just before escalating, the due leads are read
    from the portal (one `crm.lead.list` per 50 leads, background lane), so a lead taken,
    moved, closed or deleted in the meantime is never escalated.
    """

    def __init__(
        self,
        *,
        db: Database,
        portal: PortalClient,
        store: EscalationRepository,
        outbox: OutboxRepository,
        subscriptions: SubscriptionRepository,
        bindings: BindingRepository,
        audience: Identities,
        catalog: PortalCatalog,
        translations: Translations,
        portal_url: Callable[[int], str | None],
        editor: MessageEditor,
        on_queued: Callable[[], None] = lambda: None,
        clock: Clock = utc_now,
        monotonic: Callable[[], float] = time.monotonic,
        group_edits_per_minute: int = GROUP_EDITS_PER_MINUTE,
    ) -> None:
        self._db = db
        self._portal = portal
        self._store = store
        self._outbox = outbox
        self._subscriptions = subscriptions
        self._bindings = bindings
        self._audience = audience
        self._catalog = catalog
        self._translations = translations
        self._portal_url = portal_url
        self._editor = editor
        self._on_queued = on_queued
        self._clock = clock
        self._monotonic = monotonic
        self._group_edits = EditAllowance(group_edits_per_minute)
        self._private_edits = EditAllowance(PRIVATE_EDITS_PER_MINUTE)
        self._escalate_wake = asyncio.Event()
        self._count_wake = asyncio.Event()
        self._pruned_at: float | None = None
        self.leads_read = 0
        """Due leads read from the portal so far (each lead of each read counts once)."""
        self.leads_due = 0
        """Leads found due so far (each escalated or found no longer waiting)."""

    def wake(self) -> None:
        """A lead stopped waiting (or a deadline moved): look again now."""
        self._escalate_wake.set()
        self._count_wake.set()

    async def run(self) -> None:
        """Escalate and count until cancelled: two loops, so that an edit waiting for its
        chat's turn never holds an escalation back."""
        await asyncio.gather(self._escalate_forever(), self._count_forever())

    async def _escalate_forever(self) -> None:
        while True:
            failed = True
            try:
                now = self._clock()
                await self.escalate_due(now)
                await self._prune(now)
                failed = False
            except PortalError as exc:
                log.warning("escalation round failed (portal %s); retrying", exc.code)
            except Exception:
                # One bad row must not stop every later escalation; the round runs again.
                log.exception("escalation round failed; retrying")
            wait = ROUND_SECONDS
            due = await self._store.next_due_at()
            if due is not None and not failed:
                # A failed round waits a whole round: a due lead the portal cannot give now
                # must not make the worker ask it again and again.
                wait = min(wait, max(0.0, (due - self._clock()).total_seconds()))
            await self._sleep(self._escalate_wake, wait)

    async def _count_forever(self) -> None:
        while True:
            deferred = 0
            try:
                _, deferred = await self.refresh_counters(self._clock())
            except Exception:
                log.exception("counter round failed; retrying")
            await self._sleep(self._count_wake, RETRY_SECONDS if deferred else ROUND_SECONDS)

    @staticmethod
    async def _sleep(wake: asyncio.Event, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await wake.wait()
        wake.clear()

    async def _prune(self, now: datetime) -> None:
        moment = self._monotonic()
        if self._pruned_at is None or moment - self._pruned_at > PRUNE_EVERY_SECONDS:
            self._pruned_at = moment
            await self._store.prune(
                watches_before=now - WATCHES_KEPT, takes_before=now - TAKES_KEPT
            )

    async def tick(self, now: datetime | None = None) -> TickResult:
        """One round at `now` (the clock's time when None): escalations, then edits."""
        now = now or self._clock()
        escalated, messages, ended = await self.escalate_due(now)
        edited, deferred = await self.refresh_counters(now)
        await self._prune(now)
        return TickResult(
            escalated=escalated, messages=messages, ended=ended, edited=edited, deferred=deferred
        )

    # --- escalations ---------------------------------------------------------------------

    async def escalate_due(self, now: datetime) -> tuple[int, int, int]:
        """Escalate every lead whose deadline passed and that still waits.

        Returns (leads escalated, messages queued, leads found no longer waiting).
        """
        escalated = queued = ended = 0
        while True:
            due = await self._store.due(now, DUE_BATCH)
            if not due:
                break
            by_lead: dict[int, list[DueWatch]] = {}
            for watch in due:
                by_lead.setdefault(watch.lead_id, []).append(watch)
            self.leads_due += len(by_lead)
            starts = await self._store.open_takes(list(by_lead))
            leads = await self._read(sorted(by_lead))
            managers = await self._managers()
            names = await self._audience.names(
                {lead.assigned_by_id for lead in leads.values() if lead and lead.assigned_by_id}
            )
            for lead_id, watches in by_lead.items():
                lead = leads.get(lead_id)
                start = starts.get(lead_id)
                first = (
                    Start(start.first_stage, start.first_assigned)
                    if start is not None
                    else Start(lead.status_id or "", lead.assigned_by_id)
                    if lead is not None
                    else Start("", None)
                )
                outcome = outcome_of_lead(first, lead)
                if outcome is not None:
                    holder = lead.assigned_by_id if lead is not None else None
                    await self._store.end(
                        lead_id,
                        outcome,
                        at=now,
                        portal_user_id=holder,
                        taken_by=names.get(holder) if holder is not None else None,
                    )
                    ended += 1
                    continue
                assert lead is not None
                messages = await self._messages(lead, watches, start, managers, names, now)
                async with self._db.transaction() as conn:
                    await self._outbox.add_many_in(conn, messages)
                    await self._store.mark_escalated_in(conn, [w.id for w in watches], now)
                escalated += bool(messages)
                queued += len(messages)
            if queued:
                self._on_queued()
            if len(due) < DUE_BATCH:
                break
        if escalated or ended:
            log.info("escalations: %d leads escalated, %d no longer waiting", escalated, ended)
        return escalated, queued, ended

    async def _read(self, lead_ids: list[int]) -> dict[int, Lead | None]:
        """The due leads as the portal has them now (None: deleted); one read per lead."""
        found: dict[int, Lead | None] = {}
        step = IDS_PER_COMMAND * COMMANDS_PER_REQUEST
        for start in range(0, len(lead_ids), step):
            part = lead_ids[start : start + step]
            commands = {
                f"l{n}": ListLeads(
                    filter={"@ID": part[i : i + IDS_PER_COMMAND]},
                    select=list(READ_FIELDS),
                    order={"ID": "ASC"},
                    start=-1,
                )
                for n, i in enumerate(range(0, len(part), IDS_PER_COMMAND))
            }
            result = await self._portal.batch(commands, lane=Lane.BACKGROUND)
            self.leads_read += len(part)
            for key, command in commands.items():
                error = result.errors.get(key)
                if error is not None:
                    raise error
                page = result.get(key, command)
                have = {lead.id: lead for lead in page.items if lead.id is not None}
                ids = command.filter["@ID"] if command.filter else []
                for lead_id in ids:
                    found[int(lead_id)] = have.get(int(lead_id))
        return found

    async def _managers(self) -> list[tuple[Identity, Binding]]:
        """Every bound manager and admin now, with their binding (for the language)."""
        bindings = {b.telegram_user_id: b for b in await self._bindings.list_bindings()}
        identities = await self._audience.identities(list(bindings))
        return [
            (identity, bindings[tg])
            for tg, identity in sorted(identities.items())
            if identity.may(Action.ASSIGN_TO_OTHERS)
        ]

    async def _messages(
        self,
        lead: Lead,
        watches: list[DueWatch],
        start: LeadStart | None,
        managers: list[tuple[Identity, Binding]],
        names: Mapping[int, str],
        now: datetime,
    ) -> list[NewOutboxMessage]:
        """One message per chosen chat (a chat chosen by two subscriptions gets one)."""
        lead_id = lead.id or 0
        chosen: dict[int, tuple[Identity, Binding]] = {}
        for watch in watches:
            sub = await self._subscriptions.get(watch.subscription_id)
            if sub is None or not sub.active or not sub.escalate_minutes:
                continue  # removed, paused or switched off since: nobody to tell
            for identity, binding in self._targets(sub, managers):
                chosen.setdefault(identity.telegram_user_id, (identity, binding))
        if not chosen:
            return []
        stage: Callable[[str | None], str] = _as_is
        source: Callable[[str | None], str] = _as_is
        try:
            snapshot = await self._catalog.get(lane=Lane.BACKGROUND)
            stage, source = snapshot.stage_name, snapshot.source_name
        except PortalError:
            log.warning("stage and source names unavailable for an escalation")
        started = start.created_at if start is not None else min(w.started_at for w in watches)
        minutes = waited_minutes(started, now)
        messages = []
        for chat_id, (_identity, binding) in sorted(chosen.items()):
            tr = self._translations.for_language(binding.language or DEFAULT_LANGUAGE)
            responsible = names.get(lead.assigned_by_id or 0, "")
            text = escalation_text(
                tr,
                lead_id=lead_id,
                title=lead.title or "",
                minutes=minutes,
                stage=stage(lead.status_id),
                responsible=responsible,
                source=source(lead.source_id) if lead.source_id else "",
            )
            messages.append(
                NewOutboxMessage(
                    idempotency_key=f"escalation:{lead_id}:{chat_id}",
                    chat_id=chat_id,
                    thread_id=None,
                    lead_id=lead_id,
                    notification=Notification(
                        text=text,
                        buttons=escalation_buttons(tr, lead_id, self._portal_url(lead_id)),
                        subscriber=chat_id,
                        assigned_by_id=lead.assigned_by_id,
                        kind=ESCALATION_KIND,
                    ),
                )
            )
        return messages

    @staticmethod
    def _targets(
        sub: Subscription, managers: list[tuple[Identity, Binding]]
    ) -> list[tuple[Identity, Binding]]:
        if not sub.escalate_to:
            return managers
        return [m for m in managers if m[0].telegram_user_id in sub.escalate_to]

    # --- counters ------------------------------------------------------------------------

    async def refresh_counters(self, now: datetime) -> tuple[int, int]:
        """Edit the counted messages that are due, at most one per chat this round; returns
        (edits made, edits a chat could not take right then).

        Final lines (taken, moved on) go first, then the counters shown longest ago; a
        counter that gets no turn simply shows a later number at its next turn.
        """
        plans: dict[int, list[tuple[tuple[int, str], _Edit]]] = {}
        languages: dict[int, str | None] = {}
        for watch in await self._store.live(LIVE_LIMIT):
            if watch.subscription_id not in languages:
                sub = await self._subscriptions.get(watch.subscription_id)
                languages[watch.subscription_id] = sub.language if sub is not None else None
            tr = self._translations.for_language(
                languages[watch.subscription_id] or DEFAULT_LANGUAGE
            )
            base = watch.notification
            if watch.ended_at is not None and watch.outcome is not None:
                minutes = waited_minutes(watch.started_at, watch.ended_at)
                shows_something = watch.shown_minutes > 0 or watch.taken_by
                if not shows_something and watch.outcome is not Outcome.CAPPED:
                    await self._store.settle(watch.id)  # nothing was counted: nothing to end
                    continue
                line = final_line(tr, watch.outcome, minutes, watch.taken_by)
                buttons = (
                    base.buttons if watch.outcome is Outcome.CAPPED else without_take(base.buttons)
                )
                edit = _Edit(watch, with_line(base.text, line), buttons, minutes, final=True)
                plans.setdefault(watch.chat_id, []).append(((0, ""), edit))
                continue
            if now - watch.started_at >= COUNT_CAP:
                await self._store.cap(watch.id, now)
                continue
            shown = counter_due(
                started=watch.started_at,
                shown_minutes=watch.shown_minutes,
                shown_at=watch.shown_at,
                now=now,
            )
            if shown is None:
                continue
            edit = _Edit(
                watch,
                with_line(base.text, waiting_line(tr, shown)),
                base.buttons,
                shown,
                final=False,
            )
            stale = watch.shown_at.isoformat() if watch.shown_at is not None else ""
            plans.setdefault(watch.chat_id, []).append(((1, stale), edit))
        firsts = [sorted(items, key=lambda item: item[0])[0][1] for items in plans.values()]
        results = await asyncio.gather(*(self._edit(edit, now) for edit in firsts))
        edited = sum(1 for result in results if result is EditResult.DONE)
        deferred = sum(1 for result in results if result is EditResult.LATER)
        return edited, deferred

    async def _edit(self, edit: _Edit, now: datetime) -> EditResult | None:
        """Make one planned edit if the chat's share of edits allows (None: it does not)."""
        chat_id = edit.watch.chat_id
        allowance = self._group_edits if chat_id < 0 else self._private_edits
        if not edit.final and not allowance.allows(chat_id, self._monotonic()):
            return None
        result = await self._editor.edit(chat_id, edit.watch.message_id, edit.text, edit.buttons)
        if result is EditResult.LATER:
            return result
        allowance.count(chat_id, self._monotonic())
        if result is EditResult.GONE or edit.final:
            await self._store.settle(edit.watch.id)
        else:
            await self._store.shown(edit.watch.id, edit.minutes, now)
        return result


def _as_is(value: str | None) -> str:
    return value or ""
