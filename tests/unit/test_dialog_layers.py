"""The dialogs talk to services only: they never reach the portal client themselves."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICE_ONLY_DIALOGS = sorted(
    str(path.relative_to(ROOT)) for path in (ROOT / "dialogs").glob("**/*.py")
)


def _imported_names(source: str) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


@pytest.mark.parametrize("path", SERVICE_ONLY_DIALOGS)
def test_dialogs_do_not_use_the_portal_client(path: str) -> None:
    source = (ROOT / path).read_text(encoding="utf-8")
    imported = _imported_names(source)
    assert not any(name.startswith("bot.portal.client") for name in imported), imported
    assert not any(name.endswith(".PortalClient") for name in imported), imported
    # Nor take it from the middleware data, or re-read a lead around the services.
    assert 'middleware_data["portal"]' not in source
    assert "bot.leads.visibility.visible_lead" not in imported


def test_the_check_sees_a_client_import() -> None:
    imported = _imported_names("from bot.portal import Lead, PortalClient\n")
    assert any(name.endswith(".PortalClient") for name in imported)


def _dialog_data_uses(source: str) -> list[int]:
    """Lines that touch `dialog_data` themselves (an attribute of anything)."""
    return [
        node.lineno
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Attribute) and node.attr == "dialog_data"
    ]


# `DialogValue` lives there; capture's draft record is read with the older shapes it knows.
DIALOG_DATA_OWNERS = {
    "dialogs/widgets.py": None,
    "dialogs/capture.py": {"_stored_draft", "_draft", "_save_draft", "_open_draft"},
}


@pytest.mark.parametrize("path", SERVICE_ONLY_DIALOGS)
def test_dialogs_keep_their_values_through_dialog_value(path: str) -> None:
    # Each value a dialog keeps has one typed `DialogValue` (its key, its type, its default),
    # not a string key and a cast at every use.
    source = (ROOT / path).read_text(encoding="utf-8")
    allowed = DIALOG_DATA_OWNERS.get(path, set())
    if allowed is None:
        return
    tree = ast.parse(source)
    inside_allowed = {
        line
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name in allowed
        for line in range(node.lineno, (node.end_lineno or node.lineno) + 1)
    }
    stray = [line for line in _dialog_data_uses(source) if line not in inside_allowed]
    assert stray == [], f"{path}: dialog_data used directly on lines {stray}"


def test_the_check_sees_a_dialog_data_use() -> None:
    assert _dialog_data_uses("x = manager.dialog_data['k']\n") == [1]
