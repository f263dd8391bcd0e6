"""aiogram-dialog intent and stack ids are unique, even for dialogs started in one second."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from aiogram.fsm.state import State, StatesGroup
from aiogram_dialog.api.entities import stack as stack_module
from aiogram_dialog.api.entities.stack import Stack

from dialogs.intent_ids import UniqueIntentIds, use_unique_intent_ids


class Flow(StatesGroup):
    step = State()


@pytest.fixture
def frozen_second() -> Iterator[None]:
    """Every dialog starts at the same moment, as two users' dialogs may."""
    saved = stack_module.new_int_id
    use_unique_intent_ids(UniqueIntentIds(clock=lambda: 1_764_750_000.25))
    try:
        yield
    finally:
        setattr(stack_module, "new_int_id", saved)  # noqa: B010


@pytest.mark.usefixtures("frozen_second")
def test_intents_and_stacks_started_in_one_moment_never_share_an_id() -> None:
    stacks = [Stack() for _ in range(300)]
    intents = [stack.push(Flow.step, None).id for stack in stacks for _ in range(3)]
    assert len({stack.id for stack in stacks}) == len(stacks)
    assert len(set(intents)) == len(intents)


def test_ids_keep_rising_and_a_restart_starts_above_the_last_run() -> None:
    now = [1_764_750_000.0]
    first_run = UniqueIntentIds(clock=lambda: now[0])
    ids = [first_run() for _ in range(500)]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    now[0] += 1.0  # the process restarts a second later
    assert UniqueIntentIds(clock=lambda: now[0])() > max(ids)


def test_installing_twice_keeps_one_generator() -> None:
    saved = stack_module.new_int_id
    try:
        use_unique_intent_ids()
        installed = stack_module.new_int_id
        use_unique_intent_ids()
        assert stack_module.new_int_id is installed
        assert isinstance(installed, UniqueIntentIds)
    finally:
        setattr(stack_module, "new_int_id", saved)  # noqa: B010
