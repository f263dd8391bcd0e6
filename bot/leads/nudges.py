"""Stale-lead nudges: at the start of each person's working day, one message listing their
open leads that nobody touched for N days or that sit in the first stage for X hours.

N and X are set by an admin (stored in `kv`); the message has, per lead, a follow-up, a stage
change and the card. Each person gets at most one nudge per working day, in their own zone.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

from bot.access.roles import Action, Identity
from bot.access.service import AccessDenied
from bot.i18n import DEFAULT_LANGUAGE, Translations, Translator
from bot.leads.catalog import CatalogSnapshot, PortalCatalog
from bot.notify.buttons import LeadAction, LeadButton
from bot.portal import Lane, PortalClient, PortalError
from bot.portal.batch import MAX_BATCH_COMMANDS
from bot.portal.methods import ListLeads
from bot.portal.models import Lead
from bot.portal.reading import LEADS_PER_REQUEST
from bot.schedule.service import HoursService
from bot.storage.bindings import BindingRepository
from bot.storage.kv import KeyValueRepository
from bot.storage.models import Binding
from bot.storage.outbox import (
    Keyboard,
    MessageButton,
    NewOutboxMessage,
    Notification,
    OutboxRepository,
)
from bot.storage.timestamps import Clock, utc_now

log = logging.getLogger(__name__)

RULES_KEY = "nudges.rules"
LAST_KEY = "nudges.last:{telegram_user_id}"
CHECK_SECONDS = 60.0
PEOPLE_PER_REQUEST = MAX_BATCH_COMMANDS // 2
"""People whose stale leads one batch request reads (a list command per rule each)."""
IDLE, FIRST = "idle", "first"
TEAM_READ_CHAINS = 2
"""Keyset chains a team-wide read runs at once: it is routine work, and each chain holds up
to a request's 2,500 leads until they are counted."""
TEAM_GROUP = 1000
"""People whose leads one team-wide read gathers (a range of portal user ids): what it holds
until their nudges are queued is bounded by this, not by the size of the team."""
YIELD_EVERY = 250
"""Leads a team-wide read counts, or people a round looks at, before it lets the event loop run
(a page's leads come at once; a morning's people are read at once)."""
WRITE_PEOPLE = 100
"""People whose nudges, and then whose marks for today, one transaction writes (1,000 in one
held the write lock up to a quarter of a second)."""
RENDER_YIELD_EVERY = 5
"""Nudges rendered between two turns of the event loop (each names up to eight leads)."""
ROUTINE_AHEAD = 300
"""Once a round has queued this many nudges, it queues more only while fewer routine messages
than this wait to be sent: about ten seconds of Telegram's 30 a second. A big team's morning
(8,500 nudges) rendered and written at once took the processor's CPU and the write lock that
the portal's acknowledgements wait for, for messages that then waited minutes to go out and
grew stale meanwhile; now each is read and rendered shortly before it can be sent."""
ROOM_CHECK_SECONDS = 1.0
"""How often a held round looks whether the sender has made room."""
NO_WORKING_DAY_LOOK = timedelta(hours=6)
"""How long a person without a single working day waits until the next look."""
MAX_LISTED = 8
"""Leads named (each with its buttons) in one nudge; the rest are counted."""
TITLE_LENGTH = 50
DEFAULT_STALE_DAYS = 3
DEFAULT_FIRST_STAGE_HOURS = 24
STALE_DAY_CHOICES = (None, 1, 2, 3, 5, 7, 14)
FIRST_STAGE_HOUR_CHOICES = (None, 2, 4, 8, 24, 48)
_SELECT = ["ID", "TITLE", "STATUS_ID", "DATE_CREATE", "LAST_ACTIVITY_TIME", "ASSIGNED_BY_ID"]


