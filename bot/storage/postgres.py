"""The PostgreSQL engine: an asyncpg pool behind the same `Database` seam as SQLite.

Write transactions are serialised across every replica by a transaction-level advisory lock,
taken first thing in each: the same one-writer-at-a-time guarantee SQLite's BEGIN IMMEDIATE
gives, so repositories keep one body of SQL and one set of assumptions. Within one process they
queue on the same `PriorityLock` as SQLite's first, so a durable write (what the portal's
acknowledgement waits for) goes before the background writes waiting with it. Reads run in parallel
on the pool and see committed data only. A transaction that is not durable commits with
`synchronous_commit = off` (a server crash may lose its last moments, never corrupt them), as
SQLite's WAL with synchronous=NORMAL does; a durable one waits for the WAL flush.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import zlib
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from functools import lru_cache
from types import TracebackType
from typing import Any, Self

import asyncpg

from bot.storage.db import DATABASE_ERRORS, DatabaseClosedError, EngineError, PriorityLock
from bot.storage.migrations import MIGRATIONS, Migration, apply_migrations
from bot.storage.sql import (
    POSTGRES,
    Connection,
    Dialect,
    Executed,
    Row,
    SqlParams,
    numbered_placeholders,
)

POOL_MIN_SIZE = 1
POOL_MAX_SIZE = 10
CLOSE_SECONDS = 10.0
"""How long closing waits for connections in use to come back before it cuts them."""

log = logging.getLogger(__name__)


_DRIVER_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError)
_ANY_ERROR = (*_DRIVER_ERRORS, *DATABASE_ERRORS)


_AS_ENGINE_ERROR: dict[type[BaseException], type[EngineError]] = {}


def _as_engine_error(exc: BaseException) -> EngineError:
    """The `EngineError` for a driver error: a subclass by the driver's class name, so logs and
    messages that name an error's type still say `InvalidCatalogNameError` and the like."""
    kind = _AS_ENGINE_ERROR.get(type(exc))
    if kind is None:
        kind = type(type(exc).__name__, (EngineError,), {"__module__": __name__})
        _AS_ENGINE_ERROR[type(exc)] = kind
    return kind(str(exc))


@contextlib.contextmanager
def _engine_errors() -> Iterator[None]:
    """asyncpg's errors leave this module as `EngineError`, one of `DATABASE_ERRORS`."""
    try:
        yield
    except _DRIVER_ERRORS as exc:
        raise _as_engine_error(exc) from exc


@lru_cache(maxsize=2048)
def _numbered(sql: str) -> str:
    return numbered_placeholders(sql)


def _rowcount(status: str) -> int:
    # asyncpg returns the command tag: "INSERT 0 1", "UPDATE 3", "DELETE 0", "SELECT 2".
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else -1


async def _rollback(conn: Any) -> None:
    # A broken connection is rolled back by the server when it goes; the pool replaces it.
    with contextlib.suppress(*_ANY_ERROR):
        if conn.is_in_transaction():
            await conn.execute("ROLLBACK")


async def _commit(conn: Any) -> None:
    """COMMIT, and when the caller is cancelled meanwhile, let the COMMIT end first: its outcome
    is then known, and the connection is idle again when it goes back to the pool."""
    commit = asyncio.ensure_future(conn.execute("COMMIT"))
    try:
        await asyncio.shield(commit)
    except asyncio.CancelledError:
        with contextlib.suppress(*_ANY_ERROR):
            await asyncio.shield(commit)
        raise


async def _release(pool: Any, conn: Any) -> None:
    """Give the connection back. One the pool cannot reset is closed by it (and replaced later);
    that failure must not take the place of what the transaction raised, a cancellation above
    all: a stopping worker would go on as if nothing was asked of it."""
    try:
        await pool.release(conn)
    except _ANY_ERROR as exc:
        log.warning(
            "a PostgreSQL connection could not be reset and was closed (%s)", type(exc).__name__
        )


class PostgresConnection:
    """The asyncpg connection of an open PostgreSQL transaction."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    @property
    def dialect(self) -> Dialect:
        """PostgreSQL's SQL differences."""
        return POSTGRES

    async def execute(self, sql: str, params: SqlParams = ()) -> Executed:
        """Run one statement."""
        with _engine_errors():
            status: str = await self._conn.execute(_numbered(sql), *params)
        return Executed(rowcount=_rowcount(status))

    async def execute_many(self, sql: str, rows: Sequence[SqlParams]) -> None:
        """Run one statement once per parameter row."""
        if rows:
            with _engine_errors():
                await self._conn.executemany(_numbered(sql), rows)

    async def fetch_one(self, sql: str, params: SqlParams = ()) -> Row | None:
        """Run a query and return its first row."""
        with _engine_errors():
            row: Row | None = await self._conn.fetchrow(_numbered(sql), *params)
        return row

    async def fetch_all(self, sql: str, params: SqlParams = ()) -> list[Row]:
        """Run a query and return all its rows."""
        with _engine_errors():
            return list(await self._conn.fetch(_numbered(sql), *params))


