"""Finding leads: /find (and the menu's Find), "My leads" (/my), results that open cards."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from aiogram import F, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, Message
from aiogram_dialog import Data, Dialog, DialogManager, Window
from aiogram_dialog.widgets.common import ManagedScroll
from aiogram_dialog.widgets.input import MessageInput
from aiogram_dialog.widgets.kbd import (
    Button,
    Cancel,
    Column,
    Row,
    Select,
    StubScroll,
    SwitchTo,
)
from aiogram_dialog.widgets.kbd.select import ManagedRadio
from aiogram_dialog.widgets.text import Format

from bot.access.roles import Action
from bot.leads.query import LeadQuery, QueryKind, parse_query
from bot.leads.render import LINE_TITLE_LIMIT, LeadSummary, button_label, cut, result_line
from bot.leads.service import LeadService, summary_of
from dialogs.services import caller, leads_of, translator
from dialogs.states import (
    QUERY_KEY,
    LeadSearch,
    start_lead_card,
    start_lead_search,
    start_my_leads,
)
from dialogs.widgets import DialogValue, Tr, as_flag, as_text, scrolling_select, widget_of

RESULT_SELECT_ID = "find_result"
PREV_ID = "find_prev"
NEXT_ID = "find_next"
RESULTS_PAGES_ID = "find_pages"
AGAIN_ID = "find_again"
MY_LEAD_SELECT_ID = "my_lead"
MY_RESPONSIBLE_ID = "my_resp"
RESPONSIBLE_SELECT_ID = "my_resp_user"
MY_ALL_ID = "my_all"
MY_MINE_ID = "my_mine"

RESULTS_PER_PAGE = 8
MY_LEADS_LIMIT = 60


# Besides a portal user's id, the responsible list keeps these two choices of its buttons.
ALL_RESPONSIBLE = "all"
OWN_RESPONSIBLE = "mine"


def _summary_row(lead: LeadSummary) -> list[Any]:
    created = lead.created.isoformat() if lead.created is not None else ""
    return [lead.id, cut(lead.title, LINE_TITLE_LIMIT), lead.status_id, created]


def _summary_from_row(row: list[Any]) -> LeadSummary:
    created = datetime.fromisoformat(row[3]) if row[3] else None
    return LeadSummary(id=int(row[0]), title=str(row[1]), status_id=str(row[2]), created=created)


def _read_results(raw: Any) -> list[LeadSummary]:
    return [_summary_from_row(row) for row in raw]


def _read_groups(raw: Any) -> list[tuple[str, str, int]]:
    return [(str(status_id), str(name), int(total)) for status_id, name, total in raw]


def _read_my(raw: Any) -> list[tuple[int, str, str]]:
    return [(int(lead_id), str(title), str(stage)) for lead_id, title, stage in raw]


def _as_rows(rows: list[Any]) -> list[list[Any]]:
    return [list(row) for row in rows]


RESULTS: DialogValue[list[LeadSummary]] = DialogValue(
    "results", _read_results, [], write=lambda leads: [_summary_row(lead) for lead in leads]
)
"""The last search's leads, titles cut to a line."""
TRUNCATED = DialogValue("truncated", as_flag, False)
"""The last search found more than it keeps."""
SHOWN_QUERY = DialogValue("shown_query", as_text, "")
TOO_SHORT = DialogValue("too_short", as_flag, False)
GROUPS: DialogValue[list[tuple[str, str, int]]] = DialogValue(
    "groups", _read_groups, [], write=_as_rows
)
"""My leads: each open stage's id, name and count."""
MY: DialogValue[list[tuple[int, str, str]]] = DialogValue("my", _read_my, [], write=_as_rows)
"""My leads: the first `MY_LEADS_LIMIT` as id, title cut to a line, stage name."""


