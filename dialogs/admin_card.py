"""Admin tools: the portal's common lead card (show, reset, force for all, save, apply)."""

from __future__ import annotations

from enum import StrEnum
from operator import itemgetter
from typing import Any

from aiogram.types import CallbackQuery
from aiogram_dialog import Dialog, DialogManager, Window
from aiogram_dialog.widgets.kbd import Button, Cancel, Column, Radio, SwitchTo
from aiogram_dialog.widgets.kbd.select import ManagedRadio
from aiogram_dialog.widgets.text import Format

from bot.admin.card import (
    CardSettingsService,
    NoCommonLayout,
    NoSavedLayout,
    describe_layout,
    layout_text,
)
from bot.leads.catalog import PortalCatalog
from dialogs.services import caller, card_settings_of, translator
from dialogs.states import AdminCard
from dialogs.widgets import Notice, Tr, clear_notice, set_notice, widget_of

CONFIRM_ID = "card_confirm"
ACTION_SELECT_ID = "card_action"


class CardAction(StrEnum):
    """What the admin is asked to confirm."""

    RESET = "reset"
    FORCE = "force"
    SAVE = "save"
    APPLY = "apply"


_BUTTONS = {
    CardAction.RESET: "admin-card-reset-button",
    CardAction.FORCE: "admin-card-force-button",
    CardAction.SAVE: "admin-card-save-button",
    CardAction.APPLY: "admin-card-apply-button",
}


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
    tr = translator(dialog_manager)
    offered = [CardAction.RESET, CardAction.FORCE]
    offered += [CardAction.SAVE] if sections else []
    offered += [CardAction.APPLY] if saved else []
    return {
        "actions": [(tr.get(_BUTTONS[a]), a.value) for a in offered],
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
    action = _chosen_action(dialog_manager)
    return {f"is_{a.value}": action is a for a in CardAction}


def _chosen_action(manager: DialogManager) -> CardAction | None:
    raw = widget_of(manager, ACTION_SELECT_ID, ManagedRadio).get_checked()
    return CardAction(raw) if raw in {a.value for a in CardAction} else None


async def on_action_chosen(
    _: CallbackQuery, __: ManagedRadio[str], manager: DialogManager, item_id: str
) -> None:
    """Ask to confirm the pressed action (the list keeps which one)."""
    clear_notice(manager)
    await manager.switch_to(AdminCard.confirm)


async def on_confirmed(_: CallbackQuery, __: Button, manager: DialogManager) -> None:
    """Do the confirmed action in the portal (or in the bot's storage, for saving)."""
    service = card_settings_of(manager)
    identity = caller(manager)
    action = _chosen_action(manager)
    if action is None:
        await manager.switch_to(AdminCard.main)
        return
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


def build_admin_card_dialog() -> Dialog:
    """A fresh lead card settings dialog."""
    return Dialog(
        Window(
            Tr("admin-card-header"),
            Tr("admin-card-layout", when="has_layout"),
            Tr("admin-card-default", when="no_layout"),
            Tr("admin-card-saved", when="has_saved"),
            Notice(),
            Column(
                Radio(
                    Format("{item[0]}"),
                    Format("{item[0]}"),
                    id=ACTION_SELECT_ID,
                    item_id_getter=itemgetter(1),
                    items="actions",
                    on_click=on_action_chosen,
                )
            ),
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
