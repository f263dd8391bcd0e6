"""Endurance: the whole bot under steady portal changes for minutes, against both emulators.

The bot runs as its own process (`python -m bot`) with default settings, the catch-up poller on
and short retention, so its RSS is its own. This process runs the portal emulator (with its
2 requests/s, burst 50 limit) and the Telegram emulator (enforcing Telegram's flood limits).

A team is set up first: reps with "my leads" subscriptions in private chats, managers whose
"all leads" subscriptions filter on a stage nothing reaches (matched on every change, never
sent), and team groups that follow a few responsibles; 1,000 subscriptions by default. Then
leads change at `--rate` per second with a burst at `--burst-rate` for `--burst-seconds` every
minute; each change is POSTed to the bot's event endpoint as the portal would, except a
`--drop-share` that is never sent, for the poller to recover. When this process's loop is
held up (it answers for both emulators), the changes due meanwhile follow at the schedule's top
rate, not all at once (`Pace`); `posts_late` and `post_late_p99_ms` / `post_late_max_ms` say
how far the POSTs fell behind their moments, and `ack_p99_on_time_ms` is the ack p99 of those
that did not. Most changes are to leads nobody follows; the rest reach exactly one chat, at a
rate Telegram allows. Every rep's working day begins with the run (the bot's TIMEZONE is a
zone where the run starts at about 10:00 on a weekday; at the hours of a weekend when there is
none, it is 10:00 on a Saturday or Sunday and the reps work seven days a week, and the run says
so), so the morning's stale-lead nudges (one per rep, each listing their idle leads) go out
in the first minutes too; they are counted apart, as `nudges`.

Printed per minute, then one JSON object as the last line: events, lost, duplicates,
e2m p95 in the first and the last minute (portal change -> Telegram message, for changes
whose event was sent), ack p99, table rows, database bytes, RSS at start and end, 429s,
portal lead reads per change; and how many of the first minute's messages went to a chat
within a second after a nudge to it (Telegram's one message a second per chat). Targets:
e2m p95 < 1 s and not rising, ack p99 < 20 ms, 0 lost, 0 × 429, reads/event <= 1.1, RSS
growth < 20 MB, tables bounded by retention. With them, what the machine was doing
(`bench.machine`): its CPUs' busy share and the share the host took (steal) per half minute
and over the load, and the bot's own CPU as a share of one CPU: on a virtual machine a latency
tail moves with the host's steal as much as with the build. `slowest_10s_windows` names the
ten-second windows of the load whose messages were slowest, with the portal requests other
than the processor's reads that arrived in them: what took the processor's slots.

Run: `.venv/bin/python -m bench.soak [--minutes 10] [--subscriptions 1000]`
(`SOAK_PROFILE=/tmp/bot.prof` runs the bot under cProfile and writes its profile there.)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import logging
import math
import multiprocessing
import os
import queue
import random
import re
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import unquote, urlencode

import aiohttp

from bench.machine import CpuTimes, MachineShare, process_cpu_seconds
from bot.metrics import GC_PAUSE_MAX, GC_PAUSES, LOOP_LAG_MAX, TRIM_MAX
from bot.schedule.hours import format_days
from bot.storage import Binding, BindingSource, Role, SqliteDatabase, utc_now
from bot.storage.bindings import write_binding
from bot.storage.json_codec import encode_json
from bot.storage.timestamps import to_db_time
from tests.emulators.bitrix24 import Bitrix24Emulator
from tests.emulators.bitrix24_state import CallRecord
from tests.emulators.telegram import DEFAULT_TEST_TOKEN, TelegramEmulator

APP_TOKEN = "soak-application-token"
LONG_AGO = "2020-01-15T10:00:00+03:00"
QUIET_USER = 900_000  # responsible for the leads nobody follows
FIRST_USER = 1_000
TG_BASE = 5_000_000
GROUP_BASE = -1_000_000_000_000
LEADS_PER_REP = 3
LEADS_PER_GROUP_REP = 12
QUIET_LEADS = 20_000
REP_SHARE = 0.08
GROUP_SHARE = 0.01
PRIVATE_GAP_SECONDS = 2.5  # a rep's chat gets at most one change in this time
GROUP_GAP_SECONDS = 6.0  # a group at most one in this time (Telegram: 20 a minute)
RETENTION_MINUTES = 2.0
SAMPLE_SECONDS = 30.0
LAG_PROBE_SECONDS = 0.02
WINDOW_SECONDS = 10.0
SLOW_WINDOWS = 5
READY = (-1, 0.0, True, 0.0)
"""The event poster's first answer: it is up and can post."""
_LEAD_REF = re.compile(r"#(\d+)")
NUDGE_MARK = "🧹"  # the morning nudge's header: it lists idle leads, it reports no change
_LISTED_IDS = re.compile(r"filter\[@ID\]\[\d+\]=")


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100) of values (0 for none)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


