"""The product rows of one lead: the list with its total, adding from the catalogue, removing."""

from __future__ import annotations

import logging
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple

from aiogram.types import CallbackQuery, Message
from aiogram_dialog import Dialog, DialogManager, Window
from aiogram_dialog.widgets.input import ManagedTextInput, MessageInput, TextInput
from aiogram_dialog.widgets.kbd import Button, Cancel, Select, SwitchTo
from aiogram_dialog.widgets.kbd.select import ManagedRadio
from aiogram_dialog.widgets.text import Format

from bot.access.service import AccessDenied
from bot.leads.inflight import WriteInProgressError
from bot.leads.products import (
    PRODUCT_SEARCH_MAX,
    AmountError,
    AmountProblem,
    LeadProductsService,
    ProductSearchError,
    RowGoneError,
    RowsChangedError,
    parse_price,
    parse_quantity,
    row_amount,
)
from bot.leads.render import cut
from bot.portal import ProductRow
from dialogs.services import caller, lead_products_of, translator
from dialogs.states import LeadProducts
from dialogs.widgets import (
    DialogValue,
    Notice,
    Tr,
    as_flag,
    as_text,
    checked_item,
    clear_notice,
    scrolling_select,
    set_notice,
    started_lead_id,
    widget_of,
)

log = logging.getLogger(__name__)

ROW_SELECT_ID = "lp_row"
FOUND_SELECT_ID = "lp_found"
ADD_ID = "lp_add"
REMOVE_ID = "lp_remove"
USE_PRICE_ID = "lp_use_price"
QUANTITY_ID = "lp_quantity"
PRICE_ID = "lp_price"
PAGE_HEIGHT = 8
LABEL_MAX = 60


class FoundProduct(NamedTuple):
    """A product of the last catalogue search, as its button and the next steps need it."""

    label: str
    id: int
    name: str
    price: Decimal
    currency: str


def _read_found(raw: Any) -> list[FoundProduct]:
    return [
        FoundProduct(str(label), int(product_id), str(name), Decimal(str(price)), str(currency))
        for label, product_id, name, price, currency in raw
    ]


def _write_found(found: list[FoundProduct]) -> list[list[Any]]:
    return [[p.label, p.id, p.name, str(p.price), p.currency] for p in found]


def _read_decimal(raw: Any) -> Decimal:
    try:
        return Decimal(str(raw))
    except InvalidOperation as exc:
        raise ValueError("not a number") from exc


def _read_names(raw: Any) -> dict[int, str]:
    return {int(row_id): str(name) for row_id, name in raw.items()}


SIGNATURE = DialogValue("seen", as_text, "")
"""The rows as the user last saw them: a write must still find them so."""
ROWS: DialogValue[dict[int, str]] = DialogValue(
    "rows", _read_names, {}, write=lambda names: {str(k): v for k, v in names.items()}
)
"""The name the list showed for each row, by row id."""
FOUND: DialogValue[list[FoundProduct]] = DialogValue("found", _read_found, [], write=_write_found)
FOUND_MORE = DialogValue("found_more", as_flag, False)
QUERY = DialogValue("query", as_text, "")
QUANTITY: DialogValue[Decimal | None] = DialogValue("quantity", _read_decimal, None, write=str)
PROBLEM = DialogValue("problem", as_text, "")
"""Why the last text was refused, shown once under the prompt."""


def _chosen_row(manager: DialogManager) -> int:
    """The row picked in the list of the lead's rows."""
    return int(checked_item(manager, ROW_SELECT_ID))


async def on_leave_list(_: CallbackQuery, __: Any, manager: DialogManager) -> None:
    """A notice is shown once, under the list: moving on forgets it."""
    clear_notice(manager)


def _row_name(manager: DialogManager, row: ProductRow) -> str:
    return row.product_name or translator(manager).get("products-unnamed", id=row.product_id or 0)


# --- the rows ----------------------------------------------------------------------------------


