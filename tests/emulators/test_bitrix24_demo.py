"""`python -m tests.emulators.bitrix24 --demo` prints what a newcomer needs to try the bot."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


async def test_demo_prints_the_webhook_url_and_the_demo_users_phones() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.emulators.bitrix24",
        "--demo",
        "--port",
        "0",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    lines: list[str] = []
    try:
        async with asyncio.timeout(30):
            while not lines or "Press Ctrl-C" not in lines[-1]:
                raw = await process.stdout.readline()
                assert raw, "\n".join(lines)
                lines.append(raw.decode().rstrip())
    finally:
        process.send_signal(signal.SIGINT)  # Ctrl-C, as the banner says
        try:
            async with asyncio.timeout(10):
                await process.communicate()
        except TimeoutError:
            # A shell that starts jobs in background makes them ignore SIGINT: do not hang.
            process.kill()
            await process.communicate()
    output = "\n".join(lines)
    assert "Webhook URL: http://" in output
    assert "user 2: Ivan Petrov, Sales representative: +79161234567" in output
    assert "user 1: Anna Admin, admin: +79160000001" in output
    assert "+79165550101" in output  # a demo rep added by --demo
    assert "user 4: Pavel Former" in output
    assert "(inactive: cannot sign in)" in output