@dataclass
class Team:
    """Portal users, Telegram chats and subscriptions of the bench."""

    reps: list[int] = field(default_factory=list)
    managers: list[int] = field(default_factory=list)
    group_reps: list[int] = field(default_factory=list)  # one per group, followed by it
    groups: list[int] = field(default_factory=list)
    subscriptions: int = 0

    @staticmethod
    def plan(subscriptions: int) -> Team:
        """85% rep subscriptions, 10% managers' filtered ones, 5% groups."""
        groups = max(1, subscriptions // 20)
        managers = max(1, subscriptions // 10)
        reps = subscriptions - groups - managers
        team = Team(subscriptions=subscriptions)
        user = FIRST_USER
        for _ in range(reps):
            team.reps.append(user)
            user += 1
        for _ in range(managers):
            team.managers.append(user)
            user += 1
        for index in range(groups):
            team.group_reps.append(user)
            team.groups.append(GROUP_BASE - index)
            user += 1
        return team

    @staticmethod
    def chat_of(portal_user_id: int) -> int:
        """The private chat (Telegram id) of a portal user."""
        return TG_BASE + portal_user_id


@dataclass
class Change:
    """One portal change the bench made."""

    lead_id: int
    at: float
    chat: int | None  # the one chat that should hear about it
    sent: bool  # False: its event was dropped (the poller must find it)
    minute: int


@dataclass
class Tally:
    """What the load loop observed."""

    changes: list[Change] = field(default_factory=list)
    acks: list[tuple[int, float, float]] = field(default_factory=list)
    """(minute, seconds to the 2xx, seconds the POST started after its due moment)"""
    refused: int = 0


def event_form(portal: Bitrix24Emulator, lead_id: int, ts: int) -> str:
    """The body the portal's queue POSTs for a lead update."""
    return urlencode(
        {
            "event": "ONCRMLEADUPDATE",
            "event_handler_id": "701",
            "data[FIELDS][ID]": str(lead_id),
            "ts": str(ts),
            "auth[domain]": portal.domain,
            "auth[member_id]": portal.member_id,
            "auth[application_token]": APP_TOKEN,
        }
    )


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def rss_mb(pid: int) -> float:
    """Resident memory of a process in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def table_rows(path: Path) -> dict[str, int]:
    """Rows per table of the bot's database (a reader beside the bot, WAL allows it)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        return {
            table: int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # noqa: S608
            for table in ("inbox", "outbox", "bot_actions", "lead_claims", "lead_snapshots")
        }
    finally:
        conn.close()


@dataclass
class Stages:
    """Where the time went, from the bot's own tables (read at each sample: the rows live for
    the retention's minutes): inbox rows from received to processed, outbox rows from queued
    to sent, live and routine apart; and how late this process's loop (both emulators and
    the load) woke up, per minute of the run."""

    inbox: dict[int, tuple[float, float]] = field(default_factory=dict)
    outbox: dict[int, tuple[float, float, bool]] = field(default_factory=dict)
    sends: dict[tuple[int, int], list[tuple[float, float]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    """(chat, lead) -> (queued, sent) of its live messages, for the per-message breakdown."""
    lag: dict[int, list[float]] = field(default_factory=lambda: defaultdict(list))

    def read(self, path: Path) -> None:
        """Take in the rows handled since the last read (a row once handled stays as it is:
        those already taken are not parsed again, which held this process's loop up)."""
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
        try:
            for row_id, received, processed in conn.execute(
                "SELECT id, received_at, processed_at FROM inbox WHERE processed_at IS NOT NULL"
            ):
                if int(row_id) not in self.inbox:
                    self.inbox[int(row_id)] = (_epoch(received), _epoch(processed))
            for row_id, chat, payload, created, sent, priority in conn.execute(
                "SELECT id, chat_id, payload, created_at, sent_at, priority FROM outbox "
                "WHERE state = 'sent'"
            ):
                if int(row_id) in self.outbox:
                    continue
                times = (_epoch(created), _epoch(sent))
                self.outbox[int(row_id)] = (*times, bool(priority))
                found = _LEAD_REF.search(str(json.loads(payload).get("text", "")))
                if found is not None and not priority:
                    self.sends[(int(chat), int(found.group(1)))].append(times)
        finally:
            conn.close()

    def figures(self, started: float) -> dict[str, object]:
        """p95 per minute of the run (by when the row came), in ms."""

        def by_minute(pairs: list[tuple[float, float]]) -> dict[int, int]:
            found: dict[int, list[float]] = defaultdict(list)
            for begin, end in pairs:
                # What was queued before the load (the morning's nudges) counts in minute 0.
                found[max(0, int((begin - started) // 60))].append((end - begin) * 1000)
            return {m: round(percentile(found[m], 95)) for m in sorted(found)}

        live = [(c, s) for c, s, routine in self.outbox.values() if not routine]
        routine = [(c, s) for c, s, is_routine in self.outbox.values() if is_routine]
        lags = [x for v in self.lag.values() for x in v]
        return {
            "inbox_wait_p95_by_minute": by_minute(list(self.inbox.values())),
            "outbox_wait_p95_by_minute": by_minute(live),
            "routine_outbox_wait_p95_by_minute": by_minute(routine),
            "bench_loop_lag_p99_by_minute": {
                m: round(percentile(self.lag[m], 99)) for m in sorted(self.lag)
            },
            "bench_loop_lag_max_ms": round(max(lags, default=0.0)),
        }

    async def watch_loop(self, started: float) -> None:
        """Record how late each 20 ms sleep of this process's loop ends (until cancelled)."""
        while True:
            before = time.monotonic()
            await asyncio.sleep(LAG_PROBE_SECONDS)
            now = time.monotonic()
            late = (now - before - LAG_PROBE_SECONDS) * 1000
            self.lag[int((now - started) // 60)].append(max(0.0, late))

    def slowest(self, trail: list[Delivery], share: float = 0.05) -> dict[str, int]:
        """The slowest `share` of the first minute's messages, split where their time went
        (medians, ms): before the message was queued (the event's wait and its read), in the
        outbox, and from the outbox's "sent" to the Telegram emulator's record of it."""
        first = sorted((d for d in trail if d.minute == 0), key=lambda d: -d.total)
        parts: dict[str, list[float]] = defaultdict(list)
        for delivery in first[: max(1, round(len(first) * share))]:
            rows = self.sends.get((delivery.chat, delivery.lead_id), [])
            near = [r for r in rows if abs(r[1] - delivery.got) < 2.0]
            if not near:
                continue
            queued, sent = min(near, key=lambda r: abs(r[1] - delivery.got))
            parts["before_queued"].append((queued - delivery.changed) * 1000)
            parts["in_outbox"].append((sent - queued) * 1000)
            parts["to_telegram"].append((delivery.got - sent) * 1000)
            parts["total"].append(delivery.total * 1000)
        return {name: round(statistics.median(v)) for name, v in parts.items() if v}


@dataclass
class Delivery:
    """One followed change and the message that told of it (wall-clock seconds)."""

    minute: int
    chat: int
    lead_id: int
    changed: float
    got: float

    @property
    def total(self) -> float:
        return self.got - self.changed


def _epoch(text: str) -> float:
    """Seconds since the epoch of a database timestamp ("2026-12-06T19:27:33.123456Z")."""
    return datetime.fromisoformat(text).timestamp()


def db_bytes(path: Path) -> int:
    """The database with its write-ahead log."""
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


async def prepare(db_path: Path, team: Team, *, seven_day_week: bool) -> None:
    """Bindings and subscriptions straight into the bot's database (as if made over weeks);
    with `seven_day_week` the reps work every day (a run on a weekend still has their
    morning)."""
    async with SqliteDatabase(db_path) as db, db.transaction() as conn:
        now = utc_now()
        for user in team.reps + team.managers:
            role = Role.MANAGER if user in team.managers else Role.REP
            await write_binding(
                conn,
                Binding(
                    telegram_user_id=Team.chat_of(user),
                    portal_user_id=user,
                    role=role,
                    bound_via=BindingSource.INVITE,
                    bound_at=now,
                ),
            )
        rows: list[tuple[object, ...]] = []
        stamp = to_db_time(now)
        for user in team.reps:
            chat = Team.chat_of(user)
            rows.append((chat, chat, "[]", "mine", "[]", "[]", "[]", stamp))
        for user in team.managers:
            chat = Team.chat_of(user)
            rows.append((chat, chat, "[]", "all", "[]", encode_json(["CONVERTED"]), "[]", stamp))
        for index, group in enumerate(team.groups):
            manager = Team.chat_of(team.managers[index % len(team.managers)])
            followed = encode_json([team.group_reps[index]])
            rows.append((group, manager, "[]", "users", followed, "[]", "[]", stamp))
        await conn.execute_many(
            "INSERT INTO subscriptions (chat_id, created_by, kinds, scope, responsible_ids, "
            "stages, sources, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        if seven_day_week:
            every_day = format_days(frozenset(range(1, 8)))
            await conn.execute_many(
                "INSERT INTO chat_hours (chat_id, thread_id, days, updated_at) "
                "VALUES (?, 0, ?, ?)",
                [(Team.chat_of(user), every_day, stamp) for user in team.reps],
            )


def build_portal(team: Team) -> tuple[Bitrix24Emulator, list[int], dict[int, list[int]]]:
    """The portal with the team's users and leads; returns it, the quiet leads, leads by user."""
    portal = Bitrix24Emulator(rate_limit=True)
    portal.add_user("Quiet", "Owner", user_id=QUIET_USER)
    for user in team.reps + team.managers + team.group_reps:
        portal.add_user(f"User{user}", "Bench", user_id=user)
    old = {"DATE_CREATE": LONG_AGO, "DATE_MODIFY": LONG_AGO}
    quiet = portal.seed_leads(QUIET_LEADS, ASSIGNED_BY_ID=str(QUIET_USER), **old)
    by_user: dict[int, list[int]] = {}
    for users, per_user in ((team.reps, LEADS_PER_REP), (team.group_reps, LEADS_PER_GROUP_REP)):
        owners = [u for u in users for _ in range(per_user)]
        ids = portal.seed_leads(len(owners), ASSIGNED_BY_ID=lambda i, o=owners: str(o[i]), **old)
        for owner, lead_id in zip(owners, ids, strict=True):
            by_user.setdefault(owner, []).append(lead_id)
    return portal, quiet, by_user


def working_zone(now: datetime) -> tuple[str, bool]:
    """A zone where `now` is within the first hours of a working day (the default 9:00-18:00),
    so the reps' day, and their morning nudges, begin with the run, and whether that day is a
    Saturday or Sunday (at some hours of the weekend no whole-hour zone has a weekday morning:
    the reps then get a seven-day week)."""
    for weekend in (False, True):
        for wanted in (10, 9, 11, 12, 13, 14, 15, 16):
            for hours in range(-12, 15):
                local = now + timedelta(hours=hours)
                if local.hour == wanted and (weekend or local.weekday() < 5):
                    # The sign is POSIX's: Etc/GMT-3 is UTC+3.
                    return f"Etc/GMT{-hours:+d}", local.weekday() >= 5
    raise AssertionError("every hour is 10:00 somewhere")


def start_bot(
    folder: Path,
    telegram: TelegramEmulator,
    portal: Bitrix24Emulator,
    port: int,
    retention_minutes: float,
    zone: str,
) -> subprocess.Popen[bytes]:
    """`python -m bot` with default settings, pointed at the emulators, short retention, in the
    time zone `zone`."""
    days = retention_minutes / (24 * 60)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM__", "PORTAL__"))},
        "TELEGRAM__TOKEN": DEFAULT_TEST_TOKEN,
        "TELEGRAM__API_BASE": telegram.base_url,
        "TELEGRAM__ADMIN_IDS": "[]",
        "PORTAL__WEBHOOK_URL": portal.webhook_url,
        "PORTAL__APPLICATION_TOKEN": APP_TOKEN,
        "PORTAL__MEMBER_ID": portal.member_id,
        "PORTAL__DOMAIN": portal.domain,
        "STORAGE__PATH": str(folder / "bot.sqlite3"),
        "WEB__HOST": "127.0.0.1",
        "WEB__PORT": str(port),
        "RETENTION__INBOX_DAYS": f"{days:.8f}",
        "RETENTION__OUTBOX_DAYS": f"{days:.8f}",
        "RETENTION__INTERVAL_SECONDS": "30",
        "LOG_LEVEL": "WARNING",
        "TIMEZONE": zone,
        # The bot runs from its own folder (a `.env` there would be read): import this tree.
        "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
    }
    log = (folder / "bot.log").open("wb")
    profile = os.environ.get("SOAK_PROFILE")  # a path: the bot runs under cProfile
    command = [
        sys.executable,
        *(["-m", "cProfile", "-o", profile] if profile else []),
        "-m",
        "bot",
    ]
    return subprocess.Popen(  # noqa: S603 - our own interpreter and module
        command, cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT
    )


async def wait_ready(url: str, bot: subprocess.Popen[bytes], timeout: float) -> float:  # noqa: ASYNC109
    """Seconds until the bot's web server answers (it starts last)."""
    started = time.monotonic()
    async with aiohttp.ClientSession() as session:
        while time.monotonic() - started < timeout:
            if bot.poll() is not None:
                raise RuntimeError(f"the bot exited with {bot.returncode}")
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(url) as answer:
                    if answer.status == 200:
                        return time.monotonic() - started
            await asyncio.sleep(0.2)
    raise RuntimeError("the bot did not start in time")


class Pace:
    """When the next change is due, and when it may be made.

    Due moments follow `rate_at` (changes per second at a moment of the run, from its start).
    The load loop shares its process with both emulators, which hold it up now and then (a
    third of a second at most in a 10,000-subscription run on a slow day). The changes due
    meanwhile are then made no faster than `fastest` a second, after at most `CLUMP` at once,
    rather than all in the same instant: the bot is never offered much more than the
    schedule's own top rate. The limit is a token bucket of `CLUMP` tokens (kept as the moment
    it is next empty), so a loop a few milliseconds late on schedule loses no change.
    """

    CLUMP = 3

    def __init__(self, rate_at: Callable[[float], float], fastest: float, started: float) -> None:
        self._rate_at = rate_at
        self._spacing = 1.0 / fastest
        self._started = started
        self._due = started
        self._full_at = -math.inf

    def next_start(self) -> float:
        """The moment the next change may be made: its due moment, or later after a hold-up."""
        return max(self._due, self._full_at - (self.CLUMP - 1) * self._spacing)

    def made(self, now: float) -> float:
        """Record that the next change was made at `now`; returns the moment it was due."""
        due = self._due
        self._full_at = max(self._full_at, now) + self._spacing
        self._due += 1.0 / self._rate_at(now - self._started)
        return due


class Load:
    """Makes the portal changes and POSTs their events on schedule."""

    def __init__(
        self,
        portal: Bitrix24Emulator,
        team: Team,
        quiet: list[int],
        by_user: dict[int, list[int]],
        event_url: str,
        args: argparse.Namespace,
    ) -> None:
        self.portal = portal
        self.team = team
        self.quiet = quiet
        self.by_user = by_user
        self.url = event_url
        self.args = args
        self.tally = Tally()
        self.random = random.Random(7)
        self.last_chat: dict[int, float] = {}
        self.started = 0.0
        self.wall_started = 0.0
        self.count = 0
        self.poster: EventPoster | None = None

    def _pick(self, now: float) -> tuple[int, int | None]:
        roll = self.random.random()
        if roll < GROUP_SHARE:
            index = self.random.randrange(len(self.team.groups))
            group = self.team.groups[index]
            if now - self.last_chat.get(group, -1e9) >= GROUP_GAP_SECONDS:
                self.last_chat[group] = now
                leads = self.by_user[self.team.group_reps[index]]
                return self.random.choice(leads), group
        elif roll < GROUP_SHARE + REP_SHARE:
            rep = self.random.choice(self.team.reps)
            chat = Team.chat_of(rep)
            if now - self.last_chat.get(chat, -1e9) >= PRIVATE_GAP_SECONDS:
                self.last_chat[chat] = now
                return self.random.choice(self.by_user[rep]), chat
        return self.quiet[self.count % len(self.quiet)], None

    def rate_at(self, elapsed: float) -> float:
        """Changes per second at this moment of the run (a burst at the start of each minute
        after the first, so the first minute shows the steady state)."""
        in_minute = elapsed % 60.0
        if elapsed >= 60.0 and in_minute < self.args.burst_seconds:
            return float(self.args.burst_rate)
        return float(self.args.rate)

    def collect(self) -> None:
        """Take in the acknowledgement times measured so far."""
        if self.poster is not None:
            self.poster.collect()

    async def run(self, seconds: float) -> None:
        """Change leads for `seconds`."""
        poster = self.poster = EventPoster(self.url, self.tally)
        await asyncio.to_thread(poster.start)
        try:
            self.started = time.monotonic()
            self.wall_started = time.time()
            pace = Pace(self.rate_at, max(self.args.rate, self.args.burst_rate), self.started)
            while (now := time.monotonic()) - self.started < seconds:
                start_at = pace.next_start()
                if start_at - self.started >= seconds:
                    # Made after the end, it would be a minute of its own: one change for the
                    # "last minute" figure (316 ms once, where the tenth minute's was 599).
                    break
                if start_at > now:
                    await asyncio.sleep(start_at - now)
                now = time.monotonic()
                elapsed = now - self.started
                scheduled = pace.made(now)
                minute = int(elapsed // 60)
                lead_id, chat = self._pick(now)
                self.count += 1
                self.portal.update_lead(
                    lead_id, {"TITLE": f"Soak change {self.count}"}, 1, fire=False
                )
                sent = self.random.random() >= self.args.drop_share
                self.tally.changes.append(Change(lead_id, time.monotonic(), chat, sent, minute))
                if sent:
                    body = event_form(self.portal, lead_id, int(time.time()))
                    poster.submit(body, minute, scheduled)
        finally:
            await asyncio.to_thread(poster.finish)


class EventPoster:
    """POSTs events from a process of its own, so the time to each 2xx is neither stretched by
    this process's emulators and load loop nor by their hold on the interpreter lock."""

    def __init__(self, url: str, tally: Tally) -> None:
        self.tally = tally
        context = multiprocessing.get_context("spawn")
        self.bodies: multiprocessing.Queue[tuple[str, int, float] | None] = context.Queue()
        self.results: multiprocessing.Queue[tuple[int, float, bool, float] | None] = (
            context.Queue()
        )
        self.process = context.Process(
            target=post_events, args=(url, self.bodies, self.results), daemon=True
        )

    def start(self) -> None:
        """Start the posting process and wait until it can post (a spawned interpreter takes
        a second or two to import; changes made meanwhile would wait for it)."""
        self.process.start()
        if self.results.get(timeout=60) != READY:
            raise RuntimeError("the event poster did not start")

    def submit(self, body: str, minute: int, due: float) -> None:
        """POST one event (without waiting for it); `due` is when the schedule wanted it."""
        self.bodies.put((body, minute, due))

    def _record(self, result: tuple[int, float, bool, float]) -> None:
        minute, seconds, ok, late = result
        if ok:
            self.tally.acks.append((minute, seconds, late))
        else:
            self.tally.refused += 1

    def collect(self) -> None:
        """Take in the answers that came so far (for the progress lines)."""
        while True:
            try:
                result = self.results.get_nowait()
            except queue.Empty:
                return
            if result is None:  # only `finish` asks for the end
                self.results.put(None)
                return
            self._record(result)

    def finish(self) -> None:
        """Wait for every POST and collect the times to each answer."""
        self.bodies.put(None)
        while (result := self.results.get()) is not None:
            self._record(result)
        self.process.join(30)


def post_events(
    url: str,
    bodies: multiprocessing.Queue[tuple[str, int, float] | None],
    results: multiprocessing.Queue[tuple[int, float, bool, float] | None],
) -> None:
    """The posting process: each body as it comes, (minute, seconds, ok, seconds late) back;
    None at the end."""

    async def post(session: aiohttp.ClientSession, body: str, minute: int, due: float) -> None:
        late = time.monotonic() - due
        started = time.perf_counter()
        try:
            async with session.post(
                url, data=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
            ) as answer:
                await answer.read()
                ok = answer.status == 200
        except aiohttp.ClientError:
            ok = False
        results.put((minute, time.perf_counter() - started, ok, late))

    async def main() -> None:
        loop = asyncio.get_running_loop()
        posts: set[asyncio.Task[None]] = set()
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=200)) as session:
            results.put(READY)
            while (item := await loop.run_in_executor(None, bodies.get)) is not None:
                task = asyncio.create_task(post(session, *item))
                posts.add(task)
                task.add_done_callback(posts.discard)
            if posts:
                await asyncio.wait(posts)
        results.put(None)

    asyncio.run(main())


ON_TIME_SECONDS = 0.01
"""A POST that started within this of its scheduled moment kept to the schedule."""


def posting_figures(tally: Tally) -> dict[str, object]:
    """How closely the POSTs kept to the schedule, and the acknowledgements of those that did.

    This process's loop also answers for both emulators. When it is held up, the changes due
    meanwhile are made afterwards at the schedule's fastest rate (`Load.run`), so their POSTs
    start late: `posts_late` started over `ON_TIME_SECONDS` after their moment, and the ack
    p99 of the others is printed apart."""
    late = [seconds * 1000 for _, _, seconds in tally.acks]
    on_time = [ack * 1000 for _, ack, seconds in tally.acks if seconds < ON_TIME_SECONDS]
    return {
        "post_late_p99_ms": round(percentile(late, 99), 1),
        "post_late_max_ms": round(max(late), 1) if late else None,
        "posts_late": len(late) - len(on_time),
        "ack_p99_on_time_ms": round(percentile(on_time, 99), 1),
    }


def lead_reads(portal: Bitrix24Emulator) -> tuple[int, int]:
    """Leads read by id (the processor's `filter[@ID]` lists) and the catch-up poll's list
    commands (`filter[>DATE_MODIFY]`; the processor's lists name DATE_MODIFY in their select)."""
    by_id = 0
    polls = 0
    for call in portal.calls:
        if call.method != "batch":
            continue
        commands = call.params.get("cmd")
        if not isinstance(commands, dict):
            continue
        for query in commands.values():
            text = unquote(str(query))
            by_id += len(_LISTED_IDS.findall(text))
            if "filter[>DATE_MODIFY]" in text and text.startswith("crm.lead.list"):
                polls += 1
    return by_id, polls


def processor_read(call: CallRecord) -> bool:
    """Whether the request is one of the processor's reads of leads by id."""
    commands = call.params.get("cmd") if call.method == "batch" else None
    return isinstance(commands, dict) and all(
        _LISTED_IDS.search(unquote(str(query))) for query in commands.values()
    )


def slowest_windows(
    trail: list[Delivery], calls: list[CallRecord], started: float, to_wall: float
) -> list[dict[str, object]]:
    """The `SLOW_WINDOWS` windows of `WINDOW_SECONDS` of the load whose messages took longest
    (e2m p95), each with the portal requests other than the processor's reads that arrived in
    it or just before: what may have taken the processor's slots (seconds from the load's
    start; `started` and the trail on the wall clock, the requests on the monotonic one)."""
    by_window: dict[int, list[float]] = defaultdict(list)
    for delivery in trail:
        by_window[int((delivery.changed - started) // WINDOW_SECONDS)].append(
            delivery.total * 1000
        )
    others = [
        (call.arrived_at + to_wall - started, "+".join(sorted(set(call.batch_methods))))
        for call in calls
        if not processor_read(call)
    ]
    ranked = sorted(by_window, key=lambda w: -percentile(by_window[w], 95))[:SLOW_WINDOWS]
    return [
        {
            "from_s": round(window * WINDOW_SECONDS),
            "messages": len(by_window[window]),
            "e2m_p95_ms": round(percentile(by_window[window], 95)),
            "other_portal_requests": [
                f"{at:.1f} s {name or 'single call'}"
                for at, name in others
                if window * WINDOW_SECONDS - 2.0 <= at < (window + 1) * WINDOW_SECONDS
            ],
        }
        for window in ranked
    ]


def portal_mix(calls: list[CallRecord]) -> str:
    """The portal requests of one sample: how many, refused, and the commonest methods."""
    methods: defaultdict[str, int] = defaultdict(int)
    for call in calls:
        names = sorted(set(call.batch_methods)) if call.batch_methods else [call.method]
        methods["+".join(names)[:60]] += 1
    refused = sum(1 for c in calls if c.status == 503)
    top = sorted(methods.items(), key=lambda item: -item[1])[:4]
    listed = ", ".join(f"{name} {count}" for name, count in top)
    return f"{len(calls)} requests ({refused} refused): {listed}"


def judge(
    tally: Tally, telegram: TelegramEmulator, trail: list[Delivery] | None = None
) -> dict[str, object]:
    """Match every followed change to its message; figures per minute and overall (and each
    matched pair into `trail`, in wall-clock time)."""
    to_wall = time.time() - time.monotonic()
    messages: dict[tuple[int, int], list[float]] = defaultdict(list)
    others = 0  # the reps' morning nudges (each lists their 3 idle leads)
    others_at: dict[int, list[float]] = defaultdict(list)
    for call in telegram.calls_of("sendMessage"):
        if not call.ok:
            continue
        text = str(call.params.get("text", ""))
        found = None if text.startswith(NUDGE_MARK) else _LEAD_REF.search(text)
        if found is not None:
            messages[(int(call.params.get("chat_id", 0)), int(found.group(1)))].append(call.at)
        else:
            others += 1
            others_at[int(call.params.get("chat_id", 0))].append(call.at)

    def after_a_nudge(chat: int, at: float) -> bool:
        """Whether the chat had another message (a nudge) in the second before `at`: Telegram
        allows one a second per private chat, so this one may have waited for it."""
        return any(at - 1.0 <= other < at for other in others_at.get(chat, ()))

    expected: dict[tuple[int, int], list[Change]] = defaultdict(list)
    for change in tally.changes:
        if change.chat is not None:
            expected[(change.chat, change.lead_id)].append(change)
    lost = duplicates = unexpected = merged = 0
    e2m: dict[int, list[float]] = defaultdict(list)
    behind_nudge: dict[int, list[float]] = defaultdict(list)
    recovered: list[float] = []
    for key, got in messages.items():
        if key not in expected:
            unexpected += len(got)
    for key, changes in expected.items():
        got = sorted(messages.get(key, []))
        changes.sort(key=lambda c: c.at)
        duplicates += max(0, len(got) - len(changes))
        used = 0
        for index, change in enumerate(changes):
            while used < len(got) and got[used] < change.at:
                used += 1
            if used >= len(got):
                lost += 1  # no message about the lead in this chat after this change
                continue
            sent_at = got[used]
            delay = sent_at - change.at
            following = changes[index + 1].at if index + 1 < len(changes) else float("inf")
            if got[used] < following:
                used += 1  # this change's own message
            else:
                # The lead changed again before any message: the processor read both changes
                # together and sent one message, which tells the reader about this one too.
                merged += 1
            if change.sent:
                e2m[change.minute].append(delay * 1000)
                if trail is not None:
                    trail.append(
                        Delivery(
                            change.minute, key[0], key[1], change.at + to_wall, sent_at + to_wall
                        )
                    )
                if after_a_nudge(key[0], sent_at):
                    behind_nudge[change.minute].append(delay * 1000)
            else:
                recovered.append(delay * 1000)
    minutes = sorted(e2m)
    return {
        "lost": lost,
        "merged_with_a_later_change": merged,
        "duplicates": duplicates,
        "unexpected_messages": unexpected,
        "nudges": others,
        "e2m_by_minute": {m: round(percentile(e2m[m], 95)) for m in minutes},
        "e2m_p50_ms": round(percentile([x for v in e2m.values() for x in v], 50)),
        "e2m_p95_first_min_ms": round(percentile(e2m[minutes[0]], 95)) if minutes else None,
        "e2m_p95_last_min_ms": round(percentile(e2m[minutes[-1]], 95)) if minutes else None,
        "first_min_messages_right_after_a_nudge": len(behind_nudge[minutes[0]]) if minutes else 0,
        "first_min_messages": len(e2m[minutes[0]]) if minutes else 0,
        "first_min_e2m_p95_after_a_nudge_ms": (
            round(percentile(behind_nudge[minutes[0]], 95)) if minutes else None
        ),
        "recovered_by_poller": len(recovered),
        "recovered_p95_ms": round(percentile(recovered, 95)),
    }


async def run(args: argparse.Namespace) -> dict[str, object]:
    """Set up, load, drain, measure; prints progress and returns the figures."""
    team = Team.plan(args.subscriptions)
    portal, quiet, by_user = build_portal(team)
    telegram = TelegramEmulator(DEFAULT_TEST_TOKEN)
    await telegram.start()
    await portal.start()
    for user in team.reps + team.managers:
        telegram.user(Team.chat_of(user), f"User{user}")
    for index, group in enumerate(team.groups):
        manager = Team.chat_of(team.managers[index % len(team.managers)])
        telegram.add_group(group, f"Team {index}", admins=[manager])
    telegram.enable_flood_limits()
    result: dict[str, object] = {"subscriptions": team.subscriptions, "minutes": args.minutes}
    bot: subprocess.Popen[bytes] | None = None
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        db_path = folder / "bot.sqlite3"
        try:
            zone, weekend = working_zone(datetime.now(UTC))
            if weekend:
                print("a weekend morning: the reps work seven days a week in this run")
            await prepare(db_path, team, seven_day_week=weekend)
            port = free_port()
            bot = start_bot(folder, telegram, portal, port, args.retention_minutes, zone)
            ready = await wait_ready(f"http://127.0.0.1:{port}/healthz", bot, timeout=300)
            print(
                f"bot ready in {ready:.1f} s with {team.subscriptions} subscriptions", flush=True
            )
            await asyncio.sleep(5)  # start-up reads (directory, catalogue) settle
            # The 20,000 leads and the team stay to the end: the collector's full passes skip
            # them, so they pause neither the emulators' answers nor the clock of the messages.
            gc.freeze()
            result["rss_mb_start"] = round(rss_mb(bot.pid), 1)
            load = Load(
                portal, team, quiet, by_user, f"http://127.0.0.1:{port}/bitrix/events", args
            )
            samples: list[dict[str, int]] = []
            seen_calls = len(portal.calls)
            stages = Stages()
            loop_stalls: list[float | None] = []
            gc_full_passes: list[float | None] = []
            trim_longest: list[float | None] = []
            machine_busy: list[float | None] = []
            machine_steal: list[float | None] = []
            cpu_then, bot_cpu_then, wall_then = CpuTimes.now(), bot_cpu(bot.pid), time.monotonic()

            async def sample() -> None:
                nonlocal seen_calls, cpu_then, bot_cpu_then, wall_then
                while True:
                    await asyncio.sleep(SAMPLE_SECONDS)
                    cpu_now, bot_cpu_now, wall_now = (
                        CpuTimes.now(),
                        bot_cpu(bot.pid),
                        time.monotonic(),
                    )
                    share = MachineShare.between(cpu_then, cpu_now)
                    machine_busy.append(share.busy_pct if share else None)
                    machine_steal.append(share.steal_pct if share else None)
                    bot_share = 100 * (bot_cpu_now - bot_cpu_then) / (wall_now - wall_then)
                    cpu_then, bot_cpu_then, wall_then = cpu_now, bot_cpu_now, wall_now
                    rows = await asyncio.to_thread(table_rows, db_path)
                    await asyncio.to_thread(stages.read, db_path)
                    samples.append(rows)
                    minute = len(samples) * SAMPLE_SECONDS / 60
                    load.collect()
                    acks = [a * 1000 for m, a, _ in load.tally.acks if m == int(minute - 0.01)]
                    calls = portal.calls[seen_calls:]
                    seen_calls += len(calls)
                    stall, full_passes, longest_pass, trim = await bot_figures(port)
                    trim_longest.append(trim)
                    loop_stalls.append(stall)
                    gc_full_passes.append(full_passes)
                    print(
                        f"t={minute:.1f} min: {load.count} changes, ack p99 "
                        f"{percentile(acks, 99):.1f} ms, rows {rows}, "
                        f"RSS {rss_mb(bot.pid):.0f} MB, bot loop's longest stall of the "
                        f"last minute {stall} ms, collector's full passes {full_passes} ms "
                        f"(longest {longest_pass} ms), longest malloc_trim {trim} ms, "
                        f"portal {portal_mix(calls)}; machine: {describe(share)}, the bot "
                        f"{bot_share:.0f}% of a CPU",
                        flush=True,
                    )

            sampler = asyncio.create_task(sample())
            watcher = asyncio.create_task(stages.watch_loop(time.monotonic()))
            load_cpu, load_bot_cpu, load_wall = CpuTimes.now(), bot_cpu(bot.pid), time.monotonic()
            try:
                await load.run(args.minutes * 60)
                during = MachineShare.between(load_cpu, CpuTimes.now())
                result["machine_busy_pct"] = during.busy_pct if during else None
                result["machine_steal_pct"] = during.steal_pct if during else None
                result["bot_cpu_pct_of_a_cpu"] = round(
                    100 * (bot_cpu(bot.pid) - load_bot_cpu) / (time.monotonic() - load_wall), 1
                )
                # Let the last events through, and the poller find the dropped ones.
                deadline = time.monotonic() + 180
                await asyncio.sleep(65)  # two catch-up polls after the last change
                while time.monotonic() < deadline:
                    waiting = await asyncio.to_thread(pending_rows, db_path)
                    if waiting == 0:
                        break
                    await asyncio.sleep(1)
            finally:
                for task in (sampler, watcher):
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            await asyncio.to_thread(stages.read, db_path)
            result["rss_mb_end"] = round(rss_mb(bot.pid), 1)
            final = await asyncio.to_thread(table_rows, db_path)
            tally = load.tally
            acks = [a * 1000 for _, a, _ in tally.acks]
            reads, polls = lead_reads(portal)
            trail: list[Delivery] = []
            result.update(
                {
                    "events": len(tally.changes),
                    "events_dropped": sum(1 for c in tally.changes if not c.sent),
                    "followed_changes": sum(1 for c in tally.changes if c.chat is not None),
                    "acks_refused": tally.refused,
                    **judge(tally, telegram, trail),
                    "ack_p50_ms": round(statistics.median(acks), 1) if acks else None,
                    "ack_p99_ms": round(percentile(acks, 99), 1),
                    "ack_max_ms": round(max(acks), 1) if acks else None,
                    **posting_figures(tally),
                    "rows_inbox": final["inbox"],
                    "rows_outbox": final["outbox"],
                    "rows_max_inbox": max([s["inbox"] for s in samples], default=0),
                    "rows_max_outbox": max([s["outbox"] for s in samples], default=0),
                    "rows_snapshots": final["lead_snapshots"],
                    "db_bytes": db_bytes(db_path),
                    "http_429": len(telegram.flood_errors),
                    "portal_requests": len(portal.calls),
                    "portal_503": sum(1 for c in portal.calls if c.status == 503),
                    "portal_reads_per_event": round(reads / max(1, len(tally.changes)), 3),
                    "poll_list_commands": polls,
                    **stages.figures(load.wall_started),
                    "first_min_slowest_5pct_ms": stages.slowest(trail),
                    "slowest_10s_windows": slowest_windows(
                        trail, portal.calls, load.wall_started, time.time() - time.monotonic()
                    ),
                    "bot_loop_stall_max_ms_by_half_minute": loop_stalls,
                    "bot_gc_full_passes_ms_so_far_by_half_minute": gc_full_passes,
                    "bot_malloc_trim_max_ms": trim_longest[-1] if trim_longest else None,
                    "machine_busy_pct_by_half_minute": machine_busy,
                    "machine_steal_pct_by_half_minute": machine_steal,
                }
            )
        finally:
            if bot is not None and bot.poll() is None:
                bot.terminate()
                try:
                    await asyncio.to_thread(bot.wait, 30)
                except subprocess.TimeoutExpired:
                    bot.kill()
            await portal.stop()
            await telegram.stop()
            log_tail = (folder / "bot.log").read_text(errors="replace").splitlines()[-5:]
            if log_tail:
                print("bot log (last lines):", *log_tail, sep="\n  ", flush=True)
    return result


async def bot_figures(
    port: int,
) -> tuple[float | None, float | None, float | None, float | None]:
    """The bot's own figures (`/metrics`, served on loopback), in ms: its event loop's longest
    stall in the last minute, the collector's full passes (generation 2): the time they took in
    all and the longest so far, and the longest malloc_trim so far (None for what it did not
    answer)."""
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://127.0.0.1:{port}/metrics") as answer,
        ):
            text = await answer.text()
    except aiohttp.ClientError:
        return None, None, None, None
    found: dict[str, float] = {}
    for line in text.splitlines():
        name, _, value = line.rpartition(" ")
        if name in (
            LOOP_LAG_MAX,
            f'{GC_PAUSES}{{generation="2"}}',
            f'{GC_PAUSE_MAX}{{generation="2"}}',
            TRIM_MAX,
        ):
            found[name.split("{")[0]] = round(float(value) * 1000, 1)
    return (
        found.get(LOOP_LAG_MAX),
        found.get(GC_PAUSES),
        found.get(GC_PAUSE_MAX),
        found.get(TRIM_MAX),
    )


def bot_cpu(pid: int) -> float:
    """The bot's CPU seconds so far (0 once it has exited)."""
    try:
        return process_cpu_seconds(pid)
    except OSError:
        return 0.0


def describe(share: MachineShare | None) -> str:
    """The machine's CPUs over a sample, in words."""
    if share is None:
        return "CPU use unknown"
    return f"CPUs {share.busy_pct:.0f}% busy, {share.steal_pct:.1f}% taken by the host"


def pending_rows(path: Path) -> int:
    """Events and messages still waiting."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        inbox = conn.execute("SELECT count(*) FROM inbox WHERE processed_at IS NULL").fetchone()
        outbox = conn.execute("SELECT count(*) FROM outbox WHERE state = 'pending'").fetchone()
        return int(inbox[0]) + int(outbox[0])
    finally:
        conn.close()


def main() -> None:
    """Parse arguments, run, print the figures (the last line is one JSON object)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--subscriptions", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--burst-rate", type=float, default=200.0)
    parser.add_argument("--burst-seconds", type=float, default=5.0)
    parser.add_argument("--drop-share", type=float, default=0.02)
    parser.add_argument("--retention-minutes", type=float, default=RETENTION_MINUTES)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    result = asyncio.run(run(args))
    print(
        f"events {result.get('events')}, lost {result.get('lost')}, duplicates "
        f"{result.get('duplicates')}, e2m p95 first/last minute "
        f"{result.get('e2m_p95_first_min_ms')}/{result.get('e2m_p95_last_min_ms')} ms "
        "(target < 1000), ack p99 "
        f"{result.get('ack_p99_ms')} ms (target < 20; {result.get('posts_late')} POSTs "
        f"started late, at most {result.get('post_late_max_ms')} ms), 429s "
        f"{result.get('http_429')}, "
        f"reads/event {result.get('portal_reads_per_event')} (target <= 1.1), RSS "
        f"{result.get('rss_mb_start')} -> {result.get('rss_mb_end')} MB (growth < 20)"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
