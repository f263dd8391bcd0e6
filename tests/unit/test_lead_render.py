"""Lead cards and result lines are safe Telegram HTML whatever the portal holds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from bot.i18n import Translations, Translator
from bot.leads.render import (
    MESSAGE_LIMIT,
    CardView,
    LeadSummary,
    ProductLine,
    age,
    button_label,
    cut,
    money,
    render_card,
    render_compact_card,
    result_line,
    telegram_length,
)
from tests.unit.test_i18n_catalogue import html_problems

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
HOSTILE = '<script>alert("x")</script> & <b>bold</b> 😀 Ромашка'


@pytest.fixture(scope="module", params=["en", "ru"])
def tr(request: pytest.FixtureRequest) -> Translator:
    return Translations.load(strict=True).for_language(request.param)


def full_view(**overrides: object) -> CardView:
    values: dict[str, object] = {
        "lead_id": 42,
        "title": "Windows for Romashka",
        "stage": "In process",
        "responsible": "Ivan Petrov",
        "source": "Call",
        "person": "Пётр Иванов",
        "phones": ["+79161234567"],
        "emails": ["petr@example.com"],
        "company": "ООО Ромашка",
        "opportunity": Decimal("12500.5"),
        "currency": "RUB",
        "contacts": ["Anna Contact", "Boris Contact"],
        "products": [ProductLine("Window", Decimal(2), Decimal("1000"))],
        "comments": "Call back\non Monday",
        "modified_at": NOW,
        "modified_by": "Olga Smirnova",
    }
    values.update(overrides)
    return CardView(**values)  # type: ignore[arg-type]


def test_card_shows_every_part(tr: Translator) -> None:
    text = render_card(tr, full_view())
    for part in (
        "Windows for Romashka",
        "#42",
        "In process",
        "Ivan Petrov",
        "Call",
        "Пётр Иванов",
        "+79161234567",
        "petr@example.com",
        "ООО Ромашка",
        "12 500.50 RUB",
        "Anna Contact, Boris Contact",
        "Window × 2 — 2 000.00 RUB",
        "2026-03-10 12:00, Olga Smirnova",
    ):
        assert part in text, part
    assert html_problems(text) == []


def test_hostile_values_are_escaped_and_cut(tr: Translator) -> None:
    view = full_view(
        title=HOSTILE * 300,
        person=HOSTILE,
        company=HOSTILE * 50,
        contacts=[HOSTILE] * 40,
        products=[ProductLine(HOSTILE * 10, Decimal(1), Decimal(1))] * 40,
        comments=HOSTILE * 200,
        phones=[HOSTILE] * 9,
        emails=[HOSTILE] * 9,
        responsible=HOSTILE * 10,
        modified_by=HOSTILE * 10,
    )
    text = render_card(tr, view)
    assert "<script>" not in text
    assert "&lt;script&gt;" in text
    assert telegram_length(text) <= MESSAGE_LIMIT
    assert html_problems(text) == []
    compact = render_compact_card(tr, view)
    assert telegram_length(compact) <= MESSAGE_LIMIT
    assert html_problems(compact) == []


def test_a_huge_card_drops_lines_but_keeps_the_title_and_last_change(tr: Translator) -> None:
    lines_worth = ["x" * 190] * 200
    text = render_card(tr, full_view(phones=lines_worth, emails=lines_worth, title="T" * 5000))
    assert telegram_length(text) <= MESSAGE_LIMIT
    assert text.startswith("<b>T")
    assert "Olga Smirnova" in text


def test_untitled_lead_gets_its_number(tr: Translator) -> None:
    assert "42" in render_card(tr, full_view(title="   "))


def test_result_line_and_button_label(tr: Translator) -> None:
    lead = LeadSummary(id=7, title=HOSTILE * 5, status_id="NEW", created=NOW - timedelta(days=3))
    line = result_line(tr, lead, "<New>", NOW)
    assert html_problems(line) == []
    assert "&lt;New&gt;" in line
    assert "3" in line
    label = button_label(tr, lead)
    assert len(label) <= 48
    assert label.startswith("<script>")  # labels are plain text, not HTML


def test_age_buckets() -> None:
    assert age(NOW - timedelta(seconds=30), NOW) == ("time-just-now", 0)
    assert age(NOW - timedelta(minutes=5), NOW) == ("time-minutes-ago", 5)
    assert age(NOW - timedelta(hours=2), NOW) == ("time-hours-ago", 2)
    assert age(NOW - timedelta(days=40), NOW) == ("time-days-ago", 40)
    assert age(None, NOW) == ("time-just-now", 0)


def test_cut_and_money() -> None:
    assert cut("a\n b  c", 10) == "a b c"
    assert cut("abcdef", 4) == "abc…"
    assert money(Decimal("1234567.891"), "USD") == "1 234 567.89 USD"
    assert money(None) == "0.00"