async def get_rows(
    dialog_manager: DialogManager, lead_products: LeadProductsService, **_: Any
) -> dict[str, Any]:
    """The lead's rows and total, re-read on every showing (one batch request)."""
    tr = translator(dialog_manager)
    lead_id = started_lead_id(dialog_manager)
    view = await lead_products.view(caller(dialog_manager), lead_id)
    # What the user sees now is what a later write must still find.
    SIGNATURE.set(dialog_manager, view.signature)
    lines = []
    buttons = []
    names: dict[int, str] = {}
    for row in view.rows:
        if row.id is None:
            continue
        name = _row_name(dialog_manager, row)
        price = row.price or Decimal(0)
        quantity = row.quantity if row.quantity is not None else Decimal(1)
        lines.append(
            tr.get_html(
                "products-line",
                product=name,
                quantity=quantity,
                price=price,
                amount=row_amount(row),
                currency=view.currency,
            )
        )
        label = tr.get("products-row-label", product=name, quantity=quantity)
        buttons.append((cut(label, LABEL_MAX), row.id))
        names[row.id] = name
    ROWS.set(dialog_manager, names)
    return {
        "id": lead_id,
        "title": view.lead.title or "",
        "lines": "\n".join(lines),
        "rows": buttons,
        "has_rows": bool(buttons),
        "no_rows": not buttons,
        "total": view.total,
        "currency": view.currency,
    }


async def on_row_selected(
    _: CallbackQuery, __: ManagedRadio[int], manager: DialogManager, row_id: int
) -> None:
    """Ask to confirm removing a row (the list keeps which one)."""
    clear_notice(manager)
    await manager.switch_to(LeadProducts.row)


