"""Full-list reading speed against the portal emulator enforcing 2 req/s with a burst of 50.

Three regimes, each read by our client and by fast_bitrix24 on the same emulator:
- a fast portal (no server time): 20,000 leads from an empty and from a full bucket;
- a slow portal (2 s of server time per batch of 50 list commands): 100,000 leads from an empty
  and a full bucket, once with the reference's bucket (a request is refused when the counter is
  above the burst) and once with a bucket that refuses at the burst already;
- a counting portal: the fast portal's 20,000 leads from an empty bucket, where a list call
  that counts its matches (any start >= 0) costs the server time per row the reference
  measured (49.9 s against 0.097 s for 2,387,743 leads: about 21 microseconds a row).
With `batch`, one request brings at most 50 commands x 50 leads, so at 2 requests/s the
ceiling is 5,000 leads/s. The last line is one JSON object with every figure.

Run: `.venv/bin/python -m bench.portal_read [--leads N] [--slow-leads N] [--server-time S]
[--count-per-row S]`
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bot.portal import PortalClient, PortalLimiter, WebhookAuth
from tests.emulators.bitrix24 import Bitrix24Emulator
from tests.emulators.bitrix24_state import COUNT_SECONDS_PER_ROW

DRAIN_PER_SECOND = 2.0
BURST = 50
LEADS_PER_REQUEST = 50 * 50
CEILING = LEADS_PER_REQUEST * DRAIN_PER_SECOND
SELECT = ["ID", "TITLE", "STATUS_ID"]


@dataclass
class Run:
    """One measured full read."""

    reader: str
    regime: str
    leads: int
    seconds: float
    requests: int
    rejected: int
    failure: str | None = None

    @property
    def rate(self) -> float:
        """Leads per second."""
        return self.leads / self.seconds if self.seconds > 0 else 0.0

    @property
    def of_ceiling(self) -> float:
        """The rate as a share of the ceiling."""
        return self.rate / CEILING

    def line(self) -> str:
        """The run as one table row."""
        if self.failure is not None:
            return (
                f"{self.reader:<14} {self.regime:<34} FAILED after {self.seconds:.2f}s, "
                f"{self.requests} requests, {self.rejected} 503s: {self.failure}"
            )
        return (
            f"{self.reader:<14} {self.regime:<34} {self.leads:>7} {self.seconds:>8.2f} "
            f"{self.rate:>9.0f} {self.requests:>8} {self.rejected:>5} {self.of_ceiling:>7.2f}"
        )

    def as_json(self) -> dict[str, Any]:
        """The run's figures for the JSON line."""
        return {
            "reader": self.reader,
            "regime": self.regime,
            "leads": self.leads,
            "seconds": round(self.seconds, 3),
            "leads_per_s": round(self.rate),
            "requests": self.requests,
            "rejected_503": self.rejected,
            "of_ceiling": round(self.of_ceiling, 3),
            "failure": self.failure,
        }


async def read_with_our_client(emulator: Bitrix24Emulator) -> int:
    """Every lead through `PortalClient.iter_leads` with its default limiter."""
    limiter = PortalLimiter(drain_per_second=DRAIN_PER_SECOND, burst=BURST)
    async with PortalClient(auth=WebhookAuth(emulator.webhook_url), limiter=limiter) as client:
        count = 0
        last = 0
        async for lead in client.iter_leads(select=SELECT):
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
    leads = await bitrix.get_all("crm.lead.list", params={"select": SELECT})
    return len(leads)


READERS: dict[str, Callable[[Bitrix24Emulator], Awaitable[int]]] = {
    "ours": read_with_our_client,
    "fast_bitrix24": read_with_fast_bitrix24,
}


