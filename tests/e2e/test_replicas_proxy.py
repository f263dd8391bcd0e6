"""deploy/nginx-replicas.conf run by a real nginx in front of three replicas.

In Compose the proxy finds the replicas through Docker's DNS (127.0.0.11), which answers `bot`
with every replica's address, and it listens on port 8080 in a network namespace of its own.
Here the file runs with exactly those two lines pointed elsewhere: the resolver at a small DNS
responder of this test that answers `bot` with three loopback addresses, and the listening port
at 127.0.0.1. Every other line runs as shipped. The replicas are small HTTP servers on those
addresses, on port 8080 as in the file, each doing what a test tells it: answering, refusing
with 503 (a replica that could not store an update), or not listening at all.
"""

from __future__ import annotations

import asyncio
import random
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
import httpx
import pytest
from aiohttp import web

from bot.config import AppSettings, WebSettings
from bot.web import SECRET_HEADER, WEBHOOK_PATH
from tests.debian_tools import NGINX, find_tool

ROOT = Path(__file__).resolve().parents[2]
REPLICA_PORT = 8080  # `set $bot http://bot:8080;` in the file
EVENT_PATH = WebSettings().event_path


@dataclass
class Seen:
    method: str
    path: str
    body: bytes
    headers: dict[str, str]


@dataclass
class Replica:
    """One bot replica as the proxy sees it: an address on port 8080 and what it answers."""

    address: str
    answer: str = "up"  # "up" (200), "refuse" (503) or "down" (not listening)
    seen: list[Seen] = field(default_factory=list)
    runner: web.AppRunner | None = None

    async def handle(self, request: web.Request) -> web.Response:
        self.seen.append(
            Seen(request.method, request.path_qs, await request.read(), dict(request.headers))
        )
        if self.answer == "refuse":
            return web.Response(status=503, text="could not store")
        return web.json_response({"replica": self.address})

    async def start(self) -> None:
        app = web.Application(client_max_size=4 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, self.address, REPLICA_PORT).start()

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None


class Resolver(asyncio.DatagramProtocol):
    """Answers `bot` with the replicas' addresses, as Docker's DNS does; anything else: none."""

    def __init__(self, addresses: list[str]) -> None:
        self.addresses = addresses
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # asyncio's datagram transport does not subclass DatagramTransport (Python 3.11).
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        query = dns.message.from_wire(data)
        answer = dns.message.make_response(query)
        (question,) = query.question
        if question.name.to_text() == "bot." and question.rdtype == dns.rdatatype.A:
            answer.answer.append(dns.rrset.from_text("bot.", 1, "IN", "A", *self.addresses))
        else:
            answer.set_rcode(dns.rcode.NXDOMAIN)
        assert self.transport is not None
        self.transport.sendto(answer.to_wire(), addr)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _nginx() -> str:
    path = find_tool(NGINX)
    if path is None:
        pytest.skip(
            "no nginx at /usr/sbin/nginx: run `make pytest` as root to install it, "
            "or `apt-get install nginx-light`"
        )
    return path


def _site_config(listen_port: int, dns_port: int) -> str:
    """The shipped file with its listening port and resolver pointed at this test's."""
    text = (ROOT / "deploy" / "nginx-replicas.conf").read_text(encoding="utf-8")
    for shipped, here in (
        ("    listen 8080;\n", f"    listen 127.0.0.1:{listen_port};\n"),
        ("    resolver 127.0.0.11 ", f"    resolver 127.0.0.1:{dns_port} "),
    ):
        assert text.count(shipped) == 1, f"the file no longer has {shipped.strip()!r}"
        text = text.replace(shipped, here)
    return text


def _main_config(folder: Path) -> str:
    temp = "\n".join(
        f"    {kind}_temp_path {folder / kind};" for kind in ("client_body", "proxy", "fastcgi")
    )
    return (
        f"daemon off;\nmaster_process off;\npid {folder / 'nginx.pid'};\n"
        f"error_log {folder / 'error.log'} warn;\n"
        "events { worker_connections 64; }\n"
        f"http {{\n    access_log off;\n{temp}\n    include {folder / 'replicas.conf'};\n}}\n"
    )


@pytest.fixture
def nginx() -> str:
    return _nginx()


@dataclass
class Proxy:
    url: str
    replicas: list[Replica]

    def seen(self) -> list[Seen]:
        return [seen for replica in self.replicas for seen in replica.seen]


def _loopback_addresses(count: int) -> Iterator[str]:
    """Distinct loopback addresses other than 127.0.0.1 (Linux answers all of 127/8)."""
    taken: set[str] = set()
    while len(taken) < count:
        address = f"127.{random.randint(1, 254)}.{random.randint(0, 254)}.{random.randint(1, 254)}"
        if address not in taken:
            taken.add(address)
            yield address


async def _wait_listening(port: int, process: asyncio.subprocess.Process) -> None:
    for _ in range(200):
        if process.returncode is not None:
            assert process.stderr is not None
            raise AssertionError(f"nginx exited: {(await process.stderr.read()).decode()}")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.05)
            continue
        writer.close()
        await writer.wait_closed()
        return
    raise AssertionError("nginx did not start listening in 10 s")


