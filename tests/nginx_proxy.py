"""deploy/nginx-replicas.conf in a real nginx, outside Docker, for tests and bench.replicas.

In Compose the proxy finds the replicas through Docker's DNS (127.0.0.11), which answers `bot`
with every replica's address, and it listens on port 8080 in a network namespace of its own.
Here the file runs with exactly those two lines pointed elsewhere: the resolver at a small DNS
responder (`Resolver`) that answers `bot` with loopback addresses of the caller's choosing, and
the listening port at 127.0.0.1. Every other line runs as shipped. The replicas listen on those
addresses, on port 8080 as the file says (Linux answers every address of 127/8).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import cast

import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "deploy" / "nginx-replicas.conf"
REPLICA_PORT = 8080  # `set $bot http://bot:8080;` in the file


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


def site_config(listen_port: int, dns_port: int) -> str:
    """The shipped file with its listening port and resolver pointed at ours."""
    text = CONFIG.read_text(encoding="utf-8")
    for shipped, here in (
        ("    listen 8080;\n", f"    listen 127.0.0.1:{listen_port};\n"),
        ("    resolver 127.0.0.11 ", f"    resolver 127.0.0.1:{dns_port} "),
    ):
        assert text.count(shipped) == 1, f"the file no longer has {shipped.strip()!r}"
        text = text.replace(shipped, here)
    return text


def main_config(folder: Path) -> str:
    """nginx's main file: one process in the foreground, its files in `folder`."""
    temp = "\n".join(
        f"    {kind}_temp_path {folder / kind};" for kind in ("client_body", "proxy", "fastcgi")
    )
    return (
        f"daemon off;\nmaster_process off;\npid {folder / 'nginx.pid'};\n"
        f"error_log {folder / 'error.log'} warn;\n"
        "events { worker_connections 1024; }\n"
        f"http {{\n    access_log off;\n{temp}\n    include {folder / 'replicas.conf'};\n}}\n"
    )


def loopback_addresses(count: int) -> Iterator[str]:
    """Distinct random loopback addresses other than 127.0.0.1."""
    taken: set[str] = set()
    while len(taken) < count:
        address = f"127.{random.randint(1, 254)}.{random.randint(0, 254)}.{random.randint(1, 254)}"
        if address not in taken:
            taken.add(address)
            yield address


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _wait_listening(port: int, process: asyncio.subprocess.Process) -> None:
    for _ in range(200):
        if process.returncode is not None:
            assert process.stderr is not None
            raise RuntimeError(f"nginx exited: {(await process.stderr.read()).decode()}")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.05)
            continue
        writer.close()
        await writer.wait_closed()
        return
    raise RuntimeError("nginx did not start listening in 10 s")


@contextlib.asynccontextmanager
async def running_nginx(nginx: str, folder: Path, addresses: list[str]) -> AsyncIterator[str]:
    """nginx with the shipped file in front of `addresses`; yields its base URL."""
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: Resolver(addresses), local_addr=("127.0.0.1", 0)
    )
    try:
        port, dns_port = free_port(), transport.get_extra_info("sockname")[1]
        (folder / "replicas.conf").write_text(site_config(port, dns_port))
        (folder / "nginx.conf").write_text(main_config(folder))
        process = await asyncio.create_subprocess_exec(
            *(nginx, "-p", str(folder), "-c", str(folder / "nginx.conf"), "-e", "stderr"),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            await _wait_listening(port, process)
            yield f"http://127.0.0.1:{port}"
        finally:
            if process.returncode is None:
                process.terminate()
            await asyncio.wait_for(process.wait(), 10)
    finally:
        transport.close()
