"""Application mode: how soon a lead change in the portal becomes a Telegram message.

The whole `Application` runs as the portal's local application against both emulators: the
emulator installs it (install callback), then a lead's stage changes one at a time in the
portal and the time from the change to the Telegram emulator recording the message is
measured. Lead changes reach the bot only through the offline event queue, read every
`--interval` seconds (default 1 s: the documented default and smallest positive notification
interval of ONOFFLINEEVENT, `minTimeout`). The catch-up poller is held back so it cannot
bring the change first. Limit: p95 below the poll interval plus 1 s (coalescing window,
processing and sending included). The last line is one JSON object with every figure.

Run: `.venv/bin/python -m bench.offline_latency [--samples 20] [--interval 1.0]`
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import socket
import statistics
import tempfile
import time
from pathlib import Path

from bot.app import Application
from bot.config import (
    AppSettings,
    EventsSettings,
    PortalSettings,
    Settings,
    StorageSettings,
    TelegramSettings,
    WebSettings,
)
from bot.storage import Binding, BindingRepository, BindingSource, Role, utc_now
from bot.storage.subscriptions import NewSubscription, Scope, SubscriptionRepository
from tests.emulators.bitrix24 import Bitrix24Emulator
from tests.emulators.telegram import DEFAULT_TEST_TOKEN, ChatMessage, TelegramEmulator

ANNA_TG = 1001
STAGES = ("IN_PROCESS", "PROCESSED")


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100) of values."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def free_port() -> int:
    """A port nobody listens on now (the install callback needs the address up front)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def measure(samples: int, interval: float) -> dict[str, object]:
    """Install, subscribe, change leads one by one; figures of change -> message."""
    telegram = TelegramEmulator(DEFAULT_TEST_TOKEN)
    portal = Bitrix24Emulator()
    await telegram.start()
    await portal.start()
    telegram.user(ANNA_TG, "Anna")
    lead_ids = portal.seed_leads(samples, ASSIGNED_BY_ID="1")
    port = free_port()
    latencies: list[float] = []
    missed = 0
    try:
        with tempfile.TemporaryDirectory() as folder:
            settings = Settings(
                _env_file=None,
                telegram=TelegramSettings(
                    token=DEFAULT_TEST_TOKEN, api_base=telegram.base_url, admin_ids=[ANNA_TG]
                ),
                portal=PortalSettings(
                    oauth_endpoint=portal.oauth_endpoint,
                    oauth_client_id=portal.client_id,
                    oauth_client_secret=portal.client_secret,
                    oauth_token_url=portal.token_url,
                ),
                storage=StorageSettings(path=Path(folder) / "bot.sqlite3"),
                web=WebSettings(host="127.0.0.1", port=port),
                events=EventsSettings(poll_interval_seconds=3600),
                app=AppSettings(enabled=True, offline_poll_seconds=interval),
            )
            app = Application(settings)
            await app.start()
            try:
                answer = await portal.install_app(
                    f"http://127.0.0.1:{port}{settings.app.install_path}"
                )
                if answer.status != 200:
                    raise RuntimeError(f"installation refused: {answer.status}")
                await BindingRepository(app.db).upsert(
                    Binding(
                        telegram_user_id=ANNA_TG,
                        portal_user_id=1,
                        role=Role.ADMIN,
                        bound_via=BindingSource.CONFIG,
                        bound_at=utc_now(),
                    )
                )
                await SubscriptionRepository(app.db).create(
                    NewSubscription(
                        chat_id=ANNA_TG, thread_id=None, created_by=ANNA_TG, scope=Scope.ALL
                    )
                )
                for index, lead_id in enumerate(lead_ids):
                    # Uneven spacing: changes land at every phase of the poll interval.
                    await asyncio.sleep(1.1 + (index * 0.37) % interval)
                    telegram.mark_read(ANNA_TG)
                    changed_at = time.perf_counter()
                    portal.ui_update_lead(lead_id, {"STATUS_ID": STAGES[index % 2]}, 3)
                    marker = f"#{lead_id}"

                    def about(message: ChatMessage, marker: str = marker) -> bool:
                        return marker in (message.text or "")

                    try:
                        await telegram.wait_for_message(ANNA_TG, about, timeout=10)
                    except TimeoutError:
                        missed += 1
                        continue
                    latencies.append((time.perf_counter() - changed_at) * 1000)
                pulls = portal.count_calls("event.offline.get")
            finally:
                await app.stop()
    finally:
        await portal.stop()
        await telegram.stop()
    limit_ms = (interval + 1.0) * 1000
    p95 = round(percentile(latencies, 95)) if latencies else -1
    return {
        "samples": samples,
        "poll_interval_s": interval,
        "missed": missed,
        "change_to_message_p50_ms": round(statistics.median(latencies)) if latencies else -1,
        "change_to_message_p95_ms": p95,
        "limit_p95_ms": round(limit_ms),
        "p95_of_limit": round(p95 / limit_ms, 2) if latencies else -1,
        "offline_get_calls": pulls,
    }


def main() -> None:
    """Parse arguments, run, print the figures and the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--interval", type=float, default=1.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    figures = asyncio.run(measure(args.samples, args.interval))
    print(
        f"lead change -> Telegram message over {figures['samples']} changes, queue read every "
        f"{figures['poll_interval_s']} s: p50 {figures['change_to_message_p50_ms']} ms, p95 "
        f"{figures['change_to_message_p95_ms']} ms = {figures['p95_of_limit']} of the "
        f"{figures['limit_p95_ms']} ms limit; {figures['missed']} missed; "
        f"{figures['offline_get_calls']} event.offline.get calls",
        flush=True,
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
