"""Admin tools: who has access, their roles, and one-time invite links."""

from __future__ import annotations

import logging
from datetime import datetime
from operator import itemgetter
from typing import Any

from aiogram.types import CallbackQuery
from aiogram_dialog import Dialog, DialogManager, Window
from aiogram_dialog.widgets.input import ManagedTextInput, TextInput
from aiogram_dialog.widgets.kbd import (
    Back,
    Button,
    Cancel,
    Column,
    Radio,
    Select,
    Start,
    SwitchTo,
)
from aiogram_dialog.widgets.kbd.select import ManagedRadio
from aiogram_dialog.widgets.text import Format

from bot.access.roles import Role
from bot.access.service import AccessService, ChangeRefused
from bot.storage import utc_now
from dialogs.services import access_of, bot_of, caller, translator
from dialogs.states import (
    AdminCard,
    AdminDialog,
    AdminFields,
    AdminForm,
    AdminNudges,
    AdminPeople,
)
from dialogs.widgets import (
    Notice,
    Tr,
    checked_item,
    clear_notice,
    scrolling_select,
    set_notice,
    widget_of,
)

log = logging.getLogger(__name__)

BINDINGS_ID = "adm_bindings"
BINDING_SELECT_ID = "adm_binding"
ROLE_SELECT_ID = "adm_role"
REVOKE_ID = "adm_revoke"
INVITE_USER_SELECT_ID = "adm_inv_user"
INVITE_ROLE_SELECT_ID = "adm_inv_role"
INVITE_SELECT_ID = "adm_invite"
INVITE_ANYONE_ID = "adm_inv_anyone"
INVITE_PHONE_ONLY_ID = "adm_inv_phone"
BLOCKED_SELECT_ID = "adm_blocked"
PAGE_HEIGHT = 8

INVITE_SEARCH_ID = "adm_invite_search"
SEARCH_LIMIT = 64
_REFUSALS = {
    ChangeRefused.SELF: "admin-cannot-revoke-self",
    ChangeRefused.LAST_ADMIN: "admin-last-admin",
}


def _role_items(manager: DialogManager) -> list[tuple[str, str]]:
    tr = translator(manager)
    return [(tr.get(f"role-{role.value}"), role.value) for role in Role]


