"""The compose files: YAML that Compose reads, wired as docs/operations.md describes.

Each file is read as YAML and checked by structure: a quoting slip (a `: ` inside a plain value)
makes a whole file unreadable to Compose while every line still looks right to a search of the
text. Where the `docker compose` plugin is installed, Compose itself reads each file with a
sample `.env`, and what it makes of the variables is checked too (no engine is needed for that).
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.packaging.dockerfile import ROOT, dockerfile, env_of

_FILLED_IN = {
    "TELEGRAM__TOKEN": "123456:sample",
    "PORTAL__WEBHOOK_URL": "https://portal.example.com/rest/1/sample/",
    "TELEGRAM__ADMIN_IDS": "[1]",
}
_SCALED = {
    "POSTGRES_PASSWORD": "sample-password",
    "TELEGRAM__WEBHOOK_URL": "https://bot.example.com",
    "TELEGRAM__WEBHOOK_SECRET": "sample-secret",
}


def compose_file(name: str) -> dict[str, Any]:
    loaded = yaml.safe_load((ROOT / name).read_text())
    assert isinstance(loaded, dict), name
    return loaded


def test_compose_keeps_the_database_in_a_volume_and_publishes_on_loopback() -> None:
    compose = compose_file("compose.yaml")
    bot = compose["services"]["bot"]
    (mount,) = bot["volumes"]
    volume, target = mount.split(":")
    assert volume in compose["volumes"]
    assert bot["environment"]["STORAGE__PATH"].startswith(f"{target}/")
    assert env_of(dockerfile())["STORAGE__PATH"].startswith(f"{target}/")
    assert bot["ports"] == ["127.0.0.1:8080:8080"]
    assert bot["env_file"] == ".env"


def test_scaled_compose_runs_webhook_replicas_behind_the_proxy_on_postgres_and_redis() -> None:
    compose = compose_file("compose.replicas.yaml")
    services = compose["services"]
    bot = services["bot"]
    environment = bot["environment"]
    assert environment["STORAGE__URL"].startswith("postgresql://")
    assert "@postgres:5432/" in environment["STORAGE__URL"]
    assert environment["REDIS__URL"].startswith("redis://redis:6379/")
    assert environment["TELEGRAM__WEBHOOK_URL"].startswith("${TELEGRAM__WEBHOOK_URL:?")
    assert bot["deploy"]["replicas"] == "${BOT_REPLICAS:-3}"
    assert "ports" not in bot  # reached only through the proxy
    for service in ("postgres", "redis"):
        assert "healthcheck" in services[service]
        assert bot["depends_on"][service] == {"condition": "service_healthy"}
        (mount,) = services[service]["volumes"]
        assert mount.split(":")[0] in compose["volumes"]
    proxy = services["proxy"]
    assert proxy["ports"] == ["127.0.0.1:8080:8080"]
    (mount,) = proxy["volumes"]
    source, _, mode = mount.split(":")
    assert mode == "ro"
    conf = (ROOT / source).read_text()
    # Every public path and only those: tests/packaging/test_proxy_configs.py.
    assert "location = /bitrix/events {" in conf
    assert "location = /telegram/webhook {" in conf
    assert "return 404;" in conf
    assert "resolver 127.0.0.11" in conf


@functools.cache
def _docker() -> str | None:
    """The docker client, when it has the compose plugin."""
    docker = shutil.which("docker")
    if docker is None:
        return None
    version = subprocess.run(  # noqa: S603 - the docker client found on PATH, fixed arguments
        [docker, "compose", "version"], capture_output=True, check=False
    )
    return docker if version.returncode == 0 else None


needs_compose = pytest.mark.skipif(
    _docker() is None,
    reason="the docker compose plugin is not installed here; the YAML checks above still run",
)


def _compose_config(
    folder: Path, name: str, settings: dict[str, str], environment: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`docker compose config` of a copy of `name` whose `.env` is `.env.example` with
    `settings` filled in, as an operator following the README would have it."""
    shutil.copy(ROOT / name, folder / name)
    lines = []
    for line in (ROOT / ".env.example").read_text().splitlines():
        key = line.split("=", 1)[0]
        lines.append(f"{key}={settings[key]}" if key in settings else line)
    missing = settings.keys() - {line.split("=", 1)[0] for line in lines}
    lines += [f"{key}={settings[key]}" for key in sorted(missing)]
    (folder / ".env").write_text("\n".join(lines) + "\n")
    clean = {key: value for key, value in os.environ.items() if key in ("PATH", "HOME")}
    docker = _docker()
    assert docker is not None
    return subprocess.run(  # noqa: S603 - the docker client found on PATH, fixed arguments
        [docker, "compose", "-f", name, "config", "--format", "json"],
        cwd=folder,
        env=clean | (environment or {}),
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def _services(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert result.returncode == 0, result.stderr
    services = json.loads(result.stdout)["services"]
    assert isinstance(services, dict)
    return services


@needs_compose
def test_docker_compose_reads_the_single_process_file(tmp_path: Path) -> None:
    bot = _services(_compose_config(tmp_path, "compose.yaml", _FILLED_IN))["bot"]
    assert bot["environment"]["STORAGE__PATH"] == "/app/data/bot.sqlite3"
    assert bot["environment"]["TELEGRAM__TOKEN"] == "123456:sample"
    (port,) = bot["ports"]
    assert (port["host_ip"], port["published"], port["target"]) == ("127.0.0.1", "8080", 8080)


@needs_compose
def test_docker_compose_reads_the_scaled_file_with_what_it_requires(tmp_path: Path) -> None:
    settings = _FILLED_IN | _SCALED
    services = _services(_compose_config(tmp_path, "compose.replicas.yaml", settings))
    environment = services["bot"]["environment"]
    url = "postgresql://leadsbot:sample-password@postgres:5432/leadsbot"
    assert environment["STORAGE__URL"] == url
    assert environment["TELEGRAM__WEBHOOK_URL"] == "https://bot.example.com"
    assert services["bot"]["deploy"]["replicas"] == 3
    assert services["postgres"]["environment"]["POSTGRES_PASSWORD"] == "sample-password"
    assert set(services) == {"bot", "proxy", "postgres", "redis"}
    scaled = _compose_config(tmp_path, "compose.replicas.yaml", settings, {"BOT_REPLICAS": "5"})
    assert _services(scaled)["bot"]["deploy"]["replicas"] == 5


@needs_compose
@pytest.mark.parametrize("missing", ["POSTGRES_PASSWORD", "TELEGRAM__WEBHOOK_URL"])
def test_docker_compose_names_a_setting_the_scaled_file_needs(
    tmp_path: Path, missing: str
) -> None:
    settings = _FILLED_IN | _SCALED | {missing: ""}
    result = _compose_config(tmp_path, "compose.replicas.yaml", settings)
    assert result.returncode != 0
    assert f"set {missing} in .env" in result.stderr
