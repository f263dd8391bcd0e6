"""To-dos made or moved in the portal itself get reminders too.

On the catch-up poller's rhythm (every `interval` seconds, sleeping between passes), one
routine-lane `batch` lists the bound users' open to-dos on leads due from an hour ago to a
day ahead (up to `PAGES` list commands of 50, so at most 200 to-dos a pass; one request per
pass whatever the number of users), and merges them into the reminders: new ones are
scheduled, a moved deadline reschedules.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from bot.portal import Lane, PortalClient, PortalError
from bot.portal.methods import Activity, ListActivities, OwnerType
from bot.portal.methods.activities import TODO_PROVIDER
from bot.portal.models import Page
from bot.storage import BindingRepository
from bot.storage.reminders import PortalTodo, ReminderRepository
from bot.storage.timestamps import Clock

log = logging.getLogger(__name__)

PAGES = 4
NAMED_RESPONSIBLES_LIMIT = 200
"""Up to this many bound people the request names them (`@RESPONSIBLE_ID`); a bigger team is
most of the portal, and naming thousands in each of the pages made requests of a megabyte
whose encoding held the bot for a third of a second: then the to-dos of every responsible
are asked for and the unbound ones' left out here."""
AHEAD = timedelta(days=1)
BEHIND = timedelta(hours=1)
"""A to-do whose deadline passed this recently (while the bot was down) is still reminded."""


class FollowUpSync:
    """Merges the portal's open to-dos of bound users into the reminders."""

    def __init__(
        self,
        *,
        portal: PortalClient,
        bindings: BindingRepository,
        reminders: ReminderRepository,
        clock: Clock,
        interval: float,
        on_changed: Callable[[], None],
    ) -> None:
        self._portal = portal
        self._bindings = bindings
        self._reminders = reminders
        self._clock = clock
        self._interval = interval
        self._on_changed = on_changed
        self.requests = 0
        self.checks = 0
        """Requests asking which due to-dos are still open (counted in `requests` too)."""
        self.truncated = 0

    async def sync_once(self) -> int:
        """One pass (one portal request when anybody is bound); returns reminders changed."""
        tellers: dict[int, int] = {}
        for binding in await self._bindings.list_bindings():
            tellers.setdefault(binding.portal_user_id, binding.telegram_user_id)
        if not tellers:
            return 0
        now = self._clock().replace(microsecond=0)
        filter_: dict[str, Any] = {
            "OWNER_TYPE_ID": int(OwnerType.LEAD),
            "PROVIDER_ID": TODO_PROVIDER,
            "COMPLETED": "N",
            ">=DEADLINE": (now - BEHIND).isoformat(),
            "<=DEADLINE": (now + AHEAD).isoformat(),
        }
        if len(tellers) <= NAMED_RESPONSIBLES_LIMIT:
            filter_["@RESPONSIBLE_ID"] = sorted(tellers)
        pages = {
            f"p{n}": ListActivities(
                filter=filter_,
                select=["ID", "OWNER_ID", "OWNER_TYPE_ID", "DEADLINE", "RESPONSIBLE_ID"],
                order={"ID": "ASC"},
                start=n * 50,
            )
            for n in range(PAGES)
        }
        # Nobody waits for a timed pass: it takes the slots the processor leaves. In the
        # background lane it took the processor's next slot every 30 s, and the events of
        # that read waited a second instead of half of one.
        result = await self._portal.batch(pages, lane=Lane.ROUTINE)
        self.requests += 1
        todos: list[PortalTodo] = []
        last: Page[Activity] | None = None
        for key, method in pages.items():
            page = result.get(key, method)
            last = page
            for item in page.items:
                teller = tellers.get(item.responsible_id or 0)
                if item.id is None or item.deadline is None or teller is None:
                    continue
                todos.append(
                    PortalTodo(
                        activity_id=item.id,
                        lead_id=item.owner_id or 0,
                        telegram_user_id=teller,
                        due_at=item.deadline,
                    )
                )
            if page.next is None:
                break
        if last is not None and last.next is not None:
            self.truncated += 1
            log.warning(
                "follow-up sync: more than %d open to-dos in a day; the rest wait", 50 * PAGES
            )
        changed = await self._reminders.merge_from_portal(todos)
        if changed:
            log.info("follow-up sync: %d reminders new or moved from the portal", changed)
            self._on_changed()
        return changed

    async def open_among(self, activity_ids: Sequence[int]) -> set[int] | None:
        """Which of these to-dos are still open in the portal (one `batch` for up to 2,500).

        A to-do completed or deleted in the portal is not among them. None when the portal
        could not say: a reminder too many is better than one missed.
        """
        ids = sorted(set(activity_ids))
        if not ids:
            return set()
        pages = {
            f"o{n}": ListActivities(
                filter={"@ID": ids[start : start + 50], "COMPLETED": "N"},
                select=["ID"],
                order={"ID": "ASC"},
            )
            for n, start in enumerate(range(0, len(ids), 50))
        }
        try:
            result = await self._portal.batch(pages, lane=Lane.BACKGROUND)
            self.requests += 1
            self.checks += 1
            return {
                item.id
                for key, method in pages.items()
                for item in result.get(key, method).items
                if item.id is not None
            }
        except PortalError as exc:
            log.warning(
                "follow-up check before reminding failed: %s", exc.code or type(exc).__name__
            )
            return None

    async def run(self) -> None:
        """Sync every `interval` seconds until cancelled."""
        while True:
            try:
                await self.sync_once()
            except PortalError as exc:
                log.warning("follow-up sync failed: %s", exc.code or type(exc).__name__)
            await asyncio.sleep(self._interval)
