"""Speed to lead under load: new leads in a group that escalates after one minute.

The whole bot runs in this process (`Application`, real aiogram `Bot`, real portal client,
webhook events from the portal emulator) against both emulators; Telegram's flood limits
are enforced, edits counted like sends. `--leads` leads (100) are added one every
`--interval` seconds (1.2); a share (`--taken`, 0.3) is taken before its deadline, at a
random 10-45 s after creation: through the group's 🙋 Take when its message is already
there, else by changing the responsible in the portal. Every other lead must be escalated to
each manager (two) once, on time; none of the taken ones may be.

Time is real: one minute of waiting is one real minute (clock factor 1; the bot's deadlines
come from the portal's DATE_CREATE, which a scaled clock would contradict).

Printed: how many leads were escalated and on time, the lateness of each escalation against
its deadline (when the worker queued it, and when Telegram accepted the message) as
p50/p99/max, escalations of taken leads (target 0), the most sends and edits any group got in
60 s (limit 20) and answers 429 (target 0), counter edits, and portal reads per due lead
(limit 1). The last line is one JSON object with every figure.

Run: `.venv/bin/python -m bench.escalation [--leads 100] [--interval 1.2] [--taken 0.3]`
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import random
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.fanout import max_per_minute, percentile
from bot.app import Application
from bot.config import (
    EventsSettings,
    PortalSettings,
    Settings,
    StorageSettings,
    TelegramSettings,
    WebSettings,
)
from bot.notify.buttons import LeadAction, LeadButton
from bot.storage import BindingRepository, Role
from bot.storage.models import Binding, BindingSource
from bot.storage.subscriptions import EventKind, NewSubscription, Scope, SubscriptionRepository
from bot.storage.timestamps import from_db_time
from tests.emulators.bitrix24 import Bitrix24Emulator
from tests.emulators.telegram import DEFAULT_TEST_TOKEN, TelegramEmulator
from tests.emulators.telegram_models import FloodLimits

ADMIN_TG, OLGA_TG, IVAN_TG = 1001, 3001, 2001
ANNA_PORTAL, IVAN_PORTAL, OLGA_PORTAL = 1, 2, 3
MANAGERS = (ADMIN_TG, OLGA_TG)
GROUP = -4001
WAIT_MINUTES = 1
ON_TIME_SECONDS = 5.0
"""An escalation queued within this long after its deadline counts as on time."""
GROUP_LIMIT = 20
SETTLE_SECONDS = 25.0
"""After the last deadline: time for the last escalations to reach Telegram."""


@dataclass
class Plan:
    """What the bench did to each lead."""

    created: dict[int, float] = field(default_factory=dict)
    taken_at: dict[int, float] = field(default_factory=dict)
    taken_by_button: set[int] = field(default_factory=set)


def settings_for(folder: Path, telegram: TelegramEmulator, portal: Bitrix24Emulator) -> Settings:
    """The bot against both emulators, events by the portal's outgoing webhook."""
    token = portal.add_outgoing_webhook("http://127.0.0.1:9/not-yet")
    return Settings(
        _env_file=None,
        telegram=TelegramSettings(
            token=DEFAULT_TEST_TOKEN, api_base=telegram.base_url, admin_ids=[ADMIN_TG]
        ),
        portal=PortalSettings(
            webhook_url=portal.webhook_url,
            application_token=token,
            member_id=portal.member_id,
            domain=portal.domain,
        ),
        storage=StorageSettings(path=folder / "bot.sqlite3"),
        web=WebSettings(host="127.0.0.1", port=0),
        events=EventsSettings(poll_interval_seconds=5.0),
    )


async def set_up_team(app: Application, telegram: TelegramEmulator) -> None:
    """Anna (admin) and Olga (manager) in private chats, Ivan (rep), the escalating group."""
    bindings = BindingRepository(app.db)
    now = datetime.now(UTC)
    for telegram_id, portal_id, role, name in (
        (ADMIN_TG, ANNA_PORTAL, Role.ADMIN, "Anna"),
        (IVAN_TG, IVAN_PORTAL, Role.REP, "Ivan"),
        (OLGA_TG, OLGA_PORTAL, Role.MANAGER, "Olga"),
    ):
        telegram.user(telegram_id, name)
        await bindings.upsert(
            Binding(
                telegram_user_id=telegram_id,
                portal_user_id=portal_id,
                role=role,
                bound_via=BindingSource.INVITE,
                bound_at=now,
            )
        )
    telegram.add_group(GROUP, "Sales", admins=[ADMIN_TG], members=[IVAN_TG, OLGA_TG])
    subscriptions = SubscriptionRepository(app.db)
    sub = await subscriptions.create(
        NewSubscription(
            chat_id=GROUP,
            thread_id=None,
            created_by=ADMIN_TG,
            scope=Scope.ALL,
            kinds=frozenset({EventKind.ADDED}),
            language="en",
        )
    )
    # One minute is below the dialog's choices (5/15/30/60): set straight in the table.
    await subscriptions.update(sub.id, escalate_minutes=WAIT_MINUTES)


