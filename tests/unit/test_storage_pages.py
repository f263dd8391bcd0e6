"""Big reads a page at a time, on both engines: each page is a short hold of the database."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.storage import Binding, BindingSource, Database, Role, sql
from bot.storage.bindings import BindingRepository
from bot.storage.sql import Row, SqlParams, fetch_all_in_pages
from bot.storage.subscriptions import NewSubscription, Scope, SubscriptionRepository

SQL = "SELECT id, chat_id FROM subscriptions WHERE id > ? ORDER BY id LIMIT ?"


class Counting:
    """A reader that counts the queries it passes on."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.sizes: list[int] = []

    async def fetch_all(self, sql: str, params: SqlParams = ()) -> list[Row]:
        rows = await self.db.fetch_all(sql, params)
        self.sizes.append(len(rows))
        return rows


async def _subscribe(db: Database, count: int) -> SubscriptionRepository:
    subscriptions = SubscriptionRepository(db, lambda: datetime(2026, 12, 5, tzinfo=UTC))
    for number in range(count):
        await subscriptions.create(
            NewSubscription(chat_id=-7000 - number, thread_id=None, created_by=1, scope=Scope.ALL)
        )
    return subscriptions


async def test_every_row_comes_in_key_order_a_page_per_read(db: Database) -> None:
    await _subscribe(db, 5)
    reader = Counting(db)
    rows = await fetch_all_in_pages(reader, SQL, key="id", convert=dict, page=2)
    assert [row["chat_id"] for row in rows] == [-7000, -7001, -7002, -7003, -7004]
    assert reader.sizes == [2, 2, 1]
    exact = Counting(db)
    assert len(await fetch_all_in_pages(exact, SQL, key="id", convert=dict, page=5)) == 5
    assert exact.sizes == [5, 0]  # a full last page needs one more read to know it was last


async def test_each_page_is_converted_before_the_next_is_read(db: Database) -> None:
    # Converting 10,000 rows at the end held the event loop for one long step.
    await _subscribe(db, 5)
    reader = Counting(db)
    reads_before = await fetch_all_in_pages(
        reader, SQL, key="id", convert=lambda _: len(reader.sizes), page=2
    )
    assert reads_before == [1, 1, 2, 2, 3]


async def test_the_repositories_big_reads_page_through_everything(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    subscriptions = await _subscribe(db, 5)
    bindings = BindingRepository(db)
    for person in range(5):
        await bindings.upsert(
            Binding(
                telegram_user_id=900 + person,
                portal_user_id=person + 1,
                role=Role.REP,
                bound_via=BindingSource.CONTACT,
                bound_at=datetime(2026, 12, 5, tzinfo=UTC),
            )
        )
    monkeypatch.setattr(sql, "ROWS_PER_PAGE", 2)
    reads = Counting(db)
    monkeypatch.setattr(subscriptions, "_db", reads)
    assert [s.chat_id for s in await subscriptions.active()] == [-7000 - n for n in range(5)]
    assert reads.sizes == [2, 2, 1]
    monkeypatch.setattr(bindings, "_db", reads)
    assert [b.telegram_user_id for b in await bindings.list_bindings()] == list(range(900, 905))
    assert reads.sizes[3:] == [2, 2, 1]
