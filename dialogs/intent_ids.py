"""Unique aiogram-dialog intent and stack ids.

aiogram-dialog 2.6 makes an id from the current second plus one of 100 random values
(`aiogram_dialog.api.entities.stack.new_int_id`), and offers no setting for it. Two dialogs
started in the same second collide one time in a hundred, and a press meant for one dialog
then reaches another. Both intent and stack ids go through that one module-level function, so
replacing it is enough.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable

from aiogram_dialog.api.entities import stack as _stack

_RANDOM_SPAN = 1024  # low bits kept random, so two processes in one millisecond differ too


class UniqueIntentIds:
    """Strictly increasing ids: milliseconds since the epoch, times 1024, plus random bits.

    Within a process every id is above the previous one. A restart starts from the clock, above
    the previous run's ids unless that run made more than a million ids a second.
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._last = 0

    def __call__(self) -> int:
        """The next id."""
        candidate = int(self._clock() * 1000) * _RANDOM_SPAN + secrets.randbelow(_RANDOM_SPAN)
        self._last = max(self._last + 1, candidate)
        return self._last


def use_unique_intent_ids(ids: Callable[[], int] | None = None) -> None:
    """Make every new aiogram-dialog intent and stack id come from `ids` (unique by default)."""
    if ids is None:
        if isinstance(_stack.new_int_id, UniqueIntentIds):
            return
        ids = UniqueIntentIds()
    # setattr: the library calls the module's global by name on every new id.
    setattr(_stack, "new_int_id", ids)  # noqa: B010
