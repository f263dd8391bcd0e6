"""Crash safety: SIGKILL the bot while events flow and a user captures leads; nothing is lost.

The bench starts both emulators, then runs the bot as a subprocess (`python -m bot`, settings
in the environment, Telegram by long polling, or with `--webhook` by Telegram's webhook, which
keeps retrying while the bot is down) and POSTs lead events to it at a steady pace.
Meanwhile a signed-in rep works through lead captures without pause, as a person would: /new,
types the title, the first name and a phone, skips the rest, presses Create, then opens the
new lead's contacts and creates a contact from the lead; then the next capture. Each press or
typed message is due an answer (a message sent or edited in the rep's chat).

Ten times the bot is killed with SIGKILL and started again on the same SQLite file: every
other time the moment the portal emulator has answered one of the rep's writes (a lead added,
the next time a contact added), so the bot dies between the portal write and the record of
its outcome; the other times after 3 to 10 of the rep's presses since the restart, in turn a
random 0 to 300 ms after the press (mostly while that update is handled) and the moment the
Telegram emulator has the bot's first answer to it (the bot dies around the record of that
reply, before the update is marked handled). When the events are all sent first, the rep
and the kills go on until the tenth kill. The bot's log counts the updates replayed, what
their writes found, and their replies not sent again. Figures:
- events the bot acknowledged (2xx) must each reach Telegram at least once; a duplicate is
  possible only for a message that was being sent when the process died (bounded by
  NOTIFY__IN_FLIGHT). Leads go to 50 reps (scope "my leads"), so the 1/s per-chat limit does
  not dominate;
- presses lost: the rep's presses and messages that never got an answer (target 0);
- answers sent twice: presses whose callback was answered twice, and messages that repeat the
  one the bot sent just before in the rep's chat (target 0);
- duplicate leads and contacts: leads made for one capture, and contacts made from one lead,
  beyond the first (target 0).

Run: `.venv/bin/python -m bench.crash_safety [--events 1000] [--kills 10] [--rate 10] [--webhook]`
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import signal
import socket
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import IO
from urllib.parse import urlencode

import aiohttp

from bench._capture_user import ANSWER_TIMEOUT_SECONDS, Capturer, duplicates_made, percentile
from bot.storage import (
    Binding,
    BindingRepository,
    BindingSource,
    Role,
    SqliteDatabase,
    utc_now,
)
from bot.storage.subscriptions import NewSubscription, Scope, SubscriptionRepository
from bot.web import WEBHOOK_PATH
from tests.emulators.bitrix24 import Bitrix24Emulator
from tests.emulators.telegram import DEFAULT_TEST_TOKEN, TelegramEmulator

APP_TOKEN = "crash-bench-token"
REPS = 50
CAPTURER_TG = 900_000
CAPTURER_PORTAL_USER = 99
CAPTURE_TITLE = "Crash capture"
FIRST_TG = 700_000
FIRST_PORTAL_USER = 100
PROJECT = Path(__file__).resolve().parent.parent
LEAD_NUMBER = re.compile(r"#(\d+)")


async def portal_write_answered(portal: Bitrix24Emulator, since: int, method: str) -> None:
    """Return once the portal has answered `method` (alone or in a batch) in a call that
    arrived after call number `since`."""
    while True:
        for call in portal.calls[since:]:
            if call.status and method in {call.method, *(m.lower() for m in call.batch_methods)}:
                return
        await asyncio.sleep(0.002)


async def reply_arrived(telegram: TelegramEmulator, seen: int) -> None:
    """Return once the bot has sent or edited a message in the rep's chat after the first
    `seen` (its answer to the press just made), or after 10 s."""
    deadline = time.monotonic() + 10
    while True:
        if len(telegram.events(CAPTURER_TG)) > seen or time.monotonic() > deadline:
            return
        await asyncio.sleep(0.001)


def replay_counts(log: str) -> dict[str, int]:
    """From the bot's log: updates replayed after a kill; portal writes of those replays found
    recorded done, found by their key in the portal, or looked up and not found (then made);
    replies of those replays not sent again (the first run had sent them), and replays that
    ended at a reply unlike the first run's (that run had finished: nothing more sent)."""
    looked_up = len(re.findall(r"of a replayed update has no outcome", log))
    found = len(re.findall(r"of a replayed update found", log))
    return {
        "updates_replayed": len(re.findall(r"replaying update \d+", log)),
        "writes_recorded_done": len(re.findall(r"of a replayed update was made", log)),
        "writes_found_by_key": found,
        "writes_looked_up_not_found": looked_up - found,
        "replies_not_sent_again": len(re.findall(r"was sent before: not sent again", log)),
        "replays_ended_unlike_first_run": len(re.findall(r"its first run had finished", log)),
    }