@dataclass(frozen=True, slots=True)
class NudgeRules:
    """When a lead counts as stale; None switches that rule off."""

    stale_days: int | None = DEFAULT_STALE_DAYS
    first_stage_hours: int | None = DEFAULT_FIRST_STAGE_HOURS

    @property
    def off(self) -> bool:
        """Neither rule is on: nobody is nudged."""
        return self.stale_days is None and self.first_stage_hours is None

    def to_json(self) -> dict[str, int | None]:
        """The stored form."""
        return {"stale_days": self.stale_days, "first_stage_hours": self.first_stage_hours}

    @classmethod
    def from_json(cls, stored: object) -> NudgeRules:
        """Stored rules (defaults for anything missing or not a positive number)."""
        if not isinstance(stored, dict):
            return cls()

        def number(key: str, default: int | None) -> int | None:
            if key not in stored:
                return default
            value = stored[key]
            if value is None:
                return None
            return value if isinstance(value, int) and value > 0 else default

        return cls(
            stale_days=number("stale_days", DEFAULT_STALE_DAYS),
            first_stage_hours=number("first_stage_hours", DEFAULT_FIRST_STAGE_HOURS),
        )


def next_choice(choices: Sequence[int | None], current: int | None) -> int | None:
    """The value after `current` in a cycle of choices (the first when it is not one)."""
    if current not in choices:
        return choices[1]
    return choices[(choices.index(current) + 1) % len(choices)]


@dataclass(frozen=True, slots=True)
class StaleLead:
    """One lead to nudge about, and why."""

    lead_id: int
    title: str
    stage_id: str
    first_stage: bool
    since: datetime | None


def rule_filters(
    rules: NudgeRules, now: datetime, first_stage: str | None
) -> dict[str, dict[str, Any]]:
    """The portal filter of each rule that is on (`IDLE`, `FIRST`), for every open lead."""
    filters: dict[str, dict[str, Any]] = {}
    if rules.stale_days is not None:
        before = now - timedelta(days=rules.stale_days)
        filters[IDLE] = {"STATUS_SEMANTIC_ID": "P", "<LAST_ACTIVITY_TIME": before.isoformat()}
    if rules.first_stage_hours is not None and first_stage:
        before = now - timedelta(hours=rules.first_stage_hours)
        filters[FIRST] = {
            "STATUS_SEMANTIC_ID": "P",
            "STATUS_ID": first_stage,
            "<DATE_CREATE": before.isoformat(),
        }
    return filters


_ORDER = {IDLE: {"LAST_ACTIVITY_TIME": "ASC"}, FIRST: {"DATE_CREATE": "ASC"}}


def stale_queries(
    portal_user_id: int, rules: NudgeRules, now: datetime, first_stage: str | None
) -> dict[str, ListLeads]:
    """The list requests (one per rule that is on) for one person's stale leads."""
    return {
        f"{rule}{portal_user_id}": ListLeads(
            filter={"ASSIGNED_BY_ID": portal_user_id, **filter},
            select=_SELECT,
            order=_ORDER[rule],
            start=-1,
        )
        for rule, filter in rule_filters(rules, now, first_stage).items()
    }


def team_requests(totals: Sequence[int], groups: int = 1) -> int:
    """Requests a team-wide read of lists this long takes in `groups` ranges of people: a
    light first request per list and range, then `LEADS_PER_REQUEST` leads a request (see
    `bot.portal.reading`); the ranges together hold at most the whole list."""
    return sum(groups + math.ceil(total / LEADS_PER_REQUEST) for total in totals)


def person_requests(people: int) -> int:
    """Requests the per-person reads of this many people take."""
    return math.ceil(people / PEOPLE_PER_REQUEST)


def _short(text: str) -> str:
    return text if len(text) <= TITLE_LENGTH else text[: TITLE_LENGTH - 1] + "…"


def stale_lead(lead: Lead, *, first_stage: bool) -> StaleLead | None:
    """A listed lead as the nudge names it (None without an id)."""
    if lead.id is None:
        return None
    since = lead.date_create if first_stage else lead.last_activity_time
    title = _short(lead.title or f"#{lead.id}")
    return StaleLead(lead.id, title, lead.status_id or "", first_stage, since)