async def get_row(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    """The row the user chose, by the name the list showed."""
    row_id = _chosen_row(dialog_manager)
    return {"product": ROWS.get(dialog_manager).get(row_id, "")}


async def on_remove(callback: CallbackQuery, __: Button, manager: DialogManager) -> None:
    """Remove the chosen row, unless the rows changed since the user saw them."""
    row_id = _chosen_row(manager)
    name = ROWS.get(manager).get(row_id, "")
    try:
        await lead_products_of(manager).remove_row(
            caller(manager),
            started_lead_id(manager),
            row_id,
            seen_signature=SIGNATURE.get(manager),
        )
    except WriteInProgressError:
        await callback.answer(translator(manager).get("write-in-progress"))
        return
    except RowsChangedError:
        set_notice(manager, "products-changed")
    except RowGoneError:
        set_notice(manager, "products-row-gone")
    else:
        set_notice(manager, "products-removed", product=name)
    await manager.switch_to(LeadProducts.main)


# --- adding from the catalogue -----------------------------------------------------------------


async def get_search(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    """The search prompt, with the last refusal if any."""
    problem = PROBLEM.take(dialog_manager)
    return {
        "too_short": problem == "too_short",
        "too_long": problem == "too_long",
        "not_text": problem == "not_text",
        "count": PRODUCT_SEARCH_MAX,
    }


async def on_search(message: Message, _: MessageInput, manager: DialogManager) -> None:
    """Look the catalogue up by a part of the product name."""
    text = message.text
    if not text:
        PROBLEM.set(manager, "not_text")
        return
    try:
        page = await lead_products_of(manager).search(text)
    except ProductSearchError as exc:
        PROBLEM.set(manager, "too_long" if exc.too_long else "too_short")
        return
    tr = translator(manager)
    found = []
    for product in page.items:
        if product.id is None:
            continue
        price = product.price or Decimal(0)
        label = tr.get(
            "products-found-line",
            product=product.name or "",
            price=price,
            currency=product.currency_id or "",
        )
        found.append(
            FoundProduct(
                cut(label, LABEL_MAX), product.id, product.name or "", price,
                product.currency_id or "",
            )
        )  # fmt: skip
    FOUND.set(manager, found)
    FOUND_MORE.set(manager, page.next is not None)
    QUERY.set(manager, " ".join(text.split())[:PRODUCT_SEARCH_MAX])
    await manager.switch_to(LeadProducts.found)


async def get_found(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    """Products found by the last search, a page at a time."""
    found = [(product.label, product.id) for product in FOUND.get(dialog_manager)]
    return {
        "found": found,
        "count": len(found),
        "nothing": not found,
        "more": FOUND_MORE.get(dialog_manager),
        "query": QUERY.get(dialog_manager),
    }


async def on_product_selected(
    _: CallbackQuery, __: Select[int], manager: DialogManager, product_id: int
) -> None:
    """Ask for the quantity of the product (the list keeps which one)."""
    if _found_product(manager, product_id) is None:
        await manager.switch_to(LeadProducts.search)
        return
    await manager.switch_to(LeadProducts.quantity)


def _found_product(manager: DialogManager, product_id: int) -> FoundProduct | None:
    """A product of the last search (only what this user's own search found)."""
    return next((p for p in FOUND.get(manager) if p.id == product_id), None)


def _product(manager: DialogManager) -> FoundProduct:
    """The product chosen in the list of found ones."""
    chosen = widget_of(manager, FOUND_SELECT_ID, ManagedRadio).get_checked()
    product = _found_product(manager, chosen) if chosen is not None else None
    if product is None:
        raise AccessDenied("no product chosen")
    return product


def _amount_flags(problem: str | None) -> dict[str, bool]:
    return {
        "not_a_number": problem == AmountProblem.NOT_A_NUMBER.value,
        "not_positive": problem == AmountProblem.NOT_POSITIVE.value,
        "too_large": problem == AmountProblem.TOO_LARGE.value,
        "too_precise": problem == AmountProblem.TOO_PRECISE.value,
        "not_text": problem == "not_text",
    }


async def get_quantity(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    """The quantity prompt for the chosen product."""
    product = _product(dialog_manager)
    problem = PROBLEM.take(dialog_manager)
    return {"product": product.name, **_amount_flags(problem)}


async def on_quantity(
    _: Message, __: ManagedTextInput[Decimal], manager: DialogManager, quantity: Decimal
) -> None:
    """Keep the quantity for the price's window, and ask for the price."""
    QUANTITY.set(manager, quantity)
    await manager.switch_to(LeadProducts.price)


async def on_amount_error(
    _: Message, __: ManagedTextInput[Decimal], manager: DialogManager, error: ValueError
) -> None:
    """A quantity or price that is not acceptable: the prompt says why."""
    problem = error.problem if isinstance(error, AmountError) else AmountProblem.NOT_A_NUMBER
    PROBLEM.set(manager, problem.value)


async def on_not_text(_: Message, __: MessageInput, manager: DialogManager) -> None:
    """A sticker, a photo or the like where a number is asked for."""
    PROBLEM.set(manager, "not_text")


def _quantity(manager: DialogManager) -> Decimal:
    """The quantity typed for the chosen product."""
    typed = QUANTITY.get(manager)
    if typed is None:
        raise AccessDenied("no quantity typed")
    return typed


async def get_price(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    """The price prompt, offering the catalogue price."""
    product = _product(dialog_manager)
    problem = PROBLEM.take(dialog_manager)
    return {
        "product": product.name,
        "quantity": _quantity(dialog_manager),
        "price": product.price,
        "currency": product.currency,
        **_amount_flags(problem),
    }


async def _add(manager: DialogManager, price: Decimal) -> None:
    product = _product(manager)
    quantity = _quantity(manager)
    try:
        await lead_products_of(manager).add_row(
            caller(manager),
            started_lead_id(manager),
            product_id=product.id,
            quantity=quantity,
            price=price,
            seen_signature=SIGNATURE.get(manager),
        )
    except RowsChangedError:
        set_notice(manager, "products-changed")
    else:
        set_notice(manager, "products-added", product=product.name, quantity=quantity)
    for value in (QUANTITY, FOUND, FOUND_MORE, QUERY):
        value.clear(manager)
    await manager.switch_to(LeadProducts.main)


async def on_price(
    message: Message, _: ManagedTextInput[Decimal], manager: DialogManager, price: Decimal
) -> None:
    """Add the row at the price the user typed."""
    try:
        await _add(manager, price)
    except WriteInProgressError:
        await message.answer(translator(manager).get_html("write-in-progress"))


async def on_use_catalogue_price(
    callback: CallbackQuery, __: Button, manager: DialogManager
) -> None:
    """Add the row at the catalogue price (a second tap while it runs is told to wait)."""
    try:
        await _add(manager, _product(manager).price)
    except WriteInProgressError:
        await callback.answer(translator(manager).get("write-in-progress"))


def build_lead_products_dialog() -> Dialog:
    """A fresh lead products dialog."""
    return Dialog(
        Window(
            Tr("products-title"),
            Format("{lines}", when="has_rows"),
            Tr("products-total", when="has_rows"),
            Tr("products-none", when="no_rows"),
            Tr("products-hint", when="has_rows"),
            Notice(),
            scrolling_select(
                ROW_SELECT_ID,
                "rows",
                on_row_selected,
                scroll_id="lp_rows_scroll",
                height=PAGE_HEIGHT,
                type_factory=int,
                keep_choice=True,
            ),
            SwitchTo(
                Tr("products-add-button"),
                id=ADD_ID,
                state=LeadProducts.search,
                on_click=on_leave_list,
            ),
            Cancel(Tr("button-back")),
            state=LeadProducts.main,
            getter=get_rows,
        ),
        Window(
            Tr("products-remove-confirm"),
            Button(Tr("products-remove-button"), id=REMOVE_ID, on_click=on_remove),
            SwitchTo(Tr("button-back"), id="lp_row_back", state=LeadProducts.main),
            state=LeadProducts.row,
            getter=get_row,
        ),
        Window(
            Tr("products-search-prompt"),
            Tr("products-search-too-short", when="too_short"),
            Tr("products-search-too-long", when="too_long"),
            Tr("products-not-text", when="not_text"),
            MessageInput(on_search),
            SwitchTo(Tr("button-back"), id="lp_search_back", state=LeadProducts.main),
            state=LeadProducts.search,
            getter=get_search,
        ),
        Window(
            Tr("products-found", when="count"),
            Tr("products-found-more", when="more"),
            Tr("products-found-nothing", when="nothing"),
            scrolling_select(
                FOUND_SELECT_ID,
                "found",
                on_product_selected,
                scroll_id="lp_found_scroll",
                height=PAGE_HEIGHT,
                type_factory=int,
                keep_choice=True,
            ),
            SwitchTo(Tr("products-search-again-button"), id="lp_again", state=LeadProducts.search),
            SwitchTo(Tr("button-back"), id="lp_found_back", state=LeadProducts.main),
            state=LeadProducts.found,
            getter=get_found,
        ),
        Window(
            Tr("products-quantity-prompt"),
            Tr("products-amount-not-a-number", when="not_a_number"),
            Tr("products-quantity-not-positive", when="not_positive"),
            Tr("products-quantity-too-large", when="too_large"),
            Tr("products-quantity-too-precise", when="too_precise"),
            Tr("products-not-text", when="not_text"),
            TextInput(
                QUANTITY_ID,
                type_factory=parse_quantity,
                on_success=on_quantity,
                on_error=on_amount_error,
            ),
            MessageInput(on_not_text),
            SwitchTo(Tr("button-back"), id="lp_quantity_back", state=LeadProducts.main),
            state=LeadProducts.quantity,
            getter=get_quantity,
        ),
        Window(
            Tr("products-price-prompt"),
            Tr("products-amount-not-a-number", when="not_a_number"),
            Tr("products-price-not-positive", when="not_positive"),
            Tr("products-price-too-large", when="too_large"),
            Tr("products-price-too-precise", when="too_precise"),
            Tr("products-not-text", when="not_text"),
            Button(
                Tr("products-use-price-label"),
                id=USE_PRICE_ID,
                on_click=on_use_catalogue_price,
            ),
            TextInput(
                PRICE_ID, type_factory=parse_price, on_success=on_price, on_error=on_amount_error
            ),
            MessageInput(on_not_text),
            SwitchTo(Tr("button-back"), id="lp_price_back", state=LeadProducts.quantity),
            state=LeadProducts.price,
            getter=get_price,
        ),
    )