def repeated_screens(telegram: TelegramEmulator, chat_id: int) -> Counter[str]:
    """Messages the bot sent in the chat that repeat the message it sent just before (same
    text, same buttons): an answer sent a second time. A capture never sends one screen twice
    in a row."""
    repeated: Counter[str] = Counter()
    previous: tuple[str, list[str]] | None = None
    for event in telegram.events(chat_id):
        if event.kind != "sent":
            continue
        screen = (event.message.text or "", event.message.labels)
        if screen == previous:
            repeated[screen[0].split("\n")[0][:60]] += 1
        previous = screen
    return repeated


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def prepare(db_path: Path, portal: Bitrix24Emulator, telegram: TelegramEmulator) -> None:
    """50 reps bound and subscribed to their own leads, and the capturing rep bound, before
    the bot first starts."""
    db = SqliteDatabase(db_path)
    await db.open()
    bindings, subscriptions = BindingRepository(db), SubscriptionRepository(db)
    portal.add_user("Cora", "Capture", user_id=CAPTURER_PORTAL_USER)
    telegram.user(CAPTURER_TG, "Cora")
    await bindings.upsert(
        Binding(
            telegram_user_id=CAPTURER_TG,
            portal_user_id=CAPTURER_PORTAL_USER,
            role=Role.REP,
            bound_via=BindingSource.INVITE,
            bound_at=utc_now(),
        )
    )
    for index in range(REPS):
        portal_user = FIRST_PORTAL_USER + index
        portal.add_user(f"Rep{index}", "Bench", user_id=portal_user)
        telegram.user(FIRST_TG + index, f"Rep{index}")
        await bindings.upsert(
            Binding(
                telegram_user_id=FIRST_TG + index,
                portal_user_id=portal_user,
                role=Role.REP,
                bound_via=BindingSource.INVITE,
                bound_at=utc_now(),
            )
        )
        await subscriptions.create(
            NewSubscription(
                chat_id=FIRST_TG + index,
                thread_id=None,
                created_by=FIRST_TG + index,
                scope=Scope.MINE,
            )
        )
    await db.close()


