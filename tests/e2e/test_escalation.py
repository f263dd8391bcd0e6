"""Speed to lead end to end: a group's new lead nobody takes is escalated to managers.

The real bot, the real sender and portal client, both emulators. Time is moved with the
clock of speed to lead given to the application (deadlines, counters, times to take); the
worker is woken after each move instead of waiting for its round.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.app import Application
from bot.config import NotifySettings
from bot.notify.buttons import (
    EscalationAction,
    EscalationButton,
    SubscriptionAction,
    SubscriptionButton,
)
from bot.storage import BindingRepository, Role
from bot.storage.escalations import EscalationRepository
from bot.storage.subscriptions import SubscriptionRepository
from tests.e2e.conftest import (
    ADMIN_TELEGRAM_ID,
    PICTURE_SECONDS,
    about,
    eventually,
    notifying_app,
    sign_in,
)
from tests.emulators.bitrix24 import Bitrix24Emulator
from tests.emulators.telegram import ChatMessage, TelegramEmulator
from tests.emulators.telegram_driver import ChatDriver

ANNA_PHONE = "+79160000001"
IVAN_PHONE = "+79161234567"
OLGA_PHONE = "+79162345678"
IVAN_TG, OLGA_TG = 2001, 3001
ANNA_PORTAL, IVAN_PORTAL, OLGA_PORTAL = 1, 2, 3
GROUP_ID = -4001
TAKE = "🙋 Take"
ASSIGN = "👉 Assign to…"
OPEN_CARD = "📇 Open card"


class MovableClock:
    """The application's clock of speed to lead: the real time, plus what the test moved."""

    def __init__(self) -> None:
        self.moved = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.moved

    def advance(self, minutes: float) -> None:
        """Move time forward."""
        self.moved += timedelta(minutes=minutes)


@dataclass
class Team:
    """A sales group subscribed by Anna (admin) with escalation; Olga manages, Ivan sells."""

    app: Application
    clock: MovableClock
    telegram: TelegramEmulator
    portal: Bitrix24Emulator
    anna: ChatDriver
    olga: ChatDriver
    ivan: ChatDriver
    group_anna: ChatDriver
    group_ivan: ChatDriver

    @property
    def store(self) -> EscalationRepository:
        """The application's speed-to-lead tables."""
        return EscalationRepository(self.app.db)

    async def new_lead(self, title: str) -> tuple[int, ChatMessage]:
        """A lead added in the portal (Anna's) and its message in the group."""
        lead_id = self.portal.ui_add_lead({"TITLE": title, "ASSIGNED_BY_ID": ANNA_PORTAL}, 1)
        message = await self.telegram.wait_for_message(GROUP_ID, about(lead_id, "New lead"))
        return lead_id, message

    async def later(self, minutes: float) -> None:
        """Move time on and let the worker look at once."""
        self.clock.advance(minutes)
        assert self.app.escalation_worker is not None
        self.app.escalation_worker.wake()

    def group_text(self, message_id: int) -> str:
        """The group message as it reads now."""
        return self.telegram.message(GROUP_ID, message_id).text or ""

    async def group_reads(self, message_id: int, check: Callable[[str], bool]) -> str:
        """Wait until the group message satisfies `check`; returns its text."""

        async def holds() -> bool:
            return check(self.group_text(message_id))

        await eventually(holds)
        return self.group_text(message_id)


def escalations_in(driver: ChatDriver, lead_id: int) -> list[ChatMessage]:
    """The escalation messages about a lead in a chat."""
    return [
        m
        for m in driver.transcript()
        if m.from_bot
        and f"#{lead_id}" in (m.text or "")
        and "nobody has taken it" in (m.text or "")
    ]


async def set_escalation(group: ChatDriver, minutes: int) -> None:
    """Open the subscription's escalation settings from its card and pick the minutes."""
    card = next(m for m in reversed(group.transcript()) if "Subscribed" in (m.text or ""))
    await group.press_and_wait("⏰ Escalation: off", message_id=card.message_id)
    await group.wait_for_message(lambda m: "escalation" in (m.text or ""))
    answer = await group.press_and_wait(f"▫️ {minutes} min", message_id=card.message_id)
    assert not answer.show_alert


