"""Product rows of a lead: totals, replace-all row editing, amount parsing, checked writes.

The portal's `crm.lead.productrows.set` replaces the whole set of rows, so every change reads
the current rows, edits the list and writes all of it back. Rows are re-read right before the
write and compared with what the user saw; a concurrent change is reported, never overwritten.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from bot.access.roles import Identity
from bot.leads.actions import BotActionLog, LeadAction
from bot.leads.inflight import InFlight
from bot.leads.visibility import visible_lead_in_batch
from bot.portal import Lane, Lead, Page, PortalClient, Product, ProductRow
from bot.portal.methods import GetLead, GetLeadProductRows
from bot.write_journal import StepState, WriteJournal

log = logging.getLogger(__name__)

__all__ = [
    "MAX_PRICE",
    "MAX_QUANTITY",
    "PRICE_PLACES",
    "PRODUCT_SEARCH_MAX",
    "PRODUCT_SEARCH_MIN",
    "QUANTITY_PLACES",
    "AmountError",
    "AmountProblem",
    "LeadProductsService",
    "ProductRowsView",
    "ProductSearchError",
    "RowsChangedError",
    "catalogue_row",
    "parse_amount",
    "parse_price",
    "parse_quantity",
    "row_amount",
    "rows_signature",
    "rows_total",
    "rows_with_added",
    "rows_without",
    "writable_row",
]

MAX_QUANTITY = Decimal("100000")
QUANTITY_PLACES = 3
MAX_PRICE = Decimal("999999999.99")
PRICE_PLACES = 2
PRODUCT_SEARCH_MIN = 2
PRODUCT_SEARCH_MAX = 100
SORT_STEP = 10

# The fields `productrows.set` documents as writable; everything else a row carries when read
# (ID, OWNER_*, ORIGINAL_PRODUCT_NAME, PRICE_ACCOUNT, TYPE, reserves...) is computed by the portal.
WRITABLE_ROW_FIELDS: tuple[str, ...] = (
    "PRODUCT_ID",
    "PRODUCT_NAME",
    "PRICE",
    "PRICE_EXCLUSIVE",
    "PRICE_NETTO",
    "PRICE_BRUTTO",
    "QUANTITY",
    "DISCOUNT_TYPE_ID",
    "DISCOUNT_RATE",
    "DISCOUNT_SUM",
    "TAX_RATE",
    "TAX_INCLUDED",
    "MEASURE_CODE",
    "MEASURE_NAME",
    "SORT",
)


# --- amounts typed by a user ---------------------------------------------------------------


class AmountProblem(StrEnum):
    """Why a typed amount was refused."""

    NOT_A_NUMBER = "not_a_number"
    NOT_POSITIVE = "not_positive"
    TOO_LARGE = "too_large"
    TOO_PRECISE = "too_precise"


class AmountError(ValueError):
    """A typed quantity or price is not acceptable; `problem` says why."""

    def __init__(self, problem: AmountProblem) -> None:
        super().__init__(problem.value)
        self.problem = problem


_GROUP_SPACES = re.compile(r"[\s\u00a0\u202f\u2009']")
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")
_GROUPED = re.compile(r"[+-]?\d{1,3}(,\d{3})+(\.\d*)?")
_GROUPED_DOTS = re.compile(r"[+-]?\d{1,3}(\.\d{3})+(,\d*)?")
MAX_AMOUNT_TEXT = 40


def _canonical_number(text: str) -> str | None:
    """`1 500,50` / `1,500.50` / `1.500,50` -> `1500.50`; None when it is not a number."""
    compact = _GROUP_SPACES.sub("", text.strip())
    if not compact or len(compact) > MAX_AMOUNT_TEXT:
        return None
    if "," in compact and "." in compact:
        # Both separators: the later one is the decimal mark, the other groups thousands.
        if compact.rfind(".") > compact.rfind(","):
            if not _GROUPED.fullmatch(compact):
                return None
            compact = compact.replace(",", "")
        else:
            if not _GROUPED_DOTS.fullmatch(compact):
                return None
            compact = compact.replace(".", "").replace(",", ".")
    elif "," in compact:
        if compact.count(",") > 1:
            return None
        # A lone comma is the decimal comma (`1,5`), as people type it in Russian.
        compact = compact.replace(",", ".")
    return compact if _PLAIN_NUMBER.fullmatch(compact) else None


def parse_amount(text: str, *, maximum: Decimal, places: int, allow_zero: bool) -> Decimal:
    """A typed non-negative number within `maximum` and `places` decimals (comma accepted)."""
    canonical = _canonical_number(text)
    if canonical is None:
        raise AmountError(AmountProblem.NOT_A_NUMBER)
    try:
        value = Decimal(canonical)
    except InvalidOperation:
        raise AmountError(AmountProblem.NOT_A_NUMBER) from None
    if not value.is_finite():
        raise AmountError(AmountProblem.NOT_A_NUMBER)
    if value < 0 or (value == 0 and not allow_zero):
        raise AmountError(AmountProblem.NOT_POSITIVE)
    if value > maximum:
        raise AmountError(AmountProblem.TOO_LARGE)
    exponent = value.normalize().as_tuple().exponent
    if isinstance(exponent, int) and -exponent > places:
        raise AmountError(AmountProblem.TOO_PRECISE)
    return value.normalize() if value != 0 else Decimal(0)


def parse_quantity(text: str) -> Decimal:
    """A positive quantity (up to 100 000, 3 decimals)."""
    return parse_amount(text, maximum=MAX_QUANTITY, places=QUANTITY_PLACES, allow_zero=False)


def parse_price(text: str) -> Decimal:
    """A unit price: zero (a free line) or positive, up to 999 999 999.99, 2 decimals."""
    return parse_amount(text, maximum=MAX_PRICE, places=PRICE_PLACES, allow_zero=True)


# --- rows ----------------------------------------------------------------------------------


def row_amount(row: ProductRow) -> Decimal:
    """PRICE x QUANTITY of one row (a missing quantity counts as the portal's default 1)."""
    price = row.price if row.price is not None else Decimal(0)
    quantity = row.quantity if row.quantity is not None else Decimal(1)
    return price * quantity


def rows_total(rows: Sequence[ProductRow]) -> Decimal:
    """Sum of PRICE x QUANTITY over the rows."""
    return sum((row_amount(row) for row in rows), Decimal(0))


def writable_row(row: ProductRow) -> ProductRow:
    """The row as it must be written back: every writable field it has, nothing computed."""
    portal = row.model_dump(mode="json", by_alias=True)
    kept = {name: portal[name] for name in WRITABLE_ROW_FIELDS if portal.get(name) is not None}
    return ProductRow.model_validate(kept)


def catalogue_row(
    product_id: int, quantity: Decimal, price: Decimal, *, sort: int | None = None
) -> ProductRow:
    """A new row for a catalogue product; the portal fills its name from the catalogue."""
    fields: dict[str, Any] = {"PRODUCT_ID": product_id, "QUANTITY": quantity, "PRICE": price}
    if sort is not None:
        fields["SORT"] = sort
    return ProductRow.model_validate(fields)


def _next_sort(rows: Sequence[ProductRow]) -> int:
    return max((row.sort or 0 for row in rows), default=0) + SORT_STEP


def rows_with_added(
    rows: Sequence[ProductRow], product_id: int, quantity: Decimal, price: Decimal
) -> list[ProductRow]:
    """Every current row kept as is, plus a new catalogue row at the end."""
    kept = [writable_row(row) for row in rows]
    return [*kept, catalogue_row(product_id, quantity, price, sort=_next_sort(rows))]


def rows_without(rows: Sequence[ProductRow], row_id: int) -> list[ProductRow] | None:
    """Every current row except `row_id`, kept as is; None when no row has that id."""
    if not any(row.id == row_id for row in rows):
        return None
    return [writable_row(row) for row in rows if row.id != row_id]


def rows_signature(rows: Sequence[ProductRow]) -> str:
    """A short fingerprint of the rows as read: any change by anyone changes it."""
    body = [row.model_dump(mode="json", by_alias=True) for row in rows]
    digest = hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode())
    return digest.hexdigest()[:16]


