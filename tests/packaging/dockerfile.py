"""Just enough of a Dockerfile and Makefile reader for the packaging tests."""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Instruction:
    """One Dockerfile instruction with its continuation lines joined."""

    keyword: str
    args: str

    def exec_form(self) -> list[str]:
        """The JSON (exec) form of CMD/HEALTHCHECK CMD arguments."""
        text = self.args.split("CMD", 1)[1] if self.keyword == "HEALTHCHECK" else self.args
        parsed = json.loads(text.strip())
        assert isinstance(parsed, list)
        return [str(part) for part in parsed]


def dockerfile(path: Path = ROOT / "Dockerfile") -> list[Instruction]:
    """The instructions of a Dockerfile, in order."""
    logical: list[str] = []
    current = ""
    for line in path.read_text().splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        logical.append(current + stripped)
        current = ""
    instructions = []
    for line in logical:
        keyword, _, args = line.partition(" ")
        instructions.append(Instruction(keyword.upper(), args.strip()))
    return instructions


def env_of(instructions: list[Instruction]) -> dict[str, str]:
    """Every `ENV KEY=VALUE ...` of the image (later ones win)."""
    env: dict[str, str] = {}
    for instruction in instructions:
        if instruction.keyword == "ENV":
            for pair in shlex.split(instruction.args):
                key, _, value = pair.partition("=")
                env[key] = value
    return env


def makefile_variable(name: str, path: Path = ROOT / "Makefile") -> str:
    """The value of a simple `NAME := value` line of the Makefile."""
    found = re.search(rf"^{name}\s*:=\s*(.+)$", path.read_text(), re.MULTILINE)
    assert found, f"{name} is not defined in the Makefile"
    return found.group(1).strip()