async def run_search(manager: DialogManager, query: LeadQuery) -> None:
    """Look the query up and keep the results (ids and short titles) in the dialog."""
    result = await leads_of(manager).search(caller(manager), query)
    RESULTS.set(manager, [summary_of(lead) for lead in result.leads])
    TRUNCATED.set(manager, result.truncated)
    await widget_of(manager, RESULTS_PAGES_ID, ManagedScroll).set_page(0)
    SHOWN_QUERY.set(manager, query.text)
    await manager.switch_to(LeadSearch.main)


async def handle_query(manager: DialogManager, text: str) -> bool:
    """Search for `text` (an `#id` opens that card); False when it is too short."""
    query = parse_query(text, leads_of(manager).default_region)
    if query is None:
        return False
    if query.kind is QueryKind.ID and query.lead_id is not None:
        await start_lead_card(manager, query.lead_id)
        return True
    await run_search(manager, query)
    return True


async def on_search_start(start_data: Data, manager: DialogManager) -> None:
    """Run the query /find came with, if any."""
    text = start_data.get(QUERY_KEY, "") if isinstance(start_data, dict) else ""
    if text and not await handle_query(manager, str(text)):
        TOO_SHORT.set(manager, True)


async def on_query_text(message: Message, _: MessageInput, manager: DialogManager) -> None:
    """The user typed what to look for."""
    TOO_SHORT.clear(manager)
    if not await handle_query(manager, message.text or ""):
        TOO_SHORT.set(manager, True)