@pytest.fixture
async def proxy(nginx: str, tmp_path: Path) -> AsyncIterator[Proxy]:
    replicas = [Replica(address) for address in _loopback_addresses(3)]
    for replica in replicas:
        await replica.start()
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: Resolver([replica.address for replica in replicas]),
        local_addr=("127.0.0.1", 0),
    )
    dns_port = transport.get_extra_info("sockname")[1]
    port = _free_port()
    (tmp_path / "replicas.conf").write_text(_site_config(port, dns_port))
    (tmp_path / "nginx.conf").write_text(_main_config(tmp_path))
    process = await asyncio.create_subprocess_exec(
        *(nginx, "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"), "-e", "stderr"),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        await _wait_listening(port, process)
        yield Proxy(f"http://127.0.0.1:{port}", replicas)
    finally:
        if process.returncode is None:
            process.terminate()
        await asyncio.wait_for(process.wait(), 10)
        transport.close()
        for replica in replicas:
            await replica.stop()


async def test_both_webhooks_reach_a_replica_as_they_were_sent(proxy: Proxy) -> None:
    update = b'{"update_id": 7, "message": {"text": "<b>hi</b>"}}'
    event = b"event=ONCRMLEADUPDATE&data%5BFIELDS%5D%5BID%5D=5&auth%5Bapplication_token%5D=t"
    async with httpx.AsyncClient(base_url=proxy.url) as client:
        telegram = await client.post(
            WEBHOOK_PATH,
            content=update,
            headers={SECRET_HEADER: "s3cret", "Content-Type": "application/json"},
        )
        portal = await client.post(
            f"{EVENT_PATH}?token=1",
            content=event,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    assert telegram.status_code == portal.status_code == 200
    by_path = {seen.path: seen for seen in proxy.seen()}
    assert set(by_path) == {WEBHOOK_PATH, f"{EVENT_PATH}?token=1"}
    sent = by_path[WEBHOOK_PATH]
    assert (sent.method, sent.body) == ("POST", update)
    assert sent.headers[SECRET_HEADER] == "s3cret"
    assert sent.headers["X-Forwarded-For"] == "127.0.0.1"
    assert by_path[f"{EVENT_PATH}?token=1"].body == event
    assert telegram.json()["replica"] in {replica.address for replica in proxy.replicas}


async def test_the_webhooks_are_spread_over_every_replica(proxy: Proxy) -> None:
    async with httpx.AsyncClient(base_url=proxy.url) as client:
        for number in range(30):
            answer = await client.post(WEBHOOK_PATH, json={"update_id": number})
            assert answer.status_code == 200
    assert all(replica.seen for replica in proxy.replicas)
    assert len(proxy.seen()) == 30


async def test_a_refusing_or_dead_replica_is_passed_over_for_the_next(proxy: Proxy) -> None:
    refusing, dead, alive = proxy.replicas
    refusing.answer = "refuse"
    dead.answer = "down"
    await dead.stop()
    async with httpx.AsyncClient(base_url=proxy.url) as client:
        for number in range(12):
            for path in (WEBHOOK_PATH, EVENT_PATH):
                answer = await client.post(path, json={"update_id": number})
                assert answer.status_code == 200, (path, answer.text)
                assert answer.json() == {"replica": alive.address}
    assert len(alive.seen) == 24  # every request once, none lost, none twice
    assert refusing.seen  # it was tried and refused; its 503 never reached the sender


async def test_only_the_published_paths_reach_the_replicas(proxy: Proxy) -> None:
    app = AppSettings()
    published = [app.install_path, app.tab_path, f"{app.tab_path}/ping", app.robot_path]
    async with httpx.AsyncClient(base_url=proxy.url) as client:
        for path in ("/", "/healthz", "/readyz", "/metrics", f"{EVENT_PATH}/x", "/telegram"):
            assert (await client.get(path)).status_code == 404, path
            assert (await client.post(path, content=b"{}")).status_code == 404, path
        assert proxy.seen() == []
        for path in published:
            assert (await client.post(path, content=b"x=1")).status_code == 200, path
    assert sorted(seen.path for seen in proxy.seen()) == sorted(published)


async def test_an_application_call_is_not_sent_twice(proxy: Proxy) -> None:
    """A write the portal makes through application mode is not repeated by the proxy: the
    replica's refusal goes back, and the portal calls again."""
    for replica in proxy.replicas:
        replica.answer = "refuse"
    async with httpx.AsyncClient(base_url=proxy.url) as client:
        answer = await client.post(AppSettings().robot_path, content=b"x=1")
    assert answer.status_code == 503
    assert len(proxy.seen()) == 1


async def test_a_body_over_a_megabyte_stops_at_the_proxy(proxy: Proxy) -> None:
    async with httpx.AsyncClient(base_url=proxy.url) as client:
        answer = await client.post(WEBHOOK_PATH, content=b"x" * (1024 * 1024 + 1))
    assert answer.status_code == 413
    assert proxy.seen() == []
