"""Batch command building, chunking and result parsing."""

from __future__ import annotations

import json

import pytest

from bot.portal.batch import (
    BatchCommand,
    build_cmd,
    chunk_commands,
    is_read_method,
    parse_batch_result,
    result_ref,
)
from bot.portal.errors import NotFoundError, ScopeError, ValidationError
from tests.reference import EXAMPLES


def _example(name: str) -> dict:
    return json.loads((EXAMPLES / name).read_text())


def test_linked_request_from_the_docs_is_rebuilt_exactly() -> None:
    commands = {
        "get_user": BatchCommand("user.current"),
        "get_department": BatchCommand(
            "department.get", {"ID": result_ref("get_user", "UF_DEPARTMENT", 0)}
        ),
    }
    assert build_cmd(commands) == _example("batch.request.linked.json")["cmd"]


def test_list_command_uses_php_brackets() -> None:
    command = BatchCommand(
        "crm.lead.list", {"filter": {"STATUS_ID": "NEW"}, "select": ["ID"], "start": 50}
    )
    assert command.to_query() == "crm.lead.list?filter[STATUS_ID]=NEW&select[0]=ID&start=50"
    assert command.is_read


def test_sequences_get_keys_and_are_chunked_by_fifty() -> None:
    chunks = chunk_commands([BatchCommand("crm.lead.get", {"id": i}) for i in range(120)])
    assert [len(chunk) for chunk in chunks] == [50, 50, 20]
    assert next(iter(chunks[1])) == "c50"


def test_references_across_chunks_are_refused() -> None:
    commands = {f"c{i}": BatchCommand("crm.lead.get", {"id": i}) for i in range(50)}
    commands["late"] = BatchCommand("crm.lead.get", {"id": result_ref("c0", "ID")})
    with pytest.raises(ValueError, match="another request"):
        chunk_commands(commands)


def test_read_methods_are_told_from_writes() -> None:
    assert is_read_method("crm.lead.list")
    assert is_read_method("crm.lead.contact.items.get")
    assert is_read_method("user.current")
    assert not is_read_method("crm.lead.add")
    assert not is_read_method("crm.lead.contact.items.set")


def test_halt0_errors_become_typed_per_command() -> None:
    body = _example("batch.response.error-halt0.json")["result"]
    result = parse_batch_result(body, ["get_user", "get_department"])
    assert result.results == {}
    assert set(result.errors) == {"get_user", "get_department"}
    assert isinstance(result.errors["get_user"], ScopeError)
    with pytest.raises(ScopeError):
        result.raise_for_errors()


def test_halt1_stops_after_the_first_failure() -> None:
    body = _example("batch.response.error-halt1.json")["result"]
    result = parse_batch_result(body, ["get_user", "get_department"])
    assert list(result.errors) == ["get_user"]
    assert result.missing() == ["get_department"]


def test_length_exceeded_item_is_a_validation_error() -> None:
    body = _example("batch.response.length-exceeded-item.derived.json")["result"]
    result = parse_batch_result(body)
    assert isinstance(result.errors["cmd50"], ValidationError)
    assert result.errors["cmd50"].code == "ERROR_BATCH_LENGTH_EXCEEDED"


def test_results_totals_and_nexts_are_per_command() -> None:
    body = {
        "result": {"a": [{"ID": "1"}], "b": True},
        "result_error": {"c": {"error": "", "error_description": "Not found"}},
        "result_total": {"a": 120},
        "result_next": {"a": 50},
        "result_time": {"a": {"operating": 1.5}},
    }
    commands = {k: BatchCommand("crm.lead.list") for k in "abc"}
    result = parse_batch_result(body, commands)
    assert result["a"] == [{"ID": "1"}]
    assert result.totals == {"a": 120}
    assert result.nexts == {"a": 50}
    assert result.times["a"]["operating"] == 1.5
    assert isinstance(result.errors["c"], NotFoundError)
    assert result.errors["c"].method == "crm.lead.list"
    with pytest.raises(NotFoundError):
        result["c"]


def test_list_shaped_maps_from_php_are_accepted() -> None:
    result = parse_batch_result({"result": [[1], [2]], "result_error": []}, ["0", "1"])
    assert result.results == {"0": [1], "1": [2]}
    assert result.errors == {}
    result.raise_for_errors()
