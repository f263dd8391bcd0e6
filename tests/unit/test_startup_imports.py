"""What `python -m bot` leaves out of start-up: parts a default bot (SQLite, no Redis) only
imports when it first needs them, each a few megabytes of memory and a second or more of a
small machine's start."""

from __future__ import annotations

import json
import os
import subprocess
import sys


def test_a_default_bot_imports_neither_drivers_nor_the_charts() -> None:
    """asyncpg and redis only when configured (about 7 MB), matplotlib and statistics with the
    first report."""
    probe = (
        "import json, sys, bot.app, bot.__main__, dialogs; "
        "print(json.dumps(sorted({name.split('.')[0] for name in sys.modules})))"
    )
    result = subprocess.run(  # noqa: S603 - our own interpreter and a fixed script
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    loaded = set(json.loads(result.stdout.strip().splitlines()[-1]))
    later = {"asyncpg", "redis", "matplotlib", "statistics"}
    assert loaded.isdisjoint(later), loaded & later


def test_a_default_bot_leaves_application_mode_out() -> None:
    """The install endpoints, the robot, the lead tab and the offline intake are imported only
    when APP__ENABLED is on (off by default): about 0.6 MB a default bot does not hold."""
    probe = (
        "import json, sys, bot.app, bot.__main__, bot.web, bot.ops.status, dialogs; "
        "print(json.dumps(sorted(sys.modules)))"
    )
    result = subprocess.run(  # noqa: S603 - our own interpreter and a fixed script
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    application = ("bot.install", "bot.tab", "bot.events.offline")
    assert [name for name in loaded if name.startswith(application)] == []


def test_the_portal_client_needs_no_second_http_stack() -> None:
    """The portal client sends over aiohttp, which aiogram and the web server load anyway:
    httpx's own transport (httpcore with anyio and h11, about 2 MB) stays out."""
    probe = (
        "import json, sys\n"
        "from bot.portal import PortalClient, WebhookAuth\n"
        "client = PortalClient(auth=WebhookAuth('https://portal.example/rest/1/secret/'))\n"
        "print(json.dumps(sorted({name.split('.')[0] for name in sys.modules})))"
    )
    # A proxy named in the environment goes through aiohttp too: httpx's transport stays out.
    env = os.environ | {"HTTPS_PROXY": "http://proxy.example:3128"}
    result = subprocess.run(  # noqa: S603 - our own interpreter and a fixed script
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        env=env,
    )
    loaded = set(json.loads(result.stdout.strip().splitlines()[-1]))
    assert {"httpx", "aiohttp"} <= loaded
    assert loaded.isdisjoint({"httpcore", "anyio", "h11"}), loaded & {"httpcore", "anyio", "h11"}
