"""Pure parts of lead product rows: typed amounts, totals, replace-all row editing."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.leads.products import (
    MAX_PRICE,
    MAX_QUANTITY,
    AmountError,
    AmountProblem,
    parse_price,
    parse_quantity,
    rows_signature,
    rows_total,
    rows_with_added,
    rows_without,
    writable_row,
)
from bot.portal import ProductRow

# A row as crm.lead.productrows.get returns it (numbers as numbers, computed fields included).
READ_ROW = {
    "ID": "41",
    "OWNER_ID": "7",
    "OWNER_TYPE": "L",
    "PRODUCT_ID": 5,
    "PRODUCT_NAME": "Sensor kit pro (custom name)",
    "ORIGINAL_PRODUCT_NAME": "Sensor kit pro",
    "PRODUCT_DESCRIPTION": "",
    "PRICE": 25110.0,
    "PRICE_EXCLUSIVE": 25110.0,
    "PRICE_NETTO": 27900.0,
    "PRICE_BRUTTO": 25110.0,
    "PRICE_ACCOUNT": "25110.00000000",
    "QUANTITY": 2.0,
    "DISCOUNT_TYPE_ID": 2,
    "DISCOUNT_RATE": 10.0,
    "DISCOUNT_SUM": 2790.0,
    "TAX_RATE": None,
    "TAX_INCLUDED": "N",
    "CUSTOMIZED": "Y",
    "MEASURE_CODE": 796,
    "MEASURE_NAME": "pcs",
    "SORT": 20,
    "XML_ID": "",
    "TYPE": 1,
    "STORE_ID": None,
    "RESERVE_ID": None,
}
FREE_ROW = {
    "ID": "42",
    "PRODUCT_ID": 0,
    "PRODUCT_NAME": "Free-text delivery",
    "PRICE": 900.5,
    "QUANTITY": 1.5,
    "DISCOUNT_TYPE_ID": 1,
    "DISCOUNT_SUM": 100.0,
    "TAX_RATE": 20.0,
    "TAX_INCLUDED": "Y",
    "MEASURE_CODE": 796,
    "MEASURE_NAME": "pcs",
    "SORT": 10,
}


def rows() -> list[ProductRow]:
    return [ProductRow.model_validate(READ_ROW), ProductRow.model_validate(FREE_ROW)]


# --- typed amounts -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2", Decimal(2)),
        ("1,5", Decimal("1.5")),
        ("1.5", Decimal("1.5")),
        (" 12 ", Decimal(12)),
        ("1 500", Decimal(1500)),
        ("1\u00a0500,25", Decimal("1500.25")),
        ("2.000", Decimal(2)),
        ("1,000.5", Decimal("1000.5")),
        ("1.000,5", Decimal("1000.5")),
        ("100000", MAX_QUANTITY),
    ],
)
def test_quantity_accepts_common_spellings(text: str, expected: Decimal) -> None:
    assert parse_quantity(text) == expected


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", AmountProblem.NOT_A_NUMBER),
        ("two", AmountProblem.NOT_A_NUMBER),
        ("1,2,3", AmountProblem.NOT_A_NUMBER),
        ("1.2.3", AmountProblem.NOT_A_NUMBER),
        ("12,34.5", AmountProblem.NOT_A_NUMBER),
        ("nan", AmountProblem.NOT_A_NUMBER),
        ("Infinity", AmountProblem.NOT_A_NUMBER),
        ("1e3", AmountProblem.NOT_A_NUMBER),
        ("5" * 5000, AmountProblem.NOT_A_NUMBER),
        ("-1", AmountProblem.NOT_POSITIVE),
        ("0", AmountProblem.NOT_POSITIVE),
        ("0,000", AmountProblem.NOT_POSITIVE),
        ("100000.001", AmountProblem.TOO_LARGE),
        ("1,0005", AmountProblem.TOO_PRECISE),
    ],
)
def test_quantity_refusals_say_why(text: str, problem: AmountProblem) -> None:
    with pytest.raises(AmountError) as refused:
        parse_quantity(text)
    assert refused.value.problem is problem


def test_price_may_be_zero_but_not_negative_or_too_precise() -> None:
    assert parse_price("0") == Decimal(0)
    assert parse_price("12 500,50") == Decimal("12500.5")
    assert parse_price("999999999.99") == MAX_PRICE
    for text, problem in [
        ("-0,01", AmountProblem.NOT_POSITIVE),
        ("1000000000", AmountProblem.TOO_LARGE),
        ("1.005", AmountProblem.TOO_PRECISE),
        ("price", AmountProblem.NOT_A_NUMBER),
    ]:
        with pytest.raises(AmountError) as refused:
            parse_price(text)
        assert refused.value.problem is problem


prices = st.decimals(min_value=0, max_value=MAX_PRICE, places=2, allow_nan=False)


@given(prices, st.sampled_from([".", ","]), st.sampled_from(["", " ", "\u00a0"]))
def test_any_price_reads_back_with_either_decimal_mark(
    price: Decimal, mark: str, group: str
) -> None:
    whole, _, fraction = f"{price:f}".partition(".")
    grouped = f"{int(whole):,}".replace(",", group)
    text = grouped + (mark + fraction if fraction else "")
    assert parse_price(text) == price


@given(st.text(max_size=50))
def test_any_text_gives_a_value_in_range_or_is_refused(text: str) -> None:
    try:
        value = parse_quantity(text)
    except AmountError:
        return
    assert Decimal(0) < value <= MAX_QUANTITY
    assert value == value.quantize(Decimal("0.001"))


@given(st.decimals(min_value=-(10**12), max_value=10**12, places=4, allow_nan=False))
def test_decimal_numbers_are_accepted_exactly_when_in_range(number: Decimal) -> None:
    text = f"{number:f}".replace(".", ",")
    in_range = Decimal(0) < number <= MAX_QUANTITY and number == number.quantize(Decimal("0.001"))
    try:
        assert parse_quantity(text) == number
    except AmountError:
        assert not in_range
    else:
        assert in_range


# --- totals and rows -----------------------------------------------------------------------


def test_total_is_the_sum_of_price_times_quantity() -> None:
    assert rows_total(rows()) == Decimal("25110.0") * 2 + Decimal("900.5") * Decimal("1.5")
    assert rows_total([]) == Decimal(0)
    # The portal's default quantity is 1.
    assert rows_total([ProductRow.model_validate({"PRICE": "10.50"})]) == Decimal("10.50")


@given(
    st.lists(
        st.tuples(
            st.decimals(min_value=0, max_value=10**6, places=2, allow_nan=False),
            st.decimals(min_value=0, max_value=1000, places=3, allow_nan=False),
        ),
        max_size=20,
    )
)
def test_total_is_exact_for_any_rows(pairs: list[tuple[Decimal, Decimal]]) -> None:
    made = [ProductRow.model_validate({"PRICE": str(p), "QUANTITY": str(q)}) for p, q in pairs]
    assert rows_total(made) == sum((p * q for p, q in pairs), Decimal(0))


def test_written_row_keeps_every_writable_field_and_drops_computed_ones() -> None:
    written = writable_row(ProductRow.model_validate(READ_ROW)).to_portal()
    assert written == {
        "PRODUCT_ID": 5,
        "PRODUCT_NAME": "Sensor kit pro (custom name)",
        "PRICE": "25110.0",
        "PRICE_EXCLUSIVE": "25110.0",
        "PRICE_NETTO": "27900.0",
        "PRICE_BRUTTO": "25110.0",
        "QUANTITY": "2.0",
        "DISCOUNT_TYPE_ID": 2,
        "DISCOUNT_RATE": "10.0",
        "DISCOUNT_SUM": "2790.0",
        "TAX_INCLUDED": "N",
        "MEASURE_CODE": 796,
        "MEASURE_NAME": "pcs",
        "SORT": 20,
    }


def test_adding_keeps_current_rows_and_appends_after_the_last_sort() -> None:
    current = rows()
    result = [row.to_portal() for row in rows_with_added(current, 9, Decimal(3), Decimal(900))]
    assert result[:2] == [writable_row(row).to_portal() for row in current]
    assert result[1]["TAX_RATE"] == "20.0"
    assert result[1]["DISCOUNT_SUM"] == "100.0"
    assert result[2] == {"PRODUCT_ID": 9, "QUANTITY": "3", "PRICE": "900", "SORT": 30}


def test_removing_keeps_the_other_rows_whole() -> None:
    current = rows()
    result = rows_without(current, 41)
    assert result is not None
    assert [row.to_portal() for row in result] == [writable_row(current[1]).to_portal()]
    assert rows_without(current, 999) is None
    assert rows_without([current[0]], 41) == []


def test_signature_changes_with_any_change_to_the_rows() -> None:
    current = rows()
    same = rows()
    assert rows_signature(current) == rows_signature(same)
    changed = [ProductRow.model_validate({**READ_ROW, "QUANTITY": 3.0}), same[1]]
    assert rows_signature(changed) != rows_signature(current)
    renumbered = [ProductRow.model_validate({**READ_ROW, "ID": "43"}), same[1]]
    assert rows_signature(renumbered) != rows_signature(current)
    assert rows_signature(current[:1]) != rows_signature(current)
