"""What a report shows, computed from the leads of a period (pure: no I/O, no drawing)."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from enum import StrEnum

from bot.portal.models import Semantics, Status

UNKNOWN_SOURCE = ""
"""The source key of leads without one (shown as "no source")."""


class Period(StrEnum):
    """The periods offered by `/report` (chosen dates are a `DateRange` of their own)."""

    TODAY = "today"
    WEEK = "week"
    MONTH = "month"


@dataclass(frozen=True, slots=True)
class DateRange:
    """Whole days from `first` to `last`, both included, in the report's time zone."""

    first: date
    last: date

    @classmethod
    def of(cls, period: Period, today: date) -> DateRange:
        """Today, the last 7 days or the last 30 days, each ending today."""
        days = {Period.TODAY: 1, Period.WEEK: 7, Period.MONTH: 30}[period]
        return cls(today - timedelta(days=days - 1), today)

    @classmethod
    def between(cls, one: date, other: date) -> DateRange:
        """The days between two picked dates, whichever was picked first."""
        return cls(min(one, other), max(one, other))

    def bounds(self, zone: tzinfo) -> tuple[datetime, datetime]:
        """The first moment of the range and the first moment after it."""
        start = datetime.combine(self.first, time.min, tzinfo=zone)
        end = datetime.combine(self.last + timedelta(days=1), time.min, tzinfo=zone)
        return start, end

    def days(self) -> list[date]:
        """Every day of the range, in order."""
        return [self.first + timedelta(days=n) for n in range((self.last - self.first).days + 1)]


@dataclass(frozen=True, slots=True)
class LeadFacts:
    """The few facts of a lead a report needs."""

    id: int
    created: datetime
    status_id: str
    source_id: str
    assigned_by_id: int | None


@dataclass(frozen=True, slots=True)
class StageRow:
    """One stage of the funnel: leads there now, and the share that got at least this far."""

    status_id: str
    name: str
    semantics: Semantics
    now: int
    reached: int
    reached_share: float


@dataclass(frozen=True, slots=True)
class RepRow:
    """One responsible: their leads, how many converted, and their speed to lead."""

    portal_user_id: int
    leads: int
    converted: int
    take_minutes_median: float | None
    """Median minutes from a lead's creation to its first take (None: no takes)."""
    take_minutes_p90: float | None = None
    """90th percentile of the same minutes (None: no takes)."""


@dataclass(frozen=True, slots=True)
class SpeedRow:
    """Speed to lead of a group of leads (a source, or all of them): how many were taken,
    and the median and 90th percentile of their minutes to take."""

    key: str
    taken: int
    median: float | None
    p90: float | None

    @classmethod
    def of(cls, key: str, minutes: Sequence[float]) -> SpeedRow:
        """The row of these minutes to take."""
        return cls(key, len(minutes), percentile(minutes, 0.5), percentile(minutes, 0.9))


@dataclass(frozen=True, slots=True)
class ReportData:
    """Everything one report picture and caption show."""

    period: DateRange
    total: int
    converted: int
    funnel: tuple[StageRow, ...]
    per_day: tuple[tuple[date, int], ...]
    by_source: tuple[tuple[str, int], ...]
    reps: tuple[RepRow, ...]
    speed: SpeedRow = SpeedRow("", 0, None, None)
    """Speed to lead over the whole period."""
    speed_by_source: tuple[SpeedRow, ...] = ()
    """Speed to lead per source (sources with at least one take), slowest median first."""

    @property
    def conversion(self) -> float:
        """Converted leads over all leads of the period (0 when there are none)."""
        return self.converted / self.total if self.total else 0.0


