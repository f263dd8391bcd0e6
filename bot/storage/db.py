"""The database seam (`Database`, `Connection`) and its SQLite engine.

SQLite is one aiosqlite connection with serialised write transactions (and a second, plain
connection for the single statements `write_now` makes at once); PostgreSQL lives in
`bot.storage.postgres`. Both apply the numbered migrations of `bot.storage.migrations`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from types import TracebackType
from typing import Protocol, Self, TypeVar, cast

import aiosqlite

from bot.storage.migrations import MIGRATIONS, Migration, apply_migrations
from bot.storage.sql import SQLITE, Connection, Dialect, Executed, Row, SqlParams

T = TypeVar("T")

MEMORY = ":memory:"
"""Path for a private in-memory database (unit tests)."""


PRIVATE_FILE_MODE = 0o600
PRIVATE_DIR_MODE = 0o700
_COMPANIONS = ("-wal", "-shm", "-journal")


def _create_private(path: Path) -> None:
    """Create the database file 0600 (in a new folder 0700) before SQLite opens it.

    The file holds OAuth tokens and dialog state with personal data. SQLite gives the -wal and
    -shm files the main file's permissions, so making the main file private is enough; an
    existing file from an older version is tightened as well.
    """
    if not path.parent.exists():
        path.parent.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_RDWR, PRIVATE_FILE_MODE)
    os.close(fd)
    os.chmod(path, PRIVATE_FILE_MODE)


def _restrict_companions(path: Path) -> None:
    """Tighten -wal/-shm files left by an older version that created them world-readable."""
    for suffix in _COMPANIONS:
        companion = path.with_name(path.name + suffix)
        with contextlib.suppress(FileNotFoundError):
            os.chmod(companion, PRIVATE_FILE_MODE)


class PriorityLock:
    """A mutex whose urgent waiters go before the others; FIFO within each kind.

    Release hands the lock straight to the next waiter, so nobody can slip in between.
    """

    def __init__(self) -> None:
        self._locked = False
        self._waiters: dict[bool, deque[asyncio.Future[None]]] = {True: deque(), False: deque()}

    def locked(self) -> bool:
        """Whether somebody holds the lock."""
        return self._locked

    async def acquire(self, *, urgent: bool = False) -> None:
        """Wait until this caller holds the lock."""
        if not self._locked:
            self._locked = True
            return
        handed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters[urgent].append(handed)
        try:
            await handed
        except asyncio.CancelledError:
            if handed.done() and not handed.cancelled():
                self.release()  # handed over just as the waiter was cancelled: pass it on
            else:
                # Already gone when a release skipped it as cancelled.
                with contextlib.suppress(ValueError):
                    self._waiters[urgent].remove(handed)
            raise

    def release(self) -> None:
        """Hand the lock to the first urgent waiter, else the first other one, else free it."""
        for urgent in (True, False):
            line = self._waiters[urgent]
            while line:
                handed = line.popleft()
                if not handed.done():
                    handed.set_result(None)
                    return
        self._locked = False


DIRECT_WRITE_SLOW_SECONDS = 0.002
"""`write_now` commits slower than this (the disk's flush), most of the recent ones, stop them
for a while. On a 2-core test machine they took 0.1–0.5 ms, two in 10,000 over 5 ms (at most
5.7 ms). On a disk whose flush takes 4 ms (an earlier machine's), 200 events a second flushed
one by one would hold the loop most of the time: there the usual way's group commit, on its
thread, is better, and `write_now` rests."""
DIRECT_WRITE_WINDOW = 32
"""The recent commits that judge the disk: it is slow when over half of them were. The lone
slow flushes of a quick disk (on the test machine 11–57 ms, a few in three minutes at up to
200 events/s, between flushes of 0.5 ms) do not stop them, however long they took: one such
flush used to stop them for a minute, and the portal's acknowledgements went the usual way."""
DIRECT_WRITE_REST_SECONDS = 60.0


def _direct_connection(path: Path) -> sqlite3.Connection:
    """The connection `SqliteDatabase.write_now` uses: no waiting for the write lock, every
    commit flushed to the disk, no checkpoints (they would run on the loop's thread)."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        conn.row_factory = sqlite3.Row
        for pragma in (
            "PRAGMA busy_timeout = 0",
            "PRAGMA synchronous = FULL",
            "PRAGMA foreign_keys = ON",
            "PRAGMA wal_autocheckpoint = 0",
        ):
            conn.execute(pragma).close()
    except BaseException:
        conn.close()
        raise
    return conn


class DatabaseClosedError(RuntimeError):
    """The database was used before `open()` or after `close()`."""


class EngineError(Exception):
    """An error of PostgreSQL or its driver, with the driver's message; the driver's own
    exception is its `__cause__`. (asyncpg is imported only by a process that uses it.)"""


DATABASE_ERRORS: tuple[type[Exception], ...] = (
    sqlite3.Error,
    EngineError,
    DatabaseClosedError,
    OSError,
)
"""What a failed read or write of either engine raises, a lost connection to PostgreSQL
included (a caller that can carry on catches these)."""


class Database(Protocol):
    """What repositories need of a database, whichever engine keeps it.

    `transaction()` yields the `Connection` of one write transaction: it commits when the block
    ends and rolls back on an exception; transactions do not nest. `fetch_one`/`fetch_all` read
    outside any transaction. `durable=True` marks a write acknowledged to somebody outside (a
    2xx to the portal, a reply to a user): it must survive a power loss once committed.
    """

    @property
    def dialect(self) -> Dialect:
        """The engine's SQL differences."""
        ...

    @property
    def is_open(self) -> bool:
        """Whether `open()` succeeded and `close()` has not been called."""
        ...

    async def open(self) -> None:
        """Connect and apply pending migrations."""
        ...

    async def close(self) -> None:
        """Disconnect; safe to call twice."""
        ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...

    def transaction(self, *, durable: bool = False) -> AbstractAsyncContextManager[Connection]:
        """One write transaction."""
        ...

    async def write_one(
        self, sql: str, params: SqlParams = (), *, durable: bool = False
    ) -> list[Row]:
        """Run one writing statement as a transaction of its own; the rows it returns."""
        ...

    def write_now(self, sql: str, params: SqlParams = ()) -> list[Row] | None:
        """Run one writing statement durably before returning, without yielding to the loop,
        when the engine can do that at once; None when it cannot (then use `write_one`)."""
        ...

    async def fetch_one(self, sql: str, params: SqlParams = ()) -> Row | None:
        """Run a read outside any transaction and return its first row."""
        ...

    async def fetch_all(self, sql: str, params: SqlParams = ()) -> list[Row]:
        """Run a read outside any transaction and return all its rows."""
        ...


class SqliteConnection:
    """The aiosqlite connection of an open SQLite transaction (or of a read outside one).

    Every statement is one trip to aiosqlite's thread: a cursor opened from the loop takes a
    second trip to fetch and a third to close, and each trip waits for a turn of the event
    loop. `prelude` (the commit level, `BEGIN IMMEDIATE`) rides in the first statement's trip.
    """

    def __init__(self, conn: aiosqlite.Connection, prelude: Sequence[str] = ()) -> None:
        self._conn = conn
        self._prelude = tuple(prelude)
        self.begun = not self._prelude
        """Whether the prelude has run (with the first statement, which may have failed)."""

    @property
    def dialect(self) -> Dialect:
        """SQLite's SQL differences."""
        return SQLITE

    async def _trip(self, job: Callable[[sqlite3.Connection], T]) -> T:
        prelude, self._prelude = self._prelude, ()

        def run(raw: sqlite3.Connection) -> T:
            for statement in prelude:
                raw.execute(statement).close()
            self.begun = True
            return job(raw)

        return await on_thread(self._conn, run)

    async def execute(self, sql: str, params: SqlParams = ()) -> Executed:
        """Run one statement."""

        def run(raw: sqlite3.Connection) -> Executed:
            cursor = raw.execute(sql, params)
            try:
                return Executed(rowcount=cursor.rowcount)
            finally:
                cursor.close()

        return await self._trip(run)

    async def execute_many(self, sql: str, rows: Sequence[SqlParams]) -> None:
        """Run one statement once per parameter row."""
        await self._trip(lambda raw: raw.executemany(sql, rows).close())

    async def fetch_one(self, sql: str, params: SqlParams = ()) -> Row | None:
        """Run a query and return its first row."""

        def run(raw: sqlite3.Connection) -> Row | None:
            cursor = raw.execute(sql, params)
            try:
                row: sqlite3.Row | None = cursor.fetchone()
                return row
            finally:
                cursor.close()

        return await self._trip(run)

    async def fetch_all(self, sql: str, params: SqlParams = ()) -> list[Row]:
        """Run a query and return all its rows."""

        def run(raw: sqlite3.Connection) -> list[Row]:
            cursor = raw.execute(sql, params)
            try:
                return list(cursor.fetchall())
            finally:
                cursor.close()

        return await self._trip(run)


class SqliteDatabase:
    """One SQLite file behind one aiosqlite connection.

    Writes go through `transaction()`: `BEGIN IMMEDIATE` under a single asyncio lock, so exactly
    one transaction is open at a time and it commits or rolls back as a whole; or, for a single
    statement, through `write_one()`, which SQLite commits by itself, under the same lock; or
    through `write_now()`, a statement committed at once on a connection of its own when
    SQLite's write lock is free (it never waits, so it cannot join or block a transaction).

    Reads (`fetch_one`, `fetch_all`) share the same connection and take the same lock, outside
    any transaction. aiosqlite runs every statement of a connection on one thread in order, so a
    second lock-free path would add no parallelism; it would only let a read observe another
    task's uncommitted writes while that task's transaction is open. Never await network I/O
    inside a transaction: it holds the lock for everyone.

    Durability: WAL with `synchronous=NORMAL` survives a process crash; `transaction(durable=True)`
    switches to `synchronous=FULL` for that commit, so it also survives power loss. Use it when
    something outside (a 2xx to the portal, a reply to a user) is acknowledged on the strength of
    the write.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        busy_timeout_ms: int = 5000,
        migrations: Sequence[Migration] = MIGRATIONS,
    ) -> None:
        self._path = path if path == MEMORY else Path(path)
        self._busy_timeout_ms = busy_timeout_ms
        self._migrations = migrations
        self._conn: aiosqlite.Connection | None = None
        self._lock = PriorityLock()
        self._holder: asyncio.Task[object] | None = None
        self._full_sync: bool | None = False
        """Whether the connection commits with `synchronous=FULL` now (None: unknown, after a
        switch was interrupted)."""
        self._direct: sqlite3.Connection | None = None
        """A second connection for `write_now`, used on the loop's own thread."""
        self._direct_rests_until = 0.0
        self._direct_slow: deque[bool] = deque(maxlen=DIRECT_WRITE_WINDOW)
        """Whether each recent `write_now` commit was slow, newest last."""

    @property
    def dialect(self) -> Dialect:
        """SQLite's SQL differences."""
        return SQLITE

    @property
    def path(self) -> str | Path:
        """The file this database lives in, or `MEMORY`."""
        return self._path

    @property
    def is_open(self) -> bool:
        """Whether `open()` succeeded and `close()` has not been called."""
        return self._conn is not None

    async def open(self) -> None:
        """Connect, set the pragmas and apply pending migrations."""
        if self._conn is not None:
            return
        if isinstance(self._path, Path):
            _create_private(self._path)
        # isolation_level=None: sqlite3 must not open transactions behind our back; we issue
        # BEGIN IMMEDIATE / COMMIT / ROLLBACK ourselves.
        conn = await aiosqlite.connect(self._path, isolation_level=None)
        try:
            conn.row_factory = sqlite3.Row
            await _run(conn, f"PRAGMA busy_timeout = {int(self._busy_timeout_ms)}")
            await _run(conn, "PRAGMA journal_mode = WAL")
            await _run(conn, "PRAGMA synchronous = NORMAL")
            await _run(conn, "PRAGMA foreign_keys = ON")
        except BaseException:
            await conn.close()
            raise
        self._conn = conn
        if isinstance(self._path, Path):
            _restrict_companions(self._path)
        try:
            await apply_migrations(self, self._migrations)
        except BaseException:
            await self.close()
            raise
        if isinstance(self._path, Path):
            self._direct = _direct_connection(self._path)

    async def close(self) -> None:
        """Close the connection; safe to call twice."""
        direct, self._direct = self._direct, None
        if direct is not None:
            direct.close()
        conn, self._conn = self._conn, None
        if conn is None:
            return
        async with self._exclusive():
            await conn.close()

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    @asynccontextmanager
    async def _exclusive(self, *, urgent: bool = False) -> AsyncIterator[None]:
        task = asyncio.current_task()
        if task is not None and task is self._holder:
            # The lock is not re-entrant: waiting here would hang this task forever.
            raise RuntimeError(
                "database used again inside its own transaction: use the yielded connection"
            )
        await self._lock.acquire(urgent=urgent)
        self._holder = task
        try:
            yield
        finally:
            self._holder = None
            self._lock.release()

    def _connection(self) -> aiosqlite.Connection:
        if self._conn is None:
            raise DatabaseClosedError("database is not open")
        return self._conn

    @asynccontextmanager
    async def transaction(self, *, durable: bool = False) -> AsyncIterator[Connection]:
        """Run the block as one `BEGIN IMMEDIATE` transaction; commit on success, else roll back.

        Durable transactions wait at the head of the line. Transactions do not nest: calling
        `fetch_*` or `transaction()` inside the block raises RuntimeError, so use the yielded
        connection (with `bot.storage.sql` helpers) in it.
        """
        # A durable write is acknowledged to somebody outside (the portal's event delivery, a
        # user): it goes before the reads and background writes that wait with it.
        async with self._exclusive(urgent=durable):
            conn = self._connection()
            # The commit level and BEGIN ride in the first statement's trip to the thread.
            wrapper = SqliteConnection(conn, (*self._level_switch(durable), "BEGIN IMMEDIATE"))
            try:
                try:
                    yield wrapper
                finally:
                    self._level_switched(wrapper, durable)
                if wrapper.begun:
                    # Shielded: once COMMIT is queued, a cancellation must not tear it in half.
                    await asyncio.shield(_run(conn, "COMMIT"))
            except BaseException:
                # Shielded so a cancelled task still leaves the connection clean; aiosqlite
                # runs queued statements in order, so the next BEGIN comes after this.
                await asyncio.shield(self._rollback(conn))
                raise

    async def write_one(
        self, sql: str, params: SqlParams = (), *, durable: bool = False
    ) -> list[Row]:
        """Run one writing statement as a transaction of its own; the rows it returns.

        SQLite commits a statement run outside a transaction by itself, so this takes one trip
        to the database thread where `transaction()` takes two (BEGIN with the statement, then
        COMMIT): the trips are what the portal's acknowledgements wait for when the loop is
        busy. Under the same lock, so no other task's open transaction takes it in.
        """
        async with self._exclusive(urgent=durable):
            wrapper = SqliteConnection(self._connection(), self._level_switch(durable))
            try:
                return await wrapper.fetch_all(sql, params)
            finally:
                self._level_switched(wrapper, durable)

    def write_now(self, sql: str, params: SqlParams = ()) -> list[Row] | None:
        """Run one writing statement durably (`synchronous=FULL`) right here, blocking the
        loop for its commit, when SQLite's write lock is free at once; None when it is not.

        The portal's acknowledgements wait for their insert. Through `write_one` that is a
        trip to aiosqlite's thread and back: the thread needs the interpreter's lock, which
        the loop holds while it computes, to start and to hand its answer back, and the
        answer waits for a turn of a busy loop. This runs on a connection of its own, on the
        loop's thread, never waiting: when the other connection is writing (a transaction
        open across turns of the loop) SQLite refuses at once, and the caller goes the usual
        way. It never checkpoints (the other connection does), and when most of the recent
        commits were slower than `DIRECT_WRITE_SLOW_SECONDS` (a slow disk) it rests for a
        while: a flush that blocks the loop that long is worse than the trip it saves.
        """
        direct = self._direct
        if direct is None or time.monotonic() < self._direct_rests_until:
            return None
        started = time.perf_counter()
        try:
            direct.execute("BEGIN IMMEDIATE").close()
        except sqlite3.Error:
            return None  # another connection holds the write lock
        try:
            cursor = direct.execute(sql, params)
            try:
                rows: list[Row] = cursor.fetchall()
            finally:
                cursor.close()
            direct.execute("COMMIT").close()
        except Exception:  # sqlite3's errors, and e.g. OverflowError for a value too big
            if direct.in_transaction:
                direct.rollback()
            return None  # the usual way reports what is wrong, if it is still wrong
        slow = self._direct_slow
        slow.append(time.perf_counter() - started > DIRECT_WRITE_SLOW_SECONDS)
        if sum(slow) * 2 > DIRECT_WRITE_WINDOW:
            self._direct_rests_until = time.monotonic() + DIRECT_WRITE_REST_SECONDS
            slow.clear()
        return rows

    def _level_switch(self, durable: bool) -> tuple[str, ...]:
        """The statement that makes the next commit durable (`synchronous=FULL`) or not, when
        the connection is not at that level already.

        The level stays as the last write left it: the portal's acknowledgements come in runs
        of durable writes, and a switch back after each would be one more statement for them
        to wait for. It cannot change inside a transaction, so it goes before BEGIN.
        """
        if self._full_sync is durable:
            return ()
        self._full_sync = None  # unknown until the statement has run
        return (f"PRAGMA synchronous = {'FULL' if durable else 'NORMAL'}",)

    def _level_switched(self, wrapper: SqliteConnection, durable: bool) -> None:
        if self._full_sync is None and wrapper.begun:
            self._full_sync = durable

    @staticmethod
    async def _rollback(conn: aiosqlite.Connection) -> None:
        # Decided on the database's thread after whatever was queued before: a statement that
        # carries BEGIN may still be on its way. (Some errors, disk full or I/O, have already
        # rolled back inside SQLite.)
        def run(raw: sqlite3.Connection) -> None:
            if raw.in_transaction:
                raw.rollback()

        await on_thread(conn, run)

    async def fetch_one(self, sql: str, params: SqlParams = ()) -> Row | None:
        """Run a read outside any transaction and return its first row."""
        async with self._exclusive():
            return await SqliteConnection(self._connection()).fetch_one(sql, params)

    async def fetch_all(self, sql: str, params: SqlParams = ()) -> list[Row]:
        """Run a read outside any transaction and return all its rows."""
        async with self._exclusive():
            return await SqliteConnection(self._connection()).fetch_all(sql, params)


async def on_thread(conn: aiosqlite.Connection, job: Callable[[sqlite3.Connection], T]) -> T:
    """Run `job` with the sqlite3 connection on aiosqlite's own thread, in order with the
    statements queued before it: one trip, however many statements `job` runs.

    aiosqlite has no public call for this; `_execute` (its queue) and `_conn` (the sqlite3
    connection, for the thread's use only) are what its own helpers use, the same in 0.20,
    0.21 and 0.22, the versions pyproject allows (`tests/unit/test_storage_db.py` runs
    through them).
    """
    raw = conn._conn  # read here, used on the thread only
    return cast(T, await conn._execute(job, raw))


async def _run(conn: aiosqlite.Connection, sql: str, params: SqlParams = ()) -> None:
    """Run one statement on the raw aiosqlite connection (pragmas, BEGIN, COMMIT).

    One trip to the database thread: a cursor would take a second one to close, and every
    trip waits for the event loop's turn, which is what a busy loop makes the portal's
    acknowledgements wait for.
    """
    await conn.execute_fetchall(sql, params)
