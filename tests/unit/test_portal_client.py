"""PortalClient's retry, refresh and idempotency rules against a scripted in-process transport."""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from bot.portal import (
    AuthError,
    ContactDraft,
    Lane,
    LeadDraft,
    NotFoundError,
    OAuthAuth,
    OperationTimeLimitError,
    OutcomeUnknownError,
    PortalClient,
    PortalLimiter,
    PortalMovedError,
    RateLimitError,
    UnavailableError,
    WebhookAuth,
)

SECRET = "s3cr3tw3bh00k"
WEBHOOK = f"https://portal.example/rest/7/{SECRET}/"
OK_TIME = {"start": 1.0, "finish": 1.1, "duration": 0.1, "operating": 0}

Handler = Callable[[httpx.Request], httpx.Response]


class Script:
    """Answers requests one by one from a list of steps; records what was asked."""

    def __init__(self, *steps: Any) -> None:
        self.steps = list(steps)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        step = self.steps.pop(0)
        if isinstance(step, Exception):
            raise step
        if callable(step):
            return step(request)
        status, body = step
        if isinstance(body, str):
            return httpx.Response(status, text=body)
        return httpx.Response(status, json=body)

    def methods(self) -> list[str]:
        return [r.url.path.rsplit("/", 1)[-1].removesuffix(".json") for r in self.requests]

    def body(self, index: int) -> dict[str, Any]:
        return json.loads(self.requests[index].content)


def ok(result: Any, **extra: Any) -> tuple[int, dict[str, Any]]:
    return 200, {"result": result, "time": OK_TIME, **extra}


def err(status: int, code: str, description: str) -> tuple[int, dict[str, Any]]:
    return status, {"error": code, "error_description": description}


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        await asyncio.sleep(0)


def make_client(
    script: Script,
    *,
    auth: Any = None,
    sleeps: Sleeps | None = None,
    max_retries: int = 3,
    wall: Callable[[], float] | None = None,
    limiter: PortalLimiter | None = None,
) -> PortalClient:
    return PortalClient(
        auth=auth or WebhookAuth(WEBHOOK),
        limiter=limiter or PortalLimiter(drain_per_second=1000.0, burst=1000, start_full=False),
        max_retries=max_retries,
        backoff_base=0.01,
        backoff_cap=0.05,
        transport=httpx.MockTransport(script),
        rng=random.Random(1),
        sleep=sleeps or Sleeps(),
        wall_clock=wall or (lambda: 1000.0),
    )


async def test_read_sends_json_post_to_method_url() -> None:
    script = Script(ok({"ID": "5", "TITLE": "x"}))
    async with make_client(script) as client:
        lead = await client.get_lead(5)
    assert lead.id == 5
    request = script.requests[0]
    assert request.method == "POST"
    assert str(request.url) == f"{WEBHOOK}crm.lead.get.json"
    assert script.body(0) == {"id": 5}


class SpyLimiter(PortalLimiter):
    def __init__(self) -> None:
        super().__init__(drain_per_second=1000.0, burst=5, start_full=False)
        self.reports = 0

    async def report_limit_exceeded(self) -> None:
        self.reports += 1
        await super().report_limit_exceeded()


async def test_rate_limit_refusal_is_retried_and_slows_the_limiter() -> None:
    limiter = SpyLimiter()
    script = Script(err(503, "QUERY_LIMIT_EXCEEDED", "Too many requests"), ok("1"))
    async with make_client(script, limiter=limiter) as client:
        assert await client.crm_mode() == 1
    assert script.methods() == ["crm.settings.mode.get"] * 2
    assert limiter.reports == 1


async def test_rate_limit_after_every_retry_reaches_the_caller() -> None:
    script = Script(*[err(503, "QUERY_LIMIT_EXCEEDED", "Too many requests")] * 3)
    async with make_client(script, max_retries=2) as client:
        with pytest.raises(RateLimitError):
            await client.add_contact(ContactDraft(name="A"))
    assert len(script.requests) == 3


