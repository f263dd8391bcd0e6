"""Speed to lead's pure rules: when a new lead stops waiting, counters, texts, percentiles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.i18n import Translations, Translator
from bot.notify.diff import LeadChange
from bot.portal import Lead
from bot.reports.data import percentile
from bot.speed.rules import (
    EditAllowance,
    Start,
    counter_due,
    created_at,
    escalation_buttons,
    escalation_text,
    final_line,
    outcome_of_change,
    outcome_of_lead,
    waited_minutes,
)
from bot.storage.escalations import Outcome
from bot.storage.subscriptions import EventKind

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
START = Start(first_stage="NEW", first_assigned=1)


@pytest.fixture(scope="module")
def tr() -> Translator:
    return Translations.load(strict=True).for_language("en")


def lead(**fields: object) -> Lead:
    base: dict[str, object] = {
        "ID": "7",
        "STATUS_ID": "NEW",
        "STATUS_SEMANTIC_ID": "P",
        "ASSIGNED_BY_ID": "1",
    }
    base.update(fields)
    return Lead.model_validate(base)


def change(kind: EventKind = EventKind.CHANGED, **fields: object) -> LeadChange:
    data: dict[str, object] = {"ID": "7", "STATUS_ID": "NEW", "ASSIGNED_BY_ID": "1"}
    data.update(fields)
    return LeadChange(7, kind, data)


def test_a_lead_still_in_its_first_stage_with_its_first_responsible_waits() -> None:
    assert outcome_of_lead(START, lead()) is None
    assert outcome_of_change(START, change(TITLE="renamed")) is None


def test_a_lead_taken_moved_closed_or_deleted_no_longer_waits() -> None:
    assert outcome_of_lead(START, None) is Outcome.DELETED
    assert outcome_of_lead(START, lead(ASSIGNED_BY_ID="2")) is Outcome.REASSIGNED
    assert outcome_of_lead(START, lead(STATUS_ID="IN_PROCESS")) is Outcome.MOVED
    closed = lead(STATUS_ID="JUNK", STATUS_SEMANTIC_ID="F")
    assert outcome_of_lead(START, closed) is Outcome.CLOSED
    assert outcome_of_change(START, change(EventKind.DELETED)) is Outcome.DELETED
    assert outcome_of_change(START, change(STATUS_ID="IN_PROCESS")) is Outcome.MOVED
    assert outcome_of_change(START, change(ASSIGNED_BY_ID="3")) is Outcome.REASSIGNED


def test_creation_time_comes_from_the_portal_and_is_never_in_the_future() -> None:
    assert created_at({"DATE_CREATE": "2026-03-02T12:00:00+03:00"}, NOW) == datetime(
        2026, 3, 2, 9, 0, tzinfo=UTC
    )
    assert created_at({"DATE_CREATE": "2026-03-02T13:00:00+03:00"}, NOW) == NOW
    assert created_at({"DATE_CREATE": "garbage"}, NOW) == NOW
    assert created_at({"DATE_CREATE": "2026-03-02T12:00:00"}, NOW) == NOW  # zone unknown
    assert created_at({}, NOW) == NOW


def test_counter_starts_at_one_minute_and_changes_at_most_once_a_minute() -> None:
    started = NOW - timedelta(seconds=59)
    assert counter_due(started=started, shown_minutes=0, shown_at=None, now=NOW) is None
    started = NOW - timedelta(minutes=12, seconds=5)
    assert counter_due(started=started, shown_minutes=0, shown_at=None, now=NOW) == 12
    assert counter_due(started=started, shown_minutes=12, shown_at=NOW, now=NOW) is None
    recent = NOW - timedelta(seconds=30)
    assert counter_due(started=started, shown_minutes=11, shown_at=recent, now=NOW) is None
    older = NOW - timedelta(seconds=61)
    assert counter_due(started=started, shown_minutes=11, shown_at=older, now=NOW) == 12
    assert waited_minutes(NOW, NOW - timedelta(minutes=1)) == 0


def test_edits_per_chat_are_held_to_their_share_of_a_minute() -> None:
    allowance = EditAllowance(per_minute=3)
    for second in (0.0, 1.0, 2.0):
        assert allowance.allows(-1, second)
        allowance.count(-1, second)
    assert not allowance.allows(-1, 30.0)
    assert allowance.allows(-2, 30.0)  # another chat has its own minute
    assert allowance.allows(-1, 60.5)  # the first edit left the window


def test_nearest_rank_percentiles() -> None:
    assert percentile([], 0.5) is None
    assert percentile([4.0], 0.9) == 4.0
    values = [float(v) for v in range(1, 11)]
    assert percentile(values, 0.5) == 5.0
    assert percentile(values, 0.9) == 9.0
    assert percentile([10.0, 1.0, 3.0], 0.5) == 3.0


def test_final_lines_say_how_the_wait_ended_with_the_name_escaped(tr: Translator) -> None:
    assert final_line(tr, Outcome.TAKEN, 4, "Ivan <b>") == (
        "✅ <b>Taken by Ivan &lt;b&gt; in 4 min</b>"
    )
    assert "Assigned to Olga in 16 min" in (final_line(tr, Outcome.ASSIGNED, 16, "Olga") or "")
    assert final_line(tr, Outcome.MOVED, 3, None) == "➡️ Moved on after 3 min"
    assert "no longer counting" in (final_line(tr, Outcome.CAPPED, 1440, None) or "")


def test_escalation_message_escapes_values_and_offers_take_assign_and_card(
    tr: Translator,
) -> None:
    text = escalation_text(
        tr, lead_id=7, title="<Pipes & Co>", minutes=16, stage="New", responsible="A", source=""
    )
    assert "&lt;Pipes &amp; Co&gt;" in text
    assert "has waited 16 min" in text
    rows = escalation_buttons(tr, 7, "https://portal.test/crm/lead/details/7/")
    labels = [button.text for row in rows for button in row]
    assert labels == ["🙋 Take", "👉 Assign to…", "📇 Open card", "🌐 Open in portal"]
    assert rows[0][1].callback_data == "es:as:7"
