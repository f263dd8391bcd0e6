"""Follow-ups: a to-do on a lead from the card, its reminder when due, Done, Snooze, /today.

The bot's follow-up clock is injected (`MovableClock`): a test moves it to the due moment and
wakes the scheduler, so nothing waits on real time and nothing asserts on the wall clock.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import unquote

import pytest

from bot.app import Application
from bot.followups import sync as sync_module
from bot.followups.scheduler import ReminderScheduler
from bot.followups.sync import FollowUpSync
from bot.storage.reminders import ReminderRepository, ReminderState
from bot.write_journal import MARK_CHARACTERS
from tests.e2e.conftest import FAST_BACKOFF, SettingsFactory, eventually
from tests.e2e.lead_fixtures import (
    IVAN_PORTAL_ID,
    IVAN_TELEGRAM_ID,
    OLGA_PORTAL_ID,
    add_lead,
    ivan,
    olga,
    open_card,
    text_of,
)
from tests.emulators.bitrix24 import Bitrix24Emulator
from tests.emulators.telegram import TelegramEmulator
from tests.emulators.telegram_driver import TelegramUser
from tests.emulators.telegram_models import ChatMessage


class MovableClock:
    """The bot's follow-up clock: today 08:00 UTC plus however far a test moved it."""

    def __init__(self) -> None:
        self.moment = datetime.combine(date.today(), time(8, 0), tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, delta: timedelta) -> None:
        self.moment += delta


class ClockedBot:
    """Starts (and restarts) the application on one database with the movable clock."""

    def __init__(self, make_settings: SettingsFactory, clock: MovableClock) -> None:
        self._make_settings = make_settings
        self.clock = clock
        self.app: Application | None = None

    async def start(self) -> Application:
        await self.stop()
        self.app = Application(
            self._make_settings(), polling_backoff=FAST_BACKOFF, clock=self.clock
        )
        await self.app.start()
        return self.app

    async def stop(self) -> None:
        if self.app is not None:
            app, self.app = self.app, None
            await app.stop()

    def move_to(self, moment: datetime) -> None:
        """Time passes up to `moment`; the scheduler looks again."""
        self.clock.moment = max(self.clock.moment, moment)
        self.scheduler().wake()

    def scheduler(self) -> ReminderScheduler:
        """The running application's reminder scheduler."""
        assert self.app is not None
        assert self.app.reminders is not None
        return self.app.reminders

    def sync(self) -> FollowUpSync:
        """The running application's portal sync."""
        assert self.app is not None
        assert self.app.followup_sync is not None
        return self.app.followup_sync


@pytest.fixture
async def clocked(make_settings: SettingsFactory) -> AsyncIterator[ClockedBot]:
    runner = ClockedBot(make_settings, MovableClock())
    try:
        await runner.start()
        yield runner
    finally:
        await runner.stop()


def has(text: str) -> Callable[[ChatMessage], bool]:
    return lambda m: text in text_of(m)


def todos_of(portal: Bitrix24Emulator, lead_id: int) -> list[dict[str, object]]:
    return [
        row
        for row in portal.activities.values()
        if row["OWNER_TYPE_ID"] == "1" and row["OWNER_ID"] == str(lead_id)
    ]


def deadline_of(row: dict[str, object]) -> datetime:
    return datetime.fromisoformat(str(row["DEADLINE"])).astimezone(UTC)


def reminders_in(user: TelegramUser) -> list[ChatMessage]:
    return [m for m in user.transcript() if "Follow-up:" in text_of(m)]


async def plan_follow_up(user: TelegramUser, lead_id: int, title: str) -> None:
    """Open the card and the follow-up's first window."""
    await open_card(user, lead_id, title)
    await user.press("⏰ Follow-up")
    await user.wait_for_message(has("When should I remind you?"))


