"""A Telegram Bot API emulator: a real aiohttp server on 127.0.0.1 for a real aiogram Bot.

Point a bot at it with
``Bot(token, session=AiohttpSession(api=TelegramAPIServer.from_base(emu.base_url)))``
(or ``emu.make_bot()``). The emulator keeps per-chat transcripts, answers with Telegram's real
error bodies, enforces flood limits when asked, injects faults, and drives users (see
``telegram_driver``). The Bot API methods themselves live in ``telegram_methods``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import ssl
import time
from collections.abc import Callable, Iterable
from typing import Any

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiohttp import web

from tests.emulators.telegram_driver import TelegramUser
from tests.emulators.telegram_methods import (
    DEFAULT_TEST_TOKEN,
    SERVER_ERRORS,
    BotApiMethods,
    ChatState,
    WebhookDelivery,
    chat_type_for_id,
    decode_param,
)
from tests.emulators.telegram_models import (
    ApiCall,
    BotApiError,
    CallbackAnswer,
    ChatMessage,
    Fault,
    FloodLimiter,
    FloodLimits,
    InlineAnswer,
    MessageEvent,
    UploadedFile,
    too_many_requests,
)

__all__ = [
    "DEFAULT_TEST_TOKEN",
    "ApiCall",
    "BotApiError",
    "CallbackAnswer",
    "ChatMessage",
    "FloodLimits",
    "InlineAnswer",
    "LoopbackAiohttpSession",
    "TelegramEmulator",
    "TelegramUser",
    "UploadedFile",
    "WebhookDelivery",
]


class LoopbackAiohttpSession(AiohttpSession):
    """aiogram's AiohttpSession minus its 250 ms close pause, which only TLS shutdown needs."""

    async def close(self) -> None:
        """Close the client session; plain loopback TCP closes at once."""
        if self._session is not None and not self._session.closed:
            await self._session.close()
            await asyncio.sleep(0)


