"""Builds a report for a caller: one full read of the period's leads, then the picture."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import Protocol

from bot.access.roles import Action, Identity
from bot.i18n import Translator
from bot.leads.actions import BotActionLog
from bot.leads.catalog import PortalCatalog
from bot.portal import Lane, PortalClient
from bot.reports.data import DateRange, LeadFacts, ReportData, build_report
from bot.reports.render import caption, render_png
from bot.storage.escalations import TakeRecord

log = logging.getLogger(__name__)

REPORT_FIELDS = ("ID", "DATE_CREATE", "STATUS_ID", "SOURCE_ID", "ASSIGNED_BY_ID")


class FirstTakes(Protocol):
    """When leads were first taken, where the bot followed them from their creation."""

    async def takes(self, lead_ids: Collection[int]) -> Mapping[int, TakeRecord]:
        """The first takes of these leads."""
        ...


@dataclass(frozen=True, slots=True)
class Report:
    """The picture (PNG bytes) and its caption (HTML)."""

    png: bytes
    caption: str
    data: ReportData


class ReportService:
    """Reps get their own leads; whoever may see every lead gets the whole team's."""

    def __init__(
        self,
        *,
        portal: PortalClient,
        catalog: PortalCatalog,
        actions: BotActionLog,
        user_name: Callable[[int | None], Awaitable[str]],
        zone: tzinfo,
        clock: Callable[[], datetime],
        speed: FirstTakes | None = None,
    ) -> None:
        self._portal = portal
        self._catalog = catalog
        self._actions = actions
        self._user_name = user_name
        self._zone = zone
        self._clock = clock
        self._speed = speed
        self._drawing = asyncio.Semaphore(1)  # one picture at a time: each takes memory and CPU

    def today(self) -> date:
        """Today in the reports' time zone."""
        return self._clock().astimezone(self._zone).date()

    async def build(self, identity: Identity, period: DateRange, tr: Translator) -> Report:
        """Read the period's leads (the caller's own unless they may see all) and draw them."""
        start, end = period.bounds(self._zone)
        query: dict[str, object] = {
            ">=DATE_CREATE": start.isoformat(),
            "<DATE_CREATE": end.isoformat(),
        }
        team = identity.may(Action.VIEW_ALL_LEADS)
        if not team:
            query["ASSIGNED_BY_ID"] = identity.portal_user_id
        leads: list[LeadFacts] = []
        async for lead in self._portal.iter_leads(
            query, select=list(REPORT_FIELDS), lane=Lane.INTERACTIVE
        ):
            if lead.id is None or lead.date_create is None:
                continue
            if not team and lead.assigned_by_id != identity.portal_user_id:
                continue  # the filter already says so; a report never shows a stranger's lead
            leads.append(
                LeadFacts(
                    id=lead.id,
                    created=lead.date_create,
                    status_id=lead.status_id or "",
                    source_id=lead.source_id or "",
                    assigned_by_id=lead.assigned_by_id,
                )
            )
        snapshot = await self._catalog.get()
        ids = [lead.id for lead in leads]
        takes = await self._actions.first_takes(ids)
        if self._speed is not None:
            # Followed from creation: takes, assignments, moves in the portal too; it wins.
            takes.update({i: r.taken_at for i, r in (await self._speed.takes(ids)).items()})
        data = build_report(
            leads, period=period, zone=self._zone, stages=snapshot.stages, takes=takes
        )
        sources = {s.status_id: s.name for s in snapshot.sources}
        names = {
            row.portal_user_id: await self._user_name(row.portal_user_id) for row in data.reps
        }
        # Drawing takes a good part of a second of CPU: off the loop that answers everyone.
        async with self._drawing:
            png = await asyncio.to_thread(render_png, tr, data, sources=sources, names=names)
        text = caption(tr, data, sources=sources, names=names, team=team)
        log.info("report of %d leads for telegram user %d", data.total, identity.telegram_user_id)
        return Report(png=png, caption=text, data=data)
