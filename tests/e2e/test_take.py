"""🙋 Take on a group notification: accepted only on a message the outbox sent about that lead.

The real bot, the real sender and both emulators; the lead's owner is read back from the portal.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.config import NotifySettings
from bot.notify.buttons import LeadAction, LeadButton
from bot.storage import Database
from bot.storage.outbox import OutboxRepository
from bot.storage.subscriptions import SubscriptionRepository
from tests.e2e.conftest import ADMIN_TELEGRAM_ID, about, notifying_app, sign_in
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


@dataclass
class SalesGroup:
    """A group subscribed by its admin Anna, with reps Ivan and Olga, and the app's stores."""

    telegram: TelegramEmulator
    portal: Bitrix24Emulator
    anna: ChatDriver
    ivan: ChatDriver
    olga: ChatDriver
    outbox: OutboxRepository
    subscriptions: SubscriptionRepository
    db: Database

    async def offer(self, title: str, owner: int) -> tuple[int, ChatMessage]:
        """A new lead of `owner` and its notification in the group."""
        lead_id = self.portal.ui_add_lead({"TITLE": title, "ASSIGNED_BY_ID": owner}, owner)
        message = await self.telegram.wait_for_message(GROUP_ID, about(lead_id, "New lead"))
        return lead_id, message

    async def press(self, user: ChatDriver, message_id: int, data: str) -> str:
        """Press a button with `data` on a group message; the bot's answer."""
        query = await user.press_data(message_id, data)
        answer = await self.telegram.wait_for_callback_answer(query)
        return answer.text or ""

    def owner(self, lead_id: int) -> int:
        """Who is responsible for the lead in the portal now."""
        return int(self.portal.leads[lead_id]["ASSIGNED_BY_ID"])


def take_data(lead_id: int) -> str:
    """What a Take button about `lead_id` carries."""
    return LeadButton(action=LeadAction.TAKE, lead_id=lead_id).pack()


@pytest.fixture
async def sales(
    tmp_path: Path, telegram_emulator: TelegramEmulator, portal_emulator: Bitrix24Emulator
) -> AsyncIterator[SalesGroup]:
    """The app with a subscribed sales group."""
    notify = NotifySettings(
        private_interval_seconds=0.05,
        group_per_minute=1200,
        global_per_second=200,
        global_burst=50,
        backoff_seconds=0.05,
        max_attempts=3,
    )
    async with notifying_app(tmp_path, telegram_emulator, portal_emulator, notify) as app:
        anna = await sign_in(telegram_emulator, ADMIN_TELEGRAM_ID, "Anna", ANNA_PHONE)
        ivan = await sign_in(telegram_emulator, IVAN_TG, "Ivan", IVAN_PHONE)
        olga = await sign_in(telegram_emulator, OLGA_TG, "Olga", OLGA_PHONE)
        telegram_emulator.add_group(
            GROUP_ID, "Sales", admins=[ADMIN_TELEGRAM_ID], members=[IVAN_TG, OLGA_TG]
        )
        in_group = anna.in_group(GROUP_ID)
        await in_group.send("/subscribe")
        await in_group.wait_for_message(lambda m: "Subscribed" in (m.text or ""))
        yield SalesGroup(
            telegram=telegram_emulator,
            portal=portal_emulator,
            anna=in_group,
            ivan=ivan.in_group(GROUP_ID),
            olga=olga.in_group(GROUP_ID),
            outbox=OutboxRepository(app.db),
            subscriptions=SubscriptionRepository(app.db),
            db=app.db,
        )


async def test_rep_takes_an_offered_lead_from_its_notification(sales: SalesGroup) -> None:
    lead_id, offer = await sales.offer("Hot lead", ANNA_PORTAL)
    data = offer.button(TAKE).callback_data
    assert data == take_data(lead_id)

    assert await sales.press(sales.ivan, offer.message_id, data) == "The lead is yours now."
    assert sales.owner(lead_id) == IVAN_PORTAL


async def test_forged_lead_id_on_a_bot_reply_is_refused_and_the_lead_keeps_its_owner(
    sales: SalesGroup,
) -> None:
    olgas_lead = sales.portal.ui_add_lead({"TITLE": "Olga's", "ASSIGNED_BY_ID": OLGA_PORTAL}, 3)
    reply = next(m for m in sales.anna.transcript() if "Subscribed" in (m.text or ""))

    answer = await sales.press(sales.ivan, reply.message_id, take_data(olgas_lead))

    assert answer.startswith("This notification is too old")
    assert sales.owner(olgas_lead) == OLGA_PORTAL


async def test_notification_reused_with_another_lead_id_is_refused(sales: SalesGroup) -> None:
    offered, offer = await sales.offer("Offered", ANNA_PORTAL)
    olgas_lead, _ = await sales.offer("Olga's", OLGA_PORTAL)

    answer = await sales.press(sales.ivan, offer.message_id, take_data(olgas_lead))

    assert answer == "This button does not belong to a notification about this lead."
    assert sales.owner(olgas_lead) == OLGA_PORTAL
    # The message still offers its own lead.
    data = offer.button(TAKE).callback_data
    assert data is not None
    assert await sales.press(sales.ivan, offer.message_id, data) == "The lead is yours now."
    assert sales.owner(offered) == IVAN_PORTAL


async def test_take_on_a_notification_of_a_disabled_or_removed_subscription_is_refused(
    sales: SalesGroup,
) -> None:
    lead_id, offer = await sales.offer("Left behind", ANNA_PORTAL)
    data = offer.button(TAKE).callback_data
    assert data is not None
    (subscription,) = await sales.subscriptions.for_chat(GROUP_ID)

    async with sales.db.transaction() as conn:
        await sales.subscriptions.disable_chat_in(conn, GROUP_ID, "bot was kicked")
    disabled = await sales.press(sales.ivan, offer.message_id, data)
    await sales.subscriptions.remove(subscription.id)
    removed = await sales.press(sales.olga, offer.message_id, data)

    unsubscribed = (
        "This chat is no longer subscribed, so leads cannot be taken from its notifications."
    )
    assert (disabled, removed) == (unsubscribed, unsubscribed)
    assert sales.owner(lead_id) == ANNA_PORTAL


async def test_take_on_a_notification_whose_outbox_row_was_pruned_is_refused_politely(
    sales: SalesGroup,
) -> None:
    lead_id, offer = await sales.offer("Old news", ANNA_PORTAL)
    data = offer.button(TAKE).callback_data
    assert data is not None

    assert await sales.outbox.prune(sent_before=datetime.now(UTC) + timedelta(minutes=1)) >= 1
    answer = await sales.press(sales.ivan, offer.message_id, data)

    assert answer.startswith("This notification is too old to take the lead from.")
    assert sales.owner(lead_id) == ANNA_PORTAL


async def test_responsible_pressing_take_in_a_group_is_told_it_is_already_his(
    sales: SalesGroup,
) -> None:
    lead_id, offer = await sales.offer("Mine", ANNA_PORTAL)
    data = offer.button(TAKE).callback_data
    assert data is not None

    assert await sales.press(sales.anna, offer.message_id, data) == "This lead is already yours."
    # The offer stays open for the others.
    assert await sales.press(sales.olga, offer.message_id, data) == "The lead is yours now."
    assert sales.owner(lead_id) == OLGA_PORTAL
