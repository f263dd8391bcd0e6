"""To-do activities through the typed methods, against the emulator's documented answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.portal import (
    AccessDeniedError,
    LeadDraft,
    NotFoundError,
    PortalClient,
    ValidationError,
    WebhookAuth,
)
from bot.portal.methods import (
    AddTodo,
    CompleteActivity,
    GetActivity,
    ListActivities,
    OwnerType,
    UpdateTodoDeadline,
)
from tests.emulators.bitrix24 import Bitrix24Emulator
from tests.portal.conftest import ClientFactory

DUE = datetime(2026, 12, 4, 7, 0, tzinfo=UTC)


async def test_a_todo_is_added_on_a_lead_moved_completed_and_listed(
    client: PortalClient, portal_emulator: Bitrix24Emulator
) -> None:
    lead_id = await client.add_lead(LeadDraft(title="Call back", assigned_by_id=2))
    todo_id = await client(
        AddTodo(
            owner_type_id=OwnerType.LEAD,
            owner_id=lead_id,
            deadline=DUE,
            title="Follow-up",
            description="Ask about the quote",
            responsible_id=2,
        )
    )
    stored = portal_emulator.activities[todo_id]
    assert (stored["OWNER_TYPE_ID"], stored["OWNER_ID"], stored["RESPONSIBLE_ID"]) == (
        "1",
        str(lead_id),
        "2",
    )
    activity = await client(GetActivity(id=todo_id))
    assert (activity.deadline, activity.completed, activity.provider_id) == (
        DUE,
        False,
        "CRM_TODO",
    )

    later = DUE + timedelta(hours=1)
    moved = UpdateTodoDeadline(
        id=todo_id, owner_type_id=OwnerType.LEAD, owner_id=lead_id, value=later
    )
    assert await client(moved) == todo_id
    assert (await client(GetActivity(id=todo_id))).deadline == later

    open_filter = {
        "OWNER_TYPE_ID": 1,
        "RESPONSIBLE_ID": 2,
        "COMPLETED": "N",
        "<=DEADLINE": later.isoformat(),
    }
    page = await client(ListActivities(filter=open_filter, order={"DEADLINE": "ASC"}))
    assert [item.id for item in page.items] == [todo_id]

    assert await client(CompleteActivity(id=todo_id)) is True
    assert (await client(GetActivity(id=todo_id))).completed is True
    assert (await client(ListActivities(filter=open_filter))).items == []
    with pytest.raises(ValidationError) as refused:
        await client(moved)
    assert refused.value.code == "CAN_NOT_UPDATE_COMPLETED_TODO"


async def test_documented_errors_of_the_todo_methods(
    client: PortalClient, portal_emulator: Bitrix24Emulator
) -> None:
    lead_id = await client.add_lead(LeadDraft(title="Errors"))
    with pytest.raises(NotFoundError):
        await client(AddTodo(owner_type_id=OwnerType.LEAD, owner_id=999_999, deadline=DUE))
    with pytest.raises(NotFoundError):
        await client(GetActivity(id=999_999))
    with pytest.raises(ValidationError) as bad_date:
        await client.call(
            "crm.activity.todo.add",
            {"ownerTypeId": 1, "ownerId": lead_id, "deadline": "tomorrow-ish"},
            idempotent=False,
        )
    assert bad_date.value.code == "WRONG_DATETIME_FORMAT"
    with pytest.raises(ValidationError) as missing:
        await client.call("crm.activity.todo.add", {"ownerTypeId": 1}, idempotent=False)
    assert missing.value.code == "100"
    with pytest.raises(ValidationError) as no_owner:
        await client.call(
            "crm.activity.todo.add",
            {"ownerTypeId": 77, "ownerId": 1, "deadline": DUE.isoformat()},
            idempotent=False,
        )
    assert no_owner.value.code == "OWNER_NOT_FOUND"


async def test_a_user_may_not_add_a_todo_to_a_colleagues_lead(
    portal_emulator: Bitrix24Emulator, make_client: ClientFactory, client: PortalClient
) -> None:
    olgas = await client.add_lead(LeadDraft(title="Olga's", assigned_by_id=3))
    as_ivan = make_client(WebhookAuth(portal_emulator.add_incoming_webhook(2)))
    with pytest.raises(AccessDeniedError):
        await as_ivan(AddTodo(owner_type_id=OwnerType.LEAD, owner_id=olgas, deadline=DUE))