@pytest.fixture
async def team(
    tmp_path: Path, telegram_emulator: TelegramEmulator, portal_emulator: Bitrix24Emulator
) -> AsyncIterator[Team]:
    """The app with a clock of its own, and a group that escalates after 15 minutes."""
    notify = NotifySettings(
        private_interval_seconds=0.05,
        group_per_minute=1200,
        global_per_second=200,
        global_burst=50,
        backoff_seconds=0.05,
        max_attempts=3,
    )
    clock = MovableClock()
    async with notifying_app(
        tmp_path, telegram_emulator, portal_emulator, notify, clock=clock
    ) as app:
        anna = await sign_in(telegram_emulator, ADMIN_TELEGRAM_ID, "Anna", ANNA_PHONE)
        ivan = await sign_in(telegram_emulator, IVAN_TG, "Ivan", IVAN_PHONE)
        olga = await sign_in(telegram_emulator, OLGA_TG, "Olga", OLGA_PHONE)
        await BindingRepository(app.db).set_role(OLGA_TG, Role.MANAGER)
        telegram_emulator.add_group(
            GROUP_ID, "Sales", admins=[ADMIN_TELEGRAM_ID], members=[IVAN_TG, OLGA_TG]
        )
        group_anna = anna.in_group(GROUP_ID)
        await group_anna.send("/subscribe")
        await group_anna.wait_for_message(lambda m: "Subscribed" in (m.text or ""))
        await set_escalation(group_anna, 15)
        yield Team(
            app=app,
            clock=clock,
            telegram=telegram_emulator,
            portal=portal_emulator,
            anna=anna,
            olga=olga,
            ivan=ivan,
            group_anna=group_anna,
            group_ivan=ivan.in_group(GROUP_ID),
        )


async def test_manager_sets_escalation_from_the_subscription_card(team: Team) -> None:
    (sub,) = await SubscriptionRepository(team.app.db).for_chat(GROUP_ID)
    assert sub.escalate_minutes == 15
    assert sub.escalate_to == frozenset()  # nobody ticked: every manager


async def test_untaken_lead_is_escalated_to_every_manager_after_the_wait(team: Team) -> None:
    lead_id, offer = await team.new_lead("Boiler <&> Co")

    await team.later(14)
    text = await team.group_reads(offer.message_id, lambda t: "waiting 14 min" in t)
    assert TAKE in team.telegram.message(GROUP_ID, offer.message_id).labels
    assert "Boiler <&> Co" in text
    assert escalations_in(team.anna, lead_id) == []

    await team.later(2)
    told = await team.anna.wait_for_message(about(lead_id, "nobody has taken it"))
    assert "Boiler <&> Co" in (told.text or "")
    assert "has waited 16 min" in (told.text or "")
    # Anna is the lead's responsible: no Take for her own lead, as on every notification.
    assert {ASSIGN, OPEN_CARD} <= set(told.labels)
    to_olga = await team.olga.wait_for_message(about(lead_id, "nobody has taken it"))
    assert {TAKE, ASSIGN, OPEN_CARD} <= set(to_olga.labels)
    assert escalations_in(team.ivan, lead_id) == []

    # Once, however often the worker looks again.
    await team.later(1)
    await team.group_reads(offer.message_id, lambda t: "waiting 17 min" in t)
    assert len(escalations_in(team.anna, lead_id)) == 1


