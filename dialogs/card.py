"""One lead's card and its actions: stage, edit, take, note, contacts, products, delete.

Opening the card costs one portal request; the rendered card is kept in the dialog, so
moving between its windows costs nothing. Every action re-checks on the server side that
the caller may touch the lead (callback data carries widget ids only, never trusted).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any, TypeVar, cast

from aiogram.types import CallbackQuery, Message
from aiogram_dialog import Data, Dialog, DialogManager, Window
from aiogram_dialog.widgets.input import MessageInput
from aiogram_dialog.widgets.kbd import Button, Cancel, Column, Row, Select, SwitchTo, Url
from aiogram_dialog.widgets.text import Format

from bot.access.roles import Action
from bot.access.service import AccessDenied
from bot.i18n import Translator
from bot.leads.form import InputRejected, parse_number
from bot.leads.render import BUTTON_LIMIT, cut, lead_title, render_card
from bot.leads.service import (
    EDITABLE_TEXT_LIMITS,
    InvalidValueError,
    LeadCardData,
    LeadService,
    MultiFieldKind,
)
from bot.leads.visibility import LeadHiddenError
from bot.portal import LeadChanges, NotFoundError, Semantics
from dialogs.services import caller, leads_of, translator
from dialogs.states import (
    LEAD_ID_KEY,
    THEN_KEY,
    THEN_STAGE,
    LeadCard,
    start_follow_up,
    start_lead_contacts,
    start_lead_products,
    start_lead_search,
    start_main_menu,
)
from dialogs.widgets import DialogValue, Tr, as_text

STAGE_SELECT_ID = "card_stage"
FIELD_SELECT_ID = "card_field"
SOURCE_SELECT_ID = "card_source"
MULTI_SELECT_ID = "card_multi"


@dataclass(frozen=True)
class KeptCard:
    """The rendered card and what its windows need, kept between updates (small, JSON-able)."""

    text: str = ""
    notice: str = ""
    """A line above the card ("saved"), shown with it until the next read."""
    url: str = ""
    assigned: int = 0
    status: str = ""
    title: str = ""
    values: dict[str, str] = field(default_factory=dict)
    """The editable fields' values now, cut short, by field code."""
    phones: list[tuple[int, str]] = field(default_factory=list)
    emails: list[tuple[int, str]] = field(default_factory=list)

    @classmethod
    def from_data(cls, raw: Any) -> KeptCard:
        """The stored form read back (lists of pairs come back as lists)."""
        return cls(
            text=str(raw["text"]),
            notice=str(raw["notice"]),
            url=str(raw["url"]),
            assigned=int(raw["assigned"]),
            status=str(raw["status"]),
            title=str(raw["title"]),
            values={str(code): str(value) for code, value in raw["values"].items()},
            phones=[(int(i), str(v)) for i, v in raw["phones"]],
            emails=[(int(i), str(v)) for i, v in raw["emails"]],
        )

    def to_data(self) -> dict[str, Any]:
        """The stored form (pairs as lists: plain JSON)."""
        data = asdict(self)
        data["phones"] = [list(pair) for pair in self.phones]
        data["emails"] = [list(pair) for pair in self.emails]
        return data


CARD: DialogValue[KeptCard | None] = DialogValue(
    "kept_card", KeptCard.from_data, None, write=KeptCard.to_data
)
"""The card as last read. Not under "card": a card window opened before an upgrade kept the
rendered text there and the rest beside it; such a window reads its card again."""
LEAD_ID = DialogValue(LEAD_ID_KEY, int, 0)
ERROR = DialogValue("error", as_text, "")
"""Why there is no card (hidden, deleted, out of date), shown in its place."""
NEW_STAGE = DialogValue("new_stage", as_text, "")
FIELD = DialogValue("field", as_text, "")
MULTI_KIND = DialogValue("multi_kind", as_text, "PHONE")
MULTI_ID: DialogValue[int | None] = DialogValue("multi_id", int, None)
"""The phone or e-mail picked to change or remove; None while adding one."""

# Simple fields the card edits, as the capture form does: code -> locale label key. The
# service enforces which of them may change and how (`LeadService.check_changes`).
EDITABLE_FIELDS: dict[str, str] = {
    "TITLE": "lead-label-title",
    "NAME": "lead-label-name",
    "LAST_NAME": "lead-label-last-name",
    "COMPANY_TITLE": "lead-label-company",
    "OPPORTUNITY": "lead-label-opportunity",
    "SOURCE_ID": "lead-label-source",
    "COMMENTS": "lead-label-comments",
    "PHONE": "lead-label-phone",
    "EMAIL": "lead-label-email",
}
REASON_LIMIT = 1000
NOTE_LIMIT = 3000


