"""One write at a time per user and lead: a second tap while the first is running is refused."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Hashable


class WriteInProgressError(Exception):
    """The same user's write on the same lead is still running; nothing was done."""


class InFlight:
    """Keys of the writes running now, in this process (the bot runs one process per portal).

    Taking a key has no await between the check and the claim, so two tasks of one event
    loop can never both hold it.
    """

    def __init__(self) -> None:
        self._held: set[Hashable] = set()

    @contextlib.asynccontextmanager
    async def hold(self, key: Hashable) -> AsyncIterator[None]:
        """Hold `key` for the block; WriteInProgressError if somebody already holds it."""
        if key in self._held:
            raise WriteInProgressError(str(key))
        self._held.add(key)
        try:
            yield
        finally:
            self._held.discard(key)
