"""Three replicas on one PostgreSQL and one Redis, behind a round-robin proxy, killed at random.

The bench runs both emulators in this process (the portal with its 2 requests/s, burst 50
limit; Telegram enforcing its flood limits), a fresh schema of one PostgreSQL database and a
fresh key prefix of one Redis, and `--replicas` bots as `python -m bot` subprocesses in webhook
mode. A small round-robin HTTP proxy (aiohttp, in a process of its own) stands in front of
them: Telegram's webhook and the portal's outgoing webhook both point at it, and a request
that cannot reach a replica (refused, or cut by its death) goes to the next one. With
`--proxy nginx` the proxy is the one `compose.replicas.yaml` runs instead: nginx with
`deploy/nginx-replicas.conf` (tests/nginx_proxy.py: only its listening port and resolver are
changed), the replicas on loopback addresses at port 8080, found by the DNS name `bot`.

Load, for `--seconds` (120 by default):
- portal changes at `--rate` per second (200), each announced by the portal's outgoing
  webhook; `--notify-share` of them (1/8: about 3,000 in two minutes) change a lead of a rep
  who follows their own leads, so one notification is due per such change; the rest change
  leads nobody follows. A rep's chat is changed at most once in `PRIVATE_GAP_SECONDS`, so
  every followed change gets its own message (none is merged with the next);
- `--users` signed-in users each send /menu every `--press-seconds`: each press is due one
  answer;
- `--capturers` reps capture leads without pause (bench/_capture_user.py: /new, title, first
  name and phone typed, the rest skipped, Create; then a contact made from the new lead), each
  press and typed message due an answer;
- `--kills` SIGKILLs, one in each equal slice of the run at a random moment: the first kills
  the replica holding the workers' lease (so the takeover is measured), the others a random
  replica. Each killed replica is started again at once.

Printed, with ratios against the limits, and one JSON object as the last line:
- notifications: acknowledged followed changes without their message (target 0) and extra
  messages (duplicates);
- Telegram answers 429 (target 0);
- notification sends per second, overall and in the busiest minute, against 30/s and against
  what the load offers (`rate x share` a second);
- all sends, the figure with the target: every message Telegram counts against its 30/s
  (notifications and answers to presses and captures, from every replica), in the busiest
  minute (target >= 0.9 of 30/s; the bot itself stays under 28/s, 0.933 of it);
- portal requests against the bucket (burst 50 + 2/s x seconds), the most in any window, and
  refusals (503);
- per leader kill: seconds until another replica holds the lease (for the lone workers: the
  catch-up poller, reminders, nudges...), and until the next notification is sent;
- per kill: the events and messages the dead replica had claimed (every replica processes and
  sends), the seconds until the others had taken all of them (target < 10 s), and until all
  of them were done;
- user presses answered, unanswered, answered twice; answer delay p50/p95;
- captures: presses lost, and duplicate leads or contacts (target 0): the leads and contacts
  the run made in the portal against the distinct captures (one lead per capture title, one
  contact per lead's phone).

Needs PostgreSQL and Redis: `--postgres` (postgresql://postgres@127.0.0.1:5432/test by default,
a schema is created in it and dropped at the end), `--redis` (redis://127.0.0.1:6379/0).
Run: `.venv/bin/python -m bench.replicas [--seconds 120] [--rate 200]`; a quick run:
`--seconds 30 --rate 50 --users 5 --chats 200 --kills 1`; through nginx: add `--proxy nginx`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import multiprocessing
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from bisect import bisect_right
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from aiohttp import web
from redis.asyncio import Redis

from bench._capture_user import ANSWER_TIMEOUT_SECONDS, Capturer, duplicates_made
from bot.notify.budget import counts_as_message
from bot.storage import Binding, BindingSource, Role, utc_now
from bot.storage.bindings import write_binding
from bot.storage.postgres import PostgresDatabase
from bot.storage.timestamps import to_db_time
from bot.web import WEBHOOK_PATH
from tests.debian_tools import NGINX, find_tool
from tests.emulators.bitrix24 import Bitrix24Emulator
from tests.emulators.bitrix24_events import LEAD_EVENTS
from tests.emulators.telegram import DEFAULT_TEST_TOKEN, TelegramEmulator
from tests.nginx_proxy import REPLICA_PORT, loopback_addresses, running_nginx

PROJECT = Path(__file__).resolve().parent.parent
EVENTS_PATH = "/bitrix/events"
WEBHOOK_SECRET = "replicas-bench-secret-0123456789abcdef"
LONG_AGO = "2020-01-15T10:00:00+03:00"
QUIET_USER = 900_000
FIRST_REP = 1_000
FIRST_PRESSER = 50_000
FIRST_CAPTURER = 60_000
CAPTURE_TITLE = "Replica capture"
TG_BASE = 5_000_000
QUIET_LEADS = 5_000
LEADS_PER_REP = 2
PRIVATE_GAP_SECONDS = 2.5
PORTAL_RATE = 2.0
PORTAL_BURST = 50
TELEGRAM_CEILING = 30.0
LEASE_KEY = "lease.workers"
CATCH_UP_SECONDS = 20.0
_LEAD_REF = re.compile(r"#(\d+)")


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100) of values (0 for none)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def most_in_window(times: list[float], length: float) -> int:
    """The most moments inside any closed window of `length` seconds."""
    ordered = sorted(times)
    return max(
        (bisect_right(ordered, start + length) - i for i, start in enumerate(ordered)), default=0
    )


def windows_over(times: list[float], rate: float, burst: int) -> int:
    """Windows (0 to 10 s, from each moment) holding more than burst + rate x length."""
    ordered = sorted(times)
    over = 0
    for length in (0.0, 0.5, 1.0, 2.0, 5.0, 10.0):
        for i, start in enumerate(ordered):
            if bisect_right(ordered, start + length) - i > burst + rate * length + 1e-9:
                over += 1
    return over


# ---------------------------------------------------------------------------- the proxy


def run_proxy(port: int, upstreams: list[int], ready: Any) -> None:
    """The proxy process: round robin over the replicas, the next one when one is down."""

    counts: dict[str, int] = defaultdict(int)
    turn = itertools.count()

    async def forward(request: web.Request) -> web.StreamResponse:
        if request.path == "/_proxy/stats":
            return web.json_response(dict(counts))
        body = await request.read()
        headers = {
            name: value
            for name, value in request.headers.items()
            if name.lower() in ("content-type", "x-telegram-bot-api-secret-token", "user-agent")
        }
        session: aiohttp.ClientSession = request.app["session"]
        first = next(turn)
        for step in range(len(upstreams)):
            target = upstreams[(first + step) % len(upstreams)]
            url = f"http://127.0.0.1:{target}{request.path_qs}"
            try:
                async with session.request(
                    request.method, url, data=body, headers=headers
                ) as answer:
                    payload = await answer.read()
                    counts["forwarded"] += 1
                    if step:
                        counts["failed_over"] += 1
                    return web.Response(
                        status=answer.status,
                        body=payload,
                        content_type=answer.content_type,
                    )
            except (aiohttp.ClientError, TimeoutError):
                counts["upstream_errors"] += 1
        counts["no_replica"] += 1
        return web.Response(status=502, text="no replica answered")

    async def main() -> None:
        app = web.Application(client_max_size=8 * 1024 * 1024)
        app["session"] = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=10, connect=1),
            connector=aiohttp.TCPConnector(limit=200),
        )
        app.router.add_route("*", "/{tail:.*}", forward)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        ready.set()
        try:
            await asyncio.Event().wait()
        finally:
            await app["session"].close()
            await runner.cleanup()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())


# ---------------------------------------------------------------------------- the team


@dataclass
class Team:
    """Reps who follow their own leads, and users who press /menu."""

    reps: list[int]
    pressers: list[int]
    capturers: list[int] = field(default_factory=list)
    leads_of: dict[int, list[int]] = field(default_factory=dict)
    quiet: list[int] = field(default_factory=list)

    @staticmethod
    def chat_of(portal_user_id: int) -> int:
        """The private chat (Telegram id) of a portal user."""
        return TG_BASE + portal_user_id


async def prepare(url: str, team: Team) -> None:
    """Migrate the fresh schema; bindings and subscriptions as if made over weeks."""
    db = PostgresDatabase(url, min_size=1, max_size=2)
    await db.open()
    try:
        async with db.transaction() as conn:
            now = utc_now()
            for user in team.reps + team.pressers + team.capturers:
                await write_binding(
                    conn,
                    Binding(
                        telegram_user_id=Team.chat_of(user),
                        portal_user_id=user,
                        role=Role.REP,
                        bound_via=BindingSource.INVITE,
                        bound_at=now,
                    ),
                )
            stamp = to_db_time(now)
            await conn.execute_many(
                "INSERT INTO subscriptions (chat_id, created_by, kinds, scope, responsible_ids, "
                "stages, sources, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (Team.chat_of(u), Team.chat_of(u), "[]", "mine", "[]", "[]", "[]", stamp)
                    for u in team.reps
                ],
            )
    finally:
        await db.close()


def build_portal(team: Team) -> Bitrix24Emulator:
    """The portal with the team's users and leads."""
    portal = Bitrix24Emulator(rate_limit=True)
    portal.add_user("Quiet", "Owner", user_id=QUIET_USER)
    for user in team.reps + team.pressers + team.capturers:
        portal.add_user(f"User{user}", "Bench", user_id=user)
    old = {"DATE_CREATE": LONG_AGO, "DATE_MODIFY": LONG_AGO}
    team.quiet = portal.seed_leads(QUIET_LEADS, ASSIGNED_BY_ID=str(QUIET_USER), **old)
    owners = [u for u in team.reps for _ in range(LEADS_PER_REP)]
    ids = portal.seed_leads(len(owners), ASSIGNED_BY_ID=lambda i: str(owners[i]), **old)
    for owner, lead_id in zip(owners, ids, strict=True):
        team.leads_of.setdefault(owner, []).append(lead_id)
    return portal


