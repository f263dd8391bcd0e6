"""Notification fan-out through the Telegram emulator enforcing Telegram's flood limits.

Two cases go through the real `OutboxSender` (real aiogram `Bot`, the app's session middleware
sharing one `FloodPause`, SQLite outbox):

- fan-out: one notification to each of `--chats` private chats plus `--per-group` messages to
  each of 3 groups. Printed: messages/s while private chats were served, the ratio to the 30/s
  ceiling, 429 answers, and the most messages any group got in one minute. Targets: ratio
  >= 0.9, zero 429s, groups <= 20/min.
- busy group: 300 messages to one group are queued, then 20 to private chats. The group may
  only get 20 a minute, so the private messages must not wait behind it. Printed: the private
  messages' delay from queueing to Telegram, p50 and p95 (target: p95 under 2 s).

The last line is one JSON object with every figure.

Run: `.venv/bin/python -m bench.fanout [--chats 3000] [--per-group 30]`
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import statistics
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer

from bot.access.roles import Identity
from bot.config import NotifySettings
from bot.notify.sender import OutboxSender
from bot.storage import SqliteDatabase
from bot.storage.outbox import NewOutboxMessage, Notification, OutboxRepository
from bot.storage.subscriptions import SubscriptionRepository
from bot.telegram_retry import FloodPause, TelegramRetryMiddleware
from tests.emulators.telegram import DEFAULT_TEST_TOKEN, TelegramEmulator

CEILING = 30.0
GROUPS = (-1001, -1002, -1003)
BUSY_GROUP_MESSAGES = 300
BUSY_PRIVATE_MESSAGES = 20
BUSY_TIMEOUT_SECONDS = 30.0
FIRST_PRIVATE_CHAT = 500_000


async def no_reader_check(telegram_user_id: int) -> Identity | None:
    """Bench rows carry no subscriber, so this is never asked."""
    return None


def max_per_minute(moments: list[float]) -> int:
    """The most sends inside any 60-second window."""
    best, start = 0, 0
    for end, moment in enumerate(moments):
        while moments[start] <= moment - 60.0:
            start += 1
        best = max(best, end - start + 1)
    return best


def percentile(values: list[float], fraction: float) -> float:
    """The value below which `fraction` of `values` lie (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


@contextlib.asynccontextmanager
async def sending(
    emulator: TelegramEmulator,
) -> AsyncIterator[tuple[OutboxRepository, OutboxSender]]:
    """A fresh outbox and its sender (not started) with default settings."""
    with tempfile.TemporaryDirectory() as folder:
        db = SqliteDatabase(Path(folder) / "bench.sqlite3")
        await db.open()
        pause = FloodPause()
        session = AiohttpSession(api=TelegramAPIServer.from_base(emulator.base_url))
        session.middleware(TelegramRetryMiddleware(pause, max_attempts=1))
        bot = Bot(
            DEFAULT_TEST_TOKEN, session=session, default=DefaultBotProperties(parse_mode="HTML")
        )
        outbox = OutboxRepository(db)
        sender = OutboxSender(
            bot=bot,
            db=db,
            outbox=outbox,
            subscriptions=SubscriptionRepository(db),
            identify=no_reader_check,
            pause=pause,
            settings=NotifySettings(),
        )
        try:
            yield outbox, sender
        finally:
            await bot.session.close()
            await db.close()


async def stop(task: asyncio.Task[None]) -> None:
    """Cancel the sender and wait for it."""
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def fan_out(chats: int, per_group: int) -> dict[str, float | int]:
    """Queue everything, start the sender, wait until the outbox is empty, print figures."""
    emulator = TelegramEmulator(DEFAULT_TEST_TOKEN)
    await emulator.start()
    for index in range(chats):
        emulator.user(FIRST_PRIVATE_CHAT + index, f"User {index}")
    for group in GROUPS:
        emulator.add_group(group, f"Group {group}")
    emulator.enable_flood_limits()
    try:
        async with sending(emulator) as (outbox, sender):
            rows = [
                NewOutboxMessage(
                    f"p{i}",
                    FIRST_PRIVATE_CHAT + i,
                    None,
                    i,
                    Notification(f"<b>Lead #{i}</b> added"),
                )
                for i in range(chats)
            ]
            # Group messages are spread through the queue, as real events would be.
            for n in range(per_group):
                for group in GROUPS:
                    rows.insert(
                        min(len(rows), n * max(1, chats // per_group)),
                        NewOutboxMessage(
                            f"g{group}:{n}", group, None, n, Notification(f"Lead #{n}")
                        ),
                    )
            await outbox.add(rows)
            started = time.monotonic()
            task = asyncio.create_task(sender.run())
            while await outbox.count("pending"):  # noqa: ASYNC110 (polling the database)
                await asyncio.sleep(0.2)
            elapsed = time.monotonic() - started
            await stop(task)
            sent = await outbox.count("sent")
            dead = await outbox.count("dead")
    finally:
        await emulator.stop()
    sends = [c for c in emulator.calls_of("sendMessage") if c.ok]
    by_group = {g: sorted(c.at for c in sends if c.params.get("chat_id") == g) for g in GROUPS}
    # Telegram's own clock: from the first send to the last private one, every message counts.
    moments = sorted(c.at for c in sends)
    last_private = max(c.at for c in sends if int(c.params.get("chat_id", 0)) > 0)
    window = [m for m in moments if m <= last_private]
    rate = (len(window) - 1) / (last_private - moments[0])
    worst = max(max_per_minute(m) for m in by_group.values())
    print(f"fan-out: {len(rows)} queued, {sent} sent, {dead} dead, in {elapsed:.1f} s")
    print(f"  throughput while private chats were served: {rate:.1f} msg/s")
    print(f"  ratio to the {CEILING:.0f}/s ceiling: {rate / CEILING:.3f} (target >= 0.9)")
    print(f"  429 answers: {len(emulator.flood_errors)} (target 0)")
    print(f"  most messages to one group in any minute: {worst} (limit 20)")
    return {
        "chats": chats,
        "queued": len(rows),
        "sent": sent,
        "dead": dead,
        "seconds": round(elapsed, 1),
        "msg_per_s": round(rate, 2),
        "ratio_to_30": round(rate / CEILING, 3),
        "http_429": len(emulator.flood_errors),
        "group_max_per_min": worst,
    }


async def busy_group() -> dict[str, float | int]:
    """300 messages to one group queued ahead of 20 private ones: how long do those wait?"""
    emulator = TelegramEmulator(DEFAULT_TEST_TOKEN)
    await emulator.start()
    group = GROUPS[0]
    private = [FIRST_PRIVATE_CHAT + i for i in range(BUSY_PRIVATE_MESSAGES)]
    for chat in private:
        emulator.user(chat, f"User {chat}")
    emulator.add_group(group, "Busy group")
    emulator.enable_flood_limits()
    try:
        async with sending(emulator) as (outbox, sender):
            await outbox.add(
                [
                    NewOutboxMessage(f"g{n}", group, None, n, Notification(f"Lead #{n}"))
                    for n in range(BUSY_GROUP_MESSAGES)
                ]
            )
            task = asyncio.create_task(sender.run())
            await asyncio.sleep(0.5)  # the group's first message is out, the rest must wait
            queued_at = emulator.clock()
            await outbox.add(
                [NewOutboxMessage(f"p{c}", c, None, c, Notification("Lead")) for c in private]
            )
            sender.wake()
            deadline = time.monotonic() + BUSY_TIMEOUT_SECONDS
            while time.monotonic() < deadline:
                arrived = {
                    c.params.get("chat_id")
                    for c in emulator.calls_of("sendMessage")
                    if c.ok and int(c.params.get("chat_id", 0)) > 0
                }
                if len(arrived) == len(private):
                    break
                await asyncio.sleep(0.05)
            await stop(task)
    finally:
        await emulator.stop()
    delays = [
        c.at - queued_at
        for c in emulator.calls_of("sendMessage")
        if c.ok and int(c.params.get("chat_id", 0)) > 0
    ]
    lost = len(private) - len(delays)
    # A message not sent within the timeout counts with the whole timeout.
    delays += [BUSY_TIMEOUT_SECONDS] * lost
    p50, p95 = statistics.median(delays), percentile(delays, 0.95)
    print(f"busy group: {BUSY_GROUP_MESSAGES} group messages queued, then {len(private)} private")
    print(f"  private sent within {BUSY_TIMEOUT_SECONDS:.0f} s: {len(private) - lost}")
    print(f"  private delay p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms (target p95 < 2 s)")
    print(f"  429 answers: {len(emulator.flood_errors)} (target 0)")
    return {
        "busy_private_sent": len(private) - lost,
        "busy_private_p50_ms": round(p50 * 1000),
        "busy_private_p95_ms": round(p95 * 1000),
        "busy_http_429": len(emulator.flood_errors),
    }


async def run(chats: int, per_group: int) -> None:
    """Both cases, then every figure as one JSON object."""
    figures = await fan_out(chats, per_group)
    figures.update(await busy_group())
    print(json.dumps(figures))


def main() -> None:
    """Parse arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--chats", type=int, default=3000)
    parser.add_argument("--per-group", type=int, default=30)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(run(args.chats, args.per_group))


if __name__ == "__main__":
    main()
