"""`t.me/<bot>?start=lead_<id>`: open a lead's card in the private chat, after the check."""

from __future__ import annotations

import re

from aiogram import F, Router
from aiogram.filters import CommandObject, CommandStart
from aiogram.types import Message
from aiogram_dialog import DialogManager

from bot.access.roles import Identity
from bot.i18n import Translator
from dialogs.onboarding import on_start
from dialogs.states import start_lead_card

LEAD_PREFIX = "lead_"
_PAYLOAD = re.compile(r"^lead_(\d{1,10})$")


def lead_payload(lead_id: int) -> str:
    """The /start payload that opens a lead's card."""
    return f"{LEAD_PREFIX}{int(lead_id)}"


def lead_id_of(payload: str | None) -> int | None:
    """The lead id of a `lead_<id>` payload, or None."""
    match = _PAYLOAD.match(payload or "")
    return int(match.group(1)) if match else None


async def on_start_lead(
    message: Message,
    command: CommandObject,
    identity: Identity | None,
    tr: Translator,
    dialog_manager: DialogManager,
) -> None:
    """Open the card for a bound user (its loading checks visibility); greet others."""
    lead_id = lead_id_of(command.args)
    if identity is None or lead_id is None:
        await on_start(message, identity, tr, dialog_manager)
        return
    await start_lead_card(dialog_manager, lead_id)


def build_deeplinks_router() -> Router:
    """A fresh router for lead deep links (include it before onboarding's /start)."""
    router = Router(name="lead_deeplinks")
    router.message.filter(F.chat.type == "private")
    router.message.register(
        on_start_lead, CommandStart(deep_link=True, magic=F.args.startswith(LEAD_PREFIX))
    )
    return router
