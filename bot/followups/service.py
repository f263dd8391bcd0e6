"""Follow-ups on a lead: a to-do in the portal and a reminder in Telegram when it is due.

Every action re-checks on the server side: creating needs a lead the caller may see; Done and
Snooze read the to-do and its lead in one batch and go on only when the caller may see the
lead and the to-do is theirs (their reminder, or they are its responsible) or they manage
leads. The portal's to-do is the truth: one completed there answers so.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from aiogram.filters.callback_data import CallbackData

from bot.access.roles import Action, Identity
from bot.followups.times import Snooze, day_bounds, snoozed
from bot.leads.visibility import LeadHiddenError, visible_lead, visible_lead_in_batch
from bot.portal import Lane, NotFoundError, PortalClient, PortalError, ValidationError
from bot.portal.methods import (
    Activity,
    AddTodo,
    CompleteActivity,
    GetActivity,
    GetLead,
    ListActivities,
    OwnerType,
    Ref,
    UpdateTodoDeadline,
)
from bot.portal.methods.activities import TODO_PROVIDER
from bot.schedule.service import HoursService
from bot.storage.reminders import Reminder, ReminderRepository, ReminderState
from bot.storage.timestamps import Clock
from bot.write_journal import WriteJournal

log = logging.getLogger(__name__)

TEXT_LIMIT = 1000
TITLE_LIMIT = 255
TODAY_LIMIT = 30
"""What /today shows of its one page (50): 30 lines stay well inside a Telegram message."""
COMPLETED_TODO = "CAN_NOT_UPDATE_COMPLETED_TODO"


class FollowUpAction(StrEnum):
    """What a button of a reminder (or of /today) does with its to-do."""

    DONE = "d"
    SNOOZE = "s"


class FollowUpButton(CallbackData, prefix="fu"):
    """`fu:<action>:<activity id>:<snooze>`. The id is only a claim: every press is re-checked."""

    action: FollowUpAction
    id: int
    snooze: str = ""


class PressOutcome(StrEnum):
    """How a press ended (the user is told with the locale key `followup-<value>`)."""

    DONE = "done"
    SNOOZED = "snoozed"
    ALREADY = "already"
    COMPLETED = "completed"
    REFUSED = "refused"
    GONE = "gone"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class PressResult:
    """The outcome and, for a snooze, the new due moment and the user's zone."""

    outcome: PressOutcome
    due: datetime | None = None
    zone: ZoneInfo | None = None


@dataclass(frozen=True, slots=True)
class FollowUp:
    """A to-do made from the card: its id, when it is due, in which zone to show it."""

    activity_id: int
    due: datetime
    zone: ZoneInfo


@dataclass(frozen=True, slots=True)
class TodayItem:
    """An open to-do of the caller's on /today."""

    activity_id: int
    lead_id: int
    subject: str
    due: datetime
    overdue: bool


@dataclass(frozen=True, slots=True)
class TodayList:
    """The caller's to-dos due today or overdue, and the zone "today" is counted in."""

    items: list[TodayItem]
    zone: ZoneInfo
    now: datetime
    more: bool = False


class DueInPastError(ValueError):
    """The chosen moment is not ahead any more."""


