"""The portal client's HTTP transport: httpx's requests, sent over aiohttp's connections.

aiogram already brings aiohttp for Telegram, and the web server runs on it. httpx's own
transport (httpcore, which needs anyio and h11) would add about 2 MB to every process only to
do the same job a second way, so the portal client uses this one.

What a failure means matters more than anything else here: the client repeats a write only
when the request surely did not reach the portal (`httpx.ConnectError`, `ConnectTimeout`,
`PoolTimeout`); every other transport error is an answer lost, whose write may have happened.
So only a failure to open a connection maps to the first kind. A connection the portal closes
after the request went out, a reset, a read timeout or a broken answer map to the second.
(httpx-aiohttp, which does the same, reports a dropped connection as `ConnectTimeout`.)

A proxy named in the environment (`HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY`) is used as httpx's
own transport used it: httpx reads those only for its own transport, so aiohttp reads them here
(with them it also reads `~/.netrc` for a host's password, which httpx did not).
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from contextlib import contextmanager

import aiohttp
import httpx
from yarl import URL

__all__ = ["AiohttpTransport"]

KEEPALIVE_SECONDS = 5.0
"""How long an idle connection stays open for the next request (httpx's default)."""

MAX_CONNECTIONS = 100

_NOT_SENT: tuple[tuple[type[Exception], type[httpx.TransportError]], ...] = (
    (aiohttp.ConnectionTimeoutError, httpx.ConnectTimeout),
    (aiohttp.ClientConnectorError, httpx.ConnectError),  # refused, DNS, TLS handshake
    (aiohttp.ServerFingerprintMismatch, httpx.ConnectError),
    (aiohttp.ClientHttpProxyError, httpx.ConnectError),  # the proxy refused the tunnel
)
_ANSWER_LOST: tuple[tuple[type[Exception], type[httpx.TransportError]], ...] = (
    (aiohttp.ServerTimeoutError, httpx.ReadTimeout),
    (aiohttp.ServerDisconnectedError, httpx.RemoteProtocolError),
    (aiohttp.ClientResponseError, httpx.RemoteProtocolError),  # not HTTP
    (aiohttp.ClientPayloadError, httpx.ReadError),
    (aiohttp.ClientConnectionResetError, httpx.WriteError),
    (aiohttp.ClientOSError, httpx.ReadError),
    (aiohttp.InvalidURL, httpx.UnsupportedProtocol),
    (aiohttp.NonHttpUrlClientError, httpx.UnsupportedProtocol),
    (aiohttp.ClientError, httpx.TransportError),
)
ERRORS = _NOT_SENT + _ANSWER_LOST
"""aiohttp's errors and what httpx calls them, most specific first; the first match wins."""


def httpx_error(exc: aiohttp.ClientError) -> type[httpx.TransportError]:
    """httpx's error class for an aiohttp error (see the module's docstring)."""
    return next(mapped for error, mapped in ERRORS if isinstance(exc, error))


@contextmanager
def _as_httpx_errors(request: httpx.Request) -> Iterator[None]:
    try:
        yield
    except aiohttp.ClientError as exc:
        raise httpx_error(exc)(f"{type(exc).__name__}: {exc}", request=request) from exc


class AiohttpTransport(httpx.AsyncBaseTransport):
    """One aiohttp session with its pool of keep-alive connections, opened at the first request
    (aiohttp wants a running event loop) and closed with the httpx client."""

    def __init__(self, tls: ssl.SSLContext) -> None:
        self._tls = tls
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            ssl=self._tls, limit=MAX_CONNECTIONS, keepalive_timeout=KEEPALIVE_SECONDS
        )
        # httpx keeps the cookies, follows no redirect and decodes the body itself.
        self._session = aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=False,
            trust_env=True,  # the proxy variables (see the module's docstring)
        )
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        session = self._session or self._open()
        limits = request.extensions.get("timeout", {})
        timeout = aiohttp.ClientTimeout(
            total=None,
            connect=limits.get("pool"),
            sock_connect=limits.get("connect"),
            sock_read=limits.get("read"),
        )
        body = await request.aread()
        with _as_httpx_errors(request):
            async with session.request(
                request.method,
                URL(str(request.url), encoded=True),  # as httpx encoded it, not quoted again
                headers=request.headers.multi_items(),
                data=body or None,
                allow_redirects=False,
                compress=None,
                timeout=timeout,
            ) as answer:
                content = await answer.read()
                major, minor = answer.version or aiohttp.HttpVersion11
                version = f"HTTP/{major}.{minor}"
                return httpx.Response(
                    answer.status,
                    headers=answer.raw_headers,
                    stream=httpx.ByteStream(content),  # httpx decodes it as it reads it
                    request=request,
                    extensions={
                        "http_version": version.encode(),
                        "reason_phrase": (answer.reason or "").encode("latin-1", "replace"),
                    },
                )

    async def aclose(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()
