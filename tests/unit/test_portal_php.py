"""PHP-style query encoding, as batch command strings need it."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from urllib.parse import unquote

from bot.portal.batch import result_ref
from bot.portal.php import encode_query, flatten
from tests.reference import EXAMPLES


def test_nested_fields_match_the_docs_form_encoding() -> None:
    params = {
        "fields": {
            "TITLE": "My company",
            "PHONE": [
                {"VALUE": "112233", "VALUE_TYPE": "WORK"},
                {"VALUE": "555888112", "VALUE_TYPE": "OTHER"},
            ],
        }
    }
    expected = (EXAMPLES / "crm.lead.add.request.form-urlencoded.txt").read_text().strip()
    assert encode_query(params) == expected


def test_values_are_url_encoded_so_ampersands_survive() -> None:
    assert encode_query({"fields": {"TITLE": "John&Martin"}}) == "fields[TITLE]=John%26Martin"


def test_operator_keys_are_encoded_and_decode_back() -> None:
    query = encode_query({"filter": {"!=NAME": "", "%TITLE": "a b", ">=ID": 5}})
    assert unquote(query) == "filter[!=NAME]=&filter[%TITLE]=a b&filter[>=ID]=5"
    assert "=%" not in query.split("&")[0].split("=")[0]


def test_lists_get_indexes_and_scalars_get_php_spelling() -> None:
    query = encode_query(
        {"select": ["ID", "TITLE"], "flag": True, "off": False, "none": None, "n": Decimal("1.50")}
    )
    assert query == "select[0]=ID&select[1]=TITLE&flag=1&off=0&none=&n=1.50"


def test_dates_are_iso() -> None:
    assert encode_query({"d": date(2024, 5, 1)}) == "d=2024-05-01"


def test_result_references_are_left_raw() -> None:
    query = encode_query({"filter": {">ID": result_ref("p0", 49, "ID")}})
    assert query == "filter[%3EID]=$result[p0][49][ID]"


def test_empty_containers_become_empty_values() -> None:
    assert flatten({"rows": [], "filter": {}}) == [("rows", ""), ("filter", "")]
