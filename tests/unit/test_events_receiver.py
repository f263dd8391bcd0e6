"""The portal event endpoint: PHP-style forms, the token check, the durable inbox, duplicates."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from aiohttp import web

from bot.events.form import MalformedFormError, parse_php_form
from bot.events.receiver import EventCredentials, EventReceiver, EventRefused, read_event
from bot.storage import Database
from bot.storage.inbox import InboxRepository
from tests.fixtures_storage import Backend, sqlite_only

TOKEN = "51856fefc120afa4b628cc82d3935cce"
CREDENTIALS = EventCredentials(TOKEN, member_id="memb0001", domain="emulator.bitrix24.test")


def event_body(
    event: str = "ONCRMLEADUPDATE",
    lead_id: str = "17",
    *,
    token: str = TOKEN,
    ts: str = "1742807175",
    encode_brackets: bool = False,
) -> str:
    """A body as the portal's queue sends it (brackets raw or percent-encoded)."""
    pairs = [
        ("event", event),
        ("event_handler_id", "707"),
        ("data[FIELDS][ID]", lead_id),
        ("ts", ts),
        ("auth[domain]", "emulator.bitrix24.test"),
        ("auth[member_id]", "memb0001"),
        ("auth[application_token]", token),
    ]
    safe = "" if encode_brackets else "[]"
    return "&".join(f"{quote(k, safe=safe)}={quote(v, safe='')}" for k, v in pairs)


@pytest.mark.parametrize("encode_brackets", [False, True])
def test_form_with_bracket_keys_becomes_nested(encode_brackets: bool) -> None:
    form = parse_php_form(event_body(encode_brackets=encode_brackets))
    assert form["data"] == {"FIELDS": {"ID": "17"}}
    assert form["auth"]["application_token"] == TOKEN


@pytest.mark.parametrize("body", ["a[b]=1&a=2", "a=1&a[b]=2", "[x]=1", "a[b]c=1"])
def test_form_with_conflicting_or_broken_keys_is_malformed(body: str) -> None:
    with pytest.raises(MalformedFormError):
        parse_php_form(body)


def test_genuine_event_is_read() -> None:
    event = read_event(parse_php_form(event_body()), CREDENTIALS)
    assert (event.event, event.lead_id, event.ts, event.handler_id) == (
        "ONCRMLEADUPDATE",
        17,
        "1742807175",
        "707",
    )
    assert event.dedup_key == "ev:ONCRMLEADUPDATE:17:1742807175:707"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (event_body(token="forged"), 401),
        (event_body().replace("memb0001", "other"), 401),
        (event_body().replace("emulator.bitrix24.test", "evil.test"), 401),
        ("event=ONCRMLEADADD", 401),
        (event_body(lead_id="abc"), 400),
        (event_body(lead_id="0"), 400),
        (event_body(lead_id="٥"), 400),
        (event_body(lead_id="²"), 400),
        (event_body(lead_id="05"), 400),
        (event_body(lead_id=str(2**63)), 400),
        (event_body(lead_id="12345678901"), 400),
        (event_body().replace("event=ONCRMLEADUPDATE&", ""), 400),
    ],
)
def test_forged_or_malformed_event_is_refused(body: str, status: int) -> None:
    with pytest.raises(EventRefused) as refused:
        read_event(parse_php_form(body), CREDENTIALS)
    assert refused.value.status == status


class Endpoint:
    """The receiver served on loopback, with its inbox."""

    def __init__(self, receiver: EventReceiver, inbox: GatedInbox, url: str, db: Database) -> None:
        self.receiver = receiver
        self.inbox = inbox
        self.db = db
        self.url = url
        self.stored = 0
        self.catalog_invalidations = 0


