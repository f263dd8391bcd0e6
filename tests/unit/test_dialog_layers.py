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
