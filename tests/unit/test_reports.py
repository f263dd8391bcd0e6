"""What a report counts: the period's days in its time zone, the funnel, sources, responsibles."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from bot.i18n import Translations
from bot.portal.models import Status
from bot.reports.data import DateRange, LeadFacts, Period, build_report
from bot.reports.render import CAPTION_LIMIT, caption, period_text

MSK = timezone(timedelta(hours=3))
STAGES = [
    Status.model_validate(row)
    for row in (
        {"STATUS_ID": "NEW", "NAME": "New", "SORT": 10},
        {"STATUS_ID": "IN_PROCESS", "NAME": "In progress", "SORT": 20},
        {"STATUS_ID": "CONVERTED", "NAME": "Good lead", "SORT": 40, "SEMANTICS": "S"},
        {"STATUS_ID": "JUNK", "NAME": "Junk", "SORT": 50, "SEMANTICS": "F"},
    )
]


def lead(
    n: int, created: datetime, status: str = "NEW", source: str = "", owner: int = 2
) -> LeadFacts:
    return LeadFacts(n, created, status, source, owner)


def test_periods_end_today_and_chosen_dates_go_in_either_order() -> None:
    today = date(2026, 12, 4)
    assert DateRange.of(Period.TODAY, today) == DateRange(today, today)
    assert DateRange.of(Period.WEEK, today) == DateRange(date(2026, 11, 28), today)
    assert DateRange.of(Period.MONTH, today).first == date(2026, 11, 5)
    assert DateRange.between(today, date(2026, 12, 1)) == DateRange(date(2026, 12, 1), today)


def test_days_are_counted_in_the_report_time_zone() -> None:
    period = DateRange(date(2026, 12, 3), date(2026, 12, 3))
    leads = [
        lead(1, datetime(2026, 12, 2, 21, 30, tzinfo=UTC)),  # 00:30 on the 3rd in Moscow
        lead(2, datetime(2026, 12, 3, 20, 59, tzinfo=UTC)),  # 23:59 on the 3rd
        lead(3, datetime(2026, 12, 3, 21, 0, tzinfo=UTC)),  # the 4th already
    ]
    data = build_report(leads, period=period, zone=MSK, stages=STAGES, takes={})
    assert data.total == 2
    assert data.per_day == ((date(2026, 12, 3), 2),)


def test_the_funnel_counts_how_far_each_lead_got() -> None:
    day = datetime(2026, 12, 3, 12, tzinfo=MSK)
    leads = [
        lead(1, day, "NEW"),
        lead(2, day, "IN_PROCESS"),
        lead(3, day, "CONVERTED"),
        lead(4, day, "JUNK"),
    ]
    data = build_report(
        leads, period=DateRange(day.date(), day.date()), zone=MSK, stages=STAGES, takes={}
    )
    rows = {row.status_id: row for row in data.funnel}
    assert [row.status_id for row in data.funnel] == ["NEW", "IN_PROCESS", "CONVERTED", "JUNK"]
    assert {k: (r.now, r.reached) for k, r in rows.items()} == {
        "NEW": (1, 4),  # everyone starts here
        "IN_PROCESS": (1, 2),  # the one in progress and the won one
        "CONVERTED": (1, 1),
        "JUNK": (1, 1),
    }
    assert data.converted == 1
    assert data.conversion == pytest.approx(0.25)


def test_sources_and_responsibles_with_their_speed_to_lead() -> None:
    day = datetime(2026, 12, 3, 12, tzinfo=MSK)
    leads = [
        lead(1, day, "CONVERTED", "CALL", owner=2),
        lead(2, day, "NEW", "CALL", owner=2),
        lead(3, day, "NEW", "", owner=3),
    ]
    takes = {1: day + timedelta(minutes=10), 2: day + timedelta(minutes=30)}
    data = build_report(
        leads, period=DateRange(day.date(), day.date()), zone=MSK, stages=STAGES, takes=takes
    )
    assert data.by_source == (("CALL", 2), ("", 1))
    ivan, olga = data.reps
    assert (ivan.portal_user_id, ivan.leads, ivan.converted) == (2, 2, 1)
    assert ivan.take_minutes_median == 20
    assert olga.take_minutes_median is None


def test_the_caption_names_the_period_and_stays_under_telegrams_limit() -> None:
    day = datetime(2026, 12, 3, 12, tzinfo=MSK)
    leads = [lead(n, day, "CONVERTED" if n % 2 else "NEW", "WEB", owner=n) for n in range(1, 300)]
    data = build_report(
        leads,
        period=DateRange(date(2026, 11, 28), date(2026, 12, 4)),
        zone=MSK,
        stages=STAGES,
        takes={},
    )
    tr = Translations.load().for_language("ru")
    text = caption(tr, data, sources={"WEB": "Сайт <b>"}, names={1: "Анна & Co"}, team=True)
    assert period_text(data) == "28.11–04.12.2026"
    assert "Сайт &lt;b&gt;" in text
    assert len(text) <= CAPTION_LIMIT


def test_speed_to_lead_gives_median_and_p90_per_rep_per_source_and_overall() -> None:
    day = datetime(2026, 12, 3, 12, tzinfo=MSK)
    minutes = {1: 2, 2: 4, 3: 6, 4: 8, 5: 40, 6: 1, 7: 3}
    leads = [
        *(lead(n, day, "NEW", "WEB", owner=2) for n in range(1, 6)),
        lead(6, day, "NEW", "CALL", owner=3),
        lead(7, day, "NEW", "CALL", owner=3),
        lead(8, day, "NEW", "CALL", owner=3),  # never taken: counts nowhere
    ]
    takes = {n: day + timedelta(minutes=m) for n, m in minutes.items()}
    data = build_report(
        leads, period=DateRange(day.date(), day.date()), zone=MSK, stages=STAGES, takes=takes
    )
    ivan, olga = data.reps
    assert (ivan.take_minutes_median, ivan.take_minutes_p90) == (6, 40)
    assert (olga.take_minutes_median, olga.take_minutes_p90) == (2, 3)
    web, call = data.speed_by_source  # the slowest median first
    assert (web.key, web.taken, web.median, web.p90) == ("WEB", 5, 6, 40)
    assert (call.key, call.taken, call.median, call.p90) == ("CALL", 2, 1, 3)
    assert (data.speed.taken, data.speed.median, data.speed.p90) == (7, 4, 40)
    tr = Translations.load().for_language("en")
    text = caption(tr, data, sources={}, names={}, team=True)
    assert "Speed to lead: median 4 min, p90 40 min (7 taken)" in text
