"""Single statements on the connection of an open transaction, whichever engine runs it.

Repositories write one body of SQL with `?` placeholders, in the subset SQLite and PostgreSQL
share; the PostgreSQL connection numbers the placeholders. The few fragments that differ
between the engines come from the connection's or database's `Dialect`. What stays inside the
shared subset:

- a new row's id comes from `INSERT ... RETURNING id` (read with `fetch_one_in`), not a rowid;
- `ON CONFLICT (columns) DO UPDATE` names its columns; `excluded.x` works on both;
- no scalar `max(a, b)`/`min(a, b)` (use CASE), no `rowid`, no `x IS ?`, no `sum(condition)`
  (`count(column)` counts the non-NULL ones);
- a parameter only tested for NULL is typed: `CAST(? AS BIGINT) IS NULL OR id = ?`;
- integers go to integer columns and `str` to text ones: asyncpg converts nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

SqlParams = Sequence[Any]


class Row(Protocol):
    """A result row: columns by position or by name (sqlite3.Row, asyncpg.Record)."""

    def __getitem__(self, key: Any, /) -> Any: ...

    def __iter__(self) -> Iterator[Any]: ...


@dataclass(frozen=True, slots=True)
class Executed:
    """What a statement reports: the rows it changed."""

    rowcount: int


@dataclass(frozen=True, slots=True)
class Dialect:
    """What differs between the engines, as SQL fragments with `?` placeholders."""

    name: str
    int_array_rows: str
    """A one-column relation of the integers in a JSON array bound to its `?`."""
    skip_locked: str = ""
    """Ends a SELECT whose rows (of the table named `{alias}` in it) a claim takes: rows
    another transaction has locked are passed over, not waited for. Empty for SQLite, which
    has one writer at a time and no row locks."""


SQLITE = Dialect(name="sqlite", int_array_rows="SELECT value FROM json_each(?)")
POSTGRES = Dialect(
    name="postgres",
    int_array_rows="SELECT json_array_elements_text(?::json)::bigint",
    skip_locked=" FOR UPDATE OF {alias} SKIP LOCKED",
)


class Connection(Protocol):
    """The connection of one open transaction (yielded by `Database.transaction()`)."""

    @property
    def dialect(self) -> Dialect:
        """The engine's SQL differences."""
        ...

    async def execute(self, sql: str, params: SqlParams = ()) -> Executed:
        """Run one statement."""
        ...

    async def execute_many(self, sql: str, rows: Sequence[SqlParams]) -> None:
        """Run one statement once per parameter row."""
        ...

    async def fetch_one(self, sql: str, params: SqlParams = ()) -> Row | None:
        """Run a query and return its first row."""
        ...

    async def fetch_all(self, sql: str, params: SqlParams = ()) -> list[Row]:
        """Run a query and return all its rows."""
        ...


class Reader(Protocol):
    """Anything that runs a query and returns its rows (a `Database`, a `Connection`)."""

    async def fetch_all(self, sql: str, params: SqlParams = ()) -> list[Row]:
        """Run a query and return all its rows."""
        ...


T = TypeVar("T")

ROWS_PER_PAGE = 500
"""Rows one page of `fetch_all_in_pages` reads and converts: a few milliseconds of the database,
and of the event loop (1,000 bindings took 8 ms to convert on a slow machine)."""


async def fetch_all_in_pages(
    reader: Reader,
    sql: str,
    params: SqlParams = (),
    *,
    key: str,
    convert: Callable[[Row], T],
    page: int | None = None,
) -> list[T]:
    """Every row of `sql` as `convert` makes it, read a page at a time in the order of `key`
    (a unique integer column it selects). `sql` ends with `... <key> > ? ORDER BY <key> LIMIT ?`;
    the last key read and the page size (`ROWS_PER_PAGE` unless given) are bound there. Each
    page is a short read of its own, so a write waiting for the database (an event's
    acknowledgement) goes between pages, not after 10,000 rows; and each page is converted as
    it comes, so converting 10,000 rows does not hold the event loop at once either. Pages are
    not one snapshot: a row changed meanwhile is read as it is when its page is."""
    size = ROWS_PER_PAGE if page is None else page
    items: list[T] = []
    after = -(2**63)
    while True:
        found = await reader.fetch_all(sql, (*params, after, size))
        items.extend(convert(row) for row in found)
        if len(found) < size:
            return items
        after = found[-1][key]


async def execute(conn: Connection, sql: str, params: SqlParams = ()) -> Executed:
    """Run one statement on the connection of an open transaction."""
    return await conn.execute(sql, params)


async def execute_many(conn: Connection, sql: str, rows: Sequence[SqlParams]) -> None:
    """Run one statement for each parameter row on the connection of an open transaction."""
    await conn.execute_many(sql, rows)


async def fetch_one_in(conn: Connection, sql: str, params: SqlParams = ()) -> Row | None:
    """Read one row on the connection of an open transaction."""
    return await conn.fetch_one(sql, params)


async def fetch_all_in(conn: Connection, sql: str, params: SqlParams = ()) -> list[Row]:
    """Read every row on the connection of an open transaction."""
    return await conn.fetch_all(sql, params)


def numbered_placeholders(sql: str) -> str:
    """`?` placeholders as PostgreSQL's `$1, $2, ...`, leaving quoted text and names alone."""
    out: list[str] = []
    number = 0
    quote: str | None = None
    for char in sql:
        if quote is not None:
            if char == quote:
                quote = None
        elif char in ("'", '"'):
            quote = char
        elif char == "?":
            number += 1
            out.append(f"${number}")
            continue
        out.append(char)
    return "".join(out)
