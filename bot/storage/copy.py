"""Move an installation from SQLite to PostgreSQL: every row of every table, in one transaction.

    python -m bot.storage.copy --from data/bot.sqlite3 --to postgresql://bot@db:5432/bot

Stop the bot first. The SQLite file is brought to this version's schema (as starting the bot
would), the PostgreSQL database gets the same schema, and the copy goes in as one transaction:
it lands whole or not at all. A target that already holds data is refused, so a second run
never doubles anything. Ids keep their values and the id counters continue after them.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.storage.db import DATABASE_ERRORS, SqliteDatabase
from bot.storage.migrations import SchemaVersionError
from bot.storage.postgres import PostgresDatabase
from bot.storage.sql import Connection, execute, execute_many, fetch_all_in

ROWS_PER_BATCH = 500

# Filled by the migrations themselves; their rows are replaced, not added to.
_SEEDED = "table_revisions"
_NOT_COPIED = frozenset({"schema_version"})


class CopyRefusedError(RuntimeError):
    """The copy cannot go ahead; the message says why in one sentence."""


@dataclass(slots=True)
class CopyReport:
    """Rows copied per table."""

    rows: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        """Rows copied in every table."""
        return sum(self.rows.values())


async def _sqlite_tables(source: SqliteDatabase) -> list[str]:
    rows = await source.fetch_all(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
        "ORDER BY name"
    )
    return [row["name"] for row in rows if row["name"] not in _NOT_COPIED]


async def _postgres_columns(conn: Connection) -> dict[str, dict[str, str]]:
    rows = await fetch_all_in(
        conn,
        "SELECT table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = current_schema()",
    )
    columns: dict[str, dict[str, str]] = {}
    for row in rows:
        columns.setdefault(row["table_name"], {})[row["column_name"]] = row["data_type"]
    return columns


def _as_column(value: Any, data_type: str) -> Any:
    # SQLite keeps whatever type was written; PostgreSQL's driver wants the column's own.
    if value is None:
        return None
    if data_type in ("bigint", "integer", "smallint"):
        return int(value)
    if data_type == "text":
        return value if isinstance(value, str) else str(value)
    if data_type == "double precision":
        return float(value)
    return value


async def copy_sqlite_to_postgres(source: SqliteDatabase, target: PostgresDatabase) -> CopyReport:
    """Copy every row of `source` into the empty `target` (both open); see the module docstring."""
    tables = await _sqlite_tables(source)
    report = CopyReport()
    async with target.transaction(durable=True) as conn:
        target_columns = await _postgres_columns(conn)
        missing = [table for table in tables if table not in target_columns]
        if missing:
            raise CopyRefusedError(
                f"the target has no table {missing[0]}: is the bot at the same version on both?"
            )
        for table in tables:
            if table == _SEEDED:
                continue
            row = await conn.fetch_one(f"SELECT 1 FROM {table} LIMIT 1")  # noqa: S608
            if row is not None:
                raise CopyRefusedError(
                    f"the target's table {table} already holds data: copy into an empty database"
                )
        # The seeded table goes last: the triggers bump its counters while the others are copied.
        for table in sorted(tables, key=lambda name: name == _SEEDED):
            report.rows[table] = await _copy_table(source, conn, table, target_columns[table])
        await _continue_identities(conn)
    return report


async def _copy_table(
    source: SqliteDatabase, conn: Connection, table: str, types: dict[str, str]
) -> int:
    info = await source.fetch_all(f"PRAGMA table_info({table})")
    columns = [row["name"] for row in info]
    unknown = [column for column in columns if column not in types]
    if unknown:
        raise CopyRefusedError(f"the target's table {table} has no column {unknown[0]}")
    rows = await source.fetch_all(f"SELECT {', '.join(columns)} FROM {table}")  # noqa: S608
    marks = ", ".join("?" for _ in columns)
    insert = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"  # noqa: S608
    if table == _SEEDED:
        insert += " ON CONFLICT (name) DO UPDATE SET revision = excluded.revision"
    for start in range(0, len(rows), ROWS_PER_BATCH):
        batch = [
            tuple(_as_column(row[index], types[column]) for index, column in enumerate(columns))
            for row in rows[start : start + ROWS_PER_BATCH]
        ]
        await execute_many(conn, insert, batch)
    return len(rows)


async def _continue_identities(conn: Connection) -> None:
    """Move every id counter past the ids copied, so new rows do not collide with them."""
    identities = await fetch_all_in(
        conn,
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND is_identity = 'YES'",
    )
    for row in identities:
        table, column = row["table_name"], row["column_name"]
        await execute(
            conn,
            f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), "  # noqa: S608
            f"coalesce(max({column}), 0) + 1, false) FROM {table}",
        )


async def run(source_path: Path, target_url: str) -> CopyReport:
    """Open both databases, copy, close them."""
    async with SqliteDatabase(source_path) as source, PostgresDatabase(target_url) as target:
        return await copy_sqlite_to_postgres(source, target)


def main(argv: Sequence[str] | None = None) -> int:
    """The command line; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m bot.storage.copy",
        description="Copy the bot's SQLite database into an empty PostgreSQL database.",
    )
    parser.add_argument("--from", dest="source", type=Path, required=True, help="SQLite file")
    parser.add_argument("--to", dest="target", required=True, help="postgresql://... URL")
    args = parser.parse_args(argv)
    if not str(args.target).startswith(("postgresql://", "postgres://")):
        print("--to must be a postgresql://user:password@host:5432/database URL", file=sys.stderr)
        return 2
    if not args.source.is_file():
        print(f"Nothing was copied: there is no SQLite file at {args.source}", file=sys.stderr)
        return 1
    try:
        report = asyncio.run(run(args.source, args.target))
    except (CopyRefusedError, SchemaVersionError, OSError) as exc:
        # The message names tables and columns, never the URL (it may hold a password).
        print(f"Nothing was copied: {exc}", file=sys.stderr)
        return 1
    except DATABASE_ERRORS as exc:
        print(f"Nothing was copied: {exc}", file=sys.stderr)
        return 1
    for table, count in report.rows.items():
        print(f"{table}: {count} rows")
    print(f"copied {report.total} rows into PostgreSQL")
    return 0


if __name__ == "__main__":
    sys.exit(main())
