"""Notification buttons: the Take callback data and the keyboard without Take."""

from __future__ import annotations

import pytest

from bot.notify.buttons import (
    LeadAction,
    LeadButton,
    SubscriptionAction,
    SubscriptionButton,
    is_take,
)
from bot.notify.sender import without_take
from bot.storage.outbox import MessageButton


def test_buttons_keep_the_wire_format_of_notifications_already_sent() -> None:
    assert LeadButton(action=LeadAction.TAKE, lead_id=7).pack() == "nl:take:7"
    assert LeadButton(action=LeadAction.CARD, lead_id=7).pack() == "nl:card:7"
    assert LeadButton.unpack("nl:take:42") == LeadButton(action=LeadAction.TAKE, lead_id=42)


@pytest.mark.parametrize(
    ("data", "take"),
    [
        ("nl:take:7", True),
        ("nl:card:7", False),
        ("nl:take:x", False),
        ("nl:take", False),
        ("nl:grab:7", False),
        ("sub:1:o", False),
        (None, False),
    ],
)
def test_only_a_well_formed_take_counts_as_take(data: str | None, take: bool) -> None:
    assert is_take(data) is take


def test_the_keyboard_loses_only_its_take_button() -> None:
    card = MessageButton("📇 Open card", callback_data="nl:card:7")
    take = MessageButton("🙋 Take", callback_data="nl:take:7")
    portal = MessageButton("🌐 Open in portal", url="https://portal.test/crm/lead/details/7/")

    assert without_take(((card, take), (portal,))) == ((card,), (portal,))
    assert without_take(((take,), (portal,))) == ((portal,),)
    assert without_take(()) == ()


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("sub:7:k:new:0", SubscriptionButton(id=7, action=SubscriptionAction.KIND, value="new")),
        (
            "sub:7:ut:5:2",
            SubscriptionButton(id=7, action=SubscriptionAction.USER_TOGGLE, value="5", page=2),
        ),
        # Cards sent before the buttons were typed.
        ("sub:7", SubscriptionButton(id=7, action=SubscriptionAction.OPEN)),
        ("sub:7:s", SubscriptionButton(id=7, action=SubscriptionAction.SCOPE)),
        ("sub:7:uv:3", SubscriptionButton(id=7, action=SubscriptionAction.USERS_VIEW, page=3)),
        (
            "sub:7:st:C1:NEW",
            SubscriptionButton(id=7, action=SubscriptionAction.STAGE_TOGGLE, value="C1:NEW"),
        ),
    ],
)
def test_subscription_buttons_read_both_wire_formats(
    data: str, expected: SubscriptionButton
) -> None:
    assert SubscriptionButton.parse(data) == expected


@pytest.mark.parametrize("data", ["sub:x:o", "sub:7:zz", "nl:take:7", "sub:", "", None])
def test_a_forged_subscription_button_is_no_button(data: str | None) -> None:
    assert SubscriptionButton.parse(data) is None


def test_a_subscription_button_round_trips() -> None:
    button = SubscriptionButton(id=12, action=SubscriptionAction.STAGES_VIEW)
    assert button.pack() == "sub:12:sv::0"
    assert SubscriptionButton.parse(button.pack()) == button
