"""Reading every lead of a filter quickly: keyset chains that run side by side.

A full read is bound by the portal's request rate (2/s, 50 list commands of 50 leads per
`batch`: 5,000 leads/s) and, on a slow portal, by its server time per list command. One keyset
chain needs each batch's last id before it can send the next, so it waits on the portal's
server time. Here the first request is light: two list commands, the top 50 leads
(`order[ID]=DESC`, the end of the ID range) and the first 50 (`ASC`, read speculatively).
Both pages are kept, and together they give the density of ids. The range between them is
cut into segments of about 2,500 leads and read as keyset chains at once: first
`DEFAULT_CHAINS`, then, once a refusal would have come back, as many as the limiter can send
without waiting (a portal whose bucket others filled costs a few refusals, not one per
segment). A chain ends on its first short page or its upper id, so no request is spent
finding the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.portal.batch import MAX_BATCH_COMMANDS, BatchCommand, BatchResult, result_ref
from bot.portal.coerce import as_list, int_or_none
from bot.portal.errors import PortalError
from bot.portal.models import Lead

__all__ = [
    "DEFAULT_CHAINS",
    "LEADS_PER_REQUEST",
    "PAGE_SIZE",
    "RunBatch",
    "chains_at_once",
    "density_of",
    "iter_leads_in_chains",
    "plan_segments",
]

PAGE_SIZE = 50
# At 2 requests/s and 2 s of server time per batch four chains are in flight; the rest
# covers refusals and slower portals. More run at once when the limiter has burst to spare.
DEFAULT_CHAINS = 8
LEADS_PER_REQUEST = MAX_BATCH_COMMANDS * PAGE_SIZE

RunBatch = Callable[[Mapping[str, BatchCommand]], Awaitable[BatchResult]]
Room = Callable[[], int]


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


def density_of(spans: Iterable[tuple[int, int, int]]) -> float:
    """Leads per id over `(after, upto, leads)` spans where every lead was seen (0 if none)."""
    width = leads = 0
    for after, upto, count in spans:
        width += max(0, upto - after)
        leads += count
    return leads / width if width > 0 else 0.0


def plan_segments(after: int, upto: int, density: float) -> list[tuple[int, int]]:
    """Cut `after < ID <= upto` into segments of about one request's worth of leads each."""
    span = upto - after
    if span <= 0:
        return []
    count = max(1, math.ceil(span * density / LEADS_PER_REQUEST))
    width = math.ceil(span / count)
    return list(itertools.pairwise([*range(after, upto, width), upto]))


def chains_at_once(segments: int, room: int | None, cap: int | None = None) -> int:
    """Segments to read at once: what the limiter can send now, at least `DEFAULT_CHAINS`.

    `room` is how many requests the limiter lets go without waiting (None: unknown). Chains
    beyond it only queue in the limiter, so a full bucket costs no refusals; `cap` bounds it.
    """
    wanted = max(DEFAULT_CHAINS, room or 0)
    if cap is not None:
        wanted = min(wanted, cap)
    return max(1, min(wanted, segments))


_Row = tuple[int, Any]
"""A lead as the portal sent it, with its ID. Rows wait as decoded JSON and become `Lead`s one
at a time as they are yielded: a request's 2,500 validated leads at once weighed about 7 MB,
and the process keeps such a high-water mark for good."""


def _rows(raw: Any) -> list[_Row | None]:
    """A page's rows, None for one without a usable ID."""
    rows: list[_Row | None] = []
    for item in as_list(raw):
        lead_id = int_or_none(item.get("ID")) if isinstance(item, Mapping) else None
        rows.append(None if lead_id is None else (lead_id, item))
    return rows


def _lead(row: _Row) -> Lead:
    return Lead.model_validate(row[1])


@dataclass
class _ChainRead:
    """What one batch of chained pages gave: the rows, the new cursor, whether it ended."""

    rows: list[_Row]
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
        """The rows of a chain's pages, in order, up to its first short page."""
        rows: list[_Row] = []
        for key in keys:
            # Pages after the first short one are never looked at: their `$result[...][49]`
            # references do not resolve, and what a portal answers for them is undocumented.
            page = _rows(result[key])
            for row in page:
                # Keyset paging in ID order: anything not above the cursor is a repeat.
                if row is None or row[0] <= cursor or row[0] > upto:
                    continue
                cursor = row[0]
                rows.append(row)
            if len(page) < PAGE_SIZE:
                return _ChainRead(rows, cursor, complete=True)
        return _ChainRead(rows, cursor, complete=cursor >= upto)

    async def segment(self, after: int, upto: int) -> _ChainRead:
        """The leads with `after < ID <= upto` that one request of 50 chained pages reads; a
        segment denser than planned says where its rest begins (`cursor`, not `complete`)."""
        chain = self.chain(after, upto, MAX_BATCH_COMMANDS)
        return self.read(await self._run(chain), list(chain), after, upto)


