"""Ask the owner: a rep whose new client is already somebody else's lead asks for it.

The owner (when bound to the bot) and every manager get a durable message with the client's
details and the rep's note, and buttons to hand the lead over or to answer. Every press is
re-checked here: only the lead's current responsible or a manager may hand it over or answer,
and a request is handed over once, whoever presses first.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from aiogram.filters.callback_data import CallbackData

from bot.access.roles import Action, Identity
from bot.i18n import Translations, Translator
from bot.leads.actions import BotActionLog
from bot.notify.buttons import LeadAction, LeadButton
from bot.portal import Lane, Lead, LeadChanges, NotFoundError, PortalClient, PortalError
from bot.portal.methods import GetLead, UpdateLead
from bot.storage import BindingRepository
from bot.storage.models import Binding
from bot.storage.outbox import MessageButton, NewOutboxMessage, Notification, OutboxRepository
from bot.storage.owner_requests import OwnerRequest, OwnerRequestRepository, RequestState

log = logging.getLogger(__name__)

NOTE_LIMIT = 500
"""A note is a line or two for a colleague; longer text is cut."""
ANSWER_LIMIT = 1000
HAND_OVER_ACTION = "hand_over"


class Identities(Protocol):
    """Who a Telegram account is now (the processor's `Audience` fits)."""

    async def identities(self, telegram_user_ids: Collection[int]) -> Mapping[int, Identity]:
        """Bound, active identities by Telegram id (unbound or deactivated ones are absent)."""
        ...


UserName = Callable[[int | None], Awaitable[str]]
"""A portal user's display name (`LeadService.user_name`)."""


class RequestAction(StrEnum):
    """What a button on a request message does."""

    HAND_OVER = "h"
    ANSWER = "a"


class OwnerRequestButton(CallbackData, prefix="or"):
    """`or:<action>:<request id>`. The id is only a claim: every press is re-checked."""

    action: RequestAction
    id: int


@dataclass(frozen=True, slots=True)
class ClientDetails:
    """Who came to the rep, as the rep typed it into the form."""

    name: str = ""
    company: str = ""
    phones: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()

    def line(self) -> str:
        """One line for the request message (empty when nothing is known)."""
        parts = [self.name, self.company, *self.phones, *self.emails]
        return ", ".join(part for part in parts if part)


class AskOutcome(StrEnum):
    """How asking ended (the rep is told with the locale key `owner-ask-<value>`)."""

    SENT = "sent"
    SENT_TO_MANAGERS = "managers"
    ALREADY_ASKED = "already"
    YOURS = "yours"
    NOBODY = "nobody"
    GONE = "gone"
    FAILED = "failed"


class PressOutcome(StrEnum):
    """How a press on a request message ended (locale key `owner-request-<value>`)."""

    HANDED = "handed"
    ALREADY = "already"
    REFUSED = "refused"
    GONE = "gone"
    FAILED = "failed"
    ANSWERED = "answered"


@dataclass(frozen=True, slots=True)
class PressResult:
    """The outcome and, for a hand-over, the request (to tell the presser whom it went to)."""

    outcome: PressOutcome
    request: OwnerRequest | None = None


def may_decide(identity: Identity, lead: Lead) -> bool:
    """The lead's current responsible, or whoever may assign leads to others."""
    return identity.portal_user_id == lead.assigned_by_id or identity.may(Action.ASSIGN_TO_OTHERS)


def _recipients(
    bindings: Sequence[Binding], identities: Mapping[int, Identity], owner_id: int | None
) -> list[Binding]:
    """The owner's accounts and every manager's (bound and active now)."""
    chosen = []
    for binding in bindings:
        identity = identities.get(binding.telegram_user_id)
        if identity is None:
            continue
        if identity.portal_user_id == owner_id or identity.may(Action.ASSIGN_TO_OTHERS):
            chosen.append(binding)
    return chosen


class OwnerRequestService:
    """Sends requests to a lead's owner and managers; hands the lead over or answers."""

    def __init__(
        self,
        *,
        portal: PortalClient,
        bindings: BindingRepository,
        audience: Identities,
        requests: OwnerRequestRepository,
        outbox: OutboxRepository,
        actions: BotActionLog,
        translations: Translations,
        user_name: UserName,
        on_queued: Callable[[], None] = lambda: None,
    ) -> None:
        self._portal = portal
        self._bindings = bindings
        self._audience = audience
        self._requests = requests
        self._outbox = outbox
        self._actions = actions
        self._translations = translations
        self._user_name = user_name
        self._on_queued = on_queued

    async def _send(self, messages: list[NewOutboxMessage]) -> None:
        await self._outbox.add(messages)
        self._on_queued()

    async def _lead(self, lead_id: int) -> Lead | None:
        try:
            return await self._portal(GetLead(id=lead_id), lane=Lane.INTERACTIVE)
        except NotFoundError:
            return None

    async def ask(
        self, identity: Identity, lead_id: int, client: ClientDetails, note: str
    ) -> AskOutcome:
        """Ask the lead's owner (and the managers) to hand the lead over to the caller."""
        try:
            lead = await self._lead(lead_id)
        except PortalError as exc:
            log.warning("asking about lead %d failed: portal %s", lead_id, exc.code)
            return AskOutcome.FAILED
        if lead is None:
            return AskOutcome.GONE
        if lead.assigned_by_id == identity.portal_user_id:
            return AskOutcome.YOURS
        bindings = [
            b
            for b in await self._bindings.list_bindings()
            if b.telegram_user_id != identity.telegram_user_id
        ]
        identities = await self._audience.identities([b.telegram_user_id for b in bindings])
        recipients = _recipients(bindings, identities, lead.assigned_by_id)
        if not recipients:
            return AskOutcome.NOBODY
        request, new = await self._requests.open(
            lead_id=lead_id,
            requester_telegram_id=identity.telegram_user_id,
            requester_portal_id=identity.portal_user_id,
            owner_portal_id=lead.assigned_by_id,
            note=note.strip()[:NOTE_LIMIT],
        )
        if not new:
            return AskOutcome.ALREADY_ASKED
        asker = await self._user_name(identity.portal_user_id) or identity.name
        owner = await self._user_name(lead.assigned_by_id) if lead.assigned_by_id else ""
        messages = [
            self._request_message(
                binding, request, lead, client, asker=asker, owner=owner, note=request.note
            )
            for binding in recipients
        ]
        await self._send(messages)
        log.info(
            "lead %d: request %d from telegram user %d sent to %d chats",
            lead_id,
            request.id,
            identity.telegram_user_id,
            len(messages),
        )
        if any(b.portal_user_id == lead.assigned_by_id for b in recipients):
            return AskOutcome.SENT
        return AskOutcome.SENT_TO_MANAGERS

    def _request_message(
        self,
        binding: Binding,
        request: OwnerRequest,
        lead: Lead,
        client: ClientDetails,
        *,
        asker: str,
        owner: str,
        note: str,
    ) -> NewOutboxMessage:
        tr = self._translations.for_language(binding.language)
        title = lead.title or tr.get("lead-untitled")
        is_owner = binding.portal_user_id == lead.assigned_by_id
        lines = [
            tr.get_html(
                "owner-request-to-owner" if is_owner else "owner-request-to-manager",
                asker=asker,
                title=title,
                owner=owner or tr.get("owner-request-nobody"),
            )
        ]
        details = client.line()
        if details:
            lines.append(tr.get_html("owner-request-client", client=details))
        if note:
            lines.append(tr.get_html("owner-request-note", note=note))
        card = LeadButton(action=LeadAction.CARD, lead_id=request.lead_id).pack()
        hand_over = OwnerRequestButton(action=RequestAction.HAND_OVER, id=request.id).pack()
        answer = OwnerRequestButton(action=RequestAction.ANSWER, id=request.id).pack()
        buttons = (
            (MessageButton(tr.get("owner-request-hand-over-button"), callback_data=hand_over),),
            (
                MessageButton(tr.get("owner-request-answer-button"), callback_data=answer),
                MessageButton(tr.get("notify-open-button"), callback_data=card),
            ),
        )
        return NewOutboxMessage(
            idempotency_key=f"owner-request:{request.id}:{binding.telegram_user_id}",
            chat_id=binding.telegram_user_id,
            thread_id=None,
            lead_id=request.lead_id,
            notification=Notification("\n".join(lines), buttons),
        )

    async def _decidable(
        self, identity: Identity, request_id: int
    ) -> tuple[OwnerRequest, Lead] | PressOutcome:
        """The request and its lead when the caller may act on it, else why not."""
        request = await self._requests.get(request_id)
        if request is None:
            return PressOutcome.GONE
        try:
            lead = await self._lead(request.lead_id)
        except PortalError as exc:
            log.warning("request %d: portal %s", request_id, exc.code)
            return PressOutcome.FAILED
        if lead is None:
            return PressOutcome.GONE
        if not may_decide(identity, lead):
            return PressOutcome.REFUSED
        return request, lead

    async def hand_over(self, identity: Identity, request_id: int) -> PressResult:
        """Make the rep who asked responsible for the lead; the first press wins."""
        found = await self._decidable(identity, request_id)
        if isinstance(found, PressOutcome):
            return PressResult(found)
        request, lead = found
        if request.state is not RequestState.OPEN:
            return PressResult(PressOutcome.ALREADY, request)
        if not await self._requests.resolve(
            request.id, RequestState.HANDED, identity.telegram_user_id
        ):
            return PressResult(PressOutcome.ALREADY, await self._requests.get(request.id))
        if lead.assigned_by_id != request.requester_portal_id:
            try:
                # Noted first, so the update event is attributed to the presser.
                await self._actions.record(identity, request.lead_id, HAND_OVER_ACTION)
                changes = LeadChanges(assigned_by_id=request.requester_portal_id)
                write = UpdateLead(id=request.lead_id, fields=changes)
                await self._portal(write, lane=Lane.INTERACTIVE)
            except PortalError as exc:
                log.warning("request %d: hand-over failed: portal %s", request.id, exc.code)
                await self._requests.reopen(request.id)
                return PressResult(PressOutcome.FAILED, request)
        tr = await self._translator_of(request.requester_telegram_id)
        giver = await self._user_name(identity.portal_user_id) or identity.name
        text = tr.get_html(
            "owner-request-handed-to-you",
            name=giver,
            title=lead.title or tr.get("lead-untitled"),
        )
        card = LeadButton(action=LeadAction.CARD, lead_id=request.lead_id).pack()
        buttons = ((MessageButton(tr.get("notify-open-button"), callback_data=card),),)
        await self._send(
            [
                NewOutboxMessage(
                    idempotency_key=f"owner-request:{request.id}:handed",
                    chat_id=request.requester_telegram_id,
                    thread_id=None,
                    lead_id=request.lead_id,
                    notification=Notification(text, buttons),
                )
            ]
        )
        log.info("lead %d handed over on request %d", request.lead_id, request.id)
        return PressResult(PressOutcome.HANDED, request)

    async def may_answer(self, identity: Identity, request_id: int) -> PressOutcome | None:
        """Why the caller may not answer this request (None when they may)."""
        found = await self._decidable(identity, request_id)
        return found if isinstance(found, PressOutcome) else None

    async def answer(
        self, identity: Identity, request_id: int, text: str, *, answer_key: str
    ) -> PressOutcome:
        """Send the caller's answer to the rep who asked (once per `answer_key`)."""
        found = await self._decidable(identity, request_id)
        if isinstance(found, PressOutcome):
            return found
        request, lead = found
        tr = await self._translator_of(request.requester_telegram_id)
        name = await self._user_name(identity.portal_user_id) or identity.name
        body = tr.get_html(
            "owner-request-answer-to-you",
            name=name,
            title=lead.title or tr.get("lead-untitled"),
            text=text.strip()[:ANSWER_LIMIT],
        )
        await self._send(
            [
                NewOutboxMessage(
                    idempotency_key=f"owner-answer:{request.id}:{answer_key}",
                    chat_id=request.requester_telegram_id,
                    thread_id=None,
                    lead_id=None,
                    notification=Notification(body),
                )
            ]
        )
        return PressOutcome.ANSWERED

    async def request_messages(self, request: OwnerRequest) -> list[tuple[int, int]]:
        """(chat id, message id) of every copy of the request the owner and managers got."""
        bindings = await self._bindings.list_bindings(include_inactive=True)
        keys = [f"owner-request:{request.id}:{b.telegram_user_id}" for b in bindings]
        return await self._outbox.sent_messages(keys)

    async def request(self, request_id: int) -> OwnerRequest | None:
        """The request with this id, if any."""
        return await self._requests.get(request_id)

    async def requester_name(self, request: OwnerRequest) -> str:
        """The name of the rep who asked, as the portal has it."""
        return await self._user_name(request.requester_portal_id)

    async def _translator_of(self, telegram_user_id: int) -> Translator:
        binding = await self._bindings.get(telegram_user_id)
        return self._translations.for_language(binding.language if binding else None)
