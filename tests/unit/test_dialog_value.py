"""`DialogValue`: a dialog's value in `dialog_data`, stored as plain JSON and read back typed."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from typing import Any, cast

from aiogram_dialog import DialogManager

from dialogs.capture import MATCHES, REJECTED, Rejection
from dialogs.card import CARD, MULTI_ID, KeptCard
from dialogs.widgets import DialogValue, as_texts


@dataclass
class Held:
    """What `DialogValue` uses of a dialog manager: its `dialog_data`."""

    dialog_data: dict[str, Any] = field(default_factory=dict)

    def through_storage(self) -> DialogManager:
        """The same data after a round trip through the FSM storage (JSON)."""
        self.dialog_data = json.loads(json.dumps(self.dialog_data))
        return cast(DialogManager, self)


def test_values_come_back_typed_after_a_round_trip_through_json() -> None:
    held = Held()
    manager = cast(DialogManager, held)
    day: DialogValue[date | None] = DialogValue(
        "day", date.fromisoformat, None, write=date.isoformat
    )
    day.set(manager, date(2026, 12, 5))
    card = KeptCard(text="<b>Lead</b>", assigned=7, phones=[(3, "+7 916 123-45-67")])
    CARD.set(manager, card)
    REJECTED.set(manager, Rejection("capture-error-required", {"count": 2}))
    MULTI_ID.set(manager, 3)
    manager = held.through_storage()
    assert day.get(manager) == date(2026, 12, 5)
    assert CARD.get(manager) == card
    assert REJECTED.get(manager) == Rejection("capture-error-required", {"count": 2})
    assert MULTI_ID.get(manager) == 3


def test_a_missing_or_malformed_value_reads_as_the_default() -> None:
    held = Held({"codes": "not a list", "kept_card": {"text": "x"}, "matches": 5})
    manager = cast(DialogManager, held)
    codes = DialogValue("codes", as_texts, ["TITLE"])
    assert codes.get(manager) == ["TITLE"]
    assert CARD.get(manager) is None  # a card of another shape: the card window reads it again
    assert not MATCHES.get(manager).leads
    assert DialogValue("absent", int, 0).get(manager) == 0
    assert not DialogValue("absent", int, 0).is_set(manager)


def test_take_reads_a_one_off_value_once() -> None:
    manager = cast(DialogManager, Held())
    problem = DialogValue("problem", str, "")
    problem.set(manager, "too_short")
    assert problem.take(manager) == "too_short"
    assert problem.take(manager) == ""
