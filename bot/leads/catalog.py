"""The portal's lead stages, sources and field descriptors, cached and refreshed on a timer."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from bot.portal import FieldDescriptor, Lane, PortalClient, PortalError, Status
from bot.portal.methods import GetLeadFields, ListStatuses

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CatalogSnapshot:
    """One consistent reading of the dictionaries and fields."""

    stages: tuple[Status, ...] = ()
    sources: tuple[Status, ...] = ()
    fields: Mapping[str, FieldDescriptor] = field(default_factory=dict)

    def stage(self, status_id: str | None) -> Status | None:
        """The stage with this STATUS_ID, if the portal has it."""
        return next((s for s in self.stages if s.status_id == status_id), None)

    def stage_name(self, status_id: str | None) -> str:
        """The portal's own name of a stage (the id itself when unknown)."""
        stage = self.stage(status_id)
        return stage.name if stage is not None else status_id or ""

    def source_name(self, source_id: str | None) -> str:
        """The portal's own name of a source (the id itself when unknown)."""
        source = next((s for s in self.sources if s.status_id == source_id), None)
        return source.name if source is not None else source_id or ""


class PortalCatalog:
    """Stages, sources and lead fields, read in one batch request at most every `ttl` seconds.

    `invalidate()` (on a user-field event, or after an admin changed fields) makes the next
    read go to the portal. When a refresh fails the last reading stays in use.
    """

    def __init__(
        self,
        portal: PortalClient,
        *,
        ttl: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._portal = portal
        self._ttl = ttl
        self._clock = clock
        self._snapshot: CatalogSnapshot | None = None
        self._loaded_at = 0.0
        self._lock = asyncio.Lock()

    async def refresh(self, *, lane: Lane = Lane.BACKGROUND) -> CatalogSnapshot:
        """Read everything now, in one request."""
        result = await self._portal.batch(
            {
                "stages": ListStatuses(entity_id="STATUS"),
                "sources": ListStatuses(entity_id="SOURCE"),
                "fields": GetLeadFields(),
            },
            lane=lane,
        )
        result.raise_for_errors()
        snapshot = CatalogSnapshot(
            stages=tuple(result["stages"]),
            sources=tuple(result["sources"]),
            fields=result["fields"],
        )
        self._snapshot = snapshot
        self._loaded_at = self._clock()
        log.info(
            "catalog refreshed: %d stages, %d sources, %d fields",
            len(snapshot.stages),
            len(snapshot.sources),
            len(snapshot.fields),
        )
        return snapshot

    def invalidate(self) -> None:
        """Make the next `get` read the portal again."""
        self._loaded_at = float("-inf")

    async def get(self, *, lane: Lane = Lane.INTERACTIVE) -> CatalogSnapshot:
        """The current reading, refreshed first when older than the TTL."""
        fresh = self._snapshot is not None and self._clock() - self._loaded_at < self._ttl
        if fresh:
            assert self._snapshot is not None
            return self._snapshot
        async with self._lock:
            if self._snapshot is not None and self._clock() - self._loaded_at < self._ttl:
                return self._snapshot
            try:
                return await self.refresh(lane=lane)
            except PortalError:
                if self._snapshot is None:
                    raise
                log.warning("catalog refresh failed; using the last reading", exc_info=True)
                return self._snapshot
