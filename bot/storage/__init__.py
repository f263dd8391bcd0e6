"""Storage on SQLite or PostgreSQL: the database seam, migrations, repositories and records.

The aiogram FSM storage lives in `bot.storage.fsm` and is not re-exported here, so importing
this package never imports aiogram.
"""

from bot.storage.bindings import BindingRepository
from bot.storage.db import DATABASE_ERRORS, MEMORY, Database, DatabaseClosedError, SqliteDatabase
from bot.storage.invites import InviteRepository
from bot.storage.json_codec import NotJsonError
from bot.storage.kv import KeyValueRepository
from bot.storage.migrations import MIGRATIONS, Migration, SchemaVersionError, schema_version
from bot.storage.models import (
    Binding,
    BindingSource,
    Invite,
    IssuedInvite,
    RedeemFailure,
    Role,
)
from bot.storage.timestamps import Clock, from_db_time, to_db_time, utc_now

__all__ = [
    "DATABASE_ERRORS",
    "MEMORY",
    "MIGRATIONS",
    "Binding",
    "BindingRepository",
    "BindingSource",
    "Clock",
    "Database",
    "DatabaseClosedError",
    "Invite",
    "InviteRepository",
    "IssuedInvite",
    "KeyValueRepository",
    "Migration",
    "NotJsonError",
    "RedeemFailure",
    "Role",
    "SchemaVersionError",
    "SqliteDatabase",
    "from_db_time",
    "schema_version",
    "to_db_time",
    "utc_now",
]
