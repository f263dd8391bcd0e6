"""The tab's logic: who may see what, and the two actions, each checked on every request.

Opening: the form must come from our portal (`member_id` of the installation, and its
application token when given), name a lead (`PLACEMENT_OPTIONS.ID`), and carry an AUTH_ID the
portal vouches for (`ViewerCheck`). The viewer is then the bot's own identity of that portal
user (their strongest active binding), and the lead must be visible to them by the bot's
rules. Actions carry only the page's signed token (`TabTokens`); each re-reads the lead and
re-checks the role before anything is queued through the outbox.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from bot.access.roles import Action, Identity, Role
from bot.access.service import AccessService
from bot.events.audience import Audience
from bot.events.receiver import same_secret
from bot.i18n import Translations, Translator, language_of
from bot.install.installation import Installation, InstallationStore
from bot.leads.render import render_compact_card
from bot.leads.service import LeadService
from bot.leads.visibility import LeadHiddenError, visible_lead
from bot.notify.buttons import LeadAction, LeadButton
from bot.notify.render import Links
from bot.portal import Lead, NotFoundError, PortalClient, PortalError
from bot.storage.bindings import BindingRepository
from bot.storage.db import DATABASE_ERRORS
from bot.storage.mutes import MuteRepository
from bot.storage.outbox import MessageButton, NewOutboxMessage, Notification, OutboxRepository
from bot.storage.subscriptions import Scope, Subscription, SubscriptionRepository
from bot.tab.csrf import TabClaims, TabTokens
from bot.tab.history import LeadHistory
from bot.tab.page import (
    NOTE_LIMIT,
    DeliveryLine,
    FollowUpLine,
    Notice,
    ResponsibleStatus,
    TabView,
    render_refusal,
    render_tab,
)
from bot.tab.viewer import ViewerCheck, ViewerRefused

log = logging.getLogger(__name__)

LEAD_TAB = "CRM_LEAD_DETAIL_TAB"
MAX_FIELD_LENGTH = 4096
TITLE_CACHE_SECONDS = 600.0
_ROLE_RANK = {Role.REP: 0, Role.MANAGER: 1, Role.ADMIN: 2}

ChatTitle = Callable[[int], Awaitable[str | None]]
"""A group's title as Telegram reports it (None: the bot cannot read the chat)."""


class TabAction(StrEnum):
    """What a form of the tab asks for (also the outbox kind of what it sends)."""

    PING = "ping"
    SHARE = "share"


@dataclass(frozen=True, slots=True)
class TabAnswer:
    """An HTML page and its status."""

    status: int
    html: str


