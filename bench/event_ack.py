"""How fast the event endpoint acknowledges, and how soon an event becomes a Telegram message.

The whole `Application` runs against both emulators. Phase 1 POSTs portal events (distinct
leads, form-encoded as the portal sends them) at a steady rate and measures the time to each
2xx: every acknowledgement waits for a durable SQLite commit. Phase 2, with an idle queue,
changes one lead at a time and measures from the moment the event is POSTed to the moment
the Telegram emulator records the message. Targets: ack p99 < 20 ms, arrival->message p95 < 1 s.
Each phase prints its figures as it ends; the last line is one JSON object with all of them.

With `--postgres postgresql://...` the bot keeps its state in a fresh schema of that database
(dropped afterwards) instead of SQLite; the figures then say `"storage": "postgres"`.

Run: `.venv/bin/python -m bench.event_ack [--rate 200] [--seconds 30] [--samples 20]
[--postgres URL]`
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
import asyncpg
from pydantic import SecretStr

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


async def drain(app: Application, timeout: float) -> bool:  # noqa: ASYNC109
    """Wait until every stored event is processed; False when `timeout` passed first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        left = await app.db.fetch_one("SELECT 1 FROM inbox WHERE processed_at IS NULL")
        if left is None:
            return True
        await asyncio.sleep(0.2)
    return False


async def phase_one(
    session: aiohttp.ClientSession,
    url: str,
    portal: Bitrix24Emulator,
    lead_ids: list[int],
    rate: float,
) -> dict[str, float]:
    """Steady load; events are POSTed on schedule, not one after another."""
    tasks = []
    started = time.perf_counter()
    for index, lead_id in enumerate(lead_ids):
        due = started + index / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        body = event_form(portal, "ONCRMLEADUPDATE", lead_id, 1_700_000_000)
        tasks.append(asyncio.create_task(post(session, url, body)))
    ms = [a * 1000 for a in await asyncio.gather(*tasks)]
    load_seconds = time.perf_counter() - started
    return {
        "events": len(lead_ids),
        "events_per_second": round(len(lead_ids) / load_seconds, 1),
        "ack_p50_ms": round(percentile(ms, 50), 1),
        "ack_p99_ms": round(percentile(ms, 99), 1),
        "ack_max_ms": round(max(ms), 1),
    }


async def phase_two(
    session: aiohttp.ClientSession,
    url: str,
    app: Application,
    portal: Bitrix24Emulator,
    telegram: TelegramEmulator,
    lead_ids: list[int],
) -> dict[str, float | int]:
    """A subscriber, an idle queue, one change at a time; a missing message is counted."""
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
        NewSubscription(chat_id=ANNA_TG, thread_id=None, created_by=ANNA_TG, scope=Scope.ALL)
    )
    latencies: list[float] = []
    missed = 0
    for index, lead_id in enumerate(lead_ids):
        await asyncio.sleep(1.1)  # one message a second to a private chat
        portal.update_lead(lead_id, {"STATUS_ID": "IN_PROCESS"}, 1, fire=False)
        telegram.mark_read(ANNA_TG)
        sent_at = time.perf_counter()
        await post(session, url, event_form(portal, "ONCRMLEADUPDATE", lead_id, index))
        try:
            await telegram.wait_for_message(ANNA_TG, mentions(lead_id), timeout=10)
        except TimeoutError:
            missed += 1
            continue
        latencies.append((time.perf_counter() - sent_at) * 1000)
    return {
        "samples": len(lead_ids),
        "missed": missed,
        "e2m_p50_ms": round(statistics.median(latencies)) if latencies else -1,
        "e2m_p95_ms": round(percentile(latencies, 95)) if latencies else -1,
    }


@contextlib.asynccontextmanager
async def storage_for(folder: str, postgres: str | None) -> AsyncIterator[StorageSettings]:
    """A fresh SQLite file, or a fresh schema of the PostgreSQL database (dropped after)."""
    if postgres is None:
        yield StorageSettings(path=Path(folder) / "bot.sqlite3")
        return
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(postgres)
    try:
        await admin.execute(f"CREATE SCHEMA {schema}")
        separator = "&" if "?" in postgres else "?"
        yield StorageSettings(url=SecretStr(f"{postgres}{separator}search_path={schema}"))
    finally:
        await admin.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        await admin.close()


async def run(
    rate: float, seconds: float, samples: int, postgres: str | None = None
) -> dict[str, object]:
    """Both phases; prints each as it finishes and returns every figure."""
    telegram = TelegramEmulator(DEFAULT_TEST_TOKEN)
    portal = Bitrix24Emulator()
    await telegram.start()
    await portal.start()
    telegram.user(ANNA_TG, "Anna")
    count = int(rate * seconds)
    lead_ids = portal.seed_leads(count + samples, ASSIGNED_BY_ID="1")
    # A lead created in the second the bot starts watching counts as new (DATE_CREATE has
    # whole seconds). None of these may be: the catch-up poll would announce them to phase
    # two's subscriber, one a second, ahead of the changes it times.
    await asyncio.sleep(1.05 - time.time() % 1.0)
    result: dict[str, object] = {
        "rate": rate,
        "seconds": seconds,
        "storage": "sqlite" if postgres is None else "postgres",
    }
    try:
        with tempfile.TemporaryDirectory() as folder:
            async with storage_for(folder, postgres) as storage:
                split = (lead_ids[:count], lead_ids[count:])
                await _phases(storage, telegram, portal, split, result)
    finally:
        await portal.stop()
        await telegram.stop()
    return result


async def _phases(
    storage: StorageSettings,
    telegram: TelegramEmulator,
    portal: Bitrix24Emulator,
    lead_ids: tuple[list[int], list[int]],
    result: dict[str, object],
) -> None:
    """Start the app on `storage`, run both phases, note their figures in `result`."""
    rate, samples = float(result["rate"]), len(lead_ids[1])  # type: ignore[arg-type]
    coalesce = float(os.environ.get("BENCH_COALESCE", "0.3"))
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
        storage=storage,
        web=WebSettings(host="127.0.0.1", port=0),
        events=EventsSettings(coalesce_seconds=coalesce),
    )
    app = Application(settings)
    await app.start()
    try:
        url = f"http://127.0.0.1:{app.port}{settings.web.event_path}"
        async with aiohttp.ClientSession() as session:
            first = await phase_one(session, url, portal, lead_ids[0], rate)
            result["phase1"] = first
            print(
                f"phase 1 ({result['storage']}): {first['events']:.0f} events at "
                f"{first['events_per_second']:.0f}/s; time to 2xx p50 "
                f"{first['ack_p50_ms']} ms, p99 {first['ack_p99_ms']} ms, max "
                f"{first['ack_max_ms']} ms (target p99 < 20 ms)",
                flush=True,
            )
            result["phase1_drained"] = await drain(app, timeout=120)
            second = await phase_two(session, url, app, portal, telegram, lead_ids[1])
            result["phase2"] = second
            print(
                f"phase 2 ({result['storage']}): event arrival -> Telegram message over "
                f"{samples} events: p50 {second['e2m_p50_ms']} ms, p95 {second['e2m_p95_ms']} "
                f"ms, {second['missed']} missed (target p95 < 1000 ms; includes the "
                f"{coalesce * 1000:.0f} ms coalescing window)",
                flush=True,
            )
    finally:
        await app.stop()


def main() -> None:
    """Parse arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--postgres", help="postgresql://... (a fresh schema is made in it)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    print(json.dumps(asyncio.run(run(args.rate, args.seconds, args.samples, args.postgres))))


if __name__ == "__main__":
    main()