async def test_rep_sets_a_follow_up_with_a_quick_choice_and_completes_it_from_the_reminder(
    clocked: ClockedBot, telegram_emulator: TelegramEmulator, portal_emulator: Bitrix24Emulator
) -> None:
    lead_id = add_lead(portal_emulator, IVAN_PORTAL_ID, TITLE="Windows <b>for</b> Romashka")
    rep = await ivan(telegram_emulator)
    await plan_follow_up(rep, lead_id, "Windows")
    # 08:00 UTC (the bot's default zone): every quick choice is still ahead.
    assert {"In 1 hour", "Today 18:00", "Tomorrow 10:00", "In 3 days, 10:00"} <= set(
        rep.last_message().labels
    )
    await rep.press("Tomorrow 10:00")
    await rep.wait_for_message(has("Add a note"))
    await rep.send("Ask about the <quote> & the discount")
    await rep.wait_for_message(has("Follow-up set for"))

    due = datetime.combine(date.today() + timedelta(days=1), time(10, 0), tzinfo=UTC)
    [todo] = todos_of(portal_emulator, lead_id)
    assert deadline_of(todo) == due
    assert (todo["RESPONSIBLE_ID"], todo["PROVIDER_ID"], todo["COMPLETED"]) == (
        str(IVAN_PORTAL_ID),
        "CRM_TODO",
        "N",
    )
    # The description ends with the write's invisible key (32 zero-width characters).
    description = str(todo["DESCRIPTION"]).rstrip(MARK_CHARACTERS)
    assert description == "Ask about the <quote> & the discount"
    assert "Follow-up set for" in text_of(rep.last_message())
    assert reminders_in(rep) == []

    clocked.move_to(due - timedelta(seconds=1))
    assert await clocked.scheduler().fire_due() == 0  # a second early: nothing yet
    clocked.move_to(due)
    reminder = await rep.wait_for_message(has("Follow-up:"))
    assert "Windows <b>for</b> Romashka" in text_of(reminder)  # escaped: shown as typed
    assert "Ask about the <quote> & the discount" in text_of(reminder)
    assert {"✅ Done", "📇 Open card", "⏰ 15 min", "⏰ 1 h", "⏰ Tomorrow 10:00"} <= set(
        reminder.labels
    )

    answer = await rep.press_and_wait("✅ Done", message_id=reminder.message_id)
    assert "completed in the portal" in (answer.text or "")
    assert portal_emulator.activities[int(str(todo["ID"]))]["COMPLETED"] == "Y"
    await rep.wait_for_message(lambda m: m.message_id == reminder.message_id and not m.labels)
    assert len(reminders_in(rep)) == 1


async def test_rep_picks_a_day_in_the_calendar_and_types_a_time(
    clocked: ClockedBot, telegram_emulator: TelegramEmulator, portal_emulator: Bitrix24Emulator
) -> None:
    lead_id = add_lead(portal_emulator, IVAN_PORTAL_ID, TITLE="Calendar lead")
    rep = await ivan(telegram_emulator)
    await plan_follow_up(rep, lead_id, "Calendar lead")
    await rep.press("📅 Pick a date…")
    await rep.wait_for_message(has("Pick the day"))
    await rep.press(f"[ {date.today():%d} ]")
    await rep.wait_for_message(has("pick a time or type one"))
    assert {"09:00", "14:00", "18:00"} <= set(rep.last_message().labels)
    await rep.send("7:30")  # before the bot's 08:00: refused, the window stays
    await rep.wait_for_message(has("That moment has passed"))
    await rep.send("half past two")
    await rep.wait_for_message(has("That is not a time"))
    await rep.send("14:30")
    await rep.wait_for_message(has("Add a note"))
    await rep.press("Skip")
    await rep.wait_for_message(has("Follow-up set for 14:30"))

    [todo] = todos_of(portal_emulator, lead_id)
    assert deadline_of(todo) == datetime.combine(date.today(), time(14, 30), tzinfo=UTC)
    assert str(todo["DESCRIPTION"]).rstrip(MARK_CHARACTERS) == ""


async def test_snooze_moves_the_deadline_in_the_portal_and_reminds_again(
    clocked: ClockedBot, telegram_emulator: TelegramEmulator, portal_emulator: Bitrix24Emulator
) -> None:
    lead_id = add_lead(portal_emulator, IVAN_PORTAL_ID, TITLE="Snoozed lead")
    rep = await ivan(telegram_emulator)
    await plan_follow_up(rep, lead_id, "Snoozed lead")
    await rep.press("In 1 hour")
    await rep.wait_for_message(has("Add a note"))
    await rep.press("Skip")
    await rep.wait_for_message(has("Follow-up set for 09:00"))
    [todo] = todos_of(portal_emulator, lead_id)

    clocked.move_to(clocked.clock() + timedelta(hours=1))
    first = await rep.wait_for_message(has("Follow-up:"))
    answer = await rep.press_and_wait("⏰ 1 h", message_id=first.message_id)
    assert "Moved to 10:00" in (answer.text or "")
    assert deadline_of(portal_emulator.activities[int(str(todo["ID"]))]) == clocked.clock() + (
        timedelta(hours=1)
    )

    clocked.move_to(clocked.clock() + timedelta(minutes=59))
    assert await clocked.scheduler().fire_due() == 0
    clocked.move_to(clocked.clock() + timedelta(minutes=1))
    await rep.wait_for_message(
        lambda m: "Follow-up:" in text_of(m) and m.message_id != first.message_id
    )
    assert len(reminders_in(rep)) == 2


