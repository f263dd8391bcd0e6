"""glibc's allocator knobs (`bot.allocator`).

The trimming case runs in a fresh interpreter: an allocator's pages are process-wide, and this
test process holds many from every other test.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import textwrap

import pytest

from bot.allocator import Allocator, trim_forever
from bot.metrics import TRIM_MAX, TRIMS, MetricsRegistry, register_bot_metrics, trim_observer


def _run(code: str) -> dict[str, object]:
    result = subprocess.run(  # noqa: S603 - our own interpreter and a fixed script
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    loaded: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return loaded


def test_this_machine_has_the_allocators_calls() -> None:
    """The bench and the Docker image run on glibc; there the calls are found and answer."""
    allocator = Allocator.load()
    if allocator is None:
        pytest.skip("not glibc: the process keeps the C library's own behaviour")
    assert allocator.limit_arenas() is True
    assert allocator.trim() >= 0


def test_trimming_gives_back_pages_freed_in_the_middle_of_the_heap() -> None:
    """Freed buffers below one still in use stay with the process until trimmed.

    glibc gives back the top of its heap by itself; what is freed below a live block stays
    resident, which is what a long run collects. 64 MB of 4 KB buffers are freed with one
    buffer kept above them; `trim()` must give most of it back."""
    figures = _run(
        """
        import json
        from bot.allocator import Allocator

        def rss_mb():
            for line in open("/proc/self/status"):
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024

        allocator = Allocator.load()
        assert allocator is not None
        buffers = [bytearray(4096) for _ in range(16384)]
        kept = bytearray(4096)  # above the others: the heap's top stays in use
        del buffers
        freed = rss_mb()
        allocator.trim()
        print(json.dumps({"freed": freed, "trimmed": rss_mb(), "kept": len(kept)}))
        """
    )
    assert float(figures["freed"]) - float(figures["trimmed"]) > 40  # type: ignore[arg-type]


async def test_the_trims_are_counted_in_the_metrics() -> None:
    """Each trim's time lands in /metrics: the total and the longest."""
    allocator = Allocator.load()
    if allocator is None:
        pytest.skip("not glibc: nothing is trimmed")
    registry = MetricsRegistry()
    register_bot_metrics(registry)
    observe = trim_observer(registry)
    observe(0.004)
    observe(0.001)
    task = asyncio.create_task(trim_forever(allocator, observe, every=0.01))
    await asyncio.sleep(0.2)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    text = registry.render()
    # The longest is at least the 4 ms observed; the loop's own trims may take longer still
    # on a busy machine.
    longest = next(line for line in text.splitlines() if line.startswith(f"{TRIM_MAX} "))
    assert float(longest.split()[1]) >= 0.004
    total = next(line for line in text.splitlines() if line.startswith(f"{TRIMS} "))
    assert float(total.split()[1]) > 0.005  # the two observed and the loop's own trims
