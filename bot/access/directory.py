"""The portal's active users, cached and refreshed on a timer."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from bot.phones import normalize_phone
from bot.portal import Lane, PortalClient, PortalError, PortalUser

log = logging.getLogger(__name__)


class PortalDirectory:
    """Who works in the portal, read with `user.get` at most once per `ttl` seconds.

    When the portal cannot be reached the last known list stays in use, so a portal outage
    does not lock everybody out; a user deactivated in the portal disappears at the next
    successful refresh.
    """

    def __init__(
        self,
        portal: PortalClient,
        *,
        default_region: str,
        ttl: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._portal = portal
        self._region = default_region
        self._ttl = ttl
        self._clock = clock
        self._users: dict[int, PortalUser] | None = None
        self._loaded_at = 0.0

    async def refresh(self) -> None:
        """Read every active portal user now."""
        users = await self._portal.get_users({"ACTIVE": True}, lane=Lane.BACKGROUND)
        self._users = {u.id: u for u in users if u.id is not None and u.active is not False}
        self._loaded_at = self._clock()
        log.info("portal directory refreshed: %d active users", len(self._users))

    async def _current(self) -> dict[int, PortalUser]:
        stale = self._users is None or self._clock() - self._loaded_at >= self._ttl
        if stale:
            try:
                await self.refresh()
            except PortalError as exc:
                if self._users is None:
                    raise
                log.warning("portal directory refresh failed (%s); using the last list", exc.code)
        assert self._users is not None
        return self._users

    async def active_user(self, portal_user_id: int) -> PortalUser | None:
        """The active portal user with this id, or None (unknown or deactivated)."""
        return (await self._current()).get(portal_user_id)

    async def users_with_phone(self, e164: str) -> list[PortalUser]:
        """Active users one of whose phones is `e164` once normalised."""
        matches = []
        for user in (await self._current()).values():
            phones = (user.personal_mobile, user.work_phone, user.personal_phone)
            if any(p and normalize_phone(p, self._region) == e164 for p in phones):
                matches.append(user)
        return matches

    async def search(self, query: str, limit: int = 20) -> list[PortalUser]:
        """Active users whose name contains `query` (case-insensitive), or all when empty."""
        needle = query.strip().casefold()
        users = sorted((await self._current()).values(), key=lambda u: u.full_name.casefold())
        found = [u for u in users if not needle or needle in u.full_name.casefold()]
        return found[:limit]
