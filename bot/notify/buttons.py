"""The callback data of a notification's buttons, as one aiogram `CallbackData` class."""

from __future__ import annotations

from enum import StrEnum

from aiogram.filters.callback_data import CallbackData


class LeadAction(StrEnum):
    """What a notification button does with its lead."""

    CARD = "card"
    TAKE = "take"


class LeadButton(CallbackData, prefix="nl"):
    """`nl:<action>:<lead id>`: the wire format of every notification sent so far.

    The lead id is only a claim of the button: a Take is accepted only when the outbox sent
    that very message about that lead to that chat (see `OutboxRepository.sent_notification`).
    """

    action: LeadAction
    lead_id: int


def is_take(callback_data: str | None) -> bool:
    """Whether a button's callback data is a Take."""
    if callback_data is None:
        return False
    try:
        return LeadButton.unpack(callback_data).action is LeadAction.TAKE
    except (TypeError, ValueError):
        return False
