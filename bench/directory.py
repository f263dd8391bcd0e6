"""The portal directory with a big team: 10,000 users in the portal emulator (2 req/s, burst 50).

Prints the time until the directory is first usable (`start()`, which start-up waits for), until
it is complete (read in the background), the portal requests each read spends, the share of the
portal's budget the 5-minute refresh takes, how long a sign-in lookup by phone blocks the
event loop, beside the old way (normalising every user's phones on each attempt), and the memory
a complete directory holds (tracemalloc: what a fresh directory's read left allocated from the
bot's code, the users' strings included, its indexes too), and the most memory a re-read takes
at its biggest moment (tracemalloc's peak over one refresh; the emulator runs in this process,
so its answers are counted too). `--read-pages N` re-reads with N `user.get` pages per request
instead of the bot's `READ_PAGES` (50 is what one request can hold).

Run: `.venv/bin/python -m bench.directory [--users N] [--lookups N] [--read-pages N]`
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import statistics
import time
import tracemalloc
from collections.abc import Awaitable, Sequence
from pathlib import Path

from bot.access import directory as directory_module
from bot.access.directory import USERS_PER_PAGE, USERS_PER_REQUEST, PortalDirectory
from bot.phones import normalize_phone
from bot.portal import PortalClient, PortalLimiter, WebhookAuth
from tests.emulators.bitrix24 import Bitrix24Emulator

DRAIN_PER_SECOND = 2.0
BURST = 50
REFRESH_SECONDS = 300.0
REGION = "RU"
OLD_USERS_PER_REQUEST = 50
BOT_CODE = str(Path(__file__).resolve().parents[1] / "bot" / "*")


def phone_of(index: int) -> str:
    """A distinct mobile number per seeded user, in the format people type."""
    return f"+7 (917) {index // 10_000:03d}-{index % 10_000 // 100:02d}-{index % 100:02d}"


async def timed_requests(emulator: Bitrix24Emulator, step: Awaitable[object]) -> tuple[float, int]:
    """Seconds and portal HTTP requests one awaited step took."""
    before = len(emulator.calls)
    started = time.perf_counter()
    await step
    return time.perf_counter() - started, len(emulator.calls) - before


def old_lookup(directory_users: Sequence[tuple[str | None, ...]], e164: str) -> int:
    """The former sign-in lookup: every user's phones normalised on each attempt."""
    return sum(
        1
        for phones in directory_users
        if any(p and normalize_phone(p, REGION) == e164 for p in phones)
    )


async def held_by_directory(portal: PortalClient) -> float:
    """MB still allocated, from the bot's code, after a fresh directory read everyone."""
    gc.collect()
    tracemalloc.start(32)
    try:
        directory = PortalDirectory(portal, default_region=REGION)
        await directory.start()
        await directory.complete()
        gc.collect()
        snapshot = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    ours = snapshot.filter_traces([tracemalloc.Filter(True, BOT_CODE, all_frames=True)])
    return sum(stat.size for stat in ours.statistics("filename")) / 1e6


async def refresh_peak(directory: PortalDirectory) -> float:
    """MB above the directory's own at the biggest moment of one re-read (tracemalloc's peak)."""
    gc.collect()
    tracemalloc.start()
    try:
        base, _ = tracemalloc.get_traced_memory()
        await directory.refresh()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return (peak - base) / 1e6


