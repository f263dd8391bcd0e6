"""aiogram-dialog dialogs of the bot, one module per flow; `build_routers` gives them all."""

from __future__ import annotations

from aiogram import Router

from dialogs.admin import build_admin_dialog
from dialogs.admin_card import build_admin_card_dialog
from dialogs.admin_fields import build_admin_fields_dialog
from dialogs.admin_form import build_admin_form_dialog
from dialogs.admin_nudges import build_admin_nudges_dialog
from dialogs.admin_people import build_admin_people_dialog
from dialogs.capture import build_capture_dialog, build_capture_router
from dialogs.card import build_card_dialog
from dialogs.commands import build_commands_router
from dialogs.contacts import build_lead_contacts_dialog
from dialogs.deeplinks import build_deeplinks_router
from dialogs.errors import build_errors_router
from dialogs.escalation import build_assign_dialog, build_escalation_router
from dialogs.followups import build_followup_dialog, build_followups_router
from dialogs.hours import build_hours_dialog, build_hours_router
from dialogs.inline import build_inline_router
from dialogs.menu import build_menu_dialog
from dialogs.mutes import build_mutes_router
from dialogs.onboarding import build_onboarding_router
from dialogs.owner_requests import build_owner_answer_dialog, build_owner_requests_router
from dialogs.products import build_lead_products_dialog
from dialogs.report import build_report_dialog, build_report_router
from dialogs.search import build_search_dialog, build_search_router
from dialogs.settings import build_settings_dialog
from dialogs.status import build_status_router
from dialogs.subscriptions import build_subscriptions_dialog, build_subscriptions_router


def build_routers() -> list[Router]:
    """Fresh routers and dialogs of every flow, in the order the dispatcher tries them.

    Plain routers come first (errors, deep links, sign-in, commands and buttons outside
    dialogs), then the dialogs; a fresh object per call, so every test builds its own.
    """
    return [
        build_errors_router(),
        build_deeplinks_router(),
        build_onboarding_router(),
        build_commands_router(),
        build_status_router(),
        build_subscriptions_router(),
        build_owner_requests_router(),
        build_followups_router(),
        build_escalation_router(),
        build_mutes_router(),
        build_report_router(),
        build_hours_router(),
        build_search_router(),
        build_inline_router(),
        build_capture_router(),
        build_menu_dialog(),
        build_capture_dialog(),
        build_settings_dialog(),
        build_hours_dialog(),
        build_admin_dialog(),
        build_admin_fields_dialog(),
        build_admin_form_dialog(),
        build_admin_card_dialog(),
        build_admin_nudges_dialog(),
        build_admin_people_dialog(),
        build_subscriptions_dialog(),
        build_search_dialog(),
        build_card_dialog(),
        build_assign_dialog(),
        build_lead_contacts_dialog(),
        build_lead_products_dialog(),
        build_followup_dialog(),
        build_owner_answer_dialog(),
        build_report_dialog(),
    ]
