"""Starting the bot and signing in: /start (with invite links) and sharing one's own contact."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import CommandObject, CommandStart
from aiogram.fsm.context import FSMContext
from aiogram.types import Message, ReplyKeyboardRemove
from aiogram_dialog import DialogManager

from bot.access.middleware import share_phone_keyboard
from bot.access.roles import Identity
from bot.access.service import AccessService, BindOutcome
from bot.i18n import Translator
from bot.storage import RedeemFailure
from bot.storage.invites import hash_token
from dialogs.services import set_caller
from dialogs.states import start_main_menu

INVITE_PREFIX = "inv_"
PENDING_INVITE_KEY = "pending_invite"
"""FSM data key: the hash (never the token) of an invite waiting for the invitee's phone."""

_BIND_MESSAGES = {
    BindOutcome.NOT_YOURS: "onboarding-contact-not-yours",
    BindOutcome.NOT_FOUND: "onboarding-phone-not-found",
    BindOutcome.AMBIGUOUS: "onboarding-phone-ambiguous",
    BindOutcome.BLOCKED: "onboarding-access-revoked",
    BindOutcome.PHONE_REQUIRED: "onboarding-invite-phone-required",
    BindOutcome.PHONE_MISMATCH: "onboarding-invite-phone-mismatch",
}
_REDEEM_MESSAGES = {
    RedeemFailure.UNKNOWN: "onboarding-invite-unknown",
    RedeemFailure.USED: "onboarding-invite-used",
    RedeemFailure.EXPIRED: "onboarding-invite-expired",
    RedeemFailure.REVOKED: "onboarding-invite-revoked",
}


async def on_start_invite(
    message: Message,
    command: CommandObject,
    identity: Identity | None,
    access: AccessService,
    tr: Translator,
    state: FSMContext,
    dialog_manager: DialogManager,
) -> None:
    """Redeem an invite link opened as `/start inv_<token>`."""
    if identity is not None:
        await message.answer(tr.get_html("onboarding-invite-already-bound", name=identity.name))
        return
    assert message.from_user is not None
    token = (command.args or "")[len(INVITE_PREFIX) :]
    result = await access.redeem_invite(token, message.from_user.id, tr.language)
    if result is BindOutcome.PHONE_REQUIRED:
        await state.update_data({PENDING_INVITE_KEY: hash_token(token)})
    await _answer_invite(message, result, tr, dialog_manager)


async def _answer_invite(
    message: Message,
    result: Identity | RedeemFailure | BindOutcome,
    tr: Translator,
    dialog_manager: DialogManager,
) -> None:
    if isinstance(result, Identity):
        await message.answer(
            tr.get_html("onboarding-invite-accepted", name=result.name, role=result.role.value),
            reply_markup=ReplyKeyboardRemove(),
        )
        set_caller(dialog_manager, result)
        await start_main_menu(dialog_manager)
        return
    if isinstance(result, RedeemFailure):
        key = _REDEEM_MESSAGES[result]
    else:
        key = _BIND_MESSAGES.get(result, "onboarding-phone-not-found")
    await message.answer(tr.get_html(key), reply_markup=share_phone_keyboard(tr))


async def on_start(
    message: Message, identity: Identity | None, tr: Translator, dialog_manager: DialogManager
) -> None:
    """Greet a newcomer with the sign-in button, or open the menu for a bound user."""
    if identity is None:
        name = message.from_user.first_name if message.from_user else ""
        await message.answer(
            tr.get_html("onboarding-greeting", name=name), reply_markup=share_phone_keyboard(tr)
        )
        return
    await start_main_menu(dialog_manager)


async def on_contact(
    message: Message,
    access: AccessService,
    tr: Translator,
    state: FSMContext,
    dialog_manager: DialogManager,
) -> None:
    """Bind by a shared contact: only the sender's own contact counts.

    After an invite bound to a phone was opened, the contact redeems that invite instead.
    """
    assert message.contact is not None
    assert message.from_user is not None
    data = await state.get_data()
    pending = data.pop(PENDING_INVITE_KEY, None)
    if isinstance(pending, str):
        await state.set_data(data)  # one attempt per opened link
        redeemed = await access.redeem_invite_by_phone(
            token_hash=pending,
            sender_id=message.from_user.id,
            contact_user_id=message.contact.user_id,
            phone=message.contact.phone_number,
            language=tr.language,
        )
        await _answer_invite(message, redeemed, tr, dialog_manager)
        return
    result = await access.bind_by_contact(
        sender_id=message.from_user.id,
        contact_user_id=message.contact.user_id,
        phone=message.contact.phone_number,
        language=tr.language,
    )
    if result.identity is not None:
        key = (
            "onboarding-already-bound"
            if result.outcome is BindOutcome.ALREADY_BOUND
            else "onboarding-bound"
        )
        await message.answer(
            tr.get_html(key, name=result.identity.name, role=result.identity.role.value),
            reply_markup=ReplyKeyboardRemove(),
        )
        set_caller(dialog_manager, result.identity)
        await start_main_menu(dialog_manager)
        return
    await message.answer(
        tr.get_html(_BIND_MESSAGES[result.outcome]), reply_markup=share_phone_keyboard(tr)
    )


def is_sign_in_contact(message: Message, identity: Identity | None) -> bool:
    """A contact that signs in: anything from an unbound user, or a bound user's own card.

    A bound user's card of somebody else is a client, and belongs to lead capture.
    """
    if message.contact is None:
        return False
    own = message.from_user is not None and message.contact.user_id == message.from_user.id
    return identity is None or own


def build_onboarding_router() -> Router:
    """A fresh router for /start and contact sign-in (private chats only)."""
    router = Router(name="onboarding")
    router.message.filter(F.chat.type == "private")
    router.message.register(
        on_start_invite, CommandStart(deep_link=True, magic=F.args.startswith(INVITE_PREFIX))
    )
    router.message.register(on_start, CommandStart())
    router.message.register(on_contact, is_sign_in_contact)
    return router