# ---------------------------------------------------------------------------- replicas


class Replica:
    """One `python -m bot` process on a fixed port; killed and started again by the bench."""

    def __init__(
        self, index: int, host: str, port: int, env: dict[str, str], folder: Path
    ) -> None:
        self.index = index
        self.host = host
        self.port = port
        self.env = {**env, "WEB__HOST": host, "WEB__PORT": str(port)}
        self.folder = folder
        self.process: subprocess.Popen[bytes] | None = None
        self.pids: list[int] = []

    def start(self) -> None:
        """Spawn the bot (its output to a log file of its own)."""
        log = (self.folder / f"replica{self.index}.log").open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot"],
            cwd=self.folder,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.pids.append(self.process.pid)

    def kill(self) -> None:
        """SIGKILL, and reap it."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    async def wait_ready(self, timeout: float) -> float:  # noqa: ASYNC109
        """Seconds until its web server answers /healthz."""
        started = time.monotonic()
        async with aiohttp.ClientSession() as session:
            while time.monotonic() - started < timeout:
                assert self.process is not None
                if self.process.poll() is not None:
                    raise RuntimeError(
                        f"replica {self.index} exited with {self.process.returncode}"
                    )
                with contextlib.suppress(aiohttp.ClientError):
                    async with session.get(f"http://{self.host}:{self.port}/healthz") as answer:
                        if answer.status == 200:
                            return time.monotonic() - started
                await asyncio.sleep(0.2)
        raise RuntimeError(f"replica {self.index} did not start in time")

    def stop(self) -> None:
        """SIGTERM and wait (SIGKILL after 30 s)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