async def main(users: int, lookups: int) -> None:
    """Seed the portal, read the directory the new way, time lookups, print the figures."""
    logging.basicConfig(level=logging.WARNING)
    emulator = Bitrix24Emulator(rate_limit=True, drain_per_second=DRAIN_PER_SECOND, burst=BURST)
    await emulator.start()
    try:
        for index in range(users):
            emulator.add_user(f"User{index}", "Bench", personal_mobile=phone_of(index))
        limiter = PortalLimiter(drain_per_second=DRAIN_PER_SECOND, burst=BURST)
        async with PortalClient(auth=WebhookAuth(emulator.webhook_url), limiter=limiter) as portal:
            directory = PortalDirectory(portal, default_region=REGION)
            first_s, first_requests = await timed_requests(emulator, directory.start())
            complete_s, complete_requests = await timed_requests(emulator, directory.complete())
            refresh_s, refresh_requests = await timed_requests(emulator, directory.refresh())
            known = [
                normalize_phone(phone_of(i * 37 % users), REGION) or "" for i in range(lookups)
            ]
            hit_ms = []
            for e164 in known:
                started = time.perf_counter()
                found = await directory.users_with_phone(e164)
                hit_ms.append((time.perf_counter() - started) * 1000)
                assert len(found) == 1, e164
            snapshot = [
                (u.personal_mobile, u.work_phone, u.personal_phone)
                for u in await directory.search("", limit=users + 10)
            ]
            old_ms = []
            for e164 in known[: max(1, lookups // 20)]:
                started = time.perf_counter()
                old_lookup(snapshot, e164)
                old_ms.append((time.perf_counter() - started) * 1000)
            miss_s, miss_requests = await timed_requests(
                emulator, directory.users_with_phone("+79990000000")
            )
            held_mb = await held_by_directory(portal)
            peak_mb = await refresh_peak(directory)
    finally:
        await emulator.stop()
    old_requests = -(-(users + 3) // OLD_USERS_PER_REQUEST)
    budget_per_refresh = DRAIN_PER_SECOND * REFRESH_SECONDS
    figures = {
        "users": users + 3,
        "first_ready_s": round(first_s, 3),
        "first_ready_requests": first_requests,
        "complete_s": round(complete_s, 3),
        "complete_requests": complete_requests,
        "full_refresh_s": round(refresh_s, 3),
        "full_refresh_requests": refresh_requests,
        "old_full_read_requests": old_requests,
        "refresh_budget_share": round(refresh_requests / budget_per_refresh, 4),
        "old_refresh_budget_share": round(old_requests / budget_per_refresh, 4),
        "lookup_p50_ms": round(statistics.median(hit_ms), 4),
        "lookup_max_ms": round(max(hit_ms), 4),
        "old_lookup_p50_ms": round(statistics.median(old_ms), 1),
        "lookup_speedup": round(statistics.median(old_ms) / statistics.median(hit_ms)),
        "miss_read_s": round(miss_s, 3),
        "miss_read_requests": miss_requests,
        "held_mb": round(held_mb, 1),
        "read_pages": directory_module.READ_PAGES,
        "refresh_peak_mb": round(peak_mb, 1),
    }
    print(f"portal limit: {DRAIN_PER_SECOND:g} req/s, burst {BURST}; {users + 3} users")
    print(
        f"first ready: {first_s:.2f} s, {first_requests} request(s) "
        f"(up to {USERS_PER_REQUEST} users per request)"
    )
    print(f"complete (background): {complete_s:.2f} s more, {complete_requests} request(s)")
    print(
        f"full refresh: {refresh_s:.2f} s, {refresh_requests} requests "
        f"= {figures['refresh_budget_share']:.2%} of the budget per {REFRESH_SECONDS:.0f} s "
        f"(before: {old_requests} requests = {figures['old_refresh_budget_share']:.2%})"
    )
    print(
        f"sign-in lookup by phone: p50 {figures['lookup_p50_ms']} ms, "
        f"max {figures['lookup_max_ms']} ms (before: {figures['old_lookup_p50_ms']} ms, "
        f"{figures['lookup_speedup']}x)"
    )
    print(f"unknown phone: {miss_requests} portal request(s) for new users, {miss_s:.3f} s")
    print(f"memory a complete directory holds: {held_mb:.1f} MB")
    print(
        f"a re-read's biggest moment: {peak_mb:.1f} MB more "
        f"({directory_module.READ_PAGES} pages = "
        f"{directory_module.READ_PAGES * USERS_PER_PAGE} users per request)"
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--lookups", type=int, default=200)
    parser.add_argument("--read-pages", type=int, default=directory_module.READ_PAGES)
    arguments = parser.parse_args()
    directory_module.READ_PAGES = arguments.read_pages
    asyncio.run(main(arguments.users, arguments.lookups))
