"""The project's modules import each other without cycles, so each can be read and moved alone.

Only imports run at import time count: those under `if TYPE_CHECKING:` are for the type
checker. Importing `a.b.c` also runs the packages `a` and `a.b`, so those count as well.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("bot", "dialogs")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _runtime_imports(tree: ast.Module, module: str, is_package: bool) -> Iterator[str]:
    def visit(nodes: list[ast.stmt]) -> Iterator[str]:
        for node in nodes:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                yield from visit(node.orelse)
                continue
            if isinstance(node, ast.Import):
                yield from (alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = module.split(".")
                    anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
                    base = ".".join([*anchor, base] if base else anchor)
                yield base
                yield from (f"{base}.{alias.name}" for alias in node.names)
            elif isinstance(node, ast.If | ast.Try):
                yield from visit(node.body)
                yield from visit(node.orelse)

    yield from visit(tree.body)


def import_graph() -> dict[str, set[str]]:
    """Module -> the project modules (and their packages) it imports at run time."""
    files = [p for package in PACKAGES for p in (ROOT / package).rglob("*.py")]
    modules = {_module_name(p): p for p in files}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        targets: set[str] = set()
        for imported in _runtime_imports(tree, name, path.name == "__init__.py"):
            parts = imported.split(".")
            for end in range(1, len(parts) + 1):
                candidate = ".".join(parts[:end])
                if candidate in modules and candidate != name:
                    targets.add(candidate)
        graph[name] = targets
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                connect(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return found


def _is_package_and_its_module(group: list[str]) -> bool:
    """A package re-exporting its own submodules is not a cycle between parts."""
    return all(member.startswith(min(group, key=len)) for member in group)


def test_no_module_imports_itself_through_others() -> None:
    found = [group for group in cycles(import_graph()) if not _is_package_and_its_module(group)]
    assert found == []


def part_of(module: str) -> str:
    """The part of the project a module is in: `bot.leads.form` -> `bot.leads`."""
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "bot" else parts[0]


def test_no_two_parts_import_each_other() -> None:
    parts: dict[str, set[str]] = {}
    for module, targets in import_graph().items():
        for target in targets:
            if part_of(module) != part_of(target):
                parts.setdefault(part_of(module), set()).add(part_of(target))
    assert cycles(parts) == []


def test_the_check_finds_a_cycle() -> None:
    graph = {"bot.a": {"bot.b"}, "bot.b": {"bot.c"}, "bot.c": {"bot.a"}, "bot.d": {"bot.a"}}
    assert cycles(graph) == [["bot.a", "bot.b", "bot.c"]]


def test_imports_for_the_type_checker_do_not_count() -> None:
    source = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from bot.x import Y\n"
    assert "bot.x" not in set(_runtime_imports(ast.parse(source), "bot.z", False))
