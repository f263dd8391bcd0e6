"""Lead capture: /new, the menu button, a shared contact or a forwarded message open a form.

The form asks the portal's required fields and the admin's optional ones one by one, shows a
summary where every answer can be changed, checks the portal for duplicates by phone and
e-mail, and has `CaptureService` create the lead (the draft keeps its ORIGIN_ID, so "Try
again" after a portal failure looks the lead up first). The draft (`CaptureDraft`, as plain
data) lives in dialog_data, i.e. in SQLite.
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import Any

from aiogram import Bot, F, Router
from aiogram.enums import ContentType
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message
from aiogram_dialog import ChatEvent, Dialog, DialogManager, ShowMode, Window
from aiogram_dialog.widgets.input import MessageInput
from aiogram_dialog.widgets.kbd import (
    Button,
    Calendar,
    Column,
    ManagedCalendar,
    Row,
    ScrollingGroup,
    Select,
    SwitchTo,
)
from aiogram_dialog.widgets.text import Format

from bot.access.roles import Action, Identity
from bot.access.service import AccessDenied, AccessService
from bot.config import Settings
from bot.i18n import Translator
from bot.leads.capture import (
    CaptureDraft,
    CaptureFailed,
    CaptureService,
    CreateInProgress,
    FailureKind,
    age,
)
from bot.leads.form import (
    LONG_TEXT_LIMIT,
    FieldKind,
    FormField,
    FormValue,
    InputRejected,
    choose,
    display_value,
    missing_required,
    parse_text,
    parse_typed,
)
from bot.leads.links import lead_url, portal_origin
from bot.leads.owner_requests import NOTE_LIMIT as OWNER_NOTE_LIMIT
from bot.leads.owner_requests import ClientDetails, OwnerRequestService
from bot.leads.quick import forwarded_prefill, merge_prefill
from bot.leads.visibility import LeadHiddenError
from bot.ops.status import CrmModeWatch
from bot.phones import normalize_contact_phone
from dialogs.errors import portal_problem
from dialogs.states import (
    PREFILL_KEY,
    LeadCapture,
    start_capture,
    start_lead_card,
    start_main_menu,
)
from dialogs.widgets import Notice, Tr, caller, clear_notice, set_notice, translator

log = logging.getLogger(__name__)

CALENDAR_ID = "cap_date"
CHOICE_ID = "cap_choice"
CHOICES_SCROLL_ID = "cap_choices"
YES_ID = "cap_yes"
NO_ID = "cap_no"
SKIP_ID = "cap_skip"
TO_SUMMARY_ID = "cap_to_summary"
CANCEL_ID = "cap_cancel"
EDIT_ID = "cap_edit"
EDIT_SCROLL_ID = "cap_edit_scroll"
RESPONSIBLE_ID = "cap_responsible"
RESPONSIBLE_SELECT_ID = "cap_resp_user"
RESPONSIBLE_SCROLL_ID = "cap_resp_scroll"
CREATE_ID = "cap_create"
CREATE_ANYWAY_ID = "cap_create_anyway"
ASK_ID = "cap_ask"
ASK_SEND_ID = "cap_ask_send"
ASK_BACK_ID = "cap_ask_back"
ASK_LEAD_KEY = "ask_lead"
OWNER_LABEL_LIMIT = 30
OPEN_ID = "cap_open"
NOTE_ID = "cap_note"
RETRY_ID = "cap_retry"
BACK_ID = "cap_back"
DUP_BACK_ID = "cap_dup_back"
FAIL_BACK_ID = "cap_fail_back"
NOTE_BACK_ID = "cap_note_back"
CLEAR_ID = "cap_clear"
REPLACE_ID = "cap_in_replace"
MERGE_ID = "cap_in_merge"
KEEP_ID = "cap_in_keep"

DRAFT_KEY = "draft"
POSITION_KEY = "position"
EDITING_KEY = "editing"
REJECTED_KEY = "rejected"
MATCHES_KEY = "matches"
FAILURE_KEY = "failure"
NOTE_LEAD_KEY = "note_lead"
INCOMING_KEY = "incoming"
INCOMING_BACK_KEY = "incoming_back"
QUERY_KEY = "query"

SUMMARY_VALUE_LIMIT = 200
"""Characters of one answer shown in the summary (the whole answer is still sent)."""
DUPLICATE_TITLE_LIMIT = 100
BUTTON_TITLE_LIMIT = 40
NOTE_LIMIT = 3000
PAGE_HEIGHT = 8


# --- helpers ---------------------------------------------------------------------------------


def _capture(manager: DialogManager) -> CaptureService:
    capture: CaptureService = manager.middleware_data["capture"]
    return capture


def _region(manager: DialogManager) -> str:
    settings: Settings = manager.middleware_data["settings"]
    return settings.default_phone_region


def _draft(manager: DialogManager) -> CaptureDraft:
    return CaptureDraft.from_data(manager.dialog_data[DRAFT_KEY])


def _save_draft(manager: DialogManager, draft: CaptureDraft) -> None:
    manager.dialog_data[DRAFT_KEY] = draft.to_data()


def _values(manager: DialogManager) -> dict[str, FormValue]:
    """The draft's answers as stored in dialog_data (changes here are kept)."""
    values: dict[str, FormValue] = manager.dialog_data[DRAFT_KEY]["values"]
    return values