def group_message_of(telegram: TelegramEmulator, lead_id: int) -> Any:
    """The group's new-lead message about a lead, if Telegram has it."""
    for message in telegram.transcript(GROUP):
        if message.from_bot and f"#{lead_id}:" in (message.text or ""):
            return message
    return None


async def take_later(
    plan: Plan,
    lead_id: int,
    delay: float,
    telegram: TelegramEmulator,
    portal: Bitrix24Emulator,
) -> None:
    """Take the lead `delay` seconds after its creation: the group's button, else the portal."""
    await asyncio.sleep(delay)
    message = group_message_of(telegram, lead_id)
    plan.taken_at[lead_id] = time.monotonic()
    if message is not None:
        ivan = telegram.user(IVAN_TG, "Ivan").in_group(GROUP)
        data = LeadButton(action=LeadAction.TAKE, lead_id=lead_id).pack()
        query = await ivan.press_data(message.message_id, data)
        answer = await telegram.wait_for_callback_answer(query, 15.0)
        if answer.text == "The lead is yours now.":
            plan.taken_by_button.add(lead_id)
            return
    portal.ui_update_lead(lead_id, {"ASSIGNED_BY_ID": IVAN_PORTAL}, user_id=IVAN_PORTAL)


async def run(leads: int, interval: float, taken_share: float, seed: int) -> dict[str, Any]:
    """Add the leads, take some, wait past the last deadline, and measure."""
    rng = random.Random(seed)
    telegram = TelegramEmulator(DEFAULT_TEST_TOKEN)
    await telegram.start()
    telegram.enable_flood_limits(FloodLimits(count_edits=True))
    portal = Bitrix24Emulator()
    await portal.start()
    plan = Plan()
    takes: list[asyncio.Task[None]] = []
    with tempfile.TemporaryDirectory() as folder:
        settings = settings_for(Path(folder), telegram, portal)
        app = Application(settings)
        await app.start()
        for handler in portal.event_handlers:
            handler.handler = f"http://127.0.0.1:{app.port}{settings.web.event_path}"
        try:
            await set_up_team(app, telegram)
            started = time.monotonic()
            for number in range(leads):
                await asyncio.sleep(max(0.0, started + number * interval - time.monotonic()))
                lead_id = portal.ui_add_lead(
                    {"TITLE": f"Bench lead {number}", "ASSIGNED_BY_ID": ANNA_PORTAL}, ANNA_PORTAL
                )
                plan.created[lead_id] = time.monotonic()
                if rng.random() < taken_share:
                    delay = rng.uniform(10.0, 45.0)
                    takes.append(
                        asyncio.create_task(take_later(plan, lead_id, delay, telegram, portal))
                    )
            last_deadline = max(plan.created.values()) + WAIT_MINUTES * 60
            await asyncio.sleep(max(0.0, last_deadline + SETTLE_SECONDS - time.monotonic()))
            await asyncio.gather(*takes)
            return await measure(app, telegram, plan, time.monotonic() - started)
        finally:
            await app.stop()
            await portal.stop()
            await telegram.stop()


