"""The lead card layout as the admin sees it."""

from __future__ import annotations

from typing import cast

import pytest

from bot.access.roles import Identity, Role
from bot.access.service import AccessDenied
from bot.admin.card import CardSettingsService, describe_layout, layout_text
from bot.admin.form import FormFieldsService
from bot.leads.catalog import PortalCatalog
from bot.portal import CardSection, FieldDescriptor, PortalClient
from bot.storage import KeyValueRepository


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


async def test_card_and_form_services_refuse_reps() -> None:
    rep = Identity(telegram_user_id=1, portal_user_id=2, role=Role.REP)
    card = CardSettingsService(cast(PortalClient, None), cast(KeyValueRepository, None))
    form = FormFieldsService(cast(KeyValueRepository, None), cast(PortalCatalog, None))
    calls = [
        card.common_layout(rep),
        card.reset(rep),
        card.force_common(rep),
        card.saved_layout(rep),
        card.save_current(rep),
        card.apply_saved(None),
        form.current(rep),
        form.save(rep, ["TITLE"]),
        form.reset(rep),
    ]
    for call in calls:
        with pytest.raises(AccessDenied):
            await call