def _hours_left(expires_at: datetime) -> int:
    return max(0, int((expires_at - utc_now()).total_seconds() // 3600))


def _checked(manager: DialogManager, list_id: str) -> int:
    return int(checked_item(manager, list_id))


async def get_bindings(
    dialog_manager: DialogManager, access: AccessService, **_: Any
) -> dict[str, Any]:
    """Every binding as a button line."""
    tr = translator(dialog_manager)
    bindings = await access.list_bindings(caller(dialog_manager))
    items = [
        (
            tr.get(
                "admin-binding-line",
                name=b.display_name or str(b.portal_user_id),
                role=b.role.value,
                date=b.bound_at,
            ),
            str(b.telegram_user_id),
        )
        for b in bindings
    ]
    return {"count": len(items), "bindings": items}


async def get_binding(
    dialog_manager: DialogManager, access: AccessService, **_: Any
) -> dict[str, Any]:
    """The binding the admin picked, re-read (it may have changed meanwhile)."""
    target = _checked(dialog_manager, BINDING_SELECT_ID)
    binding = await access.binding(caller(dialog_manager), target)
    data: dict[str, Any] = {"roles": _role_items(dialog_manager), "found": binding is not None}
    if binding is not None:
        data.update(
            name=binding.display_name or str(binding.portal_user_id),
            role=binding.role.value,
            date=binding.bound_at,
        )
    return data


async def on_leave_notice(_: CallbackQuery, __: Any, manager: DialogManager) -> None:
    """A notice belongs to the window it was given in: moving on forgets it."""
    clear_notice(manager)


async def on_binding_selected(
    _: CallbackQuery, __: ManagedRadio[str], manager: DialogManager, item_id: str
) -> None:
    """Open one binding (the list keeps which one)."""
    clear_notice(manager)
    await manager.switch_to(AdminDialog.binding)


async def on_role_selected(
    _: CallbackQuery, __: Select[str], manager: DialogManager, item_id: str
) -> None:
    """Give the picked binding the chosen role."""
    target = _checked(manager, BINDING_SELECT_ID)
    refused = await access_of(manager).change_role(caller(manager), target, Role(item_id))
    set_notice(manager, _REFUSALS[refused] if refused else "admin-role-changed")
    await manager.switch_to(AdminDialog.binding)


async def on_revoke_confirmed(_: CallbackQuery, __: Button, manager: DialogManager) -> None:
    """Revoke the picked binding."""
    target = _checked(manager, BINDING_SELECT_ID)
    refused = await access_of(manager).revoke_binding(caller(manager), target)
    if refused is not None:
        set_notice(manager, _REFUSALS[refused])
        await manager.switch_to(AdminDialog.binding)
        return
    await manager.switch_to(AdminDialog.bindings)


async def get_invite_users(
    dialog_manager: DialogManager, access: AccessService, **_: Any
) -> dict[str, Any]:
    """Active portal users matching the admin's search."""
    query = widget_of(dialog_manager, INVITE_SEARCH_ID, ManagedTextInput).get_value() or ""
    users = await access.directory.search(query)
    items = [(u.full_name or f"#{u.id}", str(u.id)) for u in users if u.id is not None]
    return {"users": items, "query": query, "nobody": bool(query) and not items}


def search_text(text: str) -> str:
    """A part of a name to narrow the user list by (long texts are cut)."""
    return text[:SEARCH_LIMIT]


async def on_invite_user_selected(
    _: CallbackQuery, __: ManagedRadio[str], manager: DialogManager, item_id: str
) -> None:
    """Ask for the role (the list keeps who the invite is for)."""
    await manager.switch_to(AdminDialog.invite_role)


async def get_invite_role(
    dialog_manager: DialogManager, access: AccessService, **_: Any
) -> dict[str, Any]:
    """The invitee's name and the roles to choose from."""
    portal_user_id = _checked(dialog_manager, INVITE_USER_SELECT_ID)
    user = await access.directory.active_user(portal_user_id)
    name = user.full_name if user is not None else f"#{portal_user_id}"
    return {"name": name, "roles": _role_items(dialog_manager)}


async def on_invite_role_selected(
    _: CallbackQuery, __: ManagedRadio[str], manager: DialogManager, item_id: str
) -> None:
    """Ask who may use the link (the list keeps the role)."""
    clear_notice(manager)
    await manager.switch_to(AdminDialog.invite_kind)


async def on_invite_kind_selected(
    callback: CallbackQuery, button: Button, manager: DialogManager
) -> None:
    """Create the invite and send its link as a message of its own (never kept in state)."""
    portal_user_id = _checked(manager, INVITE_USER_SELECT_ID)
    role = Role(checked_item(manager, INVITE_ROLE_SELECT_ID))
    phone_check = button.widget_id == INVITE_PHONE_ONLY_ID
    access = access_of(manager)
    user = await access.directory.active_user(portal_user_id)
    issued = await access.create_invite(
        caller(manager), portal_user_id, role, phone_check=phone_check
    )
    if issued is None and phone_check and user is not None:
        set_notice(manager, "admin-invite-no-phone")
        return
    if issued is None or callback.message is None:
        await manager.switch_to(AdminDialog.invite_user)
        return
    bot = bot_of(manager)
    me = await bot.me()
    tr = translator(manager)
    name = user.full_name if user is not None else f"#{portal_user_id}"
    parts = [
        tr.get_html(
            "admin-invite-created",
            name=name,
            role=issued.invite.role.value,
            link=f"https://t.me/{me.username}?start=inv_{issued.token}",
            hours=int(access.invite_ttl.total_seconds() // 3600),
        ),
        tr.get_html("admin-invite-bearer-warning"),
    ]
    if issued.invite.phone_check:
        parts.append(tr.get_html("admin-invite-phone-bound", name=name))
    await bot.send_message(callback.message.chat.id, "\n\n".join(parts))
    await manager.switch_to(AdminDialog.main)


async def get_blocked(
    dialog_manager: DialogManager, access: AccessService, **_: Any
) -> dict[str, Any]:
    """Accounts an admin revoked, as button lines; pressing one lifts its block."""
    tr = translator(dialog_manager)
    blocked = await access.blocked_bindings(caller(dialog_manager))
    items = [
        (
            tr.get(
                "admin-blocked-line",
                name=b.display_name or f"#{b.portal_user_id}",
                id=b.telegram_user_id,
            ),
            str(b.telegram_user_id),
        )
        for b in blocked
    ]
    return {"count": len(items), "blocked": items}


async def on_block_lift(
    _: CallbackQuery, __: Select[str], manager: DialogManager, item_id: str
) -> None:
    """Lift the block of a revoked account (it may sign in again by phone, as a rep)."""
    clear_notice(manager)
    access = access_of(manager)
    admin = caller(manager)
    target = int(item_id)
    binding = next(
        (b for b in await access.blocked_bindings(admin) if b.telegram_user_id == target), None
    )
    if binding is not None and await access.lift_block(admin, target):
        name = binding.display_name or f"#{binding.portal_user_id}"
        set_notice(manager, "admin-block-lifted", name=name)


async def get_invites(
    dialog_manager: DialogManager, access: AccessService, **_: Any
) -> dict[str, Any]:
    """Pending invites as button lines; pressing one revokes it."""
    tr = translator(dialog_manager)
    invites = await access.pending_invites(caller(dialog_manager))
    items = []
    for invite in invites:
        user = await access.directory.active_user(invite.portal_user_id)
        name = user.full_name if user is not None else f"#{invite.portal_user_id}"
        line = tr.get(
            "admin-invite-line",
            name=name,
            role=invite.role.value,
            hours=_hours_left(invite.expires_at),
        )
        items.append((f"🚫 {line}", str(invite.id)))
    return {"count": len(items), "invites": items}


async def on_invite_revoke(
    _: CallbackQuery, __: Select[str], manager: DialogManager, item_id: str
) -> None:
    """Revoke a pending invite."""
    await access_of(manager).revoke_invite(caller(manager), int(item_id))


def build_admin_dialog() -> Dialog:
    """A fresh admin dialog."""
    return Dialog(
        Window(
            Tr("admin-title"),
            Column(
                SwitchTo(Tr("admin-bindings-button"), id=BINDINGS_ID, state=AdminDialog.bindings),
                SwitchTo(
                    Tr("admin-create-invite-button"),
                    id="adm_new_invite",
                    state=AdminDialog.invite_user,
                ),
                SwitchTo(Tr("admin-invites-button"), id="adm_invites", state=AdminDialog.invites),
                SwitchTo(
                    Tr("admin-blocked-button"),
                    id="adm_blocked_list",
                    state=AdminDialog.blocked,
                    on_click=on_leave_notice,
                ),
                Start(Tr("admin-people-button"), id="adm_people", state=AdminPeople.main),
                Start(Tr("admin-fields-button"), id="adm_fields", state=AdminFields.fields),
                Start(Tr("admin-form-button"), id="adm_form", state=AdminForm.main),
                Start(Tr("admin-card-button"), id="adm_card", state=AdminCard.main),
                Start(Tr("admin-nudges-button"), id="adm_nudges", state=AdminNudges.main),
            ),
            Cancel(Tr("button-back")),
            state=AdminDialog.main,
        ),
        Window(
            Tr("admin-bindings-header"),
            scrolling_select(
                BINDING_SELECT_ID,
                "bindings",
                on_binding_selected,
                scroll_id="adm_bindings_scroll",
                height=PAGE_HEIGHT,
                keep_choice=True,
            ),
            SwitchTo(Tr("button-back"), id="adm_back_main", state=AdminDialog.main),
            state=AdminDialog.bindings,
            getter=get_bindings,
        ),
        Window(
            Tr("admin-binding-title", when="found"),
            Notice(),
            SwitchTo(
                Tr("admin-change-role-button"),
                id="adm_to_role",
                state=AdminDialog.role,
                on_click=on_leave_notice,
                when="found",
            ),
            SwitchTo(
                Tr("admin-revoke-button"),
                id="adm_to_revoke",
                state=AdminDialog.revoke,
                on_click=on_leave_notice,
                when="found",
            ),
            SwitchTo(Tr("button-back"), id="adm_back_list", state=AdminDialog.bindings),
            state=AdminDialog.binding,
            getter=get_binding,
        ),
        Window(
            Tr("admin-choose-role"),
            Column(
                Select(
                    Format("{item[0]}"),
                    id=ROLE_SELECT_ID,
                    item_id_getter=itemgetter(1),
                    items="roles",
                    on_click=on_role_selected,
                )
            ),
            Back(Tr("button-back")),
            state=AdminDialog.role,
            getter=get_binding,
        ),
        Window(
            Tr("admin-revoke-confirm"),
            Button(Tr("admin-revoke-yes"), id=REVOKE_ID, on_click=on_revoke_confirmed),
            SwitchTo(Tr("button-back"), id="adm_revoke_back", state=AdminDialog.binding),
            state=AdminDialog.revoke,
            getter=get_binding,
        ),
        Window(
            Tr("admin-invite-choose-user"),
            Tr("admin-invite-no-users", when="nobody"),
            scrolling_select(
                INVITE_USER_SELECT_ID,
                "users",
                on_invite_user_selected,
                scroll_id="adm_users_scroll",
                height=PAGE_HEIGHT,
                keep_choice=True,
            ),
            # Keeps the typed part of a name; the getter narrows the list by it.
            TextInput(id=INVITE_SEARCH_ID, type_factory=search_text),
            SwitchTo(Tr("button-back"), id="adm_invite_back", state=AdminDialog.main),
            state=AdminDialog.invite_user,
            getter=get_invite_users,
        ),
        Window(
            Tr("admin-invite-choose-role"),
            Column(
                Radio(
                    Format("{item[0]}"),
                    Format("{item[0]}"),
                    id=INVITE_ROLE_SELECT_ID,
                    item_id_getter=itemgetter(1),
                    items="roles",
                    on_click=on_invite_role_selected,
                )
            ),
            SwitchTo(Tr("button-back"), id="adm_role_back", state=AdminDialog.invite_user),
            state=AdminDialog.invite_role,
            getter=get_invite_role,
        ),
        Window(
            Tr("admin-invite-choose-kind"),
            Notice(),
            Button(
                Tr("admin-invite-anyone-button"),
                id=INVITE_ANYONE_ID,
                on_click=on_invite_kind_selected,
            ),
            Button(
                Tr("admin-invite-phone-only-button"),
                id=INVITE_PHONE_ONLY_ID,
                on_click=on_invite_kind_selected,
            ),
            SwitchTo(Tr("button-back"), id="adm_kind_back", state=AdminDialog.invite_role),
            state=AdminDialog.invite_kind,
            getter=get_invite_role,
        ),
        Window(
            Tr("admin-blocked-header"),
            Notice(),
            scrolling_select(
                BLOCKED_SELECT_ID,
                "blocked",
                on_block_lift,
                scroll_id="adm_blocked_scroll",
                height=PAGE_HEIGHT,
            ),
            SwitchTo(Tr("button-back"), id="adm_blocked_back", state=AdminDialog.main),
            state=AdminDialog.blocked,
            getter=get_blocked,
        ),
        Window(
            Tr("admin-invites-header"),
            scrolling_select(
                INVITE_SELECT_ID,
                "invites",
                on_invite_revoke,
                scroll_id="adm_invites_scroll",
                height=PAGE_HEIGHT,
            ),
            SwitchTo(Tr("button-back"), id="adm_invites_back", state=AdminDialog.main),
            state=AdminDialog.invites,
            getter=get_invites,
        ),
    )
