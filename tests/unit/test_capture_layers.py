"""The capture dialog only talks to services: no portal, services typed, never dug out by key."""

from __future__ import annotations

import ast
import inspect
import re
from collections.abc import Callable
from pathlib import Path

from bot.access.service import AccessService
from bot.leads.capture import CaptureService
from dialogs import capture

ROOT = Path(__file__).resolve().parents[2]
CAPTURE_DIALOGS = sorted(ROOT.glob("dialogs/capture*.py"))


def _imported_modules(source: str) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
        elif isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
    return modules


def test_the_capture_dialog_does_not_reach_the_portal() -> None:
    for path in CAPTURE_DIALOGS:
        imported = _imported_modules(path.read_text(encoding="utf-8"))
        assert not any(m == "bot.portal" or m.startswith("bot.portal.") for m in imported), path
        assert "bot.leads.visibility" not in imported, path


def test_services_are_read_only_through_the_typed_accessors() -> None:
    for path in CAPTURE_DIALOGS:
        keys = set(re.findall(r"middleware_data\[\s*\"([^\"]+)\"", path.read_text("utf-8")))
        # aiogram-dialog's own chat; every service goes through an accessor or a keyword.
        assert keys <= {"event_chat"}, (path, keys)


def test_getters_take_the_services_they_use_as_typed_keywords() -> None:
    getters: dict[Callable[..., object], dict[str, type]] = {
        capture.get_question: {"capture": CaptureService},
        capture.get_summary: {"capture": CaptureService, "access": AccessService},
        capture.get_responsible: {"capture": CaptureService, "access": AccessService},
        capture.get_duplicates: {"capture": CaptureService, "access": AccessService},
        capture.get_incoming: {"capture": CaptureService},
    }
    for getter, services in getters.items():
        hints = inspect.get_annotations(getter, eval_str=True)
        for name, kind in services.items():
            assert hints[name] is kind, (getter.__name__, name)
