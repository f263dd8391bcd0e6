"""Interactive latency while background full-list reads keep the portal at its 2 req/s limit.

Three background readers page through every lead in a loop (as a poller and bulk jobs would);
meanwhile a user opens a lead (`crm.lead.get`) about once a second. Every request goes
through one shared limiter; the user's calls take the interactive lane. Printed: p50/p99/max
latency of the user's calls, the same with the user in the background lane (no priority) for
comparison, background throughput and 503s. Target: p99 under 1 s with priority.

Run: `.venv/bin/python -m bench.portal_latency [--seconds 20]`
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import random
import statistics
import time

from bot.portal import Lane, PortalClient, PortalLimiter, WebhookAuth
from tests.emulators.bitrix24 import Bitrix24Emulator

LEADS = 20_000
READERS = 3


async def background_reader(client: PortalClient, stop: asyncio.Event, counter: list[int]) -> None:
    """Read every lead again and again until told to stop."""
    while not stop.is_set():
        async for _ in client.iter_leads(select=["ID", "TITLE"], lane=Lane.BACKGROUND):
            counter[0] += 1
            if stop.is_set():
                return


async def one_run(emulator: Bitrix24Emulator, seconds: float, user_lane: Lane) -> list[float]:
    """Latencies of the user's calls during `seconds` of background reading."""
    emulator.reset_rate_limit()
    limiter = PortalLimiter(drain_per_second=2.0, burst=50)
    client = PortalClient(auth=WebhookAuth(emulator.webhook_url), limiter=limiter)
    stop = asyncio.Event()
    read = [0]
    readers = [asyncio.create_task(background_reader(client, stop, read)) for _ in range(READERS)]
    latencies: list[float] = []
    rng = random.Random(7)
    deadline = time.perf_counter() + seconds
    try:
        await asyncio.sleep(2.0)  # let the readers use up the burst first
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            await client.get_lead(rng.randint(1, LEADS), lane=user_lane)
            latencies.append(time.perf_counter() - started)
            await asyncio.sleep(rng.uniform(0.5, 1.5))
    finally:
        stop.set()
        for task in readers:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await client.aclose()
    print(f"  background leads read: {read[0]:,}")
    return latencies


def describe(name: str, latencies: list[float]) -> str:
    """p50 / p99 / max of a latency sample, in milliseconds."""
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return (
        f"{name:<28} n={len(ordered):>3}  p50={statistics.median(ordered) * 1000:7.0f} ms  "
        f"p99={p99 * 1000:7.0f} ms  max={ordered[-1] * 1000:7.0f} ms"
    )


async def main(seconds: float) -> None:
    """Run with and without the interactive lane and print both."""
    logging.basicConfig(level=logging.ERROR)
    emulator = Bitrix24Emulator(rate_limit=True, drain_per_second=2.0, burst=50)
    await emulator.start()
    try:
        emulator.seed_leads(LEADS)
        print(f"portal limit 2 req/s, burst 50; {READERS} background readers; {seconds:g}s each")
        print("user in the interactive lane:")
        calls_before = len(emulator.calls)
        with_priority = await one_run(emulator, seconds, Lane.INTERACTIVE)
        print("user in the background lane (no priority):")
        without_priority = await one_run(emulator, seconds, Lane.BACKGROUND)
        calls = emulator.calls[calls_before:]
        rejected = sum(1 for c in calls if c.rejected_by_limit)
    finally:
        await emulator.stop()
    print(describe("interactive lane", with_priority))
    print(describe("background lane", without_priority))
    print(
        f"portal requests: {len(calls)} over both runs (each starts with the portal's burst "
        f"of 50, then 2/s); 503s: {rejected}"
    )
    p99 = sorted(with_priority)[
        min(len(with_priority) - 1, round(0.99 * (len(with_priority) - 1)))
    ]
    print(f"interactive p99 / 1 s target: {p99:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    asyncio.run(main(parser.parse_args().seconds))