class GatedInbox(InboxRepository):
    """An inbox whose commits wait for a gate, and which fails on one poisoned event."""

    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self.gate = asyncio.Event()
        self.gate.set()
        self.commits = 0
        self.direct = False
        self.direct_commits = 0

    async def add_many(
        self, events: list[tuple[str, str, int | None, dict[str, Any]]], *, durable: bool = True
    ) -> list[bool]:
        await self.gate.wait()
        self.commits += 1
        if any("poison" in key for key, _, _, _ in events):
            # What an id over SQLite's INTEGER did: the whole transaction fails.
            raise OverflowError("Python int too large to convert to SQLite INTEGER")
        return await super().add_many(events, durable=durable)

    def add_now(
        self, events: list[tuple[str, str, int | None, dict[str, Any]]]
    ) -> list[bool] | None:
        """Through the gate (the usual way) unless `direct` is set; a poisoned event fails
        here as it would in SQLite, which `write_now` answers with None."""
        if not self.direct or any("poison" in key for key, _, _, _ in events):
            return None
        stored = super().add_now(events)
        self.direct_commits += stored is not None
        return stored


@pytest.fixture
async def endpoint(backend: Backend) -> AsyncIterator[Endpoint]:
    db = backend.database()
    await db.open()
    inbox = GatedInbox(db)
    holder: list[Endpoint] = []

    def stored() -> None:
        holder[0].stored += 1

    def invalidated() -> None:
        holder[0].catalog_invalidations += 1

    receiver = EventReceiver(
        inbox,
        CREDENTIALS,
        max_body_bytes=4096,
        on_catalog_changed=invalidated,
        on_stored=stored,
    )
    app = web.Application()
    app.router.add_post("/bitrix/events", receiver.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    holder.append(Endpoint(receiver, inbox, f"http://127.0.0.1:{port}/bitrix/events", db))
    try:
        yield holder[0]
    finally:
        await runner.cleanup()
        await db.close()


@pytest.fixture
def at_once(endpoint: Endpoint) -> Endpoint:
    """The endpoint whose inbox stores events at once when SQLite's write lock is free."""
    endpoint.inbox.direct = True
    return endpoint


async def post(
    url: str, body: str | bytes, content_type: str = "application/x-www-form-urlencoded"
) -> int:
    headers = {"Content-Type": content_type}
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=body, headers=headers) as answer,
    ):
        await answer.read()
        return answer.status


async def test_event_is_stored_before_the_answer_and_replays_add_nothing(
    endpoint: Endpoint,
) -> None:
    for _ in range(3):
        assert await post(endpoint.url, event_body()) == 200
    assert await endpoint.inbox.count() == 1
    [stored] = await endpoint.inbox.unprocessed()
    assert (stored.event, stored.lead_id) == ("ONCRMLEADUPDATE", 17)
    assert endpoint.stored == 1


async def test_forged_event_gets_401_and_writes_nothing(endpoint: Endpoint) -> None:
    assert await post(endpoint.url, event_body(token="guess")) == 401
    assert await endpoint.inbox.count() == 0
    assert endpoint.receiver.refused == 1


async def test_wrong_content_type_and_oversized_bodies_are_refused(endpoint: Endpoint) -> None:
    assert await post(endpoint.url, event_body(), "application/json") == 415
    assert await post(endpoint.url, event_body() + "&pad=" + "x" * 5000) == 413
    assert await post(endpoint.url, b"\xff\xfe=1") == 400
    assert await endpoint.inbox.count() == 0


async def test_user_field_event_invalidates_the_catalog(endpoint: Endpoint) -> None:
    body = event_body("ONCRMLEADUSERFIELDADD").replace(
        "data%5BFIELDS%5D%5BID%5D", "data[FIELDS][ID]"
    )
    assert await post(endpoint.url, body) == 200
    assert endpoint.catalog_invalidations == 1


