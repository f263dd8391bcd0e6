"""Debian's Chromium for the browser test: find it, and install it when it is missing.

`python -m tests.browser` (run by `make pytest`) installs the `chromium` package with apt-get
when no browser is found and the command runs as root; it never fails the build. When the
browser cannot be had, the browser test skips and prints why.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

CHROMIUM_PATHS = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
APT_ENV = {"DEBIAN_FRONTEND": "noninteractive"}

Runner = Callable[[Sequence[str]], int]


def find_chromium(
    candidates: Sequence[str] = CHROMIUM_PATHS,
    is_executable: Callable[[str], bool] = lambda path: os.access(path, os.X_OK),
) -> str | None:
    """The first Chromium binary present, or None."""
    for path in candidates:
        if Path(path).is_file() and is_executable(path):
            return path
    return None


def install_commands(*, is_root: bool, apt_get: str | None) -> list[list[str]] | None:
    """The apt-get commands that install Chromium, or None when this machine cannot run them."""
    if not is_root or apt_get is None:
        return None
    return [
        [apt_get, "update", "-qq"],
        [apt_get, "install", "-y", "-qq", "--no-install-recommends", "chromium"],
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


def ensure_chromium(
    *,
    find: Callable[[], str | None] = find_chromium,
    is_root: bool | None = None,
    apt_get: str | None = None,
    run: Runner = _run,
) -> tuple[str | None, str]:
    """(the browser's path or None, a line saying what happened)."""
    found = find()
    if found is not None:
        return found, f"chromium: {found}"
    root = os.geteuid() == 0 if is_root is None else is_root
    commands = install_commands(is_root=root, apt_get=apt_get or shutil.which("apt-get"))
    if commands is None:
        return None, "chromium is missing and cannot be installed here (needs root and apt-get)"
    for command in commands:
        if run(command) != 0:
            return None, f"chromium could not be installed ({' '.join(command[1:3])} failed)"
    found = find()
    if found is None:
        return None, "apt-get ran but no chromium binary appeared"
    return found, f"chromium installed: {found}"


def main() -> int:
    """Install the browser if needed; print what happened; always succeed."""
    _, message = ensure_chromium()
    print(message)
    return 0


if __name__ == "__main__":
    sys.exit(main())
