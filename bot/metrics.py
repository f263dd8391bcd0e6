"""Counters and gauges in the Prometheus text format 0.0.4, and the `/metrics` web handler.

Usage: one `MetricsRegistry` built by the composition root and passed down;
`metrics.counter("bot_updates_total", "Updates handled", ("type",)).labels(type="message").inc()`,
`metrics.gauge("bot_outbox_depth").set(12)`. Asking again for a name returns the same metric.
"""

from __future__ import annotations

import asyncio
import gc
import hmac
import logging
import math
import re
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject, Update
from aiohttp import web

from bot.collector import Settled
from bot.throttle import UpdateKind, Verdict

log = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")

LabelValues = tuple[str, ...]


def _format_value(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


class _Child:
    """One labelled series of a metric."""

    __slots__ = ("_kind", "value")

    def __init__(self, kind: str) -> None:
        self._kind = kind
        self.value = 0.0

    def inc(self, amount: float = 1.0) -> None:
        """Add `amount` (counters only go up)."""
        if self._kind == "counter" and amount < 0:
            raise ValueError("a counter cannot go down")
        self.value += amount

    def dec(self, amount: float = 1.0) -> None:
        """Subtract `amount` (gauges only)."""
        if self._kind == "counter":
            raise ValueError("a counter cannot go down")
        self.value -= amount

    def set(self, value: float) -> None:
        """Set the current value (gauges only)."""
        if self._kind == "counter":
            raise ValueError("a counter cannot be set")
        self.value = float(value)


class Metric:
    """A counter or a gauge with optional label names; unlabelled metrics act as one series."""

    def __init__(self, kind: str, name: str, help_text: str, label_names: Sequence[str]) -> None:
        if not _NAME.match(name):
            raise ValueError(f"bad metric name {name!r}")
        if any(not _LABEL.match(label) or label.startswith("__") for label in label_names):
            raise ValueError(f"bad label names {label_names!r}")
        self.kind = kind
        self.name = name
        self.help = help_text
        self.label_names = tuple(label_names)
        self._series: dict[LabelValues, _Child] = {}
        if not self.label_names:
            self._series[()] = _Child(kind)

    def labels(self, **values: str) -> _Child:
        """The series with these label values (created at zero on first use)."""
        if set(values) != set(self.label_names):
            raise ValueError(f"{self.name} takes labels {self.label_names}, got {sorted(values)}")
        key = tuple(str(values[name]) for name in self.label_names)
        child = self._series.get(key)
        if child is None:
            child = self._series[key] = _Child(self.kind)
        return child

    def _only(self) -> _Child:
        if self.label_names:
            raise ValueError(f"{self.name} needs labels {self.label_names}")
        return self._series[()]

    def inc(self, amount: float = 1.0) -> None:
        """Add to the unlabelled series."""
        self._only().inc(amount)

    def dec(self, amount: float = 1.0) -> None:
        """Subtract from the unlabelled gauge."""
        self._only().dec(amount)

    def set(self, value: float) -> None:
        """Set the unlabelled gauge."""
        self._only().set(value)

    def value(self, **values: str) -> float:
        """The current value of one series (0 when it was never touched)."""
        if not values and not self.label_names:
            return self._series[()].value
        key = tuple(str(values.get(name, "")) for name in self.label_names)
        child = self._series.get(key)
        return child.value if child is not None else 0.0

    def render(self) -> Iterable[str]:
        """The metric's lines in the text format."""
        yield f"# HELP {self.name} {_escape_help(self.help or self.name)}"
        yield f"# TYPE {self.name} {self.kind}"
        for key in sorted(self._series):
            child = self._series[key]
            if key:
                pairs = ",".join(
                    f'{name}="{_escape_label(value)}"'
                    for name, value in zip(self.label_names, key, strict=True)
                )
                yield f"{self.name}{{{pairs}}} {_format_value(child.value)}"
            else:
                yield f"{self.name} {_format_value(child.value)}"


class MetricsRegistry:
    """Every metric of the process by name."""

    def __init__(self) -> None:
        self._metrics: dict[str, Metric] = {}

    def _get(self, kind: str, name: str, help_text: str, labels: Sequence[str]) -> Metric:
        metric = self._metrics.get(name)
        if metric is None:
            metric = self._metrics[name] = Metric(kind, name, help_text, labels)
        elif metric.kind != kind or metric.label_names != tuple(labels):
            raise ValueError(f"{name} is already a {metric.kind} with {metric.label_names}")
        return metric

    def counter(self, name: str, help_text: str = "", labels: Sequence[str] = ()) -> Metric:
        """The counter `name` (created on first use)."""
        return self._get("counter", name, help_text, labels)

    def gauge(self, name: str, help_text: str = "", labels: Sequence[str] = ()) -> Metric:
        """The gauge `name` (created on first use)."""
        return self._get("gauge", name, help_text, labels)

    def render(self) -> str:
        """Every metric in the Prometheus text format 0.0.4."""
        lines: list[str] = []
        for name in sorted(self._metrics):
            lines.extend(self._metrics[name].render())
        return "\n".join(lines) + "\n" if lines else ""


# --- what the bot counts ------------------------------------------------------------------

UPDATES = "bot_updates_total"
PORTAL_REQUESTS = "bot_portal_requests_total"
PORTAL_REJECTED = "bot_portal_rate_limited_total"
TELEGRAM_REQUESTS = "bot_telegram_requests_total"
TELEGRAM_FLOOD = "bot_telegram_flood_waits_total"
THROTTLED = "bot_throttled_updates_total"
LOOP_STALLS = "bot_event_loop_stalls_total"
LOOP_LAG_MAX = "bot_event_loop_lag_max_seconds"
LOOP_PROBE_SECONDS = 0.1
LOOP_STALL_THRESHOLDS = (0.02, 0.05, 0.2, 1.0)
LOOP_WINDOW_SECONDS = 60.0
GC_PAUSES = "bot_gc_pause_seconds_total"
GC_PAUSE_MAX = "bot_gc_pause_max_seconds"
GC_FROZEN = "bot_gc_frozen_objects"
TRIMS = "bot_malloc_trim_seconds_total"
TRIM_MAX = "bot_malloc_trim_max_seconds"


def register_bot_metrics(registry: MetricsRegistry) -> None:
    """Create the bot's own metrics so they show at zero before any traffic."""
    registry.counter(UPDATES, "Telegram updates handled, by update type", ("type",))
    registry.counter(PORTAL_REQUESTS, "Portal HTTP requests sent, by method", ("method",))
    registry.counter(PORTAL_REJECTED, "Portal requests refused with 503 QUERY_LIMIT_EXCEEDED")
    registry.counter(TELEGRAM_REQUESTS, "Bot API requests sent, by method", ("method",))
    registry.counter(TELEGRAM_FLOOD, "Bot API answers 429 Too Many Requests")
    registry.counter(THROTTLED, "Updates refused by per-user throttling", ("kind", "action"))
    registry.counter(
        LOOP_STALLS,
        "Times the event loop woke later than asked by more than `over` seconds (the web "
        "server, acknowledgements and every worker wait that long)",
        ("over",),
    )
    registry.gauge(LOOP_LAG_MAX, "The longest event loop stall of the last minute, in seconds")
    registry.counter(
        GC_PAUSES, "Time Python's collector held the process, by generation", ("generation",)
    )
    registry.gauge(
        GC_PAUSE_MAX, "The longest pause of the collector so far, by generation", ("generation",)
    )
    registry.gauge(
        GC_FROZEN, "Objects kept out of the collector's full passes (bot.collector.settle)"
    )
    registry.counter(TRIMS, "Time spent giving freed memory back to the system (malloc_trim)")
    registry.gauge(TRIM_MAX, "The longest malloc_trim so far, in seconds")


def trim_observer(registry: MetricsRegistry) -> Callable[[float], None]:
    """Records how long each `malloc_trim` held the process."""
    total = registry.counter(TRIMS)
    longest = registry.gauge(TRIM_MAX)

    def observe(seconds: float) -> None:
        total.inc(seconds)
        if seconds > longest.value():
            longest.set(seconds)

    return observe


def settle_observer(registry: MetricsRegistry) -> Callable[[Settled], None]:
    """Records how many objects the collector's full passes leave alone after each settling
    (its own pass is counted with the others, generation 2)."""
    frozen = registry.gauge(GC_FROZEN)

    def observe(settled: Settled) -> None:
        frozen.set(settled.frozen)
        log.debug(
            "collector settled in %.1f ms%s: %d objects frozen",
            settled.seconds * 1000,
            " (thawed first)" if settled.refreshed else "",
            settled.frozen,
        )

    return observe


def watch_collector(registry: MetricsRegistry) -> Callable[[], None]:
    """Count the collector's pauses (a full pass over a large heap stalls everything);
    returns the function that stops counting."""
    total = registry.counter(GC_PAUSES, labels=("generation",))
    longest = registry.gauge(GC_PAUSE_MAX, labels=("generation",))
    started: list[float] = []

    def observe(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[:] = [time.perf_counter()]
            return
        if not started:
            return
        pause = time.perf_counter() - started[0]
        generation = str(info.get("generation", ""))
        total.labels(generation=generation).inc(pause)
        gauge = longest.labels(generation=generation)
        if pause > gauge.value:
            gauge.set(pause)

    gc.callbacks.append(observe)
    return lambda: gc.callbacks.remove(observe)


async def watch_event_loop(
    registry: MetricsRegistry, *, clock: Callable[[], float] = time.monotonic
) -> None:
    """Measure how late the loop wakes from a short sleep, until cancelled: a stall here is
    a stall of everything the process does (a long synchronous step, a collector's pass)."""
    stalls = registry.counter(LOOP_STALLS, labels=("over",))
    worst = registry.gauge(LOOP_LAG_MAX)
    recent: deque[tuple[float, float]] = deque()  # (when, lag), the last minute's
    while True:
        asked = clock()
        await asyncio.sleep(LOOP_PROBE_SECONDS)
        now = clock()
        lag = max(0.0, now - asked - LOOP_PROBE_SECONDS)
        for threshold in LOOP_STALL_THRESHOLDS:
            if lag > threshold:
                stalls.labels(over=_format_value(threshold)).inc()
        while recent and recent[0][0] < now - LOOP_WINDOW_SECONDS:
            recent.popleft()
        while recent and recent[-1][1] <= lag:
            recent.pop()  # a later, longer stall outlives it in the window
        recent.append((now, lag))
        worst.set(recent[0][1])


def portal_observer(registry: MetricsRegistry) -> Callable[[str, int, bool], None]:
    """A `PortalClient(on_request=...)` hook counting requests and rate-limit refusals."""
    requests = registry.counter(PORTAL_REQUESTS, labels=("method",))
    rejected = registry.counter(PORTAL_REJECTED)

    def observe(method: str, status: int, limited: bool) -> None:
        requests.labels(method=method).inc()
        if limited:
            rejected.inc()

    return observe


def telegram_observer(registry: MetricsRegistry) -> Callable[[str, bool], None]:
    """A `TelegramRetryMiddleware(on_request=...)` hook counting sends and 429 answers."""
    requests = registry.counter(TELEGRAM_REQUESTS, labels=("method",))
    flood = registry.counter(TELEGRAM_FLOOD)

    def observe(method: str, flood_wait: bool) -> None:
        requests.labels(method=method).inc()
        if flood_wait:
            flood.inc()

    return observe


class UpdateMetricsMiddleware(BaseMiddleware):
    """Outer update middleware counting every update by its type."""

    def __init__(self, registry: MetricsRegistry) -> None:
        self._updates = registry.counter(UPDATES, labels=("type",))

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        """Count, then handle."""
        if isinstance(event, Update):
            try:
                kind = event.event_type
            except LookupError:  # a kind of update this aiogram does not know
                kind = "unknown"
            self._updates.labels(type=kind).inc()
        return await handler(event, data)


def metrics_handler(
    registry: MetricsRegistry, *, token: str | None = None
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """`GET /metrics`: the registry as text; refuses bodies, and a wrong bearer token if set."""

    async def handle(request: web.Request) -> web.Response:
        if request.content_length or request.can_read_body:
            return web.Response(status=413, text="no body expected")
        if token:
            given = request.headers.get("Authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
                return web.Response(status=401, text="unauthorized")
        return web.Response(
            body=registry.render().encode(), headers={"Content-Type": CONTENT_TYPE}
        )

    return handle


def throttle_observer(registry: MetricsRegistry) -> Callable[[UpdateKind, Verdict], None]:
    """A `ThrottleMiddleware(on_limited=...)` hook counting refused updates."""
    throttled = registry.counter(THROTTLED, labels=("kind", "action"))

    def observe(kind: UpdateKind, verdict: Verdict) -> None:
        throttled.labels(kind=kind.value, action=verdict.value).inc()

    return observe