def merge_stale(idle: Sequence[Lead], first: Sequence[Lead]) -> list[StaleLead]:
    """Each lead once: those stuck in the first stage first, then the longest idle."""
    found: dict[int, StaleLead] = {}
    for lead, is_first in [*((lead, True) for lead in first), *((lead, False) for lead in idle)]:
        stale = stale_lead(lead, first_stage=is_first)
        if stale is not None and stale.lead_id not in found:
            found[stale.lead_id] = stale
    return list(found.values())


class StaleTally:
    """One person's stale leads as a team-wide read finds them, in ID order: how many, and
    the `MAX_LISTED` the nudge names (those stuck in the first stage, then the longest idle,
    oldest first, as the per-person reads order them), without holding the rest."""

    def __init__(self) -> None:
        self.count = 0
        self._named: list[tuple[tuple[int, float, int], StaleLead]] = []
        """A heap of the named leads by their order negated: the last of them on top."""

    def add(self, lead: StaleLead) -> None:
        """Count one more lead, and name it if it comes before one of the named."""
        self.count += 1
        since = lead.since.timestamp() if lead.since is not None else -math.inf
        order = (0 if lead.first_stage else 1, since, lead.lead_id)
        negated = (-order[0], -order[1], -order[2])
        if len(self._named) < MAX_LISTED:
            heapq.heappush(self._named, (negated, lead))
        elif negated > self._named[0][0]:
            heapq.heapreplace(self._named, (negated, lead))

    def named(self) -> list[StaleLead]:
        """The named leads in the nudge's order."""
        return [lead for _, lead in sorted(self._named, reverse=True)]


