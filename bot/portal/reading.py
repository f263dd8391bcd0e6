"""Reading every lead of a filter quickly: keyset chains that run side by side.

A full read is bound by the portal's request rate (2/s, 50 list commands of 50 leads per
`batch`: 5,000 leads/s) and, on a slow portal, by its server time per batch. One keyset chain
needs each batch's last id before it can send the next, so it waits on the portal's server
time. Here the first request also brings the top 50 leads (`order[ID]=DESC`), which gives the
end of the ID range; the rest of the range is then cut into segments of at most 2,500 leads (by
the density seen in the first request) and read as several chains at once. A chain ends on its
first short page or its upper id, so no request is spent finding the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.portal.batch import MAX_BATCH_COMMANDS, BatchCommand, BatchResult, result_ref
from bot.portal.coerce import as_list
from bot.portal.errors import PortalError
from bot.portal.models import Lead

__all__ = ["DEFAULT_CHAINS", "PAGE_SIZE", "RunBatch", "iter_leads_in_chains"]

PAGE_SIZE = 50
# Segments are read this many at once: at 2 requests/s and 2 s of server time per batch four
# are in flight; the rest covers refusals and slower portals.
DEFAULT_CHAINS = 8
LEADS_PER_REQUEST = MAX_BATCH_COMMANDS * PAGE_SIZE

RunBatch = Callable[[Mapping[str, BatchCommand]], Awaitable[BatchResult]]


def keyset_params(
    base_filter: Mapping[str, Any],
    fields: Sequence[str],
    after: Any,
    upto: int | None = None,
    *,
    descending: bool = False,
) -> dict[str, Any]:
    """`crm.lead.list` params of one keyset page: `after < ID <= upto`, without counting."""
    keyset: dict[str, Any] = {">ID": after}
    if upto is not None:
        keyset["<=ID"] = upto
    return {
        "filter": {**base_filter, **keyset},
        "order": {"ID": "DESC" if descending else "ASC"},
        "select": list(fields),
        "start": -1,
    }


@dataclass
class _ChainRead:
    """What one batch of chained pages gave: the leads, the new cursor, whether it ended."""

    leads: list[Lead]
    cursor: int
    complete: bool


class _Chains:
    def __init__(
        self, run: RunBatch, base_filter: Mapping[str, Any], fields: Sequence[str]
    ) -> None:
        self._run = run
        self._filter = base_filter
        self._fields = fields

    def chain(self, after: int, upto: int | None, pages: int) -> dict[str, BatchCommand]:
        """Pages `p0..`: page k starts after the last id of page k-1 (`$result[...][49][ID]`)."""
        return {
            f"p{k}": BatchCommand(
                "crm.lead.list",
                keyset_params(
                    self._filter,
                    self._fields,
                    after if k == 0 else result_ref(f"p{k - 1}", PAGE_SIZE - 1, "ID"),
                    upto,
                ),
            )
            for k in range(pages)
        }

    @staticmethod
    def read(result: BatchResult, keys: Sequence[str], cursor: int, upto: int) -> _ChainRead:
        """The leads of a chain's pages, in order, up to its first short page."""
        leads: list[Lead] = []
        for key in keys:
            # Pages after the first short one are never looked at: their `$result[...][49]`
            # references do not resolve, and what a portal answers for them is undocumented.
            items = as_list(result[key])
            for item in items:
                lead = Lead.model_validate(item)
                # Keyset paging in ID order: anything not above the cursor is a repeat.
                if lead.id is None or lead.id <= cursor or lead.id > upto:
                    continue
                cursor = lead.id
                leads.append(lead)
            if len(items) < PAGE_SIZE:
                return _ChainRead(leads, cursor, complete=True)
        return _ChainRead(leads, cursor, complete=cursor >= upto)

    async def segment(self, after: int, upto: int) -> list[Lead]:
        """Every lead with `after < ID <= upto`, 50 chained pages per request."""
        leads: list[Lead] = []
        while True:
            chain = self.chain(after, upto, MAX_BATCH_COMMANDS)
            part = self.read(await self._run(chain), list(chain), after, upto)
            leads.extend(part.leads)
            if part.complete:
                return leads
            after = part.cursor


async def iter_leads_in_chains(
    run: RunBatch,
    base_filter: Mapping[str, Any],
    fields: Sequence[str],
    cursor: int,
    *,
    chains: int = DEFAULT_CHAINS,
) -> AsyncIterator[Lead]:
    """Leads with `ID > cursor` matching `base_filter`, in ID order (see the module docs)."""
    reader = _Chains(run, base_filter, fields)
    top = BatchCommand(
        "crm.lead.list", keyset_params(base_filter, fields, cursor, descending=True)
    )
    # The top page alone says where the range ends; its leads are yielded last.
    probe = reader.chain(cursor, None, MAX_BATCH_COMMANDS - 1)
    result = await run({"top": top, **probe})
    tail = sorted(
        (lead for lead in map(Lead.model_validate, as_list(result["top"])) if lead.id),
        key=lambda lead: lead.id or 0,
    )
    if len(tail) < PAGE_SIZE:
        for lead in tail:
            if (lead.id or 0) > cursor:
                yield lead
        return
    upto = (tail[0].id or 0) - 1
    start = cursor
    first = reader.read(result, list(probe), cursor, upto)
    for lead in first.leads:
        yield lead
    if not first.complete and first.cursor < upto:
        span = upto - first.cursor
        density = len(first.leads) / max(1, first.cursor - start)
        count = max(1, math.ceil(span * density / LEADS_PER_REQUEST))
        width = math.ceil(span / count)
        bounds = [*range(first.cursor, upto, width), upto]
        async for lead in _segments_in_order(reader, list(itertools.pairwise(bounds)), chains):
            yield lead
    for lead in tail:
        yield lead


async def _segments_in_order(
    reader: _Chains, segments: Sequence[tuple[int, int]], chains: int
) -> AsyncIterator[Lead]:
    """Run up to `chains` segments ahead of the one being yielded."""
    running: dict[int, asyncio.Task[list[Lead]]] = {}
    try:
        for index in range(len(segments)):
            for ahead in range(index, min(index + max(1, chains), len(segments))):
                if ahead not in running:
                    running[ahead] = asyncio.create_task(reader.segment(*segments[ahead]))
            for lead in await running.pop(index):
                yield lead
    finally:
        for task in running.values():
            task.cancel()
        for task in running.values():
            with contextlib.suppress(asyncio.CancelledError, PortalError):
                await task
