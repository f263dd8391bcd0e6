"""Subscription filters end to end: stages, sources and chosen responsibles, chosen on the card."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from bot.app import Application
from bot.config import NotifySettings
from bot.storage import BindingRepository, Role
from bot.storage.inbox import InboxRepository
from bot.storage.subscriptions import Scope, Subscription, SubscriptionRepository
from tests.e2e.conftest import about, eventually, notifying_app, sign_in
from tests.emulators.bitrix24 import Bitrix24Emulator
from tests.emulators.telegram import ChatMessage, TelegramEmulator
from tests.emulators.telegram_driver import ChatDriver

IVAN_PHONE = "+79161234567"
OLGA_PHONE = "+79162345678"
IVAN_TG, OLGA_TG = 2001, 3001


@pytest.fixture
async def app(
    tmp_path: Path, telegram_emulator: TelegramEmulator, portal_emulator: Bitrix24Emulator
) -> AsyncIterator[Application]:
    """The app fed by the portal's outgoing webhook; fast timings."""
    notify = NotifySettings(private_interval_seconds=0.05, global_per_second=200)
    async with notifying_app(tmp_path, telegram_emulator, portal_emulator, notify) as application:
        yield application


async def subscribe(user: ChatDriver, app: Application) -> tuple[ChatMessage, Subscription]:
    """Send /subscribe; returns the card with its buttons and the stored subscription."""
    await user.send("/subscribe")
    card = await user.wait_for_message(lambda m: "Subscribed" in (m.text or ""))
    await user.wait_for_message(lambda m: "Preview" in (m.text or ""))
    [sub] = await SubscriptionRepository(app.db).for_chat(user.chat_id)
    return card, sub


async def press(user: ChatDriver, label: str, then: str) -> ChatMessage:
    """Press a button and wait until the message shows the label `then`."""
    await user.press(label)
    return await user.wait_for_message(lambda m: then in m.labels)


async def stored(app: Application, subscription_id: int) -> Subscription:
    sub = await SubscriptionRepository(app.db).get(subscription_id)
    assert sub is not None
    return sub


async def all_processed(app: Application, *lead_ids: int) -> None:
    """Every event so far is processed and each lead has been seen by the bot."""
    inbox = InboxRepository(app.db)

    async def done() -> bool:
        marks = ", ".join("?" * len(lead_ids))
        query = f"SELECT count(*) FROM lead_snapshots WHERE lead_id IN ({marks})"  # noqa: S608
        rows = await app.db.fetch_all(query, lead_ids)
        return await inbox.count(processed=False) == 0 and rows[0][0] == len(lead_ids)

    await eventually(done)


def told_about(lead_id: int) -> Callable[[ChatMessage], bool]:
    """A notification about this lead (any kind)."""
    return lambda m: f"lead #{lead_id}:" in (m.text or "").lower()


async def queued_for(app: Application, lead_id: int, chat_id: int) -> int:
    rows = await app.db.fetch_all(
        "SELECT count(*) FROM outbox WHERE lead_id = ? AND chat_id = ?", (lead_id, chat_id)
    )
    return int(rows[0][0])