class FollowUpService:
    """Creates to-dos on leads, schedules their reminders, completes and snoozes them."""

    def __init__(
        self,
        *,
        portal: PortalClient,
        reminders: ReminderRepository,
        hours: HoursService,
        clock: Clock,
        on_scheduled: Callable[[], None] = lambda: None,
        journal: WriteJournal | None = None,
    ) -> None:
        self._portal = portal
        self._reminders = reminders
        self._hours = hours
        self._clock = clock
        self._on_scheduled = on_scheduled
        self._journal = journal or WriteJournal(None)

    def now(self) -> datetime:
        """The service's clock (injected, so tests move time)."""
        return self._clock()

    async def zone_of(self, identity: Identity) -> ZoneInfo:
        """The zone the caller's times are in (their private chat's)."""
        return await self._hours.zone_of(identity.telegram_user_id)

    async def create(
        self, identity: Identity, lead_id: int, due: datetime, *, title: str, text: str = ""
    ) -> FollowUp:
        """A to-do on the lead due at `due` (responsible: the lead's, else the caller), and
        its reminder to the caller. Raises LeadHiddenError, NotFoundError, DueInPastError."""
        zone = await self.zone_of(identity)
        # The portal keeps whole seconds: the reminder's moment is the same as the to-do's.
        due = due.replace(microsecond=0)
        if due <= self.now():
            raise DueInPastError(due.isoformat())
        lead = await visible_lead(self._portal, identity, lead_id)
        text = text.strip()[:TEXT_LIMIT]

        async def add(mark: str) -> int:
            return await self._portal(
                AddTodo(
                    owner_type_id=OwnerType.LEAD,
                    owner_id=lead_id,
                    deadline=due,
                    title=title[:TITLE_LIMIT],
                    description=(text + mark) or None,
                    responsible_id=lead.assigned_by_id or identity.portal_user_id,
                )
            )

        async def find(mark: str) -> int | None:
            # A replayed press whose add may have gone: the lead's newest to-dos are searched
            # for the invisible mark the description carries.
            page = await self._portal(
                ListActivities(
                    filter={
                        "OWNER_TYPE_ID": int(OwnerType.LEAD),
                        "OWNER_ID": lead_id,
                        "PROVIDER_ID": TODO_PROVIDER,
                    },
                    select=["ID", "DESCRIPTION"],
                    order={"ID": "DESC"},
                )
            )
            return next(
                (a.id for a in page.items if a.id is not None and mark in (a.description or "")),
                None,
            )

        activity_id = await self._journal.once(f"todo:{lead_id}", write=add, find=find)
        await self._reminders.schedule(
            Reminder(
                activity_id=activity_id,
                lead_id=lead_id,
                telegram_user_id=identity.telegram_user_id,
                due_at=due,
                fire_at=due,
                lead_title=lead.title or "",
                note=text,
            )
        )
        self._on_scheduled()
        return FollowUp(activity_id=activity_id, due=due, zone=zone)

    async def _checked(
        self, identity: Identity, activity_id: int
    ) -> tuple[Activity, Reminder | None] | PressOutcome:
        """The to-do, if the caller may act on it; else why not (one portal request)."""
        reminder = await self._reminders.get(activity_id)
        get_todo = GetActivity(id=activity_id)
        get_lead = GetLead(id=Ref("todo", "OWNER_ID"))
        try:
            result = await self._portal.batch({"todo": get_todo, "lead": get_lead}, halt=True)
            todo = result.get("todo", get_todo)
            if todo.owner_type_id != OwnerType.LEAD or todo.provider_id != TODO_PROVIDER:
                return PressOutcome.REFUSED
            visible_lead_in_batch(identity, todo.owner_id or 0, result, "lead")
        except NotFoundError:
            return PressOutcome.GONE
        except LeadHiddenError:
            return PressOutcome.REFUSED
        except PortalError as exc:
            log.warning("follow-up %d: portal refused the read: %s", activity_id, exc.code)
            return PressOutcome.FAILED
        mine = reminder is not None and reminder.telegram_user_id == identity.telegram_user_id
        responsible = todo.responsible_id == identity.portal_user_id
        if not (mine or responsible or identity.may(Action.VIEW_ALL_LEADS)):
            return PressOutcome.REFUSED
        return todo, reminder

    async def done(self, identity: Identity, activity_id: int) -> PressResult:
        """Complete the to-do in the portal and settle its reminder."""
        checked = await self._checked(identity, activity_id)
        if isinstance(checked, PressOutcome):
            return PressResult(checked)
        todo, _ = checked
        if todo.completed:
            await self._reminders.settle(activity_id, ReminderState.DONE)
            return PressResult(PressOutcome.COMPLETED)
        try:
            await self._portal(CompleteActivity(id=activity_id))
        except NotFoundError:
            return PressResult(PressOutcome.GONE)
        except PortalError as exc:
            log.warning("follow-up %d: completing failed: %s", activity_id, exc.code)
            return PressResult(PressOutcome.FAILED)
        await self._reminders.settle(activity_id, ReminderState.DONE)
        return PressResult(PressOutcome.DONE)

    async def snooze(self, identity: Identity, activity_id: int, snooze: Snooze) -> PressResult:
        """Move the to-do's deadline in the portal and remind again then."""
        checked = await self._checked(identity, activity_id)
        if isinstance(checked, PressOutcome):
            return PressResult(checked)
        todo, reminder = checked
        if todo.completed:
            await self._reminders.settle(activity_id, ReminderState.DONE)
            return PressResult(PressOutcome.COMPLETED)
        zone = await self.zone_of(identity)
        due = snoozed(snooze, self.now(), zone).replace(microsecond=0)
        try:
            await self._portal(
                UpdateTodoDeadline(
                    id=activity_id,
                    owner_type_id=OwnerType.LEAD,
                    owner_id=todo.owner_id or 0,
                    value=due,
                )
            )
        except ValidationError as exc:
            if exc.code.upper() == COMPLETED_TODO:
                await self._reminders.settle(activity_id, ReminderState.DONE)
                return PressResult(PressOutcome.COMPLETED)
            log.warning("follow-up %d: moving refused: %s", activity_id, exc.code)
            return PressResult(PressOutcome.FAILED)
        except NotFoundError:
            return PressResult(PressOutcome.GONE)
        except PortalError as exc:
            log.warning("follow-up %d: moving failed: %s", activity_id, exc.code)
            return PressResult(PressOutcome.FAILED)
        await self._reminders.schedule(
            Reminder(
                activity_id=activity_id,
                lead_id=todo.owner_id or 0,
                telegram_user_id=identity.telegram_user_id,
                due_at=due,
                fire_at=due,
                lead_title=reminder.lead_title if reminder is not None else "",
                note=reminder.note if reminder is not None else (todo.description or ""),
            )
        )
        self._on_scheduled()
        return PressResult(PressOutcome.SNOOZED, due=due, zone=zone)

    async def today(self, identity: Identity) -> TodayList:
        """The caller's open to-dos on leads due before the end of their day (overdue too):
        one `crm.activity.list`, earliest first."""
        zone = await self.zone_of(identity)
        now = self.now()
        _, end = day_bounds(now, zone)
        page = await self._portal(
            ListActivities(
                filter={
                    "OWNER_TYPE_ID": int(OwnerType.LEAD),
                    "PROVIDER_ID": TODO_PROVIDER,
                    "RESPONSIBLE_ID": identity.portal_user_id,
                    "COMPLETED": "N",
                    "<DEADLINE": end.isoformat(),
                },
                select=["ID", "OWNER_ID", "OWNER_TYPE_ID", "SUBJECT", "DEADLINE", "COMPLETED"],
                order={"DEADLINE": "ASC"},
            ),
            lane=Lane.INTERACTIVE,
        )
        items = [
            TodayItem(
                activity_id=item.id,
                lead_id=item.owner_id or 0,
                subject=item.subject or "",
                due=item.deadline,
                overdue=item.deadline < now,
            )
            for item in page.items
            if item.id is not None and item.deadline is not None
        ]
        more = page.next is not None or len(items) > TODAY_LIMIT
        return TodayList(items=items[:TODAY_LIMIT], zone=zone, now=now, more=more)
