"""Numbered schema migrations, applied in order, each once, each in its own transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import aiosqlite

from bot.storage.sql import execute, fetch_one_in
from bot.storage.timestamps import to_db_time, utc_now

if TYPE_CHECKING:
    from bot.storage.db import Database


class SchemaVersionError(RuntimeError):
    """The database or the migration list is inconsistent with this code."""


@dataclass(frozen=True, slots=True)
class Migration:
    """One schema step: its number, a name for humans, and its SQL statements in order."""

    version: int
    name: str
    statements: tuple[str, ...]


_ROLE_CHECK = "CHECK (role IN ('rep', 'manager', 'admin'))"

# Statements are run one by one (not as a script) because sqlite3's executescript commits
# any open transaction first, which would break "one migration, one transaction".
_INITIAL = Migration(
    version=1,
    name="initial schema",
    statements=(
        f"""
        CREATE TABLE bindings (
            telegram_user_id INTEGER PRIMARY KEY,
            portal_user_id   INTEGER NOT NULL,
            role             TEXT NOT NULL {_ROLE_CHECK},
            language         TEXT,
            display_name     TEXT,
            bound_at         TEXT NOT NULL,
            bound_via        TEXT NOT NULL CHECK (bound_via IN ('contact', 'invite', 'config')),
            active           INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1))
        )
        """,
        "CREATE INDEX bindings_by_portal_user ON bindings (portal_user_id)",
        f"""
        CREATE TABLE invites (
            id             INTEGER PRIMARY KEY,
            token_hash     TEXT NOT NULL UNIQUE,
            portal_user_id INTEGER NOT NULL,
            role           TEXT NOT NULL {_ROLE_CHECK},
            created_by     INTEGER NOT NULL,
            created_at     TEXT NOT NULL,
            expires_at     TEXT NOT NULL,
            used_at        TEXT,
            used_by        INTEGER,
            revoked_at     TEXT
        )
        """,
        """
        CREATE TABLE fsm (
            bot_id                 INTEGER NOT NULL,
            chat_id                INTEGER NOT NULL,
            user_id                INTEGER NOT NULL,
            thread_id              INTEGER NOT NULL DEFAULT 0,
            business_connection_id TEXT NOT NULL DEFAULT '',
            destiny                TEXT NOT NULL,
            state                  TEXT,
            data                   TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(data)),
            updated_at             TEXT NOT NULL,
            PRIMARY KEY (bot_id, chat_id, user_id, thread_id, business_connection_id, destiny)
        ) WITHOUT ROWID
        """,
        """
        CREATE TABLE kv (
            key        TEXT PRIMARY KEY,
            value      TEXT NOT NULL CHECK (json_valid(value)),
            updated_at TEXT NOT NULL
        )
        """,
        """
        CREATE TABLE bot_actions (
            id               INTEGER PRIMARY KEY,
            lead_id          INTEGER NOT NULL,
            telegram_user_id INTEGER NOT NULL,
            portal_user_id   INTEGER NOT NULL,
            action           TEXT NOT NULL,
            at               TEXT NOT NULL
        )
        """,
        "CREATE INDEX bot_actions_by_lead ON bot_actions (lead_id, at)",
        """
        CREATE TABLE inbox (
            id           INTEGER PRIMARY KEY,
            dedup_key    TEXT NOT NULL UNIQUE,
            event        TEXT NOT NULL,
            lead_id      INTEGER,
            payload      TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(payload)),
            received_at  TEXT NOT NULL,
            processed_at TEXT,
            attempts     INTEGER NOT NULL DEFAULT 0,
            last_error   TEXT
        )
        """,
        "CREATE INDEX inbox_unprocessed ON inbox (id) WHERE processed_at IS NULL",
        """
        CREATE TABLE outbox (
            id              INTEGER PRIMARY KEY,
            idempotency_key TEXT NOT NULL UNIQUE,
            chat_id         INTEGER NOT NULL,
            thread_id       INTEGER,
            payload         TEXT NOT NULL CHECK (json_valid(payload)),
            state           TEXT NOT NULL DEFAULT 'pending'
                            CHECK (state IN ('pending', 'sent', 'dead')),
            attempts        INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT NOT NULL,
            last_error      TEXT,
            created_at      TEXT NOT NULL,
            sent_at         TEXT
        )
        """,
        "CREATE INDEX outbox_due ON outbox (next_attempt_at, id) WHERE state = 'pending'",
        """
        CREATE TABLE subscriptions (
            id              INTEGER PRIMARY KEY,
            chat_id         INTEGER NOT NULL,
            thread_id       INTEGER,
            created_by      INTEGER NOT NULL,
            kinds           TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(kinds)),
            scope           TEXT NOT NULL,
            responsible_ids TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(responsible_ids)),
            stages          TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(stages)),
            sources         TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(sources)),
            paused          INTEGER NOT NULL DEFAULT 0 CHECK (paused IN (0, 1)),
            disabled_reason TEXT,
            created_at      TEXT NOT NULL
        )
        """,
        "CREATE INDEX subscriptions_by_chat ON subscriptions (chat_id, thread_id)",
        """
        CREATE TABLE lead_snapshots (
            lead_id    INTEGER PRIMARY KEY,
            data       TEXT NOT NULL CHECK (json_valid(data)),
            updated_at TEXT NOT NULL
        )
        """,
    ),
)

_NOTIFICATIONS = Migration(
    version=2,
    name="notifications: subscription language, claimed leads, outbox by chat",
    statements=(
        "ALTER TABLE subscriptions ADD COLUMN language TEXT",
        "ALTER TABLE outbox ADD COLUMN lead_id INTEGER",
        "CREATE INDEX outbox_pending_by_chat ON outbox (chat_id) WHERE state = 'pending'",
        """
        CREATE TABLE lead_claims (
            chat_id          INTEGER NOT NULL,
            message_id       INTEGER NOT NULL,
            lead_id          INTEGER NOT NULL,
            telegram_user_id INTEGER NOT NULL,
            portal_user_id   INTEGER NOT NULL,
            name             TEXT NOT NULL,
            claimed_at       TEXT NOT NULL,
            PRIMARY KEY (chat_id, message_id)
        )
        """,
    ),
)

_OUTBOX_DELIVERY = Migration(
    version=3,
    name="outbox: Telegram message id of each sent row, indexes for Take and for pruning",
    statements=(
        # A Take is accepted only on a message the outbox sent: (chat, message) finds its row.
        "ALTER TABLE outbox ADD COLUMN telegram_message_id INTEGER",
        "CREATE INDEX outbox_by_telegram_message ON outbox (chat_id, telegram_message_id) "
        "WHERE telegram_message_id IS NOT NULL",
        # Skipped rows had no finishing time; their creation time is the closest one known.
        "UPDATE outbox SET sent_at = created_at WHERE state = 'sent' AND sent_at IS NULL",
        "CREATE INDEX outbox_sent_by_time ON outbox (sent_at) WHERE state = 'sent'",
        "CREATE INDEX outbox_dead_by_time ON outbox (created_at) WHERE state = 'dead'",
    ),
)

_ACCESS_HARDENING = Migration(
    version=4,
    name="access: blocked accounts, phone-bound invites, dialog state pruned by age",
    statements=(
        "ALTER TABLE bindings ADD COLUMN blocked INTEGER NOT NULL DEFAULT 0 "
        "CHECK (blocked IN (0, 1))",
        # Earlier revocations and portal deactivations cannot be told apart: block them all,
        # an admin lifts the block (or sends an invite) for whoever should come back.
        "UPDATE bindings SET blocked = 1 WHERE active = 0",
        "ALTER TABLE invites ADD COLUMN phone_check INTEGER NOT NULL DEFAULT 0 "
        "CHECK (phone_check IN (0, 1))",
        "CREATE INDEX fsm_by_updated_at ON fsm (updated_at)",
    ),
)

_EVENT_PIPELINE = Migration(
    version=5,
    name="event pipeline: retention and lookup indexes, change counters of cached tables",
    statements=(
        # Retention deletes the oldest rows in small chunks; each delete walks one index.
        "CREATE INDEX inbox_processed ON inbox (processed_at) WHERE processed_at IS NOT NULL",
        "CREATE INDEX inbox_pending_by_lead ON inbox (lead_id) WHERE processed_at IS NULL",
        "CREATE INDEX bot_actions_by_time ON bot_actions (at)",
        "CREATE INDEX lead_claims_by_time ON lead_claims (claimed_at)",
        "CREATE INDEX lead_snapshots_recent ON lead_snapshots (updated_at, lead_id)",
        # A counter per table that the processor caches (subscriptions, bindings): one row
        # read tells whether its copy is still current, whoever wrote the table.
        """
        CREATE TABLE table_revisions (
            name     TEXT PRIMARY KEY,
            revision INTEGER NOT NULL DEFAULT 0
        )
        """,
        "INSERT INTO table_revisions (name) VALUES ('subscriptions'), ('bindings')",
        *(
            f"""
            CREATE TRIGGER {table}_revision_{verb} AFTER {verb.upper()} ON {table}
            BEGIN
                UPDATE table_revisions SET revision = revision + 1 WHERE name = '{table}';
            END
            """  # noqa: S608 - the names come from the literal tuples below
            for table in ("subscriptions", "bindings")
            for verb in ("insert", "update", "delete")
        ),
    ),
)

_OWNER_REQUESTS = Migration(
    version=6,
    name="owner requests: a rep asks the owner of a duplicate lead to hand it over",
    statements=(
        """
        CREATE TABLE owner_requests (
            id                    INTEGER PRIMARY KEY,
            lead_id               INTEGER NOT NULL,
            requester_telegram_id INTEGER NOT NULL,
            requester_portal_id   INTEGER NOT NULL,
            owner_portal_id       INTEGER,
            note                  TEXT NOT NULL DEFAULT '',
            state                 TEXT NOT NULL DEFAULT 'open'
                                  CHECK (state IN ('open', 'handed', 'withdrawn')),
            resolved_by           INTEGER,
            created_at            TEXT NOT NULL,
            resolved_at           TEXT
        )
        """,
        # One open request per rep and lead: asking twice reuses the first.
        "CREATE UNIQUE INDEX owner_requests_open ON owner_requests "
        "(requester_telegram_id, lead_id) WHERE state = 'open'",
        "CREATE INDEX owner_requests_by_time ON owner_requests (created_at)",
    ),
)

_CHAT_MUTES = Migration(
    version=7,
    name="chat mutes: notifications to a chat (or forum topic) held back until a moment",
    statements=(
        """
        CREATE TABLE chat_mutes (
            chat_id    INTEGER NOT NULL,
            thread_id  INTEGER NOT NULL DEFAULT 0,
            until      TEXT NOT NULL,
            set_by     INTEGER NOT NULL,
            PRIMARY KEY (chat_id, thread_id)
        )
        """,
    ),
)

_ESCALATION = Migration(
    version=8,
    name="speed to lead: escalation settings, watched new-lead messages, times to take",
    statements=(
        # NULL: no escalation. The chats told are Telegram ids; none means every manager.
        "ALTER TABLE subscriptions ADD COLUMN escalate_minutes INTEGER",
        "ALTER TABLE subscriptions ADD COLUMN escalate_to TEXT NOT NULL DEFAULT '[]' "
        "CHECK (json_valid(escalate_to))",
        # One row per new lead the bot announced: when it was created, where it started,
        # and when (and how, by whom) it was first taken or left its first stage.
        """
        CREATE TABLE lead_takes (
            lead_id        INTEGER PRIMARY KEY,
            created_at     TEXT NOT NULL,
            first_stage    TEXT NOT NULL,
            first_assigned INTEGER,
            source_id      TEXT NOT NULL DEFAULT '',
            outcome        TEXT,
            taken_at       TEXT,
            portal_user_id INTEGER,
            taken_by       TEXT
        )
        """,
        "CREATE INDEX lead_takes_by_created ON lead_takes (created_at)",
        "CREATE INDEX lead_takes_open ON lead_takes (lead_id) WHERE outcome IS NULL",
        # One row per new-lead message of a subscription that escalates: its live counter,
        # its escalation deadline, and how it ended.
        """
        CREATE TABLE lead_watches (
            id              INTEGER PRIMARY KEY,
            lead_id         INTEGER NOT NULL,
            subscription_id INTEGER NOT NULL,
            chat_id         INTEGER NOT NULL,
            thread_id       INTEGER,
            message_key     TEXT NOT NULL UNIQUE,
            started_at      TEXT NOT NULL,
            escalate_at     TEXT NOT NULL,
            escalated_at    TEXT,
            ended_at        TEXT,
            outcome         TEXT,
            shown_minutes   INTEGER NOT NULL DEFAULT 0,
            shown_at        TEXT,
            settled         INTEGER NOT NULL DEFAULT 0 CHECK (settled IN (0, 1))
        )
        """,
        "CREATE INDEX lead_watches_due ON lead_watches (escalate_at) "
        "WHERE escalated_at IS NULL AND ended_at IS NULL",
        "CREATE INDEX lead_watches_by_lead ON lead_watches (lead_id)",
        "CREATE INDEX lead_watches_live ON lead_watches (id) WHERE settled = 0",
        "CREATE INDEX lead_watches_by_start ON lead_watches (started_at)",
    ),
)

MIGRATIONS: tuple[Migration, ...] = (
    _INITIAL,
    _NOTIFICATIONS,
    _OUTBOX_DELIVERY,
    _ACCESS_HARDENING,
    _EVENT_PIPELINE,
    _OWNER_REQUESTS,
    _CHAT_MUTES,
    _ESCALATION,
)
"""Every migration of the schema, in order; append, never edit an applied one."""

_VERSION_TABLE = """
CREATE TABLE IF NOT EXISTS schema_version (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at TEXT NOT NULL
)
"""


def _check_sequence(migrations: Sequence[Migration]) -> None:
    for expected, migration in enumerate(migrations, start=1):
        if migration.version != expected:
            raise SchemaVersionError(
                f"migration {migration.name!r} has version {migration.version}, "
                f"expected {expected}: versions must be 1, 2, 3, ... in order"
            )


async def apply_migrations(
    db: Database, migrations: Sequence[Migration] = MIGRATIONS
) -> list[int]:
    """Apply every migration newer than the database's version; return the versions applied."""
    _check_sequence(migrations)
    async with db.transaction() as conn:
        await execute(conn, _VERSION_TABLE)
        current = await _current_version(conn)
    if current > len(migrations):
        raise SchemaVersionError(
            f"database schema is at version {current}, newer than this code "
            f"({len(migrations)}): upgrade the bot instead of downgrading"
        )
    applied: list[int] = []
    for migration in migrations[current:]:
        async with db.transaction(durable=True) as conn:
            # Re-read inside the transaction: another process on the same file may have
            # applied it meanwhile, and BEGIN IMMEDIATE makes check-and-apply atomic.
            if migration.version <= await _current_version(conn):
                continue
            for statement in migration.statements:
                await execute(conn, statement)
            await execute(
                conn,
                "INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)",
                (migration.version, migration.name, to_db_time(utc_now())),
            )
        applied.append(migration.version)
    return applied


async def _current_version(conn: aiosqlite.Connection) -> int:
    row = await fetch_one_in(conn, "SELECT max(version) FROM schema_version")
    return 0 if row is None or row[0] is None else int(row[0])


async def schema_version(db: Database) -> int:
    """The highest migration applied to the database (0 for a fresh one)."""
    row = await db.fetch_one("SELECT max(version) FROM schema_version")
    return 0 if row is None or row[0] is None else int(row[0])