async def _form(manager: DialogManager) -> list[FormField]:
    return await _capture(manager).form(_draft(manager).codes)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _next_position(form: list[FormField], values: dict[str, Any], after: int) -> int | None:
    """The next question without an answer after position `after` (None: go to summary)."""
    for index in range(after + 1, len(form)):
        if values.get(form[index].code) is None:
            return index
    return None


async def _advance(manager: DialogManager, form: list[FormField]) -> None:
    """After an answer: back to the summary when editing, else the next open question."""
    data = manager.dialog_data
    data[REJECTED_KEY] = None
    if data.get(EDITING_KEY):
        data[EDITING_KEY] = False
        await manager.switch_to(LeadCapture.summary)
        return
    position = _next_position(form, _values(manager), int(data.get(POSITION_KEY, -1)))
    if position is None:
        await manager.switch_to(LeadCapture.summary)
        return
    data[POSITION_KEY] = position


def _current_field(manager: DialogManager, form: list[FormField]) -> FormField | None:
    position = int(manager.dialog_data.get(POSITION_KEY, 0))
    return form[position] if 0 <= position < len(form) else None


async def _store_answer(manager: DialogManager, value: Any, kind: FieldKind) -> None:
    form = await _form(manager)
    field = _current_field(manager, form)
    if field is None:
        await manager.switch_to(LeadCapture.summary)
        return
    if field.kind is not kind:
        # A hidden button's data sent anyway: its answer does not fit this field.
        _reject(manager, InputRejected("capture-error-use-text"))
        return
    _values(manager)[field.code] = value
    await _advance(manager, form)


def _reject(manager: DialogManager, error: InputRejected) -> None:
    manager.dialog_data[REJECTED_KEY] = {
        "reason": error.reason,
        "args": dict(error.args_for_message),
    }


def _title_of(tr: Translator, title: str, lead_id: int) -> str:
    return title.strip() or tr.get("lead-title", id=lead_id)


# --- starting ------------------------------------------------------------------------------


async def on_capture_start(start_data: Any, manager: DialogManager) -> None:
    """Build the form from the portal's fields and take what the prefill offers."""
    crm: CrmModeWatch = manager.middleware_data["crm_mode"]
    if not await crm.leads_enabled():
        # In simple CRM mode a new lead turns into a deal at once: say so, ask nothing.
        chat = manager.middleware_data["event_chat"]
        await manager.middleware_data["bot"].send_message(
            chat.id, translator(manager).get_html("capture-simple-mode")
        )
        await manager.done()
        return
    prefill = start_data.get(PREFILL_KEY) if isinstance(start_data, dict) else None
    form, draft = await _capture(manager).new_draft(
        caller(manager), prefill or {}, _region(manager)
    )
    _save_draft(manager, draft)
    manager.dialog_data.update({POSITION_KEY: -1, EDITING_KEY: False})
    position = _next_position(form, draft.values, -1)
    if position is None:
        await manager.switch_to(LeadCapture.summary)
        return
    manager.dialog_data[POSITION_KEY] = position


# --- the question window -------------------------------------------------------------------


