"""The portal's active users, read in batches, cached and refreshed on a timer."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from bot.phones import normalize_phone
from bot.portal import Lane, PortalClient, PortalError, PortalUser
from bot.portal.batch import MAX_BATCH_COMMANDS
from bot.portal.methods import GetUsers
from bot.portal.models import joined_name

log = logging.getLogger(__name__)

USERS_PER_PAGE = 50  # user.get answers pages of 50
USERS_PER_REQUEST = USERS_PER_PAGE * MAX_BATCH_COMMANDS
_YIELD_EVERY = 500  # users indexed between two yields to the event loop
MISS_READ_INTERVAL = 10.0  # seconds between two reads of new users caused by a lookup miss
READ_PAGES = 25
"""Pages per request of the reads nobody waits for (the rest after `start()`, the timed
re-read): 1,250 users. 2,500 users parsed at once are megabytes of short-lived objects, and a
process keeps much of its biggest moment (`bench.directory --read-pages N`: a re-read of 10,003
users peaked 10.2 MB above the list held at 50 pages, 8.2 at 25, 5.6 at 10). It costs 9
requests every 5 minutes instead of 5 (1.5% of the portal's budget); while the processor keeps
the portal busy a re-read gets one slot in five, about 22 s (10 pages: 21 requests, about 52 s,
and a newcomer's first sign-in may wait for the re-read)."""
LATE_AFTER_TTLS = 2.0
"""A lookup re-reads the users itself (and waits for it) only when the list is this many ttls
old: the timed re-read is late or failing. Before that it answers from the list it holds."""


@dataclass(frozen=True, slots=True)
class DirectoryUser:
    """An active portal user as the directory holds them: the `PortalUser` fields the bot
    reads, in a slotted record.

    The directory keeps every active user for the whole run. A validated `PortalUser` keeps
    pydantic's bookkeeping besides its values (an attribute dict and the set of fields given),
    about 1,370 bytes a user where this record takes 150: a complete directory of 10,003 users
    (`bench.directory`, the strings and indexes included) holds 5.1 MB instead of 17.3.
    """

    id: int
    name: str | None = None
    last_name: str | None = None
    email: str | None = None
    personal_mobile: str | None = None
    personal_phone: str | None = None
    work_phone: str | None = None
    work_position: str | None = None
    time_zone: str | None = None
    """The user's own time zone (an IANA name), empty when they keep the portal's."""
    is_admin: bool | None = None

    @classmethod
    def of(cls, user: PortalUser, user_id: int) -> DirectoryUser:
        """The record of a user read from the portal (`user_id`: its id, known to be set)."""
        return cls(
            id=user_id,
            name=user.name,
            last_name=user.last_name,
            email=user.email,
            personal_mobile=user.personal_mobile,
            personal_phone=user.personal_phone,
            work_phone=user.work_phone,
            work_position=user.work_position,
            time_zone=user.time_zone,
            is_admin=user.is_admin,
        )

    @property
    def full_name(self) -> str:
        """First and last name joined (empty when neither is set)."""
        return joined_name(self.name, self.last_name)


def page_commands(after: int, pages: int = MAX_BATCH_COMMANDS) -> dict[str, GetUsers]:
    """One `batch` of `user.get` pages: active users with ID above `after`, in ID order.

    Keyset (`>ID`) between requests, so a user added or deactivated meanwhile never shifts the
    next request's window; `start` offsets within one request, which the portal runs at once.
    """
    return {
        f"u{page}": GetUsers(filter={"ACTIVE": True, ">ID": after}, start=page * USERS_PER_PAGE)
        for page in range(pages)
    }


class PortalDirectory:
    """Who works in the portal: every active user, with their phones normalised once.

    `start()` reads the first 2,500 users (one request) so start-up need not wait for a big
    portal; `complete()` reads the rest (the application runs it in the background; a lookup
    that misses meanwhile waits for it). After that `refresh()` re-reads everyone every `ttl`
    seconds, which is how deactivations and profile edits arrive; it goes in the portal's
    routine lane, and lookups meanwhile answer from the list held (a re-read of 10,000 users
    is several requests, and a lookup waiting for them held a batch of notifications back for
    as long). Only a list `LATE_AFTER_TTLS` ttls old is re-read by the lookup that finds it so.
    A lookup that misses (a phone or an id nobody has) re-reads only the users added since the
    last read, at most once per `miss_interval` seconds, so a newcomer is found at once and a
    stranger's wrong phones cannot make the bot hammer the portal. When the portal cannot be
    reached the last known list stays in use, so a portal outage does not lock everybody out.

    `generation` counts the lists that differed from the one before: a re-read that finds
    everyone as they were keeps the list and its indexes as they are, so what is built from
    the directory (the notifications' index of subscribers) is rebuilt only after a change.
    """

    def __init__(
        self,
        portal: PortalClient,
        *,
        default_region: str,
        ttl: float = 300.0,
        miss_interval: float = MISS_READ_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._portal = portal
        self._region = default_region
        self._ttl = ttl
        self._miss_interval = miss_interval
        self._clock = clock
        self._lock = asyncio.Lock()
        self._users: dict[int, DirectoryUser] | None = None
        self._by_phone: dict[str, tuple[int, ...]] = {}
        self._by_name: list[DirectoryUser] = []
        self._normalised: dict[str, str | None] = {}
        self._complete = False
        self._loaded_at = 0.0
        self._last_miss_read = -math.inf
        self.generation = 0
        """Goes up whenever the list of active users or anything about one of them changed."""

    # --- reading ----------------------------------------------------------------------------

    async def _read_after(
        self,
        after: int,
        *,
        lane: Lane,
        max_requests: int | None = None,
        pages: int = MAX_BATCH_COMMANDS,
        first_pages: int | None = None,
    ) -> tuple[list[DirectoryUser], bool]:
        """Active users above ID `after`; and True when the listing reached its end.

        `pages` per request; `first_pages` keeps the first request small when few users are
        expected.
        """
        found: list[DirectoryUser] = []
        cursor = after
        requests = 0
        while max_requests is None or requests < max_requests:
            size = first_pages if requests == 0 and first_pages is not None else pages
            commands = page_commands(cursor, size)
            result = await self._portal.batch(commands, lane=lane)
            requests += 1
            for key, method in commands.items():
                if key in result.errors:
                    raise result.errors[key]
                page = result.get(key, method) if key in result.results else []
                for user in page:
                    if user.id is None:
                        continue
                    cursor = max(cursor, user.id)
                    if user.active is not False:
                        found.append(self._known_if_same(DirectoryUser.of(user, user.id)))
                if len(page) < USERS_PER_PAGE:
                    return found, True
                # 2,500 users read and compared at once held the loop for tens of milliseconds
                # (the portal's acknowledgements waiting); a page at a time, they go between.
                await asyncio.sleep(0)
        return found, False

    def _known_if_same(self, user: DirectoryUser) -> DirectoryUser:
        """The user as already held when nothing changed: a re-read of 10,000 users then
        holds a second copy only of those that did, not of everyone until it ends."""
        known = self._users.get(user.id) if self._users is not None else None
        return known if known is not None and known == user else user

    def _normalise(self, raw: str) -> str | None:
        # Memoised: a full refresh re-reads the same strings, and phonenumbers is slow.
        if raw not in self._normalised:
            self._normalised[raw] = normalize_phone(raw, self._region)
        return self._normalised[raw]

    async def _install(self, users: Iterable[DirectoryUser], *, replace: bool) -> None:
        """Swap in a new list (or add to the current one) with its phone and name indexes."""
        merged = {} if replace or self._users is None else dict(self._users)
        for user in users:
            merged[user.id] = user
        if self._same_as_held(merged):
            return  # nothing to rebuild: a user read unchanged is the object already held
        by_phone: dict[str, list[int]] = {}
        for count, user in enumerate(merged.values(), start=1):
            for raw in {user.personal_mobile, user.work_phone, user.personal_phone}:
                e164 = self._normalise(raw) if raw else None
                if e164 is not None:
                    by_phone.setdefault(e164, []).append(user.id)
            if count % _YIELD_EVERY == 0:
                await asyncio.sleep(0)  # a first index of 10,000 users takes a while
        # Built aside and swapped at once, so a lookup never sees half an index.
        self._users = merged
        self._by_phone = {phone: tuple(ids) for phone, ids in by_phone.items()}
        self._by_name = sorted(merged.values(), key=lambda u: u.full_name.casefold())
        self.generation += 1

    def _same_as_held(self, users: dict[int, DirectoryUser]) -> bool:
        held = self._users
        if held is None or len(held) != len(users):
            return False
        return all(held.get(user_id) is user for user_id, user in users.items())

    @property
    def _max_id(self) -> int:
        return max(self._users or (), default=0)

    async def start(self) -> None:
        """Read the first 2,500 active users: one request, and proof the portal answers.

        It goes with the users' requests (interactive lane): a bot that starts while other
        replicas keep the budget spent answers nobody until it has its users.
        """
        async with self._lock:
            users, complete = await self._read_after(0, lane=Lane.INTERACTIVE, max_requests=1)
            await self._install(users, replace=True)
            self._complete = complete
            self._loaded_at = self._clock()
        log.info("portal directory started: %d active users", len(self._users or ()))

    async def complete(self) -> None:
        """Read the users `start()` left for later; nothing when the list is complete."""
        async with self._lock:
            if self._complete:
                return
            users, _ = await self._read_after(self._max_id, lane=Lane.BACKGROUND, pages=READ_PAGES)
            await self._install(users, replace=False)
            self._complete = True
        log.info("portal directory complete: %d active users", len(self._users or ()))

    async def refresh(self, lane: Lane = Lane.ROUTINE) -> None:
        """Read every active portal user now (the timed re-read: nobody waits for it)."""
        async with self._lock:
            await self._refresh_locked(lane)

    async def _refresh_locked(self, lane: Lane) -> None:
        users, _ = await self._read_after(0, lane=lane, pages=READ_PAGES)
        await self._install(users, replace=True)
        self._complete = True
        self._loaded_at = self._clock()
        log.info("portal directory refreshed: %d active users", len(self._users or ()))

    async def _current(self) -> dict[int, DirectoryUser]:
        late = self._ttl * LATE_AFTER_TTLS
        if self._users is not None and self._clock() - self._loaded_at < late:
            return self._users
        async with self._lock:
            # Another caller may have refreshed while this one waited for the lock.
            stale = self._users is None or self._clock() - self._loaded_at >= late
            if stale:
                try:
                    await self._refresh_locked(Lane.BACKGROUND)  # a lookup waits for it
                except PortalError as exc:
                    if self._users is None:
                        raise
                    log.warning("portal directory refresh failed (%s); last list kept", exc.code)
                    # Try again after another ttl rather than on every lookup.
                    self._loaded_at = self._clock()
        assert self._users is not None
        return self._users

    async def _read_on_miss(self, portal_user_id: int | None = None) -> bool:
        """Look for users added since the last read; True when the lists may have changed."""
        if not self._complete:
            try:
                await self.complete()
            except PortalError as exc:
                log.warning("portal directory read failed: %s", exc.code)
            return True
        if portal_user_id is not None and portal_user_id <= self._max_id:
            return False  # ids only grow: a newcomer cannot have an id below one already known
        now = self._clock()
        if now - self._last_miss_read < self._miss_interval:
            return False
        self._last_miss_read = now
        async with self._lock:
            try:
                # Usually nobody or one newcomer: one page, then full batches if it is full.
                users, _ = await self._read_after(
                    self._max_id, lane=Lane.INTERACTIVE, first_pages=1
                )
            except PortalError as exc:
                log.warning("portal directory read of new users failed: %s", exc.code)
                return False
            if users:
                await self._install(users, replace=False)
                log.info("portal directory: %d users added since the last read", len(users))
        return bool(users)

    # --- lookups ----------------------------------------------------------------------------

    async def active_user(self, portal_user_id: int) -> DirectoryUser | None:
        """The active portal user with this id, or None (unknown or deactivated)."""
        user = (await self._current()).get(portal_user_id)
        if user is None and await self._read_on_miss(portal_user_id):
            user = (self._users or {}).get(portal_user_id)
        return user

    async def users_with_phone(self, e164: str) -> list[DirectoryUser]:
        """Active users one of whose phones is `e164` once normalised."""
        users = await self._current()
        ids = self._by_phone.get(e164, ())
        if not ids and await self._read_on_miss():
            users = self._users or {}
            ids = self._by_phone.get(e164, ())
        return [users[i] for i in ids if i in users]

    async def search(self, query: str, limit: int = 20) -> list[DirectoryUser]:
        """Active users whose name contains `query` (case-insensitive), or all when empty."""
        await self._current()
        needle = query.strip().casefold()
        found = (u for u in self._by_name if not needle or needle in u.full_name.casefold())
        return [user for _, user in zip(range(limit), found, strict=False)]