async def test_reads_are_retried_after_5xx_and_malformed_bodies() -> None:
    script = Script(
        (502, "<html>Bad gateway</html>"),
        (200, "not json at all"),
        err(500, "INTERNAL_SERVER_ERROR", ""),
        ok({"ID": "9"}),
    )
    sleeps = Sleeps()
    async with make_client(script, sleeps=sleeps) as client:
        contact = await client.get_contact(9)
    assert contact.id == 9
    assert len(sleeps.delays) == 3
    assert all(0 <= d <= 0.05 for d in sleeps.delays)


async def test_reads_give_up_with_unavailable_after_max_retries() -> None:
    script = Script(*[(500, "oops")] * 3)
    async with make_client(script, max_retries=2) as client:
        with pytest.raises(UnavailableError):
            await client.lead_fields()


async def test_network_error_before_connecting_is_retried_even_for_writes() -> None:
    script = Script(httpx.ConnectError("refused"), ok(46))
    async with make_client(script) as client:
        assert await client.add_contact(ContactDraft(name="A")) == 46


async def test_lost_answer_of_a_contact_add_is_not_retried() -> None:
    script = Script(httpx.RemoteProtocolError("Server disconnected"))
    async with make_client(script) as client:
        with pytest.raises(OutcomeUnknownError) as caught:
            await client.add_contact(ContactDraft(name="A"))
    assert isinstance(caught.value, UnavailableError)
    assert len(script.requests) == 1


async def test_5xx_on_a_timeline_comment_is_an_unknown_outcome() -> None:
    script = Script(err(500, "INTERNAL_SERVER_ERROR", ""))
    async with make_client(script) as client:
        with pytest.raises(OutcomeUnknownError):
            await client.add_timeline_comment("lead", 1, "hello")
    assert len(script.requests) == 1


async def test_business_errors_are_not_retried() -> None:
    script = Script(err(400, "", "Not found"))
    async with make_client(script) as client:
        with pytest.raises(NotFoundError):
            await client.get_lead(404)
    assert len(script.requests) == 1


async def test_lead_add_carries_origin_and_is_not_sent_again_after_a_lost_answer() -> None:
    # The portal may still be saving the lead: neither a look-up nor a second add right now.
    script = Script(httpx.ReadTimeout("timed out"))
    async with make_client(script) as client:
        with pytest.raises(OutcomeUnknownError):
            await client.add_lead(LeadDraft(title="Visit"))
    assert script.methods() == ["crm.lead.add"]
    fields = script.body(0)["fields"]
    assert fields["ORIGINATOR_ID"] == "tg-bot"
    assert len(fields["ORIGIN_ID"]) == 32


async def test_lead_add_after_a_5xx_is_an_unknown_outcome_not_a_second_add() -> None:
    script = Script(err(502, "", "Bad gateway"))
    async with make_client(script) as client:
        with pytest.raises(OutcomeUnknownError):
            await client.add_lead(LeadDraft(title="Visit", origin_id="mine-1"))
    assert script.methods() == ["crm.lead.add"]
    assert script.body(0)["fields"]["ORIGIN_ID"] == "mine-1"


async def test_lead_is_found_by_its_origin() -> None:
    script = Script(ok([{"ID": "77"}], total=0), ok([], total=0))
    async with make_client(script) as client:
        assert await client.find_lead_by_origin("mine-1") == 77
        assert await client.find_lead_by_origin("mine-2") is None
    assert script.methods() == ["crm.lead.list", "crm.lead.list"]
    assert script.body(0)["filter"] == {"ORIGINATOR_ID": "tg-bot", "ORIGIN_ID": "mine-1"}


async def test_batch_with_a_write_is_not_retried_after_an_unknown_outcome() -> None:
    from bot.portal import BatchCommand

    script = Script(httpx.RemoteProtocolError("Server disconnected"))
    async with make_client(script) as client:
        with pytest.raises(OutcomeUnknownError):
            await client.batch(
                [
                    BatchCommand("crm.lead.update", {"id": 1, "fields": {}}),
                    BatchCommand("crm.contact.add", {"fields": {"NAME": "x"}}),
                ]
            )


