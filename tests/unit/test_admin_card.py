"""The lead card layout as the admin sees it."""

from __future__ import annotations

from bot.admin.card import describe_layout, layout_text
from bot.portal import CardSection, FieldDescriptor


def test_layout_shows_section_titles_and_field_names() -> None:
    sections = [
        CardSection.model_validate(
            {
                "name": "main",
                "title": "About the lead",
                "elements": [{"name": "TITLE"}, {"name": "UF_CRM_COLOR"}, {"name": "UNKNOWN"}],
            }
        ),
        CardSection.model_validate({"name": "extra", "title": "", "elements": []}),
    ]
    fields = {
        "TITLE": FieldDescriptor.model_validate({"type": "string", "title": "Lead name"}),
        "UF_CRM_COLOR": FieldDescriptor.model_validate(
            {"type": "string", "isDynamic": True, "title": "UF_CRM_COLOR", "formLabel": "Color"}
        ),
    }
    views = describe_layout(sections, fields)
    assert [(v.title, v.fields) for v in views] == [
        ("About the lead", ("Lead name", "Color", "UNKNOWN")),
        ("extra", ()),
    ]
    assert layout_text(views) == (
        "▪️ About the lead\n    Lead name\n    Color\n    UNKNOWN\n▪️ extra"
    )
