"""Change counters of tables whose contents are cached in memory (kept by database triggers)."""

from __future__ import annotations

from bot.storage.db import Database


class TableRevisions:
    """Reads the counters the triggers of `table_revisions` bump on every write of a table."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def current(self) -> dict[str, int]:
        """Every table's revision by name; a cached copy is current while its number is."""
        rows = await self._db.fetch_all("SELECT name, revision FROM table_revisions")
        return {row["name"]: int(row["revision"]) for row in rows}
