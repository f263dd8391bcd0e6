"""Choosing the optional fields of the capture form: what may be chosen, toggling, moving."""

from __future__ import annotations

from bot.admin.form import choosable_fields, clean_choice, move, required_fields
from bot.portal import FieldDescriptor


def _fields() -> dict[str, FieldDescriptor]:
    raw = {
        "ID": {"type": "integer", "isReadOnly": True, "title": "ID"},
        "TITLE": {"type": "string", "title": "Lead name"},
        "NAME": {"type": "string", "title": "First name"},
        "CONTACT_ID": {"type": "crm_contact", "isDeprecated": True, "title": "Contact"},
        "ORIGIN_ID": {"type": "string", "title": "Origin"},
        "COMMENTS": {"type": "string", "isRequired": True, "title": "Comment"},
        "UF_CRM_COLOR": {
            "type": "enumeration",
            "isDynamic": True,
            "title": "UF_CRM_COLOR",
            "formLabel": "Color",
        },
    }
    return {code: FieldDescriptor.model_validate(d) for code, d in raw.items()}


def test_only_writable_current_optional_fields_are_offered() -> None:
    offered = choosable_fields(_fields())
    assert [(f.code, f.label) for f in offered] == [
        ("TITLE", "Lead name"),
        ("NAME", "First name"),
        ("UF_CRM_COLOR", "Color"),
    ]


def test_required_fields_are_listed_apart() -> None:
    assert [f.code for f in required_fields(_fields())] == ["COMMENTS"]


def test_clean_choice_drops_unknown_required_and_repeated_codes() -> None:
    assert clean_choice(["NAME", "GONE", "COMMENTS", "NAME", "TITLE"], _fields()) == [
        "NAME",
        "TITLE",
    ]


def test_move_swaps_with_the_neighbour_and_stops_at_the_edges() -> None:
    chosen = ["A", "B", "C"]
    assert move(chosen, "B", -1) == ["B", "A", "C"]
    assert move(chosen, "B", 1) == ["A", "C", "B"]
    assert move(chosen, "A", -1) == chosen
    assert move(chosen, "C", 1) == chosen
    assert move(chosen, "Z", 1) == chosen
