"""Notification buttons: the Take callback data and the keyboard without Take."""

from __future__ import annotations

import pytest

from bot.notify.buttons import LeadAction, LeadButton, is_take
from bot.notify.sender import without_take


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
    card = {"text": "📇 Open card", "callback_data": "nl:card:7"}
    take = {"text": "🙋 Take", "callback_data": "nl:take:7"}
    portal = {"text": "🌐 Open in portal", "url": "https://portal.test/crm/lead/details/7/"}

    assert without_take([[card, take], [portal]]) == [[card], [portal]]
    assert without_take([[take], [portal]]) == [[portal]]
    assert without_take([]) == []
