"""Admin tools: the portal's common lead card (show, reset, force for all, save, apply)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from aiogram.types import CallbackQuery
from aiogram_dialog import Dialog, DialogManager, Window
from aiogram_dialog.widgets.kbd import Button, Cancel, SwitchTo

from bot.admin.card import (
    CardSettingsService,
    NoCommonLayout,
    NoSavedLayout,
    describe_layout,
    layout_text,
)
from bot.leads.catalog import PortalCatalog
from dialogs.services import caller, card_settings_of
from dialogs.states import AdminCard
from dialogs.widgets import Notice, Tr, clear_notice, set_notice

CONFIRM_ID = "card_confirm"
ACTION_KEY = "action"


class CardAction(StrEnum):
    """What the admin is asked to confirm."""

    RESET = "reset"
    FORCE = "force"
    SAVE = "save"
    APPLY = "apply"


async def get_card(
    dialog_manager: DialogManager,
    card_settings: CardSettingsService,
    catalog: PortalCatalog,
    **_: Any,
) -> dict[str, Any]:
    """The common layout as text, and whether a saved one exists."""
    identity = caller(dialog_manager)
    sections = await card_settings.common_layout(identity)
    saved = await card_settings.saved_layout(identity)
    fields = (await catalog.get()).fields
    return {
        "has_layout": bool(sections),
        "no_layout": not sections,
        "layout": layout_text(describe_layout(sections or [], fields)),
        "count": len(sections or []),
        "has_saved": bool(saved),
        "saved": len(saved or []),
    }


async def get_confirm(
    dialog_manager: DialogManager, card_settings: CardSettingsService, **_: Any
) -> dict[str, Any]:
    """Which action waits for confirmation."""
    card_settings.authorize(caller(dialog_manager))
    action = str(dialog_manager.dialog_data.get(ACTION_KEY, ""))
    return {f"is_{a.value}": action == a.value for a in CardAction}


def _ask(action: CardAction) -> Any:
    async def on_click(_: CallbackQuery, __: Button, manager: DialogManager) -> None:
        clear_notice(manager)
        manager.dialog_data[ACTION_KEY] = action.value

    return on_click


async def on_confirmed(_: CallbackQuery, __: Button, manager: DialogManager) -> None:
    """Do the confirmed action in the portal (or in the bot's storage, for saving)."""
    service = card_settings_of(manager)
    identity = caller(manager)
    raw = manager.dialog_data.pop(ACTION_KEY, None)
    if raw not in {a.value for a in CardAction}:
        await manager.switch_to(AdminCard.main)
        return
    action = CardAction(raw)
    try:
        if action is CardAction.RESET:
            await service.reset(identity)
            set_notice(manager, "admin-card-reset-done")
        elif action is CardAction.FORCE:
            await service.force_common(identity)
            set_notice(manager, "admin-card-force-done")
        elif action is CardAction.SAVE:
            count = await service.save_current(identity)
            set_notice(manager, "admin-card-save-done", count=count)
        else:
            count = await service.apply_saved(identity)
            set_notice(manager, "admin-card-apply-done", count=count)
    except NoCommonLayout:
        set_notice(manager, "admin-card-nothing-to-save")
    except NoSavedLayout:
        set_notice(manager, "admin-card-nothing-saved")
    await manager.switch_to(AdminCard.main)


def _confirm_button(action: CardAction, key: str, when: str | None = None) -> SwitchTo:
    return SwitchTo(
        Tr(key),
        id=f"card_{action.value}",
        state=AdminCard.confirm,
        on_click=_ask(action),
        when=when,
    )


def build_admin_card_dialog() -> Dialog:
    """A fresh lead card settings dialog."""
    return Dialog(
        Window(
            Tr("admin-card-header"),
            Tr("admin-card-layout", when="has_layout"),
            Tr("admin-card-default", when="no_layout"),
            Tr("admin-card-saved", when="has_saved"),
            Notice(),
            _confirm_button(CardAction.RESET, "admin-card-reset-button"),
            _confirm_button(CardAction.FORCE, "admin-card-force-button"),
            _confirm_button(CardAction.SAVE, "admin-card-save-button", when="has_layout"),
            _confirm_button(CardAction.APPLY, "admin-card-apply-button", when="has_saved"),
            Cancel(Tr("button-back")),
            state=AdminCard.main,
            getter=get_card,
        ),
        Window(
            Tr("admin-card-reset-confirm", when="is_reset"),
            Tr("admin-card-force-confirm", when="is_force"),
            Tr("admin-card-save-confirm", when="is_save"),
            Tr("admin-card-apply-confirm", when="is_apply"),
            Button(Tr("admin-card-confirm-button"), id=CONFIRM_ID, on_click=on_confirmed),
            SwitchTo(Tr("button-back"), id="card_confirm_back", state=AdminCard.main),
            state=AdminCard.confirm,
            getter=get_confirm,
        ),
    )
