"""Three replicas hammering the budgets they share through Redis, each in its own process.

Every process runs one `RedisPortalLimiter` and one `RedisSendBudget` on the same key prefix
for `--seconds` (30 by default):

- portal: 1 interactive caller (one request, then a pause of 3 s, like someone reading
  cards: 1 request/s over the replicas, half the budget) and 6 background callers (one
  request after another, like the poller and bulk reads). Limit: 2 requests/s, burst 50.
- Telegram: 8 senders, each picking a random chat among 40 private chats and 3 groups, taking
  a send from the budget, "sending" for 20 ms and reporting it done (like `OutboxSender`: a
  chat still in its gap is skipped for another). Limits: 28/s overall as configured (Telegram
  allows about 30/s), 1/s a private chat, 20/min a group.

Every grant is stamped with Redis's clock (`TIME`, in the Lua scripts), so the windows below
are measured on one clock for all processes. Printed: grants/s against the rate, the most
grants in any 1-s window (all of them, and after the portal's opening burst), whether every
window kept burst + rate x length, the shortest gap between two sends to one chat, and the
most sends to one group in any 60-s window. The last line is one JSON object.

Needs Redis: `REDIS__URL` (redis://127.0.0.1:6379/0 by default).
Run: `.venv/bin/python -m bench.shared_budget [--seconds 30] [--replicas 3]`
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from bisect import bisect_right
from typing import Any

from redis.asyncio import Redis

from bot.config import NotifySettings
from bot.portal.limiter import Lane
from bot.replicas import RedisKeys, RedisPortalLimiter, RedisSendBudget

PORTAL_RATE = 2.0
PORTAL_BURST = 50
INTERACTIVE_CALLERS = 1
INTERACTIVE_PAUSE_SECONDS = 3.0
BACKGROUND_CALLERS = 6
SENDERS = 8
SEND_SECONDS = 0.02
PRIVATE_CHATS = [600_000 + n for n in range(40)]
GROUPS = [-7001, -7002, -7003]
TELEGRAM_CEILING = 30.0


def redis_url() -> str:
    return os.environ.get("REDIS__URL") or "redis://127.0.0.1:6379/0"


async def replica(prefix: str, name: str, seconds: float) -> dict[str, Any]:
    """One replica's run: every grant it got, stamped with Redis's clock."""
    redis = Redis.from_url(redis_url())
    keys = RedisKeys(prefix, replica=name)
    portal: list[tuple[float, str, float]] = []  # (granted at, lane, waited)
    sends: list[tuple[float, int]] = []
    granted_at: list[float] = []
    limiter = RedisPortalLimiter(
        redis, keys, drain_per_second=PORTAL_RATE, burst=PORTAL_BURST, on_grant=granted_at.append
    )
    budget = RedisSendBudget(redis, keys, NotifySettings())
    deadline = time.monotonic() + seconds
    rng = random.Random(name)

    async def caller(lane: Lane) -> None:
        while time.monotonic() < deadline:
            asked = time.monotonic()
            await limiter.acquire(lane)
            portal.append((granted_at[-1], lane.value, time.monotonic() - asked))
            if lane is Lane.INTERACTIVE:
                await asyncio.sleep(INTERACTIVE_PAUSE_SECONDS)

    async def sender() -> None:
        chats = PRIVATE_CHATS + GROUPS
        while time.monotonic() < deadline:
            turn = await budget.take(rng.choice(chats))
            if turn.send is None:
                # A chat in its gap is left for another; an overall wait is waited.
                await asyncio.sleep(0.001 if turn.chat_waits else turn.wait)
                continue
            sends.append((turn.at, chat_of(turn)))
            await asyncio.sleep(SEND_SECONDS)
            await budget.done(turn.send)

    last_chat: dict[int, int] = {}

    def chat_of(turn: Any) -> int:
        return last_chat[turn.send]

    original_take = budget.take

    async def take(
        chat_id: int, *, chat_gap: bool = True, mark_chat: bool = False, routine: bool = False
    ) -> Any:
        turn = await original_take(
            chat_id, chat_gap=chat_gap, mark_chat=mark_chat, routine=routine
        )
        if turn.send is not None:
            last_chat[turn.send] = chat_id
        return turn

    budget.take = take  # type: ignore[method-assign]
    tasks = [caller(Lane.INTERACTIVE) for _ in range(INTERACTIVE_CALLERS)]
    tasks += [caller(Lane.BACKGROUND) for _ in range(BACKGROUND_CALLERS)]
    tasks += [sender() for _ in range(SENDERS)]
    try:
        async with asyncio.timeout(seconds + 30):
            await asyncio.gather(*tasks)
    finally:
        await redis.aclose()
    return {"portal": portal, "sends": sends}


def most_in_window(times: list[float], length: float) -> int:
    """The most moments inside any closed window of `length` seconds."""
    ordered = sorted(times)
    return max(
        (bisect_right(ordered, start + length) - i for i, start in enumerate(ordered)), default=0
    )


def windows_over(times: list[float], rate: float, burst: int) -> int:
    """Windows (of 0.1 to 10 s, from each grant) holding more than burst + rate x length."""
    ordered = sorted(times)
    over = 0
    for length in (0.0, 0.1, 0.5, 1.0, 2.0, 5.0, 10.0):
        for i, start in enumerate(ordered):
            if bisect_right(ordered, start + length) - i > burst + rate * length + 1e-9:
                over += 1
    return over


def analyse(runs: list[dict[str, Any]], seconds: float) -> dict[str, Any]:
    portal = [grant for run in runs for grant in run["portal"]]
    sends = [send for run in runs for send in run["sends"]]
    portal_times = sorted(at for at, _, _ in portal)
    start = portal_times[0]
    steady_from = start + 1.0  # the opening burst goes within the first second
    after_burst = [t for t in portal_times if t >= steady_from]
    span = portal_times[-1] - start
    # Waits once the opening burst is spent: what each lane gets from the drain alone.
    interactive_waits = [w for at, lane, w in portal if lane == "interactive" and at >= start + 1]
    background_waits = [w for at, lane, w in portal if lane == "background" and at >= start + 1]
    limits = NotifySettings()
    send_times = sorted(at for at, _ in sends)
    per_chat: dict[int, list[float]] = {}
    for at, chat in sends:
        per_chat.setdefault(chat, []).append(at)
    private_gaps = [
        b - a
        for chat, times in per_chat.items()
        if chat > 0
        for a, b in zip(sorted(times), sorted(times)[1:], strict=False)
    ]
    group_most = max(most_in_window(per_chat.get(g, []), 60.0) for g in GROUPS)
    private_most = max(most_in_window(t, 1.0) for c, t in per_chat.items() if c > 0)
    send_span = send_times[-1] - send_times[0]
    return {
        "replicas": len(runs),
        "seconds": seconds,
        "portal_grants": len(portal_times),
        "portal_grants_per_s": round(len(portal_times) / span, 3),
        "portal_allowed_grants": PORTAL_BURST + PORTAL_RATE * span,
        "portal_ratio_to_allowed": round(
            len(portal_times) / (PORTAL_BURST + PORTAL_RATE * span), 3
        ),
        "portal_max_1s": most_in_window(portal_times, 1.0),
        "portal_max_1s_limit": PORTAL_BURST + PORTAL_RATE,
        "portal_steady_grants_per_s": round(
            len(after_burst) / max(1e-9, portal_times[-1] - steady_from),
            3,
        ),
        "portal_steady_max_1s": most_in_window(after_burst, 1.0),
        "portal_windows_over_limit": windows_over(portal_times, PORTAL_RATE, PORTAL_BURST),
        "portal_interactive_grants": len(interactive_waits),
        "portal_interactive_wait_p50_s": round(statistics.median(interactive_waits), 3),
        "portal_interactive_wait_max_s": round(max(interactive_waits), 3),
        "portal_background_grants": len(background_waits),
        "portal_background_wait_p50_s": round(statistics.median(background_waits), 3),
        "telegram_sends": len(send_times),
        "telegram_sends_per_s": round(len(send_times) / send_span, 3),
        "telegram_rate_configured": limits.global_per_second,
        "telegram_ratio_to_ceiling": round(len(send_times) / send_span / TELEGRAM_CEILING, 3),
        "telegram_max_1s": most_in_window(send_times, 1.0),
        "telegram_max_1s_limit": TELEGRAM_CEILING,
        "telegram_windows_over_configured": windows_over(
            send_times, limits.global_per_second, limits.global_burst
        ),
        "private_min_gap_s": round(min(private_gaps), 3) if private_gaps else None,
        "private_max_1s": private_most,
        "private_max_1s_limit": 1,
        "group_max_60s": group_most,
        "group_max_60s_limit": limits.group_per_minute,
    }


def report(figures: dict[str, Any]) -> None:
    f = figures
    print(
        f"{f['replicas']} replicas in their own processes, {f['seconds']:.0f} s, one Redis budget"
    )
    print("portal (2/s, burst 50):")
    print(
        f"  {f['portal_grants']} grants, {f['portal_grants_per_s']}/s overall; allowed "
        f"{f['portal_allowed_grants']:.0f} (ratio {f['portal_ratio_to_allowed']})"
    )
    print(
        f"  most in any 1 s: {f['portal_max_1s']} (limit {f['portal_max_1s_limit']:.0f}); "
        f"after the burst {f['portal_steady_grants_per_s']}/s, most in 1 s "
        f"{f['portal_steady_max_1s']} (limit 3: 2/s and a window's two ends)"
    )
    print(f"  windows over burst + rate x length: {f['portal_windows_over_limit']} (target 0)")
    print(
        f"  after the burst, interactive: {f['portal_interactive_grants']} grants, wait p50 "
        f"{f['portal_interactive_wait_p50_s']} s, max {f['portal_interactive_wait_max_s']} s; "
        f"background: {f['portal_background_grants']} grants, wait p50 "
        f"{f['portal_background_wait_p50_s']} s"
    )
    print("telegram (28/s configured, 30/s ceiling; 1/s a chat; 20/min a group):")
    print(
        f"  {f['telegram_sends']} sends, {f['telegram_sends_per_s']}/s "
        f"(ratio to 30/s: {f['telegram_ratio_to_ceiling']}); most in any 1 s: "
        f"{f['telegram_max_1s']} (limit 30)"
    )
    print(f"  windows over 28/s + burst 5: {f['telegram_windows_over_configured']} (target 0)")
    print(
        f"  private chats: shortest gap {f['private_min_gap_s']} s (limit 1), most in 1 s "
        f"{f['private_max_1s']} (limit 1); groups: most in 60 s {f['group_max_60s']} (limit 20)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--worker", nargs=2, metavar=("PREFIX", "NAME"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        prefix, name = args.worker
        print(json.dumps(asyncio.run(replica(prefix, name, args.seconds))))
        return
    prefix = f"bench:{uuid.uuid4().hex[:12]}:"
    workers = [
        subprocess.Popen(  # noqa: S603 - this same module, with our own arguments
            [
                sys.executable,
                *("-m", "bench.shared_budget", "--seconds", str(args.seconds)),
                *("--worker", prefix, f"replica{n}"),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        for n in range(args.replicas)
    ]
    runs = []
    for worker in workers:
        out, _ = worker.communicate()
        if worker.returncode != 0:
            sys.exit(f"a replica failed (exit {worker.returncode})")
        runs.append(json.loads(out.strip().splitlines()[-1]))
    asyncio.run(_forget(prefix))
    figures = analyse(runs, args.seconds)
    report(figures)
    print(json.dumps(figures))


async def _forget(prefix: str) -> None:
    redis = Redis.from_url(redis_url())
    try:
        keys = [key async for key in redis.scan_iter(match=f"{prefix}*")]
        if keys:
            await redis.delete(*keys)
    finally:
        await redis.aclose()


if __name__ == "__main__":
    main()