async def start_bot(env: dict[str, str], port: int, log: IO[str]) -> asyncio.subprocess.Process:
    """`python -m bot` (its log appended to `log`), waited for until /healthz answers."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        env=env,
        cwd=env["BENCH_CWD"],
        stdout=asyncio.subprocess.DEVNULL,
        stderr=log,
    )
    async with aiohttp.ClientSession() as session:
        for _ in range(600):  # up to 30 s on a busy machine
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(f"http://127.0.0.1:{port}/healthz") as answer:
                    if answer.status == 200:
                        return process
            await asyncio.sleep(0.05)
    raise RuntimeError("the bot did not start")


WEBHOOK_SECRET = "crash-bench-secret-0123456789abcdef"
WEBHOOK_ATTEMPTS = 60
"""Telegram retries a webhook for hours; 60 tries 50 ms apart and growing span 90 s here."""


async def run(events: int, kills: int, rate: float, *, webhook: bool = False) -> None:
    """Flow, kill, restart; then wait for the outbox to drain and count."""
    telegram = TelegramEmulator(DEFAULT_TEST_TOKEN, webhook_attempts=WEBHOOK_ATTEMPTS)
    portal = Bitrix24Emulator()
    await telegram.start()
    await portal.start()
    with tempfile.TemporaryDirectory() as folder:
        db_path = Path(folder) / "bot.sqlite3"
        await prepare(db_path, portal, telegram)
        port = free_port()
        env = {
            **os.environ,
            "PYTHONPATH": str(PROJECT),
            "BENCH_CWD": folder,
            "TELEGRAM__TOKEN": DEFAULT_TEST_TOKEN,
            "TELEGRAM__API_BASE": telegram.base_url,
            "PORTAL__WEBHOOK_URL": portal.webhook_url,
            "PORTAL__APPLICATION_TOKEN": APP_TOKEN,
            "STORAGE__PATH": str(db_path),
            "WEB__HOST": "127.0.0.1",
            "WEB__PORT": str(port),
            "EVENTS__POLL_INTERVAL_SECONDS": "2",
            "EVENTS__COALESCE_SECONDS": "0.1",
            "LOG_LEVEL": "INFO",  # the replays and what they found are counted from the log
        }
        if webhook:
            env["TELEGRAM__WEBHOOK_URL"] = f"http://127.0.0.1:{port}{WEBHOOK_PATH}"
            env["TELEGRAM__WEBHOOK_SECRET"] = WEBHOOK_SECRET
        mode = "webhook" if webhook else "long polling"
        url = f"http://127.0.0.1:{port}/bitrix/events"
        log = (Path(folder) / "bot.log").open("a", encoding="utf-8")
        process = await start_bot(env, port, log)
        killed_at: list[float] = []
        acked: list[int] = []
        refused = 0
        capturer = Capturer(telegram, CAPTURER_TG, title=CAPTURE_TITLE, phone_prefix="+791600")
        stop_capturing = asyncio.Event()
        capture_task = asyncio.create_task(capturer.run(stop_capturing))
        started = time.monotonic()

        async def killer() -> None:
            # Every other kill the moment the portal has answered a write of the rep's (a lead
            # added, then a contact added, in turn): the bot dies between the write and the
            # record of its outcome. The others after 3 to 10 presses of any kind since the
            # restart: in turn 0 to 300 ms after the press (mostly while that update is
            # handled), and the moment Telegram has the first answer to it (the bot dies
            # around the record of that reply, before the update is marked handled).
            nonlocal process
            for kill in range(kills):
                if kill % 2 == 0:
                    write = ("crm.lead.add", "crm.contact.add")[kill // 2 % 2]
                    await portal_write_answered(portal, len(portal.calls), write)
                else:
                    target = capturer.tally.actions + random.randint(3, 10)
                    while capturer.tally.actions < target:
                        capturer.acted.clear()
                        await capturer.acted.wait()
                    if kill % 4 == 1:
                        await asyncio.sleep(random.uniform(0.0, 0.3))
                    else:
                        await reply_arrived(telegram, len(telegram.events(CAPTURER_TG)))
                killed_at.append(time.monotonic() - started)
                process.send_signal(signal.SIGKILL)
                await process.wait()
                process = await start_bot(env, port, log)

        kill_task = asyncio.create_task(killer())
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
            for index in range(events):
                await asyncio.sleep(max(0.0, started + index / rate - time.monotonic()))
                owner = FIRST_PORTAL_USER + index % REPS
                lead_id = portal.add_lead(
                    {"TITLE": f"Crash {index}", "ASSIGNED_BY_ID": owner}, 1, fire=False
                )
                body = urlencode(
                    {
                        "event": "ONCRMLEADADD",
                        "event_handler_id": "701",
                        "data[FIELDS][ID]": str(lead_id),
                        "ts": str(int(time.time())),
                        "auth[domain]": portal.domain,
                        "auth[member_id]": portal.member_id,
                        "auth[application_token]": APP_TOKEN,
                    }
                )
                try:
                    async with session.post(
                        url,
                        data=body,
                        headers={"Content-Type": "application/x-www-form-urlencoded"},
                    ) as answer:
                        await answer.read()
                        if answer.status == 200:
                            acked.append(lead_id)
                        else:
                            refused += 1
                except (aiohttp.ClientError, TimeoutError):
                    refused += 1
        await kill_task
        stop_capturing.set()
        await asyncio.wait_for(capture_task, timeout=ANSWER_TIMEOUT_SECONDS + 30)
        # Let the last incarnation drain the outbox.
        db = SqliteDatabase(db_path)
        await db.open()
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            row = await db.fetch_one(
                "SELECT (SELECT count(*) FROM inbox WHERE processed_at IS NULL) + "
                "(SELECT count(*) FROM outbox WHERE state = 'pending')"
            )
            if row is not None and row[0] == 0:
                break
            await asyncio.sleep(0.5)
        dead = await db.fetch_one("SELECT count(*) FROM outbox WHERE state = 'dead'")
        await db.close()
        process.send_signal(signal.SIGTERM)
        await process.wait()
        log.close()
        replays = replay_counts((Path(folder) / "bot.log").read_text(errors="replace"))
    rep_chats = range(FIRST_TG, FIRST_TG + REPS)
    sends = [
        c
        for c in telegram.calls_of("sendMessage")
        if c.ok and int(c.params.get("chat_id", 0) or 0) in rep_chats
    ]
    # A press answered twice: its callback query answered again by a replay.
    query_answers = Counter(
        str(call.params.get("callback_query_id"))
        for call in telegram.calls_of("answerCallbackQuery")
    )
    presses_answered_twice = sum(1 for count in query_answers.values() if count > 1)
    screens_repeated = repeated_screens(telegram, CAPTURER_TG)
    notified: Counter[int] = Counter()
    for call in sends:
        match = LEAD_NUMBER.search(str(call.params.get("text", "")))
        if match:
            notified[int(match.group(1))] += 1
    await portal.stop()
    await telegram.stop()
    made = duplicates_made(portal, CAPTURE_TITLE)
    tally = capturer.tally
    missing = [lead for lead in acked if notified[lead] == 0]
    duplicates = sum(count - 1 for count in notified.values() if count > 1)
    print(f"events: {events} sent, {len(acked)} acknowledged, {refused} refused while down")
    print(f"kills: {kills} SIGKILLs at {', '.join(f'{t:.1f}s' for t in killed_at)}")
    dead_letters = dead[0] if dead else 0
    print(f"notified leads: {len(notified)}; messages: {len(sends)}; dead: {dead_letters}")
    print(f"acknowledged but never notified: {len(missing)} (target 0) {missing[:10]}")
    print(f"duplicate messages: {duplicates} (bounded by in-flight sends at each kill)")
    print(
        f"capturing rep ({mode}): {tally.captures} captures begun, {tally.actions} presses "
        f"and messages, {tally.lost} lost (target 0); answers p50 "
        f"{percentile(tally.delays, 0.5):.3f}s, p95 {percentile(tally.delays, 0.95):.3f}s, "
        f"max {max(tally.delays, default=0.0):.1f}s; off the script {tally.off_script} "
        f"{dict(tally.off_script_screens.most_common(5))}; presses answered twice "
        f"{presses_answered_twice} (target 0), screens sent again {screens_repeated.total()} "
        f"(target 0) {dict(screens_repeated)}"
    )
    print(
        f"updates replayed after a kill: {replays['updates_replayed']}; their portal writes "
        f"recorded done {replays['writes_recorded_done']}, found by their key "
        f"{replays['writes_found_by_key']}, looked up and not found (so made) "
        f"{replays['writes_looked_up_not_found']}; their replies not sent again "
        f"{replays['replies_not_sent_again']}, replays ended on a path unlike the first run's "
        f"{replays['replays_ended_unlike_first_run']}"
    )
    print(
        f"leads captured: {made.leads} ({tally.leads_reported} reported created), duplicate "
        f"leads {made.duplicate_leads} (target 0); contacts made: {made.contacts} "
        f"({tally.contacts_reported} reported), duplicate contacts {made.duplicate_contacts} "
        "(target 0)"
    )
    figures = {
        "events": events,
        "acknowledged": len(acked),
        "refused_while_down": refused,
        "kills": kills,
        "notified_leads": len(notified),
        "messages": len(sends),
        "dead_letters": dead_letters,
        "acknowledged_never_notified": len(missing),
        "duplicate_messages": duplicates,
        "capture_mode": "webhook" if webhook else "polling",
        "captures_begun": tally.captures,
        "presses": tally.actions,
        "presses_lost": tally.lost,
        "press_answer_p50_s": round(percentile(tally.delays, 0.5), 3),
        "press_answer_p95_s": round(percentile(tally.delays, 0.95), 3),
        "press_answer_max_s": round(max(tally.delays, default=0.0), 1),
        "off_script": tally.off_script,
        "presses_answered_twice": presses_answered_twice,
        "screens_sent_again": screens_repeated.total(),
        **replays,
        "leads_captured": made.leads,
        "duplicate_leads": made.duplicate_leads,
        "contacts_made": made.contacts,
        "duplicate_contacts": made.duplicate_contacts,
    }
    print(json.dumps(figures))


def main() -> None:
    """Parse arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--rate", type=float, default=10.0)
    parser.add_argument("--webhook", action="store_true", help="Telegram by webhook")
    args = parser.parse_args()
    asyncio.run(run(args.events, args.kills, args.rate, webhook=args.webhook))


if __name__ == "__main__":
    main()
