"""The sender: drains the outbox under Telegram's flood limits and reacts to every error kind.

It sends through its own `Bot` whose session middleware shares the interactive bot's
`FloodPause` but does not retry (`max_attempts=1`): a 429 pauses every call of the token, and
this scheduler, not the middleware, decides when each message goes again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from enum import StrEnum

from aiogram import Bot
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from bot.access.roles import Identity
from bot.config import NotifySettings
from bot.notify.budget import SendBudget, TurnLine
from bot.notify.buttons import is_take
from bot.notify.digest import QuietHours
from bot.notify.match import may_receive
from bot.storage.claims import RowClaims, keep_claimed
from bot.storage.db import DATABASE_ERRORS, Database
from bot.storage.mutes import MuteRepository
from bot.storage.outbox import Keyboard, Notification, OutboxMessage, OutboxRepository
from bot.storage.subscriptions import Scope, Subscription, SubscriptionRepository
from bot.telegram_retry import FloodPause

log = logging.getLogger(__name__)

GONE_CHAT_MARKERS = ("chat not found", "user is deactivated", "bot was kicked", "bot was blocked")
IDENTITY_CACHE_SECONDS = 10.0
IDLE_WAIT_SECONDS = 1.0
GAP_POLL_SECONDS = 0.1
"""The sender looks for rows whose chat's gap has ended at most this often (a row waiting
for its gap goes at most this much later)."""
EDIT_WAIT_SECONDS = 4.0
"""An edit waits this long at most for its chat's gap (a group's is 3.15 s), holding the
chat so that edits and new messages take turns; a longer wait gives up (LATER)."""


class EditResult(StrEnum):
    """How an edit of a sent message ended."""

    DONE = "done"
    """Edited (or it already read so)."""
    LATER = "later"
    """The chat may not get a send now (its gap, a flood pause, a passing failure)."""
    GONE = "gone"
    """The message can no longer be edited (deleted, too old, the chat is gone)."""


def keyboard(rows: Keyboard) -> InlineKeyboardMarkup | None:
    """The inline keyboard of a stored message."""
    if not rows:
        return None
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(text=b.text, callback_data=b.callback_data, url=b.url)
                for b in row
            ]
            for row in rows
        ]
    )


def without_take(rows: Keyboard) -> Keyboard:
    """The stored keyboard without its Take button (rows left empty are dropped)."""
    kept = (tuple(b for b in row if not is_take(b.callback_data)) for row in rows)
    return tuple(row for row in kept if row)


def _responsible_reads(reader: Identity | None, notification: Notification) -> bool:
    return reader is not None and notification.assigned_by_id == reader.portal_user_id


class OutboxSender:
    """Sends pending outbox messages, paced per chat, per group and overall.

    `identify` resolves a subscriber at send time (None: unbound or deactivated), so a
    message is only sent while its reader may still see the lead.
    """

    def __init__(
        self,
        *,
        bot: Bot,
        db: Database,
        outbox: OutboxRepository,
        subscriptions: SubscriptionRepository,
        identify: Callable[[int], Awaitable[Identity | None]],
        pause: FloodPause,
        settings: NotifySettings,
        mutes: MuteRepository | None = None,
        quiet: QuietHours | None = None,
        budget: SendBudget | None = None,
        clock: Callable[[], float] = time.monotonic,
        claims: RowClaims | None = None,
    ) -> None:
        self._bot = bot
        self._db = db
        self._outbox = outbox
        self._subscriptions = subscriptions
        self._identify = identify
        self._pause = pause
        self._settings = settings
        self._mutes = mutes
        self._quiet = quiet
        self._clock = clock
        self._budget = budget or SendBudget(settings, clock=clock)
        self._claims = claims
        """Set when the senders of several replicas share the outbox: each claims its rows."""
        self._line = TurnLine()
        self._wake = asyncio.Event()
        self._in_flight: dict[int, asyncio.Task[None]] = {}
        self._routine: set[int] = set()
        """Rows in flight queued as routine (nudges, digests): at most half the sends in
        flight, so a live notification that comes while hundreds of nudges go out finds a
        slot, and waits in the budget's line behind a few of them at most."""
        self._routine_limit = max(1, self._settings.in_flight // 2)
        self._busy_chats: set[int] = set()
        self._identities: dict[int, tuple[float, Identity | None]] = {}
        self.sent = 0
        self.edits = 0
        self.flood_waits = 0

    def wake(self) -> None:
        """New messages are in the outbox."""
        self._wake.set()

    async def _idle(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(0.0, seconds)):
                await self._wake.wait()
        self._wake.clear()

    async def run(self) -> None:
        """Send until cancelled; in-flight sends are awaited on the way out."""
        claims = self._claims
        keeper = (
            None
            if claims is None
            else asyncio.create_task(
                keep_claimed(claims, self._outbox.renew, self._in_flight.keys, "outbox rows")
            )
        )
        try:
            while True:
                await self._round()
        finally:
            if keeper is not None:
                keeper.cancel()
            tasks = list(self._in_flight.items())
            for _, task in tasks:
                task.cancel()
            for _, task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            if claims is not None:
                # Rows whose send was stopped go to the other replicas now, not when the
                # claim runs out (sent ones have left the queue: releasing them is harmless).
                with contextlib.suppress(*DATABASE_ERRORS):
                    await asyncio.shield(
                        self._outbox.release(claims.holder, [row_id for row_id, _ in tasks])
                    )

    async def _round(self) -> None:
        pause = await self._pause.remaining()
        if pause > 0:
            await asyncio.sleep(pause)
        if len(self._in_flight) >= self._settings.in_flight:
            await asyncio.wait(list(self._in_flight.values()), return_when=asyncio.FIRST_COMPLETED)
            return
        # Chats that may not get a message now are left out of the query, and it returns one
        # row per chat: whatever waits for its gap never fills the window of the others.
        waiting, earliest = self._budget.waiting()
        excluded = waiting | self._busy_chats
        # As many rows as can start now: each is decoded, and with hundreds of chats waiting
        # (the morning's nudges) a larger window was decoded again at every round; a claimed
        # row that waits would also hold its chat from the other replicas.
        free = self._settings.in_flight - len(self._in_flight)
        # Live rows first; routine ones (the morning's nudges) only as many as may start:
        # thousands of them were read, decoded and left at every round.
        routine_room = max(0, self._routine_limit - len(self._routine))
        rows = await self._heads(free, excluded, routine_room)
        started = False
        paused = False
        now = self._clock()
        left: list[int] = []
        for row in rows:
            if len(self._in_flight) >= self._settings.in_flight or paused:
                left.append(row.id)
                continue
            if row.chat_id in self._busy_chats or self._budget.gaps.ready_at(row.chat_id) > now:
                left.append(row.id)
                continue  # an edit took the chat while the query ran
            if row.routine and len(self._routine) >= self._routine_limit:
                left.append(row.id)
                continue  # the other sends in flight are kept for live notifications
            self._busy_chats.add(row.chat_id)
            if row.routine:
                self._routine.add(row.id)
            self._in_flight[row.id] = asyncio.create_task(self._send(row))
            started = True
            paused = await self._pause.remaining() > 0
        if left and self._claims is not None:
            await self._outbox.release(self._claims.holder, left)
        if started and len(rows) >= free:
            return  # more may be due now
        # Until rows are queued, a send ends (`_send` wakes the sender too), or the first chat
        # that waits for its gap may go. Most chats whose gaps run have nothing more queued (a
        # morning sends one nudge to each of thousands): their gaps end dozens of times a
        # second, so a gap wakes the sender at most every GAP_POLL_SECONDS.
        wait = IDLE_WAIT_SECONDS if earliest is None else earliest - self._clock()
        await self._idle(min(IDLE_WAIT_SECONDS, max(GAP_POLL_SECONDS, wait)))

    async def _heads(self, limit: int, excluded: set[int], routine: int) -> list[OutboxMessage]:
        """Up to `limit` chats' heads, at most `routine` of them routine (claimed for this
        replica when there are several)."""
        if self._claims is None:
            return await self._outbox.due(limit, excluded, routine=routine)
        claims = self._claims
        return await self._outbox.claim_due(
            claims.holder, limit, claims.lease, excluded, routine=routine
        )

    async def _take_budget(self, chat_id: int, *, routine: bool = False) -> int:
        # Taken right before the request goes out, so sends reach Telegram as paced; the
        # chat's gap starts here too, not when the send was scheduled.
        while True:
            async with self._line.turn(routine=routine):
                while True:
                    pause = await self._pause.remaining()
                    if pause > 0:
                        await asyncio.sleep(pause)
                        continue
                    turn = await self._budget.take(chat_id, routine=routine)
                    if turn.send is not None:
                        return turn.send
                    if turn.chat_waits or routine:
                        break
                    await asyncio.sleep(turn.wait)
            # Another replica wrote to this chat: only this send waits for its gap. A routine
            # send waits out of the line too: a live one that comes meanwhile takes the send
            # the routine ones leave for it at once, not after the one holding the line.
            await asyncio.sleep(turn.wait)

    async def edit(
        self, chat_id: int, message_id: int, text: str, buttons: Keyboard
    ) -> EditResult:
        """Edit a message the bot sent, in turn with the chat's new messages.

        An edit counts like a message: in the chat's gap (20 a minute in a group) and in the
        global budget, so edits and new messages together stay under Telegram's limits. It
        holds the chat while it waits for the gap (at most `EDIT_WAIT_SECONDS`), so a queue of
        new messages cannot starve it; when the chat is busy or paused, nothing is queued
        (LATER): the caller tries again with what is current then.
        """
        if chat_id in self._busy_chats or await self._pause.remaining() > 0:
            return EditResult.LATER
        wait = self._budget.gaps.ready_at(chat_id) - self._clock()
        if wait > EDIT_WAIT_SECONDS:
            return EditResult.LATER
        self._busy_chats.add(chat_id)
        try:
            if wait > 0:
                await asyncio.sleep(wait)
            send = await self._take_budget(chat_id)
            try:
                await self._bot.edit_message_text(
                    text=text,
                    chat_id=chat_id,
                    message_id=message_id,
                    reply_markup=keyboard(buttons),
                    disable_web_page_preview=True,
                )
            finally:
                await self._budget.done(send)
        except TelegramRetryAfter:
            self.flood_waits += 1
            return EditResult.LATER
        except TelegramBadRequest as exc:
            if "not modified" in exc.message.lower():
                return EditResult.DONE
            log.info("message %d in chat %d not editable: %s", message_id, chat_id, exc.message)
            return EditResult.GONE
        except (TelegramServerError, TelegramNetworkError):
            return EditResult.LATER
        except TelegramAPIError as exc:
            log.info("message %d in chat %d not editable: %s", message_id, chat_id, exc.message)
            return EditResult.GONE
        finally:
            self._busy_chats.discard(chat_id)
            self._wake.set()
        self.edits += 1
        return EditResult.DONE

    async def _identity(self, telegram_user_id: int) -> Identity | None:
        now = self._clock()
        cached = self._identities.get(telegram_user_id)
        if cached is not None and now - cached[0] < IDENTITY_CACHE_SECONDS:
            return cached[1]
        identity = await self._identify(telegram_user_id)
        self._identities[telegram_user_id] = (now, identity)
        return identity

    async def _reader(self, row: OutboxMessage) -> tuple[bool, Identity | None]:
        """Whether the message is still wanted, and who subscribed (None when unknown)."""
        subscriber = row.notification.subscriber
        if subscriber is None:
            return True, None
        identity = await self._identity(subscriber)
        # The row's chat decides the rule for groups (who subscribed it may have lost the role).
        probe = Subscription(
            id=0, chat_id=row.chat_id, thread_id=None, created_by=subscriber, scope=Scope.ALL
        )
        return may_receive(identity, probe, row.notification.assigned_by_id), identity

    async def _send(self, row: OutboxMessage) -> None:
        try:
            await self._deliver(row)
        except Exception:
            log.exception("outbox message %d: unexpected failure", row.id)
            await self._outbox.retry_later(row.id, self._backoff(row.attempts), "internal error")
        finally:
            self._in_flight.pop(row.id, None)
            self._routine.discard(row.id)
            self._busy_chats.discard(row.chat_id)
            self._wake.set()

    def _backoff(self, attempts: int) -> timedelta:
        cap = min(self._settings.backoff_cap_seconds, self._settings.backoff_seconds * 2**attempts)
        return timedelta(seconds=random.uniform(cap / 2, cap))

    async def _deliver(self, row: OutboxMessage) -> None:
        wanted, reader = await self._reader(row)
        if not wanted:
            await self._outbox.skip(row.id, "the reader may not see this lead now")
            return
        if self._mutes is not None and row.notification.subscriber is not None:
            until = await self._mutes.muted_until(row.chat_id, row.thread_id)
            if until is not None:
                await self._outbox.skip(row.id, f"chat muted until {until.isoformat()}")
                return
        if self._quiet is not None and await self._quiet.hold_if_off_work(row):
            return
        notification = row.notification
        buttons = notification.buttons
        if row.chat_id > 0 and _responsible_reads(reader, notification):
            # A Take in the responsible's own private chat would offer him his own lead.
            buttons = without_take(buttons)
        send = await self._take_budget(row.chat_id, routine=row.routine)
        try:
            try:
                sent = await self._bot.send_message(
                    chat_id=row.chat_id,
                    text=notification.text,
                    message_thread_id=row.thread_id,
                    reply_markup=keyboard(buttons),
                    disable_web_page_preview=True,
                )
            finally:
                await self._budget.done(send)
        except TelegramRetryAfter as exc:
            # The session middleware has already paused every call of the token.
            self.flood_waits += 1
            await self._outbox.retry_later(
                row.id, timedelta(seconds=exc.retry_after), "429", count_attempt=False
            )
        except TelegramMigrateToChat as exc:
            await self._migrate(row.chat_id, exc.migrate_to_chat_id)
        except TelegramForbiddenError as exc:
            await self._chat_gone(row.chat_id, exc.message)
        except TelegramBadRequest as exc:
            text = exc.message.lower()
            if any(marker in text for marker in GONE_CHAT_MARKERS):
                await self._chat_gone(row.chat_id, exc.message)
            else:
                log.warning("outbox message %d refused by Telegram: %s", row.id, exc.message)
                await self._outbox.mark_dead(row.id, f"400: {exc.message}")
        except (TelegramServerError, TelegramNetworkError) as exc:
            reason = f"{type(exc).__name__}: {exc.message}"
            if row.attempts + 1 >= self._settings.max_attempts:
                log.warning("outbox message %d gave up after %d tries", row.id, row.attempts + 1)
                await self._outbox.mark_dead(row.id, reason)
            else:
                await self._outbox.retry_later(row.id, self._backoff(row.attempts), reason)
        except TelegramAPIError as exc:
            await self._outbox.mark_dead(row.id, f"{type(exc).__name__}: {exc.message}")
        else:
            self.sent += 1
            await self._outbox.mark_sent(row.id, sent.message_id)

    async def _chat_gone(self, chat_id: int, reason: str) -> None:
        async with self._db.transaction() as conn:
            disabled = await self._subscriptions.disable_chat_in(conn, chat_id, reason)
            dropped = await self._outbox.kill_chat_in(conn, chat_id, f"chat gone: {reason}")
            if self._quiet is not None:
                dropped += await self._quiet.drop_chat_in(conn, chat_id)
        log.warning(
            "chat %d is gone for the bot (%s): %d subscriptions disabled, %d messages dropped",
            chat_id,
            reason,
            disabled,
            dropped,
        )

    async def _migrate(self, old_id: int, new_id: int) -> None:
        async with self._db.transaction() as conn:
            moved_subs = await self._subscriptions.move_chat_in(conn, old_id, new_id)
            moved = await self._outbox.move_chat_in(conn, old_id, new_id)
            if self._quiet is not None:
                await self._quiet.move_chat_in(conn, old_id, new_id)
        log.info(
            "group %d became supergroup %d: %d subscriptions and %d messages follow",
            old_id,
            new_id,
            moved_subs,
            moved,
        )