async def lease_holder(conn: asyncpg.Connection) -> str | None:
    """The last holder written in the workers' lease (None: let go)."""
    row = await conn.fetchrow("SELECT value FROM kv WHERE key = $1", LEASE_KEY)
    if row is None:
        return None
    value = json.loads(row["value"]) if isinstance(row["value"], str) else row["value"]
    holder: str = value["holder"]
    return holder


ANSWER_SLICE_SECONDS = 15.0
"""Presses are also judged per slice of the run this long (by when they were pressed)."""
CLAIM_WATCH_SECONDS = 120.0
"""How long a kill's claimed rows are watched for before they count as not taken over."""


def pid_of(holder: str | None) -> int | None:
    """The process id in a lease holder's name (host:pid:random)."""
    if holder is None:
        return None
    parts = holder.split(":")
    return int(parts[-2]) if len(parts) >= 3 and parts[-2].isdigit() else None


# ---------------------------------------------------------------------------- load


@dataclass
class Change:
    """One followed portal change: which chat must hear about which lead, from when."""

    lead_id: int
    chat: int
    at: float


@dataclass
class Tally:
    """What the bench did and saw."""

    followed: list[Change] = field(default_factory=list)
    changes: int = 0
    presses: dict[int, list[float]] = field(default_factory=lambda: defaultdict(list))
    kills: list[dict[str, Any]] = field(default_factory=list)
    holders: list[tuple[float, int | None]] = field(default_factory=list)


async def load_changes(
    portal: Bitrix24Emulator, team: Team, args: argparse.Namespace, tally: Tally
) -> None:
    """Change leads at `--rate` a second; each change fires the portal's outgoing webhook."""
    rng = random.Random(11)
    last_chat: dict[int, float] = {}
    started = time.monotonic()
    due = started
    while (now := time.monotonic()) - started < args.seconds:
        if due > now:
            await asyncio.sleep(due - now)
        due += 1.0 / args.rate
        now = time.monotonic()
        tally.changes += 1
        if rng.random() < args.notify_share:
            rep = rng.choice(team.reps)
            chat = Team.chat_of(rep)
            if now - last_chat.get(chat, -1e9) >= PRIVATE_GAP_SECONDS:
                last_chat[chat] = now
                lead_id = rng.choice(team.leads_of[rep])
                tally.followed.append(Change(lead_id, chat, now))
                portal.update_lead(lead_id, {"TITLE": f"Change {tally.changes}"}, 1)
                continue
        lead_id = team.quiet[tally.changes % len(team.quiet)]
        portal.update_lead(lead_id, {"TITLE": f"Change {tally.changes}"}, 1)


async def load_presses(
    telegram: TelegramEmulator, team: Team, args: argparse.Namespace, tally: Tally
) -> None:
    """Each presser sends /menu every `--press-seconds`, spread over the interval."""
    users = {u: telegram.user(Team.chat_of(u), f"User{u}") for u in team.pressers}
    started = time.monotonic()
    step = args.press_seconds / max(1, len(team.pressers))
    for round_ in itertools.count():
        for index, user in enumerate(team.pressers):
            at = started + round_ * args.press_seconds + index * step
            if at - started >= args.seconds:
                return
            await asyncio.sleep(max(0.0, at - time.monotonic()))
            tally.presses[Team.chat_of(user)].append(time.monotonic())
            await users[user].send("/menu")


async def kill_replicas(
    replicas: list[Replica], args: argparse.Namespace, tally: Tally, dsn: str
) -> None:
    """One SIGKILL in each slice of the run; the first at the lease holder."""
    rng = random.Random()
    started = time.monotonic()
    slice_ = args.seconds / max(1, args.kills)
    conn = await asyncpg.connect(dsn)
    watchers: list[asyncio.Task[None]] = []
    try:
        for kill in range(args.kills):
            moment = started + slice_ * kill + rng.uniform(0.1, 0.5) * slice_
            await asyncio.sleep(max(0.0, moment - time.monotonic()))
            holder = await lease_holder(conn)
            leader = pid_of(holder)
            if kill == 0 and leader is not None:
                victim = next((r for r in replicas if r.process and r.process.pid == leader), None)
            else:
                victim = None
            victim = victim or rng.choice(replicas)
            assert victim.process is not None
            was_leader = victim.process.pid == leader
            victim_pid = victim.process.pid
            at = time.monotonic()
            victim.kill()
            tally.kills.append(
                {
                    "at_s": round(at - started, 1),
                    "replica": victim.index,
                    "leader": was_leader,
                    "at": at,
                    "holder": holder,
                }
            )
            watchers.append(
                asyncio.create_task(watch_claims(dsn, victim_pid, at, tally.kills[-1]))
            )
            victim.start()
            with contextlib.suppress(RuntimeError):
                ready = await victim.wait_ready(120)
                tally.kills[-1]["restarted_in_s"] = round(ready, 1)
        await asyncio.gather(*watchers)
    finally:
        for watcher in watchers:
            watcher.cancel()
        await conn.close()


