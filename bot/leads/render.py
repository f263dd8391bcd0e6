"""Pure rendering of leads as Telegram HTML: result lines, the card, the compact card.

Every value from the portal is cut to a sane length first and HTML-escaped; a whole card
stays within Telegram's 4096-character limit.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from bot.i18n import Translator

MESSAGE_LIMIT = 4096
TITLE_LIMIT = 200
VALUE_LIMIT = 200
COMMENT_LIMIT = 600
LINE_TITLE_LIMIT = 60
BUTTON_LIMIT = 48
LIST_LIMIT = 10
ELLIPSIS = "…"


@dataclass(frozen=True)
class LeadSummary:
    """What a result line needs from a lead."""

    id: int
    title: str
    status_id: str
    created: datetime | None = None
    assigned_by_id: int | None = None


@dataclass(frozen=True)
class ProductLine:
    """One product row as the card shows it."""

    name: str
    quantity: Decimal
    price: Decimal

    @property
    def sum(self) -> Decimal:
        """Price times quantity."""
        return self.price * self.quantity


@dataclass(frozen=True)
class CardView:
    """Everything a lead card shows, names already resolved from the caches."""

    lead_id: int
    title: str
    stage: str
    responsible: str = ""
    source: str = ""
    person: str = ""
    phones: Sequence[str] = ()
    emails: Sequence[str] = ()
    company: str = ""
    opportunity: Decimal | None = None
    currency: str = ""
    contacts: Sequence[str] = ()
    more_contacts: int = 0
    products: Sequence[ProductLine] = field(default_factory=tuple)
    comments: str = ""
    modified_at: datetime | None = None
    modified_by: str = ""

    @property
    def products_total(self) -> Decimal:
        """The sum of every product row."""
        return sum((p.sum for p in self.products), Decimal(0))


def telegram_length(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


def cut(value: str | None, limit: int) -> str:
    """`value` on one line, at most `limit` characters (an ellipsis marks a cut)."""
    text = " ".join((value or "").split())
    if len(text) <= limit:
        return text
    return text[: limit - 1].rstrip() + ELLIPSIS


def cut_block(value: str | None, limit: int) -> str:
    """Multi-line `value` (line breaks kept), at most `limit` characters."""
    text = (value or "").strip()
    if len(text) <= limit:
        return text
    return text[: limit - 1].rstrip() + ELLIPSIS


def escape(value: str | None, limit: int = VALUE_LIMIT) -> str:
    """Cut and HTML-escape one value."""
    return html.escape(cut(value, limit), quote=False)


def money(amount: Decimal | None, currency: str = "") -> str:
    """`12 500.00 RUB` (thin grouping, two decimals)."""
    value = amount if amount is not None else Decimal(0)
    text = f"{value:,.2f}".replace(",", " ")
    return f"{text} {currency}".strip()


def format_moment(moment: datetime | None) -> str:
    """`2026-03-01 09:30` in the portal's own offset."""
    return moment.strftime("%Y-%m-%d %H:%M") if moment is not None else ""


def age(created: datetime | None, now: datetime) -> tuple[str, int]:
    """The locale key and count for how long ago `created` was."""
    if created is None:
        return "time-just-now", 0
    moment = created if created.tzinfo is not None else created.replace(tzinfo=UTC)
    seconds = max(0, int((now - moment).total_seconds()))
    if seconds < 60:
        return "time-just-now", 0
    if seconds < 3600:
        return "time-minutes-ago", seconds // 60
    if seconds < 86400:
        return "time-hours-ago", seconds // 3600
    return "time-days-ago", seconds // 86400


def age_text(tr: Translator, created: datetime | None, now: datetime) -> str:
    """`3 days ago`, in the caller's language (plain text)."""
    key, count = age(created, now)
    return tr.get(key, count=count)


def lead_title(tr: Translator, title: str | None, lead_id: int) -> str:
    """The lead's title, or `Lead #id` when it has none (plain text)."""
    text = cut(title, TITLE_LIMIT)
    return text or tr.get("lead-title", id=lead_id)


def result_line(tr: Translator, lead: LeadSummary, stage: str, now: datetime) -> str:
    """`<b>Title</b> · Stage · 3 days ago` for a list of results."""
    title = html.escape(cut(lead_title(tr, lead.title, lead.id), LINE_TITLE_LIMIT), quote=False)
    return f"<b>{title}</b> · {escape(stage, 60)} · {html.escape(age_text(tr, lead.created, now))}"