def _ago(tr: Translator, since: datetime | None, now: datetime) -> str:
    if since is None:
        return ""
    hours = max(0, int((now - since).total_seconds() // 3600))
    if hours < 48:
        return tr.get("nudge-hours", count=hours)
    return tr.get("nudge-days", count=hours // 24)


def render_nudge(
    tr: Translator,
    leads: list[StaleLead],
    stage_name: Callable[[str], str],
    now: datetime,
    total: int | None = None,
) -> tuple[str, Keyboard]:
    """The nudge: a header, one line per lead (at most MAX_LISTED) and their buttons; `total`
    counts the leads when `leads` names only the first of them."""
    shown = leads[:MAX_LISTED]
    total = max(total or 0, len(leads))
    lines = [tr.get_html("nudge-title", count=total), ""]
    rows: list[tuple[MessageButton, ...]] = []
    for lead in shown:
        key = "nudge-line-first-stage" if lead.first_stage else "nudge-line-idle"
        lines.append(
            tr.get_html(
                key,
                id=str(lead.lead_id),
                title=lead.title,
                stage=_short(stage_name(lead.stage_id)),
                ago=_ago(tr, lead.since, now),
            )
        )
        rows.append(
            (
                MessageButton(
                    f"📇 #{lead.lead_id}",
                    callback_data=LeadButton(action=LeadAction.CARD, lead_id=lead.lead_id).pack(),
                ),
                MessageButton(
                    tr.get("nudge-follow-up-button"),
                    callback_data=LeadButton(
                        action=LeadAction.FOLLOW_UP, lead_id=lead.lead_id
                    ).pack(),
                ),
                MessageButton(
                    tr.get("nudge-stage-button"),
                    callback_data=LeadButton(action=LeadAction.STAGE, lead_id=lead.lead_id).pack(),
                ),
            )
        )
    if total > len(shown):
        lines.append(tr.get_html("nudge-more", count=total - len(shown)))
    return "\n".join(lines), tuple(rows)


class NudgeService:
    """The admin's rules for nudges."""

    def __init__(self, kv: KeyValueRepository) -> None:
        self._kv = kv

    async def rules(self) -> NudgeRules:
        """The rules in force (defaults until an admin changes them)."""
        return NudgeRules.from_json(await self._kv.get(RULES_KEY))

    async def set_rules(self, identity: Identity | None, rules: NudgeRules) -> NudgeRules:
        """Replace the rules (admins only, checked here)."""
        if identity is None or not identity.may(Action.MANAGE_FIELDS):
            raise AccessDenied("only admins set the nudges")
        await self._kv.set(RULES_KEY, rules.to_json(), durable=True)
        log.info(
            "nudge rules: idle %s days, first stage %s hours",
            rules.stale_days,
            rules.first_stage_hours,
        )
        return rules

    async def next_stale_days(self, identity: Identity | None) -> NudgeRules:
        """The next choice of "no activity for N days" (off among them)."""
        rules = await self.rules()
        days = next_choice(STALE_DAY_CHOICES, rules.stale_days)
        return await self.set_rules(identity, replace(rules, stale_days=days))

    async def next_first_stage_hours(self, identity: Identity | None) -> NudgeRules:
        """The next choice of "still in the first stage after X hours" (off among them)."""
        rules = await self.rules()
        hours = next_choice(FIRST_STAGE_HOUR_CHOICES, rules.first_stage_hours)
        return await self.set_rules(identity, replace(rules, first_stage_hours=hours))


class NudgeWorker:
    """Once a minute: whoever's working day has begun and has not had today's nudge gets it."""

    def __init__(
        self,
        *,
        portal: PortalClient,
        catalog: PortalCatalog,
        bindings: BindingRepository,
        hours: HoursService,
        kv: KeyValueRepository,
        outbox: OutboxRepository,
        translations: Translations,
        on_queued: Callable[[], None],
        clock: Clock = utc_now,
        check_seconds: float = CHECK_SECONDS,
        room_check_seconds: float = ROOM_CHECK_SECONDS,
    ) -> None:
        self._portal = portal
        self._catalog = catalog
        self._bindings = bindings
        self._hours = hours
        self._kv = kv
        self._rules = NudgeService(kv)
        self._outbox = outbox
        self._translations = translations
        self._on_queued = on_queued
        self._clock = clock
        self._check_seconds = check_seconds
        self._room_check_seconds = room_check_seconds
        self._round_queued = 0
        """Nudges the current round has queued (it is held only past `ROUTINE_AHEAD`)."""
        self._next_look: dict[int, datetime] = {}
        """Per person, the next moment their nudge could be due (their next window, or after
        today's nudge the next day's): a round reads nothing else of them before then."""
        hours.on_change(self._next_look.clear)

    async def run(self) -> None:
        """Nudge until cancelled."""
        while True:
            try:
                await self.send_due()
            except PortalError as exc:
                log.warning("stale-lead nudges postponed: the portal answered %s", exc.code)
            except Exception:
                log.exception("stale-lead nudge round failed; trying again shortly")
            await asyncio.sleep(self._check_seconds)

    async def send_due(self) -> int:
        """Queue today's nudge for everyone whose working day has begun; the number queued."""
        rules = await self._rules.rules()
        if rules.off:
            return 0
        now = self._clock()
        waiting = [
            binding
            for binding in await self._bindings.list_bindings()
            # Nothing can change for the others before their next look.
            if self._next_look.get(binding.telegram_user_id, now) <= now
        ]
        if not waiting:
            return 0
        # A morning's thousands of people are read at once: their hours, then whether today's
        # nudge went already (one person at a time took four reads each).
        hours = await self._hours.hours_of_people(waiting)
        working: list[tuple[Binding, date, datetime]] = []
        for seen, binding in enumerate(waiting, 1):
            if seen % YIELD_EVERY == 0:
                await asyncio.sleep(0)
            person = binding.telegram_user_id
            theirs = hours[person]
            later = theirs.next_opening(now) or now + NO_WORKING_DAY_LOOK
            if not theirs.is_open(now):
                self._next_look[person] = later
                continue
            working.append((binding, theirs.today(now), later))
        sent_days = await self._kv.get_many([_last_key(binding) for binding, _, _ in working])
        due: list[tuple[Binding, date, datetime]] = []
        for binding, day, later in working:
            if sent_days.get(_last_key(binding)) == day.isoformat():
                self._next_look[binding.telegram_user_id] = later
                continue
            due.append((binding, day, later))
        if not due:
            return 0
        self._round_queued = 0
        catalog = await self._catalog.get(lane=Lane.BACKGROUND)
        first_stage = catalog.stages[0].status_id if catalog.stages else None
        team = await self._nudge_team(due, rules, now, first_stage, catalog)
        if team is not None:
            return team
        queued = 0
        # A request's worth of people at a time (two list commands each): the first nudges
        # go out after one request, not after a big team's hundreds, and only one request's
        # answers are held at once.
        for start in range(0, len(due), PEOPLE_PER_REQUEST):
            part = due[start : start + PEOPLE_PER_REQUEST]
            queries: dict[str, ListLeads] = {}
            for binding, _, _ in part:
                queries.update(stale_queries(binding.portal_user_id, rules, now, first_stage))
            result = await self._portal.batch(queries, lane=Lane.ROUTINE)
            read: list[Nudged] = []
            for binding, day, later in part:
                user = binding.portal_user_id
                idle = _page(result, f"{IDLE}{user}")
                first = _page(result, f"{FIRST}{user}")
                if idle is None and first is None and queries:
                    continue  # this person's reads failed: try again next round
                leads = merge_stale(idle or [], first or [])
                read.append(Nudged(binding, day, later, leads, len(leads)))
            queued += await self._done(read, catalog, now)
        return queued

    async def _nudge_team(
        self,
        due: Sequence[tuple[Binding, date, datetime]],
        rules: NudgeRules,
        now: datetime,
        first_stage: str | None,
        catalog: CatalogSnapshot,
    ) -> int | None:
        """Nudge everyone due from team-wide reads when they take fewer requests than reading
        person by person (a big team's morning: hundreds of requests become a few dozen): the
        number queued, or None to read person by person (also when counting failed).

        One request counts each rule's leads first (only for a team big enough that it can pay
        off). The leads of people who are not due, or not bound, are read too: that is why
        the counts decide. People are read `TEAM_GROUP` at a time, by ranges of portal ids.
        """
        filters = rule_filters(rules, now, first_stage)
        people = sorted(due, key=lambda entry: entry[0].portal_user_id)
        groups = [people[i : i + TEAM_GROUP] for i in range(0, len(people), TEAM_GROUP)]
        if person_requests(len(due)) <= team_requests([0] * len(filters), len(groups)) + 1:
            return None  # a small team: counting would cost what reading them does
        counts = await self._portal.batch(
            {
                rule: ListLeads(filter=filter, select=["ID"], start=0)
                for rule, filter in filters.items()
            },
            lane=Lane.ROUTINE,
        )
        if counts.errors:
            return None
        totals = [counts[rule].total or 0 for rule in filters]
        if team_requests(totals, len(groups)) >= person_requests(len(due)):
            return None
        log.info(
            "stale-lead nudges: %d people read team-wide in %d groups (%d leads counted)",
            len(due),
            len(groups),
            sum(totals),
        )
        queued = 0
        for group in groups:
            tallies = await self._read_group(filters, group)
            read = [
                Nudged(
                    binding,
                    day,
                    later,
                    tallies[binding.portal_user_id].named(),
                    tallies[binding.portal_user_id].count,
                )
                for binding, day, later in group
            ]
            queued += await self._done(read, catalog, now)
        return queued

    async def _read_group(
        self, filters: dict[str, dict[str, Any]], group: Sequence[tuple[Binding, date, datetime]]
    ) -> dict[int, StaleTally]:
        """The stale leads of a group of people: every lead of their range of portal ids that
        matches a rule, kept only for those in the group."""
        tallies = {binding.portal_user_id: StaleTally() for binding, _, _ in group}
        span = {
            ">=ASSIGNED_BY_ID": group[0][0].portal_user_id,
            "<=ASSIGNED_BY_ID": group[-1][0].portal_user_id,
        }
        first_ids: set[int] = set()
        seen = 0
        for rule in (FIRST, IDLE):
            if rule not in filters:
                continue
            leads = self._portal.iter_leads(
                {**filters[rule], **span}, _SELECT, lane=Lane.ROUTINE, chains=TEAM_READ_CHAINS
            )
            async for lead in leads:
                seen += 1
                if seen % YIELD_EVERY == 0:
                    await asyncio.sleep(0)  # let the acks in between
                tally = tallies.get(lead.assigned_by_id or 0)
                if tally is None or lead.id is None or lead.id in first_ids:
                    continue
                if rule == FIRST:
                    first_ids.add(lead.id)
                stale = stale_lead(lead, first_stage=rule == FIRST)
                if stale is not None:
                    tally.add(stale)
        return tallies

    async def _done(self, read: Sequence[Nudged], catalog: CatalogSnapshot, now: datetime) -> int:
        """Queue the nudges of those read who have stale leads, and mark today as done for all
        of them: two short transactions for every `WRITE_PEOPLE`, not two per person (short,
        since the portal's acknowledgements wait for the write lock). The number queued."""
        queued = 0
        for start in range(0, len(read), WRITE_PEOPLE):
            part = read[start : start + WRITE_PEOPLE]
            if await self._wait_for_room():
                # Held so long that their next look came (a sender stuck for hours): the next
                # round reads them afresh, rather than sending today what was read yesterday.
                moment = self._clock()
                part = [person for person in part if person.later > moment]
            messages = []
            for person in part:
                if person.leads:
                    messages.append(self._message(person, catalog, now))
                    if len(messages) % RENDER_YIELD_EVERY == 0:
                        await asyncio.sleep(0)  # 1,000 nudges took 250 ms: acks go between
            if messages:
                await self._outbox.queue_many(messages)
                self._on_queued()
            await self._kv.set_many(
                {_last_key(person.binding): person.day.isoformat() for person in part}
            )
            for person in part:
                self._next_look[person.binding.telegram_user_id] = person.later
            queued += len(messages)
            self._round_queued += len(messages)
        return queued

    async def _wait_for_room(self) -> bool:
        """Past `ROUTINE_AHEAD` nudges this round, hold it while as many routine messages
        still wait to be sent (a small team's round never asks); whether it was held."""
        if self._round_queued < ROUTINE_AHEAD:
            return False
        held = False
        # Polled, not awaited as an event: the sender making room may be another replica's.
        while await self._outbox.pending_routine() >= ROUTINE_AHEAD:
            held = True
            await asyncio.sleep(self._room_check_seconds)
        return held

    def _message(
        self, person: Nudged, catalog: CatalogSnapshot, now: datetime
    ) -> NewOutboxMessage:
        """Today's nudge for one person, as a routine message (once a day by its key)."""
        binding = person.binding
        tr = self._translations.for_language(binding.language or DEFAULT_LANGUAGE)
        text, buttons = render_nudge(tr, person.leads, catalog.stage_name, now, person.total)
        return NewOutboxMessage(
            idempotency_key=f"nudge:{binding.telegram_user_id}:{person.day.isoformat()}",
            chat_id=binding.telegram_user_id,
            thread_id=None,
            lead_id=None,
            notification=Notification(text=text, buttons=buttons, kind="nudge"),
            routine=True,
        )


@dataclass(frozen=True, slots=True)
class Nudged:
    """One person read for today's nudge: their stale leads to name, and how many in all."""

    binding: Binding
    day: date
    later: datetime
    """Their next look: nothing about them is read again before it."""
    leads: list[StaleLead]
    total: int


def _last_key(binding: Binding) -> str:
    return LAST_KEY.format(telegram_user_id=binding.telegram_user_id)


def _page(result: Any, key: str) -> list[Lead] | None:
    if key not in result.results and key not in result.errors:
        return []  # that rule is off
    if key in result.errors:
        return None
    return list(result[key].items)
