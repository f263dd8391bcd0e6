"""Per-user throttling of updates: a token bucket per Telegram user, stricter for sign-in tries.

The bucket maths (`TokenBucket`, `UserThrottle`) is pure and takes the time as an argument.
`ThrottleMiddleware` applies it to updates: the general limit before anything reads storage
or the portal, the sign-in limit after the caller is resolved (only unbound callers sign in;
a bound user's shared contact is a client for lead capture, not a sign-in try).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject, Update, User

from bot.i18n import Translations, language_of

log = logging.getLogger(__name__)

INVITE_START_PREFIX = "/start inv_"
RATE_LIMITED_KEY = "error-rate-limited"


@dataclass(frozen=True, slots=True)
class BucketRule:
    """`rate` events per `per_seconds` on average, with up to `burst` at once."""

    rate: float
    per_seconds: float
    burst: int

    def __post_init__(self) -> None:
        if self.rate <= 0 or self.per_seconds <= 0 or self.burst < 1:
            raise ValueError("a bucket needs a positive rate, period and burst")

    @property
    def refill_per_second(self) -> float:
        """Tokens that come back each second."""
        return self.rate / self.per_seconds


class TokenBucket:
    """Starts full; each event takes one token; tokens come back at the rule's rate."""

    __slots__ = ("_rule", "tokens", "updated_at")

    def __init__(self, rule: BucketRule, now: float) -> None:
        self._rule = rule
        self.tokens = float(rule.burst)
        self.updated_at = now

    def _refill(self, now: float) -> None:
        elapsed = max(0.0, now - self.updated_at)
        self.tokens = min(
            float(self._rule.burst), self.tokens + elapsed * self._rule.refill_per_second
        )
        self.updated_at = max(self.updated_at, now)

    def take(self, now: float) -> bool:
        """Take a token if one is there; False means the event is over the limit."""
        self._refill(now)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False

    def is_full(self, now: float) -> bool:
        """Whether the bucket has refilled completely (its user may be forgotten)."""
        self._refill(now)
        return self.tokens >= self._rule.burst


class Verdict(StrEnum):
    """What to do with one update."""

    PASS = "pass"  # noqa: S105 - a verdict, not a secret
    WARN = "warn"  # over the limit for the first time in a row: answer once
    DROP = "drop"  # still over the limit: ignore silently


class UpdateKind(StrEnum):
    """Which bucket an update draws from."""

    GENERAL = "general"
    SIGN_IN = "sign_in"


@dataclass(slots=True)
class _Limited:
    bucket: TokenBucket
    warned: bool = False


class UserThrottle:
    """A bucket per Telegram user and kind of update. The first refused update of a run gets
    WARN, the rest DROP until one passes again.

    This one counts in the process; `bot.replicas.RedisUserThrottle` counts each user's
    updates over every replica, behind the same `judge`.
    """

    def __init__(self, general: BucketRule, sign_in: BucketRule, *, max_users: int = 10_000):
        self._rules = {UpdateKind.GENERAL: general, UpdateKind.SIGN_IN: sign_in}
        self._max_users = max_users
        self._users: dict[tuple[int, UpdateKind], _Limited] = {}

    def __len__(self) -> int:
        return len(self._users)

    def check(self, user_id: int, kind: UpdateKind, now: float) -> Verdict:
        """The verdict for one update of `user_id` of this kind at time `now`."""
        state = self._users.get((user_id, kind))
        if state is None:
            if len(self._users) >= self._max_users:
                self._forget_idle(now)
            state = self._users[(user_id, kind)] = _Limited(TokenBucket(self._rules[kind], now))
        if state.bucket.take(now):
            state.warned = False
            return Verdict.PASS
        if state.warned:
            return Verdict.DROP
        state.warned = True
        return Verdict.WARN

    async def judge(self, user_id: int, kind: UpdateKind, now: float) -> Verdict:
        """The verdict for one update of `user_id` of this kind arriving at `now`."""
        return self.check(user_id, kind, now)

    def _forget_idle(self, now: float) -> None:
        # A user whose bucket is full again is indistinguishable from a new one.
        idle = [key for key, state in self._users.items() if state.bucket.is_full(now)]
        for key in idle:
            del self._users[key]


def classify(update: Update) -> UpdateKind:
    """Sign-in attempts (a shared contact, `/start inv_...`) draw from the stricter bucket."""
    message = update.message
    if message is None:
        return UpdateKind.GENERAL
    if message.contact is not None:
        return UpdateKind.SIGN_IN
    if (message.text or "").startswith(INVITE_START_PREFIX):
        return UpdateKind.SIGN_IN
    return UpdateKind.GENERAL


class ThrottleMiddleware(BaseMiddleware):
    """Outer update middleware: passes, answers "slow down" once, or drops updates silently.

    With `kind=GENERAL` every update counts (register it before identity resolution); with
    `kind=SIGN_IN` only sign-in tries of unbound callers count (register it after, so that
    `identity` is known). `on_limited(kind, verdict)` is told of every refused update.
    """

    def __init__(
        self,
        throttle: UserThrottle,
        translations: Translations,
        *,
        kind: UpdateKind = UpdateKind.GENERAL,
        clock: Callable[[], float] = time.monotonic,
        on_limited: Callable[[UpdateKind, Verdict], None] | None = None,
    ) -> None:
        self._throttle = throttle
        self._translations = translations
        self._kind = kind
        self._clock = clock
        self._on_limited = on_limited

    def _counts(self, update: Update, data: dict[str, Any]) -> bool:
        if self._kind is UpdateKind.GENERAL:
            return True
        return data.get("identity") is None and classify(update) is UpdateKind.SIGN_IN

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        """Let the update through unless its sender is over the limit."""
        user: User | None = data.get("event_from_user")
        if user is None or user.is_bot or not isinstance(event, Update):
            return await handler(event, data)
        if not self._counts(event, data):
            return await handler(event, data)
        verdict = await self._throttle.judge(user.id, self._kind, self._clock())
        if verdict is Verdict.PASS:
            return await handler(event, data)
        if self._on_limited is not None:
            self._on_limited(self._kind, verdict)
        if verdict is Verdict.WARN:
            log.info("telegram user %d is over the %s limit", user.id, self._kind.value)
            await self._warn(event, user)
        return None

    async def _warn(self, update: Update, user: User) -> None:
        text = self._translations.for_language(language_of(user.language_code)).get(
            RATE_LIMITED_KEY
        )
        if update.callback_query is not None:
            await update.callback_query.answer(text[:200], show_alert=False)
        elif update.message is not None and update.message.chat.type == "private":
            await update.message.answer(text, parse_mode=None)
        elif update.inline_query is not None:
            await update.inline_query.answer([], cache_time=1, is_personal=True)
