"""The report as a PNG picture and its caption (matplotlib, imported only when drawing)."""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import TYPE_CHECKING

from bot.i18n import Translator
from bot.portal.models import Semantics
from bot.reports.data import UNKNOWN_SOURCE, ReportData

if TYPE_CHECKING:
    from matplotlib.axes import Axes

WIDTH_PX, HEIGHT_PX, DPI = 1280, 1240, 100
MAX_BARS = 12
"""Sources and reps beyond this many are summed up as "others" (the picture stays legible)."""
NAME_LIMIT = 28
CAPTION_LIMIT = 1024
"""Telegram's limit for a photo caption."""

_COLOURS = {
    Semantics.PROCESS: "#4a90d9",
    Semantics.SUCCESS: "#3aa757",
    Semantics.FAILURE: "#d9534f",
}


def _cut(text: str, limit: int = NAME_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def period_text(data: ReportData) -> str:
    """`01.12.2026` or `01.12–07.12.2026` (or with both years when they differ)."""
    first, last = data.period.first, data.period.last
    if first == last:
        return last.strftime("%d.%m.%Y")
    if first.year == last.year:
        return f"{first.strftime('%d.%m')}–{last.strftime('%d.%m.%Y')}"
    return f"{first.strftime('%d.%m.%Y')}–{last.strftime('%d.%m.%Y')}"


def caption(
    tr: Translator,
    data: ReportData,
    *,
    sources: Mapping[str, str],
    names: Mapping[int, str],
    team: bool,
) -> str:
    """The key numbers as text (HTML), under Telegram's caption limit."""
    lines = [
        tr.get_html("report-caption-title", period=period_text(data)),
        tr.get_html(
            "report-caption-totals",
            total=data.total,
            converted=data.converted,
            share=f"{data.conversion:.0%}",
        ),
    ]
    if data.by_source:
        key, count = data.by_source[0]
        source = sources.get(key) or tr.get("report-no-source")
        lines.append(tr.get_html("report-caption-top-source", source=source, count=count))
    if team and data.reps:
        best = max(data.reps, key=lambda row: (row.converted, row.leads))
        name = names.get(best.portal_user_id) or f"#{best.portal_user_id}"
        lines.append(tr.get_html("report-caption-top-rep", name=name, count=best.converted))
    if data.speed.median is not None and data.speed.p90 is not None:
        lines.append(
            tr.get_html(
                "report-caption-speed-to-lead",
                median=_minutes(data.speed.median),
                p90=_minutes(data.speed.p90),
                taken=data.speed.taken,
            )
        )
    waits = [row.take_minutes_median for row in data.reps if row.take_minutes_median is not None]
    if waits:
        lines.append(tr.get_html("report-caption-speed", minutes=round(min(waits))))
    text = "\n".join(lines)
    return text if len(text) <= CAPTION_LIMIT else "\n".join(lines[:2])


def _minutes(value: float) -> str:
    """Minutes as the picture and caption show them: whole minutes, "<1" under one."""
    return "<1" if 0 < value < 1 else f"{value:.0f}"


def _top(items: list[tuple[str, int]], others: str) -> list[tuple[str, int]]:
    if len(items) <= MAX_BARS:
        return items
    kept = items[: MAX_BARS - 1]
    return [*kept, (others, sum(count for _, count in items[MAX_BARS - 1 :]))]


def render_png(
    tr: Translator,
    data: ReportData,
    *,
    sources: Mapping[str, str],
    names: Mapping[int, str],
) -> bytes:
    """Five panels: the funnel, new leads per day, leads by source, speed to lead by source,
    and the responsibles with their speed to lead."""
    # Imported here: drawing is rare, and matplotlib stays off start-up and idle memory. A
    # Figure of its own and no pyplot: no global state, so a drawing may run in a thread.
    from matplotlib.figure import Figure

    figure = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI, layout="constrained")
    axes = figure.subplot_mosaic(
        [["funnel", "days"], ["sources", "speed"], ["reps", "reps"]],
        height_ratios=[1.0, 1.0, 0.8],
    )
    try:
        figure.suptitle(
            tr.get("report-title", period=period_text(data), total=data.total),
            fontsize=15,
            fontweight="bold",
        )
        _draw_funnel(tr, axes["funnel"], data)
        _draw_days(tr, axes["days"], data)
        _draw_sources(tr, axes["sources"], data, sources)
        _draw_speed(tr, axes["speed"], data, sources)
        _draw_reps(tr, axes["reps"], data, names)
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=DPI)
        return buffer.getvalue()
    finally:
        figure.clear()