def percentile(values: Sequence[float], share: float) -> float | None:
    """The nearest-rank percentile (`share` 0.5 for the median, 0.9 for p90); None if empty."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(1, math.ceil(share * len(ordered))) - 1]


def _funnel(leads: Sequence[LeadFacts], stages: Sequence[Status]) -> tuple[StageRow, ...]:
    """Stages in the portal's order. A lead "reached" every process stage up to its own; a won
    lead reached them all; a lost one only the first (where it stopped is not kept)."""
    ordered = sorted(stages, key=lambda s: (s.sort or 0, s.status_id))
    process = [s for s in ordered if s.semantics is Semantics.PROCESS]
    position = {s.status_id: n for n, s in enumerate(process)}
    now = Counter(lead.status_id for lead in leads)
    reached = Counter[str]()
    for lead in leads:
        stage = next((s for s in ordered if s.status_id == lead.status_id), None)
        if stage is None:
            continue
        if stage.semantics is Semantics.SUCCESS:
            upto = len(process) - 1
        elif stage.semantics is Semantics.FAILURE:
            upto = 0
        else:
            upto = position[stage.status_id]
        for index in range(upto + 1):
            reached[process[index].status_id] += 1
        if stage.semantics is not Semantics.PROCESS:
            reached[stage.status_id] += 1
    total = len(leads)
    return tuple(
        StageRow(
            status_id=s.status_id,
            name=s.name or s.status_id,
            semantics=s.semantics,
            now=now[s.status_id],
            reached=reached[s.status_id],
            reached_share=reached[s.status_id] / total if total else 0.0,
        )
        for s in ordered
    )


def build_report(
    leads: Iterable[LeadFacts],
    *,
    period: DateRange,
    zone: tzinfo,
    stages: Sequence[Status],
    takes: Mapping[int, datetime],
) -> ReportData:
    """The report of `leads` created in `period`; `takes`: lead id -> when it was first taken
    (taken, assigned, or moved out of its first stage)."""
    from statistics import median  # with the first report: a start does without it

    start, end = period.bounds(zone)
    chosen = [lead for lead in leads if start <= lead.created < end]
    success = {s.status_id for s in stages if s.semantics is Semantics.SUCCESS}
    by_day = Counter(lead.created.astimezone(zone).date() for lead in chosen)
    sources = Counter(lead.source_id or UNKNOWN_SOURCE for lead in chosen)
    reps: dict[int, list[LeadFacts]] = {}
    for lead in chosen:
        if lead.assigned_by_id:
            reps.setdefault(lead.assigned_by_id, []).append(lead)
    waits = {
        lead.id: (takes[lead.id] - lead.created).total_seconds() / 60
        for lead in chosen
        if lead.id in takes and takes[lead.id] >= lead.created
    }
    rows = []
    for user_id, own in reps.items():
        minutes = [waits[lead.id] for lead in own if lead.id in waits]
        rows.append(
            RepRow(
                portal_user_id=user_id,
                leads=len(own),
                converted=sum(1 for lead in own if lead.status_id in success),
                take_minutes_median=median(minutes) if minutes else None,
                take_minutes_p90=percentile(minutes, 0.9),
            )
        )
    per_source: dict[str, list[float]] = {}
    for lead in chosen:
        if lead.id in waits:
            per_source.setdefault(lead.source_id or UNKNOWN_SOURCE, []).append(waits[lead.id])
    speed_by_source = sorted(
        (SpeedRow.of(key, minutes) for key, minutes in per_source.items()),
        key=lambda row: (-(row.median or 0.0), row.key),
    )
    rows.sort(key=lambda row: (-row.leads, row.portal_user_id))
    return ReportData(
        period=period,
        total=len(chosen),
        converted=sum(1 for lead in chosen if lead.status_id in success),
        funnel=_funnel(chosen, stages),
        per_day=tuple((day, by_day[day]) for day in period.days()),
        by_source=tuple(sorted(sources.items(), key=lambda item: (-item[1], item[0]))),
        reps=tuple(rows),
        speed=SpeedRow.of("", list(waits.values())),
        speed_by_source=tuple(speed_by_source),
    )
