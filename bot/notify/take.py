"""Take from a notification: the first press on a message the bot sent wins the lead."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

from bot.access.roles import Action, Identity
from bot.portal import Lane, LeadChanges, PortalClient, PortalError
from bot.portal.methods import GetLead, UpdateLead
from bot.storage.outbox import OutboxRepository
from bot.storage.snapshots import LeadClaim, SnapshotRepository
from bot.storage.subscriptions import SubscriptionRepository

log = logging.getLogger(__name__)

CLOSED_SEMANTICS = frozenset({"S", "F"})
ESCALATION_KIND = "escalation"
"""`Notification.kind` of a message to managers about a lead nobody has taken."""


class TakeRecorder(Protocol):
    """Notes a lead's first take for speed to lead."""

    async def record_take(self, lead_id: int, identity: Identity) -> None:
        """`identity` took the lead through the bot just now."""
        ...


@dataclass(frozen=True, slots=True)
class TakeResult:
    """How a press ended: `key` is the locale key of the answer; `taken` when the lead moved."""

    key: str
    taken: bool = False
    winner: str | None = None


def may_take(
    identity: Identity, lead_semantic: str | None, assigned: int | None, *, in_group: bool
) -> bool:
    """An open lead only; managers take any, reps one offered to their team's group."""
    if lead_semantic in CLOSED_SEMANTICS:
        return False
    return identity.may(Action.VIEW_ALL_LEADS) or in_group or assigned == identity.portal_user_id


class TakeService:
    """Checks a Take press against what the bot really sent, then moves the lead."""

    def __init__(
        self,
        *,
        portal: PortalClient,
        snapshots: SnapshotRepository,
        outbox: OutboxRepository,
        subscriptions: SubscriptionRepository,
        recorder: TakeRecorder | None = None,
    ) -> None:
        self._portal = portal
        self._snapshots = snapshots
        self._outbox = outbox
        self._subscriptions = subscriptions
        self._recorder = recorder

    async def refusal(
        self, chat_id: int, message_id: int, lead_id: int, identity: Identity | None = None
    ) -> str | None:
        """Why this press may not take this lead (a locale key), or None when it was offered here.

        The button's data is only a claim: the outbox must have sent this very message, about
        this lead, to this chat, and the subscription that sent it must still be on. A message
        about a lead nobody took goes to managers without a subscription: there, the presser
        must be a manager or an admin.
        """
        sent = await self._outbox.sent_notification(chat_id, message_id)
        if sent is None:
            # Never ours, sent before message ids were kept, or its row was pruned.
            return "notify-take-expired"
        if sent.lead_id != lead_id:
            return "notify-take-not-offered"
        if sent.kind == ESCALATION_KIND:
            if identity is None or not identity.may(Action.ASSIGN_TO_OTHERS):
                return "notify-take-refused"
            return None
        subscriptions = await self._subscriptions.for_chat(chat_id, sent.thread_id)
        if not any(
            sub.thread_id == sent.thread_id and sub.disabled_reason is None
            for sub in subscriptions
        ):
            return "notify-take-unsubscribed"
        return None

    async def take(
        self,
        identity: Identity,
        *,
        chat_id: int,
        private: bool,
        message_id: int,
        lead_id: int,
    ) -> TakeResult:
        """Take the lead of a notification message, re-checking everything on the server."""
        if private and chat_id != identity.telegram_user_id:
            return TakeResult("notify-take-refused")
        refusal = await self.refusal(chat_id, message_id, lead_id, identity)
        if refusal is not None:
            log.info("take of lead %d refused in chat %d: %s", lead_id, chat_id, refusal)
            return TakeResult(refusal)
        claim = await self._snapshots.claim(
            chat_id,
            message_id,
            lead_id,
            LeadClaim(lead_id, identity.telegram_user_id, identity.portal_user_id, identity.name),
        )
        if claim.telegram_user_id != identity.telegram_user_id:
            return TakeResult("notify-take-already", winner=claim.name)
        try:
            lead = await self._portal(GetLead(id=lead_id), lane=Lane.INTERACTIVE)
            if not may_take(
                identity, lead.status_semantic_id, lead.assigned_by_id, in_group=not private
            ):
                await self._snapshots.release_claim(chat_id, message_id, identity.telegram_user_id)
                return TakeResult("notify-take-refused")
            if lead.assigned_by_id == identity.portal_user_id:
                # Nothing to take: the message stays open for the others.
                await self._snapshots.release_claim(chat_id, message_id, identity.telegram_user_id)
                return TakeResult("notify-take-yours")
            # Noted first, so the update event is attributed to this user and not echoed.
            await self._snapshots.record_bot_action(
                lead_id, identity.telegram_user_id, identity.portal_user_id, "take"
            )
            changes = LeadChanges(assigned_by_id=identity.portal_user_id)
            await self._portal(UpdateLead(id=lead_id, fields=changes), lane=Lane.INTERACTIVE)
        except PortalError as exc:
            log.warning("take of lead %d failed: portal %s", lead_id, exc.code)
            await self._snapshots.release_claim(chat_id, message_id, identity.telegram_user_id)
            return TakeResult("notify-take-failed")
        if self._recorder is not None:
            await self._recorder.record_take(lead_id, identity)
        return TakeResult("notify-take-done", taken=True)
