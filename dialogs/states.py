"""Every StatesGroup of the bot, and typed helpers that start each dialog."""

from __future__ import annotations

from aiogram.fsm.state import State, StatesGroup
from aiogram_dialog import DialogManager, ShowMode, StartMode


class MainMenu(StatesGroup):
    """The main menu."""

    main = State()


class SettingsDialog(StatesGroup):
    """Personal settings: the language."""

    main = State()


class HoursDialog(StatesGroup):
    """A chat's time zone and working hours, and whether it is quiet outside them."""

    main = State()
    zone = State()
    days = State()
    window = State()


class AdminDialog(StatesGroup):
    """Admin tools: bindings, roles and invites."""

    main = State()
    bindings = State()
    binding = State()
    role = State()
    revoke = State()
    invite_user = State()
    invite_role = State()
    invite_created = State()
    invites = State()
    invite_kind = State()
    blocked = State()


class AdminFields(StatesGroup):
    """Admin tools: custom lead fields (list, create, rename, list values, required, delete)."""

    fields = State()
    field = State()
    rename = State()
    values = State()
    add_values = State()
    value = State()
    value_rename = State()
    value_delete = State()
    delete = State()
    new_type = State()
    new_label = State()
    new_name = State()
    new_values = State()
    new_confirm = State()


class AdminPeople(StatesGroup):
    """Admin tools: chats with subscriptions and undelivered notifications."""

    main = State()
    chats = State()
    chat = State()
    dead = State()


class AdminForm(StatesGroup):
    """Admin tools: which optional fields the capture form asks, in which order."""

    main = State()


class AdminNudges(StatesGroup):
    """Admin tools: when a lead counts as stale for the morning nudges."""

    main = State()


class AdminCard(StatesGroup):
    """Admin tools: the portal's common lead card (show, reset, force, save, apply)."""

    main = State()
    confirm = State()


class LeadCapture(StatesGroup):
    """Creating a lead: the guided form, the duplicate check, the summary."""

    main = State()
    summary = State()
    responsible = State()
    duplicates = State()
    note = State()
    failed = State()
    incoming = State()
    """A contact or a forward arrived while a draft is open: replace, add to it, or keep."""
    ask = State()
    """Asking the owner of a colleague's matching lead to hand it over (an optional note)."""


class LeadSearch(StatesGroup):
    """Finding leads: /find results, "My leads"."""

    main = State()
    query = State()
    my = State()
    responsible = State()


class LeadCard(StatesGroup):
    """One lead's card and its actions (stage, edit, take, note, delete)."""

    main = State()
    stage = State()
    stage_reason = State()
    stage_confirm = State()
    edit = State()
    edit_value = State()
    edit_source = State()
    edit_multi = State()
    edit_multi_item = State()
    edit_multi_value = State()
    note = State()
    delete = State()


class LeadContacts(StatesGroup):
    """The contacts linked to one lead: link, unlink, make primary, create."""

    main = State()
    contact = State()
    search = State()
    found = State()
    create = State()


class LeadProducts(StatesGroup):
    """The product rows of one lead: view, add from the catalogue, remove."""

    main = State()
    row = State()
    search = State()
    found = State()
    quantity = State()
    price = State()


class Subscriptions(StatesGroup):
    """Lead notification subscriptions, opened from the menu."""

    main = State()


LEAD_ID_KEY = "lead_id"
PREFILL_KEY = "prefill"
QUERY_KEY = "query"


async def start_main_menu(manager: DialogManager, *, show_mode: ShowMode = ShowMode.SEND) -> None:
    """Open the main menu as the only dialog of the chat."""
    await manager.start(MainMenu.main, mode=StartMode.RESET_STACK, show_mode=show_mode)


async def start_settings(manager: DialogManager) -> None:
    """Open personal settings on top of whatever is open."""
    await manager.start(SettingsDialog.main)


CHAT_KEY = "chat"
THREAD_KEY = "thread"
PRIVATE_KEY = "private"


async def start_hours(
    manager: DialogManager, chat_id: int, thread_id: int | None, *, private: bool
) -> None:
    """Open the working hours of this chat (or forum topic) on top of whatever is open."""
    await manager.start(
        HoursDialog.main,
        data={CHAT_KEY: chat_id, THREAD_KEY: thread_id, PRIVATE_KEY: private},
    )


