"""Start-up time and idle memory of `python -m bot`, against bare `import aiogram`.

Both are measured the same way on the same machine: a fresh interpreter is spawned and the clock
runs until it is ready. For the bot, "ready" is `GET /readyz` answering 200 against both
emulators (signed in to Telegram, portal directory read, web server up, polling); for the
baseline it is the end of `import aiogram`. Idle RSS is read from /proc after the bot has
been ready for a moment, and after the import for the baseline. The CPU seconds the process
used until then are printed too: on a loaded machine wall time swings by seconds from run to
run, CPU time much less. Runs alternate (baseline, bot, baseline, bot...) so both see the same
load; medians of `--runs` pairs. Limits (issue 9): the bot adds at most 0.5 s and 30 MB to bare
aiogram.

Run: `.venv/bin/python -m bench.startup [--runs 5]`. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.machine import process_cpu_seconds
from tests.emulators.bitrix24 import Bitrix24Emulator
from tests.emulators.telegram import DEFAULT_TEST_TOKEN, TelegramEmulator

ROOT = Path(__file__).resolve().parents[1]
LIMIT_ADDED_S = 0.5
LIMIT_ADDED_MB = 30.0
IDLE_SECONDS = 1.0
_BASELINE = (
    "import aiogram, os, sys\n"
    "rss = [l for l in open('/proc/self/status') if l.startswith('VmRSS')][0].split()[1]\n"
    "cpu = os.times()\n"
    "sys.stdout.write(f'{rss} {cpu.user + cpu.system}')\n"
)


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if "__" not in k}
    env["PYTHONPATH"] = str(ROOT)
    return env


async def baseline_once() -> tuple[float, float, float]:
    """Seconds from spawn to the end of `import aiogram`, CPU seconds, and RSS then (MB)."""
    started = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _BASELINE, stdout=asyncio.subprocess.PIPE, env=_clean_env()
    )
    output, _ = await process.communicate()
    elapsed = time.perf_counter() - started
    rss_kb, cpu = output.split()
    return elapsed, float(cpu), int(rss_kb) / 1024


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def bot_once(
    telegram: TelegramEmulator, portal: Bitrix24Emulator
) -> tuple[float, float, float]:
    """Seconds from spawn until /readyz answers 200, CPU seconds then, RSS after idle (MB)."""
    port = _free_port()
    with tempfile.TemporaryDirectory() as folder:
        env = _clean_env() | {
            "TELEGRAM__TOKEN": DEFAULT_TEST_TOKEN,
            "TELEGRAM__API_BASE": telegram.base_url,
            "PORTAL__WEBHOOK_URL": portal.webhook_url,
            "STORAGE__PATH": str(Path(folder) / "bot.sqlite3"),
            "WEB__PORT": str(port),
            "LOG_LEVEL": "WARNING",
        }
        started = time.perf_counter()
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", cwd=folder, env=env, stderr=asyncio.subprocess.DEVNULL
        )
        try:
            async with httpx.AsyncClient() as client:
                while True:
                    try:
                        answer = await client.get(f"http://127.0.0.1:{port}/readyz", timeout=5)
                        if answer.status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    if process.returncode is not None:
                        raise RuntimeError("the bot exited before it was ready")
                    await asyncio.sleep(0.01)
            elapsed = time.perf_counter() - started
            cpu = process_cpu_seconds(process.pid)
            await asyncio.sleep(IDLE_SECONDS)
            rss = _rss_mb(process.pid)
        finally:
            if process.returncode is None:
                process.terminate()
            await process.wait()
    return elapsed, cpu, rss


async def main(runs: int) -> dict[str, float | int | bool]:
    """Measure both, print a table, return the figures."""
    telegram = TelegramEmulator(DEFAULT_TEST_TOKEN)
    portal = Bitrix24Emulator()
    await telegram.start()
    await portal.start()
    try:
        base, bot = [], []
        for _ in range(runs):
            base.append(await baseline_once())
            bot.append(await bot_once(telegram, portal))
    finally:
        await telegram.stop()
        await portal.stop()
    aiogram_s = statistics.median(t for t, _, _ in base)
    aiogram_cpu = statistics.median(c for _, c, _ in base)
    aiogram_mb = statistics.median(m for _, _, m in base)
    startup_s = statistics.median(t for t, _, _ in bot)
    startup_cpu = statistics.median(c for _, c, _ in bot)
    rss_mb = statistics.median(m for _, _, m in bot)
    added_s, added_mb = startup_s - aiogram_s, rss_mb - aiogram_mb
    added_cpu = startup_cpu - aiogram_cpu
    python = sys.version.split()[0]
    print(f"runs: {runs} of each (medians), Python {python}, {os.cpu_count()} CPUs")
    print(f"{'':28}{'wall s':>10}{'CPU s':>10}{'RSS MB':>10}")
    print(f"{'import aiogram':28}{aiogram_s:>10.3f}{aiogram_cpu:>10.3f}{aiogram_mb:>10.1f}")
    print(f"{'python -m bot to ready':28}{startup_s:>10.3f}{startup_cpu:>10.3f}{rss_mb:>10.1f}")
    print(
        f"{'added by the bot':28}{added_s:>10.3f}{added_cpu:>10.3f}{added_mb:>10.1f}"
        f"   limits {LIMIT_ADDED_S} s, {LIMIT_ADDED_MB:.0f} MB"
    )
    print(
        f"ratios: wall {startup_s / aiogram_s:.2f}x aiogram, added {added_s / LIMIT_ADDED_S:.2f}"
        f" of the limit; CPU added {added_cpu / LIMIT_ADDED_S:.2f} of the limit; memory "
        f"{rss_mb / aiogram_mb:.2f}x, added {added_mb / LIMIT_ADDED_MB:.2f} of the limit"
    )
    return {
        "runs": runs,
        "startup_s": round(startup_s, 3),
        "aiogram_import_s": round(aiogram_s, 3),
        "added_s": round(added_s, 3),
        "startup_cpu_s": round(startup_cpu, 3),
        "aiogram_import_cpu_s": round(aiogram_cpu, 3),
        "added_cpu_s": round(added_cpu, 3),
        "rss_mb": round(rss_mb, 1),
        "aiogram_rss_mb": round(aiogram_mb, 1),
        "added_mb": round(added_mb, 1),
        "within_limits": added_s <= LIMIT_ADDED_S and added_mb <= LIMIT_ADDED_MB,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    figures = asyncio.run(main(parser.parse_args().runs))
    print(json.dumps(figures))
