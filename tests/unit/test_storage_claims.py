"""Row claims: several replicas drain one inbox and one outbox, each row in one hand at a time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.storage import Database
from bot.storage.inbox import InboxEvent, InboxRepository
from bot.storage.outbox import NewOutboxMessage, Notification, OutboxRepository

START = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
LEASE = timedelta(seconds=8)
GROUP, ANNA, IVAN = -100, 11, 12


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


async def add_events(inbox: InboxRepository, *leads: int | None) -> None:
    for number, lead_id in enumerate(leads):
        assert await inbox.add(f"e{number}", "ONCRMLEADUPDATE", lead_id, {})


def keys_and_leads(events: list[InboxEvent]) -> list[tuple[str, int | None]]:
    return [(event.dedup_key, event.lead_id) for event in events]


async def test_one_batch_of_events_at_a_time_whichever_replica_takes_it(
    db: Database, clock: Clock
) -> None:
    inbox = InboxRepository(db, clock)
    assert not await inbox.has_unprocessed()
    assert not await inbox.has_unprocessed(claimable_by="b")
    await add_events(inbox, 1, 2, 3)

    assert await inbox.has_unprocessed(claimable_by="b")
    first = await inbox.claim("a", 2, LEASE)
    assert keys_and_leads(first) == [("e0", 1), ("e1", 2)]
    # While "a" reads its batch, new events wait for the next batch, whoever takes it.
    await inbox.add("e3", "ONCRMLEADUPDATE", 1, {})
    await inbox.add("e4", "ONCRMLEADUPDATE", None, {"fields": {}})
    assert await inbox.has_unprocessed()
    assert not await inbox.has_unprocessed(claimable_by="b")  # "b" need not ask the portal
    assert await inbox.has_unprocessed(claimable_by="a")
    assert await inbox.claim("b", 10, LEASE) == []

    # "a" takes its own rows again, and the rest with them.
    again = await inbox.claim("a", 10, LEASE)
    assert [e.dedup_key for e in again] == ["e0", "e1", "e2", "e3", "e4"]
    async with db.transaction() as conn:
        await inbox.mark_processed_in(conn, [e.id for e in again[:4]])
    # Done with all but one, "a" still holds a batch until the last is done.
    assert await inbox.claim("b", 10, LEASE) == []

    # "a" stops renewing (it died): once its claim runs out, "b" takes what it held.
    clock.now += LEASE / 2
    assert await inbox.renew("a", [e.id for e in again], LEASE) == 1
    await inbox.add("e5", "ONCRMLEADUPDATE", 3, {})
    clock.now += LEASE - timedelta(microseconds=1)
    assert not await inbox.has_unprocessed(claimable_by="b")
    assert await inbox.claim("b", 10, LEASE) == []
    clock.now += timedelta(microseconds=1)
    assert await inbox.has_unprocessed(claimable_by="b")
    assert [e.dedup_key for e in await inbox.claim("b", 10, LEASE)] == ["e4", "e5"]
    assert await inbox.renew("a", [e.id for e in again], LEASE) == 0


async def test_processed_and_released_events_leave_the_claims(db: Database, clock: Clock) -> None:
    inbox = InboxRepository(db, clock)
    await add_events(inbox, 1, 1, 2)
    held = await inbox.claim("a", 10, LEASE)
    assert len(held) == 3
    async with db.transaction() as conn:
        await inbox.mark_processed_in(conn, [held[0].id])
    assert await inbox.renew("a", [e.id for e in held], LEASE) == 2

    # Released: any replica may take them at once, without waiting for the claim to run out.
    await inbox.release("a", [e.id for e in held])
    assert keys_and_leads(await inbox.claim("b", 10, LEASE)) == [("e1", 1), ("e2", 2)]
    # Releasing what another replica holds changes nothing.
    await inbox.release("a", [e.id for e in held])
    assert await inbox.claim("c", 10, LEASE) == []
    assert await inbox.renew("b", [e.id for e in held], LEASE) == 2


def message(key: str, chat_id: int, *, routine: bool = False) -> NewOutboxMessage:
    return NewOutboxMessage(
        key, chat_id, None, 1, Notification(key, subscriber=ANNA), routine=routine
    )


async def test_a_chat_sends_through_one_replica_at_a_time_and_keeps_its_order(
    db: Database, clock: Clock
) -> None:
    outbox = OutboxRepository(db, clock)
    await outbox.add(
        [message("g1", GROUP), message("g2", GROUP), message("nudge", ANNA, routine=True)]
    )
    await outbox.add([message("anna", ANNA), message("ivan", IVAN)])

    first = await outbox.claim_due("a", 2, LEASE)
    # Live heads first, then oldest first: the nudge waits behind Anna's notification.
    assert [m.idempotency_key for m in first] == ["g1", "anna"]
    # The group's and Anna's next rows stay with "a" until it is done with their heads.
    second = await outbox.claim_due("b", 10, LEASE)
    assert [m.idempotency_key for m in second] == ["ivan"]
    assert await outbox.claim_due("c", 10, LEASE) == []

    await outbox.mark_sent(first[0].id, 501)
    await outbox.retry_later(first[1].id, timedelta(0), "429", count_attempt=False)
    # Sent: the group's next row is free. Put back: Anna's row is free again, still first.
    third = await outbox.claim_due("c", 10, LEASE)
    assert [m.idempotency_key for m in third] == ["g2", "anna"]


async def test_a_dead_replicas_rows_are_sent_by_another_once_its_claim_runs_out(
    db: Database, clock: Clock
) -> None:
    outbox = OutboxRepository(db, clock)
    await outbox.add([message("g1", GROUP), message("anna", ANNA)])
    held = await outbox.claim_due("a", 10, LEASE, exclude_chats={ANNA})
    assert [m.idempotency_key for m in held] == ["g1"]

    clock.now += LEASE - timedelta(seconds=1)
    assert [m.idempotency_key for m in await outbox.claim_due("b", 10, LEASE)] == ["anna"]
    clock.now += timedelta(seconds=1)
    # (Anna's row is in flight at "b": its sender leaves its own busy chats out.)
    taken = await outbox.claim_due("b", 10, LEASE, exclude_chats={ANNA})
    assert [m.idempotency_key for m in taken] == ["g1"]
    # "a" comes back too late: its renewal finds nothing, and its release frees nothing.
    assert await outbox.renew("a", [m.id for m in held], LEASE) == 0
    await outbox.release("a", [m.id for m in held])
    assert await outbox.claim_due("c", 10, LEASE) == []
    # Released by its holder, a row is free at once.
    await outbox.release("b", [m.id for m in held])
    assert [m.idempotency_key for m in await outbox.claim_due("c", 10, LEASE)] == ["g1"]


async def test_a_malformed_claimed_row_is_set_aside_and_the_chats_next_row_taken(
    db: Database, clock: Clock
) -> None:
    outbox = OutboxRepository(db, clock)
    await outbox.add([message("bad", ANNA), message("good", ANNA), message("ivan", IVAN)])
    async with db.transaction() as conn:
        await conn.execute(
            "UPDATE outbox SET payload = ? WHERE idempotency_key = ?", ("{}", "bad")
        )
    taken = await outbox.claim_due("a", 2, LEASE)
    assert sorted(m.idempotency_key for m in taken) == ["good", "ivan"]
    assert await outbox.count("dead") == 1


async def test_a_head_another_replica_took_after_the_read_is_not_taken_twice(
    db: Database, clock: Clock
) -> None:
    outbox = OutboxRepository(db, clock)
    await outbox.add([message("anna", ANNA), message("ivan", IVAN)])
    rival = OutboxRepository(db, clock)
    read_heads = db.fetch_all
    raced: list[list[str]] = []

    async def heads_then_rival(sql: str, params: Any = ()) -> Any:
        # "b" reads the heads; "a" claims Anna's chat before "b" writes its claim.
        rows = await read_heads(sql, params)
        if not raced:
            raced.append([])
            taken = await rival.claim_due("a", 10, LEASE, exclude_chats={IVAN})
            raced[0] = [m.idempotency_key for m in taken]
        return rows

    db.fetch_all = heads_then_rival  # type: ignore[method-assign]
    try:
        taken = await outbox.claim_due("b", 10, LEASE)
    finally:
        db.fetch_all = read_heads  # type: ignore[method-assign]
    assert raced == [["anna"]]
    assert [m.idempotency_key for m in taken] == ["ivan"]