class PostgresDatabase:
    """A PostgreSQL database (or one schema of it, chosen by the URL's `search_path`)."""

    def __init__(
        self,
        url: str,
        *,
        migrations: Sequence[Migration] = MIGRATIONS,
        min_size: int = POOL_MIN_SIZE,
        max_size: int = POOL_MAX_SIZE,
        close_seconds: float = CLOSE_SECONDS,
    ) -> None:
        self._url = url
        self._close_seconds = close_seconds
        self._migrations = migrations
        self._min_size = min_size
        self._max_size = max_size
        self._pool: Any = None
        self._write_lock_key = 0
        self._holders: set[asyncio.Task[Any]] = set()
        self._local_writers = PriorityLock()

    @property
    def dialect(self) -> Dialect:
        """PostgreSQL's SQL differences."""
        return POSTGRES

    @property
    def is_open(self) -> bool:
        """Whether `open()` succeeded and `close()` has not been called."""
        return self._pool is not None

    async def open(self) -> None:
        """Connect the pool and apply pending migrations."""
        if self._pool is not None:
            return
        with _engine_errors():
            pool = await asyncpg.create_pool(
                self._url, min_size=self._min_size, max_size=self._max_size
            )
        try:
            with _engine_errors():
                where = await pool.fetchrow("SELECT current_database(), current_schema()")
        except BaseException:
            await pool.close()
            raise
        # One lock per database and schema: installations sharing a server do not wait.
        self._write_lock_key = zlib.crc32(f"b24-leads-bot:{where[0]}:{where[1]}".encode())
        self._pool = pool
        try:
            await apply_migrations(self, self._migrations)
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        """Close every connection of the pool; safe to call twice.

        A connection still held (a query the server never answers) does not hold the stop
        forever: after `close_seconds` (`CLOSE_SECONDS`) the pool's connections are cut.
        """
        pool, self._pool = self._pool, None
        if pool is None:
            return
        try:
            async with asyncio.timeout(self._close_seconds):
                await pool.close()
        except TimeoutError:
            log.warning("PostgreSQL connections still busy after %.1f s: cut", self._close_seconds)
            pool.terminate()

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

    def _checked_pool(self) -> Any:
        if self._pool is None:
            raise DatabaseClosedError("database is not open")
        if asyncio.current_task() in self._holders:
            # The write lock is held by this very task: a second transaction would wait forever.
            raise RuntimeError(
                "database used again inside its own transaction: use the yielded connection"
            )
        return self._pool

    @asynccontextmanager
    async def transaction(self, *, durable: bool = False) -> AsyncIterator[Connection]:
        """One write transaction under the database-wide write lock; see the module docstring."""
        pool = self._checked_pool()
        task = asyncio.current_task()
        await self._local_writers.acquire(urgent=durable)
        if task is not None:
            self._holders.add(task)
        # One round trip opens the transaction and takes the lock.
        prelude = f"BEGIN; SELECT pg_advisory_xact_lock({self._write_lock_key})"
        if not durable:
            prelude += "; SET LOCAL synchronous_commit = off"
        try:
            with _engine_errors():
                conn = await pool.acquire()
            try:
                with _engine_errors():
                    await conn.execute(prelude)
                yield PostgresConnection(conn)
                with _engine_errors():
                    await _commit(conn)
            except BaseException:
                await asyncio.shield(_rollback(conn))
                raise
            finally:
                await _release(pool, conn)
        finally:
            self._local_writers.release()
            if task is not None:
                self._holders.discard(task)

    def write_now(self, sql: str, params: SqlParams = ()) -> list[Row] | None:
        """Never at once: every statement is a trip to the server (use `write_one`)."""
        return None

    async def write_one(
        self, sql: str, params: SqlParams = (), *, durable: bool = False
    ) -> list[Row]:
        """Run one writing statement as a transaction of its own; the rows it returns (under
        the write lock, as every write)."""
        async with self.transaction(durable=durable) as conn:
            return await conn.fetch_all(sql, params)

    async def fetch_one(self, sql: str, params: SqlParams = ()) -> Row | None:
        """Run a read outside any transaction and return its first row."""
        with _engine_errors():
            row: Row | None = await self._checked_pool().fetchrow(_numbered(sql), *params)
        return row

    async def fetch_all(self, sql: str, params: SqlParams = ()) -> list[Row]:
        """Run a read outside any transaction and return all its rows."""
        with _engine_errors():
            return list(await self._checked_pool().fetch(_numbered(sql), *params))
