"""The bot's own writes to leads, recorded so notifications can name the author and skip echoes."""

from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import datetime, timedelta
from enum import StrEnum

from bot.access.roles import Identity
from bot.storage import DATABASE_ERRORS, Clock, Database, utc_now
from bot.storage.snapshots import SnapshotRepository
from bot.storage.timestamps import from_db_time, to_db_time

log = logging.getLogger(__name__)

# How far apart the portal's DATE_MODIFY and our own record of a write may be and still be the
# same change: the record is written right after the portal answers (so it is later), give or
# take the two clocks' skew and DATE_MODIFY's whole seconds.
RECORDED_BEFORE_CHANGE = timedelta(seconds=5)
TAKES_PER_QUERY = 500
"""Lead ids per query of `first_takes` (SQLite allows 999 parameters)."""
RECORDED_AFTER_CHANGE = timedelta(seconds=30)


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
        self._db = db
        self._store = SnapshotRepository(db, clock)

    async def record(self, identity: Identity, lead_id: int, action: str) -> None:
        """Record a successful write; a storage failure is logged, the write stands."""
        try:
            await self._store.record_bot_action(
                lead_id, identity.telegram_user_id, identity.portal_user_id, str(action)
            )
        except DATABASE_ERRORS:
            log.exception("could not record bot action %s on lead %d", action, lead_id)

    async def author_of_change(self, lead_id: int, modified_at: datetime | None) -> int | None:
        """The portal user who made the lead's change at `modified_at` through the bot, if any.

        The portal credits every write the bot makes to the webhook's own user; the bot's
        record of the same write names the rep. A storage failure only loses the attribution.
        """
        if modified_at is None or modified_at.tzinfo is None:
            return None
        try:
            row = await self._db.fetch_one(
                "SELECT portal_user_id FROM bot_actions WHERE lead_id = ? AND at BETWEEN ? AND ? "
                "ORDER BY at, id LIMIT 1",
                (
                    lead_id,
                    to_db_time(modified_at - RECORDED_BEFORE_CHANGE),
                    to_db_time(modified_at + RECORDED_AFTER_CHANGE),
                ),
            )
        except DATABASE_ERRORS:
            log.exception("could not read bot actions of lead %d", lead_id)
            return None
        return int(row["portal_user_id"]) if row is not None else None

    async def first_takes(self, lead_ids: Collection[int]) -> dict[int, datetime]:
        """When each lead was first taken (or handed over) through the bot, where recorded."""
        taken: dict[int, datetime] = {}
        ids = sorted(lead_ids)
        for start in range(0, len(ids), TAKES_PER_QUERY):
            chunk = ids[start : start + TAKES_PER_QUERY]
            marks = ",".join("?" for _ in chunk)
            rows = await self._db.fetch_all(
                f"SELECT lead_id, min(at) AS at FROM bot_actions WHERE lead_id IN ({marks}) "  # noqa: S608
                "AND action IN ('take', 'hand_over') GROUP BY lead_id",
                chunk,
            )
            taken.update({int(row["lead_id"]): from_db_time(row["at"]) for row in rows})
        return taken
