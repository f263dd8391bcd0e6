"""Start-up with a bad configuration stops with one sentence naming the setting."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.emulators.bitrix24 import Bitrix24Emulator
from tests.emulators.telegram import DEFAULT_TEST_TOKEN, TelegramEmulator

ROOT = Path(__file__).resolve().parents[2]


def _run_bot(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if "__" not in k}
    clean.update(env)
    clean["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    clean["STORAGE__PATH"] = str(tmp_path / "bot.sqlite3")
    return subprocess.run(
        [sys.executable, "-m", "bot"],
        cwd=tmp_path,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_missing_token_names_the_setting(tmp_path: Path) -> None:
    result = _run_bot(tmp_path, PORTAL__WEBHOOK_URL="https://example.test/rest/1/abc/")
    assert result.returncode == 1
    assert "TELEGRAM__TOKEN is not set" in result.stderr
    assert "Traceback" not in result.stderr


def test_malformed_portal_url_names_the_setting(tmp_path: Path) -> None:
    result = _run_bot(tmp_path, TELEGRAM__TOKEN="1:x", PORTAL__WEBHOOK_URL="example.bitrix24.com")
    assert result.returncode == 1
    assert "PORTAL__WEBHOOK_URL" in result.stderr
    assert "Traceback" not in result.stderr


def test_malformed_redis_url_names_the_setting(tmp_path: Path) -> None:
    result = _run_bot(
        tmp_path,
        TELEGRAM__TOKEN="1:x",
        PORTAL__WEBHOOK_URL="https://example.test/rest/1/abc/",
        REDIS__URL="redis:/127.0.0.1:6379",
    )
    assert result.returncode == 1
    assert "Configuration error: REDIS__URL must look like redis://" in result.stderr
    assert "Traceback" not in result.stderr


def test_unreachable_redis_names_the_setting(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = _run_bot(
        tmp_path,
        TELEGRAM__TOKEN="1:x",
        PORTAL__WEBHOOK_URL="https://example.test/rest/1/abc/",
        REDIS__URL=f"redis://127.0.0.1:{port}/0",
    )
    assert result.returncode == 1
    assert "Configuration error: Redis did not answer" in result.stderr
    assert "check REDIS__URL" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("problem", ["token", "portal"])
async def test_refused_token_or_unreachable_portal_names_the_setting(
    tmp_path: Path,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
    problem: str,
) -> None:
    env = {
        "TELEGRAM__TOKEN": DEFAULT_TEST_TOKEN,
        "TELEGRAM__API_BASE": telegram_emulator.base_url,
        "PORTAL__WEBHOOK_URL": portal_emulator.webhook_url,
        "PORTAL__MAX_RETRIES": "1",
        "PORTAL__BACKOFF_SECONDS": "0.01",
        "WEB__HOST": "127.0.0.1",
        "WEB__PORT": "0",
    }
    if problem == "token":
        telegram_emulator.revoke_token()
        expected = "TELEGRAM__TOKEN was refused"
    else:
        await portal_emulator.stop()
        expected = "PORTAL__WEBHOOK_URL"
    result = await asyncio.to_thread(_run_bot, tmp_path, **env)
    assert result.returncode == 1
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
    assert DEFAULT_TEST_TOKEN not in result.stderr


def _env_file_from_example(**values: str) -> str:
    """`.env.example` as it ships, with `values` filled in on their own lines."""
    example = (ROOT / ".env.example").read_text()
    lines = []
    for line in example.splitlines():
        name = line.split("=", 1)[0]
        lines.append(f"{name}={values.pop(name)}" if "=" in line and name in values else line)
    assert not values, f"not in .env.example: {sorted(values)}"
    return "\n".join(lines) + "\n"


async def _read_until(stream: asyncio.StreamReader, marker: str, seen: list[str]) -> str:
    while True:
        raw = await stream.readline()
        if not raw:
            raise AssertionError(f"the bot exited before logging {marker!r}: {seen[-5:]}")
        line = raw.decode()
        seen.append(line)
        if marker in line:
            return line


async def test_env_example_with_the_three_required_settings_starts_the_bot(
    tmp_path: Path, telegram_emulator: TelegramEmulator, portal_emulator: Bitrix24Emulator
) -> None:
    """The README's quick start: copy .env.example, fill in three settings, run."""
    (tmp_path / ".env").write_text(
        _env_file_from_example(
            TELEGRAM__TOKEN=DEFAULT_TEST_TOKEN,
            PORTAL__WEBHOOK_URL=portal_emulator.webhook_url,
            TELEGRAM__ADMIN_IDS="[1001]",
            # The emulator instead of api.telegram.org, and a free port instead of 8080.
            TELEGRAM__API_BASE=telegram_emulator.base_url,
            WEB__PORT="0",
        )
    )
    env = {k: v for k, v in os.environ.items() if "__" not in k}
    env["PYTHONPATH"] = str(ROOT)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stderr is not None
    seen: list[str] = []
    try:
        async with asyncio.timeout(60):
            line = await _read_until(process.stderr, "web server on port", seen)
        port = int(line.rsplit(" ", 1)[1])
        async with httpx.AsyncClient() as client:
            ready = await client.get(f"http://127.0.0.1:{port}/readyz")
        assert ready.status_code == 200, ready.text
        user = telegram_emulator.user(2001, "Ivan", phone="+79161234567")
        await user.send("/start")
        greeting = await user.wait_for_message(timeout=15)
        assert "Share my phone" in (greeting.text or "")
        assert (tmp_path / "data" / "bot.sqlite3").exists()
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(30):
            rest = await process.stderr.read()
            code = await process.wait()
    output = "".join(seen) + rest.decode()
    assert code == 0, output
    assert "Traceback" not in output