async def watch_claims(dsn: str, pid: int, killed_at: float, entry: dict[str, Any]) -> None:
    """The rows a killed replica held when it died (events it was processing, messages it was
    sending), and the seconds until every one of them was done by the others."""
    holder = f"%:{pid}:%"
    conn = await asyncpg.connect(dsn)
    try:
        events = [
            r[0]
            for r in await conn.fetch(
                "SELECT id FROM inbox WHERE claimed_by LIKE $1 AND processed_at IS NULL", holder
            )
        ]
        messages = [
            r[0]
            for r in await conn.fetch(
                "SELECT id FROM outbox WHERE claimed_by LIKE $1 AND state = 'pending'", holder
            )
        ]
        entry["claimed_events"] = len(events)
        entry["claimed_messages"] = len(messages)
        deadline = killed_at + CLAIM_WATCH_SECONDS
        while "claims_taken_s" not in entry and time.monotonic() < deadline:
            still_held = await conn.fetchval(
                "SELECT (SELECT count(*) FROM inbox WHERE id = ANY($1::bigint[]) "
                "AND processed_at IS NULL AND claimed_by LIKE $3) + (SELECT count(*) FROM outbox "
                "WHERE id = ANY($2::bigint[]) AND state = 'pending' AND claimed_by LIKE $3)",
                events,
                messages,
                holder,
            )
            if still_held == 0:
                entry["claims_taken_s"] = round(time.monotonic() - killed_at, 1)
            else:
                await asyncio.sleep(0.2)
        while time.monotonic() < deadline:
            left = await conn.fetchval(
                "SELECT (SELECT count(*) FROM inbox WHERE id = ANY($1::bigint[]) "
                "AND processed_at IS NULL) + (SELECT count(*) FROM outbox "
                "WHERE id = ANY($2::bigint[]) AND state = 'pending')",
                events,
                messages,
            )
            if left == 0:
                entry["claims_done_s"] = round(time.monotonic() - killed_at, 1)
                return
            await asyncio.sleep(0.2)
        entry["claims_done_s"] = None
    finally:
        await conn.close()


async def watch_lease(dsn: str, tally: Tally, stop: asyncio.Event) -> None:
    """Who holds the workers' lease, every 0.2 s (changes only)."""
    conn = await asyncpg.connect(dsn)
    last: object = object()
    try:
        while not stop.is_set():
            holder = await lease_holder(conn)
            pid = pid_of(holder)
            if pid != last:
                tally.holders.append((time.monotonic(), pid))
                last = pid
            await asyncio.sleep(0.2)
    finally:
        await conn.close()


async def outbox_states(dsn: str) -> dict[str, int]:
    """Notification rows by state at the end ("skipped": sent rows the sender skipped)."""
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("SELECT state, count(*) AS n FROM outbox GROUP BY state")
        skipped = await conn.fetchval(
            "SELECT count(*) FROM outbox WHERE state = 'sent' AND last_error LIKE 'skipped:%'"
        )
        inbox = await conn.fetchval("SELECT count(*) FROM inbox WHERE processed_at IS NULL")
        return {
            **{str(row["state"]): int(row["n"]) for row in rows},
            "skipped": int(skipped),
            "inbox_unprocessed": int(inbox),
        }
    finally:
        await conn.close()


async def processing_lag(dsn: str) -> dict[str, float]:
    """Seconds from an event's arrival in the inbox until it was processed: p50, p95, max."""
    conn = await asyncpg.connect(dsn)
    try:
        row = await conn.fetchrow(
            "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY lag), "
            "percentile_cont(0.95) WITHIN GROUP (ORDER BY lag), max(lag) FROM ("
            "SELECT extract(epoch FROM processed_at::timestamptz - received_at::timestamptz) "
            "AS lag FROM inbox WHERE processed_at IS NOT NULL) AS lags"
        )
        return {
            f"event_processing_lag_{name}_s": round(float(row[n] or 0.0), 2)
            for n, name in enumerate(("p50", "p95", "max"))
        }
    finally:
        await conn.close()


async def pending_work(dsn: str) -> int:
    """Events not processed and notifications not sent yet."""
    conn = await asyncpg.connect(dsn)
    try:
        inbox = await conn.fetchval("SELECT count(*) FROM inbox WHERE processed_at IS NULL")
        outbox = await conn.fetchval("SELECT count(*) FROM outbox WHERE state = 'pending'")
        return int(inbox) + int(outbox)
    finally:
        await conn.close()


# ---------------------------------------------------------------------------- judging


def unacknowledged(portal: Bitrix24Emulator) -> set[int]:
    """Leads with an event that no delivery attempt got a 2xx for (fired minus 2xx)."""
    fired: dict[int, int] = defaultdict(int)
    for _, data in portal.fired_events:
        fired[int(data["FIELDS"]["ID"])] += 1
    for delivery in portal.delivered_events:
        if delivery.ok:
            fired[int(delivery.form.get("data[FIELDS][ID]", 0))] -= 1
    return {lead for lead, left in fired.items() if left > 0}


def judge_notifications(
    tally: Tally,
    telegram: TelegramEmulator,
    unacked_leads: set[int],
    ignore_chats: frozenset[int] = frozenset(),
) -> dict[str, Any]:
    """Match each followed change to its message in the rep's chat (chats in `ignore_chats`,
    the capturing reps', are not notified: their cards name leads too).

    A change without its message counts as lost when every event of its lead was
    acknowledged; a lead with an event the portal never got a 2xx for is counted apart.
    """
    messages: dict[tuple[int, int], list[float]] = defaultdict(list)
    texts: dict[tuple[int, int], list[str]] = defaultdict(list)
    for call in telegram.calls_of("sendMessage"):
        if not call.ok or int(call.params.get("chat_id", 0)) in ignore_chats:
            continue
        text = str(call.params.get("text", ""))
        found = _LEAD_REF.search(text)
        if found is not None:
            key = (int(call.params.get("chat_id", 0)), int(found.group(1)))
            messages[key].append(call.at)
            texts[key].append(text)
    expected: dict[tuple[int, int], list[Change]] = defaultdict(list)
    for change in tally.followed:
        expected[(change.chat, change.lead_id)].append(change)
    lost = duplicates = not_acked = merged = same_text = 0
    for key, changes in expected.items():
        got = sorted(messages.get(key, []))
        changes.sort(key=lambda c: c.at)
        duplicates += max(0, len(got) - len(changes))
        if len(got) > len(changes):
            # The same text twice is a message sent again; different texts are more messages
            # than the bench counted changes (e.g. a change and a later one told apart).
            same_text += len(texts[key]) - len(set(texts[key]))
        used = 0
        for index, change in enumerate(changes):
            while used < len(got) and got[used] < change.at:
                used += 1
            if used >= len(got):
                if change.lead_id in unacked_leads:
                    not_acked += 1
                else:
                    lost += 1
                continue
            following = changes[index + 1].at if index + 1 < len(changes) else float("inf")
            if got[used] < following:
                used += 1  # this change's own message
            else:
                # The lead changed again before any message (a backlog while no replica held
                # the workers): one message tells the chat about both.
                merged += 1
    unexpected = sum(len(v) for k, v in messages.items() if k not in expected)
    send_times = sorted(t for v in messages.values() for t in v)
    return {
        "notifications_due": len(tally.followed),
        "notifications_sent": len(send_times),
        "notifications_lost": lost,
        "notifications_merged_with_a_later_change": merged,
        "notifications_duplicated": duplicates,
        "notifications_duplicated_same_text": same_text,
        "notifications_unexpected": unexpected,
        "notifications_not_acknowledged": not_acked,
        "send_times": send_times,
    }


