"""Owner requests: one open request per rep and lead, settled once whoever presses first."""

from __future__ import annotations

import asyncio

from bot.storage import Database
from bot.storage.owner_requests import OwnerRequestRepository, RequestState


async def test_asking_twice_about_a_lead_reuses_the_open_request(db: Database) -> None:
    repo = OwnerRequestRepository(db)
    first, new = await repo.open(
        lead_id=7, requester_telegram_id=11, requester_portal_id=2, owner_portal_id=3, note="hi"
    )
    again, again_new = await repo.open(
        lead_id=7, requester_telegram_id=11, requester_portal_id=2, owner_portal_id=3, note="x"
    )
    assert new
    assert not again_new
    assert again.id == first.id
    assert again.note == "hi"
    other, other_new = await repo.open(
        lead_id=7, requester_telegram_id=12, requester_portal_id=4, owner_portal_id=3, note=""
    )
    assert other_new
    assert other.id != first.id


async def test_two_presses_at_once_settle_a_request_once(db: Database) -> None:
    repo = OwnerRequestRepository(db)
    request, _ = await repo.open(
        lead_id=7, requester_telegram_id=11, requester_portal_id=2, owner_portal_id=3, note=""
    )
    results = await asyncio.gather(
        repo.resolve(request.id, RequestState.HANDED, 21),
        repo.resolve(request.id, RequestState.HANDED, 22),
    )
    assert sorted(results) == [False, True]
    settled = await repo.get(request.id)
    assert settled is not None
    assert settled.state is RequestState.HANDED
    assert settled.resolved_by in (21, 22)
    assert settled.resolved_at is not None


async def test_a_failed_hand_over_reopens_the_request_and_a_new_one_can_follow_a_settled_one(
    db: Database,
) -> None:
    repo = OwnerRequestRepository(db)
    request, _ = await repo.open(
        lead_id=7, requester_telegram_id=11, requester_portal_id=2, owner_portal_id=3, note=""
    )
    assert await repo.resolve(request.id, RequestState.HANDED, 21)
    await repo.reopen(request.id)
    reopened = await repo.get(request.id)
    assert reopened is not None
    assert reopened.state is RequestState.OPEN
    assert reopened.resolved_by is None

    assert await repo.resolve(request.id, RequestState.WITHDRAWN, 11)
    later, new = await repo.open(
        lead_id=7, requester_telegram_id=11, requester_portal_id=2, owner_portal_id=3, note=""
    )
    assert new
    assert later.id != request.id
    assert await repo.get(999) is None
