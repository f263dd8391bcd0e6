"""Finding and installing the browser of the browser test (no apt-get is run here)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from tests.browser import ensure_chromium, find_chromium, install_commands


def test_the_first_executable_browser_is_found(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope")
    present = tmp_path / "chromium"
    present.write_text("#!/bin/sh\n")
    assert find_chromium([missing, str(present)], is_executable=lambda _: True) == str(present)
    assert find_chromium([str(present)], is_executable=lambda _: False) is None
    assert find_chromium([missing]) is None


def test_only_root_with_apt_get_installs() -> None:
    assert install_commands(is_root=False, apt_get="/usr/bin/apt-get") is None
    assert install_commands(is_root=True, apt_get=None) is None
    commands = install_commands(is_root=True, apt_get="/usr/bin/apt-get")
    assert commands is not None
    assert commands[-1][-1] == "chromium"
    assert "-y" in commands[-1]


def test_a_missing_browser_is_installed_and_then_found() -> None:
    installed: list[str] = []
    ran: list[Sequence[str]] = []

    def run(command: Sequence[str]) -> int:
        ran.append(command)
        if "install" in command:
            installed.append("/usr/bin/chromium")
        return 0

    path, message = ensure_chromium(
        find=lambda: installed[0] if installed else None,
        is_root=True,
        apt_get="/usr/bin/apt-get",
        run=run,
    )
    assert path == "/usr/bin/chromium"
    assert message == "chromium installed: /usr/bin/chromium"
    assert [c[1] for c in ran] == ["update", "install"]


def test_a_failed_install_says_why_and_never_raises() -> None:
    path, message = ensure_chromium(
        find=lambda: None, is_root=True, apt_get="/usr/bin/apt-get", run=lambda _: 100
    )
    assert path is None
    assert "could not be installed" in message
    path, message = ensure_chromium(find=lambda: None, is_root=False, apt_get=None)
    assert path is None
    assert "needs root and apt-get" in message


def test_a_present_browser_is_left_alone() -> None:
    def never(command: Sequence[str]) -> int:
        raise AssertionError(f"ran {command}")

    assert ensure_chromium(find=lambda: "/usr/bin/chromium", run=never)[0] == "/usr/bin/chromium"