async def test_lead_taken_before_the_deadline_is_never_escalated(team: Team) -> None:
    lead_id, offer = await team.new_lead("Taken in time")

    await team.later(4)
    data = offer.button(TAKE).callback_data
    assert data is not None
    query = await team.group_ivan.press_data(offer.message_id, data)
    answer = await team.telegram.wait_for_callback_answer(query)
    assert answer.text == "The lead is yours now."
    assert team.portal.leads[lead_id]["ASSIGNED_BY_ID"] in (IVAN_PORTAL, str(IVAN_PORTAL))

    text = await team.group_reads(offer.message_id, lambda t: "Taken by" in t)
    assert "Taken by Ivan Petrov in 4 min" in text
    assert "waiting" not in text
    assert TAKE not in team.telegram.message(GROUP_ID, offer.message_id).labels

    await team.later(30)
    assert team.app.escalation_worker is not None
    result = await team.app.escalation_worker.tick()
    assert result.escalated == 0
    assert escalations_in(team.anna, lead_id) == []
    assert escalations_in(team.olga, lead_id) == []
    takes = await team.store.takes([lead_id])
    assert takes[lead_id].portal_user_id == IVAN_PORTAL
    assert round(takes[lead_id].minutes) == 4


async def test_lead_moved_in_the_portal_before_the_deadline_is_not_escalated(team: Team) -> None:
    lead_id, offer = await team.new_lead("Moved on")
    await team.later(3)
    team.portal.ui_update_lead(lead_id, {"STATUS_ID": "IN_PROCESS"}, user_id=3)
    await team.group_reads(offer.message_id, lambda t: "Moved on after 3 min" in t)

    await team.later(20)
    assert team.app.escalation_worker is not None
    assert (await team.app.escalation_worker.tick()).escalated == 0
    assert escalations_in(team.anna, lead_id) == []


async def test_manager_assigns_an_escalated_lead_and_the_rep_is_told(team: Team) -> None:
    lead_id, offer = await team.new_lead("Needs an owner")
    await team.later(16)
    told = await team.anna.wait_for_message(about(lead_id, "nobody has taken it"))

    await team.anna.press_and_wait(ASSIGN, message_id=told.message_id)
    picker = await team.anna.wait_for_message(lambda m: "Assign lead" in (m.text or ""))
    assert "Ivan Petrov" in picker.labels
    await team.anna.send("Pet")
    narrowed = await team.anna.wait_for_message(
        lambda m: "Assign lead" in (m.text or "") and bool(m.labels)
    )
    assert narrowed.labels[0] == "Ivan Petrov"
    assert "Olga Smirnova" not in narrowed.labels
    await team.anna.press_and_wait("Ivan Petrov", message_id=narrowed.message_id)
    await team.anna.wait_for_message(lambda m: "is now Ivan Petrov's" in (m.text or ""))

    assert int(team.portal.leads[lead_id]["ASSIGNED_BY_ID"]) == IVAN_PORTAL
    to_ivan = await team.ivan.wait_for_message(about(lead_id, "assigned"))
    assert "Anna" in (to_ivan.text or "")
    assert OPEN_CARD in to_ivan.labels
    await team.group_reads(offer.message_id, lambda t: "Assigned to Ivan Petrov in 16 min" in t)
    # The escalation message is settled: no buttons to press again.
    assert team.telegram.message(ADMIN_TELEGRAM_ID, told.message_id).labels == []


async def test_rep_or_forged_data_cannot_assign(team: Team) -> None:
    lead_id, offer = await team.new_lead("Not yours to give")
    other_id, _ = await team.new_lead("Another one")
    await team.later(16)
    told = await team.olga.wait_for_message(about(lead_id, "nobody has taken it"))

    assign = EscalationButton(action=EscalationAction.ASSIGN, lead_id=lead_id).pack()
    by_rep = await team.group_ivan.press_data(offer.message_id, assign)
    refused = await team.telegram.wait_for_callback_answer(by_rep)
    assert refused.text == "Only managers and admins can assign leads."

    forged = EscalationButton(action=EscalationAction.ASSIGN, lead_id=other_id).pack()
    query = await team.olga.press_data(told.message_id, forged)
    answer = await team.telegram.wait_for_callback_answer(query)
    assert answer.text == "This button does not belong to a notification about this lead."

    on_group_message = await team.group_anna.press_data(offer.message_id, assign)
    answer = await team.telegram.wait_for_callback_answer(on_group_message)
    assert answer.text == "This button does not belong to a notification about this lead."
    assert int(team.portal.leads[lead_id]["ASSIGNED_BY_ID"]) == ANNA_PORTAL
    assert int(team.portal.leads[other_id]["ASSIGNED_BY_ID"]) == ANNA_PORTAL