# --- the service -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProductRowsView:
    """A lead's rows as just read, their total and fingerprint."""

    lead: Lead
    rows: list[ProductRow]
    total: Decimal
    currency: str
    signature: str


class RowsChangedError(Exception):
    """The rows changed since the user saw them; nothing was written."""

    def __init__(self, fresh: ProductRowsView) -> None:
        super().__init__("product rows changed meanwhile")
        self.fresh = fresh


class RowGoneError(Exception):
    """The row to remove is no longer on the lead; nothing was written."""


class ProductSearchError(ValueError):
    """A catalogue search text is too short or too long."""

    def __init__(self, too_long: bool) -> None:
        super().__init__("search text too long" if too_long else "search text too short")
        self.too_long = too_long


class LeadProductsService:
    """Reading and editing a lead's product rows, each step permission-checked."""

    def __init__(
        self, portal: PortalClient, actions: BotActionLog, journal: WriteJournal | None = None
    ) -> None:
        self._portal = portal
        self._journal = journal or WriteJournal(None)
        self._actions = actions
        self._in_flight = InFlight()

    async def view(self, identity: Identity, lead_id: int) -> ProductRowsView:
        """The lead (if the caller may see it) and its rows: one batch request."""
        result = await self._portal.batch(
            {
                "lead": GetLead(id=lead_id),
                "rows": GetLeadProductRows(id=lead_id),
            },
            halt=True,
            lane=Lane.INTERACTIVE,
        )
        lead = visible_lead_in_batch(identity, lead_id, result, "lead")
        rows: list[ProductRow] = result["rows"]
        return ProductRowsView(
            lead=lead,
            rows=rows,
            total=rows_total(rows),
            currency=lead.currency_id or "",
            signature=rows_signature(rows),
        )

    async def search(self, text: str) -> Page[Product]:
        """Active catalogue products whose name contains `text`: first 50, by name."""
        query = " ".join(text.split())
        if len(query) > PRODUCT_SEARCH_MAX:
            raise ProductSearchError(too_long=True)
        if len(query) < PRODUCT_SEARCH_MIN:
            raise ProductSearchError(too_long=False)
        return await self._portal.list_products(
            filter={"%NAME": query, "ACTIVE": "Y"},
            select=["ID", "NAME", "PRICE", "CURRENCY_ID"],
            order={"NAME": "ASC", "ID": "ASC"},
        )

    async def _fresh(self, identity: Identity, lead_id: int, seen: str) -> ProductRowsView:
        fresh = await self.view(identity, lead_id)
        if fresh.signature != seen:
            raise RowsChangedError(fresh)
        return fresh

    async def add_row(
        self,
        identity: Identity,
        lead_id: int,
        *,
        product_id: int,
        quantity: Decimal,
        price: Decimal,
        seen_signature: str,
    ) -> None:
        """Add a catalogue product row, keeping every other row as it is.

        One write at a time per user and lead (WriteInProgressError for a second tap); a
        repeat after the first finished fails the signature check (RowsChangedError), and a
        replayed update whose write is recorded done writes nothing.
        """
        async with self._in_flight.hold((identity.telegram_user_id, lead_id)):
            step = await self._journal.step(f"products:{lead_id}")
            if step is not None and step.state is StepState.DONE:
                return
            current = await self._fresh(identity, lead_id, seen_signature)
            rows = rows_with_added(current.rows, product_id, quantity, price)
            step = await self._journal.started(step)
            await self._portal.set_lead_products(lead_id, rows)
            await self._journal.finished(step)
            await self._actions.record(identity, lead_id, LeadAction.PRODUCT_ADDED)

    async def remove_row(
        self, identity: Identity, lead_id: int, row_id: int, *, seen_signature: str
    ) -> None:
        """Remove one row, keeping every other row as it is (one write at a time, as adding)."""
        async with self._in_flight.hold((identity.telegram_user_id, lead_id)):
            step = await self._journal.step(f"products:{lead_id}")
            if step is not None and step.state is StepState.DONE:
                return
            current = await self._fresh(identity, lead_id, seen_signature)
            rows = rows_without(current.rows, row_id)
            if rows is None:
                raise RowGoneError(row_id)
            step = await self._journal.started(step)
            await self._portal.set_lead_products(lead_id, rows)
            await self._journal.finished(step)
            await self._actions.record(identity, lead_id, LeadAction.PRODUCT_REMOVED)