async def measure(
    app: Application, telegram: TelegramEmulator, plan: Plan, seconds: float
) -> dict[str, Any]:
    """Read what happened from the bot's tables and from Telegram's calls."""
    watches = await app.db.fetch_all(
        "SELECT lead_id, escalate_at, escalated_at, outcome FROM lead_watches"
    )
    sent = await app.db.fetch_all(
        "SELECT lead_id, chat_id, state, sent_at FROM outbox "
        "WHERE idempotency_key LIKE 'escalation:%'"
    )
    deadline = {row["lead_id"]: from_db_time(row["escalate_at"]) for row in watches}
    fired = {
        row["lead_id"]: from_db_time(row["escalated_at"])
        for row in watches
        if row["escalated_at"] is not None
    }
    delivered: dict[int, list[float]] = {}
    chats: dict[int, set[int]] = {}
    for row in sent:
        chats.setdefault(row["lead_id"], set()).add(row["chat_id"])
        if row["state"] == "sent" and row["sent_at"] is not None:
            late = (from_db_time(row["sent_at"]) - deadline[row["lead_id"]]).total_seconds()
            delivered.setdefault(row["lead_id"], []).append(late)
    taken = set(plan.taken_at)
    untaken = set(plan.created) - taken
    fire_late = [(fired[i] - deadline[i]).total_seconds() for i in untaken if i in fired]
    deliver_late = [late for i in untaken for late in delivered.get(i, [])]
    escalated_taken = sorted(i for i in taken if i in chats)
    fully_told = [i for i in untaken if chats.get(i, set()) >= set(MANAGERS)]
    group_calls = [
        call
        for call in telegram.calls
        if call.ok
        and call.params.get("chat_id") == GROUP
        and call.method.lower() in {"sendmessage", "editmessagetext"}
    ]
    edits = [c for c in group_calls if c.method.lower() == "editmessagetext"]
    refused = [c for c in telegram.calls if c.error_code == 429]
    worker = app.escalation_worker
    reads = worker.leads_read if worker is not None else 0
    due = worker.leads_due if worker is not None else 0
    return {
        "leads": len(plan.created),
        "taken_before_deadline": len(taken),
        "taken_by_button": len(plan.taken_by_button),
        "should_escalate": len(untaken),
        "escalated": len([i for i in untaken if i in fired]),
        "told_every_manager": len(fully_told),
        "on_time": sum(1 for late in fire_late if late <= ON_TIME_SECONDS),
        "fire_late_p50_s": percentile(fire_late, 0.5) if fire_late else None,
        "fire_late_p99_s": percentile(fire_late, 0.99) if fire_late else None,
        "fire_late_max_s": max(fire_late, default=None),
        "delivered": len(deliver_late),
        "deliver_late_p50_s": percentile(deliver_late, 0.5) if deliver_late else None,
        "deliver_late_p99_s": percentile(deliver_late, 0.99) if deliver_late else None,
        "deliver_late_max_s": max(deliver_late, default=None),
        "escalated_after_taken": len(escalated_taken),
        "group_sends": len(group_calls) - len(edits),
        "group_edits": len(edits),
        "group_max_per_minute": max_per_minute(sorted(c.at for c in group_calls)),
        "group_limit": GROUP_LIMIT,
        "http_429": len(refused),
        "portal_reads": reads,
        "due_leads": due,
        "portal_reads_per_due_lead": round(reads / due, 3) if due else None,
        "clock_factor": 1,
        "seconds": round(seconds, 1),
    }


def _round(value: Any) -> Any:
    return round(value, 3) if isinstance(value, float) else value


def report(figures: dict[str, Any]) -> None:
    """The figures as lines, with their ratios to the limits, then one JSON line."""
    f = {key: _round(value) for key, value in figures.items()}
    print(f"clock factor {f['clock_factor']} (real minutes); {f['seconds']} s in all")
    print(
        f"leads {f['leads']}: {f['taken_before_deadline']} taken before their deadline "
        f"({f['taken_by_button']} by the group's Take, the rest in the portal), "
        f"{f['should_escalate']} left untaken"
    )
    print(
        f"escalated {f['escalated']} of {f['should_escalate']}, every manager told for "
        f"{f['told_every_manager']}; on time (queued <= {ON_TIME_SECONDS:.0f} s after the "
        f"deadline) {f['on_time']}"
    )
    print(
        f"lateness when queued: p50 {f['fire_late_p50_s']} s, p99 {f['fire_late_p99_s']} s, "
        f"max {f['fire_late_max_s']} s"
    )
    print(
        f"lateness at Telegram ({f['delivered']} messages): p50 {f['deliver_late_p50_s']} s, "
        f"p99 {f['deliver_late_p99_s']} s, max {f['deliver_late_max_s']} s"
    )
    print(f"escalated after being taken: {f['escalated_after_taken']} (target 0)")
    ratio = f["group_max_per_minute"] / GROUP_LIMIT
    print(
        f"group: {f['group_sends']} messages + {f['group_edits']} edits; at most "
        f"{f['group_max_per_minute']} in any 60 s = {ratio:.2f} of {GROUP_LIMIT}; "
        f"answers 429: {f['http_429']}"
    )
    per_lead = f["portal_reads_per_due_lead"]
    print(f"portal reads per due lead: {per_lead} (limit 1; {f['portal_reads']} reads)")
    print(json.dumps(f, sort_keys=True))


def main() -> None:
    """Parse arguments, run, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=100)
    parser.add_argument("--interval", type=float, default=1.2)
    parser.add_argument("--taken", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    report(asyncio.run(run(args.leads, args.interval, args.taken, args.seed)))


if __name__ == "__main__":
    main()
