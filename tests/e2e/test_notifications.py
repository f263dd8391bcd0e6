"""Lead notifications end to end: portal events in, Telegram messages out, the whole app."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
import pytest

from bot.app import Application
from bot.config import NotifySettings
from bot.storage import BindingRepository, Role
from bot.storage.inbox import InboxRepository
from bot.storage.outbox import OutboxRepository
from bot.storage.snapshots import SnapshotRepository
from bot.storage.subscriptions import EventKind, SubscriptionRepository
from tests.e2e.conftest import ADMIN_TELEGRAM_ID, about, eventually, notifying_app, sign_in
from tests.emulators.bitrix24 import Bitrix24Emulator
from tests.emulators.telegram import ChatMessage, TelegramEmulator
from tests.emulators.telegram_driver import ChatDriver

ANNA_PHONE = "+79160000001"
IVAN_PHONE = "+79161234567"
OLGA_PHONE = "+79162345678"
IVAN_TG, OLGA_TG = 2001, 3001
GROUP_ID = -4001
MUTE_HOUR = "🔕 Mute for 1 h"
MUTE_TODAY = "🔕 Mute for today"
UNMUTE = "🔔 Unmute"


class NotifyingBot:
    """The running app, its event URL and its stores."""

    def __init__(self, app: Application, event_url: str) -> None:
        self.app = app
        self.event_url = event_url
        self.inbox = InboxRepository(app.db)
        self.outbox = OutboxRepository(app.db)
        self.subscriptions = SubscriptionRepository(app.db)
        self.snapshots = SnapshotRepository(app.db)
        self.bindings = BindingRepository(app.db)

    async def rows_in(self, table: str) -> int:
        """How many rows a table of the bot's database holds now."""
        row = await self.app.db.fetch_one(f"SELECT count(*) FROM {table}")  # noqa: S608
        return 0 if row is None else int(row[0])


@pytest.fixture
async def notifying_bot(
    tmp_path: Path, telegram_emulator: TelegramEmulator, portal_emulator: Bitrix24Emulator
) -> AsyncIterator[NotifyingBot]:
    """The app fed by the portal's outgoing webhook, sending as fast as the test allows."""
    notify = NotifySettings(
        private_interval_seconds=0.05,
        group_per_minute=1200,
        global_per_second=200,
        global_burst=50,
        backoff_seconds=0.05,
        max_attempts=3,
    )
    async with notifying_app(tmp_path, telegram_emulator, portal_emulator, notify) as app:
        yield NotifyingBot(app, f"http://127.0.0.1:{app.port}{app.settings.web.event_path}")


def notifications(driver: ChatDriver) -> list[ChatMessage]:
    """The bot's lead notifications in a chat."""
    return [m for m in driver.transcript() if m.from_bot and "lead #" in (m.text or "").lower()]


async def subscribe(user: ChatDriver) -> None:
    """Send /subscribe and wait for the confirmation and the preview."""
    await user.send("/subscribe")
    await user.wait_for_message(lambda m: "Subscribed" in (m.text or ""))
    await user.wait_for_message(lambda m: "Preview" in (m.text or ""))


async def anna_and_ivan_subscribed(telegram: TelegramEmulator) -> tuple[ChatDriver, ChatDriver]:
    """Anna (admin) and Ivan (a rep), signed in, each subscribed in a private chat."""
    anna = await sign_in(telegram, ADMIN_TELEGRAM_ID, "Anna", ANNA_PHONE)
    ivan = await sign_in(telegram, IVAN_TG, "Ivan", IVAN_PHONE)
    await subscribe(anna)
    await subscribe(ivan)
    return anna, ivan


async def admin_and_rep_in_a_group(
    bot: NotifyingBot, telegram: TelegramEmulator
) -> tuple[ChatDriver, ChatDriver]:
    """Anna (admin, the group's admin) and Ivan (a rep), both signed in and in the group."""
    anna = await sign_in(telegram, ADMIN_TELEGRAM_ID, "Anna", ANNA_PHONE)
    ivan = await sign_in(telegram, IVAN_TG, "Ivan", IVAN_PHONE)
    await bot.bindings.set_role(IVAN_TG, Role.REP)
    telegram.add_group(GROUP_ID, "Sales", admins=[ADMIN_TELEGRAM_ID], members=[IVAN_TG])
    return anna, ivan


