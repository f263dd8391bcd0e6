"""The portal session: one HTTP attempt at the bottom, request middlewares around it.

Built the way aiogram's `BaseSession` is: `PortalSession(request)` runs the request through
its middlewares, outermost first, and the last one calls `send_once`, which waits for the
limiter, posts one HTTP request and reads the answer. A failed attempt is an `AttemptFailed`
that says whether the portal certainly did not run the call or may have run it; the
middlewares decide what that means:

- `RetryMiddleware`: exponential back-off with full jitter for what is safe to repeat; a
  non-idempotent call whose answer was lost ends as `OutcomeUnknownError`;
- `OAuthRefreshMiddleware`: an expired access token is refreshed once and the call repeated;
- `OperatingTimeMiddleware`: the per-method time budget (`time.operating`): blocked methods
  wait or fail, background calls slow down near the limit;
- `MetricsMiddleware`: `on_request(method, status, rate_limited)` for every HTTP attempt.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, Protocol

import httpx
from pydantic import BaseModel

from bot.portal.auth import OAuthAuth, PortalAuth
from bot.portal.coerce import int_or_none
from bot.portal.errors import (
    OperationTimeLimitError,
    OutcomeUnknownError,
    PortalError,
    PortalMovedError,
    RateLimitError,
    TokenExpiredError,
    UnavailableError,
    error_from_payload,
)
from bot.portal.limiter import Lane, PortalLimiter
from bot.portal.models import ResponseTime

__all__ = [
    "AttemptFailed",
    "MetricsMiddleware",
    "NextRequest",
    "OAuthRefreshMiddleware",
    "OperatingBudget",
    "OperatingTimeMiddleware",
    "PortalRequest",
    "PortalResponse",
    "PortalSession",
    "RequestMiddleware",
    "RetryMiddleware",
]

logger = logging.getLogger("bot.portal")


@dataclass(frozen=True)
class PortalRequest:
    """One REST call as the session sees it."""

    method: str
    params: Mapping[str, Any]
    lane: Lane
    idempotent: bool


@dataclass(frozen=True)
class PortalResponse:
    """A successful answer: the method's `result`, list paging and the `time` block."""

    result: Any
    total: int | None = None
    next: int | None = None
    time: ResponseTime | None = None


class AttemptFailed(Exception):
    """One HTTP attempt gave no result; `error` is what the caller gets if nobody retries."""

    def __init__(
        self,
        error: PortalError,
        *,
        status: int = 0,
        token: str | None = None,
        not_executed: bool = False,
        outcome_unknown: bool = False,
    ) -> None:
        super().__init__(str(error))
        self.error = error
        self.status = status
        self.token = token
        # The portal certainly did not run the call (rate-limited, never connected).
        self.not_executed = not_executed
        # The call may have run (sent, no usable answer).
        self.outcome_unknown = outcome_unknown


class NextRequest(Protocol):
    """The rest of the chain, as a middleware sees it."""

    def __call__(self, request: PortalRequest) -> Awaitable[PortalResponse]: ...


class RequestMiddleware(Protocol):
    """Wraps every request: `await make_request(request)` runs the rest of the chain."""

    def __call__(
        self, make_request: NextRequest, request: PortalRequest
    ) -> Awaitable[PortalResponse]: ...


