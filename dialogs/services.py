"""Typed access to the dispatcher's data from dialog handlers: one accessor per service.

Getters and router handlers take these as typed keyword arguments; dialog callbacks only get
`(event, widget, manager)`, so they reach the same objects here, by the keys `bot/app.py` and
the identity middleware put them under.
"""

from __future__ import annotations

from typing import TypeVar

from aiogram import Bot
from aiogram_dialog import DialogManager

from bot.access.roles import Identity
from bot.access.service import AccessDenied, AccessService
from bot.admin import CardSettingsService, CustomFieldService, FormFieldsService
from bot.admin.people import PeopleService
from bot.config import Settings
from bot.followups.service import FollowUpService
from bot.i18n import Translations, Translator
from bot.leads.capture import CaptureService
from bot.leads.catalog import PortalCatalog
from bot.leads.contacts import LeadContactsService
from bot.leads.nudges import NudgeService
from bot.leads.owner_requests import OwnerRequestService
from bot.leads.products import LeadProductsService
from bot.leads.service import LeadService
from bot.ops.status import CrmModeWatch
from bot.reports.service import ReportService
from bot.schedule.service import HoursService
from bot.speed.escalation import EscalationService

T = TypeVar("T")

TRANSLATOR_KEY = "tr"
IDENTITY_KEY = "identity"


def _data(manager: DialogManager, key: str, kind: type[T]) -> T:
    value = manager.middleware_data[key]
    assert isinstance(value, kind), f"{key} is {type(value).__name__}"
    return value


def translator(manager: DialogManager) -> Translator:
    """The caller's translator, put into middleware data by the identity middleware."""
    return _data(manager, TRANSLATOR_KEY, Translator)


def use_translator(manager: DialogManager, tr: Translator) -> None:
    """Render the rest of this update in another language (after the caller changed it)."""
    manager.middleware_data[TRANSLATOR_KEY] = tr


def caller(manager: DialogManager) -> Identity:
    """The bound user behind the current update; refuses anyone else (checked per update)."""
    identity = manager.middleware_data.get(IDENTITY_KEY)
    if not isinstance(identity, Identity):
        raise AccessDenied("not signed in")
    return identity


def set_caller(manager: DialogManager, identity: Identity) -> None:
    """The caller has just signed in: the rest of this update sees them bound."""
    manager.middleware_data[IDENTITY_KEY] = identity


def bot_of(manager: DialogManager) -> Bot:
    """The bot that received the update."""
    return _data(manager, "bot", Bot)


def access_of(manager: DialogManager) -> AccessService:
    """Bindings, roles and invites."""
    return _data(manager, "access", AccessService)


def translations_of(manager: DialogManager) -> Translations:
    """Every language's messages."""
    return _data(manager, "translations", Translations)


def catalog_of(manager: DialogManager) -> PortalCatalog:
    """The portal's fields, stages and sources."""
    return _data(manager, "catalog", PortalCatalog)


def leads_of(manager: DialogManager) -> LeadService:
    """Reading and changing leads."""
    return _data(manager, "leads", LeadService)


def lead_contacts_of(manager: DialogManager) -> LeadContactsService:
    """A lead's contacts."""
    return _data(manager, "lead_contacts", LeadContactsService)


def lead_products_of(manager: DialogManager) -> LeadProductsService:
    """A lead's product rows."""
    return _data(manager, "lead_products", LeadProductsService)


def people_of(manager: DialogManager) -> PeopleService:
    """Chats with subscriptions and undelivered notifications."""
    return _data(manager, "people", PeopleService)


def custom_fields_of(manager: DialogManager) -> CustomFieldService:
    """The portal's custom lead fields."""
    return _data(manager, "custom_fields", CustomFieldService)


def form_fields_of(manager: DialogManager) -> FormFieldsService:
    """Which optional fields the capture form asks for."""
    return _data(manager, "form_fields", FormFieldsService)


def card_settings_of(manager: DialogManager) -> CardSettingsService:
    """The portal's common lead card."""
    return _data(manager, "card_settings", CardSettingsService)


def owner_requests_of(manager: DialogManager) -> OwnerRequestService:
    """Requests for a colleague's lead: hand-overs and answers."""
    return _data(manager, "owner_requests", OwnerRequestService)


def reports_of(manager: DialogManager) -> ReportService:
    """Reports as pictures."""
    return _data(manager, "reports", ReportService)


def capture_of(manager: DialogManager) -> CaptureService:
    """Capturing a lead: the form, the duplicate gate, creating."""
    return _data(manager, "capture", CaptureService)


def hours_of(manager: DialogManager) -> HoursService:
    """Each chat's time zone and working hours."""
    return _data(manager, "hours", HoursService)


def followups_of(manager: DialogManager) -> FollowUpService:
    """Follow-ups on leads and their reminders."""
    return _data(manager, "followups", FollowUpService)


def nudges_of(manager: DialogManager) -> NudgeService:
    """The admin's rules for stale-lead nudges."""
    return _data(manager, "nudges", NudgeService)


def settings_of(manager: DialogManager) -> Settings:
    """The bot's settings (the default phone region, the portal's address)."""
    return _data(manager, "settings", Settings)


def crm_mode_of(manager: DialogManager) -> CrmModeWatch:
    """The portal's CRM mode (simple mode has no leads)."""
    return _data(manager, "crm_mode", CrmModeWatch)


def escalations_of(manager: DialogManager) -> EscalationService:
    """Takes and assignments of new leads nobody took."""
    return _data(manager, "escalations", EscalationService)
