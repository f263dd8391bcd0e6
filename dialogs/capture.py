"""Lead capture: /new, the menu button, a shared contact or a forwarded message open a form.

The form asks the portal's required fields and the admin's optional ones one by one, shows a
summary where every answer can be changed, and leaves the rest to `CaptureService`: the
duplicate check and what it leads to, who may be made responsible, creating the lead once (the
draft keeps its ORIGIN_ID, so "Try again" after a portal failure looks the lead up first) and
what a failure tells the rep. The draft, the matches and the failure live in dialog_data (i.e.
in SQLite) as the plain data of their records in `bot.leads.capture_draft`.

Getters take the services they use as keyword arguments; handlers, which aiogram-dialog calls
without them, read each one through its typed accessor below.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from aiogram import F, Router
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
    Select,
    SwitchTo,
)
from aiogram_dialog.widgets.text import Format

from bot.access.roles import Identity
from bot.access.service import AccessService
from bot.config import Settings
from bot.i18n import Translator
from bot.leads.capture import (
    CaptureFailed,
    CaptureService,
    CreateInProgress,
    CreateStep,
    age,
    contact_prefill,
)
from bot.leads.capture_draft import (
    FLAT_DRAFT_KEYS,
    UNREACHABLE_PROBLEM,
    CaptureDraft,
    Duplicates,
    FailureKind,
    FailureReport,
)
from bot.leads.form import (
    LONG_TEXT_LIMIT,
    FieldKind,
    FormField,
    FormValue,
    InputRejected,
    choose,
    display_value,
    parse_text,
    parse_typed,
)
from bot.leads.links import lead_url, portal_origin
from bot.leads.owner_requests import NOTE_LIMIT as OWNER_NOTE_LIMIT
from bot.leads.owner_requests import ClientDetails
from bot.leads.problems import portal_problem
from bot.leads.quick import forwarded_prefill
from dialogs.services import (
    access_of,
    bot_of,
    caller,
    capture_of,
    crm_mode_of,
    owner_requests_of,
    settings_of,
    translator,
)
from dialogs.states import (
    PREFILL_KEY,
    LeadCapture,
    start_capture,
    start_lead_card,
    start_main_menu,
)
from dialogs.widgets import (
    DialogValue,
    Notice,
    Tr,
    as_flag,
    as_text,
    clear_notice,
    scrolling_select,
    set_notice,
)

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
"""The draft's record in dialog_data (read with `_stored_draft`, which knows older shapes)."""


@dataclass(frozen=True)
class Rejection:
    """Why the last answer was refused: a locale key and its arguments."""

    reason: str
    args: dict[str, Any]

    @classmethod
    def from_data(cls, raw: Any) -> Rejection:
        """The stored form read back."""
        return cls(str(raw["reason"]), dict(raw.get("args") or {}))

    def to_data(self) -> dict[str, Any]:
        """The stored form."""
        return {"reason": self.reason, "args": self.args}


def _read_texts(raw: Any) -> dict[str, str]:
    return {str(key): str(value) for key, value in raw.items()}


POSITION: DialogValue[int | None] = DialogValue("position", int, None)
"""The form field being asked (its index)."""
EDITING = DialogValue("editing", as_flag, False)
"""The field is asked from the summary, which the answer goes back to."""
REJECTED: DialogValue[Rejection | None] = DialogValue(
    "rejected", Rejection.from_data, None, write=Rejection.to_data
)
MATCHES: DialogValue[Duplicates] = DialogValue(
    "matches", Duplicates.from_data, Duplicates(), write=Duplicates.to_data
)
FAILURE: DialogValue[FailureReport] = DialogValue(
    "failure", FailureReport.from_data, FailureReport(FailureKind.PROBLEM),
    write=FailureReport.to_data,
)  # fmt: skip
NOTE_LEAD = DialogValue("note_lead", int, 0)
ASK_LEAD = DialogValue("ask_lead", int, 0)
INCOMING: DialogValue[dict[str, str]] = DialogValue("incoming", _read_texts, {})
"""Details that arrived (a shared contact, a forwarded message) over a half-filled draft."""
INCOMING_BACK = DialogValue("incoming_back", as_text, "")
"""The window the question about incoming details goes back to."""
QUERY = DialogValue("query", as_text, "")

# Keys of the services in the dispatcher's data (bot/app.py).