def json_default(value: Any) -> Any:
    """How values the JSON encoder does not know go to the portal."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True, exclude_unset=True)
    raise TypeError(f"cannot send {type(value).__name__} to the portal")


def _moved_error(method: str, response: httpx.Response) -> PortalMovedError:
    location = response.headers.get("location", "")
    host = response.url.join(location).host if location else ""
    return PortalMovedError(
        f"the portal answered a redirect to {host or 'nowhere'}; it is not followed",
        code="REDIRECT",
        method=method,
        status=response.status_code,
        location_host=host,
    )


class PortalSession:
    """HTTP to the portal: the limiter, credentials, one attempt, and the middlewares."""

    def __init__(
        self,
        *,
        auth: PortalAuth,
        http: httpx.AsyncClient,
        limiter: PortalLimiter,
        middlewares: Sequence[RequestMiddleware] = (),
    ) -> None:
        self.auth = auth
        self.http = http
        self.limiter = limiter
        self.middlewares: list[RequestMiddleware] = list(middlewares)

    async def __call__(self, request: PortalRequest) -> PortalResponse:
        """Run `request` through the middlewares (first = outermost) down to one attempt."""
        handler: NextRequest = self.send_once
        for middleware in reversed(self.middlewares):
            handler = _bind(middleware, handler)
        try:
            return await handler(request)
        except AttemptFailed as failed:
            raise failed.error from None

    async def send_once(self, request: PortalRequest) -> PortalResponse:
        """One HTTP attempt: wait for the limiter, post, read; raise `AttemptFailed`."""
        method = request.method
        await self.limiter.acquire(request.lane)
        # Credentials are read after the wait, so a refresh made meanwhile is used.
        credentials = await self.auth.credentials()
        body = {**request.params, **credentials.params}
        url = f"{credentials.base_url}{method}.json"
        content = json.dumps(body, default=json_default, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json", **credentials.headers}
        token = credentials.token
        try:
            response = await self.http.post(url, content=content, headers=headers)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            error = UnavailableError(f"cannot connect: {type(exc).__name__}", method=method)
            raise AttemptFailed(error, token=token, not_executed=True) from None
        except httpx.HTTPError as exc:
            error = UnavailableError(f"no answer: {type(exc).__name__}", method=method)
            raise AttemptFailed(error, token=token, outcome_unknown=True) from None
        if response.is_redirect:
            # The body carries the `auth` token: it is never re-sent anywhere, not even to
            # the portal's own host (a renamed portal is a configuration change).
            raise AttemptFailed(
                _moved_error(method, response), status=response.status_code, token=token
            )
        return _read_response(method, response, token)


def _bind(middleware: RequestMiddleware, handler: NextRequest) -> NextRequest:
    def call(request: PortalRequest) -> Awaitable[PortalResponse]:
        return middleware(handler, request)

    return call


def _read_response(method: str, response: httpx.Response, token: str | None) -> PortalResponse:
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or ("error" not in body and "result" not in body):
        error: PortalError = UnavailableError("malformed answer", method=method, status=status)
        # Whatever produced an unreadable body may have run the method first.
        raise AttemptFailed(error, status=status, token=token, outcome_unknown=True)
    if "error" in body:
        error = error_from_payload(
            str(body.get("error") or ""),
            str(body.get("error_description") or ""),
            method=method,
            status=status,
        )
        if isinstance(error, RateLimitError):
            raise AttemptFailed(error, status=status, token=token, not_executed=True)
        code = error.code.lower()
        unknown = isinstance(error, UnavailableError) and code != "overload_limit"
        raise AttemptFailed(
            error, status=status, token=token, outcome_unknown=unknown and status >= 500
        )
    if status >= 300:
        error = UnavailableError("unexpected status", method=method, status=status)
        raise AttemptFailed(error, status=status, token=token, outcome_unknown=True)
    time_block = body.get("time")
    return PortalResponse(
        result=body["result"],
        total=int_or_none(body.get("total")),
        next=int_or_none(body.get("next")),
        time=ResponseTime.model_validate(time_block) if isinstance(time_block, dict) else None,
    )


# --- middlewares ------------------------------------------------------------------------------


class MetricsMiddleware:
    """Tells `on_request(method, status, rate_limited)` of every HTTP attempt (status 0 when
    no answer came); an observer that fails never breaks a call."""

    def __init__(self, on_request: Callable[[str, int, bool], None]) -> None:
        self._on_request = on_request

    async def __call__(self, make_request: NextRequest, request: PortalRequest) -> PortalResponse:
        try:
            response = await make_request(request)
        except AttemptFailed as failed:
            self._observe(request.method, failed.status, isinstance(failed.error, RateLimitError))
            raise
        self._observe(request.method, 200, False)
        return response

    def _observe(self, method: str, status: int, limited: bool) -> None:
        try:
            self._on_request(method, status, limited)
        except Exception:
            logger.exception("portal request observer failed")


@dataclass
class _Operating:
    operating: float = 0.0
    reset_at: float | None = None
    blocked_until: float = 0.0


@dataclass
class OperatingBudget:
    """What we know of each method's execution-time budget (`time.operating`)."""

    wall_clock: Callable[[], float]
    block_seconds: float = 60.0
    methods: dict[str, _Operating] = field(default_factory=dict)

    def state(self, method: str) -> _Operating:
        """The method's record (made on first use)."""
        return self.methods.setdefault(method.lower(), _Operating())

    def note(self, method: str, block: Mapping[str, Any] | None) -> None:
        """Remember a `time` block the portal sent for `method`."""
        if not block:
            return
        state = self.state(method)
        if block.get("operating") is not None:
            state.operating = float(block["operating"])
        if block.get("operating_reset_at") is not None:
            state.reset_at = float(block["operating_reset_at"])

    def block(self, method: str, error: OperationTimeLimitError) -> float:
        """The portal refused `method` for time: block it until its reset; seconds left."""
        state = self.state(method)
        now = self.wall_clock()
        until = state.reset_at if state.reset_at and state.reset_at > now else None
        state.blocked_until = until or now + self.block_seconds
        error.reset_at = state.blocked_until
        return state.blocked_until - now