async def test_read_only_batch_is_retried() -> None:
    from bot.portal import BatchCommand

    script = Script(
        (500, "boom"),
        ok(
            {
                "result": {"c0": {"ID": "1"}},
                "result_error": [],
                "result_total": [],
                "result_next": [],
                "result_time": [],
            }
        ),
    )
    async with make_client(script) as client:
        result = await client.batch([BatchCommand("crm.lead.get", {"id": 1})])
    assert result["c0"] == {"ID": "1"}
    assert script.body(1)["cmd"] == {"c0": "crm.lead.get?id=1"}


async def test_operation_time_limit_blocks_the_method_until_reset() -> None:
    now = [1000.0]
    sleeps = Sleeps()
    script = Script(
        ok(True, time={**OK_TIME, "operating": 470.0, "operating_reset_at": 1030}),
        err(429, "OPERATION_TIME_LIMIT", "Method is blocked due to operation time limit."),
        ok(True),
    )
    async with make_client(script, sleeps=sleeps, wall=lambda: now[0]) as client:
        await client.delete_lead(1)
        assert await client.delete_lead(2) is True
    assert 30.0 in sleeps.delays


async def test_operation_time_limit_beyond_the_wait_cap_is_raised() -> None:
    script = Script(err(429, "OPERATION_TIME_LIMIT", "blocked"))
    client = PortalClient(
        auth=WebhookAuth(WEBHOOK),
        limiter=PortalLimiter(drain_per_second=1000.0, burst=1000, start_full=False),
        transport=httpx.MockTransport(script),
        operating_block_seconds=600.0,
        operating_wait_cap=60.0,
        sleep=Sleeps(),
    )
    async with client:
        with pytest.raises(OperationTimeLimitError) as caught:
            await client.get_lead(1)
    assert caught.value.reset_at is not None


async def test_background_calls_slow_down_when_the_method_budget_runs_low() -> None:
    sleeps = Sleeps()
    busy = {**OK_TIME, "operating": 300.0}
    script = Script(ok([], time=busy), ok([], time=busy), ok([], time=busy))
    async with make_client(script, sleeps=sleeps) as client:
        await client.list_leads()
        await client.list_leads()
        assert sleeps.delays == []
        await client.list_leads(lane=Lane.BACKGROUND)
    assert sleeps.delays == [1.0]


TOKEN_URL = "https://oauth.example/oauth/token/"


def oauth(token_url: str = TOKEN_URL, **kwargs: Any) -> OAuthAuth:
    return OAuthAuth(
        endpoint="https://portal.example/rest/",
        access_token="old-access",
        refresh_token="old-refresh",
        client_id="app.1",
        client_secret="app-secret",
        token_url=token_url,
        **kwargs,
    )


class OAuthPortal:
    """A portal whose current access token can be swapped by the token endpoint."""

    def __init__(self) -> None:
        self.access = "old-access"
        self.refreshes = 0
        self.fail_refresh = False

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token/":
            self.refreshes += 1
            assert request.url.params["grant_type"] == "refresh_token"
            assert request.url.params["client_secret"] == "app-secret"
            if self.fail_refresh:
                return httpx.Response(
                    400, json={"error": "invalid_grant", "error_description": ""}
                )
            self.access = f"new-access-{self.refreshes}"
            return httpx.Response(
                200,
                json={
                    "access_token": self.access,
                    "refresh_token": f"new-refresh-{self.refreshes}",
                    "expires": 2000000000,
                    "expires_in": 3600,
                },
            )
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if token != self.access:
            return httpx.Response(
                401,
                json={
                    "error": "expired_token",
                    "error_description": "The access token provided has expired",
                },
            )
        return httpx.Response(200, json={"result": {"ID": "1", "NAME": "Ivan"}, "time": OK_TIME})


async def test_expired_token_is_refreshed_once_for_concurrent_callers() -> None:
    portal = OAuthPortal()
    portal.access = "rotated"  # the token we hold has expired
    stored: list[tuple[str, str, float | None]] = []

    async def on_tokens(access: str, refresh: str, expires_at: float | None) -> None:
        stored.append((access, refresh, expires_at))

    portal_handler = portal

    def handler(request: httpx.Request) -> httpx.Response:
        return portal_handler(request)

    client = PortalClient(
        auth=oauth(on_tokens=on_tokens),
        limiter=PortalLimiter(drain_per_second=1000.0, burst=1000, start_full=False),
        transport=httpx.MockTransport(handler),
    )
    async with client:
        users = await asyncio.gather(*(client.current_user() for _ in range(5)))
    assert {u.id for u in users} == {1}
    assert portal.refreshes == 1
    assert stored == [("new-access-1", "new-refresh-1", 2000000000.0)]


