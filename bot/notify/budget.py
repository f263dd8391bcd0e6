"""Telegram's send budget: overall rate with a small burst, per-chat gaps (pure arithmetic),
`SendBudget`, the two together as the sender asks for them, and the request middleware that
makes the bot's direct answers take their turn in it too."""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.methods import TelegramMethod
from aiogram.methods.base import Response, TelegramType

from bot.config import NotifySettings

if TYPE_CHECKING:
    from aiogram import Bot


class GlobalBudget:
    """At most `rate` sends in any one second, and at most `burst` at once after a quiet spell.

    A plain token bucket admits burst + rate in its first second (over Telegram's ceiling
    when the burst is large), so a one-second window caps it as well. A send counts in the
    window from its start until one second after its answer: it reached Telegram somewhere
    in between, so no transit delay can bunch more than `rate` sends into Telegram's second.
    """

    IN_FLIGHT_POLL = 0.005

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        self._tokens = float(burst)
        self._at: float | None = None
        self._window: dict[int, float | None] = {}  # send -> when answered (None: in flight)
        self._window_size = max(1, int(rate))
        self._next_id = 0

    def wait_time(self, now: float, reserve: int = 0) -> float:
        """Seconds until one more send fits (0 when it fits now) with `reserve` sends' worth
        of the budget still left over after it (for sends that must not wait)."""
        reserve = max(0, min(reserve, self.burst - 1, self._window_size - 1))
        tokens = self._refilled(now)
        waits = [0.0]
        if tokens < 1.0 + reserve:
            waits.append((1.0 + reserve - tokens) / self.rate)
        self._window = {
            send: done for send, done in self._window.items() if done is None or done > now - 1.0
        }
        room = self._window_size - reserve
        if len(self._window) >= room:
            # The sends that must leave the window first: the earliest answered ones (a send in
            # flight leaves it only one second after its answer).
            order = sorted(math.inf if done is None else done for done in self._window.values())
            leaving = order[len(self._window) - room]
            waits.append(self.IN_FLIGHT_POLL if leaving == math.inf else leaving + 1.0 - now)
        return max(waits)

    def take(self, now: float) -> int:
        """Count one send starting now (call only when `wait_time` is 0); returns its id."""
        self._tokens = self._refilled(now) - 1.0
        self._at = now
        self._next_id += 1
        self._window[self._next_id] = None
        return self._next_id

    def done(self, send: int, now: float) -> None:
        """The send's answer came back (or it failed) at `now`."""
        if send in self._window:
            self._window[send] = now

    def _refilled(self, now: float) -> float:
        if self._at is None:
            return self._tokens
        return min(float(self.burst), self._tokens + (now - self._at) * self.rate)


class ChatGaps:
    """The earliest moment each chat may get its next message: 1/s private, 20/min a group.

    Each gap is stretched by `margin` (a fraction): a gap is measured on our clock when a
    send goes out, Telegram counts on arrival, and transit times differ from send to send.
    """

    def __init__(self, private_interval: float, group_per_minute: int, margin: float) -> None:
        self.private_interval = private_interval * (1.0 + margin)
        self.group_interval = 60.0 / group_per_minute * (1.0 + margin)
        self._next: dict[int, float] = {}

    def ready_at(self, chat_id: int) -> float:
        """When the chat may get a message (0 when never sent to)."""
        return self._next.get(chat_id, 0.0)

    def gap(self, chat_id: int) -> float:
        """Seconds from one send to the chat until the next may go."""
        return self.group_interval if chat_id < 0 else self.private_interval

    def sent(self, chat_id: int, now: float) -> None:
        """Note a send to a chat going out now."""
        self._next[chat_id] = now + self.gap(chat_id)

    def hold(self, chat_id: int, until: float) -> None:
        """The chat may get no message before `until` (a send this process did not make)."""
        self._next[chat_id] = max(self._next.get(chat_id, 0.0), until)

    def waiting(self, now: float) -> tuple[set[int], float | None]:
        """Chats that must wait, and when the first of them may go (None: none waits).

        Chats whose gap is over are forgotten here, which keeps the map small.
        """
        self._next = {chat: at for chat, at in self._next.items() if at > now}
        return set(self._next), min(self._next.values(), default=None)


GAP_MARGIN = 0.05
"""Per-chat and per-group gaps are this much longer than Telegram's, for transit jitter."""


@dataclass(frozen=True, slots=True)
class SendTurn:
    """The answer to one ask for a send: `send` (its id) when it may go now, else a wait.

    `chat_waits` says the wait is the chat's own gap, so other chats may go meanwhile; `at`
    is when the send was counted, on the budget's clock.
    """

    send: int | None
    wait: float = 0.0
    chat_waits: bool = False
    at: float = 0.0


ROUTINE_SHARE = 4
"""While live messages wait for the send budget, routine ones (nudges, digests) get one turn
in `ROUTINE_SHARE + 1`: never starved, never ahead of a notification for long."""


ROUTINE_RESERVE = 2
"""Sends' worth of the overall budget (of its burst and of its one-second window) that routine
sends leave unused, so that a live notification finds a send free when it comes. Routine sends
take the rest. Without it, while a morning's nudges went out, a notification waited for the
nudge holding the budget's line and then for a send of its own: about 100 ms at the median
and 300 ms at the 95th percentile in `bench.soak` with 10,000 subscriptions. In a simulation
of the budget alone the nudges went 20.8 a second with it, 21.9 without."""