def button_label(tr: Translator, lead: LeadSummary, prefix: str = "") -> str:
    """A plain-text button label for a lead."""
    return cut(prefix + lead_title(tr, lead.title, lead.id), BUTTON_LIMIT)


def _line(tr: Translator, label_key: str, value_html: str) -> str:
    label = html.escape(tr.get(label_key), quote=False)
    return f"{label}: {value_html}"


def _names(values: Sequence[str], more: int = 0) -> str:
    shown = [escape(v, 100) for v in values[:LIST_LIMIT] if v]
    extra = more + max(0, len(values) - LIST_LIMIT)
    text = ", ".join(shown)
    return f"{text} +{extra}" if extra else text


def fit(lines: list[str], keep_last: int = 0, limit: int = MESSAGE_LIMIT) -> str:
    """Join lines, dropping lines before the last `keep_last` until the text fits `limit`."""
    lines = list(lines)
    text = "\n".join(lines)
    while telegram_length(text) > limit and len(lines) > keep_last + 1:
        del lines[len(lines) - keep_last - 1]
        text = "\n".join(lines)
    if telegram_length(text) > limit:
        # Only reachable with absurd limits; plain text of the first line is always safe.
        text = html.escape(cut(html.unescape(lines[0]), limit // 6), quote=False)
    return text


def render_card(tr: Translator, view: CardView) -> str:
    """The full card of one lead as Telegram HTML."""
    title = html.escape(lead_title(tr, view.title, view.lead_id), quote=False)
    lines = [f"<b>{title}</b> <i>#{view.lead_id}</i>"]
    lines.append(_line(tr, "lead-label-stage", f"<b>{escape(view.stage, 100)}</b>"))
    if view.responsible:
        lines.append(_line(tr, "lead-label-responsible", escape(view.responsible, 100)))
    if view.source:
        lines.append(_line(tr, "lead-label-source", escape(view.source, 100)))
    if view.person:
        lines.append(_line(tr, "lead-label-name", escape(view.person)))
    # Plain text: Telegram makes phone numbers and e-mail addresses tappable by itself
    # (tel:/mailto: links are not allowed in its HTML).
    for phone in list(view.phones)[:5]:
        lines.append(_line(tr, "lead-label-phone", escape(phone, 64)))
    for email in list(view.emails)[:5]:
        lines.append(_line(tr, "lead-label-email", escape(email, 120)))
    if view.company:
        lines.append(_line(tr, "lead-label-company", escape(view.company)))
    if view.opportunity:
        lines.append(
            _line(tr, "lead-label-opportunity", escape(money(view.opportunity, view.currency)))
        )
    if view.contacts:
        lines.append(_line(tr, "lead-label-contacts", _names(view.contacts, view.more_contacts)))
    if view.products:
        lines.append(
            html.escape(tr.get("lead-label-products"), quote=False) + f" ({len(view.products)}):"
        )
        for product in list(view.products)[:LIST_LIMIT]:
            amount = money(product.sum, view.currency)
            quantity = f"{product.quantity.normalize():f}"
            lines.append(f"• {escape(product.name, 80)} × {quantity} — {escape(amount)}")
        if len(view.products) > LIST_LIMIT:
            lines.append(f"• … +{len(view.products) - LIST_LIMIT}")
        lines.append(
            _line(
                tr,
                "lead-label-total",
                f"<b>{escape(money(view.products_total, view.currency))}</b>",
            )
        )
    if view.comments:
        comment = html.escape(cut_block(view.comments, COMMENT_LIMIT), quote=False)
        lines.append(_line(tr, "lead-label-comments", f"<i>{comment}</i>"))
    if view.modified_at is not None:
        when = escape(format_moment(view.modified_at))
        who = f", {escape(view.modified_by, 100)}" if view.modified_by else ""
        lines.append(_line(tr, "lead-label-modified", when + who))
    return fit(lines, keep_last=1)


def render_compact_card(tr: Translator, view: CardView) -> str:
    """A short card to drop into another chat: title, stage, responsible, company, amount."""
    title = html.escape(lead_title(tr, view.title, view.lead_id), quote=False)
    lines = [f"<b>{title}</b> <i>#{view.lead_id}</i>"]
    lines.append(_line(tr, "lead-label-stage", escape(view.stage, 100)))
    if view.responsible:
        lines.append(_line(tr, "lead-label-responsible", escape(view.responsible, 100)))
    if view.company:
        lines.append(_line(tr, "lead-label-company", escape(view.company)))
    if view.opportunity:
        lines.append(
            _line(tr, "lead-label-opportunity", escape(money(view.opportunity, view.currency)))
        )
    return fit(lines)
