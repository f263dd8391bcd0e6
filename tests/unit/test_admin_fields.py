"""Rules for custom lead fields typed by an admin: names, labels, list values."""

from __future__ import annotations

from typing import cast

import pytest

from bot.access.roles import Identity, Role
from bot.access.service import AccessDenied
from bot.admin.fields import (
    CustomFieldService,
    FieldType,
    LabelProblem,
    NameProblem,
    ValuesProblem,
    check_field_name,
    check_label,
    field_label,
    full_field_name,
    new_list_items,
    parse_list_values,
    renamed_label,
)
from bot.leads.catalog import PortalCatalog
from bot.portal import PortalClient, UserField, UserFieldChanges, UserFieldEnumItem


def test_field_names_get_the_portal_prefix_in_upper_case() -> None:
    assert full_field_name("color") == "UF_CRM_COLOR"
    assert full_field_name(" uf_color ") == "UF_CRM_COLOR"
    assert full_field_name("UF_CRM_COLOR") == "UF_CRM_COLOR"


def test_field_name_problems_are_told_apart() -> None:
    assert check_field_name("delivery_zone2") == "UF_CRM_DELIVERY_ZONE2"
    assert check_field_name("") is NameProblem.EMPTY
    assert check_field_name("UF_CRM_") is NameProblem.EMPTY
    assert check_field_name("zone-2") is NameProblem.BAD_CHARS
    assert check_field_name("цвет") is NameProblem.BAD_CHARS
    assert check_field_name("two words") is NameProblem.BAD_CHARS
    assert check_field_name("A" * 43) == "UF_CRM_" + "A" * 43
    assert check_field_name("A" * 44) is NameProblem.TOO_LONG
    assert check_field_name("color", existing=["UF_CRM_COLOR"]) is NameProblem.EXISTS


def test_labels_are_one_trimmed_line_of_limited_length() -> None:
    assert check_label("  Delivery \n zone ") == "Delivery zone"
    assert check_label("   ") is LabelProblem.EMPTY
    assert check_label("x" * 101) is LabelProblem.TOO_LONG


def test_list_values_are_read_one_per_line() -> None:
    assert parse_list_values("Red\n\n  Green  \r\nBlue light\n") == ["Red", "Green", "Blue light"]
    assert parse_list_values(" \n ") is ValuesProblem.EMPTY
    assert parse_list_values("Red\nred") is ValuesProblem.DUPLICATE
    assert parse_list_values("Green", existing=["GREEN"]) is ValuesProblem.DUPLICATE
    assert parse_list_values("x" * 256) is ValuesProblem.TOO_LONG
    assert parse_list_values("\n".join(str(i) for i in range(101))) is ValuesProblem.TOO_MANY


def test_rename_keeps_other_languages_own_translations() -> None:
    current = {"en": "Color", "ru": "Цвет", "de": "Color"}
    assert renamed_label(current, "en", "Colour") == {"en": "Colour", "ru": "Цвет", "de": "Colour"}
    blank = {"en": "Color", "ru": "", "de": ""}
    assert renamed_label(blank, "ru", "Цвет") == {"en": "Color", "ru": "Цвет", "de": "Цвет"}
    assert renamed_label("Color", "en", "Colour") == "Colour"
    assert renamed_label(None, "ru", "Цвет") == "Цвет"


def test_field_label_prefers_the_form_label_in_the_callers_language() -> None:
    field = UserField.model_validate(
        {
            "FIELD_NAME": "UF_CRM_COLOR",
            "EDIT_FORM_LABEL": {"en": "Color", "ru": "Цвет"},
            "LIST_COLUMN_LABEL": {"en": "Col", "ru": ""},
        }
    )
    assert field_label(field, "ru") == "Цвет"
    assert field_label(field, "de") == "Color"
    assert field_label(UserField.model_validate({"FIELD_NAME": "UF_CRM_X"}), "en") == "UF_CRM_X"


def test_list_edits_use_the_portal_id_and_del_semantics() -> None:
    existing = [UserFieldEnumItem(id=1, value="Red", sort=10)]
    added = new_list_items(["Green", "Blue"], existing)
    changes = UserFieldChanges(
        items=[
            *added,
            UserFieldEnumItem(id=1, value="Crimson"),
            UserFieldEnumItem(id=2, delete=True),
        ]
    )
    assert changes.to_portal() == {
        "LIST": [
            {"VALUE": "Green", "SORT": 20},
            {"VALUE": "Blue", "SORT": 30},
            {"ID": 1, "VALUE": "Crimson"},
            {"ID": 2, "DEL": "Y"},
        ]
    }


async def test_every_field_operation_refuses_non_admins_before_the_portal() -> None:
    # The service never touches the portal for a refused caller: None stands in for it.
    service = CustomFieldService(cast(PortalClient, None), cast(PortalCatalog, None))
    manager = Identity(telegram_user_id=1, portal_user_id=2, role=Role.MANAGER)
    calls = [
        service.list_fields(manager, "en"),
        service.get_field(manager, 1),
        service.create_field(manager, name="X", label="X", field_type=FieldType.STRING),
        service.rename_field(manager, 1, "en", "Y"),
        service.set_required(None, 1, True),
        service.add_values(manager, 1, ["a"]),
        service.rename_value(manager, 1, 2, "b"),
        service.delete_value(manager, 1, 2),
        service.delete_field(manager, 1),
    ]
    for call in calls:
        with pytest.raises(AccessDenied):
            await call
