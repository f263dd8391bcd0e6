"""Follow-up reminders: 1,000 due moments across 10 minutes, a restart in the middle.

The whole application runs (`bot.app.Application`: scheduler, outbox sender, real aiogram
`Bot`, real portal client) against the Telegram emulator enforcing Telegram's flood limits and
the portal emulator. `--reminders` reminders for `--users` bound users are stored with due
moments spread evenly over `--minutes` of the bot's clock; halfway through, the application is
stopped, stays down `--downtime` real seconds, and a new one starts on the same database.

With `--speed` above 1 the bot's clock runs that many times faster than real time (the
scheduler sleeps accordingly), so the bench takes `--minutes / --speed` real minutes; the
output says which. Lateness is the time from a reminder's due moment to its `sendMessage`
reaching Telegram, in real seconds (bot-clock seconds are `--speed` times more). Reminders due
while the bot was down are counted apart: they may be late by the downtime. Targets: p99
lateness outside the downtime < 2 s, 0 missed, 0 sent twice.

The last line is one JSON object with every figure.

Run: `.venv/bin/python -m bench.reminders [--reminders 1000] [--minutes 10] [--speed 1]`
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import re
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.app import Application
from bot.config import PortalSettings, Settings, StorageSettings, TelegramSettings, WebSettings
from bot.storage import BindingRepository
from bot.storage.models import Binding, BindingSource, Role
from bot.storage.reminders import Reminder, ReminderRepository
from tests.emulators.bitrix24 import Bitrix24Emulator
from tests.emulators.telegram import DEFAULT_TEST_TOKEN, TelegramEmulator

FIRST_USER = 700_000
FIRST_PORTAL_USER = 5_000
LEAD_MARK = re.compile(r"\(lead #([\d,]+)\)")
"""The lead's number in a reminder, as the English catalogue writes it (1,000)."""
TARGET_P99_SECONDS = 2.0
LEAD_IN_SECONDS = 5.0
"""Real seconds between storing the reminders and the first due moment."""
DRAIN_SECONDS = 30.0


class FastClock:
    """The bot's clock: a UTC start moment plus `speed` times the real seconds since."""

    def __init__(self, speed: float) -> None:
        self.speed = speed
        self.start = datetime.now(UTC)
        self.real_start = time.monotonic()

    def __call__(self) -> datetime:
        return self.start + timedelta(seconds=(time.monotonic() - self.real_start) * self.speed)

    def real(self, moment: datetime) -> float:
        """The monotonic real time at which the bot's clock shows `moment`."""
        return self.real_start + (moment - self.start).total_seconds() / self.speed


