"""Each portal write a Telegram update makes carries its own key, so a replay does not repeat it.

An update is handled at least once: when its process dies in the middle of a handler, the
update is handled again. A write the handler made before dying must not be made twice. Its
key is the update's id and the action (`note:<lead id>`, `contact:<lead id>`, ...); a record
under that key is written durably before the write and marked done after it. On a replay,
a write recorded done is not sent again, and one recorded started (the process died between
sending it and recording its outcome) is looked up in the portal first: a comment by the
invisible marker its text carries, a lead or contact by its `ORIGIN_ID`.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import Awaitable, Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from enum import StrEnum

from bot.storage.writes import WriteRecord, WriteRecordRepository, WriteState

log = logging.getLogger(__name__)

_UPDATE_ID: ContextVar[int | None] = ContextVar("telegram_update_id", default=None)

MARK_CHARACTERS = "\u200b\u200c\u200d\u2060"
"""The invisible characters a mark is made of (zero-width space, non-joiner, joiner, word
joiner): its four digits."""
_MARKER_BYTES = 8


@contextlib.contextmanager
def handling_update(update_id: int) -> Iterator[None]:
    """Key the writes made inside the block (and the tasks it starts) by this update."""
    token = _UPDATE_ID.set(update_id)
    try:
        yield
    finally:
        _UPDATE_ID.reset(token)


def current_update_id() -> int | None:
    """The id of the Telegram update being handled here, if any."""
    return _UPDATE_ID.get()


def marker(key: str) -> str:
    """An invisible mark of `key` (32 zero-width characters) for a text the portal keeps."""
    digest = hashlib.blake2b(key.encode(), digest_size=_MARKER_BYTES).digest()
    value = int.from_bytes(digest, "big")
    digits = [MARK_CHARACTERS[(value >> shift) & 3] for shift in range(0, _MARKER_BYTES * 8, 2)]
    return "".join(digits)


class StepState(StrEnum):
    """What the journal knows of a write before it is made."""

    NEW = "new"
    """Not started under this key: make it."""
    UNSURE = "unsure"
    """Started, outcome unknown: look it up before making it again."""
    DONE = "done"
    """Made: do not make it again."""


@dataclass(frozen=True, slots=True)
class WriteStep:
    """One keyed write: its key, what is known of it, and the mark its text may carry."""

    key: str
    state: StepState
    result: int | None = None
    record: WriteRecord | None = None

    @property
    def marker(self) -> str:
        """The invisible mark a comment made under this key carries."""
        return marker(self.key)


class WriteJournal:
    """Keyed writes: `once` for a write that returns an id, `step`/`started`/`finished` for
    writes sent inside a larger batch. Outside a Telegram update, or without records, nothing
    is keyed."""

    def __init__(self, records: WriteRecordRepository | None) -> None:
        self._records = records

    async def step(self, action: str) -> WriteStep | None:
        """The write `action` of the update being handled; None when nothing is keyed."""
        update_id = current_update_id()
        if update_id is None or self._records is None:
            return None
        key = f"{update_id}:{action}"
        record = await self._records.get(key)
        if record is None:
            return WriteStep(key, StepState.NEW)
        if record.state is WriteState.DONE:
            log.info("write %s of a replayed update was made: not made again", key)
            return WriteStep(key, StepState.DONE, record.result, record)
        log.info("write %s of a replayed update has no outcome: looking it up", key)
        return WriteStep(key, StepState.UNSURE, record=record)

    async def begun(self, action: str) -> bool:
        """Whether the update being handled started the write `action` before (a replay)."""
        update_id = current_update_id()
        if update_id is None or self._records is None:
            return False
        return await self._records.get(f"{update_id}:{action}") is not None

    async def started(self, step: WriteStep | None) -> WriteStep | None:
        """Record, durably, that the write is about to be sent."""
        if step is None or self._records is None:
            return None
        record = await self._records.start(step.key)
        return WriteStep(step.key, step.state, step.result, record)

    async def finished(self, step: WriteStep | None, result: int | None = None) -> None:
        """Record that the portal took the write (and the id it gave)."""
        if step is None or self._records is None:
            return
        started = step.record or await self._records.start(step.key)
        await self._records.finish(step.key, started, result)

    async def once(
        self,
        action: str,
        *,
        write: Callable[[str], Awaitable[int]],
        find: Callable[[str], Awaitable[int | None]],
    ) -> int:
        """Make the write once per update: `write(marker)` sends it and returns the portal's
        id; `find(marker)` looks an earlier one up (None: not made). Returns the id."""
        step = await self.step(action)
        if step is None:
            return await write("")
        if step.state is StepState.DONE and step.result is not None:
            return step.result
        if step.state is not StepState.NEW:
            found = await find(step.marker)
            if found is not None:
                await self.finished(step, found)
                return found
        step = await self.started(step)
        result = await write(step.marker if step else "")
        await self.finished(step, result)
        return result
