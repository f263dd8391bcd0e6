"""Notification fan-out through the Telegram emulator enforcing Telegram's flood limits.

3,000 notifications to 3,000 private chats plus messages to 3 groups go through the real
`OutboxSender` (real aiogram `Bot`, the app's session middleware sharing one `FloodPause`,
SQLite outbox). Printed: messages/s, 429 answers, the ratio to the 30/s ceiling, and the most
messages any group got in one minute. Targets: ratio >= 0.9, zero 429s, groups <= 20/min.

Run: `.venv/bin/python -m bench.fanout [--chats 3000] [--per-group 30]`
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import tempfile
import time
from pathlib import Path

from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer

from bot.access.roles import Identity
from bot.config import NotifySettings
from bot.notify.sender import OutboxSender
from bot.storage import Database
from bot.storage.outbox import NewOutboxMessage, OutboxRepository
from bot.storage.subscriptions import SubscriptionRepository
from bot.telegram_retry import FloodPause, TelegramRetryMiddleware
from tests.emulators.telegram import DEFAULT_TEST_TOKEN, TelegramEmulator

CEILING = 30.0
GROUPS = (-1001, -1002, -1003)


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


async def run(chats: int, per_group: int) -> None:
    """Queue everything, start the sender, wait until the outbox is empty, print figures."""
    emulator = TelegramEmulator(DEFAULT_TEST_TOKEN)
    await emulator.start()
    for index in range(chats):
        emulator.user(500_000 + index, f"User {index}")
    for group in GROUPS:
        emulator.add_group(group, f"Group {group}")
    emulator.enable_flood_limits()
    with tempfile.TemporaryDirectory() as folder:
        db = Database(Path(folder) / "bench.sqlite3")
        await db.open()
        outbox = OutboxRepository(db)
        rows = [
            NewOutboxMessage(f"p{i}", 500_000 + i, None, i, {"text": f"<b>Lead #{i}</b> added"})
            for i in range(chats)
        ]
        # Group messages are spread through the queue, as real events would be.
        for n in range(per_group):
            for group in GROUPS:
                rows.insert(
                    min(len(rows), n * max(1, chats // per_group)),
                    NewOutboxMessage(f"g{group}:{n}", group, None, n, {"text": f"Lead #{n}"}),
                )
        await outbox.add(rows)
        pause = FloodPause()
        session = AiohttpSession(api=TelegramAPIServer.from_base(emulator.base_url))
        session.middleware(TelegramRetryMiddleware(pause, max_attempts=1))
        bot = Bot(
            DEFAULT_TEST_TOKEN, session=session, default=DefaultBotProperties(parse_mode="HTML")
        )
        sender = OutboxSender(
            bot=bot,
            db=db,
            outbox=outbox,
            subscriptions=SubscriptionRepository(db),
            identify=no_reader_check,
            pause=pause,
            settings=NotifySettings(),
        )
        started = time.monotonic()
        task = asyncio.create_task(sender.run())
        total = len(rows)
        while True:
            if not await outbox.count("pending"):
                break
            await asyncio.sleep(0.2)
        elapsed = time.monotonic() - started
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await bot.session.close()
        sent = await outbox.count("sent")
        dead = await outbox.count("dead")
        await db.close()
    sends = [c for c in emulator.calls_of("sendMessage") if c.ok]
    by_group = {g: sorted(c.at for c in sends if c.params.get("chat_id") == g) for g in GROUPS}
    floods = [(c.params.get("chat_id"), c.at) for c in emulator.flood_errors]
    if floods:
        print("429s (chat, at):", floods[:5])
        for _, at in floods[:3]:
            before = [c for c in sends if at - 1.0 < c.at <= at]
            print(f"  sends in the second before {at:.3f}: {len(before)}")
    await emulator.stop()
    # Telegram's own clock: from the first send to the last private one, every message counts.
    moments = sorted(c.at for c in sends)
    last_private = max(c.at for c in sends if int(c.params.get("chat_id", 0)) > 0)
    window = [m for m in moments if m <= last_private]
    rate = (len(window) - 1) / (last_private - moments[0])
    print(f"messages: {total} queued, {sent} sent, {dead} dead, in {elapsed:.1f} s")
    print(f"throughput while private chats were served: {rate:.1f} msg/s")
    print(f"ratio to the {CEILING:.0f}/s ceiling: {rate / CEILING:.3f} (target >= 0.9)")
    print(f"429 answers: {len(emulator.flood_errors)} (target 0)")
    worst = max(max_per_minute(m) for m in by_group.values())
    print(f"most messages to one group in any minute: {worst} (limit 20)")


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
