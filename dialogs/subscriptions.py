"""Subscriptions to lead notifications (/subscribe, /subscriptions) and notification buttons."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any, TypeVar

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from aiogram.filters import Command
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram_dialog import Dialog, DialogManager, Window
from aiogram_dialog.api.exceptions import UnknownState, UnregisteredDialogError
from aiogram_dialog.widgets.kbd import Cancel

from bot.access.roles import Action, Identity
from bot.access.service import AccessService
from bot.i18n import Translator
from bot.leads.catalog import CatalogSnapshot, PortalCatalog
from bot.notify.buttons import (
    LeadAction,
    LeadButton,
    SubscriptionAction,
    SubscriptionButton,
    is_take,
)
from bot.notify.diff import LeadChange
from bot.notify.match import may_receive, subscription_wants
from bot.notify.take import TakeService
from bot.portal import PortalError, Status
from bot.portal.coerce import int_or_none
from bot.speed.escalation import EscalationService
from bot.speed.rules import ESCALATION_CHOICES
from bot.storage.snapshots import SnapshotRepository
from bot.storage.subscriptions import (
    EventKind,
    NewSubscription,
    Scope,
    Subscription,
    SubscriptionRepository,
)
from dialogs.states import Subscriptions, start_follow_up, start_lead_card
from dialogs.widgets import Tr

log = logging.getLogger(__name__)

PREVIEW_LINES = 5
PREVIEW_SCAN = 100
GROUP_ADMIN_STATUSES = frozenset({"administrator", "creator"})

# Button actions of a subscription card (`SubscriptionButton`).
OPEN = SubscriptionAction.OPEN
CARD = SubscriptionAction.CARD
REMOVE = SubscriptionAction.REMOVE
PAUSE = SubscriptionAction.PAUSE
SCOPE = SubscriptionAction.SCOPE
KIND = SubscriptionAction.KIND
STAGES_VIEW = SubscriptionAction.STAGES_VIEW
STAGE_TOGGLE = SubscriptionAction.STAGE_TOGGLE
STAGES_ANY = SubscriptionAction.STAGES_ANY
SOURCES_VIEW = SubscriptionAction.SOURCES_VIEW
SOURCE_TOGGLE = SubscriptionAction.SOURCE_TOGGLE
SOURCES_ANY = SubscriptionAction.SOURCES_ANY
USERS_VIEW = SubscriptionAction.USERS_VIEW
USER_TOGGLE = SubscriptionAction.USER_TOGGLE
USERS_ACTIONS = frozenset({USERS_VIEW, USER_TOGGLE})
ESCALATION_VIEW = SubscriptionAction.ESCALATION_VIEW
ESCALATION_SET = SubscriptionAction.ESCALATION_SET
ESCALATION_CHAT = SubscriptionAction.ESCALATION_CHAT
ESCALATION_ACTIONS = frozenset({ESCALATION_VIEW, ESCALATION_SET, ESCALATION_CHAT})
SUB_PREFIX = SubscriptionButton.__prefix__ + SubscriptionButton.__separator__
USERS_PAGE = 8
DIRECTORY_LIMIT = 10_000
MAX_CALLBACK_BYTES = 64

T = TypeVar("T")


def _code_as_name(code: str | None) -> str:
    return code or ""


def _thread_of(message: Message) -> int | None:
    return message.message_thread_id if message.is_topic_message else None


def _kinds_text(tr: Translator, sub: Subscription) -> str:
    if not sub.kinds:
        return tr.get("subs-kinds-all")
    return ", ".join(tr.get(f"subs-kind-{k.value}") for k in EventKind if k in sub.kinds)


def _state_text(tr: Translator, sub: Subscription) -> str:
    if sub.disabled_reason is not None:
        return tr.get("subs-state-disabled")
    return tr.get("subs-state-paused" if sub.paused else "subs-state-active")


def _in_order(chosen: Iterable[str], entries: Sequence[Status]) -> list[str]:
    """Names of the chosen dictionary entries in the portal's order; unknown ids last, as ids."""
    chosen = set(chosen)
    names = [e.name or e.status_id for e in entries if e.status_id in chosen]
    known = {e.status_id for e in entries}
    return names + sorted(c for c in chosen if c not in known)