def percentile(values: list[float], fraction: float) -> float:
    """The value below which `fraction` of `values` lie (nearest rank)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def settings_for(folder: Path, telegram: TelegramEmulator, portal: Bitrix24Emulator) -> Settings:
    """Default settings pointed at both emulators and a fresh database."""
    return Settings(
        _env_file=None,
        telegram=TelegramSettings(token=DEFAULT_TEST_TOKEN, api_base=telegram.base_url),
        portal=PortalSettings(webhook_url=portal.webhook_url),
        storage=StorageSettings(path=folder / "bot.sqlite3"),
        web=WebSettings(host="127.0.0.1", port=0),
    )


async def run(
    reminders: int, users: int, minutes: float, speed: float, downtime: float
) -> dict[str, float | int | list[str]]:
    """Store the reminders, run, restart in the middle, and measure what Telegram got."""
    telegram = TelegramEmulator(DEFAULT_TEST_TOKEN)
    telegram.enable_flood_limits()
    portal = Bitrix24Emulator()
    await telegram.start()
    await portal.start()
    clock = FastClock(speed)
    try:
        with tempfile.TemporaryDirectory() as folder:
            settings = settings_for(Path(folder), telegram, portal)
            app = Application(settings, clock=clock, clock_speed=speed)
            await app.start()
            bindings = BindingRepository(app.db)
            for index in range(users):
                telegram.user(FIRST_USER + index, f"User {index}")
                portal.add_user(f"User{index}", "Bench", user_id=FIRST_PORTAL_USER + index)
                await bindings.upsert(
                    Binding(
                        telegram_user_id=FIRST_USER + index,
                        portal_user_id=FIRST_PORTAL_USER + index,
                        role=Role.REP,
                        bound_via=BindingSource.CONTACT,
                        bound_at=clock(),
                    )
                )
            first = clock() + timedelta(seconds=LEAD_IN_SECONDS * speed)
            span = timedelta(minutes=minutes)
            due: dict[int, datetime] = {}
            repository = ReminderRepository(app.db, clock=clock)
            # Each reminder is an open to-do on a lead in the portal, as the bot makes them:
            # the scheduler asks the portal which due to-dos are still open before it reminds.
            # Deadlines in whole seconds, as the portal keeps them (the follow-up sync would
            # take a finer moment for a moved deadline).
            lead_ids = portal.seed_leads(
                reminders, ASSIGNED_BY_ID=lambda i: str(FIRST_PORTAL_USER + i % users)
            )
            for index, lead_id in enumerate(lead_ids):
                moment = (first + span * index / reminders).replace(microsecond=0)
                due[lead_id] = moment
                todo_id = portal.add_todo(
                    {
                        "ownerTypeId": 1,
                        "ownerId": lead_id,
                        "deadline": moment.isoformat(),
                        "responsibleId": FIRST_PORTAL_USER + index % users,
                    },
                    1,
                )
                await repository.schedule(
                    Reminder(
                        activity_id=todo_id,
                        lead_id=lead_id,
                        telegram_user_id=FIRST_USER + index % users,
                        due_at=moment,
                        fire_at=moment,
                        lead_title=f"Bench lead {lead_id}",
                    )
                )
            assert app.reminders is not None
            app.reminders.wake()

            middle = clock.real(first + span / 2)
            await asyncio.sleep(max(0.0, middle - time.monotonic()))
            down_from = time.monotonic()
            assert app.followup_sync is not None
            checks = app.followup_sync.checks
            await app.stop()
            await asyncio.sleep(downtime)
            app = Application(settings, clock=clock, clock_speed=speed)
            await app.start()
            down_to = time.monotonic()

            end = clock.real(first + span)
            deadline = end + DRAIN_SECONDS
            while time.monotonic() < deadline:
                if len(_sent(telegram)) >= reminders and time.monotonic() > end:
                    break
                await asyncio.sleep(0.5)
            await asyncio.sleep(2.0)  # anything sent twice would arrive by now
            unsent = sorted(set(due) - {number for number, _ in _sent(telegram)})
            lost = await _where(app, unsent)
            assert app.followup_sync is not None
            checks += app.followup_sync.checks
            await app.stop()
    finally:
        await telegram.stop()
        await portal.stop()

    sent = _sent(telegram)
    counts = Counter(number for number, _ in sent)
    first_sent: dict[int, float] = {}
    for number, at in sent:
        first_sent.setdefault(number, at)
    outside: list[float] = []
    inside: list[float] = []
    for number, moment in due.items():
        if number not in first_sent:
            continue
        due_real = clock.real(moment)
        lateness = first_sent[number] - due_real
        (inside if down_from - 1.0 <= due_real <= down_to else outside).append(lateness)
    return {
        "reminders": reminders,
        "users": users,
        "minutes": minutes,
        "clock_speed": speed,
        "downtime_s": round(down_to - down_from, 2),
        "sent": len(sent),
        "missed": sum(1 for number in due if number not in counts),
        "doubled": sum(1 for n in counts.values() if n > 1),
        "p50_late_s": round(percentile(outside, 0.5), 3),
        "p99_late_s": round(percentile(outside, 0.99), 3),
        "max_late_s": round(max(outside, default=0.0), 3),
        "early": sum(1 for value in outside + inside if value < 0),
        "p99_ratio_to_target": round(percentile(outside, 0.99) / TARGET_P99_SECONDS, 3),
        "during_downtime": len(inside),
        "max_late_downtime_s": round(max(inside, default=0.0), 3),
        "lost_at": lost,
        "answers_429": sum(1 for call in telegram.calls if call.error_code == 429),
        "portal_todo_checks": checks,
    }


async def _where(app: Application, numbers: list[int]) -> list[str]:
    """Where each unsent reminder stopped: its state, and its message's state and error."""
    found = []
    for number in numbers[:10]:
        row = await app.db.fetch_one(
            "SELECT r.state, o.state, o.last_error, o.attempts FROM reminders AS r "
            "LEFT JOIN outbox AS o ON o.idempotency_key LIKE 'reminder:' || r.activity_id || ':%' "
            "WHERE r.lead_id = ?",
            (number,),
        )
        found.append(f"{number}: {tuple(row) if row is not None else None}")
    return found


def _sent(telegram: TelegramEmulator) -> list[tuple[int, float]]:
    """(reminder number, real moment) of every reminder Telegram accepted."""
    found = []
    for call in telegram.calls_of("sendMessage"):
        match = LEAD_MARK.search(str(call.params.get("text", "")))
        if call.ok and match:
            found.append((int(match.group(1).replace(",", "")), call.at))
    return found


def main() -> None:
    """Command-line entry point: prints the figures, then one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reminders", type=int, default=1000)
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--speed", type=float, default=1.0)
    parser.add_argument("--downtime", type=float, default=10.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    figures = asyncio.run(run(args.reminders, args.users, args.minutes, args.speed, args.downtime))
    real_minutes = args.minutes / args.speed
    print(
        f"{figures['reminders']} reminders over {figures['minutes']} min of the bot's clock "
        f"(clock speed x{figures['clock_speed']}: {real_minutes:.1f} real min), "
        f"{figures['users']} users, restart with {figures['downtime_s']} s down"
    )
    print(
        f"sent {figures['sent']}, missed {figures['missed']}, sent twice {figures['doubled']}, "
        f"early {figures['early']}, 429 answers {figures['answers_429']}"
    )
    print(
        f"lateness outside the downtime (real s): p50 {figures['p50_late_s']}, "
        f"p99 {figures['p99_late_s']} (target < {TARGET_P99_SECONDS}, ratio "
        f"{figures['p99_ratio_to_target']}), max {figures['max_late_s']}"
    )
    print(
        f"due during the downtime: {figures['during_downtime']}, "
        f"latest {figures['max_late_downtime_s']} s late"
    )
    print(
        f"portal checks of which due to-dos are still open: {figures['portal_todo_checks']} "
        f"requests ({figures['portal_todo_checks'] / max(1.0, real_minutes):.1f} a real minute; "
        "the portal allows 120)"
    )
    if figures["lost_at"]:
        print(f"unsent (reminder, outbox): {figures['lost_at']}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