def judge_captures(portal: Bitrix24Emulator, capturers: list[Capturer]) -> dict[str, Any]:
    """The capturing reps' presses, and the leads and contacts the run made twice."""
    made = duplicates_made(portal, CAPTURE_TITLE)
    delays = sorted(d for c in capturers for d in c.tally.delays)
    return {
        "capturers": len(capturers),
        "captures_begun": sum(c.tally.captures for c in capturers),
        "capture_presses": sum(c.tally.actions for c in capturers),
        "capture_presses_lost": sum(c.tally.lost for c in capturers),
        "capture_off_script": sum(c.tally.off_script for c in capturers),
        "capture_off_script_screens": dict(
            sum((c.tally.off_script_screens for c in capturers), Counter[str]()).most_common(5)
        ),
        "capture_answer_p50_s": round(percentile(delays, 50), 3),
        "capture_answer_p95_s": round(percentile(delays, 95), 3),
        "capture_leads": made.leads,
        "capture_contacts": made.contacts,
        "duplicate_leads": made.duplicate_leads,
        "duplicate_contacts": made.duplicate_contacts,
        "duplicate_leads_or_contacts": made.duplicate_leads + made.duplicate_contacts,
    }


def portal_by_method(calls: list[Any]) -> dict[str, int]:
    """The run's portal requests by method (a batch named by its commands' methods)."""
    methods: Counter[str] = Counter()
    for call in calls:
        names = sorted(set(call.batch_methods)) if call.batch_methods else [call.method]
        methods["+".join(names)[:60]] += 1
    return dict(methods.most_common(8))