async def start_admin(manager: DialogManager) -> None:
    """Open the admin tools on top of whatever is open."""
    await manager.start(AdminDialog.main)


async def start_admin_people(manager: DialogManager) -> None:
    """Open people and chats on top of whatever is open."""
    await manager.start(AdminPeople.main)


async def start_admin_fields(manager: DialogManager) -> None:
    """Open the custom lead fields on top of whatever is open."""
    await manager.start(AdminFields.fields)


async def start_admin_form(manager: DialogManager) -> None:
    """Open the form fields choice on top of whatever is open."""
    await manager.start(AdminForm.main)


async def start_admin_card(manager: DialogManager) -> None:
    """Open the lead card settings on top of whatever is open."""
    await manager.start(AdminCard.main)


THEN_KEY = "then"
THEN_STAGE = "stage"


async def start_lead_card(manager: DialogManager, lead_id: int, *, to_stage: bool = False) -> None:
    """Open a lead's card on top of whatever is open (`to_stage`: right at its stage list)."""
    data: dict[str, object] = {LEAD_ID_KEY: lead_id}
    if to_stage:
        data[THEN_KEY] = THEN_STAGE
    await manager.start(LeadCard.main, data=data)


async def start_lead_search(manager: DialogManager, query: str | None = None) -> None:
    """Open lead lookup: the results for `query`, or the prompt for one."""
    await manager.start(LeadSearch.query, data={QUERY_KEY: query or ""})


async def start_my_leads(manager: DialogManager) -> None:
    """Open the caller's open leads grouped by stage."""
    await manager.start(LeadSearch.my)


async def start_lead_contacts(manager: DialogManager, lead_id: int) -> None:
    """Open the contacts of a lead (returns to the caller when done)."""
    await manager.start(LeadContacts.main, data={LEAD_ID_KEY: lead_id})


async def start_lead_products(manager: DialogManager, lead_id: int) -> None:
    """Open the product rows of a lead (returns to the caller when done)."""
    await manager.start(LeadProducts.main, data={LEAD_ID_KEY: lead_id})


async def start_capture(
    manager: DialogManager, prefill: dict[str, str] | None = None, *, reset: bool = False
) -> None:
    """Open the capture form, optionally prefilled (field code -> value as typed)."""
    await manager.start(
        LeadCapture.main,
        data={PREFILL_KEY: prefill or {}},
        mode=StartMode.RESET_STACK if reset else StartMode.NORMAL,
    )


class OwnerAnswer(StatesGroup):
    """The owner of a lead (or a manager) answers a colleague's request for it."""

    text = State()


REQUEST_ID_KEY = "request_id"


async def start_owner_answer(manager: DialogManager, request_id: int) -> None:
    """Ask for the answer to an owner request (on top of whatever is open)."""
    await manager.start(OwnerAnswer.text, data={REQUEST_ID_KEY: request_id})


class ReportDialog(StatesGroup):
    """/report: the period, then the picture."""

    period = State()
    first_day = State()
    last_day = State()


async def start_report(manager: DialogManager) -> None:
    """Ask for the period of a report (on top of whatever is open)."""
    await manager.start(ReportDialog.period)


class FollowUpDialog(StatesGroup):
    """A follow-up on a lead: when (quick choices or a day and a time), an optional text."""

    when = State()
    day = State()
    time = State()
    text = State()
    created = State()


async def start_follow_up(manager: DialogManager, lead_id: int) -> None:
    """Plan a follow-up on a lead (returns to the caller when done)."""
    await manager.start(FollowUpDialog.when, data={LEAD_ID_KEY: lead_id})


class AssignLead(StatesGroup):
    """A manager assigns a lead nobody took to a rep, picked from a list."""

    pick = State()


ORIGIN_KEY = "origin"


async def start_assign_lead(manager: DialogManager, lead_id: int, origin: tuple[int, int]) -> None:
    """Ask whom to assign a lead to (on top of whatever is open); `origin` is the (chat,
    message) pressed, settled once the lead is assigned."""
    await manager.start(AssignLead.pick, data={LEAD_ID_KEY: lead_id, ORIGIN_KEY: list(origin)})
