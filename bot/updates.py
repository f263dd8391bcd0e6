"""Telegram updates in: stored before they are acknowledged, handled once, counted in flight.

Webhook and long polling both go through `UpdateIntake`: an update is stored durably before
Telegram is told it arrived (the webhook's 200, the poller's next offset), handled once by its
update_id, and replayed after a crash between storing and handling. `ReplyJournal` records
each reply a handler sends, so that the replay of its update does not send it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import AsyncIterator, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, cast

from aiogram import Bot, Dispatcher
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.dispatcher.event.bases import UNHANDLED
from aiogram.methods import GetUpdates, Response, TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import Update
from aiogram.utils.backoff import Backoff, BackoffConfig
from pydantic import BaseModel, ValidationError

from bot.storage.db import DATABASE_ERRORS
from bot.storage.updates import SentReply, StoredUpdate, UpdateOutcome, UpdateRepository
from bot.write_journal import handling_update

log = logging.getLogger(__name__)

REPLAY_SECONDS = 2.0
"""How often a replica looks for updates whose claim ran out, and renews its own claims."""
POLL_TIMEOUT_SECONDS = 10
MARK_ATTEMPTS = 5
"""Tries to record a handled update's outcome (a second apart by default) before leaving it
to be replayed."""


class InFlightUpdates:
    """Counts updates being handled, so shutdown can let them finish."""

    def __init__(self) -> None:
        self._count = 0
        self._idle = asyncio.Event()
        self._idle.set()

    @contextlib.asynccontextmanager
    async def track(self) -> AsyncIterator[None]:
        """Count one update for as long as the block runs."""
        self._count += 1
        self._idle.clear()
        try:
            yield
        finally:
            self._count -= 1
            if self._count == 0:
                self._idle.set()

    async def wait_idle(self) -> None:
        """Wait until no update is being handled."""
        await self._idle.wait()


@dataclass(slots=True)
class UpdateReplies:
    """The replies of the update being handled: what an earlier run of its handler sent (on a
    replay), and how many this run has sent so far."""

    update_id: int
    sent_before: dict[int, SentReply] = field(default_factory=dict)
    sent: int = 0
    open: bool = True
    """False once the update is finished: a task its handler left running records nothing."""

    def next_seq(self) -> int:
        """The place of the reply about to be sent among the update's replies."""
        self.sent += 1
        return self.sent


_REPLIES: ContextVar[UpdateReplies | None] = ContextVar("telegram_update_replies", default=None)

_NOT_REPLIES = frozenset({"sendChatAction"})
"""Calls that change nothing the user keeps: repeated on a replay like the reads (`get...`)."""


def is_reply(method: TelegramMethod[Any]) -> bool:
    """Whether the call is something the user sees and keeps: a message, an edit, an answer."""
    name = method.__api_method__
    return not name.startswith("get") and name not in _NOT_REPLIES


@contextlib.contextmanager
def replying_to(replies: UpdateReplies) -> Iterator[None]:
    """Journal the replies sent inside the block (and the tasks it starts) as this update's."""
    token = _REPLIES.set(replies)
    try:
        yield
    finally:
        _REPLIES.reset(token)
        replies.open = False


class ReplayDiverged(BaseException):
    """The replay of an update took another path than its first run, which had finished.

    A replay whose reply differs from what the first run sent at the same place was started
    from a later state: the first run had saved the dialog's new state, so it had finished
    its handler and sent its replies. Nothing more may be sent. Like `CancelledError`, it is
    not an `Exception`: no handler's `except Exception` (nor aiogram's error handlers) turns
    it into one more message; `UpdateIntake.handle` ends the update with it.
    """


