"""Application mode under SIGKILL: the portal's offline queue loses nothing while the bot dies.

The bench starts both emulators, runs the bot as a subprocess (`python -m bot`, settings in
the environment) as the portal's local application, and installs it from the portal
emulator. Then leads are added in the portal at a steady pace, each one queued by the portal
for the application (ONCRMLEADADD in the offline queue), for 50 reps subscribed to their own
leads. `--kills` times, at a random moment, the bot is killed with SIGKILL and started again
on the same SQLite file after `--down` seconds; the portal keeps adding leads meanwhile.

At the end the bench waits until the queue, the inbox and the outbox are empty, then counts
the messages per lead. Figures: leads added; leads never told (target 0); duplicate messages
(the documented at-least-once window: a message being sent when the process died may go
twice, at most NOTIFY__IN_FLIGHT per kill); batches the bot read again after a kill (a batch
reserved and not yet cleared is read again under its remembered `process_id`).
The last line is one JSON object.

Run: `.venv/bin/python -m bench.offline_crash [--leads 600] [--kills 10] [--rate 5]`
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import signal
import tempfile
import time
from collections import Counter
from pathlib import Path

from bench.crash_safety import FIRST_PORTAL_USER, REPS, free_port, prepare, start_bot
from bot.storage import SqliteDatabase
from tests.emulators.bitrix24 import Bitrix24Emulator
from tests.emulators.telegram import DEFAULT_TEST_TOKEN, TelegramEmulator

PROJECT = Path(__file__).resolve().parent.parent
LEAD_NUMBER = re.compile(r"#(\d+)")
IN_FLIGHT = 4
"""NOTIFY__IN_FLIGHT for the run: the most messages that can be on their way at a kill."""


async def drained(db_path: Path, portal: Bitrix24Emulator, wait_up_to: float) -> bool:
    """Wait until the portal's queue, the inbox and the outbox are all empty."""
    db = SqliteDatabase(db_path)
    await db.open()
    try:
        deadline = time.monotonic() + wait_up_to
        while time.monotonic() < deadline:
            row = await db.fetch_one(
                "SELECT (SELECT count(*) FROM inbox WHERE processed_at IS NULL) + "
                "(SELECT count(*) FROM outbox WHERE state = 'pending')"
            )
            if not portal.offline.records and row is not None and row[0] == 0:
                return True
            await asyncio.sleep(0.5)
        return False
    finally:
        await db.close()


async def run(leads: int, kills: int, rate: float, down: float) -> dict[str, object]:
    """Install, add leads, kill and restart; then count the messages per lead."""
    telegram = TelegramEmulator(DEFAULT_TEST_TOKEN)
    portal = Bitrix24Emulator()
    await telegram.start()
    await portal.start()
    try:
        with (
            tempfile.TemporaryDirectory() as folder,
            (Path(folder) / "bot.log").open("a") as quiet,
        ):
            db_path = Path(folder) / "bot.sqlite3"
            await prepare(db_path, portal, telegram)
            port = free_port()
            env = {
                **os.environ,
                "PYTHONPATH": str(PROJECT),
                "BENCH_CWD": folder,
                "TELEGRAM__TOKEN": DEFAULT_TEST_TOKEN,
                "TELEGRAM__API_BASE": telegram.base_url,
                "PORTAL__OAUTH_ENDPOINT": portal.oauth_endpoint,
                "PORTAL__OAUTH_CLIENT_ID": portal.client_id,
                "PORTAL__OAUTH_CLIENT_SECRET": portal.client_secret,
                "PORTAL__OAUTH_TOKEN_URL": portal.token_url,
                "STORAGE__PATH": str(db_path),
                "WEB__HOST": "127.0.0.1",
                "WEB__PORT": str(port),
                "APP__ENABLED": "true",
                "APP__PUBLIC_URL": f"http://127.0.0.1:{port}",
                "APP__OFFLINE_POLL_SECONDS": "1",
                # The catch-up poller would find the leads too: this measures the queue alone.
                "EVENTS__POLL_INTERVAL_SECONDS": "3600",
                "EVENTS__COALESCE_SECONDS": "0.1",
                "NOTIFY__IN_FLIGHT": str(IN_FLIGHT),
                "LOG_LEVEL": "WARNING",
            }
            process = await start_bot(env, port, quiet)
            answer = await portal.install_app(f"http://127.0.0.1:{port}/bitrix/app/install")
            if answer.status != 200:
                raise RuntimeError(f"installation refused: {answer.status} {answer.body}")
            duration = leads / rate
            kill_times = sorted(random.uniform(0.05, 0.9) * duration for _ in range(kills))
            added: list[int] = []
            started = time.monotonic()

            async def killer() -> None:
                nonlocal process
                for moment in kill_times:
                    await asyncio.sleep(max(0.0, started + moment - time.monotonic()))
                    process.send_signal(signal.SIGKILL)
                    await process.wait()
                    await asyncio.sleep(down)
                    process = await start_bot(env, port, quiet)

            kill_task = asyncio.create_task(killer())
            try:
                for index in range(leads):
                    await asyncio.sleep(max(0.0, started + index / rate - time.monotonic()))
                    owner = FIRST_PORTAL_USER + index % REPS
                    title = f"Offline {index}"
                    added.append(portal.ui_add_lead({"TITLE": title, "ASSIGNED_BY_ID": owner}, 1))
                await kill_task
                finished = await drained(db_path, portal, wait_up_to=180)
                pulls = portal.count_calls("event.offline.get")
                clears = portal.count_calls("event.offline.clear")
            finally:
                # Never leave a bot running behind the bench, whatever went wrong.
                kill_task.cancel()
                if process.returncode is None:
                    process.send_signal(signal.SIGTERM)
                    await process.wait()
    finally:
        await portal.stop()
        await telegram.stop()
    notified: Counter[int] = Counter()
    for call in telegram.calls_of("sendMessage"):
        match = LEAD_NUMBER.search(str(call.params.get("text", ""))) if call.ok else None
        if match:
            notified[int(match.group(1))] += 1
    missing = [lead for lead in added if notified[lead] == 0]
    duplicates = sum(count - 1 for count in notified.values() if count > 1)
    return {
        "leads": leads,
        "kills": kills,
        "down_seconds": down,
        "rate_per_s": rate,
        "drained": finished,
        "leads_never_told": len(missing),
        "duplicate_messages": duplicates,
        "duplicate_limit": kills * IN_FLIGHT,
        "offline_get_calls": pulls,
        "offline_clear_calls": clears,
        "kill_times_s": [round(t, 1) for t in kill_times],
    }


def main() -> None:
    """Parse arguments, run, print the figures and the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--leads", type=int, default=600)
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--rate", type=float, default=5.0)
    parser.add_argument("--down", type=float, default=1.0)
    args = parser.parse_args()
    figures = asyncio.run(run(args.leads, args.kills, args.rate, args.down))
    print(
        f"{figures['leads']} leads added in the portal at {figures['rate_per_s']}/s, "
        f"{figures['kills']} SIGKILLs (down {figures['down_seconds']} s each) at "
        f"{figures['kill_times_s']} s"
    )
    print(
        f"leads never told: {figures['leads_never_told']} (target 0); duplicate messages: "
        f"{figures['duplicate_messages']} (at-least-once window: at most "
        f"{figures['duplicate_limit']}, {IN_FLIGHT} in flight per kill); drained: "
        f"{figures['drained']}; event.offline.get {figures['offline_get_calls']}, "
        f"event.offline.clear {figures['offline_clear_calls']}"
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