async def get_query(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    """Whether the last query was too short."""
    return {"too_short": TOO_SHORT.get(dialog_manager)}


async def get_results(
    dialog_manager: DialogManager, leads: LeadService, **_: Any
) -> dict[str, Any]:
    """One page of results: the lines of text and a button per lead."""
    tr = translator(dialog_manager)
    snapshot = await leads.catalog.get()
    rows = RESULTS.get(dialog_manager)
    pages = max(1, math.ceil(len(rows) / RESULTS_PER_PAGE))
    page = min(
        await widget_of(dialog_manager, RESULTS_PAGES_ID, ManagedScroll).get_page(), pages - 1
    )
    shown = rows[page * RESULTS_PER_PAGE :][:RESULTS_PER_PAGE]
    now = datetime.now(UTC)
    query = SHOWN_QUERY.get(dialog_manager)
    if rows:
        header = tr.get_html(
            "search-results", count=len(rows), query=cut(query, 60), page=page + 1, pages=pages
        )
        lines = [
            f"{index}. {result_line(tr, lead, snapshot.stage_name(lead.status_id), now)}"
            for index, lead in enumerate(shown, start=page * RESULTS_PER_PAGE + 1)
        ]
        text = header + "\n\n" + "\n".join(lines)
        if TRUNCATED.get(dialog_manager):
            text += "\n\n" + tr.get_html("search-results-more")
    else:
        text = tr.get_html("search-nothing", query=cut(query, 60))
    buttons = [
        (f"{index}. {button_label(tr, lead)}", str(lead.id))
        for index, lead in enumerate(shown, start=page * RESULTS_PER_PAGE + 1)
    ]
    return {
        "text": text,
        "leads": buttons,
        "pages": pages,
        "has_prev": page > 0,
        "has_next": page < pages - 1,
    }


async def on_result_selected(
    _: CallbackQuery, __: Select[str], manager: DialogManager, item_id: str
) -> None:
    """Open the card (its permission check runs when it loads)."""
    await start_lead_card(manager, int(item_id))


async def on_prev(_: CallbackQuery, __: Button, manager: DialogManager) -> None:
    """The previous page of results."""
    pages = widget_of(manager, RESULTS_PAGES_ID, ManagedScroll)
    await pages.set_page(max(0, await pages.get_page() - 1))


async def on_next(_: CallbackQuery, __: Button, manager: DialogManager) -> None:
    """The next page of results."""
    pages = widget_of(manager, RESULTS_PAGES_ID, ManagedScroll)
    await pages.set_page(await pages.get_page() + 1)


# --- my leads ----------------------------------------------------------------------------


def _chosen_responsible(manager: DialogManager) -> str | None:
    """A portal user's id, `ALL_RESPONSIBLE`, or None for the caller's own leads."""
    chosen = widget_of(manager, RESPONSIBLE_SELECT_ID, ManagedRadio).get_checked()
    return None if chosen in (None, OWN_RESPONSIBLE) else str(chosen)


async def load_my_leads(manager: DialogManager) -> None:
    """Read the open leads by stage for the chosen responsible (one portal request)."""
    identity = caller(manager)
    chosen = _chosen_responsible(manager)
    if not identity.may(Action.VIEW_ALL_LEADS) or chosen is None:
        responsible: int | None = identity.portal_user_id
    elif chosen == ALL_RESPONSIBLE:
        responsible = None
    else:
        responsible = int(chosen)
    groups = await leads_of(manager).open_leads(identity, responsible)
    GROUPS.set(manager, [(g.status_id, g.name, g.total) for g in groups])
    leads: list[tuple[int, str, str]] = []
    for group in groups:
        for lead in group.leads:
            if len(leads) < MY_LEADS_LIMIT:
                leads.append((lead.id, cut(lead.title, LINE_TITLE_LIMIT), group.name))
    MY.set(manager, leads)


async def on_search_dialog_start(start_data: Data, manager: DialogManager) -> None:
    """Load "My leads" when the dialog opens there, else run /find's query."""
    if manager.current_context().state == LeadSearch.my:
        await load_my_leads(manager)
        return
    await on_search_start(start_data, manager)


async def on_child_closed(_: Data, __: Any, manager: DialogManager) -> None:
    """Back from a card: the list may have changed."""
    if manager.current_context().state == LeadSearch.my:
        await load_my_leads(manager)


async def get_my_leads(
    dialog_manager: DialogManager, leads: LeadService, **_: Any
) -> dict[str, Any]:
    """Stage counts and a button per lead, in the portal's stage order."""
    tr = translator(dialog_manager)
    identity = caller(dialog_manager)
    chosen = _chosen_responsible(dialog_manager)
    if chosen is None or not identity.may(Action.VIEW_ALL_LEADS):
        title = tr.get_html("my-leads-title-mine")
    elif chosen == ALL_RESPONSIBLE:
        title = tr.get_html("my-leads-title-all")
    else:
        name = await leads.user_name(int(chosen))
        title = tr.get_html("my-leads-title-user", name=name)
    lines = [
        tr.get_html("my-leads-stage", stage=cut(name, 60), count=total)
        for _status_id, name, total in GROUPS.get(dialog_manager)
    ]
    body = "\n".join(lines) if lines else tr.get_html("my-leads-none")
    buttons = []
    for lead_id, lead_title, stage in MY.get(dialog_manager):
        summary = LeadSummary(id=lead_id, title=lead_title, status_id="")
        buttons.append((button_label(tr, summary, prefix=f"{cut(stage, 14)} · "), str(lead_id)))
    return {
        "text": f"{title}\n\n{body}",
        "leads": buttons,
        "is_manager": identity.may(Action.VIEW_ALL_LEADS),
    }


async def get_responsibles(
    dialog_manager: DialogManager, leads: LeadService, **_: Any
) -> dict[str, Any]:
    """Active portal users to choose from (from the directory cache)."""
    users = await leads.directory_users()
    return {"users": [(u[1], str(u[0])) for u in users]}


async def _show_leads_of(manager: DialogManager, responsible: str) -> None:
    """Keep `responsible` as the list's choice and show their open leads."""
    await widget_of(manager, RESPONSIBLE_SELECT_ID, ManagedRadio).set_checked(responsible)
    await load_my_leads(manager)
    await manager.switch_to(LeadSearch.my)


async def on_responsible_selected(
    _: CallbackQuery, __: ManagedRadio[str], manager: DialogManager, item_id: str
) -> None:
    """Show the chosen user's open leads (the list keeps the choice)."""
    if not caller(manager).may(Action.VIEW_ALL_LEADS):
        return
    # The list marks the pressed item only after this handler: mark it first, then load.
    await _show_leads_of(manager, str(int(item_id)))


async def on_everybody(_: CallbackQuery, __: Button, manager: DialogManager) -> None:
    """Show everybody's open leads (managers)."""
    await _show_leads_of(manager, ALL_RESPONSIBLE)


async def on_mine(_: CallbackQuery, __: Button, manager: DialogManager) -> None:
    """Back to the caller's own open leads."""
    await _show_leads_of(manager, OWN_RESPONSIBLE)


# --- commands ----------------------------------------------------------------------------


async def on_find_command(
    message: Message, command: CommandObject, dialog_manager: DialogManager, leads: LeadService
) -> None:
    """`/find [query]`: the results, the card for `#id`, or the prompt."""
    text = (command.args or "").strip()
    query = parse_query(text, leads.default_region) if text else None
    if query is not None and query.kind is QueryKind.ID and query.lead_id is not None:
        await start_lead_card(dialog_manager, query.lead_id)
        return
    await start_lead_search(dialog_manager, text or None)


async def on_my_command(message: Message, dialog_manager: DialogManager) -> None:
    """`/my`: the caller's open leads by stage."""
    await start_my_leads(dialog_manager)


def build_search_router() -> Router:
    """A fresh router for /find and /my (private chats)."""
    router = Router(name="lead_search_commands")
    router.message.filter(F.chat.type == "private")
    router.message.register(on_find_command, Command("find"))
    router.message.register(on_my_command, Command("my"))
    return router


def build_search_dialog() -> Dialog:
    """A fresh lead search dialog: the prompt, the results, "My leads"."""
    return Dialog(
        Window(
            Tr("search-prompt"),
            Tr("search-too-short", when="too_short"),
            MessageInput(on_query_text, content_types=["text"]),
            Cancel(Tr("button-back")),
            state=LeadSearch.query,
            getter=get_query,
        ),
        Window(
            Format("{text}"),
            Column(
                Select(
                    Format("{item[0]}"),
                    id=RESULT_SELECT_ID,
                    item_id_getter=lambda item: item[1],
                    items="leads",
                    on_click=on_result_selected,
                )
            ),
            Row(
                Button(Tr("search-prev-button"), id=PREV_ID, on_click=on_prev, when="has_prev"),
                Button(Tr("search-next-button"), id=NEXT_ID, on_click=on_next, when="has_next"),
                # Holds the page number of the results; it draws no buttons of its own.
                StubScroll(id=RESULTS_PAGES_ID, pages="pages"),
            ),
            SwitchTo(Tr("search-again-button"), id=AGAIN_ID, state=LeadSearch.query),
            Cancel(Tr("button-back")),
            MessageInput(on_query_text, content_types=["text"]),
            state=LeadSearch.main,
            getter=get_results,
        ),
        Window(
            Format("{text}"),
            scrolling_select(
                MY_LEAD_SELECT_ID,
                "leads",
                on_result_selected,
                scroll_id="my_leads_scroll",
                height=8,
            ),
            SwitchTo(
                Tr("my-leads-responsible-button"),
                id=MY_RESPONSIBLE_ID,
                state=LeadSearch.responsible,
                when="is_manager",
            ),
            Cancel(Tr("button-back")),
            state=LeadSearch.my,
            getter=get_my_leads,
        ),
        Window(
            Tr("my-leads-choose-responsible"),
            Row(
                Button(Tr("my-leads-mine-button"), id=MY_MINE_ID, on_click=on_mine),
                Button(Tr("my-leads-everyone-button"), id=MY_ALL_ID, on_click=on_everybody),
            ),
            scrolling_select(
                RESPONSIBLE_SELECT_ID,
                "users",
                on_responsible_selected,
                scroll_id="my_resp_scroll",
                width=2,
                height=6,
                keep_choice=True,
            ),
            SwitchTo(Tr("button-back"), id="my_resp_back", state=LeadSearch.my),
            state=LeadSearch.responsible,
            getter=get_responsibles,
        ),
        on_start=on_search_dialog_start,
        on_process_result=on_child_closed,
    )
