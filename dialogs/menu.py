"""The main menu dialog."""

from __future__ import annotations

from typing import Any

from aiogram_dialog import Dialog, Window
from aiogram_dialog.widgets.kbd import Column, Start

from bot.access.roles import Action, Identity
from dialogs.states import (
    QUERY_KEY,
    AdminDialog,
    LeadCapture,
    LeadSearch,
    MainMenu,
    SettingsDialog,
    Subscriptions,
)
from dialogs.widgets import Tr

NEW_LEAD_ID = "menu_new_lead"
SETTINGS_ID = "menu_settings"
ADMIN_ID = "menu_admin"
FIND_ID = "menu_find"
MY_LEADS_ID = "menu_my_leads"
SUBSCRIPTIONS_ID = "menu_subscriptions"


async def get_menu(identity: Identity | None = None, **_: Any) -> dict[str, Any]:
    """What the menu shows depends on the caller's role."""
    return {"is_admin": identity is not None and identity.may(Action.MANAGE_BINDINGS)}


def build_menu_dialog() -> Dialog:
    """A fresh main menu dialog."""
    return Dialog(
        Window(
            Tr("menu-title"),
            Column(
                Start(Tr("menu-new-lead"), id=NEW_LEAD_ID, state=LeadCapture.main),
                Start(Tr("menu-find"), id=FIND_ID, state=LeadSearch.query, data={QUERY_KEY: ""}),
                Start(Tr("menu-my-leads"), id=MY_LEADS_ID, state=LeadSearch.my),
                Start(Tr("menu-subscriptions"), id=SUBSCRIPTIONS_ID, state=Subscriptions.main),
                Start(Tr("menu-settings"), id=SETTINGS_ID, state=SettingsDialog.main),
                Start(Tr("menu-admin"), id=ADMIN_ID, state=AdminDialog.main, when="is_admin"),
            ),
            state=MainMenu.main,
            getter=get_menu,
        ),
    )