def filters_summary(
    tr: Translator,
    sub: Subscription,
    catalog: CatalogSnapshot | None,
    user_names: Mapping[int, str],
) -> str:
    """One plain-text line of a subscription's filters: stages, sources, chosen responsibles."""
    parts: list[str] = []
    if sub.scope is Scope.USERS:
        names = sorted(user_names.get(i, f"#{i}") for i in sub.responsible_ids)
        parts.append(
            tr.get("subs-filter-users", values=", ".join(names))
            if names
            else tr.get("subs-filter-users-none")
        )
    stages = catalog.stages if catalog is not None else ()
    sources = catalog.sources if catalog is not None else ()
    if sub.stages:
        parts.append(tr.get("subs-filter-stages", values=", ".join(_in_order(sub.stages, stages))))
    if sub.sources:
        parts.append(
            tr.get("subs-filter-sources", values=", ".join(_in_order(sub.sources, sources)))
        )
    return "; ".join(parts) if parts else tr.get("subs-filters-none")


async def _snapshot(catalog: PortalCatalog) -> CatalogSnapshot | None:
    try:
        return await catalog.get()
    except PortalError as exc:
        log.warning("catalog unavailable for a subscription summary: %s", exc.code)
        return None


async def _user_names(access: AccessService, ids: Iterable[int]) -> dict[int, str]:
    names: dict[int, str] = {}
    for portal_user_id in ids:
        try:
            user = await access.directory.active_user(portal_user_id)
        except PortalError:
            user = None
        if user is not None:
            names[portal_user_id] = user.full_name or f"#{portal_user_id}"
    return names


async def _card_args(
    tr: Translator, sub: Subscription, catalog: PortalCatalog, access: AccessService
) -> dict[str, Any]:
    names = await _user_names(access, sub.responsible_ids) if sub.scope is Scope.USERS else {}
    return {
        "id": sub.id,
        "scope": tr.get(f"subs-scope-{sub.scope.value}"),
        "kinds": _kinds_text(tr, sub),
        "state": _state_text(tr, sub),
        "filters": filters_summary(tr, sub, await _snapshot(catalog), names),
    }


def _scopes_for(identity: Identity) -> list[Scope]:
    """Reps hear about their own leads only; managers and admins may widen or pick people."""
    if identity.may(Action.VIEW_ALL_LEADS):
        return [Scope.MINE, Scope.ALL, Scope.USERS]
    return [Scope.MINE]


def _data(sub_id: int, action: SubscriptionAction, value: str = "", page: int = 0) -> str:
    """A card button's callback data (ValueError when `value` holds the separator)."""
    return SubscriptionButton(id=sub_id, action=action, value=value, page=page).pack()


def toggled(values: frozenset[T], value: T) -> frozenset[T]:
    """`values` with `value` added, or removed when it was there."""
    return values - {value} if value in values else values | {value}


