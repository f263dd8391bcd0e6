"""Stale-lead nudges: stored rules, their choices, the queries and the message (pure)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from bot.i18n import Translations
from bot.leads.nudges import (
    FIRST_STAGE_HOUR_CHOICES,
    MAX_LISTED,
    STALE_DAY_CHOICES,
    NudgeRules,
    StaleLead,
    StaleTally,
    merge_stale,
    next_choice,
    person_requests,
    render_nudge,
    stale_queries,
    team_requests,
)
from bot.portal.models import Lead
from bot.storage.outbox import MessageButton

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        (None, NudgeRules(3, 24)),
        ({"stale_days": None, "first_stage_hours": 8}, NudgeRules(None, 8)),
        ({"stale_days": -1, "first_stage_hours": "x"}, NudgeRules(3, 24)),
        ({"stale_days": 7}, NudgeRules(7, 24)),
        ("junk", NudgeRules(3, 24)),
    ],
)
def test_stored_rules_are_read_safely(stored: object, expected: NudgeRules) -> None:
    assert NudgeRules.from_json(stored) == expected
    assert NudgeRules.from_json(expected.to_json()) == expected


def test_choices_cycle_through_off_and_back() -> None:
    seen: list[int | None] = [STALE_DAY_CHOICES[1]]
    while len(seen) <= len(STALE_DAY_CHOICES):
        seen.append(next_choice(STALE_DAY_CHOICES, seen[-1]))
    assert seen[0] == seen[-1]
    assert None in seen
    assert next_choice(FIRST_STAGE_HOUR_CHOICES, 999) == FIRST_STAGE_HOUR_CHOICES[1]
    assert NudgeRules(None, None).off


def test_queries_ask_only_open_leads_of_the_person_for_each_rule_that_is_on() -> None:
    queries = stale_queries(2, NudgeRules(3, 24), NOW, "NEW")
    idle, first = queries["idle2"].params(), queries["first2"].params()
    assert idle["filter"] == {
        "ASSIGNED_BY_ID": 2,
        "STATUS_SEMANTIC_ID": "P",
        "<LAST_ACTIVITY_TIME": (NOW - timedelta(days=3)).isoformat(),
    }
    assert first["filter"]["STATUS_ID"] == "NEW"
    assert first["filter"]["<DATE_CREATE"] == (NOW - timedelta(hours=24)).isoformat()
    assert list(stale_queries(2, NudgeRules(None, 24), NOW, "NEW")) == ["first2"]
    assert list(stale_queries(2, NudgeRules(3, 24), NOW, None)) == ["idle2"]


def _lead(lead_id: int, title: str, **fields: object) -> Lead:
    return Lead.model_validate({"ID": lead_id, "TITLE": title, "STATUS_ID": "NEW", **fields})


def test_a_lead_found_by_both_rules_is_listed_once_as_stuck_in_the_first_stage() -> None:
    both = _lead(1, "Both", DATE_CREATE="2026-12-01T09:00:00+00:00")
    merged = merge_stale([both, _lead(2, "Idle")], [both])
    assert [(lead.lead_id, lead.first_stage) for lead in merged] == [(1, True), (2, False)]


@pytest.mark.parametrize("language", ["en", "ru"])
def test_the_nudge_escapes_titles_caps_its_list_and_gives_each_lead_three_buttons(
    language: str,
) -> None:
    tr = Translations.load(strict=True).for_language(language)
    leads = [
        StaleLead(n, "<b>Окна</b> & " * 10, "NEW", n % 2 == 0, NOW - timedelta(days=n))
        for n in range(1, 21)
    ]
    text, rows = render_nudge(tr, leads, lambda code: f"<{code}>", NOW)
    assert "<b>Окна" not in text.split("\n", 1)[1]
    assert "&lt;b&gt;Окна&lt;/b&gt; &amp;" in text
    assert "&lt;NEW&gt;" in text
    assert len(rows) == MAX_LISTED
    assert all(len(row) == 3 for row in rows)
    assert all(isinstance(b, MessageButton) and b.callback_data for row in rows for b in row)
    assert "12" in text.rsplit("\n", 1)[1]  # the 12 not listed are counted
    assert len(text) < 4096


def test_a_tally_names_the_leads_a_nudge_lists_first_whatever_order_they_come_in() -> None:
    rng = random.Random(7)
    leads = [
        StaleLead(
            n,
            f"L{n}",
            "NEW",
            rng.random() < 0.3,
            None if n % 11 == 0 else NOW - timedelta(hours=rng.randrange(1, 500)),
        )
        for n in range(1, 41)
    ]
    tally = StaleTally()
    for lead in rng.sample(leads, len(leads)):  # a team-wide read comes in ID order
        tally.add(lead)

    def order(lead: StaleLead) -> tuple[bool, float, int]:
        since = lead.since.timestamp() if lead.since else float("-inf")
        return (not lead.first_stage, since, lead.lead_id)

    assert tally.count == 40
    assert tally.named() == sorted(leads, key=order)[:MAX_LISTED]
    assert tally.named()[0].first_stage


@pytest.mark.parametrize("language", ["en", "ru"])
def test_a_nudge_counts_the_leads_it_does_not_name(language: str) -> None:
    tr = Translations.load(strict=True).for_language(language)
    named = [StaleLead(n, f"L{n}", "NEW", False, NOW - timedelta(days=n)) for n in range(1, 9)]
    text, rows = render_nudge(tr, named, str, NOW, total=31)
    assert "31" in text.split("\n", 1)[0]
    assert "23" in text.rsplit("\n", 1)[1]
    assert len(rows) == MAX_LISTED


def test_requests_of_a_team_wide_read_and_of_reading_person_by_person() -> None:
    assert team_requests([0, 0]) == 2  # one light request each finds there is nothing
    assert team_requests([100, 2500]) == 4
    assert team_requests([2501]) == 3
    assert person_requests(25) == 1
    assert person_requests(26) == 2
    assert person_requests(8500) == 340
