"""The database on both engines: migrations, serialised transactions, rollback; pragmas."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import aiosqlite
import pytest

import bot.storage
from bot.storage import (
    DATABASE_ERRORS,
    MEMORY,
    Database,
    DatabaseClosedError,
    Migration,
    SchemaVersionError,
    SqliteDatabase,
)
from bot.storage.migrations import MIGRATIONS, apply_migrations, schema_version, to_postgres
from bot.storage.postgres import PostgresDatabase
from bot.storage.sql import execute, fetch_one_in, numbered_placeholders
from tests.fixtures_storage import Backend, postgres_schema, sqlite_only


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
        async with db.transaction() as conn:  # a plain transaction commits with NORMAL
            row = await fetch_one_in(conn, "PRAGMA synchronous")
            assert row is not None
            assert row[0] == 1


@sqlite_only
async def test_a_durable_transaction_commits_with_full_sync_and_the_others_with_normal(
    db: Database,
) -> None:
    async def level(*, durable: bool) -> int:
        async with db.transaction(durable=durable) as conn:
            row = await fetch_one_in(conn, "PRAGMA synchronous")
            assert row is not None
            return int(row[0])

    # A run of durable ones keeps FULL without switching back and forth in between.
    assert [await level(durable=d) for d in (True, True, False, False, True, False)] == [
        2,  # FULL
        2,
        1,  # NORMAL
        1,
        2,
        1,
    ]


async def test_one_statement_written_on_its_own_commits_and_returns_its_rows(
    db: Database,
) -> None:
    rows = await db.write_one(
        "INSERT INTO kv (key, value, updated_at) VALUES (?, ?, ?), (?, ?, ?) "
        "ON CONFLICT (key) DO NOTHING RETURNING key",
        ["a", "1", "t", "b", "2", "t"],
        durable=True,
    )
    assert sorted(row[0] for row in rows) == ["a", "b"]
    again = await db.write_one(
        "INSERT INTO kv (key, value, updated_at) VALUES (?, ?, ?) "
        "ON CONFLICT (key) DO NOTHING RETURNING key",
        ["a", "3", "t"],
    )
    assert again == []
    assert [row[0] for row in await db.fetch_all("SELECT value FROM kv ORDER BY key")] == [
        "1",
        "2",
    ]


async def test_one_statement_written_on_its_own_stays_out_of_another_tasks_transaction(
    db: Database,
) -> None:
    # Written while another task's transaction is open, it must neither wait for nothing nor
    # join that transaction: the other one rolls back, this row stays.
    opened = asyncio.Event()

    async def doomed() -> None:
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO kv (key, value, updated_at) VALUES ('x', '1', 't')")
            opened.set()
            await asyncio.sleep(0.05)
            raise RuntimeError("rolled back")

    other = asyncio.create_task(doomed())
    await opened.wait()
    await db.write_one(
        "INSERT INTO kv (key, value, updated_at) VALUES ('y', '2', 't')", durable=True
    )
    with pytest.raises(RuntimeError, match="rolled back"):
        await other
    assert [row[0] for row in await db.fetch_all("SELECT key FROM kv")] == ["y"]


KV_INSERT = (
    "INSERT INTO kv (key, value, updated_at) VALUES (?, '1', 't') "
    "ON CONFLICT (key) DO NOTHING RETURNING key"
)


@sqlite_only
async def test_a_statement_written_at_once_commits_durably_and_returns_its_rows(
    db: Database, tmp_path: Path
) -> None:
    assert [tuple(row) for row in db.write_now(KV_INSERT, ["a"]) or []] == [("a",)]
    assert db.write_now(KV_INSERT, ["a"]) == []  # already there
    # Committed for everyone: the database's own connection and a new one see it.
    assert [row[0] for row in await db.fetch_all("SELECT key FROM kv")] == ["a"]
    async with (
        aiosqlite.connect(tmp_path / "bot.sqlite3") as other,
        other.execute("SELECT key FROM kv") as cursor,
    ):
        assert [row[0] for row in await cursor.fetchall()] == ["a"]


@sqlite_only
async def test_a_statement_is_not_written_at_once_while_a_transaction_holds_the_lock(
    db: Database,
) -> None:
    # It never waits (the loop would stop): the caller goes the usual way instead.
    async with db.transaction() as conn:
        await conn.execute("INSERT INTO kv (key, value, updated_at) VALUES ('t', '1', 't')")
        assert db.write_now(KV_INSERT, ["a"]) is None
    assert db.write_now(KV_INSERT, ["b"]) is not None
    assert sorted(row[0] for row in await db.fetch_all("SELECT key FROM kv")) == ["b", "t"]


@sqlite_only
async def test_a_statement_that_fails_at_once_leaves_no_transaction_open(db: Database) -> None:
    assert db.write_now(KV_INSERT, [2**70]) is None  # too big for SQLite: OverflowError
    assert db.write_now("INSERT INTO no_such_table VALUES (1)") is None
    # The write lock was let go both times: the usual way and the next one at once go on.
    await db.write_one(KV_INSERT, ["usual"], durable=True)
    assert db.write_now(KV_INSERT, ["now"]) is not None


def _commit_times(monkeypatch: pytest.MonkeyPatch, durations: list[float]) -> None:
    """`write_now`'s commits take these many seconds each, in order (its two clock readings)."""
    readings = iter([moment for n, took in enumerate(durations) for moment in (n, n + took)])
    monkeypatch.setattr(bot.storage.db.time, "perf_counter", lambda: next(readings))


