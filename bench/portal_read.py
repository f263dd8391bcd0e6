"""Full-list reading speed against the portal emulator enforcing 2 req/s with a burst of 50.

Reads every lead (20,000 by default) with our client, from an empty portal bucket and from a
full one, then does the same with fast_bitrix24 on the same emulator, and prints leads/s,
requests, 503s seen and the ratio to the ceiling: with `batch`, one request brings at most
50 commands x 50 leads, so at 2 requests/s the ceiling is 5,000 leads/s.

Run: `.venv/bin/python -m bench.portal_read [--leads N]`
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.portal import PortalClient, PortalLimiter, WebhookAuth
from tests.emulators.bitrix24 import Bitrix24Emulator

DRAIN_PER_SECOND = 2.0
BURST = 50
LEADS_PER_REQUEST = 50 * 50
CEILING = LEADS_PER_REQUEST * DRAIN_PER_SECOND


@dataclass
class Run:
    """One measured full read."""

    name: str
    leads: int
    seconds: float
    requests: int
    rejected: int
    failure: str | None = None

    @property
    def rate(self) -> float:
        """Leads per second."""
        return self.leads / self.seconds

    def line(self) -> str:
        """The run as one table row."""
        if self.failure is not None:
            return (
                f"{self.name:<34} FAILED after {self.seconds:.2f}s, {self.requests} requests, "
                f"{self.rejected} 503s: {self.failure}"
            )
        return (
            f"{self.name:<34} {self.leads:>7} {self.seconds:>8.2f} {self.rate:>9.0f} "
            f"{self.requests:>8} {self.rejected:>5} {self.rate / CEILING:>7.2f}"
        )


async def read_with_our_client(emulator: Bitrix24Emulator) -> int:
    """Every lead through `PortalClient.iter_leads` with its default (conservative) limiter."""
    limiter = PortalLimiter(drain_per_second=DRAIN_PER_SECOND, burst=BURST)
    async with PortalClient(auth=WebhookAuth(emulator.webhook_url), limiter=limiter) as client:
        count = 0
        last = 0
        async for lead in client.iter_leads(select=["ID", "TITLE", "STATUS_ID"]):
            if lead.id is None or lead.id <= last:
                raise RuntimeError("leads must come in ID order")
            last = lead.id
            count += 1
        return count


async def read_with_fast_bitrix24(emulator: Bitrix24Emulator) -> int:
    """Every lead through fast_bitrix24's `get_all` (its own batching and throttling)."""
    from fast_bitrix24 import BitrixAsync

    bitrix = BitrixAsync(emulator.webhook_url, verbose=False, ssl=False)
    logging.getLogger("fast_bitrix24").setLevel(logging.ERROR)  # it turns DEBUG on itself
    leads = await bitrix.get_all("crm.lead.list", params={"select": ["ID", "TITLE", "STATUS_ID"]})
    return len(leads)


async def measure(
    name: str,
    emulator: Bitrix24Emulator,
    reader: Callable[[Bitrix24Emulator], Awaitable[int]],
    *,
    full_bucket: bool,
) -> Run:
    """Time one full read starting from an empty or a full portal bucket."""
    emulator.reset_rate_limit()
    if full_bucket:
        emulator.fill_bucket()
    calls_before = len(emulator.calls)
    started = time.perf_counter()
    failure = None
    count = 0
    try:
        count = await reader(emulator)
    except Exception as exc:
        failure = f"{type(exc).__name__}: {exc}"
    seconds = time.perf_counter() - started
    calls = emulator.calls[calls_before:]
    return Run(
        name=name,
        leads=count,
        seconds=seconds,
        requests=len(calls),
        rejected=sum(1 for c in calls if c.rejected_by_limit),
        failure=failure,
    )


async def main(total: int) -> None:
    """Seed the emulator, run every reader from both bucket states, print the table."""
    logging.basicConfig(level=logging.ERROR)
    emulator = Bitrix24Emulator(rate_limit=True, drain_per_second=DRAIN_PER_SECOND, burst=BURST)
    await emulator.start()
    try:
        emulator.seed_leads(total)
        runs = []
        for full in (False, True):
            state = "full" if full else "empty"
            runs.append(
                await measure(
                    f"ours, {state} bucket", emulator, read_with_our_client, full_bucket=full
                )
            )
            runs.append(
                await measure(
                    f"fast_bitrix24, {state} bucket",
                    emulator,
                    read_with_fast_bitrix24,
                    full_bucket=full,
                )
            )
    finally:
        await emulator.stop()
    print(
        f"portal limit: {DRAIN_PER_SECOND:g} req/s, burst {BURST}; ceiling {CEILING:,.0f} leads/s"
    )
    header = ("reader", "leads", "seconds", "leads/s", "requests", "503s", "ceiling")
    print("{:<34} {:>7} {:>8} {:>9} {:>8} {:>5} {:>7}".format(*header))
    for run in runs:
        print(run.line())
    for index, state in ((0, "empty"), (2, "full")):
        ours, theirs = runs[index], runs[index + 1]
        if theirs.failure is not None:
            print(f"ours / fast_bitrix24, {state} bucket: fast_bitrix24 did not finish")
        else:
            print(f"ours / fast_bitrix24, {state} bucket: {ours.rate / theirs.rate:.2f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=20_000)
    asyncio.run(main(parser.parse_args().leads))
