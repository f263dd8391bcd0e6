"""The reverse-proxy configurations we ship route every public path of the bot and nothing else:
the single process's nginx example (docs/operations.md, section 5) and the replicas' proxy
(deploy/nginx-replicas.conf). nginx's own location rules, read from the files."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.config import AppSettings, WebSettings
from bot.web import WEBHOOK_PATH

ROOT = Path(__file__).resolve().parents[2]
_LOCATION = re.compile(r"^\s*location\s+(=|~)?\s*(\S+)\s*\{(.*?)^\s*\}", re.M | re.S)
_HEREDOC = "sudo tee /etc/nginx/sites-available/leads-bot >/dev/null <<'EOF'\n"


@dataclass(frozen=True)
class Location:
    kind: str  # "=", "~" or "" (prefix)
    pattern: str
    body: str


def locations(config: str) -> list[Location]:
    return [Location(kind, pattern, body) for kind, pattern, body in _LOCATION.findall(config)]


def chosen(config: str, path: str) -> Location:
    """The location nginx picks for `path`: exact, else regex in order, else longest prefix."""
    found = locations(config)
    for location in found:
        if location.kind == "=" and location.pattern == path:
            return location
    for location in found:
        if location.kind == "~" and re.search(location.pattern, path):
            return location
    prefixes = [loc for loc in found if not loc.kind and path.startswith(loc.pattern)]
    return max(prefixes, key=lambda loc: len(loc.pattern))


def single_process_example() -> str:
    text = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    start = text.index(_HEREDOC) + len(_HEREDOC)
    return text[start : text.index("\nEOF\n", start)]


CONFIGS = {
    "single process (docs/operations.md)": single_process_example,
    "replicas (deploy/nginx-replicas.conf)": lambda: (
        ROOT / "deploy" / "nginx-replicas.conf"
    ).read_text(encoding="utf-8"),
}


def public_paths() -> list[str]:
    web, app = WebSettings(), AppSettings()
    tab = app.tab_path
    return [
        web.event_path,
        WEBHOOK_PATH,
        app.install_path,
        app.uninstall_path,
        tab,
        f"{tab}/ping",
        f"{tab}/group",
        app.robot_path,
    ]


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_every_public_path_reaches_the_bot(name: str) -> None:
    config = CONFIGS[name]()
    for path in public_paths():
        assert "proxy_pass" in chosen(config, path).body, f"{name} does not route {path}"


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_internal_paths_and_lookalikes_are_not_published(name: str) -> None:
    config = CONFIGS[name]()
    tab = AppSettings().tab_path
    for path in ("/healthz", "/readyz", "/metrics", "/", f"{tab}/other", f"{tab}x"):
        assert "return 404" in chosen(config, path).body, f"{name} publishes {path}"