def _in_order(rows: Iterable[_Row | None], after: int) -> list[_Row]:
    """Rows above `after`, each id once, in ID order."""
    unique = {row[0]: row for row in rows if row is not None and row[0] > after}
    return [unique[lead_id] for lead_id in sorted(unique)]


async def iter_leads_in_chains(
    run: RunBatch,
    base_filter: Mapping[str, Any],
    fields: Sequence[str],
    cursor: int,
    *,
    chains: int | None = None,
    room: Room | None = None,
) -> AsyncIterator[Lead]:
    """Leads with `ID > cursor` matching `base_filter`, in ID order (see the module docs).

    `room` says how many requests the limiter can send now; `chains` caps the chains at once.
    """
    reader = _Chains(run, base_filter, fields)
    loop = asyncio.get_running_loop()
    sent = loop.time()
    first = await run(
        {
            "top": BatchCommand(
                "crm.lead.list", keyset_params(base_filter, fields, cursor, descending=True)
            ),
            "head": BatchCommand("crm.lead.list", keyset_params(base_filter, fields, cursor)),
        }
    )
    round_trip = loop.time() - sent
    tail = _in_order(_rows(first["top"]), cursor)
    head = _in_order(_rows(first["head"]), cursor)
    if len(tail) < PAGE_SIZE or len(head) < PAGE_SIZE:
        # Everything fits in the two pages.
        for row in _in_order([*head, *tail], cursor):
            yield _lead(row)
        return
    upto = tail[0][0] - 1
    after = head[-1][0]
    if after >= upto:
        for row in _in_order([*head, *tail], cursor):
            yield _lead(row)
        return
    for row in head:
        yield _lead(row)
    density = density_of([(cursor, after, len(head)), (upto, tail[-1][0], len(tail))])
    segments = plan_segments(after, upto, density)

    def window(widened: bool) -> int:
        # The first chains go at once; the rest of the limiter's room only once a refusal had
        # time to come back (a refusal has no server time, so it is quicker than the first
        # request was): a portal busy with other traffic then costs a few refusals, not one
        # per segment.
        if not widened or room is None:
            return chains_at_once(len(segments), None, chains)
        return chains_at_once(len(segments), room(), chains)

    async for row in _segments_in_order(reader, segments, window, round_trip):
        yield _lead(row)
    for row in tail:
        yield _lead(row)


async def _segments_in_order(
    reader: _Chains,
    segments: Sequence[tuple[int, int]],
    window: Callable[[bool], int],
    widen_after: float,
) -> AsyncIterator[_Row]:
    """Run up to `window(widened)` segments ahead of the one being yielded.

    The window is taken narrow first and wide once `widen_after` seconds have passed. A
    segment denser than planned continues with another request only after the rows of its
    first were yielded, ahead of the segments after it: a chain holds one request's leads at a
    time (the leads of a sparse start made the density guess low, and a segment of several
    requests' leads was held whole until its last request).
    """
    spans = list(segments)  # still to yield, in ID order
    running: dict[tuple[int, int], asyncio.Task[_ChainRead]] = {}
    loop = asyncio.get_running_loop()
    widen_at = loop.time() + widen_after
    widened = False

    def launch() -> None:
        for span in spans[: max(1, window(widened))]:
            if span not in running:
                running[span] = asyncio.create_task(reader.segment(*span))

    try:
        while spans:
            launch()
            span = spans[0]
            if not widened:
                remaining = widen_at - loop.time()
                if remaining > 0:
                    await asyncio.wait({running[span]}, timeout=remaining)
                if loop.time() >= widen_at:
                    widened = True
                    launch()
            part = await running.pop(span)
            spans.pop(0)
            if not part.complete:
                if part.cursor <= span[0]:
                    raise PortalError("a keyset chain of crm.lead.list pages did not advance")
                spans.insert(0, (part.cursor, span[1]))
            for row in part.rows:
                yield row
            del part  # its rows go before the next request's arrive
    finally:
        for task in running.values():
            task.cancel()
        for task in running.values():
            with contextlib.suppress(asyncio.CancelledError, PortalError):
                await task