class TelegramEmulator(BotApiMethods):
    """The Bot API on loopback, with a transcript of every chat and a user-side driver."""

    _scheme = "http"

    async def start(self, tls: ssl.SSLContext | None = None) -> None:
        """Listen on 127.0.0.1 on a free port (over TLS with the server context `tls`)."""
        self._scheme = "http" if tls is None else "https"
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        # No access log: request paths carry the bot token.
        self._runner = web.AppRunner(
            app, access_log=None, handler_cancellation=True, shutdown_timeout=1.0
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=tls)
        await site.start()
        server = site._server
        assert isinstance(server, asyncio.base_events.Server)
        self._port = int(server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        """Answer pending long polls, stop webhook delivery and close the server."""
        self._closing = True
        self._notify()
        await self._stop_webhook_task()
        if self._http is not None:
            await self._http.close()
            self._http = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> TelegramEmulator:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def make_bot(self, token: str | None = None, **bot_kwargs: Any) -> Bot:
        """A real aiogram Bot pointed at this emulator; the caller closes bot.session."""
        session = LoopbackAiohttpSession(api=TelegramAPIServer.from_base(self.base_url))
        return Bot(token or self.token, session=session, **bot_kwargs)

    @property
    def base_url(self) -> str:
        """http://127.0.0.1:<port> (https with TLS), for TelegramAPIServer.from_base."""
        if self._port is None:
            raise RuntimeError("the emulator is not started")
        return f"{self._scheme}://127.0.0.1:{self._port}"

    async def _handle_api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        try:
            params, files = await self._read_params(request)
        except BotApiError as error:
            params, files = {}, {}
            return self._answer(ApiCall(method, params, self.clock()), error)
        return await self._execute(request.match_info["token"], method, params, files)

    async def _read_params(
        self, request: web.Request
    ) -> tuple[dict[str, Any], dict[str, UploadedFile]]:
        raw: dict[str, Any] = dict(request.query)
        files: dict[str, UploadedFile] = {}
        if request.content_type == "application/json":
            body = await request.json()
            if isinstance(body, dict):
                raw.update(body)
        elif request.body_exists:
            form = await request.post()
            for name, value in form.items():
                if isinstance(value, web.FileField):
                    files[name] = UploadedFile(
                        file_id="",
                        file_unique_id="",
                        kind="",
                        file_name=value.filename,
                        content=value.file.read(),
                        mime_type=value.content_type,
                    )
                elif isinstance(value, str):
                    raw[name] = value
        return {name: decode_param(name, value) for name, value in raw.items()}, files

    async def _handle_file(self, request: web.Request) -> web.Response:
        if request.match_info["token"] not in self._valid_tokens:
            return web.json_response(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
            )
        path = request.match_info["path"]
        for stored in self.files.values():
            if self._file_path(stored) == path:
                return web.Response(body=stored.content)
        return web.json_response(
            {"ok": False, "error_code": 404, "description": "Not Found"}, status=404
        )

    def inject(
        self,
        error_code: int,
        description: str,
        *,
        parameters: dict[str, Any] | None = None,
        times: int | None = 1,
        method: str | None = None,
        chat_id: int | None = None,
    ) -> None:
        """Answer the next `times` matching calls (None: all until cleared) with this error."""
        self._faults.append(
            Fault(
                BotApiError(error_code, description, parameters),
                method=method.lower() if method else None,
                chat_id=chat_id,
                remaining=times,
            )
        )

    def block(self, chat_id: int, *, times: int | None = None) -> None:
        """The user blocked the bot: 403 "Forbidden: bot was blocked by the user"."""
        self.inject(403, "Forbidden: bot was blocked by the user", times=times, chat_id=chat_id)

    def kick(self, chat_id: int, *, times: int | None = None) -> None:
        """The bot was removed from a group: 403 "Forbidden: bot was kicked from the ... chat"."""
        kind = "supergroup" if chat_type_for_id(chat_id) == "supergroup" else "group"
        self.inject(
            403, f"Forbidden: bot was kicked from the {kind} chat", times=times, chat_id=chat_id
        )

    def deactivate(self, chat_id: int, *, times: int | None = None) -> None:
        """The user deleted their account: 403 "Forbidden: user is deactivated"."""
        self.inject(403, "Forbidden: user is deactivated", times=times, chat_id=chat_id)

    def lose_chat(self, chat_id: int, *, times: int | None = None) -> None:
        """400 "Bad Request: chat not found" for calls to this chat."""
        self.inject(400, "Bad Request: chat not found", times=times, chat_id=chat_id)

    def fail_next(self, times: int = 1, *, status: int = 500, method: str | None = None) -> None:
        """The next `times` calls (optionally of one method) get a 5xx answer."""
        description = SERVER_ERRORS.get(status, "Internal Server Error")
        self.inject(status, description, times=times, method=method)

    def rate_limit_next(
        self,
        times: int = 1,
        *,
        retry_after: int = 1,
        method: str | None = None,
        chat_id: int | None = None,
    ) -> None:
        """The next `times` matching calls get 429 "Too Many Requests: retry after N"."""
        error = too_many_requests(retry_after)
        self.inject(
            429,
            error.description,
            parameters=error.parameters,
            times=times,
            method=method,
            chat_id=chat_id,
        )

    def flood_get_updates(self, times: int, *, retry_after: int = 1) -> None:
        """A storm of 429 answers to getUpdates."""
        self.rate_limit_next(times, retry_after=retry_after, method="getUpdates")

    def clear_faults(self, chat_id: int | None = None) -> None:
        """Drop injected faults (only those of one chat when chat_id is given)."""
        self._faults = [f for f in self._faults if chat_id is not None and f.chat_id != chat_id]

    def revoke_token(self) -> None:
        """Every later call answers 401 Unauthorized, as after /revoke in BotFather."""
        self._valid_tokens.clear()

    def enable_flood_limits(self, limits: FloodLimits | None = None) -> None:
        """Answer 429 when a send exceeds Telegram's per-chat, per-group or global ceiling."""
        self._limiter = FloodLimiter(limits or FloodLimits(), self.clock)

    def disable_flood_limits(self) -> None:
        """Stop counting sends (the default)."""
        self._limiter = None

    def migrate_group(self, chat_id: int, new_chat_id: int | None = None) -> int:
        """Turn a group into a supergroup; calls to the old id get 400 + migrate_to_chat_id."""
        old = self._chat(chat_id, create=True)
        new_id = new_chat_id if new_chat_id is not None else int(f"-100{abs(chat_id)}")
        info = {**old.info, "id": new_id, "type": "supergroup"}
        self._chats[new_id] = ChatState(
            info=info,
            admins=set(old.admins),
            creator=old.creator,
            members=set(old.members),
            bot_is_admin=old.bot_is_admin,
        )
        old.migrated_to = new_id
        return new_id

    def user(
        self,
        id: int,
        first_name: str = "Test",
        *,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "en",
        phone: str | None = None,
        is_premium: bool = False,
    ) -> TelegramUser:
        """A Telegram user who talks to the bot in a private chat (created on first use)."""
        user: dict[str, Any] = {"id": id, "is_bot": False, "first_name": first_name}
        if last_name:
            user["last_name"] = last_name
        if username:
            user["username"] = username
        if language_code:
            user["language_code"] = language_code
        if is_premium:
            user["is_premium"] = True
        self._users[id] = user
        if phone:
            self._user_phones[id] = phone
        chat_info: dict[str, Any] = {
            key: user[key] for key in ("first_name", "last_name", "username") if key in user
        }
        chat = self._chats.get(id)
        if chat is None:
            self._chats[id] = ChatState(info={"id": id, "type": "private", **chat_info})
        else:
            chat.info.update(chat_info)
        return TelegramUser(self, user, phone=phone)

    def add_group(
        self,
        chat_id: int,
        title: str = "Test group",
        *,
        admins: Iterable[int] = (),
        creator: int | None = None,
        members: Iterable[int] = (),
        forum: bool = False,
        bot_is_admin: bool = False,
    ) -> None:
        """Register a group (ids starting with -100 are supergroups) and its admins."""
        chat = self._chat(chat_id, create=True)
        chat.info["title"] = title
        if forum:
            chat.info["type"] = "supergroup"
            chat.info["is_forum"] = True
        chat.admins.update(admins)
        chat.members.update(members)
        chat.members.update(chat.admins)
        if creator is not None:
            chat.creator = creator
            chat.members.add(creator)
        chat.bot_is_admin = bot_is_admin or chat.bot_is_admin

    def set_admins(
        self, chat_id: int, admins: Iterable[int], *, creator: int | None = None
    ) -> None:
        """Replace the group's administrators (the creator is listed separately)."""
        chat = self._chat(chat_id, create=True)
        chat.admins = set(admins)
        chat.members.update(chat.admins)
        if creator is not None:
            chat.creator = creator
            chat.members.add(creator)

    def chat_info(self, chat_id: int) -> dict[str, Any]:
        """The Bot API Chat object of a known chat."""
        return self._chat(chat_id).info

    def known_chat(self, chat_id: int) -> bool:
        """True once the chat exists (a user wrote, add_group, or the bot sent to it)."""
        return chat_id in self._chats

    def reply_keyboard(self, chat_id: int) -> dict[str, Any] | None:
        """The reply keyboard a user in this chat currently sees, if any."""
        chat = self._chats.get(chat_id)
        return chat.reply_keyboard if chat is not None else None

    def hide_reply_keyboard(self, chat_id: int) -> None:
        """The client hid a one-time keyboard after a tap."""
        chat = self._chats.get(chat_id)
        if chat is not None:
            chat.reply_keyboard = None

    def enqueue_update(self, kind: str, payload: dict[str, Any]) -> int:
        """Queue an update for getUpdates or the webhook; returns its update_id."""
        update_id = self._next_update_id
        self._next_update_id += 1
        update = {"update_id": update_id, kind: payload}
        self.updates.append(update)
        self._pending.append(update)
        self._notify()
        return update_id

    def post_user_message(
        self,
        chat_id: int,
        user: dict[str, Any],
        content: dict[str, Any],
        *,
        message_thread_id: int | None = None,
    ) -> ChatMessage:
        """Store a message a user sent and queue it as a "message" update."""
        chat = self._chat(chat_id, create=True)
        if chat.is_group:
            chat.members.add(user["id"])
        raw: dict[str, Any] = {
            "message_id": chat.next_message_id,
            "from": dict(user),
            "chat": dict(chat.info),
            "date": int(time.time()),
            **content,
        }
        if message_thread_id is not None:
            raw["message_thread_id"] = message_thread_id
            if chat.info.get("is_forum"):
                raw["is_topic_message"] = True
        chat.next_message_id += 1
        message = ChatMessage(
            chat_id=chat.chat_id,
            message_id=raw["message_id"],
            from_bot=False,
            sender_id=user["id"],
            date=raw["date"],
            raw=raw,
            text=content.get("text", content.get("caption")),
            message_thread_id=message_thread_id,
        )
        chat.messages[message.message_id] = message
        self.mark_read(chat.chat_id)
        self.enqueue_update("message", raw)
        return message

    def post_callback_query(self, user: dict[str, Any], message: ChatMessage, data: str) -> str:
        """Queue a callback_query for a button press on message; returns the query id."""
        query_id = f"{self.bot_id}{next(self._ids):08d}"
        chat_instance = hashlib.sha256(f"{message.chat_id}:{user['id']}".encode()).hexdigest()
        self._open_callbacks.add(query_id)
        self.mark_read(message.chat_id)
        self.enqueue_update(
            "callback_query",
            {
                "id": query_id,
                "from": dict(user),
                "message": message.snapshot().raw,
                "chat_instance": str(int(chat_instance[:15], 16)),
                "data": data,
            },
        )
        return query_id

    def post_user_edit(
        self, chat_id: int, user: dict[str, Any], message_id: int, text: str
    ) -> ChatMessage:
        """A user edited their own text message: store it and queue an edited_message update."""
        message = self._chat(chat_id).messages.get(message_id)
        if message is None or message.from_bot or message.sender_id != user["id"]:
            raise LookupError(f"user {user['id']} has no message {message_id} in chat {chat_id}")
        message.text = text
        message.edit_date = int(time.time())
        message.raw.update({"text": text, "edit_date": message.edit_date})
        message.raw.pop("entities", None)
        self.mark_read(chat_id)
        self.enqueue_update("edited_message", message.snapshot().raw)
        return message

    def post_bot_membership(
        self, chat_id: int, user: dict[str, Any], old_status: str, new_status: str
    ) -> int:
        """Queue a my_chat_member update: the bot was blocked, unblocked, added or removed."""
        chat = self._chat(chat_id, create=True)

        def member(status: str) -> dict[str, Any]:
            entry: dict[str, Any] = {"status": status, "user": dict(self.bot_user)}
            if status == "kicked":
                entry["until_date"] = 0
            return entry

        self.mark_read(chat_id)
        return self.enqueue_update(
            "my_chat_member",
            {
                "chat": dict(chat.info),
                "from": dict(user),
                "date": int(time.time()),
                "old_chat_member": member(old_status),
                "new_chat_member": member(new_status),
            },
        )

    def post_inline_query(
        self, user: dict[str, Any], query: str, *, offset: str = "", chat_type: str | None = None
    ) -> str:
        """Queue an inline_query; returns its id."""
        query_id = f"{self.bot_id}{next(self._ids):08d}"
        self._open_inline_queries.add(query_id)
        payload: dict[str, Any] = {
            "id": query_id,
            "from": dict(user),
            "query": query,
            "offset": offset,
        }
        if chat_type:
            payload["chat_type"] = chat_type
        self._calls_mark = len(self.calls)
        self.enqueue_update("inline_query", payload)
        return query_id

    def mark_read(self, chat_id: int) -> None:
        """Forget bot messages so far: the next wait_for_message waits for newer ones."""
        self._read_cursor[chat_id] = self._event_seq
        self._calls_mark = len(self.calls)

    def user_phone(self, user_id: int) -> str | None:
        """The phone given to emu.user(..., phone=...)."""
        return self._user_phones.get(user_id)

    def transcript(self, chat_id: int, *, include_user: bool = True) -> list[ChatMessage]:
        """Messages of a chat as they stand now (edits applied, deleted ones left out)."""
        chat = self._chats.get(chat_id)
        if chat is None:
            return []
        return [
            message
            for _, message in sorted(chat.messages.items())
            if not message.deleted and (include_user or message.from_bot)
        ]

    def bot_messages(self, chat_id: int) -> list[ChatMessage]:
        """The bot's current messages in a chat, oldest first."""
        return self.transcript(chat_id, include_user=False)

    def last_message(self, chat_id: int) -> ChatMessage:
        """The bot's latest current message in a chat; LookupError if there is none."""
        messages = self.bot_messages(chat_id)
        if not messages:
            raise LookupError(f"the bot has no messages in chat {chat_id}")
        return messages[-1]

    def message(self, chat_id: int, message_id: int) -> ChatMessage:
        """A message by id (deleted ones included, flagged)."""
        return self._chat(chat_id).messages[message_id]

    def events(self, chat_id: int | None = None) -> list[MessageEvent]:
        """Every send/edit/delete of the bot, optionally in one chat."""
        return [e for e in self._events if chat_id is None or e.message.chat_id == chat_id]

    def count(self, method: str, *, ok: bool | None = None) -> int:
        """How many calls of a method (case-insensitive) were made; ok filters by outcome."""
        wanted = method.lower()
        return sum(
            1
            for call in self.calls
            if call.method.lower() == wanted and (ok is None or call.ok is ok)
        )

    def calls_of(self, method: str) -> list[ApiCall]:
        """Calls of one method, oldest first."""
        wanted = method.lower()
        return [call for call in self.calls if call.method.lower() == wanted]

    def callback_answer(self, callback_query_id: str) -> CallbackAnswer | None:
        """The bot's answer to a callback query, if it answered."""
        for answer in self.answered_callbacks:
            if answer.callback_query_id == callback_query_id:
                return answer
        return None

    async def wait_for_message(
        self,
        chat_id: int,
        predicate: Callable[[ChatMessage], bool] | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109
        *,
        edits: bool = True,
    ) -> ChatMessage:
        """Wait for a bot message sent (or edited) in chat since the user's last action.

        Each returned event is consumed, so consecutive waits return consecutive messages.
        Returns a snapshot of the message at that moment; TimeoutError lists what arrived.
        """
        kinds = ("sent", "edited") if edits else ("sent",)

        def find() -> MessageEvent | None:
            cursor = self._read_cursor.get(chat_id, 0)
            for event in self._events:
                if (
                    event.seq > cursor
                    and event.kind in kinds
                    and event.message.chat_id == chat_id
                    and (predicate is None or predicate(event.message))
                ):
                    return event
            return None

        event = await self._wait_until(find, timeout)
        if event is None:
            seen = [
                (e.kind, e.message.text)
                for e in self._events
                if e.message.chat_id == chat_id and e.seq > self._read_cursor.get(chat_id, 0)
            ]
            raise TimeoutError(
                f"no matching bot message in chat {chat_id} within {timeout}s; "
                f"arrived since the last user action: {seen}"
            )
        self._read_cursor[chat_id] = event.seq
        return event.message

    async def wait_for_call(
        self,
        method: str,
        predicate: Callable[[ApiCall], bool] | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109
        *,
        after: int | None = None,
    ) -> ApiCall:
        """Wait for a call of method among calls[after:] (default: since the last user action)."""
        wanted = method.lower()
        start = self._calls_mark if after is None else after

        def find() -> ApiCall | None:
            for call in self.calls[start:]:
                if call.method.lower() == wanted and (predicate is None or predicate(call)):
                    return call
            return None

        call = await self._wait_until(find, timeout)
        if call is None:
            raise TimeoutError(f"no {method} call within {timeout}s")
        return call

    async def wait_for_callback_answer(
        self,
        callback_query_id: str,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> CallbackAnswer:
        """Wait until the bot answers this callback query."""
        answer = await self._wait_until(lambda: self.callback_answer(callback_query_id), timeout)
        if answer is None:
            raise TimeoutError(f"callback query {callback_query_id} not answered in {timeout}s")
        return answer

    async def wait_for_inline_answer(
        self,
        inline_query_id: str,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> InlineAnswer:
        """Wait until the bot answers this inline query."""

        def find() -> InlineAnswer | None:
            for answer in self.inline_answers:
                if answer.inline_query_id == inline_query_id:
                    return answer
            return None

        answer = await self._wait_until(find, timeout)
        if answer is None:
            raise TimeoutError(f"inline query {inline_query_id} not answered in {timeout}s")
        return answer

    async def wait_until_delivered(
        self,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> None:
        """Wait until no update is pending (confirmed by getUpdates offset or the webhook)."""
        done = await self._wait_until(lambda: True if not self._pending else None, timeout)
        if done is None:
            raise TimeoutError(f"{len(self._pending)} updates still pending after {timeout}s")

    async def wait_for_poll(
        self,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> None:
        """Wait until a getUpdates long poll is waiting on the server."""
        done = await self._wait_until(lambda: True if self._polls_waiting else None, timeout)
        if done is None:
            raise TimeoutError(f"no getUpdates poll is waiting after {timeout}s")

    @property
    def pending_updates(self) -> list[dict[str, Any]]:
        """Updates not yet confirmed."""
        return list(self._pending)

    def commands_for(
        self, scope: dict[str, Any] | None = None, language_code: str = ""
    ) -> list[dict[str, Any]]:
        """The commands set for a scope (default scope when None) and language."""
        key = json.dumps(scope or {"type": "default"}, sort_keys=True), language_code
        return self.commands.get(key, [])