def judge_presses(tally: Tally, telegram: TelegramEmulator) -> dict[str, Any]:
    """Each press is due one answer (a message the bot sends to that chat after it)."""
    answers: dict[int, list[float]] = defaultdict(list)
    for call in telegram.calls_of("sendMessage"):
        chat = int(call.params.get("chat_id", 0) or 0)
        if call.ok and chat in tally.presses:
            answers[chat].append(call.at)
    answered = unanswered = twice = 0
    delays: list[float] = []
    first = min((t for presses in tally.presses.values() for t in presses), default=0.0)
    by_slice: dict[int, list[float]] = defaultdict(list)
    for chat, presses in tally.presses.items():
        got = sorted(answers.get(chat, []))
        # Counted per chat once everything drained: a late answer still answers its press.
        answered += min(len(got), len(presses))
        unanswered += max(0, len(presses) - len(got))
        twice += max(0, len(got) - len(presses))
        used = 0
        for press in presses:
            while used < len(got) and got[used] < press:
                used += 1
            if used < len(got):
                delays.append(got[used] - press)
                by_slice[int((press - first) // ANSWER_SLICE_SECONDS)].append(got[used] - press)
                used += 1
    return {
        "presses": sum(len(p) for p in tally.presses.values()),
        "presses_answered": answered,
        "presses_unanswered": unanswered,
        "presses_answered_twice": twice,
        "answer_p50_s": round(percentile(delays, 50), 3),
        "answer_p95_s": round(percentile(delays, 95), 3),
        "answer_max_s": round(max(delays, default=0.0), 3),
        "answer_p95_s_by_slice": [
            round(percentile(by_slice[n], 95), 2) for n in range(max(by_slice, default=-1) + 1)
        ],
    }


def judge_floods(tally: Tally, telegram: TelegramEmulator) -> dict[str, int]:
    """Answers 429 by method and by whose chat it was (a rep's notifications, a presser's)."""
    out: dict[str, int] = defaultdict(int)
    for call in telegram.flood_errors:
        chat = int(call.params.get("chat_id", 0) or 0)
        whose = "presser" if chat in tally.presses else "rep" if chat else "none"
        out[f"{call.method}:{whose}"] += 1
    return dict(out)


def sends_before_floods(tally: Tally, telegram: TelegramEmulator) -> dict[str, int]:
    """Successful sends in the second before each 429: the most, split by kind of chat."""
    sends = [c for c in telegram.calls_of("sendMessage") if c.ok]
    most_total = most_replies = 0
    for flood in telegram.flood_errors:
        window = [c for c in sends if flood.at - 1.0 <= c.at < flood.at]
        replies = sum(1 for c in window if int(c.params.get("chat_id", 0) or 0) in tally.presses)
        if len(window) > most_total:
            most_total, most_replies = len(window), replies
    same_chat = 0
    for flood in telegram.flood_errors:
        chat = flood.params.get("chat_id")
        if any(
            c.params.get("chat_id") == chat and flood.at - 1.0 <= c.at < flood.at for c in sends
        ):
            same_chat += 1
    return {
        "most_sends_in_1s_before_a_429": most_total,
        "of_them_answers": most_replies,
        "429_within_1s_of_a_send_to_its_chat": same_chat,
    }


def judge_takeovers(tally: Tally, send_times: list[float]) -> list[dict[str, Any]]:
    """Per kill: seconds until another replica held the lease, and until the next send."""
    out = []
    for kill in tally.kills:
        entry = {k: v for k, v in kill.items() if k not in ("at", "holder")}
        if kill["leader"]:
            dead = pid_of(kill["holder"])
            after = [t for t, pid in tally.holders if t > kill["at"] and pid not in (None, dead)]
            entry["lease_taken_over_s"] = round(after[0] - kill["at"], 1) if after else None
            sends = [t for t in send_times if t > kill["at"]]
            entry["next_send_s"] = round(sends[0] - kill["at"], 1) if sends else None
            if sends:
                # The backlog of the outage goes out first: the sender's rate when it has work.
                burst = [t for t in sends if t < sends[0] + CATCH_UP_SECONDS]
                entry["catch_up_sends_per_s"] = round(len(burst) / CATCH_UP_SECONDS, 2)
        out.append(entry)
    return out


# ---------------------------------------------------------------------------- the run


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """Set up, load, kill, drain, judge."""
    team = Team(
        reps=[FIRST_REP + n for n in range(args.chats)],
        pressers=[FIRST_PRESSER + n for n in range(args.users)],
        capturers=[FIRST_CAPTURER + n for n in range(args.capturers)],
    )
    portal = build_portal(team)
    telegram = TelegramEmulator(DEFAULT_TEST_TOKEN)
    for user in team.reps:
        telegram.user(Team.chat_of(user), f"User{user}")
    telegram.enable_flood_limits()
    await telegram.start()
    await portal.start()
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    prefix = f"bench:{uuid.uuid4().hex[:12]}:"
    separator = "&" if "?" in args.postgres else "?"
    dsn = f"{args.postgres}{separator}search_path={schema}"
    admin = await asyncpg.connect(args.postgres)
    await admin.execute(f"CREATE SCHEMA {schema}")
    exits = contextlib.AsyncExitStack()
    proxy: multiprocessing.process.BaseProcess | None = None
    if args.proxy == "nginx":
        # The shipped deploy/nginx-replicas.conf in a real nginx (tests/nginx_proxy.py): the
        # replicas on loopback addresses at the file's port, found by the DNS name `bot`.
        nginx = find_tool(NGINX)
        if nginx is None:
            raise SystemExit("--proxy nginx: no nginx here (apt-get install nginx-light)")
        targets = [(address, REPLICA_PORT) for address in loopback_addresses(args.replicas)]
        nginx_folder = Path(exits.enter_context(tempfile.TemporaryDirectory()))
        proxy_url = await exits.enter_async_context(
            running_nginx(nginx, nginx_folder, [host for host, _ in targets])
        )
    else:
        proxy_port = free_port()
        proxy_url = f"http://127.0.0.1:{proxy_port}"
        targets = [("127.0.0.1", free_port()) for _ in range(args.replicas)]
        context = multiprocessing.get_context("spawn")
        ready = context.Event()
        proxy = context.Process(
            target=run_proxy, args=(proxy_port, [port for _, port in targets], ready), daemon=True
        )
        proxy.start()
        await asyncio.to_thread(ready.wait, 30)
    token = portal.add_outgoing_webhook(proxy_url + EVENTS_PATH, LEAD_EVENTS)
    portal.retry_failed_deliveries = True
    replicas: list[Replica] = []
    tally = Tally()
    result: dict[str, Any] = {
        "replicas": args.replicas,
        "seconds": args.seconds,
        "rate": args.rate,
        "proxy_kind": args.proxy,
        "load_average_before": os.getloadavg()[0],
    }
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        try:
            await prepare(dsn, team)
            env = {
                **{
                    k: v
                    for k, v in os.environ.items()
                    if not k.startswith(("TELEGRAM__", "PORTAL__", "STORAGE__", "REDIS__"))
                },
                "PYTHONPATH": str(PROJECT),
                "TELEGRAM__TOKEN": DEFAULT_TEST_TOKEN,
                "TELEGRAM__API_BASE": telegram.base_url,
                "TELEGRAM__ADMIN_IDS": "[]",
                "TELEGRAM__WEBHOOK_URL": proxy_url + WEBHOOK_PATH,
                "TELEGRAM__WEBHOOK_SECRET": WEBHOOK_SECRET,
                "PORTAL__WEBHOOK_URL": portal.webhook_url,
                "PORTAL__APPLICATION_TOKEN": token,
                "PORTAL__MEMBER_ID": portal.member_id,
                "PORTAL__DOMAIN": portal.domain,
                "STORAGE__URL": dsn,
                "REDIS__URL": args.redis,
                "REDIS__KEY_PREFIX": prefix,
                "LOG_LEVEL": "WARNING",
            }
            replicas = [
                Replica(i, host, port, env, folder) for i, (host, port) in enumerate(targets)
            ]
            for replica in replicas:
                replica.start()
            starts = await asyncio.gather(*(r.wait_ready(300) for r in replicas))
            print(f"{args.replicas} replicas ready in {max(starts):.1f} s", flush=True)
            await asyncio.sleep(5)  # start-up reads settle, one replica takes the lease
            stop_watch = asyncio.Event()
            watcher = asyncio.create_task(watch_lease(dsn, tally, stop_watch))
            started = time.monotonic()
            calls_before = len(portal.calls)
            capturers = [
                Capturer(
                    telegram,
                    Team.chat_of(user),
                    title=f"{CAPTURE_TITLE} {index}-",
                    phone_prefix=f"+7917{index:02d}",
                )
                for index, user in enumerate(team.capturers)
            ]
            stop_capturing = asyncio.Event()
            capturing = [asyncio.create_task(c.run(stop_capturing)) for c in capturers]
            await asyncio.gather(
                load_changes(portal, team, args, tally),
                load_presses(telegram, team, args, tally),
                kill_replicas(replicas, args, tally, dsn),
            )
            stop_capturing.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*capturing), ANSWER_TIMEOUT_SECONDS + 30)
            load_seconds = time.monotonic() - started
            print(
                f"load done in {load_seconds:.1f} s: {tally.changes} changes, "
                f"kills {[(k['replica'], k['leader']) for k in tally.kills]}",
                flush=True,
            )
            result["load_average_during"] = os.getloadavg()[0]
            # Let the portal deliver its queue, Telegram its updates, the leader drain.
            deadline = time.monotonic() + args.drain_seconds
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(args.drain_seconds):
                    await portal.drain_events()
            while time.monotonic() < deadline:
                if await pending_work(dsn) == 0 and not telegram.pending_updates:
                    break
                await asyncio.sleep(1)
            await asyncio.sleep(3)
            drained_in = time.monotonic() - started - load_seconds
            stop_watch.set()
            await watcher
            proxy_stats = None  # nginx keeps no counts of its own
            if proxy is not None:
                async with (
                    aiohttp.ClientSession() as session,
                    session.get(proxy_url + "/_proxy/stats") as answer,
                ):
                    proxy_stats = await answer.json()
            delivered = portal.delivered_events
            acked = sum(1 for d in delivered if d.ok)
            notifications = judge_notifications(
                tally,
                telegram,
                unacknowledged(portal),
                frozenset(Team.chat_of(user) for user in team.capturers),
            )
            captures = judge_captures(portal, capturers)
            send_times = notifications.pop("send_times")
            calls = portal.calls[calls_before:]
            portal_times = [c.arrived_at for c in calls if c.status != 503]
            refusals = sum(1 for c in calls if c.status == 503 or c.rejected_by_limit)
            span = (max(portal_times) - min(portal_times)) if portal_times else 0.0
            send_span = (send_times[-1] - send_times[0]) if len(send_times) > 1 else 0.0
            busiest = most_in_window(send_times, 60.0)
            offered = args.rate * args.notify_share
            # Every message Telegram counted against its 30/s: notifications, answers to
            # presses and captures, from all replicas together.
            all_sends = sorted(
                call.at for call in telegram.calls if call.ok and counts_as_message(call.method)
            )
            all_busiest = most_in_window(all_sends, 60.0)
            result.update(
                {
                    "changes": tally.changes,
                    "changes_per_s": round(tally.changes / load_seconds, 1),
                    "events_delivered": len(delivered),
                    "events_acknowledged": acked,
                    "events_refused": sum(1 for d in delivered if not d.ok),
                    "proxy": proxy_stats,
                    "rows_at_end": await outbox_states(dsn),
                    **await processing_lag(dsn),
                    **notifications,
                    "telegram_429": len(telegram.flood_errors),
                    "telegram_429_by_call": judge_floods(tally, telegram),
                    **sends_before_floods(tally, telegram),
                    "sends_per_s": round(len(send_times) / send_span, 2) if send_span else 0,
                    "sends_ratio_to_30": round(len(send_times) / send_span / TELEGRAM_CEILING, 3)
                    if send_span
                    else 0,
                    "sends_busiest_60s_per_s": round(busiest / 60, 2),
                    "sends_busiest_60s_ratio_to_30": round(busiest / 60 / TELEGRAM_CEILING, 3),
                    "all_sends": len(all_sends),
                    "all_sends_busiest_60s_per_s": round(all_busiest / 60, 2),
                    "all_sends_busiest_60s_ratio_to_30": round(
                        all_busiest / 60 / TELEGRAM_CEILING, 3
                    ),
                    "offered_notifications_per_s": round(offered, 1),
                    "sends_busiest_60s_ratio_to_offered": round(busiest / 60 / offered, 3),
                    "portal_requests": len(portal_times),
                    "portal_by_method": portal_by_method(calls),
                    "portal_allowed": round(PORTAL_BURST + PORTAL_RATE * span),
                    "portal_ratio_to_allowed": round(
                        len(portal_times) / (PORTAL_BURST + PORTAL_RATE * span), 3
                    )
                    if portal_times
                    else 0,
                    "portal_max_1s": most_in_window(portal_times, 1.0),
                    "portal_windows_over_bucket": windows_over(
                        portal_times, PORTAL_RATE, PORTAL_BURST
                    ),
                    "portal_refusals": refusals,
                    **judge_presses(tally, telegram),
                    **captures,
                    "kills": judge_takeovers(tally, send_times),
                    "drained_in_s": round(drained_in, 1),
                }
            )
        finally:
            for replica in replicas:
                await asyncio.to_thread(replica.stop)
            if proxy is not None:
                proxy.terminate()
                proxy.join(10)
            await exits.aclose()
            await portal.stop()
            await telegram.stop()
            await admin.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
            await admin.close()
            await forget_keys(args.redis, prefix)
            for replica in replicas:
                tail = (folder / f"replica{replica.index}.log").read_text(errors="replace")
                lines = [
                    line for line in tail.splitlines() if "Traceback" in line or "ERROR" in line
                ]
                if lines:
                    print(f"replica {replica.index}: {len(lines)} error lines, e.g. {lines[0]}")
    return result