async def _raw_post_in_two_parts(url: str, body: bytes, pause: float) -> int:
    """POST over a raw socket: headers and half the body, a pause, then the rest."""
    host_port, path = url.removeprefix("http://").split("/", 1)
    host, port = host_port.split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    head = (
        f"POST /{path} HTTP/1.1\r\nHost: {host_port}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    half = len(body) // 2
    writer.write(head + body[:half])
    await writer.drain()
    await asyncio.sleep(pause)
    writer.write(body[half:])
    await writer.drain()
    status_line = await reader.readline()
    writer.close()
    await writer.wait_closed()
    return int(status_line.split()[1])


async def test_event_sent_in_two_tcp_writes_is_read_whole_and_stored(endpoint: Endpoint) -> None:
    status = await _raw_post_in_two_parts(endpoint.url, event_body().encode(), pause=0.3)
    assert status == 200
    [stored] = await endpoint.inbox.unprocessed()
    assert stored.lead_id == 17


async def test_body_over_the_cap_in_pieces_is_refused_without_a_length(endpoint: Endpoint) -> None:
    async def pieces() -> AsyncIterator[bytes]:
        yield event_body().encode()
        for _ in range(5):
            yield b"&pad=" + b"x" * 1000

    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    async with (
        aiohttp.ClientSession() as session,
        session.post(endpoint.url, data=pieces(), headers=headers) as answer,
    ):
        assert answer.status == 413
    assert await endpoint.inbox.count() == 0


@pytest.mark.parametrize("lead_id", ["٥", "²", str(2**63), "99999999999"])
async def test_lead_id_that_is_not_plain_ascii_digits_gets_400_over_http(
    endpoint: Endpoint, lead_id: str
) -> None:
    assert await post(endpoint.url, event_body(lead_id=lead_id)) == 400
    assert await endpoint.inbox.count() == 0


async def test_a_failing_event_does_not_fail_the_events_committed_with_it(
    endpoint: Endpoint,
) -> None:
    inbox = endpoint.inbox
    assert isinstance(inbox, GatedInbox)
    inbox.gate.clear()
    first = asyncio.create_task(post(endpoint.url, event_body(ts="1")))
    await asyncio.sleep(0.1)  # the first event's commit is now waiting at the gate
    others = [
        asyncio.create_task(post(endpoint.url, event_body(lead_id=str(20 + i), ts=ts)))
        for i, ts in enumerate(["2", "poison", "3", "4"])
    ]
    await asyncio.sleep(0.2)  # the other four queue up behind it as one group
    inbox.gate.set()
    statuses = [await first, *[await task for task in others]]
    assert statuses == [200, 200, 500, 200, 200]
    assert sorted(e.lead_id or 0 for e in await inbox.unprocessed()) == [17, 20, 22, 23]
    assert inbox.commits >= 3  # the group failed and was committed again event by event


@sqlite_only
async def test_a_failing_event_fails_alone_when_events_are_stored_at_once(
    at_once: Endpoint,
) -> None:
    statuses = await asyncio.gather(
        *(
            post(at_once.url, event_body(lead_id=str(20 + i), ts=ts))
            for i, ts in enumerate(["2", "poison", "3"])
        )
    )
    assert statuses == [200, 500, 200]
    assert sorted(e.lead_id or 0 for e in await at_once.inbox.unprocessed()) == [20, 22]
    assert at_once.stored == 2


@sqlite_only
async def test_an_event_is_stored_at_once_when_nobody_else_writes(at_once: Endpoint) -> None:
    # Stored on the loop's thread within the request: no trip to the database's thread, no
    # turn of a busy loop between the insert and the answer.
    inbox = at_once.inbox
    for ts in ("1", "2", "1"):
        assert await post(at_once.url, event_body(ts=ts)) == 200
    assert (inbox.direct_commits, inbox.commits) == (3, 0)
    assert len(await inbox.unprocessed()) == 2  # the repeat was stored once
    assert at_once.stored == 2


@sqlite_only
async def test_an_event_waits_for_an_open_transaction_and_is_stored_the_usual_way(
    at_once: Endpoint,
) -> None:
    inbox = at_once.inbox
    holding = asyncio.Event()

    async def writer() -> None:
        async with at_once.db.transaction() as conn:
            await conn.execute("INSERT INTO kv (key, value, updated_at) VALUES ('k', '1', 't')")
            holding.set()
            await asyncio.sleep(0.3)

    other = asyncio.create_task(writer())
    async with asyncio.timeout(5):
        await holding.wait()
    assert await post(at_once.url, event_body()) == 200
    assert other.done()  # answered only once the other transaction had committed
    assert (inbox.direct_commits, inbox.commits) == (0, 1)
    [stored] = await inbox.unprocessed()
    assert stored.lead_id == 17