async def make_manager(bot: NotifyingBot, telegram_id: int) -> None:
    """Give a bound account the manager role."""
    await bot.bindings.set_role(telegram_id, Role.MANAGER)


async def test_new_lead_reaches_exactly_the_subscribers_who_may_see_it(
    notifying_bot: NotifyingBot,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    anna = await sign_in(telegram_emulator, ADMIN_TELEGRAM_ID, "Anna", ANNA_PHONE)
    ivan = await sign_in(telegram_emulator, IVAN_TG, "Ivan", IVAN_PHONE)
    olga = await sign_in(telegram_emulator, OLGA_TG, "Olga", OLGA_PHONE)
    await subscribe(anna)
    await subscribe(ivan)

    annas_lead = portal_emulator.ui_add_lead({"TITLE": "Pipes <&> Co", "ASSIGNED_BY_ID": 1}, 1)
    ivans_lead = portal_emulator.ui_add_lead({"TITLE": "Valves", "ASSIGNED_BY_ID": 2}, 1)

    message = await anna.wait_for_message(about(annas_lead, "New lead"))
    assert "Pipes <&> Co" in (message.text or "")
    assert "Responsible: Anna Admin" in (message.text or "")
    # Her own lead: no Take for her in her own chat.
    assert {"📇 Open card", "🌐 Open in portal"} <= set(message.labels)
    assert "🙋 Take" not in message.labels
    colleagues = await anna.wait_for_message(about(ivans_lead, "New lead"))
    assert {"📇 Open card", "🙋 Take", "🌐 Open in portal"} <= set(colleagues.labels)
    await ivan.wait_for_message(about(ivans_lead, "New lead"))
    assert not any(f"#{annas_lead}" in (m.text or "") for m in ivan.transcript())
    assert notifications(olga) == []


async def test_a_subscriber_the_portal_deactivated_drops_out_once_the_users_are_read_again(
    notifying_bot: NotifyingBot,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    anna, ivan = await anna_and_ivan_subscribed(telegram_emulator)
    first = portal_emulator.ui_add_lead({"TITLE": "Valves", "ASSIGNED_BY_ID": 2}, 1)
    await ivan.wait_for_message(about(first, "New lead"))  # his subscription is in the index
    portal_emulator.users[2]["ACTIVE"] = False
    assert notifying_bot.app.access is not None
    await notifying_bot.app.access.directory.refresh()
    second = portal_emulator.ui_add_lead({"TITLE": "Pumps", "ASSIGNED_BY_ID": 2}, 1)
    await anna.wait_for_message(about(second, "New lead"))
    # Not queued for him at all (the sender would also refuse it): the index was rebuilt.
    row = await notifying_bot.app.db.fetch_one(
        "SELECT count(*) FROM outbox WHERE chat_id = ? AND lead_id = ?", (IVAN_TG, second)
    )
    assert row is not None
    assert row[0] == 0


async def test_stage_change_and_reassignment_show_the_diff_and_the_author(
    notifying_bot: NotifyingBot,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    anna = await sign_in(telegram_emulator, ADMIN_TELEGRAM_ID, "Anna", ANNA_PHONE)
    await subscribe(anna)
    lead_id = portal_emulator.ui_add_lead({"TITLE": "Boiler", "ASSIGNED_BY_ID": 1}, 1)
    await anna.wait_for_message(about(lead_id, "New lead"))

    portal_emulator.ui_update_lead(lead_id, {"STATUS_ID": "IN_PROCESS"}, user_id=3)
    stage = await anna.wait_for_message(about(lead_id, "Stage:"))
    assert "Stage: Unassigned → In progress" in (stage.text or "")
    assert "by Olga Smirnova" in (stage.text or "")

    portal_emulator.ui_update_lead(lead_id, {"ASSIGNED_BY_ID": 2}, user_id=1)
    moved = await anna.wait_for_message(about(lead_id, "Responsible:"))
    assert "Responsible: Anna Admin → Ivan Petrov" in (moved.text or "")
    assert "by Anna Admin" in (moved.text or "")


async def test_deleted_lead_is_reported_from_what_the_bot_saw(
    notifying_bot: NotifyingBot,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    anna = await sign_in(telegram_emulator, ADMIN_TELEGRAM_ID, "Anna", ANNA_PHONE)
    await subscribe(anna)
    lead_id = portal_emulator.ui_add_lead({"TITLE": "Short-lived", "ASSIGNED_BY_ID": 1}, 1)
    await anna.wait_for_message(about(lead_id, "New lead"))
    portal_emulator.ui_delete_lead(lead_id)
    deleted = await anna.wait_for_message(about(lead_id, "deleted"))
    assert "Short-lived" in (deleted.text or "")
    assert deleted.labels == []


async def test_own_change_through_the_bot_is_not_echoed_but_others_see_who_made_it(
    notifying_bot: NotifyingBot,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    anna, ivan = await anna_and_ivan_subscribed(telegram_emulator)
    lead_id = portal_emulator.ui_add_lead({"TITLE": "Echo", "ASSIGNED_BY_ID": 2}, 1)
    await ivan.wait_for_message(about(lead_id, "New lead"))
    await anna.wait_for_message(about(lead_id, "New lead"))

    # What the lead card does after a write: note the bot action, then the portal changes.
    await notifying_bot.snapshots.record_bot_action(lead_id, IVAN_TG, 2, "stage")
    portal_emulator.update_lead(lead_id, {"STATUS_ID": "PROCESSED"}, 1)

    told = await anna.wait_for_message(about(lead_id, "Stage:"))
    assert "by Ivan Petrov via the bot" in (told.text or "")
    rows = await notifying_bot.app.db.fetch_all(
        "SELECT count(*) FROM outbox WHERE chat_id = ? AND payload LIKE '%Processed%'", (IVAN_TG,)
    )
    assert rows[0][0] == 0
    assert not any("Processed" in (m.text or "") for m in ivan.transcript())


async def test_group_subscription_needs_a_manager_who_is_the_groups_admin(
    notifying_bot: NotifyingBot,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    anna = await sign_in(telegram_emulator, ADMIN_TELEGRAM_ID, "Anna", ANNA_PHONE)
    ivan = await sign_in(telegram_emulator, IVAN_TG, "Ivan", IVAN_PHONE)
    olga = await sign_in(telegram_emulator, OLGA_TG, "Olga", OLGA_PHONE)
    await make_manager(notifying_bot, OLGA_TG)
    telegram_emulator.add_group(
        GROUP_ID, "Sales", forum=True, admins=[ADMIN_TELEGRAM_ID], members=[IVAN_TG, OLGA_TG]
    )
    topic = 77

    ivan_in_group = ivan.in_group(GROUP_ID, thread_id=topic)
    await ivan_in_group.send("/subscribe")
    refused = await ivan_in_group.wait_for_message()
    assert "Only a manager or an admin" in (refused.text or "")

    olga_in_group = olga.in_group(GROUP_ID, thread_id=topic)
    await olga_in_group.send("/subscribe")
    refused = await olga_in_group.wait_for_message()
    assert "Only an administrator of this group" in (refused.text or "")
    assert await notifying_bot.subscriptions.for_chat(GROUP_ID) == []

    anna_in_group = anna.in_group(GROUP_ID, thread_id=topic)
    await subscribe(anna_in_group)
    [sub] = await notifying_bot.subscriptions.for_chat(GROUP_ID)
    assert sub.thread_id == topic

    lead_id = portal_emulator.ui_add_lead({"TITLE": "Team lead", "ASSIGNED_BY_ID": 3}, 1)
    posted = await anna_in_group.wait_for_message(about(lead_id, "New lead"))
    assert posted.message_thread_id == topic
    card = posted.button("📇 Open card")
    assert card.url is not None
    assert card.url.endswith(f"?start=lead_{lead_id}")


async def test_blocked_chat_gets_its_subscriptions_disabled(
    notifying_bot: NotifyingBot,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    ivan = await sign_in(telegram_emulator, IVAN_TG, "Ivan", IVAN_PHONE)
    await subscribe(ivan)
    telegram_emulator.block(IVAN_TG)
    portal_emulator.ui_add_lead({"TITLE": "Nobody hears", "ASSIGNED_BY_ID": 2}, 1)

    async def disabled() -> bool:
        subs = await notifying_bot.subscriptions.for_chat(IVAN_TG)
        return bool(subs) and all(s.disabled_reason for s in subs)

    await eventually(disabled)
    [sub] = await notifying_bot.subscriptions.for_chat(IVAN_TG)
    assert "blocked" in (sub.disabled_reason or "")
    assert await notifying_bot.outbox.count("pending") == 0


async def test_group_migrated_to_a_supergroup_keeps_its_notifications(
    notifying_bot: NotifyingBot,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    anna = await sign_in(telegram_emulator, ADMIN_TELEGRAM_ID, "Anna", ANNA_PHONE)
    telegram_emulator.add_group(GROUP_ID, "Sales", admins=[ADMIN_TELEGRAM_ID])
    await subscribe(anna.in_group(GROUP_ID))
    new_id = telegram_emulator.migrate_group(GROUP_ID)

    lead_id = portal_emulator.ui_add_lead({"TITLE": "After migration", "ASSIGNED_BY_ID": 1}, 1)
    await telegram_emulator.wait_for_message(new_id, about(lead_id, "New lead"))
    [sub] = await notifying_bot.subscriptions.for_chat(new_id)
    assert sub.disabled_reason is None
    assert await notifying_bot.subscriptions.for_chat(GROUP_ID) == []


async def test_lost_events_are_recovered_by_the_catch_up_poller(
    notifying_bot: NotifyingBot,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    anna = await sign_in(telegram_emulator, ADMIN_TELEGRAM_ID, "Anna", ANNA_PHONE)
    await subscribe(anna)
    portal_emulator.faults.lose_events = True
    lead_id = portal_emulator.ui_add_lead({"TITLE": "Lost event", "ASSIGNED_BY_ID": 1}, 1)
    assert portal_emulator.lost_events
    await anna.wait_for_message(about(lead_id, "New lead"))
    portal_emulator.ui_update_lead(lead_id, {"STATUS_ID": "IN_PROCESS"}, 1)
    changed = await anna.wait_for_message(about(lead_id, "Stage:"))
    assert "Unassigned → In progress" in (changed.text or "")


async def post_form(url: str, form: dict[str, str]) -> int:
    """POST a form body as the portal's queue does."""
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=urlencode(form), headers=headers) as answer,
    ):
        await answer.read()
        return answer.status


async def test_forged_event_is_refused_and_writes_nothing(
    notifying_bot: NotifyingBot, portal_emulator: Bitrix24Emulator
) -> None:
    form = {
        "event": "ONCRMLEADADD",
        "event_handler_id": "1",
        "data[FIELDS][ID]": "1",
        "ts": "1742807175",
        "auth[domain]": portal_emulator.domain,
        "auth[member_id]": portal_emulator.member_id,
        "auth[application_token]": "forged-token",
    }
    assert await post_form(notifying_bot.event_url, form) == 401
    assert await notifying_bot.inbox.count() == 0


async def test_replayed_events_make_no_extra_message(
    notifying_bot: NotifyingBot,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    anna = await sign_in(telegram_emulator, ADMIN_TELEGRAM_ID, "Anna", ANNA_PHONE)
    await subscribe(anna)
    lead_id = portal_emulator.ui_add_lead({"TITLE": "Replayed", "ASSIGNED_BY_ID": 1}, 1)
    await anna.wait_for_message(about(lead_id, "New lead"))
    portal_emulator.ui_update_lead(lead_id, {"STATUS_ID": "IN_PROCESS"}, 1)
    await anna.wait_for_message(about(lead_id, "Stage:"))
    await portal_emulator.drain_events()
    delivered = [d for d in portal_emulator.delivered_events if d.ok]
    assert len(delivered) == 2
    before = len(notifications(anna))
    rows_before = await notifying_bot.outbox.count()

    for _ in range(3):
        for delivery in delivered:
            assert await post_form(notifying_bot.event_url, delivery.form) == 200

    async def all_processed() -> bool:
        return await notifying_bot.inbox.count(processed=False) == 0

    await eventually(all_processed)
    await asyncio.sleep(0.2)  # give a wrong extra message the chance to show up
    assert await notifying_bot.outbox.count() == rows_before
    assert len(notifications(anna)) == before


async def test_take_race_in_a_group_has_one_winner(
    notifying_bot: NotifyingBot,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    anna = await sign_in(telegram_emulator, ADMIN_TELEGRAM_ID, "Anna", ANNA_PHONE)
    ivan = await sign_in(telegram_emulator, IVAN_TG, "Ivan", IVAN_PHONE)
    olga = await sign_in(telegram_emulator, OLGA_TG, "Olga", OLGA_PHONE)
    telegram_emulator.add_group(
        GROUP_ID, "Sales", admins=[ADMIN_TELEGRAM_ID], members=[IVAN_TG, OLGA_TG]
    )
    await subscribe(anna.in_group(GROUP_ID))
    lead_id = portal_emulator.ui_add_lead({"TITLE": "Hot lead", "ASSIGNED_BY_ID": 1}, 1)
    offer = await telegram_emulator.wait_for_message(GROUP_ID, about(lead_id, "New lead"))

    ivan_in_group, olga_in_group = ivan.in_group(GROUP_ID), olga.in_group(GROUP_ID)
    data = offer.button("🙋 Take").callback_data
    assert data is not None
    first = await ivan_in_group.press_data(offer.message_id, data)
    second = await olga_in_group.press_data(offer.message_id, data)
    answers = [
        await telegram_emulator.wait_for_callback_answer(first),
        await telegram_emulator.wait_for_callback_answer(second),
    ]
    texts = sorted(a.text or "" for a in answers)
    assert texts[0].startswith("Already taken by")
    assert texts[1] == "The lead is yours now."
    winner = 2 if (answers[0].text or "").startswith("The lead") else 3
    assert int(portal_emulator.leads[lead_id]["ASSIGNED_BY_ID"]) == winner
    edited = await telegram_emulator.wait_for_message(
        GROUP_ID, lambda m: m.message_id == offer.message_id and "Taken by" in (m.text or "")
    )
    assert "🙋 Take" not in edited.labels


async def test_subscriber_lists_pauses_narrows_and_removes_a_subscription(
    notifying_bot: NotifyingBot,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    anna = await sign_in(telegram_emulator, ADMIN_TELEGRAM_ID, "Anna", ANNA_PHONE)
    await anna.press("🔔 Subscriptions")
    await anna.wait_for_message(lambda m: "/subscribe" in (m.text or ""))
    await subscribe(anna)
    [sub] = await notifying_bot.subscriptions.for_chat(ADMIN_TELEGRAM_ID)

    await anna.send("/subscriptions")
    listing = await anna.wait_for_message(lambda m: "Subscriptions in this chat" in (m.text or ""))
    await anna.press(listing.labels[0])
    await anna.wait_for_message(lambda m: f"Subscription #{sub.id}" in (m.text or ""))
    await anna.press("✅ added")
    narrowed = await anna.wait_for_message(lambda m: "▫️ added" in m.labels)
    assert "changed" in (narrowed.text or "")
    await anna.press("⏸ Pause")
    await anna.wait_for_message(lambda m: "▶️ Resume" in m.labels)
    paused = await notifying_bot.subscriptions.get(sub.id)
    assert paused is not None
    assert paused.paused
    assert EventKind.ADDED not in paused.kinds

    lead_id = portal_emulator.ui_add_lead({"TITLE": "Quiet", "ASSIGNED_BY_ID": 1}, 1)

    async def processed() -> bool:
        return await notifying_bot.inbox.count(processed=False) == 0 and bool(
            await notifying_bot.snapshots.get_many([lead_id])
        )

    await eventually(processed)
    rows = await notifying_bot.app.db.fetch_all(
        "SELECT count(*) FROM outbox WHERE lead_id = ?", (lead_id,)
    )
    assert rows[0][0] == 0
    assert not any(about(lead_id, "New lead")(m) for m in anna.transcript())
    await anna.press("🗑 Remove")
    await anna.wait_for_message(lambda m: "removed" in (m.text or ""))
    assert await notifying_bot.subscriptions.for_chat(ADMIN_TELEGRAM_ID) == []


LONG_AGO = "2020-01-15T10:00:00+03:00"


async def test_first_change_of_a_lead_older_than_the_bot_is_a_change_not_a_new_lead(
    notifying_bot: NotifyingBot,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    anna = await sign_in(telegram_emulator, ADMIN_TELEGRAM_ID, "Anna", ANNA_PHONE)
    await subscribe(anna)
    [old_lead] = portal_emulator.seed_leads(
        1, TITLE="Legacy boiler", ASSIGNED_BY_ID=2, DATE_CREATE=LONG_AGO
    )
    portal_emulator.ui_update_lead(old_lead, {"STATUS_ID": "IN_PROCESS"}, user_id=3)

    told = await anna.wait_for_message(about(old_lead))
    text = told.text or ""
    assert text.startswith(f"✏️ Lead #{old_lead}: Legacy boiler")
    assert "New lead" not in text
    assert "Stage: In progress" in text
    assert "Responsible: Ivan Petrov" in text
    assert "by Olga Smirnova" in text

    portal_emulator.ui_update_lead(old_lead, {"STATUS_ID": "PROCESSED"}, user_id=3)
    second = await anna.wait_for_message(about(old_lead, "→"))
    assert "In progress → Processed" in (second.text or "")
    assert not any("New lead" in (m.text or "") for m in notifications(anna))


async def test_deleting_a_lead_the_bot_never_saw_still_says_which_lead_went(
    notifying_bot: NotifyingBot,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    anna, ivan = await anna_and_ivan_subscribed(telegram_emulator)
    [old_lead] = portal_emulator.seed_leads(
        1, TITLE="Forgotten", ASSIGNED_BY_ID=2, DATE_CREATE=LONG_AGO
    )
    portal_emulator.ui_delete_lead(old_lead)

    deleted = await anna.wait_for_message(about(old_lead, "deleted"))
    assert (deleted.text or "").startswith(f"🗑 Lead #{old_lead} deleted")
    assert "had not seen this lead" in (deleted.text or "")
    assert deleted.labels == []
    # Whose lead it was is unknown, so a rep (who sees only his own leads) is not told.
    await eventually(lambda: _all_processed(notifying_bot))
    assert not any(f"#{old_lead}" in (m.text or "") for m in ivan.transcript())


async def _all_processed(bot: NotifyingBot) -> bool:
    return await bot.inbox.count(processed=False) == 0


async def test_after_a_restart_the_subscribers_are_indexed_before_the_first_event(
    tmp_path: Path, telegram_emulator: TelegramEmulator, portal_emulator: Bitrix24Emulator
) -> None:
    notify = NotifySettings(private_interval_seconds=0.05, backoff_seconds=0.05)
    async with notifying_app(tmp_path, telegram_emulator, portal_emulator, notify):
        anna, _ = await anna_and_ivan_subscribed(telegram_emulator)
    async with notifying_app(tmp_path, telegram_emulator, portal_emulator, notify) as app:
        processor = app.processor
        assert processor is not None

        async def indexed() -> bool:
            return processor.subscribers_indexed == 2

        # Built once the users are read, with nothing in the inbox to wait for it.
        await eventually(indexed)
        assert processor.leads_read == 0
        lead_id = portal_emulator.ui_add_lead({"TITLE": "After restart", "ASSIGNED_BY_ID": 1}, 1)
        await anna.wait_for_message(about(lead_id, "New lead"))
        assert processor.subscribers_indexed == 2


async def test_poller_does_not_queue_again_what_the_webhook_already_brought(
    notifying_bot: NotifyingBot,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    anna = await sign_in(telegram_emulator, ADMIN_TELEGRAM_ID, "Anna", ANNA_PHONE)
    await subscribe(anna)
    processor, poller = notifying_bot.app.processor, notifying_bot.app.poller
    assert processor is not None
    assert poller is not None
    lead_id = portal_emulator.ui_add_lead({"TITLE": "Read once", "ASSIGNED_BY_ID": 1}, 1)
    await anna.wait_for_message(about(lead_id, "New lead"))
    portal_emulator.ui_update_lead(lead_id, {"STATUS_ID": "IN_PROCESS"}, 1)
    await anna.wait_for_message(about(lead_id, "Stage:"))
    read_before = processor.leads_read

    # Several catch-up passes list the changed lead again (it is inside their window).
    listed = poller.listed
    await eventually(lambda: _listed_more(poller.listed, listed + 3), timeout=10)

    rows = await notifying_bot.app.db.fetch_all("SELECT event FROM inbox ORDER BY id")
    assert [row["event"] for row in rows] == ["ONCRMLEADADD", "ONCRMLEADUPDATE"]
    assert poller.queued == 0
    assert processor.leads_read == read_before
    assert len([m for m in notifications(anna) if f"#{lead_id}" in (m.text or "")]) == 2


async def _listed_more(now: int, wanted: int) -> bool:
    return now >= wanted


# --- 🔕 mute buttons: a muted chat's notifications are skipped, with the reason ---------------


async def test_a_muted_chat_misses_the_next_changes_until_it_unmutes(
    notifying_bot: NotifyingBot,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    anna = await sign_in(telegram_emulator, ADMIN_TELEGRAM_ID, "Anna", ANNA_PHONE)
    await subscribe(anna)
    lead_id = portal_emulator.ui_add_lead({"TITLE": "Boiler", "ASSIGNED_BY_ID": 2}, 1)
    first = await anna.wait_for_message(about(lead_id, "New lead"))
    assert {MUTE_HOUR, MUTE_TODAY} <= set(first.labels)

    answer = await anna.press_and_wait(MUTE_HOUR, message_id=first.message_id)
    assert (answer.text or "").startswith("🔕 No notifications here until ")
    swapped = await anna.wait_for_message(lambda m: UNMUTE in m.labels)
    assert MUTE_HOUR not in swapped.labels

    portal_emulator.ui_update_lead(lead_id, {"STATUS_ID": "IN_PROCESS"}, user_id=3)

    async def skipped() -> bool:
        row = await notifying_bot.app.db.fetch_one(
            "SELECT count(*) FROM outbox WHERE last_error LIKE 'skipped: chat muted until%'"
        )
        return row is not None and row[0] == 1

    await eventually(skipped)
    assert len(notifications(anna)) == 1  # the stage change was not sent

    answer = await anna.press_and_wait(UNMUTE, message_id=first.message_id)
    assert answer.text == "🔔 Notifications here are back on."
    portal_emulator.ui_update_lead(lead_id, {"STATUS_ID": "PROCESSED"}, user_id=3)
    await anna.wait_for_message(about(lead_id, "Stage:"))


async def test_only_a_manager_mutes_a_group(
    notifying_bot: NotifyingBot,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    anna, ivan = await admin_and_rep_in_a_group(notifying_bot, telegram_emulator)
    in_group = anna.in_group(GROUP_ID)
    await subscribe(in_group)
    lead_id = portal_emulator.ui_add_lead({"TITLE": "Pump", "ASSIGNED_BY_ID": 2}, 1)
    offer = await in_group.wait_for_message(about(lead_id, "New lead"))

    refusal = await ivan.in_group(GROUP_ID).press_and_wait(MUTE_TODAY, message_id=offer.message_id)
    assert refusal.text == "Only a manager can mute a group; in a private chat, only its owner."
    assert await notifying_bot.rows_in("chat_mutes") == 0

    muted = await in_group.press_and_wait(MUTE_TODAY, message_id=offer.message_id)
    assert (muted.text or "").startswith("🔕 No notifications here until ")
    assert await notifying_bot.rows_in("chat_mutes") == 1


# --- 🌙 quiet hours: outside a quiet chat's working hours changes wait for one digest -------

QUIET_ON = "🌙 Be quiet outside these hours"
HOURS = "🕘 Hours"


def _window(start_in: timedelta, length: timedelta) -> str:
    """A range of hours (UTC, the bot's zone in tests) starting `start_in` from now."""
    start = datetime.now(UTC) + start_in
    end = start + length
    return f"{start:%H:%M}-{end:%H:%M}"


async def test_a_quiet_chat_gets_changes_outside_its_hours_as_one_digest_when_they_open(
    notifying_bot: NotifyingBot,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    anna = await sign_in(telegram_emulator, ADMIN_TELEGRAM_ID, "Anna", ANNA_PHONE)
    await subscribe(anna)
    lead_id = portal_emulator.ui_add_lead({"TITLE": "Boiler <b>&", "ASSIGNED_BY_ID": 2}, 1)
    await anna.wait_for_message(about(lead_id, "New lead"))

    await anna.send("/hours")
    shown = await anna.wait_for_message(lambda m: "Working hours of this chat" in (m.text or ""))
    assert "Time zone: UTC" in (shown.text or "")
    assert "Quiet outside these hours: off" in (shown.text or "")
    await anna.press(HOURS)
    await anna.wait_for_message(lambda m: "Type the working hours" in (m.text or ""))
    await anna.send("25:00-9")
    await anna.wait_for_message(lambda m: "That is not a range of hours" in (m.text or ""))
    # Every day, a window that starts in three hours: now is outside it.
    await anna.send(_window(timedelta(hours=3), timedelta(hours=2)))
    await anna.wait_for_message(lambda m: "Saved." in (m.text or ""))
    await anna.press("📅 Days")
    await anna.wait_for_message(lambda m: "Tick the working days" in (m.text or ""))
    for day in ("Sat", "Sun"):
        await anna.press(day)
        ticked = f"✅ {day}"
        await anna.wait_for_message(lambda m: ticked in m.labels)  # noqa: B023 (awaited here)
    await anna.press("💾 Save")
    days = await anna.wait_for_message(lambda m: "Working days: Mon–Sun" in (m.text or ""))
    assert "Saved." in (days.text or "")
    await anna.press(QUIET_ON)
    await anna.wait_for_message(lambda m: "Quiet outside these hours: on" in (m.text or ""))

    before = len(notifications(anna))
    portal_emulator.ui_update_lead(lead_id, {"STATUS_ID": "IN_PROCESS"}, user_id=3)
    portal_emulator.ui_update_lead(lead_id, {"TITLE": "Boiler 2"}, user_id=3)

    async def held_two() -> bool:
        return await notifying_bot.rows_in("held_notifications") >= 1

    await eventually(held_two)
    # A lead handed to her is urgent: it comes at once, quiet or not.
    urgent = portal_emulator.ui_add_lead({"TITLE": "Pump", "ASSIGNED_BY_ID": 1}, 1)
    await anna.wait_for_message(about(urgent, "New lead"))
    assert len(notifications(anna)) == before + 1

    # The window opens (she sets one around now): the digest comes at once, once.
    await anna.press(HOURS)
    await anna.wait_for_message(lambda m: "Type the working hours" in (m.text or ""))
    await anna.send(_window(-timedelta(hours=1), timedelta(hours=3)))
    digest = await anna.wait_for_message(
        lambda m: "While you were off work" in (m.text or ""), timeout=10
    )
    text = digest.text or ""
    assert f"#{lead_id} Boiler" in text
    assert "📇 #" + str(lead_id) in digest.labels
    assert "🌐 All of them in the portal" in digest.labels
    assert await notifying_bot.rows_in("held_notifications") == 0


async def test_only_a_manager_sets_a_groups_hours(
    notifying_bot: NotifyingBot,
    telegram_emulator: TelegramEmulator,
) -> None:
    anna, ivan = await admin_and_rep_in_a_group(notifying_bot, telegram_emulator)
    in_group = ivan.in_group(GROUP_ID)
    await in_group.send("/hours")
    refusal = await in_group.wait_for_message()
    assert refusal.text == "Only a manager can set a group's working hours."
    await anna.in_group(GROUP_ID).send("/hours")
    await anna.in_group(GROUP_ID).wait_for_message(
        lambda m: "Working hours of this chat" in (m.text or "")
    )
    assert await notifying_bot.rows_in("chat_hours") == 0


async def test_a_users_portal_zone_is_their_chats_zone_until_they_pick_one(
    notifying_bot: NotifyingBot,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    portal_emulator.users[2]["TIME_ZONE"] = "Asia/Novosibirsk"
    assert notifying_bot.app.access is not None
    await notifying_bot.app.access.directory.refresh()
    ivan = await sign_in(telegram_emulator, IVAN_TG, "Ivan", IVAN_PHONE)
    await ivan.send("/hours")
    shown = await ivan.wait_for_message(lambda m: "Working hours of this chat" in (m.text or ""))
    assert "Time zone: Asia/Novosibirsk" in (shown.text or "")
    await ivan.press("🌍 Time zone")
    await ivan.wait_for_message(lambda m: "Choose the time zone" in (m.text or ""))
    await ivan.send("Mars/Olympus")
    await ivan.wait_for_message(lambda m: "is not a time zone I know" in (m.text or ""))
    await ivan.press("Asia/Irkutsk")
    chosen = await ivan.wait_for_message(lambda m: "Time zone: Asia/Irkutsk" in (m.text or ""))
    assert "Done: the time zone is Asia/Irkutsk." in (chosen.text or "")