def subscription_keyboard(
    tr: Translator, sub: Subscription, *, may_widen: bool = True
) -> InlineKeyboardMarkup:
    """Toggles for kinds, the scope switch, filters, pause/resume and remove.

    `may_widen` is False for reps: their scope is always their own leads, so no switch.
    """
    effective = sub.kinds or frozenset(EventKind)
    toggles = [
        InlineKeyboardButton(
            text=("✅ " if kind in effective else "▫️ ") + tr.get(f"subs-kind-{kind.value}"),
            callback_data=_data(sub.id, KIND, kind.value),
        )
        for kind in EventKind
    ]
    scope = InlineKeyboardButton(
        text="🔁 " + tr.get(f"subs-scope-{sub.scope.value}"),
        callback_data=_data(sub.id, SCOPE),
    )
    pause = InlineKeyboardButton(
        text=tr.get("subs-resume-button" if sub.paused else "subs-pause-button"),
        callback_data=_data(sub.id, PAUSE),
    )
    remove = InlineKeyboardButton(
        text=tr.get("subs-remove-button"), callback_data=_data(sub.id, REMOVE)
    )
    filters = [
        InlineKeyboardButton(
            text=tr.get("subs-stages-button"), callback_data=_data(sub.id, STAGES_VIEW)
        ),
        InlineKeyboardButton(
            text=tr.get("subs-sources-button"), callback_data=_data(sub.id, SOURCES_VIEW)
        ),
    ]
    rows = [toggles[:2], toggles[2:]]
    if may_widen:
        rows.append([scope])
        if sub.scope is Scope.USERS:
            users = InlineKeyboardButton(
                text=tr.get("subs-users-button"), callback_data=_data(sub.id, USERS_VIEW)
            )
            rows.append([users])
        rows.append(
            [
                InlineKeyboardButton(
                    text=tr.get("subs-escalate-state", state=escalation_state(tr, sub)),
                    callback_data=_data(sub.id, ESCALATION_VIEW),
                )
            ]
        )
    rows += [filters, [pause, remove]]
    return InlineKeyboardMarkup(inline_keyboard=rows)


def escalation_state(tr: Translator, sub: Subscription) -> str:
    """The escalation in words: "after 15 min" or "off"."""
    if not sub.escalate_minutes:
        return tr.get("subs-escalate-off")
    return tr.get("subs-escalate-after", minutes=sub.escalate_minutes)


def escalation_keyboard(
    tr: Translator, sub: Subscription, managers: Sequence[tuple[int, str]]
) -> InlineKeyboardMarkup:
    """The wait before escalating (off or a choice of minutes), whom to tell, back to the card."""
    current = sub.escalate_minutes or 0
    choices = [
        InlineKeyboardButton(
            text=_check(
                current == minutes,
                tr.get("subs-escalate-minutes", minutes=minutes)
                if minutes
                else tr.get("subs-escalate-off-button"),
            ),
            callback_data=_data(sub.id, ESCALATION_SET, str(minutes)),
        )
        for minutes in (0, *ESCALATION_CHOICES)
    ]
    rows = [choices[:3], choices[3:]]
    known = {telegram_user_id for telegram_user_id, _ in managers}
    people = [*managers, *((i, f"#{i}") for i in sorted(sub.escalate_to - known))]
    rows += _pairs(
        [
            InlineKeyboardButton(
                text=_check(telegram_user_id in sub.escalate_to, name),
                callback_data=_data(sub.id, ESCALATION_CHAT, str(telegram_user_id)),
            )
            for telegram_user_id, name in people
        ]
    )
    rows.append(
        [InlineKeyboardButton(text=tr.get("subs-done-button"), callback_data=_data(sub.id, CARD))]
    )
    return InlineKeyboardMarkup(inline_keyboard=rows)


def _check(chosen: bool, label: str) -> str:
    return ("✅ " if chosen else "▫️ ") + label


def _pairs(buttons: list[InlineKeyboardButton]) -> list[list[InlineKeyboardButton]]:
    return [buttons[i : i + 2] for i in range(0, len(buttons), 2)]


def _option_buttons(
    sub_id: int, action: SubscriptionAction, entries: Sequence[Status], chosen: frozenset[str]
) -> list[InlineKeyboardButton]:
    buttons = []
    for entry in entries:
        try:
            data = _data(sub_id, action, entry.status_id)
        except ValueError:
            log.warning("dictionary id with a separator cannot be a button")
            continue
        if len(data.encode()) > MAX_CALLBACK_BYTES:
            log.warning("dictionary id too long for a button: %d bytes", len(entry.status_id))
            continue
        label = _check(entry.status_id in chosen, entry.name or entry.status_id)
        buttons.append(InlineKeyboardButton(text=label, callback_data=data))
    return buttons


