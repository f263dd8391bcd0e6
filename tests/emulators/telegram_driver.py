"""The user side of the Telegram emulator: what a person does in a Telegram client."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

from tests.emulators.telegram_html import utf16_length
from tests.emulators.telegram_models import CallbackAnswer, ChatMessage, InlineAnswer

if TYPE_CHECKING:
    from tests.emulators.telegram import TelegramEmulator

OWN_ACCOUNT: Literal["self"] = "self"


class ChatDriver:
    """One user acting in one chat: a private chat, a group, or a forum topic."""

    def __init__(
        self,
        emulator: TelegramEmulator,
        user: dict[str, Any],
        chat_id: int,
        *,
        thread_id: int | None = None,
        phone: str | None = None,
    ) -> None:
        self.emulator = emulator
        self.user = user
        self.chat_id = chat_id
        self.thread_id = thread_id
        self.phone = phone

    @property
    def id(self) -> int:
        """The user's Telegram id."""
        return int(self.user["id"])

    async def _post(self, content: dict[str, Any]) -> ChatMessage:
        message = self.emulator.post_user_message(
            self.chat_id, self.user, content, message_thread_id=self.thread_id
        )
        await asyncio.sleep(0)  # let the bot's long poll see the update
        return message

    async def send(self, text: str, *, reply_to: int | None = None) -> ChatMessage:
        """Send a text message; a leading /command gets its bot_command entity."""
        content: dict[str, Any] = {"text": text}
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            content["entities"] = [
                {"type": "bot_command", "offset": 0, "length": utf16_length(command)}
            ]
        if reply_to is not None:
            original = self.emulator.message(self.chat_id, reply_to)
            content["reply_to_message"] = original.snapshot().raw
        return await self._post(content)

    async def edit(self, message_id: int, text: str) -> ChatMessage:
        """Edit one of this user's earlier text messages (an edited_message update)."""
        message = self.emulator.post_user_edit(self.chat_id, self.user, message_id, text)
        await asyncio.sleep(0)
        return message

    async def send_text(self, text: str, *, reply_to: int | None = None) -> ChatMessage:
        """Send plain text (same as send; reads better for non-commands)."""
        return await self.send(text, reply_to=reply_to)

    async def send_command(
        self, command: str, *args: str, mention_bot: bool = False
    ) -> ChatMessage:
        """Send /command [args...]; mention_bot appends @bot_username as group clients do."""
        name = command.removeprefix("/")
        if mention_bot:
            name += "@" + str(self.emulator.bot_user["username"])
        return await self.send(" ".join([f"/{name}", *args]))

    async def send_sticker(self, emoji: str = "👍") -> ChatMessage:
        """Send a regular (static) sticker, as Telegram describes one."""
        unique = f"AgADsticker{ord(emoji[0]):x}"
        return await self._post(
            {
                "sticker": {
                    "file_id": f"CAACAgIAAx{unique}",
                    "file_unique_id": unique,
                    "type": "regular",
                    "width": 512,
                    "height": 512,
                    "is_animated": False,
                    "is_video": False,
                    "emoji": emoji,
                }
            }
        )

    async def share_contact(
        self,
        phone: str,
        *,
        first_name: str | None = None,
        last_name: str | None = None,
        user_id: int | Literal["self"] | None = OWN_ACCOUNT,
    ) -> ChatMessage:
        """Share a contact card; user_id "self" is the sender's own account, None a non-user."""
        contact: dict[str, Any] = {
            "phone_number": phone,
            "first_name": first_name or self.user.get("first_name", ""),
        }
        last = last_name if first_name is not None else self.user.get("last_name")
        if last:
            contact["last_name"] = last
        if user_id == OWN_ACCOUNT:
            contact["user_id"] = self.id
        elif user_id is not None:
            contact["user_id"] = user_id
        return await self._post({"contact": contact})

    async def forward(
        self,
        text: str,
        *,
        from_user: ChatDriver | dict[str, Any] | None = None,
        sender_name: str | None = None,
        from_chat: dict[str, Any] | int | None = None,
        from_message_id: int = 1,
        date: int | None = None,
    ) -> ChatMessage:
        """Forward a text message from a user, a hidden user (sender_name), a chat or channel."""
        origin_date = date if date is not None else int(time.time()) - 60
        origin: dict[str, Any]
        if from_user is not None:
            sender = from_user.user if isinstance(from_user, ChatDriver) else from_user
            origin = {"type": "user", "date": origin_date, "sender_user": dict(sender)}
        elif sender_name is not None:
            origin = {"type": "hidden_user", "date": origin_date, "sender_user_name": sender_name}
        elif from_chat is not None:
            chat = self.emulator.chat_info(from_chat) if isinstance(from_chat, int) else from_chat
            if chat.get("type") == "channel":
                origin = {
                    "type": "channel",
                    "date": origin_date,
                    "chat": dict(chat),
                    "message_id": from_message_id,
                }
            else:
                origin = {"type": "chat", "date": origin_date, "sender_chat": dict(chat)}
        else:
            raise ValueError("forward needs from_user, sender_name or from_chat")
        return await self._post({"text": text, "forward_origin": origin})

    def _message_with_button(self, label: str, message_id: int | None) -> ChatMessage:
        candidates = self.emulator.bot_messages(self.chat_id)
        if message_id is not None:
            candidates = [m for m in candidates if m.message_id == message_id]
            if not candidates:
                raise LookupError(f"no current bot message {message_id} in chat {self.chat_id}")
        for message in reversed(candidates):
            if label in message.labels:
                return message
        available = {m.message_id: m.labels for m in candidates if m.labels}
        raise LookupError(
            f"no inline button {label!r} in chat {self.chat_id}; "
            f"buttons by message id: {available or 'none'}"
        )

    async def press(self, label: str, *, message_id: int | None = None) -> str:
        """Press the inline button with this label in the latest message having it.

        Returns the callback query id (see emulator.wait_for_callback_answer).
        """
        message = self._message_with_button(label, message_id)
        button = message.button(label)
        if button.callback_data is None:
            raise LookupError(
                f"button {label!r} in message {message.message_id} has no callback_data "
                f"(it is {sorted(button.raw)})"
            )
        query_id = self.emulator.post_callback_query(self.user, message, button.callback_data)
        await asyncio.sleep(0)
        return query_id

    async def press_and_wait(
        self,
        label: str,
        *,
        message_id: int | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> CallbackAnswer:
        """Press a button and wait for the bot's answerCallbackQuery; returns that answer."""
        query_id = await self.press(label, message_id=message_id)
        return await self.emulator.wait_for_callback_answer(query_id, timeout)

    async def press_data(self, message_id: int, data: str) -> str:
        """Send a forged callback query with arbitrary data for an existing message."""
        message = self.emulator.message(self.chat_id, message_id)
        query_id = self.emulator.post_callback_query(self.user, message, data)
        await asyncio.sleep(0)
        return query_id

    async def reply_keyboard_press(self, label: str) -> ChatMessage:
        """Tap a reply keyboard button: request_contact shares the user's own phone."""
        keyboard = self.emulator.reply_keyboard(self.chat_id)
        buttons = [
            {"text": button} if isinstance(button, str) else button
            for row in (keyboard or {}).get("keyboard", [])
            for button in row
        ]
        button = next((b for b in buttons if b.get("text") == label), None)
        if keyboard is None or button is None:
            labels = [b.get("text") for b in buttons]
            raise LookupError(
                f"no reply keyboard button {label!r} in chat {self.chat_id}: {labels}"
            )
        if keyboard.get("one_time_keyboard"):
            self.emulator.hide_reply_keyboard(self.chat_id)
        if button.get("request_contact"):
            phone = self.phone or self.emulator.user_phone(self.id)
            if phone is None:
                raise ValueError("give the user a phone: emu.user(..., phone='+7...')")
            return await self.share_contact(phone, user_id=OWN_ACCOUNT)
        return await self.send(label)

    async def inline_query(
        self,
        query: str,
        *,
        offset: str = "",
        chat_type: str = "sender",
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> InlineAnswer:
        """Type @bot <query>; returns the bot's answerInlineQuery (results in .results)."""
        query_id = self.emulator.post_inline_query(
            self.user, query, offset=offset, chat_type=chat_type
        )
        return await self.emulator.wait_for_inline_answer(query_id, timeout)

    async def wait_for_message(
        self,
        predicate: Callable[[ChatMessage], bool] | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> ChatMessage:
        """The bot's next message (or edit) in this chat since this user's last action."""
        return await self.emulator.wait_for_message(self.chat_id, predicate, timeout)

    def last_message(self) -> ChatMessage:
        """The bot's latest current message in this chat."""
        return self.emulator.last_message(self.chat_id)

    def transcript(self) -> list[ChatMessage]:
        """This chat's messages as they stand now."""
        return self.emulator.transcript(self.chat_id)

    async def remove_bot(self) -> None:
        """Remove the bot from this group: later calls get 403 kicked; my_chat_member "left"."""
        self.emulator.kick(self.chat_id)
        self.emulator.post_bot_membership(self.chat_id, self.user, "member", "left")
        await asyncio.sleep(0)

    async def add_bot(self) -> None:
        """Add the bot back to this group (my_chat_member "member"); earlier faults are cleared."""
        self.emulator.clear_faults(self.chat_id)
        self.emulator.post_bot_membership(self.chat_id, self.user, "left", "member")
        await asyncio.sleep(0)

    def in_group(
        self,
        chat_id: int,
        title: str = "Test group",
        *,
        thread_id: int | None = None,
        forum: bool = False,
    ) -> ChatDriver:
        """The same user acting in a group (created if unknown) or one of its forum topics."""
        if not self.emulator.known_chat(chat_id):
            self.emulator.add_group(chat_id, title, forum=forum, members=[self.id])
        return ChatDriver(self.emulator, self.user, chat_id, thread_id=thread_id, phone=self.phone)


class TelegramUser(ChatDriver):
    """A user in their private chat with the bot; in_group() gives the same user in a group."""

    def __init__(
        self, emulator: TelegramEmulator, user: dict[str, Any], *, phone: str | None = None
    ) -> None:
        super().__init__(emulator, user, int(user["id"]), phone=phone)

    async def block_bot(self) -> None:
        """Block the bot: later calls get 403 blocked; my_chat_member "kicked" is queued."""
        self.emulator.block(self.chat_id)
        self.emulator.post_bot_membership(self.chat_id, self.user, "member", "kicked")
        await asyncio.sleep(0)

    async def unblock_bot(self) -> None:
        """Unblock the bot (my_chat_member "member"); the block fault is cleared."""
        self.emulator.clear_faults(self.chat_id)
        self.emulator.post_bot_membership(self.chat_id, self.user, "kicked", "member")
        await asyncio.sleep(0)