class ReplyJournal(BaseRequestMiddleware):
    """A session middleware: each reply sent while an update is handled is recorded with
    Telegram's answer, by its place among the update's replies.

    When the update is replayed (its process died before the update was marked handled):
    - a reply recorded at the same place, by the same method with the same text, is not sent
      again; its recorded answer is returned, so the handler (and the dialog, which keeps the
      message's id) goes on as it did the first time;
    - a reply that differs from the one recorded at its place raises `ReplayDiverged`;
    - a reply past the recorded ones is sent: the first run died before sending it.

    Only the text is compared, not the buttons: a dialog the replay starts again gets a new
    intent id, so its buttons' data differ from the first run's.

    The record is written after Telegram answers: a process killed between the two sends
    that reply again on the replay.
    """

    def __init__(self, updates: UpdateRepository) -> None:
        self._updates = updates

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        """Send the reply, or answer it from the record of an earlier run of the handler."""
        replies = _REPLIES.get()
        if replies is None or not replies.open or not is_reply(method):
            return await make_request(bot, method)
        seq = replies.next_seq()
        request = request_digest(method)
        before = replies.sent_before.get(seq)
        if before is not None:
            if (before.method, before.request) != (method.__api_method__, request):
                raise ReplayDiverged(
                    f"reply {seq} of replayed update {replies.update_id} is not what the "
                    f"first run sent ({method.__api_method__}, {before.method} before)"
                )
            log.info(
                "reply %d of replayed update %d was sent before: not sent again",
                seq,
                replies.update_id,
            )
            answer_type = Response[method.__returning__]  # type: ignore[name-defined]
            answer = answer_type.model_validate(
                {"ok": True, "result": before.result}, context={"bot": bot}
            )
            # The chain hands on the result itself (the session's `make_request` unwraps it).
            return cast(Response[TelegramType], answer.result)
        result = await make_request(bot, method)
        if replies.open:
            reply = SentReply(seq, method.__api_method__, request, _as_json(result))
            try:
                await self._updates.record_reply(replies.update_id, reply)
            except DATABASE_ERRORS as exc:
                log.warning(
                    "reply %d of update %d was sent but not recorded (%s)",
                    seq,
                    replies.update_id,
                    type(exc).__name__,
                )
        return result


def request_digest(method: TelegramMethod[Any]) -> str:
    """A digest of a reply's text (or caption): the same screen rendered again has the same."""
    text = getattr(method, "text", None) or getattr(method, "caption", None) or ""
    return hashlib.blake2b(str(text).encode(), digest_size=8).hexdigest()


def _as_json(result: object) -> Any:
    if isinstance(result, BaseModel):
        return result.model_dump(mode="json", by_alias=True, exclude_none=True)
    if isinstance(result, list):
        return [_as_json(item) for item in result]
    return result