def stages_keyboard(
    tr: Translator, sub: Subscription, catalog: CatalogSnapshot
) -> InlineKeyboardMarkup:
    """A checkbox per stage in the portal's order, "any stage" and back to the card."""
    rows = _pairs(_option_buttons(sub.id, STAGE_TOGGLE, catalog.stages, sub.stages))
    rows.append(
        [
            InlineKeyboardButton(
                text=_check(not sub.stages, tr.get("subs-any-stage-button")),
                callback_data=_data(sub.id, STAGES_ANY),
            ),
            InlineKeyboardButton(
                text=tr.get("subs-done-button"), callback_data=_data(sub.id, CARD)
            ),
        ]
    )
    return InlineKeyboardMarkup(inline_keyboard=rows)


def sources_keyboard(
    tr: Translator, sub: Subscription, catalog: CatalogSnapshot
) -> InlineKeyboardMarkup:
    """A checkbox per source in the portal's order, "any source" and back to the card."""
    rows = _pairs(_option_buttons(sub.id, SOURCE_TOGGLE, catalog.sources, sub.sources))
    rows.append(
        [
            InlineKeyboardButton(
                text=_check(not sub.sources, tr.get("subs-any-source-button")),
                callback_data=_data(sub.id, SOURCES_ANY),
            ),
            InlineKeyboardButton(
                text=tr.get("subs-done-button"), callback_data=_data(sub.id, CARD)
            ),
        ]
    )
    return InlineKeyboardMarkup(inline_keyboard=rows)


