"""Moving an installation from SQLite to PostgreSQL with `python -m bot.storage.copy`."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiogram.fsm.storage.base import StorageKey

from bot.storage import (
    Binding,
    BindingRepository,
    BindingSource,
    Invite,
    InviteRepository,
    KeyValueRepository,
    Role,
    SqliteDatabase,
)
from bot.storage.copy import main
from bot.storage.fsm import SQLiteStorage
from bot.storage.inbox import InboxRepository
from bot.storage.migrations import MIGRATIONS, Migration
from bot.storage.outbox import NewOutboxMessage, Notification, OutboxRepository
from bot.storage.postgres import PostgresDatabase
from bot.storage.revisions import TableRevisions
from bot.storage.subscriptions import NewSubscription, Scope, SubscriptionRepository
from tests.fixtures_storage import postgres_schema

NOW = datetime(2026, 12, 4, 9, tzinfo=UTC)
KEY = StorageKey(bot_id=1, chat_id=555, user_id=555)
REP = Binding(
    telegram_user_id=555,
    portal_user_id=7,
    role=Role.REP,
    bound_via=BindingSource.CONTACT,
    bound_at=NOW,
    display_name="Анна <b>",
)


async def copy(path: Path, url: str) -> int:
    """The command, run as from a shell (its own event loop, in a thread here)."""
    return await asyncio.to_thread(main, ["--from", str(path), "--to", url])


async def _fill(path: Path) -> dict[str, object]:
    """An installation with a bit of everything; returns what must read back the same."""
    async with SqliteDatabase(path) as db:
        await BindingRepository(db).upsert(REP)
        issued = await InviteRepository(db, lambda: NOW).create(
            8, Role.MANAGER, 555, timedelta(days=1)
        )
        await KeyValueRepository(db).set("portal.oauth", {"refresh": "r", "n": 1})
        subscriptions = SubscriptionRepository(db, lambda: NOW)
        for chat in (-1001234567890, -4001):
            await subscriptions.create(
                NewSubscription(chat_id=chat, thread_id=None, created_by=555, scope=Scope.ALL)
            )
        await InboxRepository(db, lambda: NOW).add("k1", "ONCRMLEADADD", 7, {"id": 7})
        await OutboxRepository(db, lambda: NOW).add(
            [NewOutboxMessage("o1", 555, None, 7, Notification("<b>New lead</b>"))]
        )
        await SQLiteStorage(db).set_data(KEY, {"draft": {"title": "Окна"}})
        return {
            "token": issued.token,
            "revisions": await TableRevisions(db).current(),
            "subscriptions": await subscriptions.active(),
        }


async def test_an_installation_moves_to_postgres_whole_and_keeps_counting(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    before = await _fill(path)
    async with postgres_schema() as url:
        assert await copy(path, url) == 0
        async with PostgresDatabase(url) as db:
            assert await BindingRepository(db).get(555) == REP
            redeemed = await InviteRepository(db, lambda: NOW).redeem(str(before["token"]), 556)
            assert isinstance(redeemed, Invite)
            assert redeemed.role is Role.MANAGER
            assert await KeyValueRepository(db).get("portal.oauth") == {"refresh": "r", "n": 1}
            subscriptions = SubscriptionRepository(db, lambda: NOW)
            assert await subscriptions.active() == before["subscriptions"]
            assert await SQLiteStorage(db).get_data(KEY) == {"draft": {"title": "Окна"}}
            [event] = await InboxRepository(db).unprocessed()
            assert event.payload == {"id": 7}
            [message] = await OutboxRepository(db, lambda: NOW).due(5)
            assert message.notification.text == "<b>New lead</b>"
            assert await TableRevisions(db).current() == {
                **before["revisions"],  # type: ignore[dict-item]
                "bindings": before["revisions"]["bindings"] + 1,  # type: ignore[index]
            }
            # New rows get ids after the copied ones.
            new = await subscriptions.create(
                NewSubscription(chat_id=1, thread_id=None, created_by=555, scope=Scope.MINE)
            )
            assert new.id == 3


async def test_a_second_copy_into_the_same_database_is_refused_and_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bot.sqlite3"
    await _fill(path)
    async with postgres_schema() as url:
        assert await copy(path, url) == 0
        capsys.readouterr()
        assert await copy(path, url) == 1
        error = capsys.readouterr().err
        assert "already holds data" in error
        assert url not in error
        async with PostgresDatabase(url) as db:
            assert len(await SubscriptionRepository(db).active()) == 2


def test_a_missing_file_or_a_wrong_url_is_one_sentence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--from", str(tmp_path / "none.sqlite3"), "--to", "postgresql://x/y"]) == 1
    assert "there is no SQLite file" in capsys.readouterr().err
    assert main(["--from", str(tmp_path / "none.sqlite3"), "--to", "mysql://x/y"]) == 2
    assert "--to must be a postgresql://" in capsys.readouterr().err


async def test_a_target_from_a_newer_build_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bot.sqlite3"
    await _fill(path)
    future = (*MIGRATIONS, Migration(len(MIGRATIONS) + 1, "future", ("SELECT 1",)))
    async with postgres_schema() as url:
        async with PostgresDatabase(url, migrations=future):
            pass
        assert await copy(path, url) == 1
        assert "newer than this code" in capsys.readouterr().err