class OperatingTimeMiddleware:
    """Waits out (or refuses) methods the portal blocked for time; slows background calls of
    a method whose budget is running low; remembers every `time` block."""

    def __init__(
        self,
        budget: OperatingBudget,
        *,
        wait_cap: Mapping[Lane, float],
        soft_limit: float,
        background_pause: float,
        sleep: Callable[[float], Awaitable[None]],
    ) -> None:
        self._budget = budget
        self._wait_cap = dict(wait_cap)
        self._soft_limit = soft_limit
        self._background_pause = background_pause
        self._sleep = sleep

    async def __call__(self, make_request: NextRequest, request: PortalRequest) -> PortalResponse:
        method, lane = request.method, request.lane
        await self._respect_limit(method, lane)
        try:
            response = await make_request(request)
        except AttemptFailed as failed:
            if isinstance(failed.error, OperationTimeLimitError):
                left = self._budget.block(method, failed.error)
                if left > self._wait_cap[lane]:
                    raise failed.error from None
            raise
        if response.time is not None:
            self._budget.note(method, response.time.model_dump(exclude_none=True))
        return response

    async def _respect_limit(self, method: str, lane: Lane) -> None:
        state = self._budget.methods.get(method.lower())
        if state is None:
            return
        wait = state.blocked_until - self._budget.wall_clock()
        if wait > 0:
            if wait > self._wait_cap[lane]:
                raise OperationTimeLimitError(
                    "method is blocked by the portal's operation time limit",
                    code="OPERATION_TIME_LIMIT",
                    method=method,
                    reset_at=state.blocked_until,
                )
            logger.info("portal %s blocked by operating time limit for %.1fs", method, wait)
            await self._sleep(wait)
        elif lane is Lane.BACKGROUND and state.operating >= self._soft_limit:
            # The method's time budget is running low: background work slows down first.
            await self._sleep(self._background_pause)


class OAuthRefreshMiddleware:
    """An expired OAuth access token is refreshed once and the call sent again."""

    def __init__(self, auth: PortalAuth, http: httpx.AsyncClient) -> None:
        self._auth = auth
        self._http = http

    async def __call__(self, make_request: NextRequest, request: PortalRequest) -> PortalResponse:
        try:
            return await make_request(request)
        except AttemptFailed as failed:
            if not isinstance(failed.error, TokenExpiredError) or not isinstance(
                self._auth, OAuthAuth
            ):
                raise
            logger.info("portal access token expired; refreshing")
            await self._auth.refresh(self._http, failed.token)
        try:
            return await make_request(request)
        except AttemptFailed as failed:
            if isinstance(failed.error, TokenExpiredError):
                raise failed.error from None
            raise


class RetryMiddleware:
    """Retries what is safe: rate refusals and failed connects always, waits on a blocked
    method's budget, and other failures only for idempotent calls; a non-idempotent call
    whose answer was lost raises `OutcomeUnknownError`."""

    def __init__(
        self,
        *,
        limiter: PortalLimiter,
        max_retries: int,
        backoff_base: float,
        backoff_cap: float,
        rng: random.Random,
        sleep: Callable[[float], Awaitable[None]],
    ) -> None:
        self._limiter = limiter
        self._max_retries = max_retries
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._rng = rng
        self._sleep = sleep

    def backoff(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(cap, base * 2**attempt)]."""
        ceiling = min(self._backoff_cap, self._backoff_base * (2**attempt))
        return self._rng.uniform(0.0, ceiling)

    async def __call__(self, make_request: NextRequest, request: PortalRequest) -> PortalResponse:
        method = request.method
        attempt = 0
        while True:
            try:
                response = await make_request(request)
            except AttemptFailed as failed:
                error = failed.error
                if isinstance(error, RateLimitError):
                    await self._limiter.report_limit_exceeded()
                retryable = (
                    failed.not_executed
                    or isinstance(error, OperationTimeLimitError)
                    or (request.idempotent and failed.outcome_unknown)
                )
                if not request.idempotent and failed.outcome_unknown:
                    raise OutcomeUnknownError(
                        f"sent, but the outcome is unknown ({error.description})",
                        code=error.code,
                        method=method,
                        status=error.status,
                    ) from error
                if not retryable or attempt >= self._max_retries:
                    raise error from None
                # After a rate refusal the limiter itself paces the retry (it now believes
                # the bucket full); a back-off on top would only leave drained slots unused.
                delay = 0.0 if isinstance(error, RateLimitError) else self.backoff(attempt)
                attempt += 1
                logger.warning(
                    "portal %s failed (%s); retry %d/%d in %.2fs",
                    method,
                    type(error).__name__,
                    attempt,
                    self._max_retries,
                    delay,
                )
                await self._sleep(delay)
                continue
            logger.debug("portal %s ok", method)
            return response