async def test_a_forged_or_foreign_press_is_refused_and_changes_nothing(
    clocked: ClockedBot, telegram_emulator: TelegramEmulator, portal_emulator: Bitrix24Emulator
) -> None:
    lead_id = add_lead(portal_emulator, IVAN_PORTAL_ID, TITLE="Ivan's lead")
    todo_id = portal_emulator.add_todo(
        {
            "ownerTypeId": 1,
            "ownerId": lead_id,
            "deadline": clocked.clock().isoformat(),
            "responsibleId": IVAN_PORTAL_ID,
        },
        1,
    )
    rep = await ivan(telegram_emulator)
    colleague = await olga(telegram_emulator)
    menu = colleague.last_message()

    query = await colleague.press_data(menu.message_id, f"fu:d:{todo_id}:")
    answer = await telegram_emulator.wait_for_callback_answer(query, 5.0)
    assert "not yours" in (answer.text or "")
    query = await colleague.press_data(menu.message_id, f"fu:s:{todo_id}:h1")
    answer = await telegram_emulator.wait_for_callback_answer(query, 5.0)
    assert "not yours" in (answer.text or "")
    query = await rep.press_data(rep.last_message().message_id, f"fu:s:{todo_id}:forever")
    answer = await telegram_emulator.wait_for_callback_answer(query, 5.0)
    assert "not yours" in (answer.text or "")
    query = await rep.press_data(rep.last_message().message_id, "fu:d:999999:")
    answer = await telegram_emulator.wait_for_callback_answer(query, 5.0)
    assert "no longer exists" in (answer.text or "")

    row = portal_emulator.activities[todo_id]
    assert (row["COMPLETED"], deadline_of(row)) == ("N", clocked.clock().replace(microsecond=0))


async def test_today_lists_due_and_overdue_follow_ups_from_the_portal(
    clocked: ClockedBot, telegram_emulator: TelegramEmulator, portal_emulator: Bitrix24Emulator
) -> None:
    mine = add_lead(portal_emulator, IVAN_PORTAL_ID, TITLE="Mine")
    hers = add_lead(portal_emulator, OLGA_PORTAL_ID, TITLE="Hers")
    now = clocked.clock()

    def todo(lead_id: int, responsible: int, due: datetime, title: str) -> int:
        return portal_emulator.add_todo(
            {
                "ownerTypeId": 1,
                "ownerId": lead_id,
                "deadline": due.isoformat(),
                "title": title,
                "responsibleId": responsible,
            },
            1,
        )

    overdue = todo(mine, IVAN_PORTAL_ID, now - timedelta(hours=20), "Send the contract")
    later = todo(mine, IVAN_PORTAL_ID, now + timedelta(hours=4), "Call <back>")
    todo(mine, IVAN_PORTAL_ID, now + timedelta(days=1), "Tomorrow's")
    todo(hers, OLGA_PORTAL_ID, now + timedelta(hours=1), "Olga's")
    done = todo(mine, IVAN_PORTAL_ID, now + timedelta(hours=2), "Done already")
    portal_emulator.update_activity(done, {"COMPLETED": "Y"}, 1)

    rep = await ivan(telegram_emulator)
    before = portal_emulator.count_calls("crm.activity.list")
    await rep.send("/today")
    listing = await rep.wait_for_message(has("Follow-ups for today: 2"))
    assert portal_emulator.count_calls("crm.activity.list") - before == 1
    lines = text_of(listing).splitlines()
    yesterday = (now - timedelta(hours=20)).strftime("%d.%m")
    assert lines[1] == f"1. ❗ {yesterday} 12:00 (overdue) · Send the contract · lead #{mine}"
    assert lines[2] == f"2. 12:00 · Call <back> · lead #{mine}"
    assert {"✅ 1", "✅ 2", f"📇 #{mine}"} <= set(listing.labels)

    await rep.press_and_wait("✅ 1", message_id=listing.message_id)
    assert portal_emulator.activities[overdue]["COMPLETED"] == "Y"
    await rep.wait_for_message(
        lambda m: (
            m.message_id == listing.message_id and "✅ 1" not in m.labels and "✅ 2" in m.labels
        )
    )
    assert portal_emulator.activities[later]["COMPLETED"] == "N"

    colleague = await olga(telegram_emulator)
    clocked.move_to(now + timedelta(hours=2))  # Olga's one is overdue now, still listed
    await colleague.send("/today")
    await colleague.wait_for_message(has("Follow-ups for today: 1"))
    portal_emulator.update_activity(later, {"COMPLETED": "Y"}, 1)
    await rep.send("/today")
    await rep.wait_for_message(has("Nothing due today"))