def _draw_funnel(tr: Translator, axis: Axes, data: ReportData) -> None:
    rows = list(reversed(data.funnel))
    labels = [_cut(row.name) for row in rows]
    values = [row.now for row in rows]
    bars = axis.barh(labels, values, color=[_COLOURS[row.semantics] for row in rows])
    for bar, row in zip(bars, rows, strict=True):
        note = f" {row.now}"
        if row.semantics is not Semantics.FAILURE:
            note += "  " + tr.get("report-reached", share=f"{row.reached_share:.0%}")
        axis.text(bar.get_width(), bar.get_y() + bar.get_height() / 2, note, va="center")
    axis.set_title(tr.get("report-funnel"))
    axis.set_xlim(0, max([*values, 1]) * 1.6)
    axis.set_xlabel(tr.get("report-leads-now"))


def _draw_days(tr: Translator, axis: Axes, data: ReportData) -> None:
    from matplotlib.ticker import MaxNLocator  # imported with the drawing (see render_png)

    days = [day.strftime("%d.%m") for day, _ in data.per_day]
    counts = [count for _, count in data.per_day]
    axis.bar(days, counts, color="#4a90d9")
    axis.set_title(tr.get("report-per-day"))
    step = max(1, len(days) // 10)
    axis.set_xticks(range(0, len(days), step))
    axis.set_xticklabels(days[::step], rotation=45, ha="right")
    axis.yaxis.set_major_locator(MaxNLocator(integer=True))
    if len(days) <= 10:
        for index, count in enumerate(counts):
            axis.text(index, count, str(count), ha="center", va="bottom")


def _draw_sources(
    tr: Translator, axis: Axes, data: ReportData, sources: Mapping[str, str]
) -> None:
    named = [
        (
            _cut(
                sources.get(key) or (tr.get("report-no-source") if key == UNKNOWN_SOURCE else key)
            ),
            count,
        )
        for key, count in data.by_source
    ]
    items = list(reversed(_top(named, tr.get("report-others"))))
    axis.barh([name for name, _ in items], [count for _, count in items], color="#8e6fd1")
    for index, (_, count) in enumerate(items):
        axis.text(count, index, f" {count}", va="center")
    axis.set_title(tr.get("report-by-source"))
    axis.set_xlim(0, max([count for _, count in items] + [1]) * 1.25)


def _source_label(tr: Translator, key: str, sources: Mapping[str, str]) -> str:
    return _cut(sources.get(key) or (tr.get("report-no-source") if key == UNKNOWN_SOURCE else key))


def _draw_speed(tr: Translator, axis: Axes, data: ReportData, sources: Mapping[str, str]) -> None:
    """Median minutes to take per source as bars, the 90th percentile as a mark on each."""
    axis.set_title(tr.get("report-speed-title"))
    rows = [row for row in data.speed_by_source if row.median is not None][:MAX_BARS]
    if not rows:
        axis.axis("off")
        axis.text(0.5, 0.5, tr.get("report-speed-none"), ha="center", va="center", wrap=True)
        return
    rows.reverse()
    labels = [_source_label(tr, row.key, sources) for row in rows]
    medians = [row.median or 0.0 for row in rows]
    p90s = [row.p90 or 0.0 for row in rows]
    axis.barh(labels, medians, color="#f0a43a", label=tr.get("report-speed-median"))
    axis.scatter(p90s, labels, marker="|", s=300, color="#a0522d", label="p90", zorder=3)
    for index, row in enumerate(rows):
        note = f" {_minutes(row.median or 0.0)} / {_minutes(row.p90 or 0.0)}  (n={row.taken})"
        axis.text(max(medians[index], p90s[index]), index, note, va="center")
    axis.set_xlim(0, max([*p90s, *medians, 1.0]) * 1.6)
    axis.set_xlabel(tr.get("report-speed-axis"))
    axis.legend(loc="lower right", fontsize=9)


def _draw_reps(tr: Translator, axis: Axes, data: ReportData, names: Mapping[int, str]) -> None:
    axis.axis("off")
    axis.set_title(tr.get("report-reps"))
    if not data.reps:
        axis.text(0.5, 0.5, tr.get("report-no-leads"), ha="center", va="center")
        return
    rows = [
        [
            _cut(names.get(row.portal_user_id) or f"#{row.portal_user_id}"),
            str(row.leads),
            str(row.converted),
            "—" if row.take_minutes_median is None else _minutes(row.take_minutes_median),
            "—" if row.take_minutes_p90 is None else _minutes(row.take_minutes_p90),
        ]
        for row in data.reps[:MAX_BARS]
    ]
    header = [
        tr.get("report-column-rep"),
        tr.get("report-column-leads"),
        tr.get("report-column-converted"),
        tr.get("report-column-take"),
        tr.get("report-column-take-p90"),
    ]
    table = axis.table(cellText=rows, colLabels=header, loc="upper center", cellLoc="center")
    table.auto_set_font_size(False)
    table.set_fontsize(10)
    table.auto_set_column_width(list(range(len(header))))
    table.scale(1, 1.5)
    for (row, _), cell in table.get_celld().items():
        if row == 0:
            cell.set_text_props(fontweight="bold")
            cell.set_facecolor("#e8eef7")