async def measure(
    reader: str,
    regime: str,
    emulator: Bitrix24Emulator,
    *,
    full_bucket: bool,
    expected: int,
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
        count = await READERS[reader](emulator)
        if count != expected:
            failure = f"read {count} of {expected} leads"
    except Exception as exc:
        failure = f"{type(exc).__name__}: {exc}"
    seconds = time.perf_counter() - started
    calls = emulator.calls[calls_before:]
    return Run(
        reader=reader,
        regime=regime,
        leads=count,
        seconds=seconds,
        requests=len(calls),
        rejected=sum(1 for c in calls if c.rejected_by_limit),
        failure=failure,
    )


async def regime_runs(
    leads: int,
    *,
    server_time: float,
    refuse_at_burst: bool,
    buckets: tuple[bool, ...],
    count_per_row: float = 0.0,
) -> list[Run]:
    """Both readers on one emulator, from each bucket state asked for."""
    emulator = Bitrix24Emulator(rate_limit=True, drain_per_second=DRAIN_PER_SECOND, burst=BURST)
    emulator.refuse_at_burst = refuse_at_burst
    emulator.count_server_time_per_row = count_per_row
    await emulator.start()
    runs = []
    try:
        emulator.seed_leads(leads)
        # The server time is per list command: 50 of them make one batch's time.
        emulator.list_server_time = server_time / 50
        for full in buckets:
            kind = "counting" if count_per_row else "slow" if server_time else "fast"
            regime = (
                f"{kind}, "
                f"{'full' if full else 'empty'} bucket, refuse {'at' if refuse_at_burst else '>'}"
                " burst"
            )
            for reader in READERS:
                runs.append(
                    await measure(reader, regime, emulator, full_bucket=full, expected=leads)
                )
    finally:
        await emulator.stop()
    return runs


def ratio(ours: Run, theirs: Run) -> float | None:
    """Ours over fast_bitrix24 (None when fast_bitrix24 did not finish)."""
    if theirs.failure is not None or ours.failure is not None or theirs.rate == 0:
        return None
    return ours.rate / theirs.rate


async def main(leads: int, slow_leads: int, server_time: float, count_per_row: float) -> None:
    """Seed the emulators, run every reader in every regime, print the table and JSON."""
    logging.basicConfig(level=logging.ERROR)
    runs: list[Run] = []
    runs += await regime_runs(leads, server_time=0.0, refuse_at_burst=False, buckets=(False, True))
    runs += await regime_runs(leads, server_time=0.0, refuse_at_burst=True, buckets=(True,))
    for at_burst in (False, True):
        runs += await regime_runs(
            slow_leads, server_time=server_time, refuse_at_burst=at_burst, buckets=(False, True)
        )
    # A portal that charges for counting a list's matches as the reference measured it:
    # fast_bitrix24 pages by offset (start=50, 100...), and each such call counts them all.
    runs += await regime_runs(
        leads,
        server_time=0.0,
        refuse_at_burst=False,
        buckets=(False,),
        count_per_row=count_per_row,
    )
    print(
        f"portal limit: {DRAIN_PER_SECOND:g} req/s, burst {BURST}; ceiling {CEILING:,.0f} leads/s;"
        f" slow portal: {server_time:g} s of server time per batch"
    )
    header = ("reader", "regime", "leads", "seconds", "leads/s", "requests", "503s", "ceiling")
    print("{:<14} {:<34} {:>7} {:>8} {:>9} {:>8} {:>5} {:>7}".format(*header))
    for run in runs:
        print(run.line())
    ratios: dict[str, float | None] = {}
    for ours, theirs in zip(runs[::2], runs[1::2], strict=True):
        value = ratio(ours, theirs)
        ratios[ours.regime] = None if value is None else round(value, 2)
        shown = "fast_bitrix24 did not finish" if value is None else f"{value:.2f}x"
        print(f"ours / fast_bitrix24, {ours.regime}: {shown}")
    print(
        json.dumps(
            {
                "ceiling_leads_per_s": CEILING,
                "server_time_per_batch_s": server_time,
                "count_seconds_per_row": count_per_row,
                "runs": [run.as_json() for run in runs],
                "ours_over_fast_bitrix24": ratios,
            }
        )
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=20_000)
    parser.add_argument("--slow-leads", type=int, default=100_000)
    parser.add_argument("--server-time", type=float, default=2.0)
    parser.add_argument(
        "--count-per-row",
        type=float,
        default=COUNT_SECONDS_PER_ROW,
        help="the counting portal's server time per row a list call counts (the reference's)",
    )
    args = parser.parse_args()
    asyncio.run(main(args.leads, args.slow_leads, args.server_time, args.count_per_row))
