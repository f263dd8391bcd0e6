"""Subscriptions to lead notifications (/subscribe, /subscriptions) and notification buttons."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram_dialog import Dialog, DialogManager, Window
from aiogram_dialog.api.exceptions import UnknownState, UnregisteredDialogError
from aiogram_dialog.widgets.kbd import Cancel

from bot.access.roles import Action, Identity
from bot.i18n import Translator
from bot.leads.catalog import PortalCatalog
from bot.notify.diff import LeadChange, as_int
from bot.notify.match import may_receive, subscription_wants
from bot.notify.render import CARD_CALLBACK_PREFIX, TAKE_CALLBACK_PREFIX
from bot.portal import Lane, LeadChanges, PortalClient, PortalError
from bot.storage.snapshots import LeadClaim, SnapshotRepository
from bot.storage.subscriptions import (
    EventKind,
    NewSubscription,
    Scope,
    Subscription,
    SubscriptionRepository,
)
from dialogs.states import Subscriptions, start_lead_card
from dialogs.widgets import Tr

log = logging.getLogger(__name__)

SUB_PREFIX = "sub:"
PREVIEW_LINES = 5
PREVIEW_SCAN = 100
GROUP_ADMIN_STATUSES = frozenset({"administrator", "creator"})
CLOSED_SEMANTICS = frozenset({"S", "F"})


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


def _card_args(tr: Translator, sub: Subscription) -> dict[str, Any]:
    return {
        "id": sub.id,
        "scope": tr.get(f"subs-scope-{sub.scope.value}"),
        "kinds": _kinds_text(tr, sub),
        "state": _state_text(tr, sub),
    }


def subscription_keyboard(tr: Translator, sub: Subscription) -> InlineKeyboardMarkup:
    """Toggles for kinds, the scope switch, pause/resume and remove."""
    effective = sub.kinds or frozenset(EventKind)
    toggles = [
        InlineKeyboardButton(
            text=("✅ " if kind in effective else "▫️ ") + tr.get(f"subs-kind-{kind.value}"),
            callback_data=f"{SUB_PREFIX}{sub.id}:k:{kind.value}",
        )
        for kind in EventKind
    ]
    scope = InlineKeyboardButton(
        text="🔁 " + tr.get(f"subs-scope-{sub.scope.value}"),
        callback_data=f"{SUB_PREFIX}{sub.id}:s",
    )
    pause = InlineKeyboardButton(
        text=tr.get("subs-resume-button" if sub.paused else "subs-pause-button"),
        callback_data=f"{SUB_PREFIX}{sub.id}:p",
    )
    remove = InlineKeyboardButton(
        text=tr.get("subs-remove-button"), callback_data=f"{SUB_PREFIX}{sub.id}:r"
    )
    return InlineKeyboardMarkup(
        inline_keyboard=[toggles[:2], toggles[2:], [scope], [pause, remove]]
    )


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
        lead_id = as_int(lead.get("ID"))
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
        tr.get_html("subs-created", **_card_args(tr, sub)),
        reply_markup=subscription_keyboard(tr, sub),
    )
    await message.answer(await _preview(tr, sub, identity, snapshot_store, catalog))


async def on_list(
    message: Message,
    bot: Bot,
    identity: Identity | None,
    tr: Translator,
    subscription_store: SubscriptionRepository,
) -> None:
    """List this chat's subscriptions with a button to open each."""
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
    lines += [tr.get_html("subs-item", **_card_args(tr, sub)) for sub in subs]
    buttons = [
        [
            InlineKeyboardButton(
                text=f"#{sub.id} {tr.get(f'subs-scope-{sub.scope.value}')}",
                callback_data=f"{SUB_PREFIX}{sub.id}:o",
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


async def on_subscription_button(
    callback: CallbackQuery,
    bot: Bot,
    identity: Identity | None,
    tr: Translator,
    subscription_store: SubscriptionRepository,
) -> None:
    """Open, toggle, switch scope, pause/resume or remove a subscription."""
    if identity is None or callback.data is None or callback.message is None:
        return
    parts = callback.data.removeprefix(SUB_PREFIX).split(":")
    sub = await subscription_store.get(int(parts[0])) if parts[0].isdigit() else None
    if sub is None:
        await callback.answer(tr.get("subs-not-found"), show_alert=True)
        return
    chat = callback.message.chat
    refusal = None if chat.id == sub.chat_id else "subs-refused-not-yours"
    if refusal is None:
        refusal = await _may_manage_chat(bot, identity, chat.id, chat.type)
    if refusal is None and not sub.is_group and sub.created_by != identity.telegram_user_id:
        refusal = "subs-refused-not-yours"
    if refusal is not None:
        await callback.answer(tr.get(refusal), show_alert=True)
        return
    action = parts[1] if len(parts) > 1 else "o"
    if action == "r":
        await subscription_store.remove(sub.id)
        await callback.answer()
        await callback.message.answer(tr.get_html("subs-removed", id=sub.id))
        return
    updated: Subscription | None = sub
    if action == "p":
        updated = await subscription_store.update(sub.id, paused=not sub.paused)
    elif action == "s":
        scopes = [Scope.MINE, Scope.ALL] if identity.may(Action.VIEW_ALL_LEADS) else [Scope.MINE]
        current = scopes.index(sub.scope) if sub.scope in scopes else -1
        updated = await subscription_store.update(
            sub.id, scope=scopes[(current + 1) % len(scopes)]
        )
    elif action == "k" and len(parts) > 2 and parts[2] in {k.value for k in EventKind}:
        updated = await subscription_store.update(
            sub.id, kinds=_next_kinds(sub, EventKind(parts[2]))
        )
    await callback.answer()
    if updated is None:
        return
    text = tr.get_html("subs-card", **_card_args(tr, updated))
    markup = subscription_keyboard(tr, updated)
    if action == "o":
        await callback.message.answer(text, reply_markup=markup)
    else:
        try:
            await bot.edit_message_text(
                text=text,
                chat_id=chat.id,
                message_id=callback.message.message_id,
                reply_markup=markup,
            )
        except TelegramAPIError:
            await callback.message.answer(text, reply_markup=markup)


def _may_take(
    identity: Identity, lead_semantic: str | None, assigned: int | None, *, in_group: bool
) -> bool:
    """An open lead only; managers take any, reps one offered to their team's group."""
    if lead_semantic in CLOSED_SEMANTICS:
        return False
    return identity.may(Action.VIEW_ALL_LEADS) or in_group or assigned == identity.portal_user_id


async def on_take(
    callback: CallbackQuery,
    bot: Bot,
    identity: Identity | None,
    tr: Translator,
    portal: PortalClient,
    snapshot_store: SnapshotRepository,
) -> None:
    """Take the lead of a notification: the first press wins, later ones are told who won."""
    if identity is None or callback.data is None or callback.message is None:
        return
    raw_id = callback.data.removeprefix(TAKE_CALLBACK_PREFIX)
    if not raw_id.isdigit():
        await callback.answer()
        return
    lead_id = int(raw_id)
    message = callback.message
    chat_id, message_id = message.chat.id, message.message_id
    if message.chat.type == "private" and chat_id != identity.telegram_user_id:
        await callback.answer(tr.get("notify-take-refused"), show_alert=True)
        return
    claim = await snapshot_store.claim(
        chat_id,
        message_id,
        lead_id,
        LeadClaim(lead_id, identity.telegram_user_id, identity.portal_user_id, identity.name),
    )
    if claim.telegram_user_id != identity.telegram_user_id:
        await callback.answer(tr.get("notify-take-already", name=claim.name), show_alert=True)
        return
    try:
        lead = await portal.get_lead(lead_id, lane=Lane.INTERACTIVE)
        in_group = message.chat.type != "private"
        if not _may_take(
            identity, lead.status_semantic_id, lead.assigned_by_id, in_group=in_group
        ):
            await snapshot_store.release_claim(chat_id, message_id, identity.telegram_user_id)
            await callback.answer(tr.get("notify-take-refused"), show_alert=True)
            return
        if lead.assigned_by_id != identity.portal_user_id:
            # Noted first, so the update event is attributed to this user and not echoed.
            await snapshot_store.record_bot_action(
                lead_id, identity.telegram_user_id, identity.portal_user_id, "take"
            )
            await portal.update_lead(
                lead_id, LeadChanges(assigned_by_id=identity.portal_user_id), lane=Lane.INTERACTIVE
            )
    except PortalError as exc:
        log.warning("take of lead %d failed: portal %s", lead_id, exc.code)
        await snapshot_store.release_claim(chat_id, message_id, identity.telegram_user_id)
        await callback.answer(tr.get("notify-take-failed"), show_alert=True)
        return
    await callback.answer(tr.get("notify-take-done"))
    await _mark_taken(bot, tr, callback, identity.name)


async def _mark_taken(bot: Bot, tr: Translator, callback: CallbackQuery, name: str) -> None:
    message = callback.message
    if not isinstance(message, Message):
        return
    buttons = [
        [b for b in row if not (b.callback_data or "").startswith(TAKE_CALLBACK_PREFIX)]
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
    identity: Identity | None,
    tr: Translator,
    dialog_manager: DialogManager,
) -> None:
    """Open the lead card from a private notification (the card re-checks visibility)."""
    if identity is None or callback.data is None:
        return
    raw_id = callback.data.removeprefix(CARD_CALLBACK_PREFIX)
    if not raw_id.isdigit():
        await callback.answer()
        return
    await callback.answer()
    try:
        await start_lead_card(dialog_manager, int(raw_id))
    except (UnregisteredDialogError, UnknownState):
        if callback.message is not None:
            await callback.message.answer(tr.get_html("notify-card-unavailable"))


def build_subscriptions_router() -> Router:
    """A fresh router: /subscribe, /subscriptions, their buttons, and notification buttons."""
    router = Router(name="subscriptions")
    router.message.register(on_subscribe, Command("subscribe"))
    router.message.register(on_list, Command("subscriptions"))
    router.callback_query.register(on_subscription_button, F.data.startswith(SUB_PREFIX))
    router.callback_query.register(on_take, F.data.startswith(TAKE_CALLBACK_PREFIX))
    router.callback_query.register(on_open_card, F.data.startswith(CARD_CALLBACK_PREFIX))
    return router


def build_subscriptions_dialog() -> Dialog:
    """The menu's Subscriptions window: how to subscribe and manage."""
    return Dialog(
        Window(Tr("subs-menu-text"), Cancel(Tr("button-back")), state=Subscriptions.main),
    )
