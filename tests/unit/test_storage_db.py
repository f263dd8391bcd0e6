"""The database: pragmas, migrations, serialised transactions, rollback."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import bot.storage
from bot.storage import (
    MEMORY,
    Database,
    DatabaseClosedError,
    Migration,
    SchemaVersionError,
    SqliteDatabase,
)
from bot.storage.migrations import MIGRATIONS, apply_migrations, schema_version
from bot.storage.sql import execute, fetch_one_in


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = SqliteDatabase(tmp_path / "bot.sqlite3")
    await database.open()
    yield database
    await database.close()


async def _pragma(db: Database, name: str) -> object:
    row = await db.fetch_one(f"PRAGMA {name}")
    assert row is not None
    return row[0]


async def test_open_creates_parent_directories_and_sets_pragmas(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "bot.sqlite3"
    async with SqliteDatabase(path, busy_timeout_ms=1234) as db:
        assert path.exists()
        assert await _pragma(db, "journal_mode") == "wal"
        assert await _pragma(db, "foreign_keys") == 1
        assert await _pragma(db, "busy_timeout") == 1234
        assert await _pragma(db, "synchronous") == 1  # NORMAL


async def test_durable_transaction_uses_full_sync_then_returns_to_normal(db: Database) -> None:
    async with db.transaction(durable=True) as conn:
        row = await fetch_one_in(conn, "PRAGMA synchronous")
        assert row is not None
        assert row[0] == 2  # FULL
    assert await _pragma(db, "synchronous") == 1


async def test_fresh_database_gets_every_table(db: Database) -> None:
    rows = await db.fetch_all("SELECT name FROM sqlite_master WHERE type = 'table'")
    tables = {row["name"] for row in rows}
    assert {
        "schema_version",
        "bindings",
        "invites",
        "fsm",
        "kv",
        "bot_actions",
        "inbox",
        "outbox",
        "subscriptions",
        "lead_snapshots",
    } <= tables
    assert await schema_version(db) == len(MIGRATIONS)


async def test_migrations_apply_once_and_reopen_is_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    async with SqliteDatabase(path) as db:
        await db.fetch_all("SELECT 1")
    async with SqliteDatabase(path) as db:
        assert await apply_migrations(db) == []
        rows = await db.fetch_all("SELECT version FROM schema_version ORDER BY version")
        assert [row["version"] for row in rows] == [m.version for m in MIGRATIONS]


async def test_new_migrations_run_in_order_on_next_open(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    extra = (
        *MIGRATIONS,
        Migration(
            len(MIGRATIONS) + 1,
            "note table",
            ("CREATE TABLE note (id INTEGER PRIMARY KEY, text TEXT)",),
        ),
        Migration(
            len(MIGRATIONS) + 2,
            "first note",
            ("INSERT INTO note (text) VALUES ('hello')",),
        ),
    )
    async with SqliteDatabase(path):
        pass
    async with SqliteDatabase(path, migrations=extra) as db:
        assert await schema_version(db) == len(MIGRATIONS) + 2
        assert await apply_migrations(db, extra) == []
    async with SqliteDatabase(path, migrations=extra) as db:
        rows = await db.fetch_all("SELECT text FROM note")
        assert [row["text"] for row in rows] == ["hello"]


async def test_failing_migration_leaves_no_trace(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    broken = (
        *MIGRATIONS,
        Migration(
            len(MIGRATIONS) + 1,
            "half done",
            ("CREATE TABLE half (id INTEGER)", "THIS IS NOT SQL"),
        ),
    )
    with pytest.raises(Exception, match="syntax error"):
        await SqliteDatabase(path, migrations=broken).open()
    async with SqliteDatabase(path) as db:
        assert await schema_version(db) == len(MIGRATIONS)
        row = await db.fetch_one("SELECT count(*) FROM sqlite_master WHERE name = 'half'")
        assert row is not None
        assert row[0] == 0


async def test_database_newer_than_code_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    future = (*MIGRATIONS, Migration(len(MIGRATIONS) + 1, "future", ("SELECT 1",)))
    async with SqliteDatabase(path, migrations=future):
        pass
    with pytest.raises(SchemaVersionError, match="newer than this code"):
        await SqliteDatabase(path).open()


async def test_migration_numbers_must_be_consecutive(tmp_path: Path) -> None:
    gap = (*MIGRATIONS, Migration(len(MIGRATIONS) + 2, "gap", ("SELECT 1",)))
    with pytest.raises(SchemaVersionError, match="expected"):
        await SqliteDatabase(tmp_path / "bot.sqlite3", migrations=gap).open()


async def test_concurrent_transactions_do_not_lose_increments(db: Database) -> None:
    await db.fetch_all("SELECT 1")
    async with db.transaction() as conn:
        await execute(conn, "INSERT INTO kv (key, value, updated_at) VALUES ('n', '0', 'x')")

    async def increment() -> None:
        async with db.transaction() as conn:
            row = await fetch_one_in(conn, "SELECT value FROM kv WHERE key = 'n'")
            assert row is not None
            # Yield between read and write: without serialisation increments would be lost.
            await asyncio.sleep(0)
            await execute(conn, "UPDATE kv SET value = ? WHERE key = 'n'", (str(int(row[0]) + 1),))

    await asyncio.gather(*(increment() for _ in range(200)))
    row = await db.fetch_one("SELECT value FROM kv WHERE key = 'n'")
    assert row is not None
    assert row[0] == "200"


async def test_exception_rolls_back_the_whole_transaction(db: Database) -> None:
    async def write_then_fail() -> None:
        async with db.transaction() as conn:
            await execute(conn, "INSERT INTO kv (key, value, updated_at) VALUES ('a', '1', 'x')")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await write_then_fail()
    assert await db.fetch_one("SELECT * FROM kv WHERE key = 'a'") is None
    # The connection is usable afterwards.
    async with db.transaction() as conn:
        await execute(conn, "INSERT INTO kv (key, value, updated_at) VALUES ('b', '1', 'x')")
    assert await db.fetch_one("SELECT * FROM kv WHERE key = 'b'") is not None


async def test_cancelled_transaction_rolls_back(db: Database) -> None:
    entered = asyncio.Event()

    async def slow_writer() -> None:
        async with db.transaction() as conn:
            await execute(conn, "INSERT INTO kv (key, value, updated_at) VALUES ('c', '1', 'x')")
            entered.set()
            await asyncio.Event().wait()

    task = asyncio.create_task(slow_writer())
    await entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await db.fetch_one("SELECT * FROM kv WHERE key = 'c'") is None


async def test_reads_do_not_see_an_open_transaction(db: Database) -> None:
    inside = asyncio.Event()
    release = asyncio.Event()

    async def writer() -> None:
        async with db.transaction() as conn:
            await execute(conn, "INSERT INTO kv (key, value, updated_at) VALUES ('d', '1', 'x')")
            inside.set()
            await release.wait()
            raise RuntimeError("changed my mind")

    task = asyncio.create_task(writer())
    await inside.wait()
    read = asyncio.create_task(db.fetch_one("SELECT * FROM kv WHERE key = 'd'"))
    await asyncio.sleep(0)
    release.set()
    with pytest.raises(RuntimeError):
        await task
    assert await read is None


async def test_closed_database_refuses_work(tmp_path: Path) -> None:
    db = SqliteDatabase(tmp_path / "bot.sqlite3")
    with pytest.raises(DatabaseClosedError):
        await db.fetch_one("SELECT 1")
    await db.open()
    await db.close()
    await db.close()
    assert not db.is_open
    with pytest.raises(DatabaseClosedError):
        async with db.transaction():
            pass


async def test_memory_database_works_for_unit_tests() -> None:
    async with SqliteDatabase(MEMORY) as db:
        assert await schema_version(db) == len(MIGRATIONS)


async def test_nested_use_inside_a_transaction_fails_instead_of_hanging(db: Database) -> None:
    async def nested() -> None:
        async with db.transaction():
            await db.fetch_one("SELECT 1")

    with pytest.raises(RuntimeError, match="inside its own transaction"):
        await nested()
    assert await db.fetch_one("SELECT 1") is not None


async def test_failed_commit_rolls_back_and_connection_recovers(tmp_path: Path) -> None:
    # A deferred foreign key is only checked at COMMIT, so the commit itself fails.
    with_fk = (
        *MIGRATIONS,
        Migration(
            len(MIGRATIONS) + 1,
            "parent and child",
            (
                "CREATE TABLE parent (id INTEGER PRIMARY KEY)",
                "CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER"
                " REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED)",
            ),
        ),
    )
    async with SqliteDatabase(tmp_path / "bot.sqlite3", migrations=with_fk) as db:

        async def orphan() -> None:
            async with db.transaction() as conn:
                await execute(conn, "INSERT INTO child (parent_id) VALUES (99)")

        with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
            await orphan()
        assert await db.fetch_one("SELECT * FROM child") is None
        async with db.transaction() as conn:
            await execute(conn, "INSERT INTO parent (id) VALUES (99)")
            await execute(conn, "INSERT INTO child (parent_id) VALUES (99)")
        assert await db.fetch_one("SELECT * FROM child") is not None


def test_storage_imports_nothing_of_aiogram_outside_fsm() -> None:
    modules = [
        f"bot.storage.{path.stem}"
        for path in Path(bot.storage.__file__).parent.glob("*.py")
        if path.stem not in {"__init__", "fsm"}
    ]
    code = (
        "import sys\n"
        + "".join(f"import {module}\n" for module in ["bot.storage", *modules])
        + "print(sorted(m for m in sys.modules if m.startswith('aiogram')))"
    )
    # A fresh interpreter: this test process has aiogram loaded already.
    result = subprocess.run(  # noqa: S603 - our own interpreter and a fixed script
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert len(modules) >= 8
    assert result.stdout.strip() == "[]"
