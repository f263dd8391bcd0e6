"""Stale-lead nudges end to end: one message as the day starts, its buttons, the admin's rules."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time, timedelta
from typing import Any
from urllib.parse import parse_qs

import pytest

from bot.app import Application
from bot.leads import nudges as nudges_module
from bot.leads.nudges import LAST_KEY, RULES_KEY
from bot.storage.bindings import BindingRepository
from bot.storage.kv import KeyValueRepository
from bot.storage.outbox import OutboxRepository
from tests.e2e.conftest import ADMIN_TELEGRAM_ID, sign_in
from tests.emulators.bitrix24 import Bitrix24Emulator
from tests.emulators.bitrix24_state import CallRecord
from tests.emulators.telegram import TelegramEmulator, TelegramUser

IVAN_TG, IVAN_PHONE, IVAN_PORTAL = 2001, "+79161234567", 2
ANNA_PHONE = "+79160000001"


def aged(
    portal: Bitrix24Emulator,
    title: str,
    *,
    status: str,
    idle: timedelta,
    assigned: int = IVAN_PORTAL,
) -> int:
    """A lead of Ivan's (or `assigned`'s), created and last touched `idle` ago."""
    lead_id = portal.ui_add_lead({"TITLE": title, "ASSIGNED_BY_ID": assigned, "STATUS_ID": status})
    moment = (portal.now() - idle).replace(microsecond=0).isoformat()
    portal.leads[lead_id]["DATE_CREATE"] = moment
    portal.leads[lead_id]["LAST_ACTIVITY_TIME"] = moment
    return lead_id


async def open_all_day(app: Application, chat_id: int) -> None:
    """Every day, a working window around now: the day has begun for this person."""
    now = datetime.now(UTC)
    await app.hours.set_days(chat_id, None, frozenset(range(1, 8)))
    start = (now - timedelta(hours=1)).time().replace(second=0, microsecond=0)
    end = (now + timedelta(hours=3)).time().replace(second=0, microsecond=0)
    await app.hours.set_window(chat_id, None, start, end if end != start else time(0, 1))


async def test_a_rep_gets_one_nudge_a_day_with_stale_leads_and_working_buttons(
    running_bot: Application,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    ivan = await sign_in(telegram_emulator, IVAN_TG, "Ivan", IVAN_PHONE)
    idle = aged(portal_emulator, "Boiler <b>&", status="IN_PROCESS", idle=timedelta(days=5))
    stuck = aged(portal_emulator, "Pump", status="NEW", idle=timedelta(hours=30))
    aged(portal_emulator, "Fresh", status="IN_PROCESS", idle=timedelta(hours=2))
    aged(portal_emulator, "Won", status="CONVERTED", idle=timedelta(days=9))
    await open_all_day(running_bot, IVAN_TG)
    assert running_bot.nudges is not None

    assert await running_bot.nudges.send_due() == 1
    nudge = await ivan.wait_for_message(lambda m: "waiting for you" in (m.text or ""))
    text = nudge.text or ""
    assert "2 leads are waiting for you" in text
    assert f"#{idle} Boiler <b>& — In progress, no activity for 5 days" in text
    assert f"#{stuck} Pump — still Unassigned after 30 hours" in text
    assert "Fresh" not in text
    assert "Won" not in text
    assert text.index(f"#{stuck}") < text.index(f"#{idle}")  # the first stage goes first
    assert {f"📇 #{idle}", f"📇 #{stuck}", "⏰ Follow-up", "🔀 Stage"} <= set(nudge.labels)
    # Once a working day: the next round sends nothing.
    assert await running_bot.nudges.send_due() == 0

    # 🔀 opens the card right at its stages.
    rows = nudge.raw["reply_markup"]["inline_keyboard"]
    stage_data = next(row[2]["callback_data"] for row in rows if row[0]["text"] == f"📇 #{idle}")
    await ivan.press_data(nudge.message_id, stage_data)
    stages = await ivan.wait_for_message(
        lambda m: "In progress" not in m.labels and bool(m.labels)
    )
    assert "Processed" in stages.labels or any("Processed" in label for label in stages.labels)


async def test_a_nudge_button_for_a_foreign_lead_shows_nothing_of_it(
    running_bot: Application,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    ivan = await sign_in(telegram_emulator, IVAN_TG, "Ivan", IVAN_PHONE)
    foreign = portal_emulator.ui_add_lead({"TITLE": "Olga's secret", "ASSIGNED_BY_ID": 3})
    await ivan.send("/menu")
    menu = await ivan.wait_for_message(lambda m: "Main menu" in (m.text or ""))
    await ivan.press_data(menu.message_id, f"nl:st:{foreign}")
    answer = await ivan.wait_for_message()
    assert "Olga's secret" not in (answer.text or "")


async def test_only_an_admin_changes_the_rules_and_off_means_no_nudge(
    running_bot: Application,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    anna = await sign_in(telegram_emulator, ADMIN_TELEGRAM_ID, "Anna", ANNA_PHONE)
    ivan = await sign_in(telegram_emulator, IVAN_TG, "Ivan", IVAN_PHONE)
    aged(portal_emulator, "Boiler", status="IN_PROCESS", idle=timedelta(days=2))
    await anna.send("/menu")
    await anna.wait_for_message(lambda m: "🛠 Admin" in m.labels)
    await anna.press("🛠 Admin")
    await anna.wait_for_message(lambda m: "🧹 Stale-lead nudges" in m.labels)
    await anna.press("🧹 Stale-lead nudges")
    shown = await anna.wait_for_message(lambda m: "No activity for: 3 days" in (m.text or ""))
    assert "Still in the first stage after: 24 hours" in (shown.text or "")
    await anna.press("💤 Change: no activity")  # 3 → 5 days
    await anna.wait_for_message(lambda m: "No activity for: 5 days" in (m.text or ""))
    for _ in range(2):  # 5 → 7 → 14 days
        await anna.press("💤 Change: no activity")
        await anna.wait_for_message(lambda m: "Saved" in (m.text or ""))
    await anna.press("💤 Change: no activity")  # 14 → off
    await anna.wait_for_message(lambda m: "No activity for: off" in (m.text or ""))

    await open_all_day(running_bot, IVAN_TG)
    assert running_bot.nudges is not None
    assert await running_bot.nudges.send_due() == 0  # two days idle is no longer stale
    assert await running_bot.db.fetch_one(
        "SELECT value FROM kv WHERE key = ?", (LAST_KEY.format(telegram_user_id=IVAN_TG),)
    )
    assert not any("waiting for you" in (m.text or "") for m in ivan.transcript())


async def test_a_team_is_read_a_request_of_people_at_a_time(
    running_bot: Application,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # One person a request here (25 in the bot): a big team's first nudges go out after one
    # request, not after all of them, and only one request's answers are held at once.
    monkeypatch.setattr(nudges_module, "PEOPLE_PER_REQUEST", 1)
    anna = await sign_in(telegram_emulator, ADMIN_TELEGRAM_ID, "Anna", ANNA_PHONE)
    ivan = await sign_in(telegram_emulator, IVAN_TG, "Ivan", IVAN_PHONE)
    aged(portal_emulator, "Boiler", status="IN_PROCESS", idle=timedelta(days=5))
    aged(portal_emulator, "Crane", status="IN_PROCESS", idle=timedelta(days=6), assigned=1)
    for chat in (ADMIN_TELEGRAM_ID, IVAN_TG):
        await open_all_day(running_bot, chat)
    reads = await _round(running_bot, portal_emulator, 2)
    assert [c.batch_methods for c in reads] == [["crm.lead.list"] * 2] * 2  # 2 rules, 1 person
    await anna.wait_for_message(lambda m: "Crane" in (m.text or ""))
    await ivan.wait_for_message(lambda m: "Boiler" in (m.text or ""))


async def _team_of_five(
    telegram_emulator: TelegramEmulator, portal_emulator: Bitrix24Emulator, app: Application
) -> list[TelegramUser]:
    """Five reps (portal users 40-44) at work; the first has 10 idle leads and one stuck in
    the first stage, the second one idle lead, the rest none; a user who is not bound has
    stale leads too."""
    for n in range(5):  # all at once: the bot re-reads the portal's users once on a miss
        portal_emulator.add_user(
            f"Rep{n}", "Test", user_id=40 + n, personal_mobile=f"+7916555000{n}"
        )
    reps = []
    for n in range(5):
        reps.append(await sign_in(telegram_emulator, 3000 + n, f"Rep{n}", f"+7916555000{n}"))
        await open_all_day(app, 3000 + n)
    for days in range(4, 14):
        aged(
            portal_emulator,
            f"Idle{days}",
            status="IN_PROCESS",
            idle=timedelta(days=days),
            assigned=40,
        )
    aged(portal_emulator, "Stuck", status="NEW", idle=timedelta(hours=30), assigned=40)
    aged(portal_emulator, "Lone", status="IN_PROCESS", idle=timedelta(days=5), assigned=41)
    aged(portal_emulator, "Nobody's", status="IN_PROCESS", idle=timedelta(days=5), assigned=3)
    return reps


def _nudge_lines(text: str) -> list[str]:
    return [line.split(" ", 2)[2].split(" —")[0] for line in text.splitlines()[2:-1]]


async def _round(app: Application, portal: Bitrix24Emulator, queued: int) -> list[CallRecord]:
    """One nudge round that queues `queued` nudges; the portal requests that listed leads."""
    assert app.nudges is not None
    before = len(portal.calls)
    assert await app.nudges.send_due() == queued
    return [c for c in portal.calls[before:] if "crm.lead.list" in c.batch_methods]


async def _nudge(rep: TelegramUser) -> str:
    message = await rep.wait_for_message(lambda m: "waiting for you" in (m.text or ""))
    return message.text or ""


async def test_a_big_team_is_read_once_for_the_whole_portal_when_that_takes_fewer_requests(
    running_bot: Application,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # One person a request here (25 in the bot): five people would take five requests; the
    # whole portal's stale leads take three (a count, then a read per rule).
    monkeypatch.setattr(nudges_module, "PEOPLE_PER_REQUEST", 1)
    reps = await _team_of_five(telegram_emulator, portal_emulator, running_bot)
    reads = await _round(running_bot, portal_emulator, 2)
    assert len(reads) == 3
    text = await _nudge(reps[0])
    assert "11 leads are waiting for you" in text
    # The one stuck in the first stage, then the seven longest idle; the other three counted.
    assert _nudge_lines(text) == ["Stuck", *(f"Idle{days}" for days in range(13, 6, -1))]
    assert "…and 3 more" in text
    lone = await _nudge(reps[1])
    assert "Lone" in lone
    assert "Nobody's" not in lone
    # Everyone due is done for today, with or without stale leads.
    assert await _round(running_bot, portal_emulator, 0) == []
    assert not any("waiting for you" in (m.text or "") for m in reps[2].transcript())


async def test_a_team_whose_portal_holds_many_stale_leads_is_read_person_by_person(
    running_bot: Application,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A request reads one lead here when read team-wide: the portal's 12 stale leads would
    # take more requests than the five people do, so after the count it reads them in turn.
    monkeypatch.setattr(nudges_module, "PEOPLE_PER_REQUEST", 1)
    monkeypatch.setattr(nudges_module, "LEADS_PER_REQUEST", 1)
    reps = await _team_of_five(telegram_emulator, portal_emulator, running_bot)
    reads = await _round(running_bot, portal_emulator, 2)
    assert len(reads) == 1 + 5
    text = await _nudge(reps[0])
    assert "11 leads are waiting for you" in text
    assert _nudge_lines(text) == ["Stuck", *(f"Idle{days}" for days in range(13, 6, -1))]


async def test_a_team_read_team_wide_is_read_a_range_of_people_at_a_time(
    running_bot: Application,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Three people a range here (1,000 in the bot), only the idle rule on: the five are read
    # as two ranges of portal ids, a request each after the count, and each range's nudges
    # are queued before the next is read.
    monkeypatch.setattr(nudges_module, "PEOPLE_PER_REQUEST", 1)
    monkeypatch.setattr(nudges_module, "TEAM_GROUP", 3)
    await KeyValueRepository(running_bot.db).set(
        RULES_KEY, {"stale_days": 3, "first_stage_hours": None}
    )
    reps = await _team_of_five(telegram_emulator, portal_emulator, running_bot)
    reads = await _round(running_bot, portal_emulator, 2)
    assert len(reads) == 1 + 2
    spans = []
    for call in reads[1:]:
        query = parse_qs(call.params["cmd"]["head"].split("?", 1)[1])
        spans.append((query["filter[>=ASSIGNED_BY_ID]"], query["filter[<=ASSIGNED_BY_ID]"]))
    assert spans == [(["40"], ["42"]), (["43"], ["44"])]
    text = await _nudge(reps[0])
    # Only the idle rule: "Stuck" was touched 30 hours ago, so it is not among them.
    assert "10 leads are waiting for you" in text
    assert _nudge_lines(text) == [f"Idle{days}" for days in range(13, 5, -1)]
    assert "…and 2 more" in text
    assert "Lone" in await _nudge(reps[1])


async def test_a_round_reads_and_writes_the_database_a_few_times_however_many_are_due(
    running_bot: Application,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A morning's thousands of people were read and marked one by one: four reads and two
    # writes each. Now a round's reads and writes do not grow with the people due.
    reps = await _team_of_five(telegram_emulator, portal_emulator, running_bot)
    db = running_bot.db
    # The active bindings as the bot's workers hold them between writes (read once here).
    await BindingRepository(db).list_bindings()
    this = asyncio.current_task()
    uses: list[str] = []
    for name in ("fetch_one", "fetch_all", "transaction"):
        real = getattr(db, name)

        def counted(*args: Any, _real: Any = real, _name: str = name, **kwargs: Any) -> Any:
            if asyncio.current_task() is this:  # not the bot's other workers
                uses.append(_name)
            return _real(*args, **kwargs)

        monkeypatch.setattr(db, name, counted)
    await _round(running_bot, portal_emulator, 2)
    # The rules; the bindings' revision (the list is held), their hours, today's marks; the
    # nudges and the marks written.
    assert sorted(uses) == sorted(["fetch_one", *["fetch_all"] * 3, *["transaction"] * 2]), uses
    assert "11 leads are waiting for you" in await _nudge(reps[0])
    uses.clear()
    assert running_bot.nudges is not None
    assert await running_bot.nudges.send_due() == 0  # everyone is done for today
    assert uses == ["fetch_one", "fetch_all"], uses  # the rules and the bindings' revision


async def _one_ahead_behind_a_held_nudge(
    app: Application,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
    monkeypatch: pytest.MonkeyPatch,
) -> list[TelegramUser]:
    """The team of five, a round held once one nudge waits (300 in the bot), a person a
    write; Telegram answers the first nudge 429 (retry after a second), so it waits."""
    monkeypatch.setattr(nudges_module, "ROUTINE_AHEAD", 1)
    monkeypatch.setattr(nudges_module, "WRITE_PEOPLE", 1)
    reps = await _team_of_five(telegram_emulator, portal_emulator, app)
    telegram_emulator.rate_limit_next(retry_after=1, method="sendMessage", chat_id=3000)
    return reps


async def test_a_big_morning_is_queued_no_further_ahead_of_the_sender_than_it_can_send(
    running_bot: Application,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The second nudge is rendered and queued only once the first has gone, although
    # Telegram holds the first for a second. Without the hold both would be queued at once.
    reps = await _one_ahead_behind_a_held_nudge(
        running_bot, telegram_emulator, portal_emulator, monkeypatch
    )
    outbox = OutboxRepository(running_bot.db)
    waiting_before: list[int] = []
    real_queue = OutboxRepository.queue_many

    async def queue_many(self: OutboxRepository, messages: Any) -> None:
        waiting_before.append(await outbox.pending_routine())
        await real_queue(self, messages)

    monkeypatch.setattr(OutboxRepository, "queue_many", queue_many)
    await _round(running_bot, portal_emulator, 2)
    assert waiting_before == [0, 0]
    assert "11 leads are waiting for you" in await _nudge(reps[0])
    assert "Lone" in await _nudge(reps[1])
    assert await outbox.pending_routine() == 0


async def test_a_round_held_past_a_persons_next_look_leaves_them_to_the_next_round(
    running_bot: Application,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The round is held behind the first nudge; meanwhile two days pass (a sender stuck for
    # that long): the second person's nudge, read two days ago, is not sent, nor is the day
    # marked; the next round reads them afresh.
    reps = await _one_ahead_behind_a_held_nudge(
        running_bot, telegram_emulator, portal_emulator, monkeypatch
    )
    worker = running_bot.nudges
    assert worker is not None
    real_queue = OutboxRepository.queue_many

    async def queue_then_two_days_pass(self: OutboxRepository, messages: Any) -> None:
        await real_queue(self, messages)
        monkeypatch.setattr(worker, "_clock", lambda: datetime.now(UTC) + timedelta(days=2))

    monkeypatch.setattr(OutboxRepository, "queue_many", queue_then_two_days_pass)
    await _round(running_bot, portal_emulator, 1)
    assert "11 leads are waiting for you" in await _nudge(reps[0])
    marks = await KeyValueRepository(running_bot.db).get_many(
        [LAST_KEY.format(telegram_user_id=3000 + n) for n in range(2)]
    )
    assert set(marks) == {LAST_KEY.format(telegram_user_id=3000)}
    monkeypatch.setattr(OutboxRepository, "queue_many", real_queue)
    monkeypatch.setattr(worker, "_clock", lambda: datetime.now(UTC))
    await _round(running_bot, portal_emulator, 1)
    assert "Lone" in await _nudge(reps[1])
