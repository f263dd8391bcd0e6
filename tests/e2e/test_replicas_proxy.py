"""deploy/nginx-replicas.conf run by a real nginx in front of three stand-in replicas.

How the file runs outside Docker: tests/nginx_proxy.py. The replicas here are small HTTP
servers, each doing what a test tells it: answering, refusing with 503 (a replica that could
not store an update), or not listening at all. bench.replicas `--proxy nginx` puts the same
nginx in front of real replicas.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from aiohttp import web

from bot.config import AppSettings, WebSettings
from bot.web import SECRET_HEADER, WEBHOOK_PATH
from tests.debian_tools import NGINX, require_tool
from tests.nginx_proxy import REPLICA_PORT, loopback_addresses, running_nginx

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


@pytest.fixture
def nginx() -> str:
    return require_tool(NGINX)


@dataclass
class Proxy:
    url: str
    replicas: list[Replica]

    def seen(self) -> list[Seen]:
        return [seen for replica in self.replicas for seen in replica.seen]


@pytest.fixture
async def proxy(nginx: str, tmp_path: Path) -> AsyncIterator[Proxy]:
    replicas = [Replica(address) for address in loopback_addresses(3)]
    try:
        for replica in replicas:
            try:
                await replica.start()
            except OSError as exc:  # something listens on port 8080 of every address
                pytest.skip(f"port {REPLICA_PORT} of {replica.address} is taken here: {exc}")
        async with running_nginx(nginx, tmp_path, [r.address for r in replicas]) as url:
            yield Proxy(url, replicas)
    finally:
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