SUMMARY_VALUE_LIMIT = 200
"""Characters of one answer shown in the summary (the whole answer is still sent)."""
DUPLICATE_TITLE_LIMIT = 100
BUTTON_TITLE_LIMIT = 40
NOTE_LIMIT = 3000
PAGE_HEIGHT = 8

# --- the draft in dialog_data ----------------------------------------------------------------


def _stored_draft(data: Mapping[str, Any], caller_id: int) -> CaptureDraft | None:
    """The draft in dialog_data: its own record, or the flat shape of earlier versions."""
    stored = data.get(DRAFT_KEY)
    if isinstance(stored, Mapping):
        return CaptureDraft.from_data(stored)
    if "origin_id" in data:
        return CaptureDraft.from_data(data, fallback_assignee=caller_id)
    return None


def _draft(manager: DialogManager) -> CaptureDraft:
    draft = _stored_draft(manager.dialog_data, caller(manager).portal_user_id)
    if draft is None:
        raise KeyError(DRAFT_KEY)
    return draft


def _save_draft(manager: DialogManager, draft: CaptureDraft) -> None:
    manager.dialog_data[DRAFT_KEY] = draft.to_data()
    for key in FLAT_DRAFT_KEYS:
        manager.dialog_data.pop(key, None)


def _stored_duplicates(manager: DialogManager) -> Duplicates:
    return MATCHES.get(manager)


# --- helpers ---------------------------------------------------------------------------------


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


async def _advance(manager: DialogManager, form: list[FormField], draft: CaptureDraft) -> None:
    """After an answer: back to the summary when editing, else the next open question."""
    REJECTED.clear(manager)
    if EDITING.get(manager):
        EDITING.set(manager, False)
        await manager.switch_to(LeadCapture.summary)
        return
    after = POSITION.get(manager)
    position = draft.next_question(form, -1 if after is None else after)
    if position is None:
        await manager.switch_to(LeadCapture.summary)
        return
    POSITION.set(manager, position)


def _current_field(manager: DialogManager, form: list[FormField]) -> FormField | None:
    position = POSITION.get(manager) or 0
    return form[position] if 0 <= position < len(form) else None


async def _answer(
    manager: DialogManager,
    form: list[FormField],
    draft: CaptureDraft,
    field: FormField,
    value: FormValue | None,
) -> None:
    """Keep the answer (None: leave the field empty) and move on."""
    if value is None:
        draft.values.pop(field.code, None)
    else:
        draft.values[field.code] = value
    _save_draft(manager, draft)
    await _advance(manager, form, draft)


async def _store_answer(manager: DialogManager, value: FormValue, kind: FieldKind) -> None:
    draft = _draft(manager)
    form = await capture_of(manager).form(draft.codes)
    field = _current_field(manager, form)
    if field is None:
        await manager.switch_to(LeadCapture.summary)
        return
    if field.kind is not kind:
        # A hidden button's data sent anyway: its answer does not fit this field.
        _reject(manager, InputRejected("capture-error-use-text"))
        return
    await _answer(manager, form, draft, field, value)


def _reject(manager: DialogManager, error: InputRejected) -> None:
    REJECTED.set(manager, Rejection(error.reason, dict(error.args_for_message)))


def _rejection_lines(manager: DialogManager, tr: Translator) -> list[str]:
    """Why the last answer was refused, as the first line of the prompt (if it was)."""
    rejected = REJECTED.get(manager)
    return [tr.get_html(rejected.reason, **rejected.args)] if rejected is not None else []


def _title_of(tr: Translator, title: str, lead_id: int) -> str:
    return title.strip() or tr.get("lead-title", id=lead_id)


# --- starting ------------------------------------------------------------------------------


async def on_capture_start(start_data: Any, manager: DialogManager) -> None:
    """Build the form from the portal's fields and take what the prefill offers."""
    if not await crm_mode_of(manager).leads_enabled():
        # In simple CRM mode a new lead turns into a deal at once: say so, ask nothing.
        chat = manager.middleware_data["event_chat"]
        await bot_of(manager).send_message(
            chat.id, translator(manager).get_html("capture-simple-mode")
        )
        await manager.done()
        return
    prefill = start_data.get(PREFILL_KEY) if isinstance(start_data, dict) else None
    form, draft = await capture_of(manager).new_draft(
        caller(manager), prefill or {}, settings_of(manager).default_phone_region
    )
    _save_draft(manager, draft)
    POSITION.set(manager, -1)
    EDITING.set(manager, False)
    position = draft.next_question(form, -1)
    if position is None:
        await manager.switch_to(LeadCapture.summary)
        return
    POSITION.set(manager, position)