async def test_a_deadline_passed_while_the_bot_was_down_fires_once_after_the_restart(
    tmp_path: Path, telegram_emulator: TelegramEmulator, portal_emulator: Bitrix24Emulator
) -> None:
    notify = NotifySettings(private_interval_seconds=0.05, group_per_minute=1200)
    clock = MovableClock()
    async with notifying_app(
        tmp_path, telegram_emulator, portal_emulator, notify, clock=clock
    ) as app:
        anna = await sign_in(telegram_emulator, ADMIN_TELEGRAM_ID, "Anna", ANNA_PHONE)
        telegram_emulator.add_group(GROUP_ID, "Sales", admins=[ADMIN_TELEGRAM_ID])
        group = anna.in_group(GROUP_ID)
        await group.send("/subscribe")
        await group.wait_for_message(lambda m: "Subscribed" in (m.text or ""))
        await set_escalation(group, 15)
        lead_id = portal_emulator.ui_add_lead({"TITLE": "Over the night", "ASSIGNED_BY_ID": 2}, 1)
        await telegram_emulator.wait_for_message(GROUP_ID, about(lead_id, "New lead"))
        assert app.escalation_worker is not None
        assert (await app.escalation_worker.tick()).escalated == 0

    clock.advance(40)  # the deadline passes while the bot is down

    async with notifying_app(
        tmp_path, telegram_emulator, portal_emulator, notify, clock=clock
    ) as app:
        told = await anna.wait_for_message(about(lead_id, "nobody has taken it"))
        assert "has waited 40 min" in (told.text or "")
        assert app.escalation_worker is not None
        assert (await app.escalation_worker.tick()).escalated == 0
        assert len(escalations_in(anna, lead_id)) == 1


async def test_report_shows_speed_to_lead_from_the_takes_the_bot_followed(team: Team) -> None:
    taken_id, offer = await team.new_lead("Taken after four")
    moved_id, moved_offer = await team.new_lead("Moved after two")
    await team.later(2)
    team.portal.ui_update_lead(moved_id, {"STATUS_ID": "IN_PROCESS"}, user_id=3)
    await team.group_reads(moved_offer.message_id, lambda t: "Moved on after 2 min" in t)
    await team.later(2)
    data = offer.button(TAKE).callback_data
    assert data is not None
    await team.telegram.wait_for_callback_answer(
        await team.group_ivan.press_data(offer.message_id, data)
    )
    await team.group_reads(offer.message_id, lambda t: "Taken by Ivan Petrov in 4 min" in t)

    await team.anna.send("/report")
    await team.anna.wait_for_message(lambda m: "Today" in m.labels)
    await team.anna.press("Today")
    photo = await team.anna.wait_for_message(lambda m: m.kind == "photo", timeout=PICTURE_SECONDS)

    assert "Speed to lead: median 2 min, p90 4 min (2 taken)" in (photo.text or "")
    takes = await team.store.takes([taken_id, moved_id])
    assert {lead: record.outcome.value for lead, record in takes.items()} == {
        taken_id: "taken",
        moved_id: "moved",
    }


async def test_a_rep_cannot_set_escalation_even_with_forged_buttons(team: Team) -> None:
    await team.ivan.send("/subscribe")
    card = await team.ivan.wait_for_message(lambda m: "Subscribed" in (m.text or ""))
    assert not any("Escalation" in label for label in card.labels)
    (sub,) = await SubscriptionRepository(team.app.db).for_chat(IVAN_TG)

    forged = SubscriptionButton(id=sub.id, action=SubscriptionAction.ESCALATION_SET, value="5")
    query = await team.ivan.press_data(card.message_id, forged.pack())
    answer = await team.telegram.wait_for_callback_answer(query)

    assert answer.text == "Only managers and admins can set escalation."
    assert (await SubscriptionRepository(team.app.db).for_chat(IVAN_TG))[
        0
    ].escalate_minutes is None
