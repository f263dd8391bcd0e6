"""Every other text a user types is read or refused with a reason, never a crash."""

from __future__ import annotations

import contextlib

from hypothesis import given
from hypothesis import strategies as st

from bot.admin.fields import (
    MAX_FIELD_NAME,
    LabelProblem,
    NameProblem,
    ValuesProblem,
    check_field_name,
    check_label,
    parse_list_values,
)
from bot.leads.form import InputRejected, parse_date, parse_text
from bot.leads.query import QueryKind, parse_query

ANY_TEXT = st.text(max_size=400)


@given(ANY_TEXT)
def test_search_queries_are_understood_or_ignored(raw: str) -> None:
    query = parse_query(raw, "RU")
    if query is None:
        return
    assert query.kind in QueryKind
    if query.kind is QueryKind.ID:
        assert query.lead_id is not None
        assert query.lead_id > 0


@given(ANY_TEXT, st.lists(st.text(max_size=20), max_size=5))
def test_field_names_are_valid_portal_names_or_refused(typed: str, existing: list[str]) -> None:
    result = check_field_name(typed, existing)
    if isinstance(result, NameProblem):
        return
    assert result.startswith("UF_CRM_")
    assert len(result) <= MAX_FIELD_NAME
    assert all(c.isascii() and (c.isalnum() or c == "_") for c in result)


@given(ANY_TEXT)
def test_labels_are_one_trimmed_line_or_refused(typed: str) -> None:
    result = check_label(typed)
    if isinstance(result, LabelProblem):
        return
    assert result == result.strip()
    assert "\n" not in result


@given(ANY_TEXT, st.lists(st.text(max_size=20), max_size=5))
def test_list_values_are_distinct_lines_or_refused(text: str, existing: list[str]) -> None:
    result = parse_list_values(text, existing)
    if isinstance(result, ValuesProblem):
        return
    folded = [v.casefold() for v in result]
    assert len(set(folded)) == len(folded)
    assert all(v and v == v.strip() for v in result)


@given(ANY_TEXT, st.integers(min_value=1, max_value=300), st.booleans())
def test_free_text_answers_respect_their_limit(text: str, limit: int, one_line: bool) -> None:
    with contextlib.suppress(InputRejected):
        value = parse_text(text, limit, one_line=one_line)
        assert 0 < len(value) <= limit


@given(ANY_TEXT)
def test_dates_are_iso_or_refused(text: str) -> None:
    with contextlib.suppress(InputRejected):
        value = parse_date(text)
        assert len(value) == 10
        assert value[4] == value[7] == "-"
