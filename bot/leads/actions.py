"""The bot's own writes to leads, recorded so notifications can name the author and skip echoes."""

from __future__ import annotations

import logging
import sqlite3
from enum import StrEnum

from bot.access.roles import Identity
from bot.storage import Clock, Database, DatabaseClosedError, utc_now
from bot.storage.snapshots import SnapshotRepository

log = logging.getLogger(__name__)


class LeadAction(StrEnum):
    """What the bot did to a lead, as recorded in `bot_actions.action`."""

    CONTACT_LINKED = "contact_linked"
    CONTACT_UNLINKED = "contact_unlinked"
    CONTACT_MADE_PRIMARY = "contact_made_primary"
    CONTACT_CREATED = "contact_created"
    PRODUCT_ADDED = "product_added"
    PRODUCT_REMOVED = "product_removed"


class BotActionLog:
    """Records `bot_actions` rows (who changed which lead through the bot) for notifications."""

    def __init__(self, db: Database, *, clock: Clock = utc_now) -> None:
        self._store = SnapshotRepository(db, clock)

    async def record(self, identity: Identity, lead_id: int, action: str) -> None:
        """Record a successful write; a storage failure is logged, the write stands."""
        try:
            await self._store.record_bot_action(
                lead_id, identity.telegram_user_id, identity.portal_user_id, str(action)
            )
        except (sqlite3.Error, DatabaseClosedError):
            log.exception("could not record bot action %s on lead %d", action, lead_id)
