"""Storage on both engines: every repository test that takes `backend` runs on each.

PostgreSQL tests get a schema of their own on the server at `TEST_POSTGRES_URL` (trust auth on
127.0.0.1 by default), dropped afterwards, so parallel runs never meet. Without the server
those tests are skipped, or fail under REQUIRE_SERVICES=1 (`tests.services`).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from bot.storage.db import Database, SqliteDatabase
from bot.storage.migrations import MIGRATIONS, Migration
from bot.storage.postgres import PostgresDatabase
from tests.services import service_missing

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


@asynccontextmanager
async def postgres_schema() -> AsyncIterator[str]:
    """A fresh, empty schema; yields the URL whose connections work in it."""
    name = f"test_{uuid.uuid4().hex[:16]}"
    try:
        admin = await asyncpg.connect(POSTGRES_URL)
    except (OSError, asyncpg.PostgresError) as exc:
        service_missing("PostgreSQL (TEST_POSTGRES_URL)", POSTGRES_URL, type(exc).__name__)
    try:
        await admin.execute(f"CREATE SCHEMA {name}")
        separator = "&" if "?" in POSTGRES_URL else "?"
        yield f"{POSTGRES_URL}{separator}search_path={name}"
    finally:
        await admin.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")
        await admin.close()


@dataclass(frozen=True)
class Backend:
    """Where a test's data lives; `database()` opens it afresh (a restart) as often as asked."""

    name: str
    location: str

    def database(self, migrations: Sequence[Migration] = MIGRATIONS, **options: Any) -> Database:
        """A new, unopened database object on this test's storage."""
        if self.name == "postgres":
            return PostgresDatabase(self.location, migrations=migrations, max_size=4, **options)
        return SqliteDatabase(Path(self.location), migrations=migrations, **options)


@pytest.fixture(params=["sqlite", "postgres"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    """Each engine in turn."""
    if request.param == "sqlite":
        yield Backend("sqlite", str(tmp_path / "bot.sqlite3"))
        return
    async with postgres_schema() as url:
        yield Backend("postgres", url)


@pytest.fixture
async def db(backend: Backend) -> AsyncIterator[Database]:
    """An open, migrated database on each engine."""
    async with backend.database() as database:
        yield database


sqlite_only = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
"""For a test of SQLite itself (its query planner, its file): runs on SQLite alone."""
