"""Who the processor writes to: subscribers' identities and portal users' names, in bulk.

The processor sees only the `Audience` protocol; `DirectoryAudience` answers it from the
bindings table (read once per change of the table) and the cached portal directory, instead
of one `identify` query per subscriber per batch.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Iterable, Mapping
from typing import Protocol

from bot.access.directory import PortalDirectory
from bot.access.roles import Identity, Role
from bot.portal import PortalError
from bot.storage.bindings import BindingRepository
from bot.storage.models import Binding
from bot.storage.revisions import TableRevisions

YIELD_EVERY = 500


class Audience(Protocol):
    """Identities of subscribers and names of portal users, many at a time."""

    @property
    def generation(self) -> int:
        """Changes when what it answers may have changed in the portal (users deactivated,
        renamed, added); changes of the bindings table are told by its revision."""
        ...

    async def identities(self, telegram_user_ids: Collection[int]) -> Mapping[int, Identity]:
        """Bound, active identities by Telegram id (unbound or deactivated ones are absent)."""
        ...

    async def names(self, portal_user_ids: Collection[int]) -> Mapping[int, str]:
        """Full names of active portal users by id (unknown ones are absent)."""
        ...


class DirectoryAudience:
    """`Audience` from the bindings table and the portal directory.

    The same rule as `AccessService.resolve`: a binding counts while its portal user is
    active, and the configured admin ids are admins. The sender checks again at send time.
    """

    def __init__(
        self,
        *,
        bindings: BindingRepository,
        directory: PortalDirectory,
        revisions: TableRevisions,
        admin_ids: Iterable[int],
    ) -> None:
        self._bindings = bindings
        self._directory = directory
        self._revisions = revisions
        self._admin_ids = frozenset(admin_ids)
        self._cached: dict[int, Binding] = {}
        self._revision: int | None = None

    @property
    def generation(self) -> int:
        """The portal directory's: it goes up only when a re-read found somebody changed."""
        return self._directory.generation

    async def _current_bindings(self) -> dict[int, Binding]:
        revision = (await self._revisions.current()).get("bindings")
        if revision is None or revision != self._revision:
            bindings = await self._bindings.list_bindings()
            self._cached = {b.telegram_user_id: b for b in bindings}
            self._revision = revision
        return self._cached

    async def identities(self, telegram_user_ids: Collection[int]) -> dict[int, Identity]:
        """Bound, active identities by Telegram id."""
        bindings = await self._current_bindings()
        found: dict[int, Identity] = {}
        for number, telegram_user_id in enumerate(telegram_user_ids):
            if number % YIELD_EVERY == YIELD_EVERY - 1:
                await asyncio.sleep(0)  # 10,000 subscribers must not hold the event loop

            binding = bindings.get(telegram_user_id)
            if binding is None or not binding.active:
                continue
            try:
                user = await self._directory.active_user(binding.portal_user_id)
            except PortalError:
                continue
            if user is None:
                continue
            role = Role.ADMIN if telegram_user_id in self._admin_ids else binding.role
            found[telegram_user_id] = Identity(
                telegram_user_id=telegram_user_id,
                portal_user_id=binding.portal_user_id,
                role=role,
                name=user.full_name or binding.display_name or "",
            )
        return found

    async def names(self, portal_user_ids: Collection[int]) -> dict[int, str]:
        """Full names of active portal users by id."""
        names: dict[int, str] = {}
        for user_id in portal_user_ids:
            try:
                user = await self._directory.active_user(user_id)
            except PortalError:
                continue
            if user is not None and user.full_name:
                names[user_id] = user.full_name
        return names