# --- the question window -------------------------------------------------------------------


async def get_question(
    dialog_manager: DialogManager, capture: CaptureService, **_: Any
) -> dict[str, Any]:
    """The current question: its caption, a hint, why the last answer was refused."""
    tr = translator(dialog_manager)
    draft = _draft(dialog_manager)
    form = await capture.form(draft.codes)
    field = _current_field(dialog_manager, form)
    if field is None:
        # The portal dropped the field meanwhile: nothing to ask, offer the summary.
        return {"text": tr.get_html("capture-summary-hint"), "editing": True}
    editing = EDITING.get(dialog_manager)
    lines: list[str] = []
    if not editing:
        position = POSITION.get(dialog_manager) or 0
        lines.append(tr.get_html("capture-step", step=position + 1, total=len(form)))
    lines += _rejection_lines(dialog_manager, tr)
    key = "capture-question-required" if field.required else "capture-question"
    lines.append(tr.get_html(key, field=field.label))
    current = draft.values.get(field.code)
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
    draft = _draft(manager)
    form = await capture_of(manager).form(draft.codes)
    field = _current_field(manager, form)
    if field is None:
        await manager.switch_to(LeadCapture.summary)
        return
    try:
        value = parse_typed(field, message.text or "", settings_of(manager).default_phone_region)
    except InputRejected as error:
        _reject(manager, error)
        return
    await _answer(manager, form, draft, field, value)


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
    draft = _draft(manager)
    form = await capture_of(manager).form(draft.codes)
    field = _current_field(manager, form)
    if field is None or not item_id.isdigit() or int(item_id) >= len(field.choices):
        _reject(manager, InputRejected("capture-error-choice"))
        return
    try:
        value = choose(field, field.choices[int(item_id)].id)
    except InputRejected as error:
        _reject(manager, error)
        return
    await _answer(manager, form, draft, field, value)


async def on_skip(_: CallbackQuery, __: Button, manager: DialogManager) -> None:
    """Leave an optional field empty; a required one cannot be skipped."""
    draft = _draft(manager)
    form = await capture_of(manager).form(draft.codes)
    field = _current_field(manager, form)
    if field is None:
        await manager.switch_to(LeadCapture.summary)
        return
    if field.required:
        _reject(manager, InputRejected("capture-error-required"))
        return
    await _answer(manager, form, draft, field, None)


async def on_back_to_summary(_: CallbackQuery, __: Button, manager: DialogManager) -> None:
    """Leave the field as it was."""
    EDITING.set(manager, False)
    REJECTED.clear(manager)
    await manager.switch_to(LeadCapture.summary)


async def on_cancel(callback: CallbackQuery, _: Button, manager: DialogManager) -> None:
    """Drop the draft and go back to the menu."""
    tr = translator(manager)
    if isinstance(callback.message, Message):
        await callback.message.answer(tr.get_html("cancel-done"))
    await start_main_menu(manager)


# --- the summary ---------------------------------------------------------------------------


async def _user_name(access: AccessService, portal_user_id: int) -> str:
    user = await access.directory.active_user(portal_user_id)
    return user.full_name if user is not None and user.full_name else f"#{portal_user_id}"


async def get_summary(
    dialog_manager: DialogManager, capture: CaptureService, access: AccessService, **_: Any
) -> dict[str, Any]:
    """Every answer, the responsible user, and a button per field to change it."""
    tr = translator(dialog_manager)
    draft = _draft(dialog_manager)
    form = await capture.form(draft.codes)
    identity = caller(dialog_manager)
    lines = [tr.get_html("capture-summary-title"), ""]
    # A long form gets shorter excerpts, so the summary stays one Telegram message.
    limit = SUMMARY_VALUE_LIMIT if len(form) <= 12 else SUMMARY_VALUE_LIMIT * 12 // len(form)
    for field in form:
        value = draft.values.get(field.code)
        label = _cut(field.label, BUTTON_TITLE_LIMIT)
        if value is None:
            lines.append(tr.get_html("capture-summary-empty-line", field=label))
        else:
            shown = _cut(display_value(field, value), max(limit, 20))
            lines.append(tr.get_html("capture-summary-line", field=label, value=shown))
    name = await _user_name(access, draft.assigned_by_id)
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
        "may_assign": capture.may_assign_others(identity),
        "responsible_label": tr.get(
            "capture-responsible-label", name=_cut(name, BUTTON_TITLE_LIMIT)
        ),
    }