def _lead_id(manager: DialogManager) -> int:
    return LEAD_ID.get(manager)


def _kept(manager: DialogManager) -> KeptCard:
    return CARD.get(manager) or KeptCard()


def keep_card(manager: DialogManager, card: LeadCardData, *, notice: str = "") -> None:
    """Remember the rendered card and what its windows need, small and JSON-able."""
    tr = translator(manager)
    lead = card.lead
    opportunity = f"{lead.opportunity:f}" if lead.opportunity else ""
    kept = KeptCard(
        text=render_card(tr, card.view),
        notice=notice,
        url=card.url or "",
        assigned=lead.assigned_by_id or 0,
        status=lead.status_id or "",
        title=cut(lead_title(tr, lead.title, lead.id or 0), 100),
        values={
            "TITLE": cut(lead.title, 200),
            "NAME": cut(lead.name, 200),
            "LAST_NAME": cut(lead.last_name, 200),
            "COMPANY_TITLE": cut(lead.company_title, 200),
            "OPPORTUNITY": opportunity,
            "SOURCE_ID": card.view.source,
            "COMMENTS": cut(lead.comments, 200),
        },
        phones=[(p.id, cut(p.value, 60)) for p in lead.phone if p.id is not None],
        emails=[(e.id, cut(e.value, 60)) for e in lead.email if e.id is not None],
    )
    CARD.set(manager, kept)
    ERROR.clear(manager)


async def load(manager: DialogManager) -> None:
    """Read the card (one request); a hidden or deleted lead leaves an explanation instead."""
    tr = translator(manager)
    try:
        card = await leads_of(manager).load_card(caller(manager), _lead_id(manager))
    except LeadHiddenError:
        ERROR.set(manager, tr.get_html("access-lead-hidden"))
        return
    except NotFoundError:
        ERROR.set(manager, tr.get_html("error-not-found"))
        return
    keep_card(manager, card)


async def after_write(manager: DialogManager, card: LeadCardData) -> None:
    """Show the fresh card with a "saved" line."""
    keep_card(manager, card, notice=translator(manager).get_html("card-done"))
    await manager.switch_to(LeadCard.main)


Handler = TypeVar("Handler", bound=Callable[..., Awaitable[None]])


def replaces_stale_card(handler: Handler) -> Handler:
    """Run a card action; when the lead is no longer the caller's, replace the card with why.

    A pop-up would vanish and leave the old card with live buttons; the card's window shows
    the reason instead, with a way to the menu and to the search. Every handler of the card
    takes the dialog manager as its third argument.
    """

    @functools.wraps(handler)
    async def guarded(event: Any, widget: Any, manager: DialogManager, *rest: Any) -> None:
        try:
            await handler(event, widget, manager, *rest)
        except LeadHiddenError:
            await show_stale(manager, "card-stale")
        except NotFoundError:
            await show_stale(manager, "card-stale-gone")

    return cast(Handler, guarded)


async def show_stale(manager: DialogManager, key: str) -> None:
    """Put the out-of-date notice where the card was."""
    ERROR.set(manager, translator(manager).get_html(key))
    await manager.switch_to(LeadCard.main)


async def on_card_start(start_data: Data, manager: DialogManager) -> None:
    """Load the card the dialog was opened for."""
    lead_id = start_data.get(LEAD_ID_KEY) if isinstance(start_data, dict) else None
    LEAD_ID.set(manager, int(lead_id or 0))
    await load(manager)
    wants_stage = isinstance(start_data, dict) and start_data.get(THEN_KEY) == THEN_STAGE
    if wants_stage and not ERROR.get(manager):
        await manager.switch_to(LeadCard.stage)


async def on_child_closed(_: Data, __: Any, manager: DialogManager) -> None:
    """Back from contacts or products: they may have changed the card."""
    await load(manager)


