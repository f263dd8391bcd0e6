"""The follow-up sync's timed pass goes in the routine lane: nobody waits for it, and in the
background lane it took the processor's next slot every pass (the events of that read waited
a whole slot more). The check before a reminder goes out stays in the background lane."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.followups.sync import FollowUpSync
from bot.portal import Lane, PortalClient
from bot.storage import Binding, BindingRepository, BindingSource, Database, Role
from bot.storage.reminders import ReminderRepository
from tests.emulators.bitrix24 import Bitrix24Emulator
from tests.fixtures_portal import RecordingLimiter

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
REP_PORTAL_ID = 1


async def test_the_timed_pass_is_routine_and_the_check_before_reminding_is_not(
    recorded_portal: tuple[PortalClient, RecordingLimiter],
    portal_emulator: Bitrix24Emulator,
    db: Database,
) -> None:
    portal, limiter = recorded_portal
    bindings = BindingRepository(db)
    await bindings.upsert(
        Binding(
            telegram_user_id=555,
            portal_user_id=REP_PORTAL_ID,
            role=Role.REP,
            bound_via=BindingSource.CONTACT,
            bound_at=NOW,
            display_name="Rep",
        )
    )
    lead_id = portal_emulator.ui_add_lead({"TITLE": "Call back", "ASSIGNED_BY_ID": 1}, 1)
    todo_id = portal_emulator.add_todo(
        {
            "ownerTypeId": 1,
            "ownerId": lead_id,
            "deadline": (NOW + timedelta(minutes=30)).isoformat(),
            "responsibleId": REP_PORTAL_ID,
        },
        1,
    )
    sync = FollowUpSync(
        portal=portal,
        bindings=bindings,
        reminders=ReminderRepository(db, clock=lambda: NOW),
        clock=lambda: NOW,
        interval=30.0,
        on_changed=lambda: None,
    )

    assert await sync.sync_once() == 1
    assert limiter.lanes == [Lane.ROUTINE]

    limiter.lanes.clear()
    assert await sync.open_among([todo_id]) == {todo_id}
    assert limiter.lanes == [Lane.BACKGROUND]  # a reminder about to go out waits for it
