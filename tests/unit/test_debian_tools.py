"""Finding and installing the Debian programs some tests drive (no apt-get is run here)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from tests.debian_tools import CHROMIUM, NGINX, Tool, ensure_tool, find_tool, install_commands


def test_the_first_executable_path_is_found(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope")
    present = tmp_path / "chromium"
    present.write_text("#!/bin/sh\n")
    tool = Tool("chromium", "chromium", (missing, str(present)))
    assert find_tool(tool, is_executable=lambda _: True) == str(present)
    assert find_tool(tool, is_executable=lambda _: False) is None
    assert find_tool(Tool("chromium", "chromium", (missing,))) is None


def test_only_root_with_apt_get_installs() -> None:
    assert install_commands(CHROMIUM, is_root=False, apt_get="/usr/bin/apt-get") is None
    assert install_commands(CHROMIUM, is_root=True, apt_get=None) is None
    for tool, package in ((CHROMIUM, "chromium"), (NGINX, "nginx-light")):
        commands = install_commands(tool, is_root=True, apt_get="/usr/bin/apt-get")
        assert commands is not None
        assert commands[-1][-1] == package
        assert "-y" in commands[-1]


def test_a_missing_tool_is_installed_and_then_found() -> None:
    installed: list[str] = []
    ran: list[Sequence[str]] = []

    def run(command: Sequence[str]) -> int:
        ran.append(command)
        if "install" in command:
            installed.append("/usr/sbin/nginx")
        return 0

    path, message = ensure_tool(
        NGINX,
        find=lambda: installed[0] if installed else None,
        is_root=True,
        apt_get="/usr/bin/apt-get",
        run=run,
    )
    assert path == "/usr/sbin/nginx"
    assert message == "nginx installed: /usr/sbin/nginx"
    assert [c[1] for c in ran] == ["update", "install"]
    assert ran[-1][-1] == "nginx-light"


def test_a_failed_install_says_why_and_never_raises() -> None:
    path, message = ensure_tool(
        CHROMIUM, find=lambda: None, is_root=True, apt_get="/usr/bin/apt-get", run=lambda _: 100
    )
    assert path is None
    assert "chromium could not be installed" in message
    path, message = ensure_tool(CHROMIUM, find=lambda: None, is_root=False, apt_get=None)
    assert path is None
    assert "needs root, apt-get" in message


def test_a_present_tool_is_left_alone() -> None:
    def never(command: Sequence[str]) -> int:
        raise AssertionError(f"ran {command}")

    found = ensure_tool(CHROMIUM, find=lambda: "/usr/bin/chromium", run=never)[0]
    assert found == "/usr/bin/chromium"