def users_keyboard(
    tr: Translator, sub: Subscription, people: Sequence[tuple[int, str]], page: int
) -> InlineKeyboardMarkup:
    """One page of people (id, name) as checkboxes, paging arrows and back to the card."""
    pages = max(1, -(-len(people) // USERS_PAGE))
    page = min(max(0, page), pages - 1)
    shown = people[page * USERS_PAGE : (page + 1) * USERS_PAGE]
    rows = _pairs(
        [
            InlineKeyboardButton(
                text=_check(user_id in sub.responsible_ids, name),
                callback_data=_data(sub.id, USER_TOGGLE, str(user_id), page),
            )
            for user_id, name in shown
        ]
    )
    paging = []
    if page > 0:
        paging.append(
            InlineKeyboardButton(text="◀️", callback_data=_data(sub.id, USERS_VIEW, page=page - 1))
        )
    if page < pages - 1:
        paging.append(
            InlineKeyboardButton(text="▶️", callback_data=_data(sub.id, USERS_VIEW, page=page + 1))
        )
    if paging:
        rows.append(paging)
    rows.append(
        [InlineKeyboardButton(text=tr.get("subs-done-button"), callback_data=_data(sub.id, CARD))]
    )
    return InlineKeyboardMarkup(inline_keyboard=rows)


async def _people(access: AccessService, sub: Subscription) -> list[tuple[int, str]]:
    """Active portal users by name; chosen people no longer active stay listed to be unticked."""
    users = await access.directory.search("", limit=DIRECTORY_LIMIT)
    people = [(u.id, u.full_name or f"#{u.id}") for u in users if u.id is not None]
    active = {user_id for user_id, _ in people}
    people += [(i, f"#{i}") for i in sorted(sub.responsible_ids - active)]
    return people


async def _is_group_admin(bot: Bot, chat_id: int, user_id: int) -> bool:
    try:
        member = await bot.get_chat_member(chat_id, user_id)
    except TelegramAPIError:
        return False
    return member.status in GROUP_ADMIN_STATUSES


async def _may_manage_chat(
    bot: Bot, identity: Identity, chat_id: int, chat_type: str
) -> str | None:
    """None when the caller may manage this chat's subscriptions, else the refusal key."""
    if chat_type == "private":
        return None if chat_id == identity.telegram_user_id else "subs-refused-not-yours"
    if not identity.may(Action.SUBSCRIBE_GROUP):
        return "subs-refused-group-role"
    if not await _is_group_admin(bot, chat_id, identity.telegram_user_id):
        return "subs-refused-group-admin"
    return None


async def _preview(
    tr: Translator,
    sub: Subscription,
    identity: Identity,
    snapshots: SnapshotRepository,
    catalog: PortalCatalog,
) -> str:
    """What the subscription would have said about the latest leads the bot has seen."""
    lines: list[str] = []
    stage_name: Callable[[str | None], str]
    try:
        stage_name = (await catalog.get()).stage_name
    except PortalError:
        stage_name = _code_as_name
    # The preview shows leads, not events: every filter but the kinds applies.
    preview_filter = replace(sub, kinds=frozenset())
    for lead in await snapshots.recent(PREVIEW_SCAN):
        lead_id = int_or_none(lead.get("ID"))
        if lead_id is None:
            continue
        change = LeadChange(lead_id, EventKind.ADDED, lead)
        if not subscription_wants(preview_filter, change, identity.portal_user_id):
            continue
        if not may_receive(identity, sub, change.assigned_by_id):
            continue
        lines.append(
            tr.get_html(
                "subs-preview-line",
                id=lead_id,
                title=str(lead.get("TITLE") or ""),
                stage=stage_name(lead.get("STATUS_ID")),
            )
        )
        if len(lines) >= PREVIEW_LINES:
            break
    body = "\n".join(lines) if lines else tr.get_html("subs-preview-empty")
    return tr.get_html("subs-preview-title") + "\n" + body


async def on_subscribe(
    message: Message,
    bot: Bot,
    identity: Identity | None,
    tr: Translator,
    subscription_store: SubscriptionRepository,
    snapshot_store: SnapshotRepository,
    catalog: PortalCatalog,
    access: AccessService,
) -> None:
    """Subscribe this chat (or forum topic) with sensible defaults, and show a preview."""
    if identity is None:
        return
    refusal = await _may_manage_chat(bot, identity, message.chat.id, message.chat.type)
    if refusal is not None:
        await message.reply(tr.get_html(refusal))
        return
    in_group = message.chat.type != "private"
    sees_all = identity.may(Action.VIEW_ALL_LEADS)
    sub = await subscription_store.create(
        NewSubscription(
            chat_id=message.chat.id,
            thread_id=_thread_of(message),
            created_by=identity.telegram_user_id,
            scope=Scope.ALL if in_group or sees_all else Scope.MINE,
            language=tr.language,
        )
    )
    log.info("subscription %d created in chat %d", sub.id, sub.chat_id)
    await message.answer(
        tr.get_html("subs-created", **await _card_args(tr, sub, catalog, access)),
        reply_markup=subscription_keyboard(tr, sub, may_widen=sees_all),
    )
    await message.answer(await _preview(tr, sub, identity, snapshot_store, catalog))


async def on_list(
    message: Message,
    bot: Bot,
    identity: Identity | None,
    tr: Translator,
    subscription_store: SubscriptionRepository,
    catalog: PortalCatalog,
    access: AccessService,
) -> None:
    """List this chat's subscriptions, filters included, with a button to open each."""
    if identity is None:
        return
    refusal = await _may_manage_chat(bot, identity, message.chat.id, message.chat.type)
    if refusal is not None:
        await message.reply(tr.get_html(refusal))
        return
    subs = await subscription_store.for_chat(message.chat.id, _thread_of(message))
    if not subs:
        await message.answer(tr.get_html("subs-none"))
        return
    lines = [tr.get_html("subs-title")]
    lines += [
        tr.get_html("subs-item", **await _card_args(tr, sub, catalog, access)) for sub in subs
    ]
    buttons = [
        [
            InlineKeyboardButton(
                text=f"#{sub.id} {tr.get(f'subs-scope-{sub.scope.value}')}",
                callback_data=_data(sub.id, OPEN),
            )
        ]
        for sub in subs
    ]
    await message.answer(
        "\n".join(lines), reply_markup=InlineKeyboardMarkup(inline_keyboard=buttons)
    )


def _next_kinds(sub: Subscription, kind: EventKind) -> frozenset[EventKind]:
    effective = sub.kinds or frozenset(EventKind)
    toggled = effective - {kind} if kind in effective else effective | {kind}
    if not toggled or toggled == frozenset(EventKind):
        # Nothing left would mean silence; all of them is the same as no filter.
        return frozenset() if toggled else effective
    return toggled


async def _refusal(
    bot: Bot, identity: Identity, callback: CallbackQuery, sub: Subscription
) -> str | None:
    """Why the caller may not change this subscription from where they pressed, if so."""
    assert callback.message is not None
    chat = callback.message.chat
    if chat.id != sub.chat_id:
        return "subs-refused-not-yours"
    refusal = await _may_manage_chat(bot, identity, chat.id, chat.type)
    if refusal is None and not sub.is_group and sub.created_by != identity.telegram_user_id:
        refusal = "subs-refused-not-yours"
    return refusal


async def _apply(
    action: SubscriptionAction,
    argument: str,
    sub: Subscription,
    identity: Identity,
    store: SubscriptionRepository,
    catalog: PortalCatalog,
    access: AccessService,
    escalations: EscalationService,
) -> tuple[Subscription | None, str]:
    """Make the change a button asks for; returns the subscription now and the view to show."""
    if action == PAUSE:
        return await store.update(sub.id, paused=not sub.paused), CARD
    if action == SCOPE:
        scopes = _scopes_for(identity)
        current = scopes.index(sub.scope) if sub.scope in scopes else -1
        scope = scopes[(current + 1) % len(scopes)]
        # Picking people comes right after choosing "chosen responsibles".
        return await store.update(sub.id, scope=scope), (
            USERS_VIEW if scope is Scope.USERS else CARD
        )
    if action == KIND and argument in {k.value for k in EventKind}:
        return await store.update(sub.id, kinds=_next_kinds(sub, EventKind(argument))), CARD
    if action == STAGE_TOGGLE:
        known = {s.status_id for s in (await catalog.get()).stages}
        if argument in known or argument in sub.stages:
            return await store.update(sub.id, stages=toggled(sub.stages, argument)), STAGES_VIEW
        return sub, STAGES_VIEW
    if action == STAGES_ANY:
        return await store.update(sub.id, stages=frozenset()), STAGES_VIEW
    if action == SOURCE_TOGGLE:
        known = {s.status_id for s in (await catalog.get()).sources}
        if argument in known or argument in sub.sources:
            return await store.update(sub.id, sources=toggled(sub.sources, argument)), SOURCES_VIEW
        return sub, SOURCES_VIEW
    if action == SOURCES_ANY:
        return await store.update(sub.id, sources=frozenset()), SOURCES_VIEW
    if action == USER_TOGGLE:
        if argument.isdigit():
            user_id = int(argument)
            active = await access.directory.active_user(user_id) is not None
            if active or user_id in sub.responsible_ids:
                updated = await store.update(
                    sub.id, responsible_ids=toggled(sub.responsible_ids, user_id)
                )
                return updated, USERS_VIEW
        return sub, USERS_VIEW
    if action == ESCALATION_SET:
        if argument.isdigit() and int(argument) in (0, *ESCALATION_CHOICES):
            return await store.update(sub.id, escalate_minutes=int(argument)), ESCALATION_VIEW
        return sub, ESCALATION_VIEW
    if action == ESCALATION_CHAT:
        if argument.lstrip("-").isdigit():
            chat_id = int(argument)
            managers = {telegram_user_id for telegram_user_id, _ in await escalations.managers()}
            if chat_id in managers or chat_id in sub.escalate_to:
                updated = await store.update(sub.id, escalate_to=toggled(sub.escalate_to, chat_id))
                return updated, ESCALATION_VIEW
        return sub, ESCALATION_VIEW
    if action in {STAGES_VIEW, SOURCES_VIEW, USERS_VIEW, ESCALATION_VIEW, OPEN}:
        return sub, action
    return sub, CARD


async def _render(
    view: str,
    page: int,
    tr: Translator,
    sub: Subscription,
    identity: Identity,
    catalog: PortalCatalog,
    access: AccessService,
    escalations: EscalationService,
) -> tuple[str, InlineKeyboardMarkup]:
    """The text and buttons of a card view: the card itself or one of its pickers."""
    if view == STAGES_VIEW:
        snapshot = await catalog.get()
        return tr.get_html("subs-pick-stages", id=sub.id), stages_keyboard(tr, sub, snapshot)
    if view == SOURCES_VIEW:
        snapshot = await catalog.get()
        return tr.get_html("subs-pick-sources", id=sub.id), sources_keyboard(tr, sub, snapshot)
    if view == ESCALATION_VIEW:
        managers = await escalations.managers()
        return (
            tr.get_html("subs-pick-escalation", id=sub.id),
            escalation_keyboard(tr, sub, managers),
        )
    if view == USERS_VIEW:
        people = await _people(access, sub)
        return tr.get_html("subs-pick-users", id=sub.id), users_keyboard(tr, sub, people, page)
    text = tr.get_html("subs-card", **await _card_args(tr, sub, catalog, access))
    return text, subscription_keyboard(tr, sub, may_widen=identity.may(Action.VIEW_ALL_LEADS))


async def on_subscription_button(
    callback: CallbackQuery,
    bot: Bot,
    identity: Identity | None,
    tr: Translator,
    subscription_store: SubscriptionRepository,
    catalog: PortalCatalog,
    access: AccessService,
    escalations: EscalationService,
) -> None:
    """Open, toggle, switch scope, filter, set escalation, pause/resume or remove a subscription.

    The caller's right to manage the chat is checked again on every press.
    """
    if identity is None or callback.data is None or callback.message is None:
        return
    button = SubscriptionButton.parse(callback.data)
    sub = await subscription_store.get(button.id) if button is not None else None
    if button is None or sub is None:
        await callback.answer(tr.get("subs-not-found"), show_alert=True)
        return
    refusal = await _refusal(bot, identity, callback, sub)
    action, argument = button.action, button.value
    if refusal is None and action in USERS_ACTIONS and Scope.USERS not in _scopes_for(identity):
        refusal = "subs-refused-users-scope"
    if (
        refusal is None
        and action in ESCALATION_ACTIONS
        and not identity.may(Action.ASSIGN_TO_OTHERS)
    ):
        refusal = "subs-refused-escalation"
    if refusal is not None:
        await callback.answer(tr.get(refusal), show_alert=True)
        return
    if action == REMOVE:
        await subscription_store.remove(sub.id)
        await callback.answer()
        await callback.message.answer(tr.get_html("subs-removed", id=sub.id))
        return
    updated, view = await _apply(
        action, argument, sub, identity, subscription_store, catalog, access, escalations
    )
    await callback.answer()
    if updated is None:
        return
    page = button.page
    text, markup = await _render(view, page, tr, updated, identity, catalog, access, escalations)
    if action == OPEN:
        await callback.message.answer(text, reply_markup=markup)
        return
    try:
        await bot.edit_message_text(
            text=text,
            chat_id=callback.message.chat.id,
            message_id=callback.message.message_id,
            reply_markup=markup,
        )
    except TelegramBadRequest as exc:
        if "not modified" not in exc.message:
            await callback.message.answer(text, reply_markup=markup)
    except TelegramAPIError:
        await callback.message.answer(text, reply_markup=markup)


async def on_take(
    callback: CallbackQuery,
    callback_data: LeadButton,
    bot: Bot,
    identity: Identity | None,
    tr: Translator,
    take: TakeService,
    escalations: EscalationService,
) -> None:
    """Take the lead of a notification: the first press wins, later ones are told who won.

    A message that counts the lead's wait gets its last line from the escalation worker
    ("taken by X in 4 min"), paced with the chat's other sends.
    """
    if identity is None or callback.message is None:
        return
    message = callback.message
    result = await take.take(
        identity,
        chat_id=message.chat.id,
        private=message.chat.type == "private",
        message_id=message.message_id,
        lead_id=callback_data.lead_id,
    )
    if not result.taken:
        names = {"name": result.winner} if result.winner is not None else {}
        await callback.answer(tr.get(result.key, **names), show_alert=True)
        return
    await callback.answer(tr.get(result.key))
    if await escalations.is_watched(message.chat.id, message.message_id):
        return
    await _mark_taken(bot, tr, callback, identity.name)


async def _mark_taken(bot: Bot, tr: Translator, callback: CallbackQuery, name: str) -> None:
    message = callback.message
    if not isinstance(message, Message):
        return
    buttons = [
        [b for b in row if not is_take(b.callback_data)]
        for row in (message.reply_markup.inline_keyboard if message.reply_markup else [])
    ]
    markup = InlineKeyboardMarkup(inline_keyboard=[row for row in buttons if row])
    try:
        await bot.edit_message_text(
            text=(message.html_text or "") + "\n" + tr.get_html("notify-taken", name=name),
            chat_id=message.chat.id,
            message_id=message.message_id,
            reply_markup=markup,
        )
    except TelegramAPIError as exc:
        log.info("could not mark message %d as taken: %s", message.message_id, exc.message)


async def on_open_card(
    callback: CallbackQuery,
    callback_data: LeadButton,
    identity: Identity | None,
    tr: Translator,
    dialog_manager: DialogManager,
) -> None:
    """Open the lead card from a private notification (the card re-checks visibility)."""
    if identity is None:
        return
    await callback.answer()
    try:
        await start_lead_card(dialog_manager, callback_data.lead_id)
    except (UnregisteredDialogError, UnknownState):
        if callback.message is not None:
            await callback.message.answer(tr.get_html("notify-card-unavailable"))


async def on_lead_follow_up(
    callback: CallbackQuery,
    callback_data: LeadButton,
    identity: Identity | None,
    dialog_manager: DialogManager,
) -> None:
    """⏰ on a nudge: plan a follow-up (the follow-up re-reads the lead and checks access)."""
    if identity is None:
        return
    await callback.answer()
    await start_follow_up(dialog_manager, callback_data.lead_id)


async def on_lead_stage(
    callback: CallbackQuery,
    callback_data: LeadButton,
    identity: Identity | None,
    dialog_manager: DialogManager,
) -> None:
    """🔀 on a nudge: the card, right at its stages (the card re-checks visibility)."""
    if identity is None:
        return
    await callback.answer()
    await start_lead_card(dialog_manager, callback_data.lead_id, to_stage=True)


def build_subscriptions_router() -> Router:
    """A fresh router: /subscribe, /subscriptions, their buttons, and notification buttons."""
    router = Router(name="subscriptions")
    router.message.register(on_subscribe, Command("subscribe"))
    router.message.register(on_list, Command("subscriptions"))
    router.callback_query.register(on_subscription_button, F.data.startswith(SUB_PREFIX))
    router.callback_query.register(on_take, LeadButton.filter(F.action == LeadAction.TAKE))
    router.callback_query.register(on_open_card, LeadButton.filter(F.action == LeadAction.CARD))
    router.callback_query.register(
        on_lead_follow_up, LeadButton.filter(F.action == LeadAction.FOLLOW_UP)
    )
    router.callback_query.register(on_lead_stage, LeadButton.filter(F.action == LeadAction.STAGE))
    return router


def build_subscriptions_dialog() -> Dialog:
    """The menu's Subscriptions window: how to subscribe and manage."""
    return Dialog(
        Window(Tr("subs-menu-text"), Cancel(Tr("button-back")), state=Subscriptions.main),
    )
