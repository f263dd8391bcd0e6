"""Debian programs some tests drive: find them, and install them when they are missing.

Chromium for the browser test of the lead tab, nginx for the test that runs the replicas' proxy
configuration. `python -m tests.debian_tools` (run by `make pytest`) installs each missing one
with apt-get when the command runs as root; it never fails the build. A tool that cannot be had
makes its tests skip and print why.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

APT_ENV = {"DEBIAN_FRONTEND": "noninteractive"}

Runner = Callable[[Sequence[str]], int]


@dataclass(frozen=True)
class Tool:
    """A program, where Debian puts it, and the package that brings it."""

    name: str
    package: str
    paths: tuple[str, ...]


CHROMIUM = Tool("chromium", "chromium", ("/usr/bin/chromium", "/usr/bin/chromium-browser"))
NGINX = Tool("nginx", "nginx-light", ("/usr/sbin/nginx",))
TOOLS = (CHROMIUM, NGINX)


def find_tool(
    tool: Tool,
    is_executable: Callable[[str], bool] = lambda path: os.access(path, os.X_OK),
) -> str | None:
    """The first of the tool's paths that holds an executable, or None."""
    for path in tool.paths:
        if Path(path).is_file() and is_executable(path):
            return path
    return None


def require_tool(tool: Tool) -> str:
    """The tool's path, or skip the test that needs it, saying how to get it."""
    path = find_tool(tool)
    if path is None:
        pytest.skip(
            f"no {tool.name} at {tool.paths[0]}: run `make pytest` as root to install it, "
            f"or `apt-get install {tool.package}`"
        )
    return path


def install_commands(tool: Tool, *, is_root: bool, apt_get: str | None) -> list[list[str]] | None:
    """The apt-get commands that install the tool, or None when this machine cannot run them."""
    if not is_root or apt_get is None:
        return None
    return [
        [apt_get, "update", "-qq"],
        [apt_get, "install", "-y", "-qq", "--no-install-recommends", tool.package],
    ]


def _run(command: Sequence[str]) -> int:
    try:
        done = subprocess.run(  # noqa: S603 - fixed apt-get commands
            list(command),
            env={**os.environ, **APT_ENV},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=600,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return 1
    return done.returncode


def ensure_tool(
    tool: Tool,
    *,
    find: Callable[[], str | None] | None = None,
    is_root: bool | None = None,
    apt_get: str | None = None,
    run: Runner = _run,
) -> tuple[str | None, str]:
    """(the tool's path or None, a line saying what happened)."""
    look = find or (lambda: find_tool(tool))
    found = look()
    if found is not None:
        return found, f"{tool.name}: {found}"
    root = os.geteuid() == 0 if is_root is None else is_root
    commands = install_commands(tool, is_root=root, apt_get=apt_get or shutil.which("apt-get"))
    if commands is None:
        return None, f"{tool.name} is missing and cannot be installed here (needs root, apt-get)"
    for command in commands:
        if run(command) != 0:
            return None, f"{tool.name} could not be installed ({' '.join(command[1:3])} failed)"
    found = look()
    if found is None:
        return None, f"apt-get ran but no {tool.name} binary appeared"
    return found, f"{tool.name} installed: {found}"


def main() -> int:
    """Install what is missing; print what happened; always succeed."""
    for tool in TOOLS:
        print(ensure_tool(tool)[1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
