"""The callback data of a notification's buttons, as one aiogram `CallbackData` class."""

from __future__ import annotations

from enum import StrEnum

from aiogram.filters.callback_data import CallbackData


class LeadAction(StrEnum):
    """What a notification button does with its lead."""

    CARD = "card"
    TAKE = "take"
    FOLLOW_UP = "fu"
    STAGE = "st"


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


class SubscriptionAction(StrEnum):
    """What a button of a subscription card does."""

    OPEN = "o"
    CARD = "c"
    REMOVE = "r"
    PAUSE = "p"
    SCOPE = "s"
    KIND = "k"
    STAGES_VIEW = "sv"
    STAGE_TOGGLE = "st"
    STAGES_ANY = "sa"
    SOURCES_VIEW = "ov"
    SOURCE_TOGGLE = "ot"
    SOURCES_ANY = "oa"
    USERS_VIEW = "uv"
    USER_TOGGLE = "ut"
    ESCALATION_VIEW = "ev"
    ESCALATION_SET = "es"
    ESCALATION_CHAT = "ec"


class SubscriptionButton(CallbackData, prefix="sub"):
    """`sub:<id>:<action>:<value>:<page>`: a button of a subscription card.

    `value` is the kind, stage, source or person the action is about; `page` the page of the
    people picker to show afterwards. The id is only a claim: every press re-checks that the
    caller may manage that subscription from that chat.
    """

    id: int
    action: SubscriptionAction
    value: str = ""
    page: int = 0

    @classmethod
    def parse(cls, data: str | None) -> SubscriptionButton | None:
        """The button behind `data`, also in the shorter format of cards sent earlier.

        Earlier cards wrote `sub:<id>[:<action>[:<argument>]]`, with `<person>:<page>` as the
        argument of a person's toggle and the page as the argument of the people picker.
        """
        if data is None or not data.startswith(cls.__prefix__ + cls.__separator__):
            return None
        try:
            return cls.unpack(data)
        except (TypeError, ValueError):
            pass
        parts = data.split(cls.__separator__, 3)[1:]
        if not parts[0].isdigit():
            return None
        try:
            action = SubscriptionAction(parts[1]) if len(parts) > 1 else SubscriptionAction.OPEN
        except ValueError:
            return None
        argument = parts[2] if len(parts) > 2 else ""
        value, page = argument, "0"
        if action is SubscriptionAction.USER_TOGGLE:
            value, _, page = argument.partition(cls.__separator__)
        elif action is SubscriptionAction.USERS_VIEW:
            value, page = "", argument
        return cls(
            id=int(parts[0]), action=action, value=value, page=int(page) if page.isdigit() else 0
        )


class MuteAction(StrEnum):
    """What a mute button on a notification does to its chat."""

    HOUR = "h"
    TODAY = "d"
    OFF = "off"


class MuteButton(CallbackData, prefix="mu"):
    """`mu:<action>`: mute the chat (or forum topic) the message is in, or end the mute.

    Only the chat's own user (a private chat) or a manager (a group) may press it.
    """

    action: MuteAction


class EscalationAction(StrEnum):
    """What a button of an escalation message does (Take and Open card are `LeadButton`s)."""

    ASSIGN = "as"


class EscalationButton(CallbackData, prefix="es"):
    """`es:<action>:<lead id>`: a button of a message about a lead nobody has taken.

    The lead id is only a claim: a press is accepted only on an escalation message the outbox
    sent to that chat about that lead, and only from a manager or an admin.
    """

    action: EscalationAction
    lead_id: int
