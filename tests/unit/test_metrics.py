"""The metrics registry and its Prometheus text format."""

from __future__ import annotations

import asyncio
import gc

import httpx
import pytest
from aiohttp.test_utils import make_mocked_request

from bot.metrics import (
    GC_PAUSE_MAX,
    GC_PAUSES,
    LOOP_LAG_MAX,
    LOOP_STALLS,
    PORTAL_REJECTED,
    PORTAL_REQUESTS,
    MetricsRegistry,
    metrics_handler,
    portal_observer,
    register_bot_metrics,
    telegram_observer,
    watch_collector,
    watch_event_loop,
)
from bot.portal import PortalClient, PortalLimiter, WebhookAuth


def test_counters_and_gauges_render_in_text_format() -> None:
    registry = MetricsRegistry()
    registry.counter("bot_updates_total", "Updates handled", ("type",)).labels(
        type="message"
    ).inc()
    registry.counter("bot_updates_total", "Updates handled", ("type",)).labels(type="message").inc(
        2
    )
    registry.gauge("bot_outbox_depth", "Messages waiting").set(12)
    registry.gauge("bot_ratio").set(0.25)
    assert registry.render() == (
        "# HELP bot_outbox_depth Messages waiting\n"
        "# TYPE bot_outbox_depth gauge\n"
        "bot_outbox_depth 12\n"
        "# HELP bot_ratio bot_ratio\n"
        "# TYPE bot_ratio gauge\n"
        "bot_ratio 0.25\n"
        "# HELP bot_updates_total Updates handled\n"
        "# TYPE bot_updates_total counter\n"
        'bot_updates_total{type="message"} 3\n'
    )


def test_label_values_and_help_are_escaped() -> None:
    registry = MetricsRegistry()
    metric = registry.counter("x_total", 'line\\one\ntwo "q"', ("m",))
    metric.labels(m='a"b\\c\nd').inc()
    lines = registry.render().splitlines()
    assert lines[0] == '# HELP x_total line\\\\one\\ntwo "q"'
    assert lines[2] == 'x_total{m="a\\"b\\\\c\\nd"} 1'


def test_counters_only_go_up_and_gauges_go_both_ways() -> None:
    registry = MetricsRegistry()
    counter = registry.counter("c_total")
    with pytest.raises(ValueError, match="cannot go down"):
        counter.inc(-1)
    with pytest.raises(ValueError, match="cannot be set"):
        counter.set(3)
    gauge = registry.gauge("g")
    gauge.inc(5)
    gauge.dec(2)
    assert gauge.value() == 3


def test_names_labels_and_kinds_are_checked() -> None:
    registry = MetricsRegistry()
    with pytest.raises(ValueError, match="bad metric name"):
        registry.counter("bad-name")
    registry.counter("a_total", labels=("x",))
    with pytest.raises(ValueError, match="already a counter"):
        registry.gauge("a_total")
    with pytest.raises(ValueError, match="takes labels"):
        registry.counter("a_total", labels=("x",)).labels(y="1")
    with pytest.raises(ValueError, match="needs labels"):
        registry.counter("a_total", labels=("x",)).inc()


def test_observers_count_requests_and_refusals() -> None:
    registry = MetricsRegistry()
    register_bot_metrics(registry)
    observe_portal = portal_observer(registry)
    observe_portal("crm.lead.add", 200, False)
    observe_portal("crm.lead.add", 503, True)
    observe_telegram = telegram_observer(registry)
    observe_telegram("sendMessage", False)
    observe_telegram("sendMessage", True)
    assert registry.counter(PORTAL_REQUESTS, labels=("method",)).value(method="crm.lead.add") == 2
    assert registry.counter(PORTAL_REJECTED).value() == 1
    text = registry.render()
    assert 'bot_telegram_requests_total{method="sendMessage"} 2' in text
    assert "bot_telegram_flood_waits_total 1" in text


def test_empty_registry_renders_nothing() -> None:
    assert MetricsRegistry().render() == ""


