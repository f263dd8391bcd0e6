"""Every error kind, retries, lost answers, OAuth refresh and the shared rate limit, end to end."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from bot.portal import (
    AccessDeniedError,
    AuthError,
    BatchCommand,
    ContactDraft,
    Lane,
    LeadChanges,
    LeadDraft,
    MethodNotFoundError,
    NotFoundError,
    OAuthAuth,
    OperationTimeLimitError,
    OutcomeUnknownError,
    PortalClient,
    PortalLimiter,
    PortalMovedError,
    RateLimitError,
    ScopeError,
    UnavailableError,
    ValidationError,
    WebhookAuth,
    WrongAuthTypeError,
)
from tests.emulators.bitrix24 import Bitrix24Emulator
from tests.portal.conftest import ClientFactory


def oauth_for(emu: Bitrix24Emulator, **kwargs: Any) -> OAuthAuth:
    access, refresh = emu.issue_oauth_tokens(user_id=1)
    return OAuthAuth(
        endpoint=emu.oauth_endpoint,
        access_token=access,
        refresh_token=refresh,
        client_id=emu.client_id,
        client_secret=emu.client_secret,
        token_url=emu.token_url,
        **kwargs,
    )


# --- error kinds ------------------------------------------------------------------------------


async def test_missing_lead_is_not_found(client: PortalClient) -> None:
    with pytest.raises(NotFoundError) as caught:
        await client.get_lead(987654)
    assert caught.value.method == "crm.lead.get"
    assert caught.value.status == 400
    with pytest.raises(NotFoundError):
        await client.update_lead(987654, LeadChanges(title="x"))


async def test_bad_argument_is_a_validation_error(client: PortalClient) -> None:
    with pytest.raises(ValidationError) as caught:
        await client.call("crm.lead.get", {"id": 0}, idempotent=True)
    assert caught.value.description == "ID is not defined or invalid."
    with pytest.raises(ValidationError):
        await client.call("crm.lead.add", {"fields": "nope"}, idempotent=False)


async def test_unknown_method_is_method_not_found(client: PortalClient) -> None:
    with pytest.raises(MethodNotFoundError):
        await client.call("crm.lead.teleport", idempotent=True)


async def test_non_admin_cannot_add_user_fields(
    portal_emulator: Bitrix24Emulator, make_client: ClientFactory
) -> None:
    rep = make_client(WebhookAuth(portal_emulator.add_incoming_webhook(user_id=2)))
    from bot.portal import UserFieldDraft

    with pytest.raises(AccessDeniedError):
        await rep.add_lead_userfield(UserFieldDraft(user_type_id="string", field_name="X"))


async def test_wrong_webhook_secret_is_an_auth_error(
    portal_emulator: Bitrix24Emulator, make_client: ClientFactory
) -> None:
    wrong = portal_emulator.webhook_url.replace(portal_emulator.webhook_secret, "wrongsecret")
    client = make_client(WebhookAuth(wrong))
    with pytest.raises(AuthError) as caught:
        await client.current_user()
    assert caught.value.code == "INVALID_CREDENTIALS"
    assert "wrongsecret" not in str(caught.value)


async def test_webhook_without_crm_scope_is_a_scope_error(
    client: PortalClient, portal_emulator: Bitrix24Emulator
) -> None:
    portal_emulator.set_webhook_scopes(["user"])
    with pytest.raises(ScopeError):
        await client.lead_fields()


async def test_event_bind_with_a_webhook_is_the_wrong_auth_type(client: PortalClient) -> None:
    with pytest.raises(WrongAuthTypeError):
        await client.bind_event("ONCRMLEADADD", "https://bot.example.test/events")


async def test_revoked_token_is_an_auth_error(
    portal_emulator: Bitrix24Emulator, make_client: ClientFactory
) -> None:
    auth = oauth_for(portal_emulator)
    client = make_client(auth)
    await client.current_user()
    for token in list(portal_emulator._access_tokens):
        portal_emulator.revoke_access_token(token)
    with pytest.raises(AuthError) as caught:
        await client.current_user()
    assert caught.value.code == "invalid_token"


async def test_operation_time_limit_blocks_the_method(
    portal_emulator: Bitrix24Emulator, make_client: ClientFactory
) -> None:
    portal_emulator.operating_limit = 1.0
    portal_emulator.operating_costs["crm.lead.list"] = 5.0
    client = make_client(
        WebhookAuth(portal_emulator.webhook_url),
        operating_block_seconds=600.0,
        operating_wait_cap=1.0,
    )
    await client.list_leads()
    with pytest.raises(OperationTimeLimitError) as caught:
        await client.list_leads()
    assert caught.value.reset_at is not None
    calls = portal_emulator.count_calls("crm.lead.list")
    with pytest.raises(OperationTimeLimitError):
        await client.list_leads()
    # Blocked locally: the portal is not asked again until the reset.
    assert portal_emulator.count_calls("crm.lead.list") == calls
    assert await client.crm_mode() is not None


async def test_operation_time_limit_waits_and_retries_within_the_cap(
    portal_emulator: Bitrix24Emulator, make_client: ClientFactory
) -> None:
    portal_emulator.operating_limit = 1.0
    portal_emulator.operating_costs["crm.lead.list"] = 5.0
    slept: list[float] = []

    async def sleep(delay: float) -> None:
        slept.append(delay)
        portal_emulator.reset_rate_limit()  # the portal's 10-minute window passes meanwhile
        await asyncio.sleep(0)

    client = make_client(
        WebhookAuth(portal_emulator.webhook_url), operating_wait_cap=700.0, sleep=sleep
    )
    first = await client.list_leads()
    assert first.items == []
    page = await client.list_leads()
    assert page.items == []
    # It waited for the portal's operating_reset_at (within the last 10 minutes' window).
    assert any(1.0 < delay <= 600.0 for delay in slept)


async def test_a_redirect_to_another_host_is_refused_and_the_token_never_leaves(
    make_client: ClientFactory, portal_emulator: Bitrix24Emulator
) -> None:
    async with Bitrix24Emulator() as elsewhere:
        # Another emulator stands for a foreign host; localhost is not 127.0.0.1 to httpx.
        portal_emulator.moved_to = elsewhere.base_url.replace("127.0.0.1", "localhost")
        client = make_client(oauth_for(portal_emulator))
        with pytest.raises(PortalMovedError) as caught:
            await client.list_leads()
        assert caught.value.location_host == "localhost"
        with pytest.raises(PortalMovedError):
            await client.add_lead(LeadDraft(title="Never sent twice"))
        assert elsewhere.calls == []
    # One answer each, no retries of a redirect.
    assert portal_emulator.count_calls("crm.lead.list") == 1
    assert portal_emulator.count_calls("crm.lead.add") == 1
    assert portal_emulator.leads == {}


# --- transient failures -----------------------------------------------------------------------


async def test_reads_survive_5xx_dropped_and_malformed_answers(
    client: PortalClient, portal_emulator: Bitrix24Emulator
) -> None:
    lead_id = await client.add_lead(LeadDraft(title="Sturdy"))
    portal_emulator.faults.fail_next(1, status=502)
    assert (await client.get_lead(lead_id)).id == lead_id
    portal_emulator.faults.malformed_next(1)
    assert (await client.get_lead(lead_id)).id == lead_id
    portal_emulator.faults.drop_next(1)
    assert (await client.get_lead(lead_id)).id == lead_id
    portal_emulator.faults.drop_after_execute_next(1)
    assert (await client.get_lead(lead_id)).id == lead_id


async def test_reads_give_up_after_max_retries(
    client: PortalClient, portal_emulator: Bitrix24Emulator
) -> None:
    portal_emulator.faults.fail_next(10, status=500)
    with pytest.raises(UnavailableError):
        await client.lead_fields()
    assert portal_emulator.count_calls("crm.lead.fields") == 4


async def test_lead_whose_answer_was_lost_is_not_sent_again_and_found_by_origin(
    client: PortalClient, portal_emulator: Bitrix24Emulator
) -> None:
    portal_emulator.faults.drop_after_execute_next(1)
    with pytest.raises(OutcomeUnknownError):
        await client.add_lead(LeadDraft(title="Only once", origin_id="draft-1"))
    titles = [row["TITLE"] for row in portal_emulator.leads.values()]
    assert titles.count("Only once") == 1
    assert portal_emulator.count_executed("crm.lead.add") == 1
    lead_id = await client.find_lead_by_origin("draft-1")
    assert lead_id is not None
    assert (await client.get_lead(lead_id)).title == "Only once"


async def test_lead_add_answered_5xx_is_an_unknown_outcome_not_a_second_add(
    client: PortalClient, portal_emulator: Bitrix24Emulator
) -> None:
    portal_emulator.faults.fail_next(1, status=500)
    with pytest.raises(OutcomeUnknownError):
        await client.add_lead(LeadDraft(title="Second try", origin_id="draft-2"))
    assert portal_emulator.count_calls("crm.lead.add") == 1
    assert await client.find_lead_by_origin("draft-2") is None


async def test_lead_add_through_every_transport_fault_is_sent_once(
    client: PortalClient, portal_emulator: Bitrix24Emulator
) -> None:
    faults = portal_emulator.faults
    for title, inject, saved in (
        ("dropped", lambda: faults.drop_next(1), False),
        ("malformed", lambda: faults.malformed_next(1), False),
        ("lost", lambda: faults.drop_after_execute_next(1), True),
        ("gateway", lambda: faults.fail_next(1, status=504), False),
    ):
        inject()
        with pytest.raises(OutcomeUnknownError):
            await client.add_lead(LeadDraft(title=title, origin_id=f"origin-{title}"))
        faults.clear()
        titles = [row["TITLE"] for row in portal_emulator.leads.values()]
        assert titles.count(title) == int(saved), title
        found = await client.find_lead_by_origin(f"origin-{title}")
        assert (found is not None) == saved, title
    assert portal_emulator.count_calls("crm.lead.add") == 4


async def test_contact_add_with_a_lost_answer_is_not_repeated(
    client: PortalClient, portal_emulator: Bitrix24Emulator
) -> None:
    before = len(portal_emulator.contacts)
    portal_emulator.faults.drop_after_execute_next(1)
    with pytest.raises(OutcomeUnknownError):
        await client.add_contact(ContactDraft(name="Maybe"))
    assert len(portal_emulator.contacts) == before + 1
    assert portal_emulator.count_executed("crm.contact.add") == 1


async def test_batch_with_writes_is_not_repeated_after_a_lost_answer(
    client: PortalClient, portal_emulator: Bitrix24Emulator
) -> None:
    portal_emulator.faults.drop_after_execute_next(1)
    with pytest.raises(OutcomeUnknownError):
        await client.batch([BatchCommand("crm.lead.add", {"fields": {"TITLE": "B"}})])
    assert portal_emulator.count_calls("batch") == 1
    assert [row["TITLE"] for row in portal_emulator.leads.values()].count("B") == 1


# --- OAuth ------------------------------------------------------------------------------------


async def test_expired_token_is_refreshed_once_and_stored(
    portal_emulator: Bitrix24Emulator, make_client: ClientFactory
) -> None:
    stored: list[tuple[str, str, float | None]] = []

    async def on_tokens(access: str, refresh: str, expires_at: float | None) -> None:
        stored.append((access, refresh, expires_at))

    auth = oauth_for(portal_emulator, on_tokens=on_tokens)
    client = make_client(auth)
    assert (await client.current_user()).id == 1
    portal_emulator.expire_access_tokens()
    users = await asyncio.gather(*(client.current_user() for _ in range(6)))
    assert {u.id for u in users} == {1}
    assert len(stored) == 1
    access, _refresh, expires_at = stored[0]
    assert access in portal_emulator._access_tokens
    assert expires_at is not None
    portal_emulator.expire_access_tokens()
    await client.current_user()
    assert len(stored) == 2
    assert stored[1][0] != access


async def test_refresh_with_a_consumed_refresh_token_is_an_auth_error(
    portal_emulator: Bitrix24Emulator, make_client: ClientFactory
) -> None:
    auth = OAuthAuth(
        endpoint=portal_emulator.oauth_endpoint,
        access_token=portal_emulator.issue_oauth_tokens()[0],
        refresh_token="not-a-refresh-token",
        client_id=portal_emulator.client_id,
        client_secret=portal_emulator.client_secret,
        token_url=portal_emulator.token_url,
    )
    client = make_client(auth)
    portal_emulator.expire_access_tokens()
    with pytest.raises(AuthError) as caught:
        await client.current_user()
    assert caught.value.code.lower() == "invalid_grant"


async def test_token_as_auth_param_works(
    portal_emulator: Bitrix24Emulator, make_client: ClientFactory
) -> None:
    client = make_client(oauth_for(portal_emulator, send_as="param"))
    assert (await client.current_user()).id == 1


# --- the shared rate limit --------------------------------------------------------------------


async def test_full_bucket_at_start_never_shows_the_limit_to_callers(
    make_client: ClientFactory,
) -> None:
    emulator = Bitrix24Emulator(rate_limit=True, drain_per_second=10.0, burst=10)
    await emulator.start()
    try:
        # Another process just used the whole burst.
        other = make_client(
            WebhookAuth(emulator.webhook_url),
            limiter=PortalLimiter(drain_per_second=10.0, burst=10, start_full=False),
        )
        await asyncio.gather(*(other.crm_mode() for _ in range(10)))
        # The portal counts arrivals, the limiter counts sends: draining a little slower than
        # the portal leaves room for the jitter between the two on a busy machine.
        ours = make_client(
            WebhookAuth(emulator.webhook_url),
            limiter=PortalLimiter(drain_per_second=8.0, burst=10, start_full=True),
        )
        results = await asyncio.gather(*(ours.crm_mode() for _ in range(20)))
        assert len(results) == 20
        rejected = [c for c in emulator.calls if c.rejected_by_limit]
        assert rejected == []
    finally:
        await emulator.stop()


async def test_optimistic_start_hits_the_limit_and_recovers_silently(
    make_client: ClientFactory,
) -> None:
    emulator = Bitrix24Emulator(rate_limit=True, drain_per_second=50.0, burst=10)
    await emulator.start()
    try:
        other = make_client(
            WebhookAuth(emulator.webhook_url),
            limiter=PortalLimiter(drain_per_second=50.0, burst=10, start_full=False),
        )
        await asyncio.gather(*(other.crm_mode() for _ in range(10)))
        limiter = PortalLimiter(drain_per_second=50.0, burst=10, start_full=False)
        ours = make_client(WebhookAuth(emulator.webhook_url), limiter=limiter, max_retries=8)
        results = await asyncio.gather(*(ours.crm_mode() for _ in range(20)))
        assert len(results) == 20
        assert any(c.rejected_by_limit for c in emulator.calls)
    finally:
        await emulator.stop()


async def test_limit_beyond_retries_reaches_the_caller_as_rate_limit(
    make_client: ClientFactory,
) -> None:
    emulator = Bitrix24Emulator(rate_limit=True, drain_per_second=0.001, burst=2)
    await emulator.start()
    try:
        client = make_client(
            WebhookAuth(emulator.webhook_url),
            limiter=PortalLimiter(drain_per_second=1000.0, burst=100, start_full=False),
            max_retries=1,
        )

        async def call_ignoring_our_limiter() -> None:
            for _ in range(5):
                client.limiter.bucket.level = 0.0  # pretend we know better than the portal
                await client.crm_mode()

        with pytest.raises(RateLimitError):
            await call_ignoring_our_limiter()
        assert sum(c.rejected_by_limit for c in emulator.calls) == 2
    finally:
        await emulator.stop()


async def test_interactive_calls_overtake_waiting_background_reads(
    client: PortalClient, portal_emulator: Bitrix24Emulator, make_client: ClientFactory
) -> None:
    # The limiter's clock stands still until everybody is in line, so a slow machine cannot
    # let a background read through before the user arrives.
    started: list[float] = []

    def clock() -> float:
        return time.monotonic() - started[0] if started else 0.0

    limiter = PortalLimiter(drain_per_second=20.0, burst=1, start_full=True, clock=clock)
    await limiter.report_limit_exceeded()  # the portal's counter is above the burst
    slow = make_client(WebhookAuth(portal_emulator.webhook_url), limiter=limiter)
    order: list[str] = []

    async def read(name: str, lane: Lane) -> None:
        await slow.crm_mode(lane=lane)
        order.append(name)

    background = [asyncio.create_task(read(f"bg{i}", Lane.BACKGROUND)) for i in range(4)]
    await asyncio.sleep(0)
    user = asyncio.create_task(read("user", Lane.INTERACTIVE))
    await asyncio.sleep(0)
    assert limiter.waiting(Lane.BACKGROUND) == 4
    assert limiter.waiting(Lane.INTERACTIVE) == 1
    started.append(time.monotonic())
    await asyncio.gather(user, *background)
    assert order[0] == "user"
