"""The catch-up poll's memory: what one pass holds at its biggest moment, and what stays.

The portal emulator runs in a process of its own, seeded with `--quiet` leads that never change
at the lowest ids (a portal's old leads), then `--leads` leads changed since the watermark
among `--spread` times as many (every `--spread`-th lead), as traffic spreads changes over a
portal's ids. This process runs the bot's `CatchUpPoller` (routine lane, as when
events come by themselves) against it with a fresh SQLite database, `--passes` times. For each
pass: the leads it listed, tracemalloc's peak above the start of the pass (this process only:
the poller, the portal client, the database's thread), the most requests in flight at once,
and the RSS after glibc's trim (as the bot trims). `--chains 0` reads the keyset chains side by
side as the reader does by default; the bot's `CATCH_UP_CHAINS` otherwise.

Run: `.venv/bin/python -m bench.catch_up [--leads N] [--spread N] [--quiet N] [--passes N]
[--chains N]`
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import multiprocessing
import statistics
import tempfile
import tracemalloc
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from bot.allocator import Allocator
from bot.events import poller as poller_module
from bot.events.poller import STARTED_KEY, WATERMARK_KEY, CatchUpPoller
from bot.portal import Lane, PortalClient, PortalLimiter, WebhookAuth
from bot.portal.batch import BatchResult
from bot.storage import KeyValueRepository
from bot.storage.db import SqliteDatabase
from bot.storage.inbox import InboxRepository
from bot.storage.migrations import MIGRATIONS
from bot.storage.snapshots import SnapshotRepository

LONG_AGO = "2020-01-01T10:00:00+03:00"
WATERMARK = "2026-01-01T00:00:00+00:00"


def serve_portal(leads: int, spread: int, quiet: int, urls: multiprocessing.Queue[str]) -> None:
    """The emulator with `quiet` unchanged leads, then `leads` changed leads among
    `leads * spread`, until terminated."""
    from tests.emulators.bitrix24 import Bitrix24Emulator

    async def serve() -> None:
        portal = Bitrix24Emulator(rate_limit=True)
        now = portal.now_text()
        if quiet:
            portal.seed_leads(quiet, DATE_CREATE=LONG_AGO, DATE_MODIFY=LONG_AGO)
        portal.seed_leads(
            leads * spread,
            DATE_CREATE=LONG_AGO,
            DATE_MODIFY=lambda i: now if i % spread == 0 else LONG_AGO,
            NAME="Ivan",
            LAST_NAME="Petrov",
            TITLE="A lead with a title of the usual length",
        )
        await portal.start()
        urls.put(portal.webhook_url)
        await asyncio.Event().wait()

    asyncio.run(serve())


def rss_mb() -> float:
    """This process's resident memory, in MB of 2**20 bytes as `bench.soak` counts it."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def measure(url: str, passes: int) -> list[dict[str, Any]]:
    """Run the passes; one dict of figures per pass."""
    allocator = Allocator.load()
    if allocator is not None:
        allocator.limit_arenas()
    figures: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as folder:
        database = SqliteDatabase(Path(folder) / "bench.sqlite3", migrations=MIGRATIONS)
        async with database as db:
            limiter = PortalLimiter(drain_per_second=2.0, burst=50)
            async with PortalClient(auth=WebhookAuth(url), limiter=limiter) as portal:
                in_flight = most = requests = 0
                batch = portal.batch

                async def counted(commands: Mapping[str, Any], **options: Any) -> BatchResult:
                    nonlocal in_flight, most, requests
                    in_flight += 1
                    requests += 1
                    most = max(most, in_flight)
                    try:
                        return await batch(commands, **options)
                    finally:
                        in_flight -= 1

                portal.batch = counted  # type: ignore[method-assign, assignment]
                kv = KeyValueRepository(db)
                snapshots = SnapshotRepository(db)
                for _ in range(passes):
                    # Each pass sees the whole window again, as the overlap makes a pass see
                    # the leads of the one before; nothing was processed meanwhile.
                    await kv.set(STARTED_KEY, WATERMARK)
                    await kv.set(WATERMARK_KEY, WATERMARK)
                    poller = CatchUpPoller(
                        portal,
                        db,
                        InboxRepository(db),
                        kv,
                        snapshots,
                        interval=30.0,
                        overlap=timedelta(seconds=30),
                        on_stored=lambda: None,
                        lane=Lane.ROUTINE,
                    )
                    most = requests = 0
                    listed = poller.listed
                    gc.collect()
                    tracemalloc.start()
                    base, _ = tracemalloc.get_traced_memory()
                    await poller.poll_once()
                    _, peak = tracemalloc.get_traced_memory()
                    tracemalloc.stop()
                    if allocator is not None:
                        allocator.trim()
                    figures.append(
                        {
                            "listed": poller.listed - listed,
                            "peak_mb": round((peak - base) / 1e6, 1),
                            "requests": requests,
                            "most_in_flight": most,
                            "rss_mb": round(rss_mb(), 1),
                        }
                    )
    return figures


def main() -> None:
    """Parse the arguments, run the emulator aside and the passes here, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=7000)
    parser.add_argument("--spread", type=int, default=4)
    parser.add_argument("--quiet", type=int, default=0)
    parser.add_argument("--passes", type=int, default=4)
    parser.add_argument("--chains", type=int, default=poller_module.CATCH_UP_CHAINS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    poller_module.CATCH_UP_CHAINS = args.chains or None  # type: ignore[assignment]
    context = multiprocessing.get_context("spawn")
    urls: multiprocessing.Queue[str] = context.Queue()
    server = context.Process(target=serve_portal, args=(args.leads, args.spread, args.quiet, urls))
    server.start()
    try:
        figures = asyncio.run(measure(urls.get(timeout=120), args.passes))
    finally:
        server.terminate()
        server.join()
    for number, one in enumerate(figures, start=1):
        print(
            f"pass {number}: {one['listed']} leads listed in {one['requests']} requests "
            f"({one['most_in_flight']} at most in flight), peak {one['peak_mb']} MB, "
            f"RSS after {one['rss_mb']} MB"
        )
    result = {
        "leads": args.leads,
        "spread": args.spread,
        "quiet": args.quiet,
        "chains": args.chains or "side by side",
        "requests_per_pass": figures[0]["requests"],
        # A pass every 30 s at the portal's 2 requests/s.
        "budget_share_per_pass": round(figures[0]["requests"] / (2.0 * 30.0), 3),
        "most_in_flight": max(one["most_in_flight"] for one in figures),
        "peak_mb_p50": statistics.median(one["peak_mb"] for one in figures),
        "peak_mb_max": max(one["peak_mb"] for one in figures),
        "rss_mb_first": figures[0]["rss_mb"],
        "rss_mb_last": figures[-1]["rss_mb"],
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
