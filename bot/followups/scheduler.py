"""The reminder scheduler: sleeps until the earliest reminder is due, then fires what is due.

No polling: it sleeps until the earliest `fire_at` (or until `wake()` says one was added or
moved), claims each due row and queues its message in the same transaction, and lets the
outbox sender deliver it (flood limits, 429s and retries are the sender's). After a restart the
rows whose moment passed during the downtime are due at once, and each fires once. Quiet hours
of the user's private chat hold a reminder until their window opens.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.followups.service import FollowUpAction, FollowUpButton
from bot.followups.times import Snooze, local_text
from bot.i18n import Translations, Translator
from bot.leads.render import lead_title
from bot.notify.buttons import LeadAction, LeadButton
from bot.schedule.service import HoursService
from bot.storage import BindingRepository
from bot.storage.outbox import MessageButton, NewOutboxMessage, Notification, OutboxRepository
from bot.storage.reminders import Reminder, ReminderRepository, ReminderState
from bot.storage.timestamps import Clock, to_db_time

log = logging.getLogger(__name__)

FIRE_BATCH = 200
IDLE_SECONDS = 3600.0
"""The longest sleep with nothing scheduled (a wake-up comes sooner when one is added)."""
REMINDER_KIND = "reminder"

CHECK_AHEAD = timedelta(minutes=1)
"""One portal check covers the reminders due this soon; an open verdict holds as long."""

OpenTodos = Callable[[Sequence[int]], Awaitable[set[int] | None]]
"""`open_among(ids)`: which to-dos are still open in the portal (None: it could not say)."""


def reminder_notification(
    tr: Translator, reminder: Reminder, zone: ZoneInfo, now: datetime
) -> Notification:
    """The reminder's message: the lead's title, when it was due, the text, and its buttons."""
    title = lead_title(tr, reminder.lead_title, reminder.lead_id)
    lines = [
        tr.get_html(
            "followup-reminder",
            title=title,
            id=reminder.lead_id,
            due=local_text(reminder.due_at, zone, now),
        )
    ]
    if reminder.note:
        lines.append(html.escape(reminder.note, quote=False))
    snooze = tuple(
        MessageButton(
            text=tr.get(key),
            callback_data=FollowUpButton(
                action=FollowUpAction.SNOOZE, id=reminder.activity_id, snooze=value.value
            ).pack(),
        )
        for key, value in (
            ("followup-snooze-15-button", Snooze.MINUTES_15),
            ("followup-snooze-hour-button", Snooze.HOUR),
            ("followup-snooze-tomorrow-button", Snooze.TOMORROW_MORNING),
        )
    )
    first = (
        MessageButton(
            text=tr.get("followup-done-button"),
            callback_data=FollowUpButton(
                action=FollowUpAction.DONE, id=reminder.activity_id
            ).pack(),
        ),
        MessageButton(
            text=tr.get("notify-open-button"),
            callback_data=LeadButton(action=LeadAction.CARD, lead_id=reminder.lead_id).pack(),
        ),
    )
    return Notification(text="\n".join(lines), buttons=(first, snooze), kind=REMINDER_KIND)


class ReminderScheduler:
    """Fires due reminders into the outbox, each once per due moment."""

    def __init__(
        self,
        *,
        reminders: ReminderRepository,
        outbox: OutboxRepository,
        hours: HoursService,
        bindings: BindingRepository,
        translations: Translations,
        clock: Clock,
        on_queued: Callable[[], None],
        open_todos: OpenTodos | None = None,
        speed: float = 1.0,
    ) -> None:
        self._reminders = reminders
        self._outbox = outbox
        self._hours = hours
        self._bindings = bindings
        self._translations = translations
        self._clock = clock
        self._on_queued = on_queued
        self._open_todos = open_todos
        self._open_until: dict[int, datetime] = {}
        """To-dos the portal said were open, until when that verdict holds."""
        # How many clock seconds pass per real second (a compressed clock in benches).
        self._speed = speed
        self._wake = asyncio.Event()
        self.fired = 0
        self.held = 0
        self.completed = 0
        """Reminders not sent because their to-do was completed or deleted in the portal."""

    def wake(self) -> None:
        """A reminder was added or moved: look at the schedule again."""
        self._wake.set()

    async def run(self) -> None:
        """Fire due reminders, then sleep until the next one; until cancelled."""
        while True:
            try:
                await self.fire_due()
                next_at = await self._reminders.next_fire_at()
            except Exception:
                log.exception("reminder scheduler round failed")
                next_at = None
                await asyncio.sleep(1.0)
            if next_at is None:
                wait = IDLE_SECONDS
            else:
                wait = (next_at - self._clock()).total_seconds() / self._speed
            await self._idle(wait)

    async def _idle(self, seconds: float) -> None:
        if seconds > 0:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(seconds):
                    await self._wake.wait()
        self._wake.clear()

    async def fire_due(self) -> int:
        """Claim and queue every reminder whose moment has come; returns how many fired."""
        fired = 0
        while True:
            due = await self._reminders.due(FIRE_BATCH)
            if not due:
                break
            progressed = False
            closed = await self._closed_in_portal(due)
            for reminder in due:
                if reminder.activity_id in closed:
                    await self._reminders.settle(reminder.activity_id, ReminderState.DONE)
                    self.completed += 1
                    progressed = True
            due = [r for r in due if r.activity_id not in closed]
            for reminder in due:
                fired_one, moved = await self._fire(reminder)
                fired += fired_one
                progressed = progressed or fired_one or moved
            if not progressed:
                break
        if fired:
            self.fired += fired
            self._on_queued()
        return fired

    async def _closed_in_portal(self, due: list[Reminder]) -> set[int]:
        """The due to-dos completed (or deleted) in the portal since they were scheduled.

        One portal request covers the due rows and those due within `CHECK_AHEAD`; its open
        verdicts hold that long, so a steady stream of reminders costs about one request a
        minute. When the portal cannot say, nothing counts as closed: a reminder too many is
        better than one missed.
        """
        if self._open_todos is None:
            return set()
        now = self._clock()
        unknown = [r.activity_id for r in due if self._open_until.get(r.activity_id, now) <= now]
        if not unknown:
            return set()
        upcoming = await self._reminders.due(FIRE_BATCH, within=CHECK_AHEAD)
        asked = list(dict.fromkeys(unknown + [r.activity_id for r in upcoming]))
        still_open = await self._open_todos(asked)
        if still_open is None:
            return set()
        self._open_until = {k: v for k, v in self._open_until.items() if v > now}
        for activity_id in still_open:
            self._open_until[activity_id] = now + CHECK_AHEAD
        return set(unknown) - still_open

    async def _fire(self, reminder: Reminder) -> tuple[bool, bool]:
        """(fired, moved): queue the reminder, or hold it for the user's working hours."""
        hours = await self._hours.hours_of(reminder.telegram_user_id)
        if hours.holds(reminder.fire_at):
            opening = hours.next_opening(reminder.fire_at)
            if opening is not None and opening > reminder.fire_at:
                moved = await self._reminders.hold(reminder, opening)
                self.held += moved
                return False, True
        binding = await self._bindings.get(reminder.telegram_user_id)
        if binding is None or not binding.active:
            # Nobody to tell any more (signed out or revoked): the reminder is dropped.
            await self._reminders.settle(reminder.activity_id, ReminderState.CANCELLED)
            return False, True
        tr = self._translations.for_language(binding.language if binding else None)
        message = NewOutboxMessage(
            idempotency_key=(
                f"reminder:{reminder.activity_id}:{to_db_time(reminder.due_at)}:"
                f"{to_db_time(reminder.fire_at)}"
            ),
            chat_id=reminder.telegram_user_id,
            thread_id=None,
            lead_id=reminder.lead_id,
            notification=reminder_notification(tr, reminder, hours.zone, self._clock()),
        )
        claimed = await self._reminders.claim(reminder, self._outbox, message)
        return claimed, claimed
