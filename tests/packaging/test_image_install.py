"""The image's own install and start commands, run in a clean virtualenv instead of a container.

No image can be built or pulled on the test machines, so this replays the Dockerfile: its COPY
lines build the application folder, its `pip install` lines run in a fresh venv (from PyPI,
hash-checked against requirements.lock), its CMD starts the bot against both emulators with the
image's ENV, and its HEALTHCHECK command must succeed. About 15-40 s with a warm pip cache, so it
is marked `slow` (it still runs in `make test`; `-m "not slow"` skips it while developing).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import sys
from pathlib import Path

import httpx
import pytest

from tests.emulators.bitrix24 import Bitrix24Emulator
from tests.emulators.telegram import DEFAULT_TEST_TOKEN, TelegramEmulator
from tests.packaging.dockerfile import ROOT, dockerfile, env_of

APP = "/app"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _local(path: str, root: Path) -> Path:
    """A path of the image, inside the test's folder."""
    return root / path.lstrip("/")


def _assemble_app(root: Path) -> None:
    """Copy what the Dockerfile's COPY lines copy, where they copy it."""
    workdir = "/"
    for instruction in dockerfile():
        if instruction.keyword == "WORKDIR":
            workdir = instruction.args
        elif instruction.keyword == "COPY":
            *sources, dest = instruction.args.split()
            target = _local(dest if dest.startswith("/") else f"{workdir}/{dest}", root)
            for source in sources:
                origin = ROOT / source
                if origin.is_dir():
                    shutil.copytree(origin, target, ignore=shutil.ignore_patterns("__pycache__"))
                else:
                    target.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(origin, target / origin.name)


async def _run(*command: str, cwd: Path, env: dict[str, str]) -> None:
    process = await asyncio.create_subprocess_exec(
        *command,
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    assert process.returncode == 0, output.decode()[-3000:]


@pytest.mark.slow
async def test_image_install_and_start_commands_work_in_a_clean_venv(
    tmp_path: Path, telegram_emulator: TelegramEmulator, portal_emulator: Bitrix24Emulator
) -> None:
    instructions = dockerfile()
    image_env = env_of(instructions)
    await asyncio.to_thread(_assemble_app, tmp_path)
    app_dir = _local(APP, tmp_path)
    venv = tmp_path / "venv"
    python = str(venv / "bin" / "python")
    base_env = {k: v for k, v in os.environ.items() if "__" not in k and k != "PYTHONPATH"}
    # The image runs pip without a cache to keep its layer small; here the cache saves time.
    skip = {"PATH", "PIP_NO_CACHE_DIR"}
    base_env.update({k: v for k, v in image_env.items() if "__" not in k and k not in skip})
    await _run(sys.executable, "-m", "venv", str(venv), cwd=tmp_path, env=base_env)
    for instruction in instructions:
        if instruction.keyword == "RUN" and "pip install" in instruction.args:
            command = instruction.args.split()
            assert command[0] == "python"
            await _run(python, *command[1:], cwd=app_dir, env=base_env)

    port = _free_port()
    env = base_env | {k: v for k, v in image_env.items() if "__" in k}
    env.update(
        TELEGRAM__TOKEN=DEFAULT_TEST_TOKEN,
        TELEGRAM__API_BASE=telegram_emulator.base_url,
        PORTAL__WEBHOOK_URL=portal_emulator.webhook_url,
        TELEGRAM__ADMIN_IDS="[1001]",
        STORAGE__PATH=str(_local(image_env["STORAGE__PATH"], tmp_path)),
        WEB__PORT=str(port),
    )
    assert env["WEB__HOST"] == "0.0.0.0"  # noqa: S104 - as the image sets it
    cmd = [i for i in instructions if i.keyword == "CMD"][-1].exec_form()
    assert cmd[0] == "python"
    # Run from another folder: the installed package must work without the source on the path.
    process = await asyncio.create_subprocess_exec(
        python,
        *cmd[1:],
        cwd=app_dir,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stderr is not None
    seen: list[bytes] = []
    try:
        async with asyncio.timeout(60):
            while b"web server on port" not in (seen[-1] if seen else b""):
                line = await process.stderr.readline()
                assert line, b"".join(seen).decode()
                seen.append(line)
        (healthcheck,) = [i for i in instructions if i.keyword == "HEALTHCHECK"]
        probe = healthcheck.exec_form()
        assert probe[0] == "python"
        code = probe[2].replace(f":{image_env['WEB__PORT']}/", f":{port}/")
        await _run(python, "-c", code, cwd=tmp_path, env=base_env)
        async with httpx.AsyncClient() as client:
            ready = await client.get(f"http://127.0.0.1:{port}/readyz")
        assert ready.status_code == 200, ready.text
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(30):
            rest = await process.stderr.read()
            exit_code = await process.wait()
    assert exit_code == 0, (b"".join(seen) + rest).decode()