class TabRefusal(Exception):
    """The request cannot be served: its status, the page's text key and a reason to log."""

    def __init__(self, status: int, text_key: str, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.text_key = text_key
        self.reason = reason


@dataclass(frozen=True, slots=True)
class PlacementForm:
    """What the portal's POST says, before anything in it is believed."""

    auth_id: str
    member_id: str
    application_token: str
    lead_id: int
    language: str

    def __repr__(self) -> str:
        # AUTH_ID and the application token never reach a log line.
        return f"PlacementForm(member_id={self.member_id!r}, lead_id={self.lead_id})"


def _field(form: Mapping[str, str], name: str) -> str:
    value = form.get(name, "")
    return value if isinstance(value, str) and len(value) <= MAX_FIELD_LENGTH else ""


def page_language(form: Mapping[str, str], query: Mapping[str, str]) -> str:
    """The portal's LANG (query string or body), English unless it is one of ours."""
    return language_of(_field(query, "LANG") or _field(form, "LANG") or None)


def read_placement_form(form: Mapping[str, str], query: Mapping[str, str]) -> PlacementForm:
    """The placement call's fields; TabRefusal 401 (no AUTH_ID) or 400 (no lead) otherwise."""
    auth_id = _field(form, "AUTH_ID")
    if not auth_id:
        raise TabRefusal(401, "tab-refused-auth", "no AUTH_ID")
    placement = _field(form, "PLACEMENT")
    if placement and placement != LEAD_TAB:
        raise TabRefusal(400, "tab-refused-request", "not the lead tab placement")
    try:
        options = json.loads(_field(form, "PLACEMENT_OPTIONS") or "null")
    except ValueError:
        raise TabRefusal(400, "tab-refused-request", "PLACEMENT_OPTIONS is not JSON") from None
    raw_id = options.get("ID") if isinstance(options, dict) else None
    text_id = str(raw_id) if isinstance(raw_id, str | int) and not isinstance(raw_id, bool) else ""
    if not text_id.isdigit() or not 0 < int(text_id) < 2**31:
        raise TabRefusal(400, "tab-refused-request", "PLACEMENT_OPTIONS has no lead ID")
    return PlacementForm(
        auth_id=auth_id,
        member_id=_field(form, "member_id"),
        application_token=_field(form, "APPLICATION_TOKEN"),
        lead_id=int(text_id),
        language=page_language(form, query),
    )


def check_portal(form: PlacementForm, installation: Installation | None) -> None:
    """Refuse (403) a call from any portal but the one the application is installed on."""
    if installation is None or not installation.installed:
        raise TabRefusal(403, "tab-refused-portal", "the application is not installed")
    if not same_secret(form.member_id, installation.member_id):
        raise TabRefusal(403, "tab-refused-portal", "member_id does not match")
    if form.application_token and not same_secret(
        form.application_token, installation.application_token
    ):
        raise TabRefusal(403, "tab-refused-portal", "application token does not match")


def strongest(identities: Sequence[Identity]) -> Identity | None:
    """The identity with the widest role (a person may have more than one account)."""
    if not identities:
        return None
    return max(identities, key=lambda i: (_ROLE_RANK[i.role], -i.telegram_user_id))


def group_takes_lead(subscription: Subscription, reader: Identity, lead: Lead) -> bool:
    """Whether a group subscription's filters and its subscriber's rights take this lead.

    The kinds of change do not matter here: the lead is sent as it is, not as a change.
    """
    if not subscription.is_group or not subscription.active:
        return False
    assigned = lead.assigned_by_id
    if subscription.scope is Scope.MINE and assigned != reader.portal_user_id:
        return False
    if subscription.scope is Scope.USERS and assigned not in subscription.responsible_ids:
        return False
    if subscription.stages and (lead.status_id or "") not in subscription.stages:
        return False
    if subscription.sources and (lead.source_id or "") not in subscription.sources:
        return False
    return reader.may(Action.SUBSCRIBE_GROUP) and reader.may_see_lead(assigned)


@dataclass(frozen=True, slots=True)
class TabPaths:
    """Where the page's forms post."""

    ping: str
    group: str


class TabService:
    """Serves the tab's page and its two actions."""

    def __init__(
        self,
        *,
        installation: InstallationStore,
        viewers: ViewerCheck,
        tokens: TabTokens,
        access: AccessService,
        bindings: BindingRepository,
        audience: Audience,
        portal: PortalClient,
        leads: LeadService,
        history: LeadHistory,
        subscriptions: SubscriptionRepository,
        mutes: MuteRepository,
        outbox: OutboxRepository,
        translations: Translations,
        links: Links,
        chat_title: ChatTitle,
        paths: TabPaths,
        zone: ZoneInfo,
        on_queued: Callable[[], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._installation = installation
        self._viewers = viewers
        self._tokens = tokens
        self._access = access
        self._bindings = bindings
        self._audience = audience
        self._portal = portal
        self._leads = leads
        self._history = history
        self._subscriptions = subscriptions
        self._mutes = mutes
        self._outbox = outbox
        self._translations = translations
        self._links = links
        self._chat_title = chat_title
        self._paths = paths
        self._zone = zone
        self._on_queued = on_queued
        self._clock = clock
        self._titles: dict[int, tuple[float, str | None]] = {}

    # --- the two doors --------------------------------------------------------------------

    async def open(self, form: Mapping[str, str], query: Mapping[str, str]) -> TabAnswer:
        """The page for the portal's POST (a refusal page when anything does not check out)."""
        language = page_language(form, query)
        try:
            placement = read_placement_form(form, query)
            check_portal(placement, await self._installation.get())
            viewer = await self._viewers.who(placement.auth_id)
            identity = await self._identity(viewer.portal_user_id)
            lead = await self._lead(identity, placement.lead_id)
            token = await self._tokens.issue(
                member_id=placement.member_id,
                portal_user_id=identity.portal_user_id,
                lead_id=lead.id or placement.lead_id,
                language=placement.language,
            )
            return TabAnswer(200, await self._page(identity, lead, token, placement.language))
        except ViewerRefused as exc:
            return self._refused(language, TabRefusal(exc.status, "tab-refused-auth", exc.reason))
        except TabRefusal as exc:
            return self._refused(language, exc)
        except PortalError as exc:
            refusal = TabRefusal(503, "tab-refused-unavailable", f"portal {exc.code}")
            return self._refused(language, refusal)
        except DATABASE_ERRORS as exc:
            refusal = TabRefusal(503, "tab-refused-busy", f"database {type(exc).__name__}")
            return self._refused(language, refusal)

    async def act(self, action: TabAction, form: Mapping[str, str]) -> TabAnswer:
        """Ping the responsible or send to the team group, as the token's portal user."""
        claims = await self._tokens.read(_field(form, "token"))
        if claims is None:
            language = language_of(None)
            return self._refused(language, TabRefusal(403, "tab-refused-expired", "bad token"))
        tr = self._translations.for_language(claims.language)
        try:
            check_token_portal(claims, await self._installation.get())
            identity = await self._identity(claims.portal_user_id)
            lead = await self._lead(identity, claims.lead_id)
            note = _field(form, "note").strip() if action is TabAction.PING else ""
            if action is TabAction.PING and len(note) > NOTE_LIMIT:
                text = tr.get("tab-note-too-long", length=str(len(note)), limit=str(NOTE_LIMIT))
                page = await self._page(
                    identity,
                    lead,
                    await self._reissue(claims),
                    claims.language,
                    notice=Notice(text, ok=False),
                    note=note[:NOTE_LIMIT],
                )
                return TabAnswer(400, page)
            if action is TabAction.PING:
                notice = await self._ping(tr, claims, identity, lead, note)
            else:
                notice = await self._share(tr, claims, identity, lead)
            page = await self._page(
                identity, lead, await self._reissue(claims), claims.language, notice=notice
            )
            return TabAnswer(200 if notice.ok else 409, page)
        except TabRefusal as exc:
            return self._refused(claims.language, exc)
        except PortalError as exc:
            refusal = TabRefusal(503, "tab-refused-unavailable", f"portal {exc.code}")
            return self._refused(claims.language, refusal)
        except DATABASE_ERRORS as exc:
            refusal = TabRefusal(503, "tab-refused-busy", f"database {type(exc).__name__}")
            return self._refused(claims.language, refusal)

    def _refused(self, language: str, refusal: TabRefusal) -> TabAnswer:
        log.info("lead tab refused (%d): %s", refusal.status, refusal.reason)
        tr = self._translations.for_language(language)
        return TabAnswer(refusal.status, render_refusal(tr, tr.language, refusal.text_key))

    # --- checks -----------------------------------------------------------------------------

    async def _identity(self, portal_user_id: int) -> Identity:
        bindings = await self._bindings.find_by_portal_user(portal_user_id)
        identities = []
        for binding in bindings:
            caller = await self._access.resolve(binding.telegram_user_id)
            if caller.identity is not None:
                identities.append(caller.identity)
        identity = strongest(identities)
        if identity is None:
            raise TabRefusal(403, "tab-refused-unbound", "the portal user is not bound")
        return identity

    async def _lead(self, identity: Identity, lead_id: int) -> Lead:
        try:
            return await visible_lead(self._portal, identity, lead_id)
        except LeadHiddenError:
            raise TabRefusal(
                403, "tab-refused-lead", "the lead is hidden from the viewer"
            ) from None
        except NotFoundError:
            raise TabRefusal(404, "tab-refused-gone", "the lead does not exist") from None

    async def _reissue(self, claims: TabClaims) -> str:
        return await self._tokens.issue(
            member_id=claims.member_id,
            portal_user_id=claims.portal_user_id,
            lead_id=claims.lead_id,
            language=claims.language,
        )

    # --- what the page shows -----------------------------------------------------------------

    async def _page(
        self,
        identity: Identity,
        lead: Lead,
        token: str,
        language: str,
        *,
        notice: Notice | None = None,
        note: str = "",
    ) -> str:
        tr = self._translations.for_language(language)
        lead_id = lead.id or 0
        groups = await self._groups(tr, lead)
        view = TabView(
            lead_id=lead_id,
            lead_title=lead.title or f"#{lead_id}",
            viewer_name=identity.name or await self._leads.user_name(identity.portal_user_id),
            viewer_role=identity.role.value,
            responsible=await self._responsible(lead),
            deliveries=await self._deliveries(tr, lead_id),
            followups=await self._followups(lead_id),
            groups=[name for _, name in groups],
            token=token,
            ping_url=self._paths.ping,
            group_url=self._paths.group,
            language=tr.language,
            notice=notice,
            note=note,
            zone_label=str(self._zone),
        )
        return render_tab(tr, view)

    async def _responsible_identity(self, lead: Lead) -> Identity | None:
        if lead.assigned_by_id is None:
            return None
        bindings = await self._bindings.find_by_portal_user(lead.assigned_by_id)
        found = await self._audience.identities([b.telegram_user_id for b in bindings])
        return strongest(list(found.values()))

    async def _responsible(self, lead: Lead) -> ResponsibleStatus | None:
        if lead.assigned_by_id is None:
            return None
        name = await self._leads.user_name(lead.assigned_by_id)
        identity = await self._responsible_identity(lead)
        if identity is None:
            return ResponsibleStatus(name=name, signed_in=False)
        chat = identity.telegram_user_id
        subscriptions = await self._subscriptions.for_chat(chat)
        muted = await self._mutes.muted_until(chat, None)
        return ResponsibleStatus(
            name=name,
            signed_in=True,
            notifications_on=any(s.active for s in subscriptions),
            muted_until=muted.astimezone(self._zone) if muted is not None else None,
        )

    async def _chat_name(self, tr: Translator, chat_id: int) -> str:
        if chat_id > 0:
            binding = await self._bindings.get(chat_id)
            name = (
                await self._leads.user_name(binding.portal_user_id) if binding is not None else ""
            )
            if name and not name.startswith("#"):
                return tr.get("tab-history-private", name=name)
            return tr.get("tab-history-private-unknown")
        title = await self._group_title(chat_id)
        return title or tr.get("tab-history-group-unknown")

    async def _group_title(self, chat_id: int) -> str | None:
        cached = self._titles.get(chat_id)
        now = self._clock()
        if cached is not None and now - cached[0] < TITLE_CACHE_SECONDS:
            return cached[1]
        title = await self._chat_title(chat_id)
        self._titles[chat_id] = (now, title)
        return title

    async def _deliveries(self, tr: Translator, lead_id: int) -> list[DeliveryLine]:
        lines = []
        for sent in await self._history.deliveries(lead_id):
            lines.append(
                DeliveryLine(
                    chat=await self._chat_name(tr, sent.chat_id),
                    sent_at=self._local(sent.sent_at),
                    kind=sent.kind,
                )
            )
        return lines

    async def _followups(self, lead_id: int) -> list[FollowUpLine]:
        lines = []
        for item in await self._history.followups(lead_id):
            binding = await self._bindings.get(item.telegram_user_id)
            person = (
                await self._leads.user_name(binding.portal_user_id) if binding is not None else ""
            )
            due = self._local(item.due_at)
            assert due is not None
            lines.append(
                FollowUpLine(due_at=due, state=item.state.value, note=item.note, person=person)
            )
        return lines

    def _local(self, moment: datetime | None) -> datetime | None:
        return moment.astimezone(self._zone) if moment is not None else None

    async def _groups(self, tr: Translator, lead: Lead) -> list[tuple[Subscription, str]]:
        """The team groups this lead's notifications go to, one entry per chat and topic."""
        subscriptions = [s for s in await self._subscriptions.active() if s.is_group]
        readers = await self._audience.identities({s.created_by for s in subscriptions})
        chosen: dict[tuple[int, int | None], Subscription] = {}
        for sub in subscriptions:
            reader = readers.get(sub.created_by)
            if reader is not None and group_takes_lead(sub, reader, lead):
                chosen.setdefault((sub.chat_id, sub.thread_id), sub)
        return [(sub, await self._chat_name(tr, sub.chat_id)) for sub in chosen.values()]

    # --- actions -----------------------------------------------------------------------------

    async def _message(
        self, tr: Translator, key: str, identity: Identity, lead: Lead, note: str
    ) -> str:
        view = await self._leads.compact_view(lead)
        lines = [tr.get_html(key, name=identity.name or f"#{identity.portal_user_id}")]
        if note:
            lines.append(tr.get_html("tab-message-note", note=note))
        lines.append("")
        lines.append(render_compact_card(tr, view))
        return "\n".join(lines)

    async def _queue(self, messages: list[NewOutboxMessage]) -> bool:
        added = await self._outbox.add(messages)
        if added:
            self._on_queued()
        return added > 0

    async def _ping(
        self, tr: Translator, claims: TabClaims, identity: Identity, lead: Lead, note: str
    ) -> Notice:
        responsible = await self._responsible_identity(lead)
        if responsible is None:
            return Notice(tr.get("tab-ping-unavailable"), ok=False)
        binding = await self._bindings.get(responsible.telegram_user_id)
        reader_tr = self._translations.for_language(binding.language if binding else None)
        lead_id = lead.id or claims.lead_id
        text = await self._message(reader_tr, "tab-message-ping", identity, lead, note)
        card = MessageButton(
            reader_tr.get("notify-open-button"),
            callback_data=LeadButton(action=LeadAction.CARD, lead_id=lead_id).pack(),
        )
        queued = await self._queue(
            [
                NewOutboxMessage(
                    idempotency_key=claims.action_key(TabAction.PING.value),
                    chat_id=responsible.telegram_user_id,
                    thread_id=None,
                    lead_id=lead_id,
                    notification=Notification(
                        text=text,
                        buttons=((card,),),
                        assigned_by_id=lead.assigned_by_id,
                        kind=TabAction.PING.value,
                        urgent=True,
                        title=lead.title,
                    ),
                )
            ]
        )
        log.info(
            "lead tab: portal user %d pinged the responsible of lead %d",
            identity.portal_user_id,
            lead_id,
        )
        if not queued:
            return Notice(tr.get("tab-done-already"), ok=False)
        return Notice(tr.get("tab-done-ping", name=responsible.name or "—"), ok=True)

    async def _share(
        self, tr: Translator, claims: TabClaims, identity: Identity, lead: Lead
    ) -> Notice:
        groups = await self._groups(tr, lead)
        if not groups:
            return Notice(tr.get("tab-group-unavailable"), ok=False)
        lead_id = lead.id or claims.lead_id
        messages = []
        for sub, _ in groups:
            group_tr = self._translations.for_language(sub.language)
            text = await self._message(group_tr, "tab-message-share", identity, lead, "")
            card = MessageButton(
                group_tr.get("notify-open-button"), url=self._links.card_deep_link(lead_id)
            )
            key = claims.action_key(TabAction.SHARE.value)
            messages.append(
                NewOutboxMessage(
                    idempotency_key=f"{key}:{sub.chat_id}:{sub.thread_id or 0}",
                    chat_id=sub.chat_id,
                    thread_id=sub.thread_id,
                    lead_id=lead_id,
                    notification=Notification(
                        text=text,
                        buttons=((card,),),
                        subscriber=sub.created_by,
                        assigned_by_id=lead.assigned_by_id,
                        kind=TabAction.SHARE.value,
                        urgent=True,
                        title=lead.title,
                    ),
                )
            )
        queued = await self._queue(messages)
        log.info(
            "lead tab: portal user %d sent lead %d to %d group(s)",
            identity.portal_user_id,
            lead_id,
            len(messages),
        )
        if not queued:
            return Notice(tr.get("tab-done-already"), ok=False)
        return Notice(tr.get("tab-done-group", chat=", ".join(n for _, n in groups)), ok=True)


def check_token_portal(claims: TabClaims, installation: Installation | None) -> None:
    """Refuse (403) a token issued for another installation, or after an uninstall."""
    if installation is None or not installation.installed:
        raise TabRefusal(403, "tab-refused-portal", "the application is not installed")
    if not same_secret(claims.member_id, installation.member_id):
        raise TabRefusal(403, "tab-refused-portal", "the token's member_id does not match")
