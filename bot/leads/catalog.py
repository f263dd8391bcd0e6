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


RETRY_SECONDS = 60.0
"""After a refresh made aside failed, the last reading serves this long before the next try."""


class PortalCatalog:
    """Stages, sources and lead fields, read in one batch request at most every `ttl` seconds.

    A reading older than `ttl` is still answered at once while one refresh runs aside, so no
    notification or screen waits for the portal's slot of a routine re-read. `invalidate()`
    (on a user-field event, or after an admin changed fields) makes the next read wait for the
    portal instead. When a refresh fails the last reading stays in use.
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
        self._invalidations = 0
        self._read_after = 0
        """How many invalidations the reading held had seen when its request went out: fewer
        than `_invalidations`, and the next read waits for the portal."""
        self._lock = asyncio.Lock()
        self._aside: asyncio.Task[None] | None = None

    async def refresh(self, *, lane: Lane = Lane.BACKGROUND) -> CatalogSnapshot:
        """Read everything now, in one request.

        A reading whose request was under way when `invalidate()` came is kept but not
        trusted: it may predate the change, so the next `get` reads again.
        """
        invalidations = self._invalidations
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
        if self._invalidations == invalidations:
            self._loaded_at = self._clock()
            self._read_after = invalidations
        log.info(
            "catalog refreshed: %d stages, %d sources, %d fields",
            len(snapshot.stages),
            len(snapshot.sources),
            len(snapshot.fields),
        )
        return snapshot

    def invalidate(self) -> None:
        """Make the next `get` read the portal again (and wait for it)."""
        self._invalidations += 1

    @property
    def _invalidated(self) -> bool:
        return self._read_after != self._invalidations

    def _expired(self) -> bool:
        return self._invalidated or self._clock() - self._loaded_at >= self._ttl

    async def get(self, *, lane: Lane = Lane.INTERACTIVE) -> CatalogSnapshot:
        """The current reading; an expired one is answered while a refresh runs aside."""
        snapshot = self._snapshot
        if snapshot is not None and not self._invalidated:
            if self._expired() and (self._aside is None or self._aside.done()):
                self._aside = asyncio.create_task(self._refresh_aside())
            return snapshot
        async with self._lock:
            if self._snapshot is not None and not self._expired():
                return self._snapshot
            try:
                return await self.refresh(lane=lane)
            except PortalError:
                if self._snapshot is None:
                    raise
                log.warning("catalog refresh failed; using the last reading", exc_info=True)
                return self._snapshot

    async def _refresh_aside(self) -> None:
        async with self._lock:
            if not self._expired():
                return  # a caller that waited refreshed it meanwhile
            try:
                # Nobody waits for it: it takes the portal's slots the processor leaves.
                await self.refresh(lane=Lane.ROUTINE)
            except PortalError as exc:
                self._loaded_at = self._clock() - self._ttl + RETRY_SECONDS
                log.warning("catalog refresh failed (%s); using the last reading", exc.code)