async def on_edit_field(
    _: CallbackQuery, __: Select[str], manager: DialogManager, item_id: str
) -> None:
    """Change one answer from the summary."""
    form = await capture_of(manager).form(_draft(manager).codes)
    if not item_id.isdigit() or int(item_id) >= len(form):
        return
    POSITION.set(manager, int(item_id))
    EDITING.set(manager, True)
    REJECTED.clear(manager)
    await manager.switch_to(LeadCapture.main)


async def get_responsible(
    dialog_manager: DialogManager, capture: CaptureService, access: AccessService, **_: Any
) -> dict[str, Any]:
    """Active portal users matching the search (none for a rep who got here anyway)."""
    query = QUERY.get(dialog_manager)
    may_assign = capture.may_assign_others(caller(dialog_manager))
    users = await access.directory.search(query) if may_assign else []
    items = [
        (_cut(u.full_name or f"#{u.id}", BUTTON_TITLE_LIMIT), str(u.id))
        for u in users
        if u.id is not None
    ]
    return {"users": items, "query": query, "nobody": bool(query) and not items}


async def on_responsible_search(message: Message, _: MessageInput, manager: DialogManager) -> None:
    """Narrow the list of users by part of a name."""
    QUERY.set(manager, (message.text or "")[:64])


async def on_responsible_picked(
    _: CallbackQuery, __: Select[str], manager: DialogManager, item_id: str
) -> None:
    """Make another active portal user responsible (managers and admins only)."""
    identity = caller(manager)
    capture = capture_of(manager)
    capture.check_may_assign_others(identity)  # before the directory is asked
    directory = access_of(manager).directory
    user = await directory.active_user(int(item_id)) if item_id.isdigit() else None
    draft = _draft(manager)
    if capture.assign(identity, draft, user):
        _save_draft(manager, draft)
    QUERY.clear(manager)
    await manager.switch_to(LeadCapture.summary)


# --- duplicates and creating ---------------------------------------------------------------


async def on_create(callback: CallbackQuery, _: Button, manager: DialogManager) -> None:
    """Ask what the service says comes first; create the lead when nothing does."""
    capture = capture_of(manager)
    draft = _draft(manager)
    form = await capture.form(draft.codes)
    check = await capture.check_before_create(caller(manager), draft, form)
    if check.step is CreateStep.ASK_MISSING:
        POSITION.set(manager, check.missing_position)
        EDITING.set(manager, True)
        _reject(manager, InputRejected("capture-error-required"))
        await manager.switch_to(LeadCapture.main)
    elif check.step is CreateStep.BUSY:
        await _already_creating(callback, manager)
    elif check.step is CreateStep.SHOW_DUPLICATES:
        MATCHES.set(manager, check.duplicates)
        clear_notice(manager)
        await manager.switch_to(LeadCapture.duplicates)
    else:
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
    capture = capture_of(manager)
    draft = _draft(manager)
    form = await capture.form(draft.codes)
    try:
        lead_id = await capture.create_lead(identity, draft, form)
    except CreateInProgress:
        await _already_creating(callback, manager)
        return
    except CaptureFailed as failure:
        _save_draft(manager, draft)  # it now says an attempt was made
        problem = portal_problem(failure.error) if failure.error else (UNREACHABLE_PROBLEM, {})
        FAILURE.set(manager, FailureReport(failure.kind, *problem))
        await manager.switch_to(LeadCapture.failed)
        return
    tr = translator(manager)
    title = _title_of(tr, str(draft.values.get("TITLE") or ""), lead_id)
    origin = portal_origin(settings_of(manager).portal)
    text = (
        tr.get_html("capture-created", title=title, link=lead_url(origin, lead_id))
        if origin
        else tr.get_html("capture-created-no-link", title=title)
    )
    if isinstance(callback.message, Message):
        await bot_of(manager).send_message(callback.message.chat.id, text)
    log.info("lead %d created by telegram user %d", lead_id, identity.telegram_user_id)
    await manager.done(show_mode=ShowMode.NO_UPDATE)
    manager.show_mode = ShowMode.SEND
    await start_lead_card(manager, lead_id)


