"""People and chats for admins: which chats hear about leads, and the notifications given up on.

Every method re-checks that the caller may manage bindings before it reads or changes anything.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from bot.access.roles import Action, Identity
from bot.access.service import AccessDenied
from bot.storage import BindingRepository
from bot.storage.outbox import DeadLetter, OutboxRepository
from bot.storage.subscriptions import ChatSubscriptions, SubscriptionRepository

log = logging.getLogger(__name__)

DEAD_LETTERS_PAGE = 5


@dataclass(frozen=True, slots=True)
class ChatEntry:
    """A chat with subscriptions and, for a private chat, whose it is."""

    chats: ChatSubscriptions
    owner_name: str | None = None


@dataclass(frozen=True, slots=True)
class DeadLetterPage:
    """One page of dead letters, newest first."""

    letters: tuple[DeadLetter, ...]
    page: int
    pages: int
    total: int


def page_count(total: int, page_size: int) -> int:
    """How many pages `total` rows fill (at least one, so an empty list has a page)."""
    return max(1, -(-total // page_size))


def clamp_page(page: int, total: int, page_size: int) -> int:
    """A page number that exists for `total` rows (0-based)."""
    return min(max(0, page), page_count(total, page_size) - 1)


class PeopleService:
    """Chats with subscriptions and dead-lettered notifications, for admins only.

    `on_requeued` is called after messages go back into the outbox (it wakes the sender).
    """

    def __init__(
        self,
        *,
        subscriptions: SubscriptionRepository,
        outbox: OutboxRepository,
        bindings: BindingRepository,
        on_requeued: Callable[[], None] = lambda: None,
        page_size: int = DEAD_LETTERS_PAGE,
    ) -> None:
        self._subscriptions = subscriptions
        self._outbox = outbox
        self._bindings = bindings
        self._on_requeued = on_requeued
        self.page_size = page_size

    @staticmethod
    def authorize(identity: Identity | None) -> Identity:
        """The caller, if they may manage people and chats; AccessDenied otherwise."""
        if identity is None or not identity.may(Action.MANAGE_BINDINGS):
            raise AccessDenied(Action.MANAGE_BINDINGS.value)
        return identity

    async def chats(self, identity: Identity | None) -> list[ChatEntry]:
        """Every chat with subscriptions; a private chat names its owner when known."""
        self.authorize(identity)
        entries = []
        for chats in await self._subscriptions.chats():
            owner = None
            if not chats.is_group:
                binding = await self._bindings.get(chats.chat_id)
                owner = binding.display_name if binding is not None else None
            entries.append(ChatEntry(chats, owner))
        return entries

    async def chat(
        self, identity: Identity | None, chat_id: int, thread_id: int | None
    ) -> ChatEntry | None:
        """One chat (forum topic) with subscriptions, re-read; None when it has none now."""
        entries = await self.chats(identity)
        return next(
            (e for e in entries if e.chats.chat_id == chat_id and e.chats.thread_id == thread_id),
            None,
        )

    async def remove_disabled(self, identity: Identity | None, chat_id: int) -> int:
        """Delete the disabled subscriptions of a chat the bot can no longer write to."""
        admin = self.authorize(identity)
        removed = await self._subscriptions.remove_disabled(chat_id)
        log.info(
            "admin %d removed %d disabled subscriptions of chat %d",
            admin.telegram_user_id,
            removed,
            chat_id,
        )
        return removed

    async def dead_letters(self, identity: Identity | None, page: int) -> DeadLetterPage:
        """One page of the notifications given up on, newest first."""
        self.authorize(identity)
        total = await self._outbox.count("dead")
        page = clamp_page(page, total, self.page_size)
        letters = await self._outbox.dead_letters(self.page_size, page * self.page_size)
        return DeadLetterPage(tuple(letters), page, page_count(total, self.page_size), total)

    async def resend(self, identity: Identity | None, message_id: int) -> bool:
        """Put one dead letter back into the outbox; False when it is no longer dead."""
        admin = self.authorize(identity)
        done = await self._outbox.resend_dead(message_id) == 1
        if done:
            log.info("admin %d resends outbox message %d", admin.telegram_user_id, message_id)
            self._on_requeued()
        return done

    async def resend_all(self, identity: Identity | None) -> int:
        """Put every dead letter back into the outbox; returns how many."""
        admin = self.authorize(identity)
        count = await self._outbox.resend_dead()
        if count:
            log.info("admin %d resends %d dead outbox messages", admin.telegram_user_id, count)
            self._on_requeued()
        return count
