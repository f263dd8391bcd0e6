"""Speed to lead as pure rules: when a new lead stops waiting, what its message says, how
often messages may be edited, and the percentiles a report shows (no I/O)."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.i18n import Translator
from bot.notify.buttons import EscalationAction, EscalationButton, LeadAction, LeadButton
from bot.notify.diff import LeadChange
from bot.portal import Lead
from bot.portal.coerce import int_or_none
from bot.storage.escalations import Outcome
from bot.storage.outbox import Keyboard, MessageButton
from bot.storage.subscriptions import EventKind

ESCALATION_CHOICES = (5, 15, 30, 60)
"""Minutes a subscription may let a new lead wait before managers are told."""
CLOSED_SEMANTICS = frozenset({"S", "F"})
EDIT_INTERVAL = timedelta(minutes=1)
"""A counter is edited at most this often per message."""
COUNT_CAP = timedelta(hours=24)
"""A counter stops after this long; the lead is old news by then."""
MAX_TITLE = 200


@dataclass(frozen=True, slots=True)
class Start:
    """How a new lead started: its first stage and responsible."""

    first_stage: str
    first_assigned: int | None


def outcome_of_lead(start: Start, lead: Lead | None) -> Outcome | None:
    """How the lead stopped waiting, judged from the portal's current copy (None: it waits).

    Read just before escalating, so a take the bot has not heard of yet still counts.
    """
    if lead is None:
        return Outcome.DELETED
    if lead.status_semantic_id in CLOSED_SEMANTICS:
        return Outcome.CLOSED
    if (lead.status_id or "") != start.first_stage:
        return Outcome.MOVED
    if lead.assigned_by_id != start.first_assigned:
        return Outcome.REASSIGNED
    return None


def outcome_of_change(start: Start, change: LeadChange) -> Outcome | None:
    """How the lead stopped waiting, judged from a change the processor found (None: it waits)."""
    if change.kind is EventKind.DELETED:
        return Outcome.DELETED
    if str(change.lead.get("STATUS_ID") or "") != start.first_stage:
        return Outcome.MOVED
    if int_or_none(change.lead.get("ASSIGNED_BY_ID")) != start.first_assigned:
        return Outcome.REASSIGNED
    return None


def created_at(lead: Mapping[str, Any], now: datetime) -> datetime:
    """When the portal created the lead (its DATE_CREATE), never later than `now`."""
    raw = lead.get("DATE_CREATE")
    if isinstance(raw, str) and raw:
        try:
            moment = datetime.fromisoformat(raw)
        except ValueError:
            return now
        if moment.tzinfo is not None:
            return min(moment, now)
    return now


def waited_minutes(started: datetime, now: datetime) -> int:
    """Whole minutes between two moments (0 when `now` is earlier)."""
    return max(0, int((now - started).total_seconds() // 60))


def counter_due(
    *, started: datetime, shown_minutes: int, shown_at: datetime | None, now: datetime
) -> int | None:
    """The minutes a counter should show now, or None when it may not or need not change.

    The first edit comes at one minute; then at most one per `EDIT_INTERVAL` per message.
    """
    minutes = waited_minutes(started, now)
    if minutes < 1 or minutes == shown_minutes:
        return None
    if shown_at is not None and now - shown_at < EDIT_INTERVAL:
        return None
    return minutes


class EditAllowance:
    """At most `per_minute` edits per chat in any 60 s, so new messages keep their room.

    The sender's per-chat gap holds edits and messages together under Telegram's limit;
    this leaves part of that room to new messages when many counters want an edit at once.
    """

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._edits: dict[int, deque[float]] = {}

    def allows(self, chat_id: int, now: float) -> bool:
        """Whether one more edit fits in the chat's last minute."""
        window = self._edits.get(chat_id)
        if window is None:
            return True
        while window and window[0] <= now - 60.0:
            window.popleft()
        if not window:
            del self._edits[chat_id]
            return True
        return len(window) < self.per_minute

    def count(self, chat_id: int, now: float) -> None:
        """An edit went out to the chat now."""
        self._edits.setdefault(chat_id, deque()).append(now)


def waiting_line(tr: Translator, minutes: int) -> str:
    """The counter's line: "⏳ waiting 12 min"."""
    return tr.get_html("escalation-waiting", minutes=minutes)


def final_line(tr: Translator, outcome: Outcome, minutes: int, taken_by: str | None) -> str | None:
    """The last line of a counted message, saying how the wait ended (None: no line)."""
    if outcome is Outcome.ASSIGNED and taken_by:
        return tr.get_html("escalation-assigned-in", name=taken_by, minutes=minutes)
    if outcome in {Outcome.TAKEN, Outcome.REASSIGNED} and taken_by:
        return tr.get_html("escalation-taken-in", name=taken_by, minutes=minutes)
    if outcome is Outcome.CAPPED:
        return tr.get_html("escalation-capped", minutes=minutes)
    return tr.get_html(f"escalation-ended-{outcome.value}", minutes=minutes)


def with_line(base: str, line: str | None) -> str:
    """The message's own text with one more line under it."""
    return base if not line else f"{base}\n{line}"


def _short(text: str) -> str:
    return text if len(text) <= MAX_TITLE else text[: MAX_TITLE - 1] + "…"


def escalation_text(
    tr: Translator,
    *,
    lead_id: int,
    title: str,
    minutes: int,
    stage: str,
    responsible: str,
    source: str,
) -> str:
    """The message to a manager about a lead nobody has taken (HTML, every value escaped)."""
    lines = [
        tr.get_html(
            "escalation-text",
            id=str(lead_id),
            title=_short(title) or f"#{lead_id}",
            minutes=minutes,
        ),
        tr.get_html("notify-line-stage", stage=_short(stage)),
    ]
    if responsible:
        lines.append(tr.get_html("notify-line-responsible", name=_short(responsible)))
    if source:
        lines.append(tr.get_html("notify-line-source", source=_short(source)))
    return "\n".join(lines)


def escalation_buttons(tr: Translator, lead_id: int, portal_url: str | None) -> Keyboard:
    """Take, Assign to…, Open card (and the portal) under an escalation message."""
    take = MessageButton(
        tr.get("notify-take-button"),
        callback_data=LeadButton(action=LeadAction.TAKE, lead_id=lead_id).pack(),
    )
    assign = MessageButton(
        tr.get("escalation-assign-button"),
        callback_data=EscalationButton(action=EscalationAction.ASSIGN, lead_id=lead_id).pack(),
    )
    card = MessageButton(
        tr.get("notify-open-button"),
        callback_data=LeadButton(action=LeadAction.CARD, lead_id=lead_id).pack(),
    )
    rows: list[tuple[MessageButton, ...]] = [(take, assign), (card,)]
    if portal_url:
        rows.append((MessageButton(tr.get("notify-portal-button"), url=portal_url),))
    return tuple(rows)