class TrackedDispatcher(Dispatcher):
    """A dispatcher that counts every update from its arrival to the end of its error handlers.

    A middleware cannot do this: aiogram's error handlers run outside every update middleware.
    """

    def __init__(self, *, in_flight: InFlightUpdates, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.in_flight = in_flight

    async def feed_update(self, bot: Bot, update: Update, **kwargs: Any) -> Any:
        """Handle one update (polling and webhook both come here), counted, its portal writes
        keyed by its update_id."""
        async with self.in_flight.track():
            with handling_update(update.update_id):
                return await super().feed_update(bot, update, **kwargs)


def update_payload(update: Update) -> dict[str, Any]:
    """The update as Telegram's JSON, which `Update.model_validate` reads back unchanged."""
    payload: dict[str, Any] = update.model_dump(mode="json", by_alias=True, exclude_none=True)
    return payload


class UpdateIntake:
    """Every Telegram update is stored before Telegram is told it arrived, and handled once.

    `accept` stores a batch durably (each update claimed by this replica) and hands the new
    ones to the dispatcher in background; an update already stored (a re-delivery) is not
    handled again. Handling records its outcome. `run` replays stored updates whose claim ran
    out unhandled: their replica died, or this process stopped, between storing and handling.
    While it handles an update, it renews its claim (a handler may wait on the portal longer
    than a claim lasts), so a short claim only runs out when its replica is gone.
    """

    def __init__(
        self,
        *,
        dispatcher: Dispatcher,
        bot: Bot,
        updates: UpdateRepository,
        claim_for: timedelta,
        replay_seconds: float = REPLAY_SECONDS,
        in_flight: InFlightUpdates | None = None,
    ) -> None:
        self._dispatcher = dispatcher
        # Shutdown waits for these: an update counts until its outcome is recorded, so a
        # graceful stop does not leave a handled update to be replayed.
        self._in_flight = in_flight or InFlightUpdates()
        self._bot = bot
        self._updates = updates
        self._claim_for = claim_for
        self._replay_seconds = replay_seconds
        self._tasks: set[asyncio.Task[None]] = set()
        self._handling: set[int] = set()
        self._caught_up = asyncio.Event()
        self._caught_up.set()

    def hold_new_updates(self) -> None:
        """Until `run` has replayed what was waiting, new updates are stored (and acknowledged)
        but not handled: after a restart, the update a crash cut short is handled before the
        user's newer ones (a press made on the answer it had already sent). A replay that
        waits long on the portal holds them for one claim's time at most."""
        self._caught_up.clear()
        asyncio.get_running_loop().call_later(self._claim_for.total_seconds(), self._caught_up.set)

    async def accept(self, updates: Sequence[Update]) -> None:
        """Store the updates, then handle the new ones in background.

        Raises one of `DATABASE_ERRORS` when they could not be stored: the caller must then not
        acknowledge them, so that Telegram delivers them again.
        """
        new = await self._updates.store(
            [StoredUpdate(update.update_id, update_payload(update)) for update in updates],
            claim_for=self._claim_for,
        )
        for update in updates:
            if update.update_id in new:
                new.discard(update.update_id)  # an id repeated within the batch runs once
                self._spawn(update)

    def _spawn(self, update: Update) -> None:
        task = asyncio.create_task(self._handle_in_turn(update))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _handle_in_turn(self, update: Update) -> None:
        await self._caught_up.wait()
        await self.handle(update)

    async def handle(self, update: Update, *, replay: bool = False) -> None:
        """Feed one stored update to the dispatcher and record how that ended. On a replay,
        the replies its handler sent before are not sent again (`ReplyJournal`)."""
        async with self._in_flight.track():
            await self._handle(update, replay=replay)

    async def _handle(self, update: Update, *, replay: bool) -> None:
        outcome = UpdateOutcome.FAILED
        self._handling.add(update.update_id)
        replies = UpdateReplies(update.update_id)
        if replay:
            replies.sent_before = await self._sent_before(update.update_id)
        try:
            with replying_to(replies):
                result = await self._dispatcher.feed_update(
                    self._bot, update, dispatcher=self._dispatcher, bots=[self._bot]
                )
                if isinstance(result, TelegramMethod):
                    await self._dispatcher.silent_call_request(bot=self._bot, result=result)
            outcome = UpdateOutcome.UNHANDLED if result is UNHANDLED else UpdateOutcome.HANDLED
        except ReplayDiverged as diverged:
            log.info("%s: its first run had finished, nothing more is sent", diverged)
            outcome = UpdateOutcome.HANDLED
        except Exception as exc:  # the error handlers had their turn; keep the task observed
            log.error("update %d failed: %s", update.update_id, type(exc).__name__)
        try:
            await self._mark(update.update_id, outcome)
        finally:
            self._handling.discard(update.update_id)

    async def _mark(self, update_id: int, outcome: UpdateOutcome) -> None:
        """Record the outcome, trying again while the database refuses (the claim is renewed
        meanwhile): a replay is for a process that died, and one after the handler finished
        would act on the state that handler left."""
        for attempt in range(1, MARK_ATTEMPTS + 1):
            try:
                await self._updates.finish(update_id, outcome)
                return
            except DATABASE_ERRORS as exc:
                if attempt == MARK_ATTEMPTS:
                    # Handled but not marked: it is handled again once its claim runs out.
                    log.warning(
                        "update %d was handled but not marked (%s)",
                        update_id,
                        type(exc).__name__,
                    )
                    return
                await asyncio.sleep(self._replay_seconds / 2)

    async def _sent_before(self, update_id: int) -> dict[int, SentReply]:
        try:
            replies = await self._updates.replies(update_id)
        except DATABASE_ERRORS as exc:
            log.warning(
                "could not read the replies of update %d (%s): they may be sent again",
                update_id,
                type(exc).__name__,
            )
            return {}
        return {reply.seq: reply for reply in replies}

    async def renew_claims(self) -> int:
        """Renew the claims on the updates being handled now; returns how many."""
        return await self._updates.renew(sorted(self._handling), self._claim_for)

    async def replay_waiting(self) -> int:
        """Handle the stored updates whose claim ran out, in order; returns how many."""
        replayed = 0
        while batch := await self._updates.claim_waiting(self._claim_for):
            for stored in batch:
                if stored.update_id in self._handling:
                    continue  # still running here: its claim lapsed while the loop was busy
                try:
                    update = Update.model_validate(stored.payload, context={"bot": self._bot})
                except ValidationError:
                    log.warning("stored update %d is not an update", stored.update_id)
                    await self._updates.finish(stored.update_id, UpdateOutcome.FAILED)
                    continue
                log.info("replaying update %d", stored.update_id)
                await self.handle(update, replay=True)
                replayed += 1
        return replayed

    async def run(self) -> None:
        """Every `replay_seconds` until cancelled: renew this replica's claims, then replay
        the waiting updates (a replay runs its handler here, so it is a task of its own and
        the claims of what runs keep being renewed meanwhile)."""
        replaying: asyncio.Task[int] | None = None
        while True:
            try:
                await self.renew_claims()
                if replaying is None or replaying.done():
                    replaying = asyncio.create_task(self.replay_waiting())
                    replaying.add_done_callback(_log_replay_failure)
                    replaying.add_done_callback(lambda _: self._caught_up.set())
            except DATABASE_ERRORS as exc:
                log.warning("could not renew the claims on updates: %s", type(exc).__name__)
            try:
                await asyncio.sleep(self._replay_seconds)
            except asyncio.CancelledError:
                if replaying is not None:
                    replaying.cancel()
                    with contextlib.suppress(asyncio.CancelledError, *DATABASE_ERRORS):
                        await replaying
                raise

    async def close(self) -> None:
        """Cancel updates still being handled (shutdown gave them their grace time already);
        they stay stored unhandled and are replayed after the restart."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)


def _log_replay_failure(task: asyncio.Task[int]) -> None:
    if task.cancelled():
        return
    exc = task.exception()
    if exc is not None:
        log.warning("could not read waiting updates: %s", type(exc).__name__)


class UpdatePoller:
    """Long polling that confirms an offset only after its batch is stored.

    Telegram keeps an update until a later `getUpdates` passes an offset above its id, so a
    batch that could not be stored is asked for again, not lost.
    """

    def __init__(
        self,
        *,
        bot: Bot,
        intake: UpdateIntake,
        allowed_updates: list[str],
        backoff: BackoffConfig,
        timeout_seconds: int = POLL_TIMEOUT_SECONDS,
    ) -> None:
        self._bot = bot
        self._intake = intake
        self._allowed_updates = allowed_updates
        self._backoff = backoff
        self._timeout = timeout_seconds

    async def run(self) -> None:
        """Poll until cancelled."""
        backoff = Backoff(config=self._backoff)
        offset: int | None = None
        request_timeout = int((self._bot.session.timeout or 0) + self._timeout)
        while True:
            method = GetUpdates(
                offset=offset, timeout=self._timeout, allowed_updates=self._allowed_updates
            )
            try:
                updates = await self._bot(method, request_timeout=request_timeout)
            except Exception as exc:  # any failure of the network or the Bot API: ask again
                log.warning("getUpdates failed (%s): trying again", type(exc).__name__)
                await backoff.asleep()
                continue
            if not updates:
                backoff.reset()
                continue
            try:
                await self._intake.accept(updates)
            except DATABASE_ERRORS as exc:
                log.warning(
                    "could not store %d updates (%s): asking for them again",
                    len(updates),
                    type(exc).__name__,
                )
                await backoff.asleep()
                continue
            backoff.reset()
            offset = max(update.update_id for update in updates) + 1
