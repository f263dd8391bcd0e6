"""How fast the event endpoint acknowledges, and how soon an event becomes a Telegram message.

The whole `Application` runs against both emulators. Phase 1 POSTs portal events (distinct
leads, form-encoded as the portal sends them) at a steady rate and measures the time to each
2xx: every acknowledgement waits for a durable SQLite commit. Phase 2, with an idle queue,
changes one lead at a time and measures from the moment the event is POSTed to the moment
the Telegram emulator records the message. Targets: ack p99 < 20 ms, arrival->message p95 < 1 s.

Run: `.venv/bin/python -m bench.event_ack [--rate 200] [--seconds 30] [--samples 20]`
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlencode

import aiohttp

from bot.app import Application
from bot.config import (
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

APP_TOKEN = "bench-application-token"
ANNA_TG = 1001


def event_form(emulator: Bitrix24Emulator, event: str, lead_id: int, ts: int) -> str:
    """The body the portal's queue would POST."""
    return urlencode(
        {
            "event": event,
            "event_handler_id": "701",
            "data[FIELDS][ID]": str(lead_id),
            "ts": str(ts),
            "auth[domain]": emulator.domain,
            "auth[member_id]": emulator.member_id,
            "auth[application_token]": APP_TOKEN,
        }
    )


def mentions(lead_id: int) -> Callable[[ChatMessage], bool]:
    """A message about this lead."""
    marker = f"#{lead_id}"
    return lambda message: marker in (message.text or "")


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100) of values."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


async def post(session: aiohttp.ClientSession, url: str, body: str) -> float:
    """POST one event; seconds until the 2xx."""
    started = time.perf_counter()
    async with session.post(
        url, data=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
    ) as answer:
        await answer.read()
        if answer.status != 200:
            raise RuntimeError(f"event refused: {answer.status}")
    return time.perf_counter() - started


async def run(rate: float, seconds: float, samples: int) -> None:
    """Both phases; prints the figures."""
    telegram = TelegramEmulator(DEFAULT_TEST_TOKEN)
    portal = Bitrix24Emulator()
    await telegram.start()
    await portal.start()
    telegram.user(ANNA_TG, "Anna")
    count = int(rate * seconds)
    lead_ids = portal.seed_leads(count + samples, ASSIGNED_BY_ID="1")
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(
            _env_file=None,
            telegram=TelegramSettings(
                token=DEFAULT_TEST_TOKEN, api_base=telegram.base_url, admin_ids=[ANNA_TG]
            ),
            portal=PortalSettings(
                webhook_url=portal.webhook_url,
                application_token=APP_TOKEN,
                member_id=portal.member_id,
                domain=portal.domain,
            ),
            storage=StorageSettings(path=Path(folder) / "bot.sqlite3"),
            web=WebSettings(host="127.0.0.1", port=0),
            events=EventsSettings(coalesce_seconds=float(os.environ.get("BENCH_COALESCE", "0.3"))),
        )
        app = Application(settings)
        await app.start()
        url = f"http://127.0.0.1:{app.port}{settings.web.event_path}"
        async with aiohttp.ClientSession() as session:
            # Phase 1: steady load; events are POSTed on schedule, not one after another.
            acks: list[float] = []
            tasks = []
            started = time.perf_counter()
            for index in range(count):
                due = started + index / rate
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                body = event_form(portal, "ONCRMLEADUPDATE", lead_ids[index], 1_700_000_000)
                tasks.append(asyncio.create_task(post(session, url, body)))
            acks = list(await asyncio.gather(*tasks))
            load_seconds = time.perf_counter() - started
            while True:
                left = await app.db.fetch_one("SELECT 1 FROM inbox WHERE processed_at IS NULL")
                if left is None:
                    break
                await asyncio.sleep(0.2)

            # Phase 2: a subscriber, an idle queue, one change at a time.
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
            latencies: list[float] = []
            for index in range(samples):
                lead_id = lead_ids[count + index]
                await asyncio.sleep(1.1)  # one message a second to a private chat
                portal.update_lead(lead_id, {"STATUS_ID": "IN_PROCESS"}, 1, fire=False)
                telegram.mark_read(ANNA_TG)
                sent_at = time.perf_counter()
                await post(session, url, event_form(portal, "ONCRMLEADUPDATE", lead_id, index))
                await telegram.wait_for_message(ANNA_TG, mentions(lead_id), timeout=10)
                latencies.append(time.perf_counter() - sent_at)
        await app.stop()
    await portal.stop()
    await telegram.stop()
    ms = [a * 1000 for a in acks]
    print(f"phase 1: {count} events in {load_seconds:.1f} s ({count / load_seconds:.0f}/s)")
    print(
        f"time to 2xx: p50 {percentile(ms, 50):.1f} ms, p99 {percentile(ms, 99):.1f} ms, "
        f"max {max(ms):.1f} ms (target p99 < 20 ms)"
    )
    lat = [x * 1000 for x in latencies]
    print(
        f"phase 2: event arrival -> Telegram message over {samples} events: "
        f"p50 {statistics.median(lat):.0f} ms, p95 {percentile(lat, 95):.0f} ms "
        f"(target p95 < 1000 ms; includes the {settings.events.coalesce_seconds * 1000:.0f} ms "
        "coalescing window)"
    )


def main() -> None:
    """Parse arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--samples", type=int, default=20)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(run(args.rate, args.seconds, args.samples))


if __name__ == "__main__":
    main()
