"""Single statements on the connection of an open transaction."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import aiosqlite

SqlParams = Sequence[Any]


@dataclass(frozen=True, slots=True)
class Executed:
    """What a statement reports: rows changed and the rowid it inserted, if any."""

    rowcount: int
    lastrowid: int | None


async def execute(conn: aiosqlite.Connection, sql: str, params: SqlParams = ()) -> Executed:
    """Run one statement on the connection of an open transaction."""
    async with conn.execute(sql, params) as cursor:
        return Executed(rowcount=cursor.rowcount, lastrowid=cursor.lastrowid)


async def fetch_one_in(
    conn: aiosqlite.Connection, sql: str, params: SqlParams = ()
) -> sqlite3.Row | None:
    """Read one row on the connection of an open transaction."""
    async with conn.execute(sql, params) as cursor:
        row: sqlite3.Row | None = await cursor.fetchone()
        return row
