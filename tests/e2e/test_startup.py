"""Start-up with a bad configuration stops with one sentence naming the setting."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.emulators.bitrix24 import Bitrix24Emulator
from tests.emulators.telegram import DEFAULT_TEST_TOKEN, TelegramEmulator


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