async def get_duplicates(
    dialog_manager: DialogManager, capture: CaptureService, access: AccessService, **_: Any
) -> dict[str, Any]:
    """The matches; only the rep's own leads (or any, for managers) can be opened or noted."""
    tr = translator(dialog_manager)
    identity = caller(dialog_manager)
    duplicates = _stored_duplicates(dialog_manager)
    now = capture.now()
    lines = [tr.get_html("capture-duplicates-title"), ""]
    openable: list[tuple[str, str]] = []
    notable: list[tuple[str, str]] = []
    askable: list[tuple[str, str]] = []
    for lead in duplicates.leads:
        owner_id = lead.assigned_by_id
        owner = await _user_name(access, owner_id) if owner_id else "—"
        key, count = age(lead.created, now)
        if not lead.open_to(identity):
            # Somebody else's lead: that it exists, whose it is and how old; not what it is.
            lines.append(
                tr.get_html(
                    "capture-duplicate-lead-hidden", owner=owner, age=tr.get(key, count=count)
                )
            )
            if owner_id:
                label = tr.get("owner-ask-label", owner=_cut(owner, OWNER_LABEL_LIMIT))
                askable.append((label, str(lead.id)))
            continue
        title = _title_of(tr, lead.title, lead.id)
        lines.append(
            tr.get_html(
                "capture-duplicate-lead",
                title=_cut(title, DUPLICATE_TITLE_LIMIT),
                stage=await capture.stage_name(lead.status_id),
                owner=owner,
                age=tr.get(key, count=count),
            )
        )
        short = _cut(title, BUTTON_TITLE_LIMIT)
        openable.append((tr.get("capture-open-label", title=short), str(lead.id)))
        notable.append((tr.get("capture-note-label", title=short), str(lead.id)))
    for contact in duplicates.contacts:
        name = contact.name or f"#{contact.id}"
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


def _match_id(item_id: str) -> int:
    return int(item_id) if item_id.isdigit() else 0


async def on_open_match(
    _: CallbackQuery, __: Select[str], manager: DialogManager, item_id: str
) -> None:
    """Open one of the rep's matching leads (the draft stays underneath)."""
    lead = _stored_duplicates(manager).open_to(caller(manager), _match_id(item_id))
    await start_lead_card(manager, lead.id)


async def on_note_match(
    _: CallbackQuery, __: Select[str], manager: DialogManager, item_id: str
) -> None:
    """Add a note to a matching lead instead of creating a new one."""
    lead = _stored_duplicates(manager).open_to(caller(manager), _match_id(item_id))
    NOTE_LEAD.set(manager, lead.id)
    await manager.switch_to(LeadCapture.note)