async def forget_keys(url: str, prefix: str) -> None:
    """Delete the run's Redis keys."""
    redis = Redis.from_url(url)
    try:
        keys = [key async for key in redis.scan_iter(match=f"{prefix}*")]
        if keys:
            await redis.delete(*keys)
    finally:
        await redis.aclose()


def report(f: dict[str, Any]) -> None:
    """The figures, with their limits."""
    print(
        f"{f['replicas']} replicas, {f['seconds']:.0f} s, {f['changes']} portal changes "
        f"({f['changes_per_s']}/s of {f['rate']:.0f}/s asked); events delivered "
        f"{f['events_delivered']}, acknowledged {f['events_acknowledged']}; proxy "
        f"{f['proxy_kind']} {f['proxy'] or ''}"
    )
    print(
        f"notifications: {f['notifications_due']} due, {f['notifications_sent']} sent; lost "
        f"{f['notifications_lost']} (target 0), duplicated {f['notifications_duplicated']} "
        f"({f['notifications_duplicated_same_text']} with the same text), "
        f"merged with a later change of the lead {f['notifications_merged_with_a_later_change']}"
        f", not acknowledged by the portal's delivery {f['notifications_not_acknowledged']}; "
        f"rows at the end {f['rows_at_end']}; an event waited to be processed p50 "
        f"{f['event_processing_lag_p50_s']} s, p95 {f['event_processing_lag_p95_s']} s, at most "
        f"{f['event_processing_lag_max_s']} s"
    )
    print(
        f"Telegram answers 429: {f['telegram_429']} (target 0) {f['telegram_429_by_call']}; "
        f"most sends in the second before one: {f['most_sends_in_1s_before_a_429']} "
        f"({f['of_them_answers']} of them answers to presses); "
        f"{f['429_within_1s_of_a_send_to_its_chat']} came within 1 s of a send to the same chat"
    )
    print(
        f"notification sends: {f['sends_per_s']}/s overall = {f['sends_ratio_to_30']} of 30/s; "
        f"busiest minute {f['sends_busiest_60s_per_s']}/s = {f['sends_busiest_60s_ratio_to_30']} "
        f"(offered {f['offered_notifications_per_s']}/s, busiest minute "
        f"{f['sends_busiest_60s_ratio_to_offered']} of that)"
    )
    print(
        f"all sends (notifications and answers, every replica): {f['all_sends']}, busiest "
        f"minute {f['all_sends_busiest_60s_per_s']}/s = "
        f"{f['all_sends_busiest_60s_ratio_to_30']} of 30/s (target >= 0.9; the bot's own "
        f"ceiling, NOTIFY__GLOBAL_PER_SECOND 28, is 0.933 of it)"
    )
    print(
        f"portal: {f['portal_requests']} requests of {f['portal_allowed']} the bucket allows "
        f"(ratio {f['portal_ratio_to_allowed']}), most in 1 s {f['portal_max_1s']} (limit 52), "
        f"windows over the bucket {f['portal_windows_over_bucket']}, refusals "
        f"{f['portal_refusals']}; by method {f['portal_by_method']}"
    )
    for kill in f["kills"]:
        line = f"kill at {kill['at_s']} s: replica {kill['replica']}"
        if kill["leader"]:
            line += (
                f" (the leader): lease taken over after {kill.get('lease_taken_over_s')} s, "
                f"next notification after {kill.get('next_send_s')} s (target < 10 s), then "
                f"{kill.get('catch_up_sends_per_s')} sends/s for {CATCH_UP_SECONDS:.0f} s"
            )
        line += (
            f"; it held {kill.get('claimed_events')} events and {kill.get('claimed_messages')} "
            f"messages, all taken by the others after {kill.get('claims_taken_s')} s "
            f"(target < 10 s) and done after {kill.get('claims_done_s')} s"
        )
        print(line + f", restarted in {kill.get('restarted_in_s')} s")
    print(
        f"user presses: {f['presses']}, answered {f['presses_answered']}, unanswered "
        f"{f['presses_unanswered']} (target 0), answered twice {f['presses_answered_twice']}; "
        f"answer p50 {f['answer_p50_s']} s, p95 {f['answer_p95_s']} s; p95 by "
        f"{ANSWER_SLICE_SECONDS:.0f} s of presses {f['answer_p95_s_by_slice']}"
    )
    print(
        f"captures: {f['captures_begun']} begun by {f['capturers']} reps, {f['capture_presses']} "
        f"presses and messages, lost {f['capture_presses_lost']} (target 0), answer p50 "
        f"{f['capture_answer_p50_s']} s, p95 {f['capture_answer_p95_s']} s; leads made "
        f"{f['capture_leads']}, contacts made {f['capture_contacts']}; duplicate leads or "
        f"contacts {f['duplicate_leads_or_contacts']} (target 0); screens off the capture "
        f"{f['capture_off_script']} {f['capture_off_script_screens']}"
    )
    print(
        f"load average: {f['load_average_before']:.2f} before, "
        f"{f['load_average_during']:.2f} at the end of the load"
    )


def main() -> None:
    """Parse arguments, run, print the figures (the last line is one JSON object)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--notify-share", type=float, default=0.15)
    parser.add_argument("--chats", type=int, default=1000)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--press-seconds", type=float, default=5.0)
    parser.add_argument("--capturers", type=int, default=3)
    parser.add_argument("--kills", type=int, default=3)
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument(
        "--proxy",
        choices=("builtin", "nginx"),
        default="builtin",
        help="builtin: a small aiohttp proxy; nginx: deploy/nginx-replicas.conf in a real nginx",
    )
    parser.add_argument("--drain-seconds", type=float, default=240.0)
    parser.add_argument(
        "--postgres",
        default=os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"),
    )
    parser.add_argument(
        "--redis", default=os.environ.get("REDIS__URL") or "redis://127.0.0.1:6379/0"
    )
    args = parser.parse_args()
    figures = asyncio.run(run(args))
    report(figures)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
