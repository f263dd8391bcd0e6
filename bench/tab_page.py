"""The lead card's Telegram tab: how fast the page answers the portal's POST.

The whole `Application` runs as the portal's installed local application against both
emulators (on loopback, no rate limit), with a team: an admin and a rep signed in, a team
group subscribed, the lead already told to two chats, and `--outbox-rows` sent messages about
other leads in the outbox (the history query reads past them). Each open is what the portal
does when a user clicks the tab: a form POST with a fresh AUTH_ID. Measured: the time from
sending the POST to the last byte of the page, over `--opens` opens one after another, and
the portal requests each open costs (counted by the portal emulator). Limit: p95 under
200 ms. The last line is one JSON object with every figure.

Two runs. The page's own cost: the bot's portal limiter gets a burst large enough that no
open waits for it. Then the same opens back to back under the portal's real budget (2 req/s,
burst 50): once the burst is spent, each open waits for its two requests' turn (1 s), which
is what a flood of opens would meet; a person clicking the tab never spends the burst.

Run: `.venv/bin/python -m bench.tab_page [--opens 200] [--outbox-rows 20000]`
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path

import aiohttp

from bot.storage.db import Database
from bot.storage.sql import execute_many
from bot.storage.timestamps import to_db_time, utc_now
from tests.e2e.lead_tab_harness import ANNA, running_tab_bot, subscribed_team
from tests.emulators.bitrix24 import Bitrix24Emulator
from tests.emulators.telegram import DEFAULT_TEST_TOKEN, TelegramEmulator

LIMIT_P95_MS = 200.0


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile (`share` in 0..100)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share / 100 * (len(ordered) - 1)))]


async def measure(opens: int, outbox_rows: int, portal_burst: int) -> dict[str, object]:
    """Open the tab `opens` times; figures of the answer time and the portal requests."""
    telegram = TelegramEmulator(DEFAULT_TEST_TOKEN)
    portal = Bitrix24Emulator()
    await telegram.start()
    await portal.start()
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    methods: Counter[str] = Counter()
    try:
        with tempfile.TemporaryDirectory() as folder:
            async with running_tab_bot(Path(folder), telegram, portal, portal_burst) as app:
                team = await subscribed_team(app, telegram, portal)
                await seed_outbox(app.db, outbox_rows)
                url = portal.tab_url("en")
                forms = [portal.tab_form(ANNA, team.lead_id) for _ in range(opens + 5)]
                async with aiohttp.ClientSession() as http:
                    for form in forms[:5]:  # warm-up: caches, connections
                        await post(http, url, form)
                    before = len(portal.calls)
                    for form in forms[5:]:
                        started = time.perf_counter()
                        status = await post(http, url, form)
                        latencies.append((time.perf_counter() - started) * 1000)
                        statuses[status] += 1
                    calls = portal.calls[before:]
                # The offline queue's reads run beside the opens; they are not the tab's.
                background = [c for c in calls if c.method.startswith("event.")]
                calls = [c for c in calls if not c.method.startswith("event.")]
                for call in calls:
                    inner = "+".join(call.batch_methods) if call.batch_methods else ""
                    methods[f"{call.method}({inner})" if inner else call.method] += 1
    finally:
        await portal.stop()
        await telegram.stop()
    p95 = percentile(latencies, 95)
    load1, load5, _ = os.getloadavg()
    return {
        "portal_burst": portal_burst,
        "opens": opens,
        "outbox_rows": outbox_rows,
        "status_200": statuses.get(200, 0),
        "p50_ms": round(statistics.median(latencies), 1),
        "p95_ms": round(p95, 1),
        "max_ms": round(max(latencies), 1),
        "limit_p95_ms": LIMIT_P95_MS,
        "p95_of_limit": round(p95 / LIMIT_P95_MS, 2),
        "portal_requests_per_open": round(len(calls) / opens, 2),
        "portal_requests": dict(sorted(methods.items())),
        "background_requests_meanwhile": len(background),
        "load_average_1m": round(load1, 2),
        "load_average_5m": round(load5, 2),
        "cpus": os.cpu_count(),
    }


async def post(http: aiohttp.ClientSession, url: str, form: dict[str, str]) -> int:
    """One open of the tab; the status (the whole page is read)."""
    async with http.post(url, data=form) as response:
        await response.read()
        return response.status


async def seed_outbox(db: Database, rows: int) -> None:
    """Sent messages about other leads, as weeks of notifications leave them."""
    now = to_db_time(utc_now())
    payload = json.dumps({"text": "x", "buttons": [], "kind": "changed"})
    batch = [
        (f"bench:{n}", -5000 - n % 7, 100_000 + n, payload, now, now, now, n + 1)
        for n in range(rows)
    ]
    for start in range(0, rows, 5000):
        async with db.transaction() as conn:
            await execute_many(
                conn,
                "INSERT INTO outbox (idempotency_key, chat_id, lead_id, payload, "
                "next_attempt_at, created_at, sent_at, telegram_message_id, state) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'sent')",
                batch[start : start + 5000],
            )


def main() -> None:
    """Parse arguments, run, print the figures and the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--opens", type=int, default=200)
    parser.add_argument("--outbox-rows", type=int, default=20_000)
    parser.add_argument("--budget-opens", type=int, default=60)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    own = asyncio.run(measure(args.opens, args.outbox_rows, portal_burst=100_000))
    report("page's own cost (limiter never waits)", own)
    budget = asyncio.run(measure(args.budget_opens, args.outbox_rows, portal_burst=50))
    report("back to back under the portal's 2 req/s, burst 50", budget)
    print(
        json.dumps(
            {
                "p95_ms": own["p95_ms"],
                "p50_ms": own["p50_ms"],
                "limit_p95_ms": LIMIT_P95_MS,
                "p95_of_limit": own["p95_of_limit"],
                "portal_requests_per_open": own["portal_requests_per_open"],
                "own_cost": own,
                "under_portal_budget": budget,
            }
        )
    )


def report(title: str, figures: dict[str, object]) -> None:
    """The run's figures in three lines."""
    print(
        f"{title}: {figures['opens']} opens ({figures['status_200']} × 200), outbox of "
        f"{figures['outbox_rows']} other rows: p50 {figures['p50_ms']} ms, p95 "
        f"{figures['p95_ms']} ms = {figures['p95_of_limit']} of the {LIMIT_P95_MS:g} ms limit, "
        f"max {figures['max_ms']} ms",
        flush=True,
    )
    print(
        f"  portal requests per open: {figures['portal_requests_per_open']} "
        f"({figures['portal_requests']})"
    )
    print(
        f"  machine load while measured: {figures['load_average_1m']} (1 min), "
        f"{figures['load_average_5m']} (5 min) on {figures['cpus']} CPUs",
        flush=True,
    )


if __name__ == "__main__":
    main()