async def get_note(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    """Which lead the note goes to."""
    tr = translator(dialog_manager)
    lead_id = NOTE_LEAD.get(dialog_manager)
    lead = _stored_duplicates(dialog_manager).lead(lead_id)
    title = _title_of(tr, lead.title if lead is not None else "", lead_id)
    lines = _rejection_lines(dialog_manager, tr)
    lines.append(tr.get_html("capture-note-prompt", title=_cut(title, SUMMARY_VALUE_LIMIT)))
    return {"text": "\n".join(lines)}


async def on_note_text(message: Message, _: MessageInput, manager: DialogManager) -> None:
    """Put the note on the lead's timeline, after checking again that the rep may see it."""
    try:
        text = parse_text(message.text or "", min(NOTE_LIMIT, LONG_TEXT_LIMIT), one_line=False)
    except InputRejected as error:
        _reject(manager, error)
        return
    lead_id = NOTE_LEAD.get(manager)
    lead_title = await capture_of(manager).add_note(caller(manager), lead_id, text)
    tr = translator(manager)
    title = _title_of(tr, lead_title, lead_id)
    await message.answer(tr.get_html("capture-note-added", title=_cut(title, 200)))
    await start_main_menu(manager)


async def on_ask_match(
    _: CallbackQuery, __: Select[str], manager: DialogManager, item_id: str
) -> None:
    """Ask the owner of a colleague's matching lead for it: first an optional note."""
    lead = _stored_duplicates(manager).with_owner(_match_id(item_id))
    ASK_LEAD.set(manager, lead.id)
    REJECTED.clear(manager)
    clear_notice(manager)
    await manager.switch_to(LeadCapture.ask)


async def _asked_owner(manager: DialogManager, access: AccessService) -> tuple[int, str]:
    lead_id = ASK_LEAD.get(manager)
    lead = _stored_duplicates(manager).with_owner(lead_id)
    return lead.id, await _user_name(access, lead.assigned_by_id or 0)


async def get_ask(
    dialog_manager: DialogManager, access: AccessService, **_: Any
) -> dict[str, Any]:
    """Whom the request goes to."""
    owner = (await _asked_owner(dialog_manager, access))[1]
    tr = translator(dialog_manager)
    lines = _rejection_lines(dialog_manager, tr)
    lines.append(tr.get_html("owner-ask-prompt", owner=owner))
    return {"text": "\n".join(lines)}


async def _ask(manager: DialogManager, note: str) -> None:
    lead_id, owner = await _asked_owner(manager, access_of(manager))
    draft = _draft(manager)
    values = draft.values
    name = " ".join(str(values.get(code) or "") for code in ("NAME", "LAST_NAME")).strip()
    client = ClientDetails(
        name=name,
        company=str(values.get("COMPANY_TITLE") or ""),
        phones=tuple(draft.phones),
        emails=tuple(draft.emails),
    )
    requests = owner_requests_of(manager)
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
    report = FAILURE.get(dialog_manager)
    text = "\n".join(tr.get_html(line.key, **line.args) for line in report.sentences())
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
    prefill = contact_prefill(
        contact.first_name, contact.last_name, contact.phone_number, settings.default_phone_region
    )
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
    draft = _stored_draft(context.dialog_data, caller(manager).portal_user_id)
    return draft is not None and draft.has_answers


async def _start_or_offer(manager: DialogManager, prefill: dict[str, str]) -> None:
    """A new form, or, over a half-filled draft, the question what to do with the details."""
    if not _open_draft(manager):
        await start_capture(manager, prefill, reset=True)
        return
    if manager.current_context().state != LeadCapture.incoming:
        INCOMING_BACK.set(manager, manager.current_context().state.state or "")
    INCOMING.set(manager, prefill)
    await manager.switch_to(LeadCapture.incoming, show_mode=ShowMode.SEND)
    await manager.show()  # outside the dialog's own handlers nothing renders by itself


async def get_incoming(
    dialog_manager: DialogManager, capture: CaptureService, **_: Any
) -> dict[str, Any]:
    """The details that arrived, and the question what to do with them."""
    tr = translator(dialog_manager)
    incoming = INCOMING.get(dialog_manager)
    form = await capture.form(_draft(dialog_manager).codes)
    labels = {field.code: field.label for field in form}
    lines = [tr.get_html("capture-incoming-title"), ""]
    for code, value in incoming.items():
        if code in labels:
            shown = _cut(str(value), SUMMARY_VALUE_LIMIT)
            lines.append(tr.get_html("capture-summary-line", field=labels[code], value=shown))
    lines += ["", tr.get_html("capture-incoming-question")]
    return {"text": "\n".join(lines)}


async def _back_from_incoming(manager: DialogManager) -> None:
    back = INCOMING_BACK.take(manager)
    INCOMING.clear(manager)
    state = next((s for s in LeadCapture.__states__ if s.state == back), LeadCapture.summary)
    await manager.switch_to(state if state != LeadCapture.incoming else LeadCapture.summary)


async def on_incoming_replace(_: CallbackQuery, __: Button, manager: DialogManager) -> None:
    """Drop the open draft and start a new one from the details."""
    await start_capture(manager, INCOMING.get(manager), reset=True)


async def on_incoming_merge(_: CallbackQuery, __: Button, manager: DialogManager) -> None:
    """Fill the draft's empty fields with the details (a comment is appended)."""
    draft = _draft(manager)
    await capture_of(manager).merge_details(
        draft, INCOMING.get(manager), settings_of(manager).default_phone_region
    )
    _save_draft(manager, draft)
    INCOMING.clear(manager)
    INCOMING_BACK.clear(manager)
    EDITING.set(manager, False)
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
            scrolling_select(
                CHOICE_ID,
                "choices",
                on_choice,
                scroll_id=CHOICES_SCROLL_ID,
                width=2,
                height=PAGE_HEIGHT,
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
            scrolling_select(
                EDIT_ID,
                "fields",
                on_edit_field,
                scroll_id=EDIT_SCROLL_ID,
                width=2,
                height=PAGE_HEIGHT,
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
            scrolling_select(
                RESPONSIBLE_SELECT_ID,
                "users",
                on_responsible_picked,
                scroll_id=RESPONSIBLE_SCROLL_ID,
                height=PAGE_HEIGHT,
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
            SwitchTo(Tr("capture-to-summary-button"), id=DUP_BACK_ID, state=LeadCapture.summary),
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
            SwitchTo(Tr("capture-to-summary-button"), id=FAIL_BACK_ID, state=LeadCapture.summary),
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