async def test_a_big_team_asks_for_every_responsible_and_keeps_its_own_todos(
    clocked: ClockedBot,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Past the limit the request does not name the bound people (thousands of ids in each
    # page); the to-dos of people who are not bound are then left out by the bot.
    monkeypatch.setattr(sync_module, "NAMED_RESPONSIBLES_LIMIT", 0)
    lead_id = add_lead(portal_emulator, IVAN_PORTAL_ID, TITLE="From the portal")
    await ivan(telegram_emulator)
    due = (clocked.clock() + timedelta(minutes=30)).isoformat()
    for responsible in (IVAN_PORTAL_ID, 777):
        portal_emulator.add_todo(
            {"ownerTypeId": 1, "ownerId": lead_id, "deadline": due, "responsibleId": responsible},
            1,
        )
    assert await clocked.sync().sync_once() == 1
    request = unquote(str(portal_emulator.calls[-1].params))
    assert "filter[@RESPONSIBLE_ID]" not in request
    assert "filter[<=DEADLINE]" in request


async def test_a_todo_made_in_the_portal_is_picked_up_and_reminded(
    clocked: ClockedBot, telegram_emulator: TelegramEmulator, portal_emulator: Bitrix24Emulator
) -> None:
    lead_id = add_lead(portal_emulator, IVAN_PORTAL_ID, TITLE="From the portal")
    rep = await ivan(telegram_emulator)
    due = clocked.clock() + timedelta(minutes=30)
    todo_id = portal_emulator.add_todo(
        {
            "ownerTypeId": 1,
            "ownerId": lead_id,
            "deadline": due.isoformat(),
            "responsibleId": IVAN_PORTAL_ID,
        },
        1,
    )
    before = portal_emulator.count_calls()
    assert await clocked.sync().sync_once() == 1
    assert portal_emulator.count_calls() - before == 1  # one batched list request a pass
    assert "filter[@RESPONSIBLE_ID][0]" in unquote(str(portal_emulator.calls[-1].params))
    assert await clocked.sync().sync_once() == 0  # nothing moved: nothing changes

    later = due + timedelta(minutes=15)
    portal_emulator.update_todo_deadline(
        {"id": todo_id, "ownerTypeId": 1, "ownerId": lead_id, "value": later.isoformat()}, 1
    )
    assert await clocked.sync().sync_once() == 1
    clocked.move_to(due)
    clocked.move_to(later)
    reminder = await rep.wait_for_message(has("Follow-up:"))
    assert f"lead #{lead_id}" in text_of(reminder)
    assert "✅ Done" in reminder.labels


async def test_a_reminder_due_while_the_bot_was_down_fires_once_after_the_restart(
    clocked: ClockedBot,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    lead_id = add_lead(portal_emulator, IVAN_PORTAL_ID, TITLE="Restart lead")
    rep = await ivan(telegram_emulator)
    await plan_follow_up(rep, lead_id, "Restart lead")
    await rep.press("In 1 hour")
    await rep.wait_for_message(has("Add a note"))
    await rep.press("Skip")
    await rep.wait_for_message(has("Follow-up set for"))

    await clocked.stop()
    clocked.clock.advance(timedelta(hours=2))  # due an hour ago, while nothing ran
    app = await clocked.start()
    await rep.wait_for_message(has("Follow-up:"))
    await eventually(lambda: _outbox_drained(app))
    app = await clocked.start()  # and once more: the reminder was sent, it is not due again
    repository = ReminderRepository(app.db)
    await eventually(lambda: _count_sent(repository))
    assert app.reminders is not None
    assert await app.reminders.fire_due() == 0
    assert len(reminders_in(rep)) == 1
    [todo] = todos_of(portal_emulator, lead_id)
    reminder = await repository.get(int(str(todo["ID"])))
    assert reminder is not None
    assert (reminder.state, reminder.fired, reminder.telegram_user_id) == (
        ReminderState.SENT,
        1,
        IVAN_TELEGRAM_ID,
    )


async def _outbox_drained(app: Application) -> bool:
    row = await app.db.fetch_one("SELECT count(*) FROM outbox WHERE state = 'pending'")
    return row is not None and row[0] == 0


async def _count_sent(repository: ReminderRepository) -> bool:
    return await repository.count(ReminderState.SENT) == 1


async def test_a_reminder_of_a_todo_completed_in_the_portal_says_so(
    clocked: ClockedBot, telegram_emulator: TelegramEmulator, portal_emulator: Bitrix24Emulator
) -> None:
    lead_id = add_lead(portal_emulator, IVAN_PORTAL_ID, TITLE="Finished elsewhere")
    rep = await ivan(telegram_emulator)
    await plan_follow_up(rep, lead_id, "Finished elsewhere")
    await rep.press("In 1 hour")
    await rep.wait_for_message(has("Add a note"))
    await rep.press("Skip")
    await rep.wait_for_message(has("Follow-up set for"))
    [todo] = todos_of(portal_emulator, lead_id)
    clocked.move_to(clocked.clock() + timedelta(hours=1))
    reminder = await rep.wait_for_message(has("Follow-up:"))

    portal_emulator.update_activity(int(str(todo["ID"])), {"COMPLETED": "Y"}, 1)
    answer = await rep.press_and_wait("⏰ 15 min", message_id=reminder.message_id)
    assert "already completed in the portal" in (answer.text or "")
    assert deadline_of(portal_emulator.activities[int(str(todo["ID"]))]) == clocked.clock()
    settled = await rep.wait_for_message(
        lambda m: m.message_id == reminder.message_id and not m.labels
    )
    assert "already completed in the portal" in text_of(settled)


async def test_a_todo_completed_in_the_portal_before_it_is_due_is_not_reminded(
    clocked: ClockedBot, telegram_emulator: TelegramEmulator, portal_emulator: Bitrix24Emulator
) -> None:
    done_lead = add_lead(portal_emulator, IVAN_PORTAL_ID, TITLE="Done in the portal")
    open_lead = add_lead(portal_emulator, IVAN_PORTAL_ID, TITLE="Still to do")
    rep = await ivan(telegram_emulator)
    for lead_id, title in ((done_lead, "Done in the portal"), (open_lead, "Still to do")):
        await plan_follow_up(rep, lead_id, title)
        await rep.press("In 1 hour")
        await rep.wait_for_message(has("Add a note"))
        await rep.press("Skip")
        await rep.wait_for_message(has("Follow-up set for"))
    [done_todo] = todos_of(portal_emulator, done_lead)
    portal_emulator.update_activity(int(str(done_todo["ID"])), {"COMPLETED": "Y"}, 1)

    clocked.move_to(clocked.clock() + timedelta(hours=1))
    reminder = await rep.wait_for_message(has("Follow-up:"))
    assert f"lead #{open_lead}" in text_of(reminder)
    assert clocked.scheduler().completed == 1
    assert clocked.app is not None
    repository = ReminderRepository(clocked.app.db)
    settled = await repository.get(int(str(done_todo["ID"])))
    assert settled is not None
    assert (settled.state, settled.fired) == (ReminderState.DONE, 0)
    assert await clocked.scheduler().fire_due() == 0
    assert [m for m in reminders_in(rep) if f"lead #{done_lead}" in text_of(m)] == []


async def test_a_reminder_still_fires_when_the_portal_cannot_say_whether_its_todo_is_open(
    clocked: ClockedBot, telegram_emulator: TelegramEmulator, portal_emulator: Bitrix24Emulator
) -> None:
    lead_id = add_lead(portal_emulator, IVAN_PORTAL_ID, TITLE="Portal is down")
    rep = await ivan(telegram_emulator)
    await plan_follow_up(rep, lead_id, "Portal is down")
    await rep.press("In 1 hour")
    await rep.wait_for_message(has("Add a note"))
    await rep.press("Skip")
    await rep.wait_for_message(has("Follow-up set for"))
    # The check before reminding is refused: better a reminder too many than one missed.
    portal_emulator.faults.refuse_method("crm.activity.list", "INTERNAL_SERVER_ERROR", "down", 500)
    clocked.move_to(clocked.clock() + timedelta(hours=1))
    reminder = await rep.wait_for_message(has("Follow-up:"))
    assert f"lead #{lead_id}" in text_of(reminder)
    assert clocked.scheduler().completed == 0