async def get_question(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    """The current question: its caption, a hint, why the last answer was refused."""
    tr = translator(dialog_manager)
    form = await _form(dialog_manager)
    field = _current_field(dialog_manager, form)
    if field is None:
        # The portal dropped the field meanwhile: nothing to ask, offer the summary.
        return {"text": tr.get_html("capture-summary-hint"), "editing": True}
    data = dialog_manager.dialog_data
    editing = bool(data.get(EDITING_KEY))
    lines: list[str] = []
    if not editing:
        position = int(data.get(POSITION_KEY, 0))
        lines.append(tr.get_html("capture-step", step=position + 1, total=len(form)))
    rejected = data.get(REJECTED_KEY)
    if isinstance(rejected, dict):
        lines.append(tr.get_html(str(rejected["reason"]), **rejected.get("args", {})))
    key = "capture-question-required" if field.required else "capture-question"
    lines.append(tr.get_html(key, field=field.label))
    current = _values(dialog_manager).get(field.code)
    if current is not None:
        shown = _cut(display_value(field, current), SUMMARY_VALUE_LIMIT)
        lines.append(tr.get_html("capture-current-value", value=shown))
    lines.append(tr.get_html(field.hint_key))
    choices = [
        (_cut(choice.label, BUTTON_TITLE_LIMIT), str(index))
        for index, choice in enumerate(field.choices)
    ]
    return {
        "text": "\n".join(lines),
        "is_date": field.kind is FieldKind.DATE,
        "is_yes_no": field.kind is FieldKind.YES_NO,
        "is_choice": field.kind is FieldKind.CHOICE,
        "choices": choices,
        "skippable": not field.required and not editing,
        "clearable": not field.required and editing,
        "editing": editing,
    }


async def on_text_answer(message: Message, _: MessageInput, manager: DialogManager) -> None:
    """A typed answer: read it for the current field, or say why not and ask again."""
    form = await _form(manager)
    field = _current_field(manager, form)
    if field is None:
        await manager.switch_to(LeadCapture.summary)
        return
    try:
        value = parse_typed(field, message.text or "", _region(manager))
    except InputRejected as error:
        _reject(manager, error)
        return
    _values(manager)[field.code] = value
    await _advance(manager, form)


async def on_other_content(message: Message, _: MessageInput, manager: DialogManager) -> None:
    """A photo, sticker... is no answer."""
    _reject(manager, InputRejected("capture-error-use-text"))


async def on_date_picked(
    _: ChatEvent, __: ManagedCalendar, manager: DialogManager, picked: date
) -> None:
    """A date from the calendar."""
    await _store_answer(manager, picked.isoformat(), FieldKind.DATE)


async def on_yes(_: CallbackQuery, __: Button, manager: DialogManager) -> None:
    """Yes."""
    await _store_answer(manager, True, FieldKind.YES_NO)


async def on_no(_: CallbackQuery, __: Button, manager: DialogManager) -> None:
    """No."""
    await _store_answer(manager, False, FieldKind.YES_NO)


async def on_choice(
    _: CallbackQuery, __: Select[str], manager: DialogManager, item_id: str
) -> None:
    """One of the list's options (the button carries its position, not the portal's id)."""
    form = await _form(manager)
    field = _current_field(manager, form)
    if field is None or not item_id.isdigit() or int(item_id) >= len(field.choices):
        _reject(manager, InputRejected("capture-error-choice"))
        return
    try:
        value = choose(field, field.choices[int(item_id)].id)
    except InputRejected as error:
        _reject(manager, error)
        return
    _values(manager)[field.code] = value
    await _advance(manager, form)


async def on_skip(_: CallbackQuery, __: Button, manager: DialogManager) -> None:
    """Leave an optional field empty; a required one cannot be skipped."""
    form = await _form(manager)
    field = _current_field(manager, form)
    if field is None:
        await manager.switch_to(LeadCapture.summary)
        return
    if field.required:
        _reject(manager, InputRejected("capture-error-required"))
        return
    _values(manager).pop(field.code, None)
    await _advance(manager, form)


async def on_back_to_summary(_: CallbackQuery, __: Button, manager: DialogManager) -> None:
    """Leave the field as it was."""
    manager.dialog_data[EDITING_KEY] = False
    manager.dialog_data[REJECTED_KEY] = None
    await manager.switch_to(LeadCapture.summary)


async def on_cancel(callback: CallbackQuery, _: Button, manager: DialogManager) -> None:
    """Drop the draft and go back to the menu."""
    tr = translator(manager)
    if isinstance(callback.message, Message):
        await callback.message.answer(tr.get_html("cancel-done"))
    await start_main_menu(manager)


# --- the summary ---------------------------------------------------------------------------


async def _user_name(manager: DialogManager, portal_user_id: int) -> str:
    access: AccessService = manager.middleware_data["access"]
    user = await access.directory.active_user(portal_user_id)
    return user.full_name if user is not None and user.full_name else f"#{portal_user_id}"


async def get_summary(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    """Every answer, the responsible user, and a button per field to change it."""
    tr = translator(dialog_manager)
    form = await _form(dialog_manager)
    values = _values(dialog_manager)
    identity = caller(dialog_manager)
    lines = [tr.get_html("capture-summary-title"), ""]
    # A long form gets shorter excerpts, so the summary stays one Telegram message.
    limit = SUMMARY_VALUE_LIMIT if len(form) <= 12 else SUMMARY_VALUE_LIMIT * 12 // len(form)
    for field in form:
        value = values.get(field.code)
        label = _cut(field.label, BUTTON_TITLE_LIMIT)
        if value is None:
            lines.append(tr.get_html("capture-summary-empty-line", field=label))
        else:
            shown = _cut(display_value(field, value), max(limit, 20))
            lines.append(tr.get_html("capture-summary-line", field=label, value=shown))
    name = await _user_name(dialog_manager, _draft(dialog_manager).assigned_by_id)
    lines += [
        tr.get_html("capture-summary-responsible", name=name),
        "",
        tr.get_html("capture-summary-hint"),
    ]
    fields = [
        (tr.get("capture-edit-label", field=_cut(field.label, BUTTON_TITLE_LIMIT)), str(index))
        for index, field in enumerate(form)
    ]
    return {
        "text": "\n".join(lines),
        "fields": fields,
        "may_assign": identity.may(Action.ASSIGN_TO_OTHERS),
        "responsible_label": tr.get(
            "capture-responsible-label", name=_cut(name, BUTTON_TITLE_LIMIT)
        ),
    }


async def on_edit_field(
    _: CallbackQuery, __: Select[str], manager: DialogManager, item_id: str
) -> None:
    """Change one answer from the summary."""
    form = await _form(manager)
    if not item_id.isdigit() or int(item_id) >= len(form):
        return
    manager.dialog_data[POSITION_KEY] = int(item_id)
    manager.dialog_data[EDITING_KEY] = True
    manager.dialog_data[REJECTED_KEY] = None
    await manager.switch_to(LeadCapture.main)


async def get_responsible(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    """Active portal users matching the search (none for a rep who got here anyway)."""
    query = str(dialog_manager.dialog_data.get(QUERY_KEY, ""))
    access: AccessService = dialog_manager.middleware_data["access"]
    may_assign = caller(dialog_manager).may(Action.ASSIGN_TO_OTHERS)
    users = await access.directory.search(query) if may_assign else []
    items = [
        (_cut(u.full_name or f"#{u.id}", BUTTON_TITLE_LIMIT), str(u.id))
        for u in users
        if u.id is not None
    ]
    return {"users": items, "query": query, "nobody": bool(query) and not items}


async def on_responsible_search(message: Message, _: MessageInput, manager: DialogManager) -> None:
    """Narrow the list of users by part of a name."""
    manager.dialog_data[QUERY_KEY] = (message.text or "")[:64]


async def on_responsible_picked(
    _: CallbackQuery, __: Select[str], manager: DialogManager, item_id: str
) -> None:
    """Make another active portal user responsible (managers and admins only)."""
    identity = caller(manager)
    if not identity.may(Action.ASSIGN_TO_OTHERS):
        raise AccessDenied(Action.ASSIGN_TO_OTHERS.value)
    access: AccessService = manager.middleware_data["access"]
    if item_id.isdigit() and await access.directory.active_user(int(item_id)) is not None:
        draft = _draft(manager)
        draft.assigned_by_id = int(item_id)
        _save_draft(manager, draft)
    manager.dialog_data[QUERY_KEY] = ""
    await manager.switch_to(LeadCapture.summary)


# --- duplicates and creating ---------------------------------------------------------------


async def on_create(callback: CallbackQuery, _: Button, manager: DialogManager) -> None:
    """Check for duplicates first; create the lead when there are none."""
    form = await _form(manager)
    draft = _draft(manager)
    missing = missing_required(form, draft.values)
    if missing:
        manager.dialog_data[POSITION_KEY] = form.index(missing[0])
        manager.dialog_data[EDITING_KEY] = True
        _reject(manager, InputRejected("capture-error-required"))
        await manager.switch_to(LeadCapture.main)
        return
    identity = caller(manager)
    capture = _capture(manager)
    if capture.creating(identity, draft):
        await _already_creating(callback, manager)
        return
    capture.check_assignee(identity, draft.assigned_by_id)
    if draft.phones or draft.emails:
        duplicates = await capture.find_duplicates(identity, draft.phones, draft.emails)
        if not duplicates.empty:
            manager.dialog_data[MATCHES_KEY] = {
                "leads": [
                    {
                        "id": lead.id,
                        "title": lead.title,
                        "status_id": lead.status_id,
                        "assigned_by_id": lead.assigned_by_id,
                        "created": lead.created.isoformat() if lead.created else None,
                        "visible": lead.visible,
                    }
                    for lead in duplicates.leads
                ],
                "contacts": [{"id": c.id, "name": c.name} for c in duplicates.contacts],
            }
            clear_notice(manager)
            await manager.switch_to(LeadCapture.duplicates)
            return
    await _create(callback, manager)


async def on_create_anyway(callback: CallbackQuery, _: Button, manager: DialogManager) -> None:
    """The rep saw the duplicates and still wants a new lead."""
    await _create(callback, manager)


async def on_retry(callback: CallbackQuery, _: Button, manager: DialogManager) -> None:
    """Try the same draft again (same ORIGIN_ID: a lead made meanwhile is found, not doubled)."""
    await _create(callback, manager)


async def _already_creating(callback: CallbackQuery, manager: DialogManager) -> None:
    # A second tap while the first is at the portal: say so, change nothing.
    manager.show_mode = ShowMode.NO_UPDATE
    await callback.answer(translator(manager).get("capture-already-creating"))


async def _create(callback: CallbackQuery, manager: DialogManager) -> None:
    identity = caller(manager)
    draft = _draft(manager)
    form = await _form(manager)
    try:
        lead_id = await _capture(manager).create_lead(identity, draft, form)
    except CreateInProgress:
        await _already_creating(callback, manager)
        return
    except CaptureFailed as failure:
        _save_draft(manager, draft)  # it now says an attempt was made
        key, args = portal_problem(failure.error) if failure.error else ("", {})
        manager.dialog_data[FAILURE_KEY] = {"kind": failure.kind.value, "key": key, "args": args}
        await manager.switch_to(LeadCapture.failed)
        return
    tr = translator(manager)
    title = _title_of(tr, str(draft.values.get("TITLE") or ""), lead_id)
    settings: Settings = manager.middleware_data["settings"]
    origin = portal_origin(settings.portal)
    text = (
        tr.get_html("capture-created", title=title, link=lead_url(origin, lead_id))
        if origin
        else tr.get_html("capture-created-no-link", title=title)
    )
    bot: Bot = manager.middleware_data["bot"]
    if isinstance(callback.message, Message):
        await bot.send_message(callback.message.chat.id, text)
    log.info("lead %d created by telegram user %d", lead_id, identity.telegram_user_id)
    await manager.done(show_mode=ShowMode.NO_UPDATE)
    manager.show_mode = ShowMode.SEND
    await start_lead_card(manager, lead_id)


def _stored_matches(manager: DialogManager) -> dict[str, list[dict[str, Any]]]:
    matches = manager.dialog_data.get(MATCHES_KEY) or {}
    return {"leads": list(matches.get("leads", [])), "contacts": list(matches.get("contacts", []))}


async def get_duplicates(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    """The matches; only the rep's own leads (or any, for managers) can be opened or noted."""
    tr = translator(dialog_manager)
    identity = caller(dialog_manager)
    capture = _capture(dialog_manager)
    matches = _stored_matches(dialog_manager)
    now = capture.now()
    lines = [tr.get_html("capture-duplicates-title"), ""]
    openable: list[tuple[str, str]] = []
    notable: list[tuple[str, str]] = []
    askable: list[tuple[str, str]] = []
    for lead in matches["leads"]:
        lead_id = int(lead["id"])
        owner_id = lead.get("assigned_by_id")
        owner = await _user_name(dialog_manager, int(owner_id)) if owner_id else "—"
        created = lead.get("created")
        key, count = age(datetime.fromisoformat(created) if created else None, now)
        if not lead.get("visible") or not identity.may_see_lead(
            int(owner_id) if owner_id else None
        ):
            # Somebody else's lead: that it exists, whose it is and how old; not what it is.
            lines.append(
                tr.get_html(
                    "capture-duplicate-lead-hidden", owner=owner, age=tr.get(key, count=count)
                )
            )
            if owner_id:
                label = tr.get("owner-ask-label", owner=_cut(owner, OWNER_LABEL_LIMIT))
                askable.append((label, str(lead_id)))
            continue
        title = _title_of(tr, str(lead.get("title") or ""), lead_id)
        lines.append(
            tr.get_html(
                "capture-duplicate-lead",
                title=_cut(title, DUPLICATE_TITLE_LIMIT),
                stage=await capture.stage_name(str(lead.get("status_id") or "")),
                owner=owner,
                age=tr.get(key, count=count),
            )
        )
        short = _cut(title, BUTTON_TITLE_LIMIT)
        openable.append((tr.get("capture-open-label", title=short), str(lead_id)))
        notable.append((tr.get("capture-note-label", title=short), str(lead_id)))
    for contact in matches["contacts"]:
        name = str(contact.get("name") or "") or f"#{contact['id']}"
        lines.append(tr.get_html("capture-duplicate-contact", name=_cut(name, 100)))
    # Only offer to open or note a lead when one of them is the caller's to open.
    hint = "capture-duplicates-hint" if openable else "capture-duplicates-hint-others"
    lines += ["", tr.get_html(hint)]
    return {
        "text": "\n".join(lines),
        "openable": openable,
        "notable": notable,
        "askable": askable,
    }


def _visible_match(manager: DialogManager, item_id: str) -> dict[str, Any]:
    """A match the caller may act on; ids from buttons are checked against the stored list."""
    identity = caller(manager)
    lead_id = int(item_id) if item_id.isdigit() else 0
    for lead in _stored_matches(manager)["leads"]:
        if int(lead["id"]) == lead_id and lead.get("visible"):
            owner = lead.get("assigned_by_id")
            if identity.may_see_lead(int(owner) if owner else None):
                return lead
    raise LeadHiddenError(lead_id)


async def on_open_match(
    _: CallbackQuery, __: Select[str], manager: DialogManager, item_id: str
) -> None:
    """Open one of the rep's matching leads (the draft stays underneath)."""
    lead = _visible_match(manager, item_id)
    await start_lead_card(manager, int(lead["id"]))


async def on_note_match(
    _: CallbackQuery, __: Select[str], manager: DialogManager, item_id: str
) -> None:
    """Add a note to a matching lead instead of creating a new one."""
    lead = _visible_match(manager, item_id)
    manager.dialog_data[NOTE_LEAD_KEY] = int(lead["id"])
    await manager.switch_to(LeadCapture.note)


async def get_note(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    """Which lead the note goes to."""
    tr = translator(dialog_manager)
    lead_id = int(dialog_manager.dialog_data.get(NOTE_LEAD_KEY, 0))
    lead = next(
        (m for m in _stored_matches(dialog_manager)["leads"] if int(m["id"]) == lead_id), {}
    )
    title = _title_of(tr, str(lead.get("title") or ""), lead_id)
    rejected = dialog_manager.dialog_data.get(REJECTED_KEY)
    lines = []
    if isinstance(rejected, dict):
        lines.append(tr.get_html(str(rejected["reason"]), **rejected.get("args", {})))
    lines.append(tr.get_html("capture-note-prompt", title=_cut(title, SUMMARY_VALUE_LIMIT)))
    return {"text": "\n".join(lines)}


async def on_note_text(message: Message, _: MessageInput, manager: DialogManager) -> None:
    """Put the note on the lead's timeline, after checking again that the rep may see it."""
    try:
        text = parse_text(message.text or "", min(NOTE_LIMIT, LONG_TEXT_LIMIT), one_line=False)
    except InputRejected as error:
        _reject(manager, error)
        return
    lead_id = int(manager.dialog_data.get(NOTE_LEAD_KEY, 0))
    lead_title = await _capture(manager).add_note(caller(manager), lead_id, text)
    tr = translator(manager)
    title = _title_of(tr, lead_title, lead_id)
    await message.answer(tr.get_html("capture-note-added", title=_cut(title, 200)))
    await start_main_menu(manager)


def _hidden_match(manager: DialogManager, item_id: str) -> dict[str, Any]:
    """A colleague's match (ids from buttons are checked against the stored list)."""
    lead_id = int(item_id) if item_id.isdigit() else 0
    for lead in _stored_matches(manager)["leads"]:
        if int(lead["id"]) == lead_id and lead.get("assigned_by_id"):
            return lead
    raise LeadHiddenError(lead_id)


async def on_ask_match(
    _: CallbackQuery, __: Select[str], manager: DialogManager, item_id: str
) -> None:
    """Ask the owner of a colleague's matching lead for it: first an optional note."""
    lead = _hidden_match(manager, item_id)
    manager.dialog_data[ASK_LEAD_KEY] = int(lead["id"])
    manager.dialog_data[REJECTED_KEY] = None
    clear_notice(manager)
    await manager.switch_to(LeadCapture.ask)


async def _asked_owner(manager: DialogManager) -> tuple[int, str]:
    lead = _hidden_match(manager, str(manager.dialog_data.get(ASK_LEAD_KEY, 0)))
    return int(lead["id"]), await _user_name(manager, int(lead["assigned_by_id"]))


async def get_ask(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    """Whom the request goes to."""
    owner = (await _asked_owner(dialog_manager))[1]
    tr = translator(dialog_manager)
    lines = []
    rejected = dialog_manager.dialog_data.get(REJECTED_KEY)
    if isinstance(rejected, dict):
        lines.append(tr.get_html(str(rejected["reason"]), **rejected.get("args", {})))
    lines.append(tr.get_html("owner-ask-prompt", owner=owner))
    return {"text": "\n".join(lines)}


async def _ask(manager: DialogManager, note: str) -> None:
    lead_id, owner = await _asked_owner(manager)
    draft = _draft(manager)
    values = draft.values
    name = " ".join(str(values.get(code) or "") for code in ("NAME", "LAST_NAME")).strip()
    client = ClientDetails(
        name=name,
        company=str(values.get("COMPANY_TITLE") or ""),
        phones=tuple(draft.phones),
        emails=tuple(draft.emails),
    )
    requests: OwnerRequestService = manager.middleware_data["owner_requests"]
    outcome = await requests.ask(caller(manager), lead_id, client, note)
    set_notice(manager, f"owner-ask-{outcome.value}", owner=owner)
    await manager.switch_to(LeadCapture.duplicates)


async def on_ask_text(message: Message, _: MessageInput, manager: DialogManager) -> None:
    """The note for the owner; then the request goes."""
    try:
        note = parse_text(message.text or "", OWNER_NOTE_LIMIT, one_line=False)
    except InputRejected as error:
        _reject(manager, error)
        return
    await _ask(manager, note)


async def on_ask_without_note(_: CallbackQuery, __: Button, manager: DialogManager) -> None:
    """Send the request as it is."""
    await _ask(manager, "")


async def get_failure(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    """Why the lead was not created; the draft is kept."""
    tr = translator(dialog_manager)
    failure = dialog_manager.dialog_data.get(FAILURE_KEY) or {}
    kind = str(failure.get("kind") or FailureKind.PROBLEM.value)
    key = str(failure.get("key") or "error-portal-unreachable")
    args = {str(k): str(v) for k, v in dict(failure.get("args") or {}).items()}
    if kind == FailureKind.REFUSED.value:
        text = tr.get_html("capture-failed-refused", reason=args.get("reason", ""))
    elif kind == FailureKind.UNCONFIRMED.value:
        text = tr.get_html("capture-failed-unconfirmed")
    elif kind == FailureKind.PENDING.value:
        text = tr.get_html("capture-failed-pending")
    elif key == "error-portal-unreachable":
        text = tr.get_html("capture-failed-unreachable")
    else:
        text = "\n".join(
            (tr.get_html(key, **args), tr.get_html("capture-failed-problem-draft-kept"))
        )
    return {"text": text}


# --- quick capture: a shared contact, a forwarded message -----------------------------------


def is_client_contact(message: Message, identity: Identity | None) -> bool:
    """A bound user's contact card of somebody else: a client to capture."""
    if message.contact is None or identity is None:
        return False
    return message.from_user is None or message.contact.user_id != message.from_user.id


async def on_new(message: Message, dialog_manager: DialogManager) -> None:
    """/new: an empty form."""
    await start_capture(dialog_manager, reset=True)


async def on_client_contact(
    message: Message, settings: Settings, dialog_manager: DialogManager
) -> None:
    """A shared contact starts the form with the name and phone filled in."""
    contact = message.contact
    assert contact is not None
    prefill: dict[str, str] = {}
    if contact.first_name:
        prefill["NAME"] = contact.first_name
    if contact.last_name:
        prefill["LAST_NAME"] = contact.last_name
    phone = normalize_contact_phone(contact.phone_number, settings.default_phone_region)
    if phone is not None:
        prefill["PHONE"] = phone
    await _start_or_offer(dialog_manager, prefill)


async def on_forwarded(
    message: Message, identity: Identity | None, settings: Settings, dialog_manager: DialogManager
) -> None:
    """A forwarded message starts the form: the sender's name split in two, the phone and
    e-mail written in the text in their fields, the whole text as the comment."""
    if identity is None:
        return
    origin = message.forward_origin
    sender = getattr(origin, "sender_user", None)
    hidden_name = getattr(origin, "sender_user_name", None)
    first_name = last_name = ""
    if sender is not None and not sender.is_bot:
        first_name, last_name = sender.first_name, sender.last_name or ""
    elif isinstance(hidden_name, str):
        first_name = hidden_name
    prefill = forwarded_prefill(
        first_name=first_name,
        last_name=last_name,
        text=message.text or message.caption or "",
        region=settings.default_phone_region,
    )
    await _start_or_offer(dialog_manager, prefill)


def _open_draft(manager: DialogManager) -> bool:
    """True when the user is in a capture form that already has answers."""
    if not manager.has_context():
        return False
    context = manager.current_context()
    if context.state == LeadCapture.incoming:
        return True  # still asking about earlier details: ask about the newest instead
    if context.state.group is not LeadCapture:
        return False
    draft = context.dialog_data.get(DRAFT_KEY)
    return isinstance(draft, dict) and bool(draft.get("values"))


async def _start_or_offer(manager: DialogManager, prefill: dict[str, str]) -> None:
    """A new form, or, over a half-filled draft, the question what to do with the details."""
    if not _open_draft(manager):
        await start_capture(manager, prefill, reset=True)
        return
    data = manager.current_context().dialog_data
    if manager.current_context().state != LeadCapture.incoming:
        data[INCOMING_BACK_KEY] = manager.current_context().state.state
    data[INCOMING_KEY] = prefill
    await manager.switch_to(LeadCapture.incoming, show_mode=ShowMode.SEND)
    await manager.show()  # outside the dialog's own handlers nothing renders by itself


async def get_incoming(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    """The details that arrived, and the question what to do with them."""
    tr = translator(dialog_manager)
    incoming = _incoming(dialog_manager)
    labels = {field.code: field.label for field in await _form(dialog_manager)}
    lines = [tr.get_html("capture-incoming-title"), ""]
    for code, value in incoming.items():
        if code in labels:
            shown = _cut(str(value), SUMMARY_VALUE_LIMIT)
            lines.append(tr.get_html("capture-summary-line", field=labels[code], value=shown))
    lines += ["", tr.get_html("capture-incoming-question")]
    return {"text": "\n".join(lines)}


async def _back_from_incoming(manager: DialogManager) -> None:
    back = manager.dialog_data.pop(INCOMING_BACK_KEY, None)
    manager.dialog_data.pop(INCOMING_KEY, None)
    state = next((s for s in LeadCapture.__states__ if s.state == back), LeadCapture.summary)
    await manager.switch_to(state if state != LeadCapture.incoming else LeadCapture.summary)


def _incoming(manager: DialogManager) -> dict[str, str]:
    stored = manager.dialog_data.get(INCOMING_KEY)
    return {str(k): str(v) for k, v in stored.items()} if isinstance(stored, dict) else {}


async def on_incoming_replace(_: CallbackQuery, __: Button, manager: DialogManager) -> None:
    """Drop the open draft and start a new one from the details."""
    await start_capture(manager, _incoming(manager), reset=True)


async def on_incoming_merge(_: CallbackQuery, __: Button, manager: DialogManager) -> None:
    """Fill the draft's empty fields with the details (a comment is appended)."""
    prefill = {
        str(k): str(v) for k, v in dict(manager.dialog_data.get(INCOMING_KEY) or {}).items()
    }
    draft = _draft(manager)
    form = await _form(manager)
    draft.values, _changed = merge_prefill(form, draft.values, prefill, _region(manager))
    _save_draft(manager, draft)
    manager.dialog_data.pop(INCOMING_KEY, None)
    manager.dialog_data.pop(INCOMING_BACK_KEY, None)
    manager.dialog_data[EDITING_KEY] = False
    await manager.switch_to(LeadCapture.summary)


async def on_incoming_keep(_: CallbackQuery, __: Button, manager: DialogManager) -> None:
    """Ignore the details; the draft stays as it was, where it was."""
    await _back_from_incoming(manager)


def build_capture_router() -> Router:
    """A fresh router for /new and quick capture (private chats only).

    It goes before the dialogs, so a contact card or a forward starts a new lead from any
    open dialog.
    """
    router = Router(name="capture")
    router.message.filter(F.chat.type == "private")
    router.message.register(on_new, Command("new"))
    router.message.register(on_client_contact, F.contact, is_client_contact)
    router.message.register(on_forwarded, F.forward_origin)
    return router


# --- the dialog ------------------------------------------------------------------------------


def _cancel() -> Button:
    return Button(Tr("button-cancel"), id=CANCEL_ID, on_click=on_cancel)


def build_capture_dialog() -> Dialog:
    """A fresh lead capture dialog."""
    return Dialog(
        Window(
            Format("{text}"),
            Calendar(id=CALENDAR_ID, on_click=on_date_picked, when="is_date"),
            Row(
                Button(Tr("capture-yes-button"), id=YES_ID, on_click=on_yes),
                Button(Tr("capture-no-button"), id=NO_ID, on_click=on_no),
                when="is_yes_no",
            ),
            ScrollingGroup(
                Select(
                    Format("{item[0]}"),
                    id=CHOICE_ID,
                    item_id_getter=lambda item: item[1],
                    items="choices",
                    on_click=on_choice,
                ),
                id=CHOICES_SCROLL_ID,
                width=2,
                height=PAGE_HEIGHT,
                hide_on_single_page=True,
                when="is_choice",
            ),
            Button(Tr("capture-skip-button"), id=SKIP_ID, on_click=on_skip, when="skippable"),
            Button(Tr("capture-clear-button"), id=CLEAR_ID, on_click=on_skip, when="clearable"),
            Button(
                Tr("capture-to-summary-button"),
                id=TO_SUMMARY_ID,
                on_click=on_back_to_summary,
                when="editing",
            ),
            _cancel(),
            MessageInput(on_text_answer, content_types=[ContentType.TEXT]),
            MessageInput(on_other_content),
            state=LeadCapture.main,
            getter=get_question,
        ),
        Window(
            Format("{text}"),
            ScrollingGroup(
                Select(
                    Format("{item[0]}"),
                    id=EDIT_ID,
                    item_id_getter=lambda item: item[1],
                    items="fields",
                    on_click=on_edit_field,
                ),
                id=EDIT_SCROLL_ID,
                width=2,
                height=PAGE_HEIGHT,
                hide_on_single_page=True,
            ),
            SwitchTo(
                Format("{responsible_label}"),
                id=RESPONSIBLE_ID,
                state=LeadCapture.responsible,
                when="may_assign",
            ),
            Button(Tr("capture-create-button"), id=CREATE_ID, on_click=on_create),
            _cancel(),
            state=LeadCapture.summary,
            getter=get_summary,
        ),
        Window(
            Tr("capture-responsible-title"),
            Tr("capture-responsible-nobody", when="nobody"),
            ScrollingGroup(
                Select(
                    Format("{item[0]}"),
                    id=RESPONSIBLE_SELECT_ID,
                    item_id_getter=lambda item: item[1],
                    items="users",
                    on_click=on_responsible_picked,
                ),
                id=RESPONSIBLE_SCROLL_ID,
                width=1,
                height=PAGE_HEIGHT,
                hide_on_single_page=True,
            ),
            MessageInput(on_responsible_search, content_types=[ContentType.TEXT]),
            SwitchTo(Tr("capture-to-summary-button"), id=BACK_ID, state=LeadCapture.summary),
            state=LeadCapture.responsible,
            getter=get_responsible,
        ),
        Window(
            Format("{text}"),
            Notice(),
            Column(
                Select(
                    Format("{item[0]}"),
                    id=OPEN_ID,
                    item_id_getter=lambda item: item[1],
                    items="openable",
                    on_click=on_open_match,
                ),
                Select(
                    Format("{item[0]}"),
                    id=NOTE_ID,
                    item_id_getter=lambda item: item[1],
                    items="notable",
                    on_click=on_note_match,
                ),
                Select(
                    Format("{item[0]}"),
                    id=ASK_ID,
                    item_id_getter=lambda item: item[1],
                    items="askable",
                    on_click=on_ask_match,
                ),
            ),
            Button(
                Tr("capture-create-anyway-button"), id=CREATE_ANYWAY_ID, on_click=on_create_anyway
            ),
            SwitchTo(
                Tr("capture-to-summary-button"), id="cap_dup_back", state=LeadCapture.summary
            ),
            _cancel(),
            state=LeadCapture.duplicates,
            getter=get_duplicates,
        ),
        Window(
            Format("{text}"),
            MessageInput(on_ask_text, content_types=[ContentType.TEXT]),
            Button(Tr("owner-ask-send-button"), id=ASK_SEND_ID, on_click=on_ask_without_note),
            SwitchTo(Tr("button-back"), id=ASK_BACK_ID, state=LeadCapture.duplicates),
            _cancel(),
            state=LeadCapture.ask,
            getter=get_ask,
        ),
        Window(
            Format("{text}"),
            MessageInput(on_note_text, content_types=[ContentType.TEXT]),
            SwitchTo(Tr("button-back"), id=NOTE_BACK_ID, state=LeadCapture.duplicates),
            _cancel(),
            state=LeadCapture.note,
            getter=get_note,
        ),
        Window(
            Format("{text}"),
            Button(Tr("capture-retry-button"), id=RETRY_ID, on_click=on_retry),
            SwitchTo(
                Tr("capture-to-summary-button"), id="cap_fail_back", state=LeadCapture.summary
            ),
            _cancel(),
            state=LeadCapture.failed,
            getter=get_failure,
        ),
        Window(
            Format("{text}"),
            Button(
                Tr("capture-incoming-replace-button"), id=REPLACE_ID, on_click=on_incoming_replace
            ),
            Button(Tr("capture-incoming-merge-button"), id=MERGE_ID, on_click=on_incoming_merge),
            Button(Tr("capture-incoming-keep-button"), id=KEEP_ID, on_click=on_incoming_keep),
            state=LeadCapture.incoming,
            getter=get_incoming,
        ),
        on_start=on_capture_start,
    )