def test_completely_empty_env_file_names_the_missing_setting(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("")
    result = _run_bot(tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "Configuration error: TELEGRAM__TOKEN is not set: put the token from @BotFather in .env"
    ]


def test_env_example_as_shipped_names_the_missing_setting(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(_env_file_from_example())
    result = _run_bot(tmp_path)
    assert result.returncode == 1
    assert "TELEGRAM__TOKEN is not set" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("value", ["[1,", "1001", '["anna"]'])
def test_malformed_admin_ids_name_the_setting(tmp_path: Path, value: str) -> None:
    result = _run_bot(tmp_path, TELEGRAM__TOKEN="1:x", TELEGRAM__ADMIN_IDS=value)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "TELEGRAM__ADMIN_IDS must be a JSON list" in lines[0]


def test_malformed_admin_ids_in_the_env_file_name_the_setting(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("TELEGRAM__TOKEN=1:x\nTELEGRAM__ADMIN_IDS=[1,\n")
    result = _run_bot(tmp_path)
    assert result.returncode == 1
    assert "TELEGRAM__ADMIN_IDS must be a JSON list" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("secret", ["", "short-secret", "ä" * 40])
def test_webhook_without_a_strong_secret_names_the_setting(tmp_path: Path, secret: str) -> None:
    result = _run_bot(
        tmp_path,
        TELEGRAM__TOKEN="1:x",
        TELEGRAM__WEBHOOK_URL="https://bot.example.test/telegram/webhook",
        TELEGRAM__WEBHOOK_SECRET=secret,
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "TELEGRAM__WEBHOOK_SECRET must be 32 to 256 characters" in lines[0]


async def _start_with_telegram_at(
    tmp_path: Path, api_base: str, portal_emulator: Bitrix24Emulator
) -> subprocess.CompletedProcess[str]:
    """`python -m bot` with the Bot API at `api_base` and the portal emulator, until it exits."""
    return await asyncio.to_thread(
        _run_bot,
        tmp_path,
        TELEGRAM__TOKEN=DEFAULT_TEST_TOKEN,
        TELEGRAM__API_BASE=api_base,
        PORTAL__WEBHOOK_URL=portal_emulator.webhook_url,
        WEB__PORT="0",
    )


async def test_unreachable_telegram_names_the_address(
    tmp_path: Path, portal_emulator: Bitrix24Emulator
) -> None:
    # Bound but not listening, for the whole run: connecting is refused, and no other test's
    # server can take the port meanwhile.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}"
        result = await _start_with_telegram_at(tmp_path, dead, portal_emulator)
    assert result.returncode == 1
    assert f"Telegram did not answer at {dead}" in result.stderr
    assert "Traceback" not in result.stderr
    assert DEFAULT_TEST_TOKEN not in result.stderr


async def test_a_server_that_is_not_telegram_names_the_address(
    tmp_path: Path, portal_emulator: Bitrix24Emulator
) -> None:
    # The portal emulator's own address: it answers the Bot API's paths with a plain 404 page.
    parts = urlsplit(portal_emulator.webhook_url)
    elsewhere = f"{parts.scheme}://{parts.netloc}"
    result = await _start_with_telegram_at(tmp_path, elsewhere, portal_emulator)
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last == (
        f"Configuration error: the server at {elsewhere} did not answer as Telegram's Bot API "
        "does: check TELEGRAM__API_BASE"
    )
    assert "Traceback" not in result.stderr
    assert DEFAULT_TEST_TOKEN not in result.stderr


async def test_a_taken_web_port_names_the_address_and_the_settings(
    tmp_path: Path, telegram_emulator: TelegramEmulator, portal_emulator: Bitrix24Emulator
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = await asyncio.to_thread(
            _run_bot,
            tmp_path,
            TELEGRAM__TOKEN=DEFAULT_TEST_TOKEN,
            TELEGRAM__API_BASE=telegram_emulator.base_url,
            PORTAL__WEBHOOK_URL=portal_emulator.webhook_url,
            WEB__HOST="127.0.0.1",
            WEB__PORT=str(port),
        )
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert f"The web server cannot listen on 127.0.0.1:{port}" in last
    assert "set WEB__HOST and WEB__PORT" in last
    assert "Traceback" not in result.stderr