@sqlite_only
async def test_on_a_slow_disk_statements_are_not_written_at_once_for_a_while(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A disk whose flush is slow would stop the loop for that long at every event: once most
    # of the recent commits were slow, the usual way is taken for a while.
    monkeypatch.setattr(bot.storage.db, "DIRECT_WRITE_WINDOW", 4)
    _commit_times(monkeypatch, [0.0002, 0.0025, 0.003, 0.0004, 0.004])
    keys = ["quick", "slow", "slow again", "quick again", "a third slow one"]
    for key in keys:
        assert db.write_now(KV_INSERT, [key]) is not None
    # Three of the last four over the limit: resting.
    assert db.write_now(KV_INSERT, ["resting"]) is None
    assert sorted(row[0] for row in await db.fetch_all("SELECT key FROM kv")) == sorted(keys)


@sqlite_only
async def test_one_slow_commit_however_slow_does_not_stop_writing_at_once(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A flush that waited behind a checkpoint took 48 ms between flushes of half a millisecond:
    # the disk is not slow, and the acknowledgements would wait for the thread for a minute.
    monkeypatch.setattr(bot.storage.db, "DIRECT_WRITE_WINDOW", 4)
    _commit_times(monkeypatch, [0.0005, 0.048, 0.0005, 0.0005, 0.048, 0.0005])
    for key in ["a", "b", "c", "d", "e", "f"]:
        assert db.write_now(KV_INSERT, [key]) is not None


async def test_only_a_sqlite_file_writes_at_once() -> None:
    async with SqliteDatabase(MEMORY) as memory:
        assert memory.write_now(KV_INSERT, ["a"]) is None
    async with postgres_schema() as url, PostgresDatabase(url) as postgres:
        assert postgres.write_now(KV_INSERT, ["a"]) is None


@sqlite_only
async def test_one_statement_written_on_its_own_commits_at_the_level_asked(
    db: Database,
) -> None:
    sql = "INSERT INTO kv (key, value, updated_at) VALUES (?, '1', 't')"
    await db.write_one(sql, ["d"], durable=True)
    assert await _pragma(db, "synchronous") == 2  # FULL
    await db.write_one(sql, ["n"])
    assert await _pragma(db, "synchronous") == 1  # NORMAL


@sqlite_only
async def test_each_statement_is_one_trip_to_the_database_thread(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every trip waits for a turn of the event loop, which a busy bot makes long: the commit
    # level and BEGIN ride with the first statement, and no cursor takes trips of its own.
    trips: list[str] = []
    original = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: object, *args: object) -> object:
        trips.append(str(args[0]) if args and isinstance(args[0], str) else "job")
        return await original(self, fn, *args)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    async with db.transaction(durable=True) as conn:  # the level switches to FULL here
        await execute(conn, "INSERT INTO kv (key, value, updated_at) VALUES ('a', '1', 't')")
        row = await fetch_one_in(conn, "SELECT value FROM kv WHERE key = 'a'")
        assert row is not None
        assert row[0] == "1"
    assert len(trips) == 3  # the two statements, COMMIT
    trips.clear()
    row = await db.fetch_one("SELECT value FROM kv WHERE key = 'a'")
    assert row is not None
    assert len(trips) == 1
    trips.clear()
    await db.write_one("UPDATE kv SET value = '2' WHERE key = 'a'")  # and back to NORMAL
    assert len(trips) == 1
    assert await _pragma(db, "synchronous") == 1


@sqlite_only
async def test_a_transaction_cancelled_while_its_first_statement_is_on_its_way_rolls_back(
    db: Database,
) -> None:
    """The statement carries BEGIN: the rollback is decided on the database's thread, after
    it, so no transaction is left open for the next one to trip over."""

    async def writer(number: int) -> None:
        async with db.transaction() as conn:
            asyncio.get_running_loop().call_soon(task.cancel)
            await execute(
                conn,
                "INSERT INTO kv (key, value, updated_at) VALUES (?, '1', 'x')",
                (f"k{number}",),
            )
            await asyncio.sleep(1)

    for number in range(20):
        task = asyncio.create_task(writer(number))
        with pytest.raises(asyncio.CancelledError):
            await task
    assert await db.fetch_all("SELECT key FROM kv WHERE key LIKE 'k%'") == []
    async with db.transaction() as conn:
        await execute(conn, "INSERT INTO kv (key, value, updated_at) VALUES ('after', '1', 'x')")
    assert await db.fetch_one("SELECT key FROM kv WHERE key = 'after'") is not None


async def test_a_transaction_that_runs_no_statement_leaves_the_database_as_it_was(
    db: Database,
) -> None:
    async with db.transaction(durable=True):
        pass
    async with db.transaction() as conn:
        await execute(conn, "INSERT INTO kv (key, value, updated_at) VALUES ('b', '1', 'x')")
    assert await db.fetch_one("SELECT key FROM kv WHERE key = 'b'") is not None


async def test_fresh_database_gets_every_table(db: Database) -> None:
    for table in (
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
        "owner_requests",
        "chat_mutes",
        "table_revisions",
        "lead_claims",
    ):
        assert await db.fetch_one(f"SELECT count(*) FROM {table}") is not None  # noqa: S608
    assert await schema_version(db) == len(MIGRATIONS)


async def test_migrations_apply_once_and_reopen_is_idempotent(backend: Backend) -> None:
    async with backend.database() as db:
        await db.fetch_all("SELECT 1")
    async with backend.database() as db:
        assert await apply_migrations(db) == []
        rows = await db.fetch_all("SELECT version FROM schema_version ORDER BY version")
        assert [row["version"] for row in rows] == [m.version for m in MIGRATIONS]


async def test_new_migrations_run_in_order_on_next_open(backend: Backend) -> None:
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
    async with backend.database():
        pass
    async with backend.database(extra) as db:
        assert await schema_version(db) == len(MIGRATIONS) + 2
        assert await apply_migrations(db, extra) == []
    async with backend.database(extra) as db:
        rows = await db.fetch_all("SELECT text FROM note")
        assert [row["text"] for row in rows] == ["hello"]


async def test_failing_migration_leaves_no_trace(backend: Backend) -> None:
    broken = (
        *MIGRATIONS,
        Migration(
            len(MIGRATIONS) + 1,
            "half done",
            ("CREATE TABLE half (id INTEGER)", "THIS IS NOT SQL"),
        ),
    )
    with pytest.raises(DATABASE_ERRORS, match="syntax error"):
        await backend.database(broken).open()
    async with backend.database() as db:
        assert await schema_version(db) == len(MIGRATIONS)
        with pytest.raises(DATABASE_ERRORS, match="half"):
            await db.fetch_one("SELECT count(*) FROM half")


async def test_database_newer_than_code_is_refused(backend: Backend) -> None:
    future = (*MIGRATIONS, Migration(len(MIGRATIONS) + 1, "future", ("SELECT 1",)))
    async with backend.database(future):
        pass
    with pytest.raises(SchemaVersionError, match="newer than this code"):
        await backend.database().open()


async def test_migration_numbers_must_be_consecutive(backend: Backend) -> None:
    gap = (*MIGRATIONS, Migration(len(MIGRATIONS) + 2, "gap", ("SELECT 1",)))
    with pytest.raises(SchemaVersionError, match="expected"):
        await backend.database(gap).open()


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


async def test_a_transaction_cancelled_as_it_commits_ends_cancelled_with_a_known_outcome(
    db: Database,
) -> None:
    """A stop that lands on the COMMIT: the worker still sees its cancellation (not a
    connection error its loop would swallow and go on after), and the write is committed."""

    async def writer(number: int) -> None:
        async with db.transaction() as conn:
            await execute(
                conn,
                "INSERT INTO kv (key, value, updated_at) VALUES (?, '1', 'x')",
                (f"k{number}",),
            )
            # Lands on the next turn of the loop: while the COMMIT is on its way.
            asyncio.get_running_loop().call_soon(task.cancel)

    for number in range(20):
        task = asyncio.create_task(writer(number))
        with pytest.raises(asyncio.CancelledError):
            await task
    rows = await db.fetch_all("SELECT key FROM kv WHERE key LIKE 'k%'")
    assert len(rows) == 20
    async with db.transaction() as conn:
        await execute(conn, "INSERT INTO kv (key, value, updated_at) VALUES ('after', '1', 'x')")


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


async def test_closed_database_refuses_work(backend: Backend) -> None:
    db = backend.database()
    with pytest.raises(DatabaseClosedError):
        await db.fetch_one("SELECT 1")
    await db.open()
    await db.close()
    await db.close()
    assert not db.is_open
    with pytest.raises(DatabaseClosedError):
        async with db.transaction():
            pass


async def test_two_replicas_never_interleave_their_transactions(backend: Backend) -> None:
    # Two database objects on one store stand for two processes (two replicas on PostgreSQL).
    async with backend.database() as first, backend.database() as second:
        async with first.transaction() as conn:
            await execute(conn, "INSERT INTO kv (key, value, updated_at) VALUES ('n', '0', 'x')")

        async def increment(db: Database) -> None:
            async with db.transaction() as conn:
                row = await fetch_one_in(conn, "SELECT value FROM kv WHERE key = 'n'")
                assert row is not None
                await asyncio.sleep(0)
                await execute(
                    conn, "UPDATE kv SET value = ? WHERE key = 'n'", (str(int(row[0]) + 1),)
                )

        await asyncio.gather(*(increment(db) for _ in range(40) for db in (first, second)))
        row = await second.fetch_one("SELECT value FROM kv WHERE key = 'n'")
        assert row is not None
        assert row[0] == "80"


@pytest.mark.parametrize(
    ("sqlite", "postgres"),
    [
        (
            "CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER NOT NULL DEFAULT 0)",
            "CREATE TABLE t (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, "
            "n BIGINT NOT NULL DEFAULT 0)",
        ),
        (
            "CREATE TABLE f (k TEXT, d TEXT CHECK (json_valid(d)), PRIMARY KEY (k)) WITHOUT ROWID",
            "CREATE TABLE f (k TEXT, d TEXT CHECK ((d::jsonb IS NOT NULL)), PRIMARY KEY (k))",
        ),
        ("ALTER TABLE t ADD COLUMN m integer", "ALTER TABLE t ADD COLUMN m BIGINT"),
        (
            "CREATE TABLE r (id INTEGER PRIMARY KEY AUTOINCREMENT, x REAL, b BLOB)",
            "CREATE TABLE r (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, "
            "x DOUBLE PRECISION, b BYTEA)",
        ),
        ("CREATE INDEX t_by_n ON t (n) WHERE n > 0", "CREATE INDEX t_by_n ON t (n) WHERE n > 0"),
    ],
)
def test_sqlite_ddl_is_translated_for_postgres(sqlite: str, postgres: str) -> None:
    assert to_postgres(sqlite) == postgres


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


async def test_failed_commit_rolls_back_and_connection_recovers(backend: Backend) -> None:
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
    async with backend.database(with_fk) as db:

        async def orphan() -> None:
            async with db.transaction() as conn:
                await execute(conn, "INSERT INTO child (parent_id) VALUES (99)")

        with pytest.raises(DATABASE_ERRORS, match=r"(?i)foreign key"):
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


@pytest.mark.parametrize(
    ("sql", "numbered"),
    [
        (
            "SELECT * FROM kv WHERE key = ? AND value = ?",
            "SELECT * FROM kv WHERE key = $1 AND value = $2",
        ),
        ("UPDATE t SET note = 'why?' WHERE id = ?", "UPDATE t SET note = 'why?' WHERE id = $1"),
        (
            'SELECT "odd?name" FROM t WHERE x IN (?, ?, ?)',
            'SELECT "odd?name" FROM t WHERE x IN ($1, $2, $3)',
        ),
        ("SELECT 'it''s ?' , ?", "SELECT 'it''s ?' , $1"),
    ],
)
def test_placeholders_are_numbered_for_postgres_outside_quotes(sql: str, numbered: str) -> None:
    assert numbered_placeholders(sql) == numbered


async def test_a_stop_is_not_held_by_a_postgres_query_that_never_ends(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with postgres_schema() as url:
        db = PostgresDatabase(url, close_seconds=0.3)
        await db.open()
        stuck = asyncio.create_task(db.fetch_one("SELECT pg_sleep(30)"))
        await asyncio.sleep(0.2)  # the query holds its connection now
        await asyncio.wait_for(db.close(), timeout=10)
        assert "still busy after 0.3 s: cut" in caplog.text
        with pytest.raises(DATABASE_ERRORS):
            await asyncio.wait_for(stuck, timeout=10)