async def get_card(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    """The kept card and which buttons the caller gets."""
    identity = caller(dialog_manager)
    if CARD.get(dialog_manager) is None and not ERROR.get(dialog_manager):
        await load(dialog_manager)  # nothing kept (a window from before an upgrade)
    error = ERROR.get(dialog_manager)
    if error:
        return {
            "text": error,
            "ok": False,
            "failed": True,
            "url": "",
            "can_take": False,
            "is_manager": False,
        }
    card = _kept(dialog_manager)
    return {
        "text": (card.notice + "\n\n" if card.notice else "") + card.text,
        "ok": True,
        "failed": False,
        "url": card.url,
        "has_url": bool(card.url),
        "can_take": LeadService.may_take(identity, card.assigned or None),
        "is_manager": identity.may(Action.DELETE_LEAD),
    }


async def on_refresh(_: CallbackQuery, __: Button, manager: DialogManager) -> None:
    """Read the card again."""
    await load(manager)


async def on_to_menu(_: CallbackQuery, __: Button, manager: DialogManager) -> None:
    """Leave a card that cannot be shown for the main menu."""
    await start_main_menu(manager)


async def on_to_search(_: CallbackQuery, __: Button, manager: DialogManager) -> None:
    """Leave a card that cannot be shown for the lead search."""
    await start_lead_search(manager)


async def on_contacts(_: CallbackQuery, __: Button, manager: DialogManager) -> None:
    """Open the lead's contacts."""
    await start_lead_contacts(manager, _lead_id(manager))


async def on_products(_: CallbackQuery, __: Button, manager: DialogManager) -> None:
    """Open the lead's product rows."""
    await start_lead_products(manager, _lead_id(manager))


async def on_follow_up(_: CallbackQuery, __: Button, manager: DialogManager) -> None:
    """Plan a follow-up on the lead (a to-do in the portal and a reminder here)."""
    await start_follow_up(manager, _lead_id(manager))


@replaces_stale_card
async def on_take(_: CallbackQuery, __: Button, manager: DialogManager) -> None:
    """Make the caller responsible for the lead."""
    card = await leads_of(manager).take(caller(manager), _lead_id(manager))
    await after_write(manager, card)


# --- stage -------------------------------------------------------------------------------


async def get_stages(
    dialog_manager: DialogManager, leads: LeadService, **_: Any
) -> dict[str, Any]:
    """The portal's stages in order, the current one left out."""
    snapshot = await leads.catalog.get()
    current = _kept(dialog_manager).status
    items = [
        (cut(s.name, BUTTON_LIMIT), s.status_id) for s in snapshot.stages if s.status_id != current
    ]
    return {"stages": items, "stage": cut(snapshot.stage_name(current), 100)}


async def _chosen_stage_name(manager: DialogManager) -> str:
    snapshot = await leads_of(manager).catalog.get()
    return cut(snapshot.stage_name(NEW_STAGE.get(manager)), 100)


async def get_new_stage(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    """The name of the stage being chosen."""
    return {"stage": await _chosen_stage_name(dialog_manager)}


@replaces_stale_card
async def on_stage_selected(
    _: CallbackQuery, __: Select[str], manager: DialogManager, item_id: str
) -> None:
    """A failure stage asks for the reason, the success stage for a confirmation."""
    snapshot = await leads_of(manager).catalog.get()
    stage = snapshot.stage(item_id)
    if stage is None:
        return
    NEW_STAGE.set(manager, stage.status_id)
    if stage.semantics is Semantics.FAILURE:
        await manager.switch_to(LeadCard.stage_reason)
    elif stage.semantics is Semantics.SUCCESS:
        await manager.switch_to(LeadCard.stage_confirm)
    else:
        card = await leads_of(manager).change_stage(
            caller(manager), _lead_id(manager), stage.status_id, tr=translator(manager)
        )
        await after_write(manager, card)


@replaces_stale_card
async def on_stage_confirmed(_: CallbackQuery, __: Button, manager: DialogManager) -> None:
    """Move the lead to the success stage (the stage only: no conversion through REST)."""
    status_id = NEW_STAGE.get(manager)
    card = await leads_of(manager).change_stage(
        caller(manager), _lead_id(manager), status_id, tr=translator(manager)
    )
    await after_write(manager, card)


@replaces_stale_card
async def on_stage_reason(message: Message, _: MessageInput, manager: DialogManager) -> None:
    """Move the lead to the failure stage with the reason in its timeline."""
    reason = (message.text or "").strip()
    if not reason:
        return
    tr = translator(manager)
    status_id = NEW_STAGE.get(manager)
    comment = tr.get(
        "card-stage-reason-comment",
        stage=await _chosen_stage_name(manager),
        reason=reason[:REASON_LIMIT],
    )
    card = await leads_of(manager).change_stage(
        caller(manager), _lead_id(manager), status_id, comment, tr=tr
    )
    await after_write(manager, card)


# --- edit --------------------------------------------------------------------------------


async def get_fields(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    """The fields the card edits."""
    tr = translator(dialog_manager)
    return {"fields": [(tr.get(key), code) for code, key in EDITABLE_FIELDS.items()]}


async def on_field_selected(
    _: CallbackQuery, __: Select[str], manager: DialogManager, item_id: str
) -> None:
    """Ask for the new value the way the field needs it."""
    if item_id not in EDITABLE_FIELDS:
        return
    if item_id in ("PHONE", "EMAIL"):
        MULTI_KIND.set(manager, item_id)
        await manager.switch_to(LeadCard.edit_multi)
    elif item_id == "SOURCE_ID":
        await manager.switch_to(LeadCard.edit_source)
    else:
        FIELD.set(manager, item_id)
        await manager.switch_to(LeadCard.edit_value)


def _field_label(manager: DialogManager, code: str) -> str:
    return translator(manager).get(EDITABLE_FIELDS.get(code, "lead-label-title"))


async def get_edit_value(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    """The field being edited and its value now."""
    code = FIELD.get(dialog_manager) or "TITLE"
    value = _kept(dialog_manager).values.get(code) or ""
    tr = translator(dialog_manager)
    return {
        "field": _field_label(dialog_manager, code),
        "value": value or tr.get("card-edit-empty"),
    }


@replaces_stale_card
async def on_edit_value(message: Message, _: MessageInput, manager: DialogManager) -> None:
    """Validate and store the new value of a simple field."""
    tr = translator(manager)
    code = FIELD.get(manager)
    text = (message.text or "").strip()
    if code not in EDITABLE_FIELDS or not text:
        return
    changes: LeadChanges
    if code == "OPPORTUNITY":
        try:
            amount = Decimal(parse_number(text, money=True))
        except InputRejected:
            await message.answer(tr.get_html("card-edit-bad-number"))
            return
        changes = LeadChanges(opportunity=amount)
    else:
        limit = EDITABLE_TEXT_LIMITS.get(code, 255)
        if len(text) > limit:
            await message.answer(tr.get_html("card-edit-too-long", count=limit))
            return
        changes = LeadChanges.model_validate({code: text})
    try:
        card = await leads_of(manager).update_fields(caller(manager), _lead_id(manager), changes)
    except InvalidValueError:
        await message.answer(tr.get_html("card-edit-refused"))
        return
    await after_write(manager, card)


async def get_sources(
    dialog_manager: DialogManager, leads: LeadService, **_: Any
) -> dict[str, Any]:
    """The portal's lead sources."""
    snapshot = await leads.catalog.get()
    tr = translator(dialog_manager)
    value = _kept(dialog_manager).values.get("SOURCE_ID") or tr.get("card-edit-empty")
    return {
        "sources": [(cut(s.name, BUTTON_LIMIT), s.status_id) for s in snapshot.sources],
        "value": value,
    }


@replaces_stale_card
async def on_source_selected(
    callback: CallbackQuery, __: Select[str], manager: DialogManager, item_id: str
) -> None:
    """Store the chosen source (the service accepts only one the portal has)."""
    try:
        card = await leads_of(manager).update_fields(
            caller(manager), _lead_id(manager), LeadChanges(source_id=item_id)
        )
    except InvalidValueError:
        await callback.answer(translator(manager).get("card-edit-refused"), show_alert=True)
        return
    await after_write(manager, card)


def _multi_kind(manager: DialogManager) -> MultiFieldKind:
    return "EMAIL" if MULTI_KIND.get(manager) == "EMAIL" else "PHONE"


async def get_multi(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    """The stored phones or e-mails of the lead."""
    kind = _multi_kind(dialog_manager)
    card = _kept(dialog_manager)
    stored = card.phones if kind == "PHONE" else card.emails
    chosen = MULTI_ID.get(dialog_manager)
    value = next((v for i, v in stored if i == chosen), "")
    return {
        "field": _field_label(dialog_manager, kind),
        "values": [(cut(v, BUTTON_LIMIT), str(i)) for i, v in stored],
        "value": value,
    }


async def on_multi_selected(
    _: CallbackQuery, __: Select[str], manager: DialogManager, item_id: str
) -> None:
    """Pick a stored value to change or remove."""
    MULTI_ID.set(manager, int(item_id))
    await manager.switch_to(LeadCard.edit_multi_item)


async def on_multi_add(_: CallbackQuery, __: Button, manager: DialogManager) -> None:
    """Ask for a value to add."""
    MULTI_ID.clear(manager)
    await manager.switch_to(LeadCard.edit_multi_value)


@replaces_stale_card
async def on_multi_remove(callback: CallbackQuery, __: Button, manager: DialogManager) -> None:
    """Remove the picked value (the others stay: the portal merges multi-field edits)."""
    value_id = MULTI_ID.get(manager)
    if value_id is None:
        return
    try:
        card = await leads_of(manager).edit_multifield(
            caller(manager), _lead_id(manager), _multi_kind(manager), value_id=value_id
        )
    except InvalidValueError:
        await callback.answer(translator(manager).get("card-edit-gone"), show_alert=True)
        return
    await after_write(manager, card)


@replaces_stale_card
async def on_multi_value(message: Message, _: MessageInput, manager: DialogManager) -> None:
    """Add or change a phone or e-mail."""
    tr = translator(manager)
    kind = _multi_kind(manager)
    text = (message.text or "").strip()
    if not text:
        return
    value_id = MULTI_ID.get(manager)
    service = leads_of(manager)
    try:
        service.clean_multifield(kind, text)
    except InvalidValueError:
        key = "card-edit-bad-phone" if kind == "PHONE" else "card-edit-bad-email"
        await message.answer(tr.get_html(key))
        return
    try:
        card = await service.edit_multifield(
            caller(manager),
            _lead_id(manager),
            kind,
            value_id=value_id,
            value=text,
        )
    except InvalidValueError:
        await message.answer(tr.get_html("card-edit-gone"))
        return
    await after_write(manager, card)


# --- note --------------------------------------------------------------------------------


def note_text(tr: Translator, message: Message) -> str:
    """The timeline comment for a note: its text, or a reference to a voice note or photo."""
    if message.voice is not None:
        text = tr.get("card-note-voice", value=message.voice.file_id)
        return f"{text}\n{message.caption}" if message.caption else text
    if message.photo:
        text = tr.get("card-note-photo", value=message.photo[-1].file_id)
        return f"{text}\n{message.caption}" if message.caption else text
    return (message.text or "").strip()


@replaces_stale_card
async def on_note(message: Message, _: MessageInput, manager: DialogManager) -> None:
    """Add the note to the lead's timeline."""
    tr = translator(manager)
    text = note_text(tr, message)[:NOTE_LIMIT]
    if not text.strip():
        await message.answer(tr.get_html("card-note-unsupported"))
        return
    card = await leads_of(manager).add_note(caller(manager), _lead_id(manager), text, tr=tr)
    await after_write(manager, card)


# --- delete ------------------------------------------------------------------------------


async def get_delete(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    """The title of the lead to delete."""
    return {"name": _kept(dialog_manager).title}


@replaces_stale_card
async def on_delete_confirmed(callback: CallbackQuery, __: Button, manager: DialogManager) -> None:
    """Delete the lead (managers; re-checked by the service)."""
    tr = translator(manager)
    try:
        await leads_of(manager).delete(caller(manager), _lead_id(manager))
    except AccessDenied:
        await callback.answer(tr.get("card-managers-only"), show_alert=True)
        await manager.switch_to(LeadCard.main)
        return
    ERROR.set(manager, tr.get_html("card-deleted", name=_kept(manager).title))
    await manager.switch_to(LeadCard.main)


def _back_to_card() -> SwitchTo:
    return SwitchTo(Tr("button-back"), id="card_back", state=LeadCard.main)


def build_card_dialog() -> Dialog:
    """A fresh lead card dialog."""
    return Dialog(
        Window(
            Format("{text}"),
            Row(
                SwitchTo(Tr("card-stage-button"), id="card_to_stage", state=LeadCard.stage),
                SwitchTo(Tr("card-edit-button"), id="card_to_edit", state=LeadCard.edit),
                when="ok",
            ),
            Row(
                SwitchTo(Tr("card-note-button"), id="card_to_note", state=LeadCard.note),
                Button(Tr("card-take-button"), id="card_take", on_click=on_take, when="can_take"),
                when="ok",
            ),
            Row(
                Button(Tr("card-contacts-button"), id="card_contacts", on_click=on_contacts),
                Button(Tr("card-products-button"), id="card_products", on_click=on_products),
                when="ok",
            ),
            Button(
                Tr("card-followup-button"), id="card_followup", on_click=on_follow_up, when="ok"
            ),
            Url(Tr("card-portal-button"), Format("{url}"), id="card_url", when="has_url"),
            Row(
                SwitchTo(
                    Tr("card-delete-button"),
                    id="card_to_delete",
                    state=LeadCard.delete,
                    when="is_manager",
                ),
                Button(Tr("card-refresh-button"), id="card_refresh", on_click=on_refresh),
                when="ok",
            ),
            Row(
                Button(Tr("card-find-button"), id="card_find", on_click=on_to_search),
                Button(Tr("button-menu"), id="card_menu", on_click=on_to_menu),
                when="failed",
            ),
            Cancel(Tr("button-back")),
            state=LeadCard.main,
            getter=get_card,
        ),
        Window(
            Tr("card-choose-stage"),
            Column(
                Select(
                    Format("{item[0]}"),
                    id=STAGE_SELECT_ID,
                    item_id_getter=lambda item: item[1],
                    items="stages",
                    on_click=on_stage_selected,
                )
            ),
            _back_to_card(),
            state=LeadCard.stage,
            getter=get_stages,
        ),
        Window(
            Tr("card-stage-reason"),
            MessageInput(on_stage_reason, content_types=["text"]),
            _back_to_card(),
            state=LeadCard.stage_reason,
            getter=get_new_stage,
        ),
        Window(
            Tr("card-stage-converted"),
            Button(Tr("card-stage-converted-yes"), id="card_convert", on_click=on_stage_confirmed),
            _back_to_card(),
            state=LeadCard.stage_confirm,
            getter=get_new_stage,
        ),
        Window(
            Tr("card-edit-choose"),
            Column(
                Select(
                    Format("{item[0]}"),
                    id=FIELD_SELECT_ID,
                    item_id_getter=lambda item: item[1],
                    items="fields",
                    on_click=on_field_selected,
                )
            ),
            _back_to_card(),
            state=LeadCard.edit,
            getter=get_fields,
        ),
        Window(
            Tr("card-edit-prompt"),
            MessageInput(on_edit_value, content_types=["text"]),
            SwitchTo(Tr("button-back"), id="card_value_back", state=LeadCard.edit),
            state=LeadCard.edit_value,
            getter=get_edit_value,
        ),
        Window(
            Tr("card-edit-source"),
            Column(
                Select(
                    Format("{item[0]}"),
                    id=SOURCE_SELECT_ID,
                    item_id_getter=lambda item: item[1],
                    items="sources",
                    on_click=on_source_selected,
                )
            ),
            SwitchTo(Tr("button-back"), id="card_source_back", state=LeadCard.edit),
            state=LeadCard.edit_source,
            getter=get_sources,
        ),
        Window(
            Tr("card-edit-multi"),
            Column(
                Select(
                    Format("{item[0]}"),
                    id=MULTI_SELECT_ID,
                    item_id_getter=lambda item: item[1],
                    items="values",
                    on_click=on_multi_selected,
                )
            ),
            Button(Tr("card-edit-multi-add-button"), id="card_multi_add", on_click=on_multi_add),
            SwitchTo(Tr("button-back"), id="card_multi_back", state=LeadCard.edit),
            state=LeadCard.edit_multi,
            getter=get_multi,
        ),
        Window(
            Tr("card-edit-multi-chosen"),
            Row(
                SwitchTo(
                    Tr("card-edit-multi-change-button"),
                    id="card_multi_change",
                    state=LeadCard.edit_multi_value,
                ),
                Button(
                    Tr("card-edit-multi-delete-button"),
                    id="card_multi_remove",
                    on_click=on_multi_remove,
                ),
            ),
            SwitchTo(Tr("button-back"), id="card_item_back", state=LeadCard.edit_multi),
            state=LeadCard.edit_multi_item,
            getter=get_multi,
        ),
        Window(
            Tr("card-edit-multi-prompt"),
            MessageInput(on_multi_value, content_types=["text"]),
            SwitchTo(Tr("button-back"), id="card_mval_back", state=LeadCard.edit_multi),
            state=LeadCard.edit_multi_value,
            getter=get_multi,
        ),
        Window(
            Tr("card-note-prompt"),
            MessageInput(on_note, content_types=["text", "voice", "photo"]),
            _back_to_card(),
            state=LeadCard.note,
        ),
        Window(
            Tr("card-delete-confirm"),
            Button(Tr("card-delete-yes"), id="card_delete_yes", on_click=on_delete_confirmed),
            _back_to_card(),
            state=LeadCard.delete,
            getter=get_delete,
        ),
        on_start=on_card_start,
        on_process_result=on_child_closed,
    )