async def test_metrics_handler_refuses_bodies_and_wrong_tokens() -> None:
    registry = MetricsRegistry()
    registry.counter("hits_total").inc()
    open_handler = metrics_handler(registry)
    ok = await open_handler(make_mocked_request("GET", "/metrics"))
    assert ok.status == 200
    assert ok.content_type == "text/plain"
    assert ok.body == b"# HELP hits_total hits_total\n# TYPE hits_total counter\nhits_total 1\n"
    with_body = make_mocked_request("GET", "/metrics", headers={"Content-Length": "5"})
    assert (await open_handler(with_body)).status == 413

    guarded = metrics_handler(registry, token="s3cret")
    assert (await guarded(make_mocked_request("GET", "/metrics"))).status == 401
    wrong = make_mocked_request("GET", "/metrics", headers={"Authorization": "Bearer nope"})
    assert (await guarded(wrong)).status == 401
    right = make_mocked_request("GET", "/metrics", headers={"Authorization": "Bearer s3cret"})
    assert (await guarded(right)).status == 200


async def test_portal_client_reports_each_request_and_each_rate_limit_refusal() -> None:
    answers = iter(
        [
            httpx.Response(503, json={"error": "QUERY_LIMIT_EXCEEDED", "error_description": ""}),
            httpx.Response(200, json={"result": 1}),
        ]
    )
    seen: list[tuple[str, int, bool]] = []

    async def no_sleep(_: float) -> None:
        return None

    client = PortalClient(
        auth=WebhookAuth("https://portal.example/rest/1/secret/"),
        limiter=PortalLimiter(drain_per_second=1000.0, burst=1000, start_full=False),
        transport=httpx.MockTransport(lambda _: next(answers)),
        sleep=no_sleep,
        on_request=lambda method, status, limited: seen.append((method, status, limited)),
    )
    async with client:
        assert await client.crm_mode() == 1
    assert seen == [("crm.settings.mode.get", 503, True), ("crm.settings.mode.get", 200, False)]


async def test_the_loop_watch_counts_stalls_and_keeps_the_last_minutes_worst() -> None:
    registry = MetricsRegistry()
    register_bot_metrics(registry)
    worst = registry.gauge(LOOP_LAG_MAX)
    # (asked, woke) per probe: a 0.3 s stall, a prompt wake, then a 0.04 s stall 70 s later;
    # the last moment starts a fourth probe.
    moments = iter([0.0, 0.4, 1.0, 1.1, 70.0, 70.14, 71.0])
    seen: list[float] = []
    readings: list[float] = []  # the gauge after each probe

    def clock() -> float:
        if seen and len(seen) % 2 == 0:
            readings.append(worst.value())
        seen.append(next(moments))
        return seen[-1]

    watch = asyncio.create_task(watch_event_loop(registry, clock=clock))
    while len(seen) < 7:
        await asyncio.sleep(0.01)
    watch.cancel()
    with pytest.raises(asyncio.CancelledError):
        await watch
    stalls = registry.counter(LOOP_STALLS, labels=("over",))
    assert stalls.value(over="0.02") == 2
    assert stalls.value(over="0.05") == 1
    assert stalls.value(over="0.2") == 1
    assert stalls.value(over="1") == 0
    # The 0.3 s stall stays the worst for a minute, then leaves the window.
    assert readings == [pytest.approx(0.3), pytest.approx(0.3), pytest.approx(0.04)]


def test_the_collector_watch_counts_each_generations_pauses_until_stopped() -> None:
    registry = MetricsRegistry()
    register_bot_metrics(registry)
    stop = watch_collector(registry)
    try:
        gc.collect(0)
        gc.collect(2)
    finally:
        stop()
    pauses = registry.counter(GC_PAUSES, labels=("generation",))
    longest = registry.gauge(GC_PAUSE_MAX, labels=("generation",))
    assert pauses.value(generation="2") > 0
    assert longest.value(generation="2") <= pauses.value(generation="2")
    assert longest.value(generation="0") > 0
    before = pauses.value(generation="2")
    gc.collect(2)  # no longer watched
    assert pauses.value(generation="2") == before
    assert 'bot_gc_pause_seconds_total{generation="2"}' in registry.render()