async def test_manager_hears_only_about_the_chosen_stage_and_source(
    app: Application, telegram_emulator: TelegramEmulator, portal_emulator: Bitrix24Emulator
) -> None:
    olga = await sign_in(telegram_emulator, OLGA_TG, "Olga", OLGA_PHONE)
    await BindingRepository(app.db).set_role(OLGA_TG, Role.MANAGER)
    _, sub = await subscribe(olga, app)

    picker = await press(olga, "🎯 Stages", then="▫️ In progress")
    stage_labels = [label for label in picker.labels if label.startswith(("✅", "▫️"))]
    assert stage_labels[:3] == ["▫️ Unassigned", "▫️ In progress", "▫️ Processed"]
    await press(olga, "▫️ In progress", then="✅ In progress")
    await press(olga, "✔️ Done", then="📥 Sources")
    await press(olga, "📥 Sources", then="▫️ Website")
    await press(olga, "▫️ Website", then="✅ Website")
    card = await press(olga, "✔️ Done", then="🎯 Stages")
    assert "Filters: Stages: In progress; Sources: Website" in (card.text or "")
    narrowed = await stored(app, sub.id)
    assert narrowed.stages == frozenset({"IN_PROCESS"})
    assert narrowed.sources == frozenset({"WEB"})

    await olga.send("/subscriptions")
    listing = await olga.wait_for_message(lambda m: "Subscriptions in this chat" in (m.text or ""))
    assert "Stages: In progress; Sources: Website" in (listing.text or "")

    other_stage = portal_emulator.ui_add_lead(
        {"TITLE": "Web but new", "ASSIGNED_BY_ID": 2, "SOURCE_ID": "WEB"}, 1
    )
    other_source = portal_emulator.ui_add_lead(
        {"TITLE": "Call in progress", "ASSIGNED_BY_ID": 2, "STATUS_ID": "IN_PROCESS"}, 1
    )
    await all_processed(app, other_stage, other_source)
    portal_emulator.ui_update_lead(other_source, {"STATUS_ID": "PROCESSED"}, user_id=1)
    moved = portal_emulator.ui_add_lead(
        {"TITLE": "Will move", "ASSIGNED_BY_ID": 2, "SOURCE_ID": "CALL"}, 1
    )
    await all_processed(app, moved)
    portal_emulator.ui_update_lead(
        moved, {"STATUS_ID": "IN_PROCESS", "SOURCE_ID": "WEB"}, user_id=1
    )

    told = await olga.wait_for_message(about(moved, "Stage:"))
    assert "Unassigned → In progress" in (told.text or "")
    for quiet in (other_stage, other_source):
        assert await queued_for(app, quiet, OLGA_TG) == 0
        assert not any(told_about(quiet)(m) for m in olga.transcript())
    assert not any(about(moved, "New lead")(m) for m in olga.transcript())


async def test_manager_picks_responsibles_and_hears_only_about_their_leads(
    app: Application, telegram_emulator: TelegramEmulator, portal_emulator: Bitrix24Emulator
) -> None:
    olga = await sign_in(telegram_emulator, OLGA_TG, "Olga", OLGA_PHONE)
    await BindingRepository(app.db).set_role(OLGA_TG, Role.MANAGER)
    _, sub = await subscribe(olga, app)

    picker = await press(olga, "🔁 all leads I may see", then="▫️ Ivan Petrov")
    assert "responsibles" in (picker.text or "")
    assert "▫️ Pavel Former" not in picker.labels  # inactive in the portal
    await press(olga, "▫️ Ivan Petrov", then="✅ Ivan Petrov")
    card = await press(olga, "✔️ Done", then="👥 Responsibles")
    assert "Leads: chosen responsibles" in (card.text or "")
    assert "Responsibles: Ivan Petrov" in (card.text or "")
    chosen = await stored(app, sub.id)
    assert chosen.scope is Scope.USERS
    assert chosen.responsible_ids == frozenset({2})

    annas = portal_emulator.ui_add_lead({"TITLE": "Anna's", "ASSIGNED_BY_ID": 1}, 1)
    await all_processed(app, annas)
    ivans = portal_emulator.ui_add_lead({"TITLE": "Ivan's", "ASSIGNED_BY_ID": 2}, 1)
    await olga.wait_for_message(about(ivans, "New lead"))
    assert await queued_for(app, annas, OLGA_TG) == 0


async def test_rep_is_not_offered_chosen_responsibles_and_a_forged_press_is_refused(
    app: Application, telegram_emulator: TelegramEmulator
) -> None:
    ivan = await sign_in(telegram_emulator, IVAN_TG, "Ivan", IVAN_PHONE)
    card, sub = await subscribe(ivan, app)
    assert sub.scope is Scope.MINE
    assert "🎯 Stages" in card.labels
    assert not any(label.startswith(("🔁", "👥")) for label in card.labels)

    for forged in (f"sub:{sub.id}:ut:3:0", f"sub:{sub.id}:uv:0"):
        query_id = await ivan.press_data(card.message_id, forged)
        answer = await telegram_emulator.wait_for_callback_answer(query_id)
        assert "Only managers and admins" in (answer.text or "")
    query_id = await ivan.press_data(card.message_id, f"sub:{sub.id}:s")
    await telegram_emulator.wait_for_callback_answer(query_id)
    unchanged = await stored(app, sub.id)
    assert unchanged.scope is Scope.MINE
    assert unchanged.responsible_ids == frozenset()
