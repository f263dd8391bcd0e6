"""One TLS client context for every outgoing connection: Telegram's (aiogram over aiohttp) and
the portal's (httpx).

Each context holds its own parsed copy of the CA bundle, about 0.7 MB; the bot used to make
three (one per aiogram `Bot`, one per portal client). The trusted roots are what httpx would
pick: `SSL_CERT_FILE` or `SSL_CERT_DIR` when set (a company's own root, for one), otherwise
certifi's bundle, which is what aiogram uses on its own.
"""

from __future__ import annotations

import functools
import ssl

import httpx


@functools.cache
def client_tls() -> ssl.SSLContext:
    """The shared context (made on first use; a context may serve many connections at once)."""
    return httpx.create_ssl_context()
