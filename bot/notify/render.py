"""How a lead notification reads: HTML text with every value escaped, and its buttons (pure)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bot.i18n import Translator
from bot.notify.buttons import LeadAction, LeadButton, MuteAction, MuteButton
from bot.notify.diff import ChangedField, FieldChange, LeadChange
from bot.storage.outbox import Keyboard, MessageButton
from bot.storage.subscriptions import EventKind

MAX_MESSAGE_LENGTH = 4096
MAX_VALUE_LENGTH = 200
_ELLIPSIS = "…"

StageName = Callable[[str | None], str]


@dataclass(frozen=True, slots=True)
class Author:
    """Who made the change: a portal user, and whether it went through the bot."""

    name: str
    via_bot: bool = False


@dataclass(frozen=True, slots=True)
class Names:
    """Name look-ups the renderer needs: stages, sources, portal users."""

    stage: StageName
    source: StageName
    users: Mapping[int, str]

    def user(self, user_id: Any) -> str:
        """A portal user's name, or `#id` when unknown."""
        if user_id in (None, ""):
            return ""
        try:
            return self.users.get(int(user_id)) or f"#{int(user_id)}"
        except (TypeError, ValueError):
            return str(user_id)


@dataclass(frozen=True, slots=True)
class Links:
    """Where the buttons lead."""

    bot_username: str
    portal_base: str | None

    def card_deep_link(self, lead_id: int) -> str:
        """The bot's private chat opening this lead's card."""
        return f"https://t.me/{self.bot_username}?start=lead_{lead_id}"

    def portal_leads_url(self) -> str | None:
        """The portal's list of leads."""
        if not self.portal_base:
            return None
        return f"{self.portal_base.rstrip('/')}/crm/lead/list/"

    def portal_url(self, lead_id: int) -> str | None:
        """The lead in the portal's UI."""
        if not self.portal_base:
            return None
        return f"{self.portal_base.rstrip('/')}/crm/lead/details/{lead_id}/"


def _value(tr: Translator, change: FieldChange, value: Any, names: Names) -> str:
    if change.field == ChangedField.STAGE:
        text = names.stage(value) if value else ""
    elif change.field == ChangedField.SOURCE:
        text = names.source(value) if value else ""
    elif change.field == ChangedField.RESPONSIBLE:
        text = names.user(value)
    elif change.field == ChangedField.AMOUNT:
        text = f"{value[0]} {value[1]}".strip() if value else ""
    else:
        text = str(value or "")
    return _short(text) or tr.get("notify-empty")


def _short(text: str) -> str:
    return text if len(text) <= MAX_VALUE_LENGTH else text[: MAX_VALUE_LENGTH - 1] + _ELLIPSIS


def lead_title(lead: Mapping[str, Any], lead_id: int) -> str:
    """The lead's title as a message shows it: shortened, `#id` when it has none (not escaped)."""
    return _short(str(lead.get("TITLE") or "").strip()) or f"#{lead_id}"


def render_text(tr: Translator, change: LeadChange, names: Names, author: Author | None) -> str:
    """The message text, valid Telegram HTML, at most 4096 characters."""
    lead = change.lead
    # A lead deleted before the bot ever read it: only its id and what the event carried.
    unseen = change.kind is EventKind.DELETED and "STATUS_ID" not in lead
    header_key = {
        EventKind.ADDED: "notify-added",
        EventKind.CHANGED: "notify-changed",
        EventKind.DELETED: "notify-deleted",
    }.get(change.kind, "notify-changed")
    if unseen and not str(lead.get("TITLE") or "").strip():
        header_key = "notify-deleted-untitled"
    title = lead_title(lead, change.lead_id)
    lines = [tr.get_html(header_key, id=str(change.lead_id), title=title)]
    if unseen:
        lines.append(tr.get_html("notify-deleted-unseen"))
    elif change.kind is EventKind.CHANGED and change.changes:
        for item in change.changes:
            lines.append(
                tr.get_html(
                    "notify-change-line",
                    field=tr.get(f"notify-field-{item.field}"),
                    old=_value(tr, item, item.old, names),
                    new=_value(tr, item, item.new, names),
                )
            )
    else:
        lines.append(
            tr.get_html("notify-line-stage", stage=_short(names.stage(lead.get("STATUS_ID"))))
        )
        responsible = names.user(lead.get("ASSIGNED_BY_ID"))
        if responsible:
            lines.append(tr.get_html("notify-line-responsible", name=_short(responsible)))
        if lead.get("SOURCE_ID"):
            lines.append(
                tr.get_html(
                    "notify-line-source", source=_short(names.source(lead.get("SOURCE_ID")))
                )
            )
    if author is not None and author.name:
        key = "notify-by-bot" if author.via_bot else "notify-by"
        lines.append(tr.get_html(key, name=_short(author.name)))
    return _fit(lines)


def _fit(lines: list[str]) -> str:
    # Lines are whole HTML fragments: drop whole lines rather than cut inside a tag. Values
    # are shortened before escaping, so the header and the author line always fit.
    head, *middle, tail = lines if len(lines) > 1 else [*lines, ""]
    budget = MAX_MESSAGE_LENGTH - len(head) - len(tail) - 2 * len(_ELLIPSIS) - 4
    kept: list[str] = []
    for line in middle:
        if len(line) + 1 > budget:
            kept.append(_ELLIPSIS)
            break
        kept.append(line)
        budget -= len(line) + 1
    return "\n".join(part for part in (head, *kept, tail) if part)


def render_buttons(
    tr: Translator, change: LeadChange, links: Links, *, is_group: bool
) -> Keyboard:
    """Inline buttons: open the card, take the lead, open in the portal."""
    if change.kind is EventKind.DELETED:
        return ()
    lead_id = change.lead_id
    card_label = tr.get("notify-open-button")
    card = (
        MessageButton(card_label, url=links.card_deep_link(lead_id))
        if is_group
        else MessageButton(
            card_label, callback_data=LeadButton(action=LeadAction.CARD, lead_id=lead_id).pack()
        )
    )
    take = MessageButton(
        tr.get("notify-take-button"),
        callback_data=LeadButton(action=LeadAction.TAKE, lead_id=lead_id).pack(),
    )
    mute = (
        MessageButton(
            tr.get("notify-mute-hour-button"),
            callback_data=MuteButton(action=MuteAction.HOUR).pack(),
        ),
        MessageButton(
            tr.get("notify-mute-today-button"),
            callback_data=MuteButton(action=MuteAction.TODAY).pack(),
        ),
    )
    portal = links.portal_url(lead_id)
    if portal:
        return ((card, take), (MessageButton(tr.get("notify-portal-button"), url=portal),), mute)
    return ((card, take), mute)
