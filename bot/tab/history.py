"""What the bot already did about a lead: the messages it sent, and the lead's follow-ups."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.storage.db import Database
from bot.storage.json_codec import decode_json
from bot.storage.outbox import MalformedNotificationError, Notification
from bot.storage.reminders import ReminderState
from bot.storage.timestamps import from_db_time

HISTORY_LIMIT = 20
FOLLOWUP_LIMIT = 10
SHOWN_KINDS = frozenset({"added", "changed", "stage", "deleted", "reminder", "ping", "share"})


@dataclass(frozen=True, slots=True)
class SentMessage:
    """A message the outbox delivered about the lead."""

    chat_id: int
    thread_id: int | None
    sent_at: datetime | None
    kind: str


@dataclass(frozen=True, slots=True)
class LeadFollowUp:
    """One follow-up reminder of the lead."""

    telegram_user_id: int
    due_at: datetime
    state: ReminderState
    note: str


def _kind(payload: str) -> str:
    try:
        kind = Notification.from_json(decode_json(payload)).kind
    except (MalformedNotificationError, ValueError):
        return "other"
    return kind if kind in SHOWN_KINDS else "other"


class LeadHistory:
    """Reads the outbox and the reminders of one lead, newest first."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def deliveries(self, lead_id: int, limit: int = HISTORY_LIMIT) -> list[SentMessage]:
        """Messages sent about the lead (skipped ones left out), newest first."""
        rows = await self._db.fetch_all(
            "SELECT chat_id, thread_id, sent_at, payload FROM outbox "
            "WHERE lead_id = ? AND state = 'sent' AND telegram_message_id IS NOT NULL "
            "ORDER BY sent_at DESC, id DESC LIMIT ?",
            (lead_id, limit),
        )
        return [
            SentMessage(
                chat_id=int(row["chat_id"]),
                thread_id=row["thread_id"],
                sent_at=from_db_time(row["sent_at"]) if row["sent_at"] else None,
                kind=_kind(row["payload"]),
            )
            for row in rows
        ]

    async def followups(self, lead_id: int, limit: int = FOLLOWUP_LIMIT) -> list[LeadFollowUp]:
        """The lead's follow-ups, the latest deadline first."""
        rows = await self._db.fetch_all(
            "SELECT telegram_user_id, due_at, state, note FROM reminders "
            "WHERE lead_id = ? ORDER BY due_at DESC LIMIT ?",
            (lead_id, limit),
        )
        return [
            LeadFollowUp(
                telegram_user_id=int(row["telegram_user_id"]),
                due_at=from_db_time(row["due_at"]),
                state=ReminderState(row["state"]),
                note=row["note"] or "",
            )
            for row in rows
        ]
