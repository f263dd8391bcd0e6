"""The sender's pacing arithmetic: overall rate with a small burst, gaps per chat and group."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest
from aiogram import Bot
from aiogram.methods import AnswerCallbackQuery, EditMessageText, SendMessage

from bot.config import NotifySettings
from bot.notify.budget import (
    ROUTINE_RESERVE,
    ROUTINE_SHARE,
    ChatGaps,
    GlobalBudget,
    SendBudget,
    SendBudgetMiddleware,
    TurnLine,
    counts_as_message,
)


def sends_in_first_second(
    budget: GlobalBudget, step: float = 0.001, answer_after: float = 0.02
) -> list[float]:
    """Send whenever allowed for 3 s; every answer comes back `answer_after` later."""
    now = 0.0
    moments: list[float] = []
    waiting: list[tuple[int, float]] = []
    while now < 3.0:
        for send, at in [w for w in waiting if w[1] <= now]:
            budget.done(send, at)
            waiting.remove((send, at))
        if budget.wait_time(now) == 0:
            waiting.append((budget.take(now), now + answer_after))
            moments.append(now)
        now += step
    return moments


def test_burst_then_steady_rate_never_exceeds_the_window() -> None:
    moments = sends_in_first_second(GlobalBudget(rate=28, burst=5))
    assert moments[4] < 0.01  # the burst goes at once
    assert moments[5] >= 1 / 28 - 0.01
    for start in moments:
        in_window = [m for m in moments if start <= m < start + 1.0]
        assert len(in_window) <= 28
    assert len([m for m in moments if 1.0 <= m < 3.0]) >= 54


def test_a_slow_answer_keeps_its_send_in_the_window() -> None:
    budget = GlobalBudget(rate=1, burst=1)
    send = budget.take(0.0)
    # Still in flight: it may reach Telegram at any moment, so it still counts.
    assert budget.wait_time(5.0) > 0
    budget.done(send, 5.0)
    assert budget.wait_time(5.5) > 0
    assert budget.wait_time(6.01) == 0


def test_wait_time_says_when_the_next_send_fits() -> None:
    budget = GlobalBudget(rate=10, burst=1)
    budget.take(0.0)
    assert 0.09 <= budget.wait_time(0.0) <= 0.11
    assert budget.wait_time(0.2) == 0


def test_routine_sends_leave_part_of_the_burst_for_live_ones() -> None:
    budget = GlobalBudget(rate=28, burst=5)
    routine = 0
    while budget.wait_time(0.0, reserve=ROUTINE_RESERVE) == 0:
        budget.take(0.0)
        routine += 1
    assert routine == 5 - ROUTINE_RESERVE
    # A routine send waits until the reserve is back on top of its own token...
    assert budget.wait_time(0.0, reserve=ROUTINE_RESERVE) == pytest.approx(1 / 28)
    # ...while a live one goes at once, as many as the reserve.
    for _ in range(ROUTINE_RESERVE):
        assert budget.wait_time(0.0) == 0
        budget.take(0.0)
    assert budget.wait_time(0.0) > 0


def test_routine_sends_leave_part_of_the_window_for_live_ones() -> None:
    budget = GlobalBudget(rate=4, burst=4)  # a window of 4 sends a second
    sends = [budget.take(at) for at in (0.0, 0.3)]
    for send, answered in zip(sends, (0.1, 0.4), strict=True):
        budget.done(send, answered)
    # Two in the window and tokens to spare: a routine send (reserve 2) must wait until the
    # first answered one leaves, one second after its answer; a live one fits now.
    assert budget.wait_time(0.9, reserve=2) == pytest.approx(0.2)
    assert budget.wait_time(0.9) == 0
    assert budget.wait_time(1.1, reserve=2) == 0


def test_a_reserve_as_large_as_the_burst_still_lets_routine_sends_go() -> None:
    budget = GlobalBudget(rate=1, burst=1)  # no room for a reserve: it is left out
    assert budget.wait_time(0.0, reserve=ROUTINE_RESERVE) == 0
    budget.done(budget.take(0.0), 0.5)
    assert budget.wait_time(1.4, reserve=ROUTINE_RESERVE) == pytest.approx(0.1)
    assert budget.wait_time(1.51, reserve=ROUTINE_RESERVE) == 0


async def test_send_budget_keeps_the_reserve_from_routine_sends_only() -> None:
    now = [100.0]
    budget = SendBudget(NotifySettings(), clock=lambda: now[0])
    routine = [await budget.take(chat, routine=True) for chat in range(1, 5)]
    assert [turn.send is not None for turn in routine] == [True] * 3 + [False]
    assert not routine[-1].chat_waits
    live = [await budget.take(chat) for chat in range(10, 13)]
    assert [turn.send is not None for turn in live] == [True] * ROUTINE_RESERVE + [False]


def test_private_chats_get_one_a_second_and_groups_twenty_a_minute() -> None:
    gaps = ChatGaps(private_interval=1.0, group_per_minute=20, margin=0.0)
    gaps.sent(42, 10.0)
    gaps.sent(-100, 10.0)
    assert gaps.ready_at(42) == 11.0
    assert gaps.ready_at(-100) == 13.0
    assert gaps.ready_at(7) == 0.0


def test_the_margin_stretches_every_gap() -> None:
    gaps = ChatGaps(private_interval=1.0, group_per_minute=20, margin=0.05)
    gaps.sent(42, 10.0)
    gaps.sent(-100, 10.0)
    assert gaps.ready_at(42) == 11.05
    assert gaps.ready_at(-100) == 13.15


def test_waiting_names_the_chats_in_their_gap_and_forgets_the_rest() -> None:
    gaps = ChatGaps(private_interval=1.0, group_per_minute=20, margin=0.0)
    assert gaps.waiting(0.0) == (set(), None)
    gaps.sent(42, 10.0)
    gaps.sent(-100, 10.0)
    assert gaps.waiting(10.5) == ({42, -100}, 11.0)
    assert gaps.waiting(12.0) == ({-100}, 13.0)
    assert gaps.ready_at(42) == 0.0
    assert gaps.waiting(13.0) == (set(), None)


async def test_send_budget_gives_the_burst_then_holds_a_chat_for_its_gap() -> None:
    now = [100.0]
    budget = SendBudget(NotifySettings(), clock=lambda: now[0])
    turns = [await budget.take(chat) for chat in range(1, 7)]
    assert [turn.send is not None for turn in turns] == [True] * 5 + [False]
    assert not turns[-1].chat_waits
    now[0] += 1.0
    held = await budget.take(1)
    assert held.chat_waits
    assert held.wait == pytest.approx(0.05)  # 1 s plus the 5 % margin, 1 s already gone
    assert budget.waiting() == ({1, 2, 3, 4, 5}, pytest.approx(101.05))


def test_only_calls_that_put_a_message_in_a_chat_count() -> None:
    assert counts_as_message("sendMessage")
    assert counts_as_message("editMessageText")
    assert counts_as_message("copyMessage")
    assert not counts_as_message("sendChatAction")
    assert not counts_as_message("answerCallbackQuery")
    assert not counts_as_message("getUpdates")


async def test_answers_to_users_take_their_turn_in_the_overall_budget_but_skip_chat_gaps() -> None:
    now = [100.0]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    budget = SendBudget(NotifySettings(), clock=lambda: now[0])
    middleware = SendBudgetMiddleware(budget, sleep=sleep, clock=lambda: now[0])
    made: list[str] = []

    async def make_request(bot: Any, method: Any) -> Any:
        made.append(method.__api_method__)
        return "ok"

    bot = cast(Bot, object())
    for _ in range(5):  # the burst, all to one chat: no 1 s gap for direct answers
        await middleware(make_request, bot, SendMessage(chat_id=7, text="hi"))
    assert slept == []
    # The burst is spent: the sixth answer waits its turn, as a notification would.
    await middleware(make_request, bot, SendMessage(chat_id=7, text="hi"))
    assert slept
    assert sum(slept) <= 2.0
    # What the answers took, notifications cannot take: the sender waits now.
    assert (await budget.take(8)).send is None
    # Other calls pass untouched.
    await middleware(make_request, bot, AnswerCallbackQuery(callback_query_id="q"))
    assert made[-1] == "answerCallbackQuery"
    assert len(made) == 7


async def test_an_answer_holds_the_next_notification_to_its_chat_for_the_gap() -> None:
    now = [100.0]
    budget = SendBudget(NotifySettings(), clock=lambda: now[0])
    middleware = SendBudgetMiddleware(budget, clock=lambda: now[0])

    async def make_request(bot: Any, method: Any) -> Any:
        return "ok"

    bot = cast(Bot, object())
    await middleware(make_request, bot, SendMessage(chat_id=7, text="Lead created"))
    # The notification the sender had next for this chat waits its gap: no burst of three.
    turn = await budget.take(7)
    assert turn.send is None
    assert turn.chat_waits
    assert turn.wait == pytest.approx(1.05)
    # An edit changes a message already there and starts no gap; other chats are free.
    await middleware(
        make_request, bot, EditMessageText(chat_id=9, message_id=1, text="Stage: Won")
    )
    assert (await budget.take(9)).send is not None
    now[0] += 1.1
    assert (await budget.take(7)).send is not None


class Holder:
    """A send holding the line until `release()`."""

    def __init__(self, line: TurnLine, *, routine: bool) -> None:
        self._inside = asyncio.Event()
        self._release = asyncio.Event()
        self.task = asyncio.create_task(self._hold(line, routine))

    async def _hold(self, line: TurnLine, routine: bool) -> None:
        async with line.turn(routine=routine):
            self._inside.set()
            await self._release.wait()

    async def holding(self) -> None:
        await self._inside.wait()

    def release(self) -> None:
        self._release.set()


async def take(line: TurnLine, name: str, order: list[str]) -> None:
    """Take a turn ("l…" live, "r…" routine) and note it."""
    async with line.turn(routine=name.startswith("r")):
        order.append(name)
        await asyncio.sleep(0)


async def turns_taken(line: TurnLine, arrivals: list[str]) -> list[str]:
    """Everyone in `arrivals` queues while a live send holds the line; the order of turns."""
    order: list[str] = []
    holder = Holder(line, routine=False)
    await holder.holding()
    tasks = [asyncio.create_task(take(line, name, order)) for name in arrivals]
    await asyncio.sleep(0)  # all of them are in line
    holder.release()
    await asyncio.gather(holder.task, *tasks)
    return order


async def test_live_sends_go_before_routine_ones_that_came_first() -> None:
    order = await turns_taken(TurnLine(), ["r1", "r2", "r3", "l1", "l2"])
    assert order == ["l1", "l2", "r1", "r2", "r3"]


async def test_routine_sends_get_a_turn_while_live_ones_keep_coming() -> None:
    live = [f"l{n}" for n in range(1, 11)]
    order = await turns_taken(TurnLine(), ["r1", "r2", *live])
    # One routine turn after every ROUTINE_SHARE live ones: late, never starved.
    assert order[ROUTINE_SHARE] == "r1"
    assert order[2 * ROUTINE_SHARE + 1] == "r2"
    assert [name for name in order if name.startswith("l")] == live


async def test_a_send_cancelled_in_line_does_not_block_the_others() -> None:
    line = TurnLine()
    got: list[str] = []
    holder = Holder(line, routine=True)
    await holder.holding()
    cancelled = asyncio.create_task(take(line, "l-cancelled", got))
    after = asyncio.create_task(take(line, "r-after", got))
    await asyncio.sleep(0)
    cancelled.cancel()
    holder.release()
    await asyncio.gather(holder.task, after)
    assert cancelled.cancelled()
    assert got == ["r-after"]
    async with asyncio.timeout(1):  # free again
        await take(line, "l-last", got)
    assert got == ["r-after", "l-last"]


async def test_a_send_cancelled_while_the_holder_hands_the_line_on_leaves_cleanly() -> None:
    line = TurnLine()
    got: list[str] = []
    holder = Holder(line, routine=False)
    await holder.holding()
    waiting = asyncio.create_task(take(line, "l-cancelled", got))
    await asyncio.sleep(0)  # in line
    # The holder leaves before the cancelled send runs again: the holder's hand-over drops
    # the cancelled one from the line, and the cancelled one must not look for itself there.
    holder.release()
    waiting.cancel()
    await holder.task
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert got == []
    async with asyncio.timeout(1):  # free again
        await take(line, "l-last", got)
    assert got == ["l-last"]