async def test_failed_refresh_is_an_auth_error() -> None:
    portal = OAuthPortal()
    portal.access = "rotated"
    portal.fail_refresh = True
    client = PortalClient(
        auth=oauth(),
        limiter=PortalLimiter(drain_per_second=1000.0, burst=1000, start_full=False),
        transport=httpx.MockTransport(portal),
    )
    async with client:
        with pytest.raises(AuthError) as caught:
            await client.current_user()
    assert caught.value.code == "invalid_grant"


async def test_token_can_travel_as_auth_param() -> None:
    script = Script(ok({"ID": "1"}))
    async with make_client(script, auth=oauth(send_as="param")) as client:
        await client.current_user()
    assert script.body(0) == {"auth": "old-access"}
    assert "Authorization" not in script.requests[0].headers


async def test_secrets_never_reach_messages_reprs_or_logs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    script = Script(
        httpx.RemoteProtocolError("Server disconnected"),
        err(401, "INVALID_CREDENTIALS", "Invalid request credentials"),
        (500, f"trace {SECRET}"),
        (500, "x"),
        (500, "x"),
        (500, "x"),
        ok({"ID": "1"}),
    )
    errors: list[BaseException] = []
    async with make_client(script, max_retries=3) as client:
        for call in (
            lambda: client.add_contact(ContactDraft(name="A")),
            client.current_user,
            client.current_user,
        ):
            try:
                await call()
            except Exception as exc:
                errors.append(exc)
        await client.current_user()
        texts = [repr(client), repr(WebhookAuth(WEBHOOK)), repr(oauth())]
    assert len(errors) == 3
    for error in errors:
        texts += [str(error), repr(error), str(error.__cause__), repr(error.__cause__)]
    # httpx logs full request URLs at INFO; the composition root keeps it at WARNING.
    ours = [record for record in caplog.records if record.name.startswith("bot.")]
    texts += [record.getMessage() for record in ours]
    texts += [str(record.args) for record in ours]
    assert ours, "the client logs its retries"
    for text in texts:
        assert SECRET not in text
        assert "old-access" not in text
        assert "app-secret" not in text
    assert any("/rest/7/***/" in text for text in texts)


async def test_a_redirect_is_not_followed_and_names_where_it_points() -> None:
    moved_to = "https://elsewhere.example/rest/7/" + SECRET + "/crm.lead.get.json"
    script = Script(
        lambda request: httpx.Response(302, headers={"Location": moved_to}),
        ok({"ID": "5"}),
    )
    async with make_client(script) as client:
        with pytest.raises(PortalMovedError) as caught:
            await client.get_lead(5)
    # One request only: the body (with the token) never went to the other host, no retry.
    assert [r.url.host for r in script.requests] == ["portal.example"]
    assert caught.value.location_host == "elsewhere.example"
    assert caught.value.status == 302
    assert "elsewhere.example" in str(caught.value)
    assert SECRET not in str(caught.value)


async def test_background_work_waits_out_a_long_operating_block_but_users_do_not() -> None:
    now = [1000.0]
    sleeps = Sleeps()
    blocked = err(429, "OPERATION_TIME_LIMIT", "Method is blocked due to operation time limit.")
    script = Script(
        ok([], time={**OK_TIME, "operating": 480.0, "operating_reset_at": 1300}),
        blocked,
        blocked,
        ok([]),
    )
    async with make_client(script, sleeps=sleeps, wall=lambda: now[0]) as client:
        await client.list_leads()
        with pytest.raises(OperationTimeLimitError):
            await client.list_leads(lane=Lane.INTERACTIVE)
        page = await client.list_leads(lane=Lane.BACKGROUND)
    assert page.items == []
    assert 300.0 in sleeps.delays
