"""The portal client's transport over real sockets: answers as httpx reads them, and each way a
request can fail reported as "not sent" or "answer lost", as the client's retries rely on."""

from __future__ import annotations

import asyncio
import gzip
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import aiohttp
import httpx
import pytest

from bot.portal import LeadDraft, OutcomeUnknownError, PortalClient, UnavailableError, WebhookAuth
from bot.portal.transport import AiohttpTransport, httpx_error
from bot.tls import client_tls

Serve = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return head + await reader.readexactly(length)


class RawServer:
    """A TCP server answering each connection with `serve`; keeps the requests it read."""

    def __init__(self, serve: Serve) -> None:
        self.serve = serve
        self.requests: list[bytes] = []
        self._server: asyncio.Server | None = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            self.requests.append(await _read_request(reader))
            await self.serve(reader, writer)
        finally:
            writer.close()

    async def start(self) -> str:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=AiohttpTransport(client_tls()), timeout=httpx.Timeout(5.0, read=0.5)
    ) as http:
        yield http


async def _served(serve: Serve) -> tuple[RawServer, str]:
    server = RawServer(serve)
    return server, await server.start()


async def test_an_answer_arrives_as_httpx_reads_it_with_its_body_decoded(
    client: httpx.AsyncClient,
) -> None:
    body = gzip.compress(b'{"result": "\xd0\xbb\xd0\xb8\xd0\xb4"}')

    async def serve(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(
            b"HTTP/1.1 201 Made\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
            b"Set-Cookie: a=1\r\nSet-Cookie: b=2\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        await writer.drain()

    server, url = await _served(serve)
    try:
        answer = await client.post(f"{url}/rest/crm.lead.add.json", content=b'{"x": 1}')
    finally:
        await server.stop()
    assert answer.status_code == 201
    assert answer.reason_phrase == "Made"
    assert answer.json() == {"result": "лид"}
    assert answer.headers.get_list("set-cookie") == ["a=1", "b=2"]
    assert answer.http_version == "HTTP/1.1"
    assert answer.elapsed.total_seconds() >= 0
    sent = server.requests[0]
    assert sent.startswith(b"POST /rest/crm.lead.add.json HTTP/1.1\r\n")
    assert sent.endswith(b'\r\n\r\n{"x": 1}')
    assert sent.lower().count(b"content-length:") == 1


async def test_the_request_line_is_sent_as_httpx_encoded_it(client: httpx.AsyncClient) -> None:
    async def serve(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()

    server, url = await _served(serve)
    params = {"refresh_token": "a/b+c=d", "name": "Лид 1 & 2", "raw": "%2F"}
    try:
        answer = await client.get(f"{url}/oauth/token/", params=params)
    finally:
        await server.stop()
    assert answer.status_code == 200
    target = server.requests[0].split(b" ")[1].decode()
    assert target == answer.request.url.raw_path.decode()
    assert httpx.URL(f"{url}{target}").params == httpx.QueryParams(params)


async def test_keep_alive_connections_are_reused(client: httpx.AsyncClient) -> None:
    connections = 0

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        while True:
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            await writer.drain()
            try:
                await _read_request(reader)
            except asyncio.IncompleteReadError:
                return

    server, url = await _served(serve)
    try:
        for _ in range(3):
            assert (await client.get(url)).text == "ok"
    finally:
        await server.stop()
    assert connections == 1


def _answering(answer: bytes) -> Serve:
    async def serve(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(answer)
        await writer.drain()

    return serve


@asynccontextmanager
async def _proxy_in_environment(
    monkeypatch: pytest.MonkeyPatch, variable: str, answer: bytes
) -> AsyncIterator[RawServer]:
    """A proxy answering every request with `answer`, named in `variable` for every host."""
    proxy, proxy_url = await _served(_answering(answer))
    monkeypatch.setenv(variable, proxy_url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    try:
        yield proxy
    finally:
        await proxy.stop()


async def test_a_proxy_named_in_the_environment_carries_the_request(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    ok = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    async with _proxy_in_environment(monkeypatch, "HTTP_PROXY", ok) as proxy:
        answer = await client.post("http://portal.example/rest/1/x/profile.json", content=b"{}")
    assert answer.text == "ok"
    assert proxy.requests[0].startswith(b"POST http://portal.example/rest/1/x/profile.json ")


async def test_a_proxy_that_refuses_the_tunnel_is_a_request_not_sent(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    refused = b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n"
    async with _proxy_in_environment(monkeypatch, "HTTPS_PROXY", refused) as proxy:
        with pytest.raises(httpx.ConnectError):
            await client.post("https://portal.example/rest/1/x/crm.lead.add.json", content=b"{}")
    assert proxy.requests[0].startswith(b"CONNECT portal.example:443 ")


def _closed_port() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


async def test_a_refused_connection_is_a_request_not_sent(client: httpx.AsyncClient) -> None:
    with pytest.raises(httpx.ConnectError) as caught:
        await client.post(_closed_port(), content=b"{}")
    assert isinstance(caught.value.__cause__, aiohttp.ClientConnectorError)


async def _closed_after_reading(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    return None  # the request was read; the connection closes without an answer


async def _silent(reader: asyncio.StreamReader, _: asyncio.StreamWriter) -> None:
    await reader.read()  # never answers; the client gives up first


async def _not_http(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")
    await writer.drain()


async def _cut_short(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"result":')
    await writer.drain()


@pytest.mark.parametrize(
    ("serve", "error"),
    [
        (_closed_after_reading, httpx.RemoteProtocolError),
        (_silent, httpx.ReadTimeout),
        (_not_http, httpx.RemoteProtocolError),
        (_cut_short, httpx.ReadError),
    ],
    ids=["closed-after-the-request", "no-answer", "not-http", "body-cut-short"],
)
async def test_a_request_that_reached_the_server_is_never_reported_as_not_sent(
    client: httpx.AsyncClient, serve: Serve, error: type[httpx.TransportError]
) -> None:
    server, url = await _served(serve)
    try:
        with pytest.raises(httpx.TransportError) as caught:
            await client.post(url, content=b'{"fields": {}}')
    finally:
        await server.stop()
    assert type(caught.value) is error
    assert not isinstance(caught.value, httpx.ConnectError | httpx.ConnectTimeout)
    assert len(server.requests) == 1


@pytest.mark.parametrize(
    ("raised", "mapped"),
    [
        (aiohttp.ConnectionTimeoutError(), httpx.ConnectTimeout),
        (aiohttp.SocketTimeoutError(), httpx.ReadTimeout),
        (aiohttp.ServerDisconnectedError(), httpx.RemoteProtocolError),
        (aiohttp.ClientConnectionResetError(), httpx.WriteError),
        (aiohttp.ClientOSError(), httpx.ReadError),
        (aiohttp.InvalidURL("ftp://portal"), httpx.UnsupportedProtocol),
        (aiohttp.ClientError(), httpx.TransportError),
    ],
)
def test_aiohttp_errors_map_to_httpx_by_whether_the_request_went_out(
    raised: aiohttp.ClientError, mapped: type[httpx.TransportError]
) -> None:
    assert httpx_error(raised) is mapped


async def test_a_write_whose_connection_drops_is_not_sent_twice() -> None:
    server, url = await _served(_closed_after_reading)
    portal = PortalClient(auth=WebhookAuth(f"{url}/rest/1/secret/"), backoff_base=0.01)
    try:
        with pytest.raises(OutcomeUnknownError):
            await portal.add_lead(LeadDraft(title="Once"))
    finally:
        await portal.aclose()
        await server.stop()
    assert len(server.requests) == 1


async def test_a_portal_that_refuses_connections_is_unavailable_after_retries() -> None:
    portal = PortalClient(
        auth=WebhookAuth(f"{_closed_port()}/rest/1/secret/"), max_retries=2, backoff_base=0.01
    )
    try:
        with pytest.raises(UnavailableError, match="cannot connect"):
            await portal.add_lead(LeadDraft(title="Never sent"))
    finally:
        await portal.aclose()


async def test_the_transport_is_made_outside_a_loop_and_closes_what_it_opened() -> None:
    transport = await asyncio.to_thread(AiohttpTransport, client_tls())
    await transport.aclose()  # nothing opened yet
    server, url = await _served(_closed_after_reading)
    try:
        async with httpx.AsyncClient(transport=transport) as http:
            with pytest.raises(httpx.RemoteProtocolError):
                await http.get(url)
            session = transport._session
            assert session is not None
            assert not session.closed
    finally:
        await server.stop()
    assert session.closed