class TurnLine:
    """The sender's line for the send budget: one send takes its turn at a time, live ones
    before routine ones (which get every `ROUTINE_SHARE + 1`-th turn while live ones wait).

    A plain lock serves in arrival order, so a notification that came while a morning's
    nudges were in flight waited behind all of them.
    """

    def __init__(self) -> None:
        self._held = False
        self._live: deque[asyncio.Future[None]] = deque()
        self._routine: deque[asyncio.Future[None]] = deque()
        self._live_streak = 0

    @contextlib.asynccontextmanager
    async def turn(self, *, routine: bool) -> AsyncIterator[None]:
        """Hold the line for one go at the budget."""
        await self._enter(routine)
        try:
            yield
        finally:
            self._leave()

    async def _enter(self, routine: bool) -> None:
        if not self._held and not self._live and not self._routine:
            self._held = True
            return
        line = self._routine if routine else self._live
        waiter = asyncio.get_running_loop().create_future()
        line.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self._leave()  # the turn came with the cancellation: pass it on
            elif waiter in line:
                # (A holder leaving meanwhile has already dropped it from the line.)
                line.remove(waiter)
            raise

    def _leave(self) -> None:
        while (waiter := self._next()) is not None:
            if not waiter.done():
                waiter.set_result(None)
                return  # held by the next one
        self._held = False

    def _next(self) -> asyncio.Future[None] | None:
        if self._live and (not self._routine or self._live_streak < ROUTINE_SHARE):
            self._live_streak = self._live_streak + 1 if self._routine else 0
            return self._live.popleft()
        self._live_streak = 0
        return self._routine.popleft() if self._routine else None


class SendBudget:
    """Telegram's send budget of one bot token: overall (`GlobalBudget`) and per chat
    (`ChatGaps`), kept in this process.

    `bot.replicas.RedisSendBudget` shares the same budget between replicas through Redis,
    behind the same methods. `waiting` is what this process knows of the chats' gaps, for
    leaving those chats out of the next batch.
    """

    def __init__(
        self,
        limits: NotifySettings,
        *,
        margin: float = GAP_MARGIN,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clock = clock
        self.limits = limits
        self.gaps = ChatGaps(limits.private_interval_seconds, limits.group_per_minute, margin)
        self._global = GlobalBudget(limits.global_per_second, limits.global_burst)

    async def take(
        self,
        chat_id: int,
        *,
        chat_gap: bool = True,
        mark_chat: bool = False,
        routine: bool = False,
    ) -> SendTurn:
        """Count one send to `chat_id` starting now, or say how long to wait for one.

        Without `chat_gap` only the overall budget counts (the bot's direct answers to the
        person who just wrote: Telegram's per-chat limit allows a short burst to one chat);
        `mark_chat` still starts the chat's gap, so no notification follows right behind.
        A `routine` send leaves `ROUTINE_RESERVE` sends' worth of the budget unused.
        """
        now = self._clock()
        chat_wait = self.gaps.ready_at(chat_id) - now if chat_gap else 0.0
        if chat_wait > 0:
            return SendTurn(None, chat_wait, chat_waits=True)
        wait = self._global.wait_time(now, ROUTINE_RESERVE if routine else 0)
        if wait > 0:
            return SendTurn(None, wait)
        if chat_gap or mark_chat:
            self.gaps.sent(chat_id, now)
        return SendTurn(self._global.take(now), at=now)

    async def done(self, send: int) -> None:
        """The send's answer came back (or it failed)."""
        self._global.done(send, self._clock())

    def waiting(self) -> tuple[set[int], float | None]:
        """Chats that must wait, and when the first of them may go (None: none waits)."""
        return self.gaps.waiting(self._clock())


_COUNTED_PREFIXES = ("send", "edit", "copy", "forward")
_NOT_COUNTED = frozenset({"sendChatAction"})
INTERACTIVE_WAIT_CAP = 2.0
"""An answer to a user waits at most this long for the overall budget, then goes anyway."""


def counts_as_message(api_method: str) -> bool:
    """Whether a Bot API method puts a message in a chat (Telegram's flood limits count it)."""
    return api_method.startswith(_COUNTED_PREFIXES) and api_method not in _NOT_COUNTED


class SendBudgetMiddleware(BaseRequestMiddleware):
    """The bot's direct answers take their turn in the overall send budget too.

    Without it, notifications use the whole overall budget and answers to users come on
    top, past Telegram's 30 a second. An answer counts only against the overall budget (not
    its chat's gap: the person is waiting for it), and waits at most INTERACTIVE_WAIT_CAP.
    A new message in a chat (not an edit) starts that chat's gap, so the sender's next
    notification there waits its second instead of making a burst Telegram refuses.
    """

    def __init__(
        self,
        budget: SendBudget,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._budget = budget
        self._sleep = sleep
        self._clock = clock

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        """Take a turn for a message-sending call, make it, and hand the turn back."""
        if not counts_as_message(method.__api_method__):
            return await make_request(bot, method)
        chat = getattr(method, "chat_id", None)
        marks = isinstance(chat, int) and not method.__api_method__.startswith("edit")
        deadline = self._clock() + INTERACTIVE_WAIT_CAP
        send: int | None = None
        while send is None:
            turn = await self._budget.take(
                chat if marks and isinstance(chat, int) else 0, chat_gap=False, mark_chat=marks
            )
            send = turn.send
            left = deadline - self._clock()
            if send is None:
                if left <= 0:
                    break
                await self._sleep(min(turn.wait, left))
        try:
            return await make_request(bot, method)
        finally:
            if send is not None:
                await self._budget.done(send)
