"""A Telegram Bot API emulator: a real aiohttp server on 127.0.0.1 for a real aiogram Bot.

Point a bot at it with
``Bot(token, session=AiohttpSession(api=TelegramAPIServer.from_base(emu.base_url)))``.
The emulator keeps per-chat transcripts, answers with Telegram's real error bodies, enforces
flood limits when asked, injects faults, and drives users (see ``telegram_driver``).
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import re
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import aiohttp
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiohttp import web

from tests.emulators.telegram_driver import TelegramUser
from tests.emulators.telegram_html import HtmlParseError, parse_html, utf16_length
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
    bad_request,
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

# Six digits before the colon keep it clearly fake (real bot ids are longer).
DEFAULT_TEST_TOKEN = "123456:TEST-token-abcdefghijklmnopqrstuvwxyz012"

MESSAGE_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_DATA_LIMIT = 64

NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)
QUERY_TOO_OLD = "query is too old and response timeout expired or query ID is invalid"
POLL_CONFLICT = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)
WEBHOOK_CONFLICT = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)
SERVER_ERRORS = {
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
# Telegram leaves these out unless allowed_updates names them.
OPT_IN_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
INLINE_BUTTON_ACTIONS = frozenset(
    {
        "callback_data",
        "url",
        "login_url",
        "switch_inline_query",
        "switch_inline_query_current_chat",
        "switch_inline_query_chosen_chat",
        "callback_game",
        "pay",
        "web_app",
        "copy_text",
    }
)
_INT_PARAMS = frozenset(
    {
        "chat_id",
        "message_id",
        "user_id",
        "offset",
        "limit",
        "timeout",
        "message_thread_id",
        "cache_time",
        "max_connections",
        "from_chat_id",
        "reply_to_message_id",
    }
)
_BOOL_PARAMS = frozenset(
    {
        "disable_notification",
        "protect_content",
        "show_alert",
        "is_personal",
        "drop_pending_updates",
        "disable_web_page_preview",
        "allow_sending_without_reply",
        "has_spoiler",
        "disable_content_type_detection",
        "allow_paid_broadcast",
        "show_caption_above_media",
        "revoke_messages",
        "only_if_banned",
        "for_channels",
    }
)
_JSON_PARAMS = frozenset(
    {
        "reply_markup",
        "entities",
        "caption_entities",
        "link_preview_options",
        "reply_parameters",
        "allowed_updates",
        "commands",
        "scope",
        "results",
        "button",
        "message_ids",
        "media",
        "menu_button",
        "rights",
    }
)
# Setters a bot may call on start; the emulator accepts and remembers them.
_ACCEPTED_SETTERS = frozenset(
    {
        "setmydescription",
        "setmyshortdescription",
        "setmyname",
        "setchatmenubutton",
        "setmydefaultadministratorrights",
        "pinchatmessage",
        "unpinchatmessage",
        "unpinallchatmessages",
        "leavechat",
    }
)
_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")
_GET_UPDATES = "getupdates"

T = TypeVar("T")
Handler = Callable[[dict[str, Any], dict[str, UploadedFile]], Awaitable[Any]]


class LoopbackAiohttpSession(AiohttpSession):
    """aiogram's AiohttpSession minus its 250 ms close pause, which only TLS shutdown needs."""

    async def close(self) -> None:
        """Close the client session; plain loopback TCP closes at once."""
        if self._session is not None and not self._session.closed:
            await self._session.close()
            await asyncio.sleep(0)


@dataclass
class WebhookDelivery:
    """One POST of an update to the bot's webhook."""

    update_id: int
    attempt: int
    status: int | None  # None when the connection failed
    secret_header: str | None
    error: str | None = None


@dataclass
class ChatState:
    """Everything the emulator knows about one chat."""

    info: dict[str, Any]  # the Bot API Chat object
    next_message_id: int = 1
    messages: dict[int, ChatMessage] = field(default_factory=dict)
    admins: set[int] = field(default_factory=set)
    creator: int | None = None
    members: set[int] = field(default_factory=set)
    bot_is_admin: bool = False
    migrated_to: int | None = None
    reply_keyboard: dict[str, Any] | None = None  # the keyboard a user currently sees

    @property
    def chat_id(self) -> int:
        """The chat's id."""
        return int(self.info["id"])

    @property
    def is_group(self) -> bool:
        """Groups, supergroups and channels share the group flood limit."""
        return self.info["type"] in ("group", "supergroup", "channel")


def _chat_type_for_id(chat_id: int) -> str:
    if chat_id > 0:
        return "private"
    return "supergroup" if str(chat_id).startswith("-100") else "group"


def _decode_param(name: str, value: Any) -> Any:
    """Turn a form string into the type Telegram reads for this parameter."""
    if not isinstance(value, str):
        return value
    if name in _INT_PARAMS and re.fullmatch(r"-?\d+", value):
        return int(value)
    if name in _BOOL_PARAMS:
        return value.lower() in ("true", "1")
    if name in _JSON_PARAMS:
        try:
            return json.loads(value)
        except ValueError:
            raise bad_request(f"can't parse {name} JSON object") from None
    return value


def _as_int(params: dict[str, Any], name: str, default: int | None = None) -> int | None:
    value = params.get(name, default)
    if value is None or isinstance(value, int):
        return value
    raise bad_request(f"invalid {name} specified")


class TelegramEmulator:
    """The Bot API on loopback, with a transcript of every chat and a user-side driver."""

    def __init__(
        self,
        token: str = DEFAULT_TEST_TOKEN,
        *,
        bot_username: str = "leads_test_bot",
        bot_first_name: str = "Leads Test Bot",
        strict_chats: bool = False,
        clock: Callable[[], float] = time.monotonic,
        webhook_attempts: int = 3,
        webhook_retry_delay: float = 0.05,
    ) -> None:
        self.token = token
        self.bot_id = int(token.split(":", 1)[0])
        self.bot_user: dict[str, Any] = {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
        }
        # Unknown chat ids answer "chat not found" only when strict.
        self.strict_chats = strict_chats
        self.clock = clock
        self.webhook_attempts = webhook_attempts
        self.webhook_retry_delay = webhook_retry_delay

        self.calls: list[ApiCall] = []
        self.flood_errors: list[ApiCall] = []
        self.answered_callbacks: list[CallbackAnswer] = []
        self.inline_answers: list[InlineAnswer] = []
        self.chat_actions: list[tuple[int, str]] = []
        self.webhook_deliveries: list[WebhookDelivery] = []
        self.updates: list[dict[str, Any]] = []  # every update ever produced, in order
        self.files: dict[str, UploadedFile] = {}
        self.emulator_errors: list[Exception] = []  # bugs of the emulator, answered as 500
        self.commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.bot_settings: dict[str, dict[str, Any]] = {}

        self._valid_tokens = {token}
        self._chats: dict[int, ChatState] = {}
        self._users: dict[int, dict[str, Any]] = {}
        self._user_phones: dict[int, str] = {}
        self._pending: list[dict[str, Any]] = []
        self._next_update_id = 700_000_001
        self._allowed_updates: list[str] | None = None
        self._poll_generation = 0
        self._polls_waiting = 0
        self._events: list[MessageEvent] = []
        self._event_seq = 0
        self._read_cursor: dict[int, int] = {}
        self._calls_mark = 0
        self._open_callbacks: set[str] = set()
        self._open_inline_queries: set[str] = set()
        self._ids = itertools.count(1)
        self._faults: list[Fault] = []
        self._limiter: FloodLimiter | None = None
        self._changed = asyncio.Event()
        self._closing = False

        self._webhook_url = ""
        self._webhook_secret: str | None = None
        self._webhook_max_connections = 40
        self._webhook_last_error: tuple[int, str] | None = None
        self._webhook_task: asyncio.Task[None] | None = None
        self._http: aiohttp.ClientSession | None = None

        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._handlers: dict[str, Handler] = {
            "getme": self._get_me,
            "logout": self._accept,
            "close": self._accept,
            "getupdates": self._get_updates,
            "setwebhook": self._set_webhook,
            "deletewebhook": self._delete_webhook,
            "getwebhookinfo": self._get_webhook_info,
            "sendmessage": self._send_message,
            "sendphoto": self._send_photo,
            "senddocument": self._send_document,
            "editmessagetext": self._edit_message_text,
            "editmessagecaption": self._edit_message_caption,
            "editmessagereplymarkup": self._edit_message_reply_markup,
            "deletemessage": self._delete_message,
            "deletemessages": self._delete_messages,
            "answercallbackquery": self._answer_callback_query,
            "answerinlinequery": self._answer_inline_query,
            "setmycommands": self._set_my_commands,
            "getmycommands": self._get_my_commands,
            "deletemycommands": self._delete_my_commands,
            "sendchataction": self._send_chat_action,
            "getchat": self._get_chat,
            "getchatmember": self._get_chat_member,
            "getchatadministrators": self._get_chat_administrators,
            "getchatmembercount": self._get_chat_member_count,
            "getfile": self._get_file,
            "getchatmenubutton": self._get_chat_menu_button,
        }
        for setter in _ACCEPTED_SETTERS:
            self._handlers[setter] = self._accept

    # ----------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Listen on 127.0.0.1 on a free port."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        # No access log: request paths carry the bot token.
        self._runner = web.AppRunner(
            app, access_log=None, handler_cancellation=True, shutdown_timeout=1.0
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
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
        """http://127.0.0.1:<port>, for TelegramAPIServer.from_base."""
        if self._port is None:
            raise RuntimeError("the emulator is not started")
        return f"http://127.0.0.1:{self._port}"

    # ----------------------------------------------------------------- HTTP

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
        return {name: _decode_param(name, value) for name, value in raw.items()}, files

    async def _execute(
        self, token: str, method: str, params: dict[str, Any], files: dict[str, UploadedFile]
    ) -> web.Response:
        call = ApiCall(method=method, params=params, at=self.clock(), files=files)
        try:
            if token not in self._valid_tokens:
                raise BotApiError(401, "Unauthorized")
            handler = self._handlers.get(method.lower())
            if handler is None:
                raise BotApiError(404, "Not Found")
            self._apply_faults(method.lower(), params)
            result = await handler(params, files)
            if method.lower() in _ACCEPTED_SETTERS:
                self.bot_settings[method.lower()] = params
        except BotApiError as error:
            return self._answer(call, error)
        except Exception as error:
            # A flaw of the emulator itself: keep it visible instead of a bare aiohttp 500.
            self.emulator_errors.append(error)
            return self._answer(call, BotApiError(500, "Internal Server Error"))
        call.result = result
        self._record(call)
        return web.json_response({"ok": True, "result": result})

    def _answer(self, call: ApiCall, error: BotApiError) -> web.Response:
        call.ok = False
        call.error_code = error.error_code
        call.description = error.description
        call.parameters = error.parameters
        if error.error_code == 429:
            self.flood_errors.append(call)
        self._record(call)
        return web.json_response(error.body(), status=error.error_code)

    def _record(self, call: ApiCall) -> None:
        self.calls.append(call)
        self._notify()

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

    # ----------------------------------------------------------------- waiting

    def _notify(self) -> None:
        """Wake every waiter; each re-checks its own condition."""
        self._changed.set()
        self._changed = asyncio.Event()

    async def _wait_until(
        self,
        check: Callable[[], T | None],
        timeout: float,  # noqa: ASYNC109 - a deadline for a condition, not for one await
    ) -> T | None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            changed = self._changed
            outcome = check()
            if outcome is not None:
                return outcome
            remaining = deadline - loop.time()
            if remaining <= 0:
                return None
            try:
                await asyncio.wait_for(changed.wait(), remaining)
            except TimeoutError:
                return check()

    # ----------------------------------------------------------------- faults and limits

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
        kind = "supergroup" if _chat_type_for_id(chat_id) == "supergroup" else "group"
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

    def _apply_faults(self, method: str, params: dict[str, Any]) -> None:
        chat_id = params.get("chat_id")
        for fault in self._faults:
            if fault.matches(method, chat_id):
                if fault.remaining is not None:
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                raise BotApiError(
                    fault.error.error_code, fault.error.description, fault.error.parameters
                )
        if isinstance(chat_id, int):
            chat = self._chats.get(chat_id)
            if chat is not None and chat.migrated_to is not None:
                raise BotApiError(
                    400,
                    "Bad Request: group chat was migrated to a supergroup chat",
                    {"migrate_to_chat_id": chat.migrated_to},
                )

    def _count_send(self, chat: ChatState) -> None:
        if self._limiter is None:
            return
        retry_after = self._limiter.acquire(chat.chat_id, chat.is_group)
        if retry_after is not None:
            raise too_many_requests(retry_after)

    # ----------------------------------------------------------------- chats and users

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

    def _chat(self, chat_id: int, *, create: bool = False) -> ChatState:
        chat = self._chats.get(chat_id)
        if chat is None:
            if not create:
                raise KeyError(f"unknown chat {chat_id}")
            info: dict[str, Any] = {"id": chat_id, "type": _chat_type_for_id(chat_id)}
            if chat_id > 0:
                info["first_name"] = f"User {chat_id}"
            else:
                info["title"] = f"Group {chat_id}"
            chat = ChatState(info=info)
            self._chats[chat_id] = chat
        return chat

    def _target_chat(self, params: dict[str, Any]) -> ChatState:
        chat_id = params.get("chat_id")
        if isinstance(chat_id, str) and chat_id.startswith("@"):
            for chat in self._chats.values():
                if chat.info.get("username") == chat_id[1:]:
                    return chat
            raise bad_request("chat not found")
        if not isinstance(chat_id, int):
            raise bad_request("chat_id is empty" if chat_id is None else "chat not found")
        known = self._chats.get(chat_id)
        if known is not None:
            return known
        if self.strict_chats or chat_id == 0:
            raise bad_request("chat not found")
        return self._chat(chat_id, create=True)

    def _user_object(self, user_id: int) -> dict[str, Any]:
        if user_id == self.bot_id:
            return dict(self.bot_user)
        return dict(
            self._users.get(user_id, {"id": user_id, "is_bot": False, "first_name": "User"})
        )

    # ----------------------------------------------------------------- updates (driver side)

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

    # ----------------------------------------------------------------- reading (test side)

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

    # ----------------------------------------------------------------- bot messages

    def _format(
        self,
        text: str | None,
        parse_mode: str | None,
        entities: Any,
        *,
        limit: int,
        caption: bool,
    ) -> tuple[str, list[dict[str, Any]]]:
        text = text or ""
        mode = (parse_mode or "").lower()
        if mode == "html":
            try:
                plain, parsed = parse_html(text)
            except HtmlParseError as error:
                raise bad_request(f"can't parse entities: {error}") from None
        elif mode in ("markdown", "markdownv2"):
            # Markdown is not validated here; the project sends HTML.
            plain, parsed = text, []
        elif mode:
            raise bad_request("unsupported parse_mode")
        else:
            plain, parsed = text, list(entities or [])
        if not caption and not plain.strip():
            raise bad_request("message text is empty")
        if utf16_length(plain) > limit:
            raise bad_request("message caption is too long" if caption else "message is too long")
        return plain, parsed

    def _check_markup(self, markup: Any) -> dict[str, Any] | None:
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise bad_request("can't parse reply keyboard markup JSON object")
        rows = markup.get("inline_keyboard")
        if rows is None:
            return markup
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise bad_request("can't parse inline keyboard button: InlineKeyboardButton expected")
        for row in rows:
            for button in row:
                if not isinstance(button, dict) or not button.get("text"):
                    raise bad_request("BUTTON_TEXT_INVALID")
                data = button.get("callback_data")
                if data is not None and not 1 <= len(str(data).encode()) <= CALLBACK_DATA_LIMIT:
                    raise bad_request("BUTTON_DATA_INVALID")
                if not INLINE_BUTTON_ACTIONS & button.keys():
                    raise bad_request("text buttons are unallowed in the inline keyboard")
                url = button.get("url")
                if url is not None and not re.match(r"(https?|tg)://\S+", str(url)):
                    raise bad_request("BUTTON_URL_INVALID")
        return markup

    def _store_bot_message(
        self,
        chat: ChatState,
        params: dict[str, Any],
        content: dict[str, Any],
        *,
        text: str | None,
        html: str | None,
        markup: dict[str, Any] | None,
    ) -> ChatMessage:
        thread_id = _as_int(params, "message_thread_id")
        raw: dict[str, Any] = {
            "message_id": chat.next_message_id,
            "from": dict(self.bot_user),
            "chat": dict(chat.info),
            "date": int(time.time()),
        }
        if thread_id is not None:
            raw["message_thread_id"] = thread_id
            if chat.info.get("is_forum"):
                raw["is_topic_message"] = True
        reply_to = (params.get("reply_parameters") or {}).get("message_id") or params.get(
            "reply_to_message_id"
        )
        if isinstance(reply_to, int):
            original = chat.messages.get(reply_to)
            if original is None or original.deleted:
                raise bad_request("message to be replied not found")
            raw["reply_to_message"] = {
                k: v for k, v in original.raw.items() if k != "reply_to_message"
            }
        raw.update(content)
        if markup and "inline_keyboard" in markup:
            raw["reply_markup"] = markup
        if "keyboard" in (markup or {}):
            chat.reply_keyboard = markup
        elif (markup or {}).get("remove_keyboard"):
            chat.reply_keyboard = None
        chat.next_message_id += 1
        message = ChatMessage(
            chat_id=chat.chat_id,
            message_id=raw["message_id"],
            from_bot=True,
            sender_id=self.bot_id,
            date=raw["date"],
            raw=raw,
            text=text,
            html=html,
            parse_mode=params.get("parse_mode"),
            reply_markup=markup,
            message_thread_id=thread_id,
        )
        chat.messages[message.message_id] = message
        self._add_event("sent", message)
        return message

    def _add_event(self, kind: str, message: ChatMessage) -> None:
        self._event_seq += 1
        self._events.append(MessageEvent(self._event_seq, kind, message.snapshot()))
        self._notify()

    def _bot_message(self, params: dict[str, Any]) -> tuple[ChatState, ChatMessage]:
        if params.get("inline_message_id"):
            raise bad_request("MESSAGE_ID_INVALID")
        chat = self._target_chat(params)
        message_id = _as_int(params, "message_id")
        if message_id is None:
            raise bad_request("message identifier is not specified")
        message = chat.messages.get(message_id)
        if message is None or message.deleted:
            raise bad_request("message to edit not found")
        if not message.from_bot:
            raise bad_request("message can't be edited")
        return chat, message

    # ----------------------------------------------------------------- methods

    async def _accept(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        return True

    async def _get_me(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": True,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _allowed(self, update: dict[str, Any]) -> bool:
        kind = next(key for key in update if key != "update_id")
        if not self._allowed_updates:
            return kind not in OPT_IN_UPDATES
        return kind in self._allowed_updates

    def _confirm(self, offset: int | None) -> None:
        if offset is None or offset == 0:
            return
        if offset > 0:
            self._pending = [u for u in self._pending if u["update_id"] >= offset]
        else:
            self._pending = self._pending[offset:]

    def _deliverable(self) -> list[dict[str, Any]]:
        # Updates of types the bot did not ask for are never created by Telegram.
        self._pending = [u for u in self._pending if self._allowed(u)]
        return list(self._pending)

    async def _get_updates(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        if self._webhook_url:
            raise BotApiError(409, WEBHOOK_CONFLICT)
        limit = min(max(_as_int(params, "limit", 100) or 100, 1), 100)
        timeout = max(_as_int(params, "timeout", 0) or 0, 0)
        if "allowed_updates" in params:
            self._allowed_updates = list(params["allowed_updates"] or [])
        self._confirm(_as_int(params, "offset"))
        self._poll_generation += 1
        generation = self._poll_generation
        self._notify()  # an older poll still waiting is terminated

        def ready() -> list[dict[str, Any]] | str | None:
            if self._webhook_url:
                return "webhook"
            if generation != self._poll_generation:
                return "conflict"
            if self._closing:
                return []
            return self._deliverable()[:limit] or None

        self._polls_waiting += 1
        self._notify()
        try:
            outcome = await self._wait_until(ready, float(timeout))
        finally:
            self._polls_waiting -= 1
        if outcome == "conflict":
            raise BotApiError(409, POLL_CONFLICT)
        if outcome == "webhook":
            raise BotApiError(409, WEBHOOK_CONFLICT)
        return outcome or []

    async def _set_webhook(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        url = str(params.get("url") or "")
        secret = params.get("secret_token")
        if secret is not None and not _SECRET_TOKEN.fullmatch(str(secret)):
            raise bad_request("secret token contains unallowed characters")
        if url and not re.match(r"https?://", url):
            raise bad_request("bad webhook: invalid webhook URL specified")
        if params.get("drop_pending_updates"):
            self._pending.clear()
        if "allowed_updates" in params:
            self._allowed_updates = list(params["allowed_updates"] or [])
        await self._stop_webhook_task()
        self._webhook_url = url
        self._webhook_secret = str(secret) if secret is not None else None
        self._webhook_max_connections = _as_int(params, "max_connections", 40) or 40
        self._webhook_last_error = None
        if url:
            self._notify()  # a waiting getUpdates ends with a conflict
            self._webhook_task = asyncio.create_task(self._deliver_webhook_updates())
        return True

    async def _delete_webhook(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        await self._stop_webhook_task()
        self._webhook_url = ""
        self._webhook_secret = None
        if params.get("drop_pending_updates"):
            self._pending.clear()
        return True

    async def _get_webhook_info(
        self, params: dict[str, Any], files: dict[str, UploadedFile]
    ) -> Any:
        info: dict[str, Any] = {
            "url": self._webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
        }
        if self._webhook_url:
            info["max_connections"] = self._webhook_max_connections
            if self._allowed_updates:
                info["allowed_updates"] = list(self._allowed_updates)
        if self._webhook_last_error is not None:
            info["last_error_date"], info["last_error_message"] = self._webhook_last_error
        return info

    async def _stop_webhook_task(self) -> None:
        task, self._webhook_task = self._webhook_task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _deliver_webhook_updates(self) -> None:
        if self._http is None:
            self._http = aiohttp.ClientSession()
        while not self._closing:
            batch = await self._wait_until(
                lambda: (self._deliverable() or None) if not self._closing else [], 3600.0
            )
            if not batch:
                continue
            update = batch[0]
            await self._post_update(update)
            if update in self._pending:
                self._pending.remove(update)
            self._notify()

    async def _post_update(self, update: dict[str, Any]) -> None:
        assert self._http is not None
        headers = {"Content-Type": "application/json"}
        if self._webhook_secret is not None:
            headers["X-Telegram-Bot-Api-Secret-Token"] = self._webhook_secret
        for attempt in range(1, self.webhook_attempts + 1):
            delivery = WebhookDelivery(
                update["update_id"], attempt, None, headers.get("X-Telegram-Bot-Api-Secret-Token")
            )
            self.webhook_deliveries.append(delivery)
            try:
                async with self._http.post(
                    self._webhook_url,
                    data=json.dumps(update),
                    headers=headers,
                    timeout=aiohttp.ClientTimeout(total=10),
                ) as response:
                    delivery.status = response.status
                    if 200 <= response.status < 300:
                        await self._run_webhook_reply(response)
                        return
                    delivery.error = f"Wrong response from the webhook: {response.status}"
            except (aiohttp.ClientError, TimeoutError) as error:
                delivery.error = f"Connection failed: {type(error).__name__}"
            self._webhook_last_error = (int(time.time()), delivery.error or "")
            await asyncio.sleep(self.webhook_retry_delay * attempt)

    async def _run_webhook_reply(self, response: aiohttp.ClientResponse) -> None:
        """A webhook may answer with a method call in its body, as Telegram allows."""
        params: dict[str, Any] = {}
        files: dict[str, UploadedFile] = {}
        if response.content_type.startswith("multipart/"):
            reader = aiohttp.MultipartReader.from_response(response)
            while (part := await reader.next()) is not None:
                if not isinstance(part, aiohttp.BodyPartReader) or part.name is None:
                    continue
                if part.filename:
                    files[part.name] = UploadedFile(
                        "", "", "", part.filename, bytes(await part.read())
                    )
                else:
                    params[part.name] = await part.text()
        elif response.content_type == "application/json":
            body = await response.json()
            if isinstance(body, dict):
                params = body
        method = params.pop("method", None)
        if isinstance(method, str) and method:
            decoded = {name: _decode_param(name, value) for name, value in params.items()}
            await self._execute(self.token, method, decoded, files)

    async def _send_message(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        chat = self._target_chat(params)
        raw_text = params.get("text")
        if raw_text is None:
            raise bad_request("message text is empty")
        text, entities = self._format(
            str(raw_text),
            params.get("parse_mode"),
            params.get("entities"),
            limit=MESSAGE_LIMIT,
            caption=False,
        )
        markup = self._check_markup(params.get("reply_markup"))
        self._count_send(chat)
        content: dict[str, Any] = {"text": text}
        if entities:
            content["entities"] = entities
        if isinstance(params.get("link_preview_options"), dict):
            content["link_preview_options"] = params["link_preview_options"]
        html = str(raw_text) if (params.get("parse_mode") or "").lower() == "html" else None
        message = self._store_bot_message(
            chat, params, content, text=text, html=html, markup=markup
        )
        return message.raw

    def _file_path(self, stored: UploadedFile) -> str:
        suffix = ""
        if stored.file_name and "." in stored.file_name:
            suffix = "." + stored.file_name.rsplit(".", 1)[1]
        return f"{stored.kind}s/file_{stored.file_unique_id}{suffix}"

    def _resolve_file(
        self, params: dict[str, Any], files: dict[str, UploadedFile], field_name: str, kind: str
    ) -> UploadedFile:
        value = params.get(field_name)
        upload: UploadedFile | None = None
        if isinstance(value, str) and value.startswith("attach://"):
            upload = files.get(value.removeprefix("attach://"))
        elif value is None:
            upload = files.get(field_name)
        elif isinstance(value, str) and value in self.files:
            return self.files[value]
        elif isinstance(value, str) and re.match(r"https?://", value):
            upload = UploadedFile("", "", kind, value.rsplit("/", 1)[-1], b"", url=value)
        if upload is None:
            raise bad_request("wrong file identifier/HTTP URL specified")
        number = next(self._ids)
        upload.kind = kind
        upload.file_unique_id = f"AgAD{number:06d}"
        upload.file_id = (
            f"{kind.upper()}-{number:06d}-{hashlib.sha1(upload.content).hexdigest()[:12]}"  # noqa: S324
        )
        self.files[upload.file_id] = upload
        return upload

    async def _send_media(
        self, params: dict[str, Any], files: dict[str, UploadedFile], kind: str
    ) -> Any:
        chat = self._target_chat(params)
        caption = params.get("caption")
        text, entities = self._format(
            caption,
            params.get("parse_mode"),
            params.get("caption_entities"),
            limit=CAPTION_LIMIT,
            caption=True,
        )
        markup = self._check_markup(params.get("reply_markup"))
        stored = self._resolve_file(params, files, kind, kind)
        self._count_send(chat)
        content: dict[str, Any] = {}
        if kind == "photo":
            content["photo"] = [
                {
                    "file_id": stored.file_id,
                    "file_unique_id": stored.file_unique_id,
                    "width": 800,
                    "height": 600,
                    "file_size": len(stored.content),
                }
            ]
        else:
            document: dict[str, Any] = {
                "file_id": stored.file_id,
                "file_unique_id": stored.file_unique_id,
                "file_size": len(stored.content),
            }
            if stored.file_name:
                document["file_name"] = stored.file_name
            if stored.mime_type:
                document["mime_type"] = stored.mime_type
            content["document"] = document
        if caption:
            content["caption"] = text
            if entities:
                content["caption_entities"] = entities
        html = caption if (params.get("parse_mode") or "").lower() == "html" else None
        message = self._store_bot_message(
            chat, params, content, text=text if caption else None, html=html, markup=markup
        )
        return message.raw

    async def _send_photo(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        return await self._send_media(params, files, "photo")

    async def _send_document(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        return await self._send_media(params, files, "document")

    def _apply_edit(
        self,
        chat: ChatState,
        message: ChatMessage,
        changes: dict[str, Any],
        *,
        text: str | None,
        html: str | None,
        parse_mode: str | None,
        markup: dict[str, Any] | None,
    ) -> Any:
        # An edit without reply_markup drops the inline keyboard, as in Telegram.
        new_markup = markup if markup and "inline_keyboard" in markup else None
        current = {k: message.raw.get(k) for k in changes}
        if current == changes and message.raw.get("reply_markup") == new_markup:
            raise bad_request(NOT_MODIFIED)
        for key, value in changes.items():
            if value is None:
                message.raw.pop(key, None)
            else:
                message.raw[key] = value
        if new_markup is None:
            message.raw.pop("reply_markup", None)
        else:
            message.raw["reply_markup"] = new_markup
        message.edit_date = int(time.time())
        message.raw["edit_date"] = message.edit_date
        if "text" in changes or "caption" in changes:
            message.text = text
            message.html = html
            message.parse_mode = parse_mode
        message.reply_markup = new_markup
        self._add_event("edited", message)
        return message.raw

    async def _edit_message_text(
        self, params: dict[str, Any], files: dict[str, UploadedFile]
    ) -> Any:
        chat, message = self._bot_message(params)
        if "text" not in message.raw:
            raise bad_request("there is no text in the message to edit")
        raw_text = str(params.get("text") or "")
        parse_mode = params.get("parse_mode")
        text, entities = self._format(
            raw_text, parse_mode, params.get("entities"), limit=MESSAGE_LIMIT, caption=False
        )
        markup = self._check_markup(params.get("reply_markup"))
        html = raw_text if (parse_mode or "").lower() == "html" else None
        changes = {"text": text, "entities": entities or None}
        return self._apply_edit(
            chat, message, changes, text=text, html=html, parse_mode=parse_mode, markup=markup
        )

    async def _edit_message_caption(
        self, params: dict[str, Any], files: dict[str, UploadedFile]
    ) -> Any:
        chat, message = self._bot_message(params)
        if "text" in message.raw:
            raise bad_request("there is no caption in the message to edit")
        raw_caption = params.get("caption")
        parse_mode = params.get("parse_mode")
        text, entities = self._format(
            raw_caption,
            parse_mode,
            params.get("caption_entities"),
            limit=CAPTION_LIMIT,
            caption=True,
        )
        markup = self._check_markup(params.get("reply_markup"))
        html = raw_caption if (parse_mode or "").lower() == "html" else None
        changes = {"caption": text or None, "caption_entities": entities or None}
        return self._apply_edit(
            chat,
            message,
            changes,
            text=text or None,
            html=html,
            parse_mode=parse_mode,
            markup=markup,
        )

    async def _edit_message_reply_markup(
        self, params: dict[str, Any], files: dict[str, UploadedFile]
    ) -> Any:
        chat, message = self._bot_message(params)
        markup = self._check_markup(params.get("reply_markup"))
        return self._apply_edit(
            chat,
            message,
            {},
            text=message.text,
            html=message.html,
            parse_mode=message.parse_mode,
            markup=markup,
        )

    def _delete(self, chat: ChatState, message_id: int) -> bool:
        message = chat.messages.get(message_id)
        if message is None or message.deleted:
            return False
        message.deleted = True
        self._add_event("deleted", message)
        return True

    async def _delete_message(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        chat = self._target_chat(params)
        message_id = _as_int(params, "message_id")
        if message_id is None or not self._delete(chat, message_id):
            raise bad_request("message to delete not found")
        return True

    async def _delete_messages(
        self, params: dict[str, Any], files: dict[str, UploadedFile]
    ) -> Any:
        chat = self._target_chat(params)
        for message_id in params.get("message_ids") or []:
            if isinstance(message_id, int):
                self._delete(chat, message_id)
        return True

    async def _answer_callback_query(
        self, params: dict[str, Any], files: dict[str, UploadedFile]
    ) -> Any:
        query_id = str(params.get("callback_query_id") or "")
        if query_id not in self._open_callbacks:
            raise bad_request(QUERY_TOO_OLD)
        text = params.get("text")
        if text is not None and len(str(text)) > 200:
            raise bad_request("MESSAGE_TOO_LONG")
        self._open_callbacks.discard(query_id)
        self.answered_callbacks.append(
            CallbackAnswer(
                callback_query_id=query_id,
                text=text,
                show_alert=bool(params.get("show_alert")),
                url=params.get("url"),
                cache_time=_as_int(params, "cache_time"),
            )
        )
        return True

    async def _answer_inline_query(
        self, params: dict[str, Any], files: dict[str, UploadedFile]
    ) -> Any:
        query_id = str(params.get("inline_query_id") or "")
        if query_id not in self._open_inline_queries:
            raise bad_request(QUERY_TOO_OLD)
        results = params.get("results")
        if not isinstance(results, list) or len(results) > 50:
            raise bad_request(
                "RESULTS_TOO_MUCH" if isinstance(results, list) else "results is empty"
            )
        ids = [result.get("id") if isinstance(result, dict) else None for result in results]
        if any(not isinstance(i, str) or not i for i in ids) or len(set(ids)) != len(ids):
            raise bad_request("RESULT_ID_DUPLICATE")
        for result in results:
            self._check_markup(result.get("reply_markup"))
        self._open_inline_queries.discard(query_id)
        self.inline_answers.append(
            InlineAnswer(
                inline_query_id=query_id,
                results=results,
                cache_time=_as_int(params, "cache_time"),
                is_personal=bool(params.get("is_personal")),
                next_offset=params.get("next_offset"),
                button=params.get("button"),
            )
        )
        return True

    @staticmethod
    def _commands_key(params: dict[str, Any]) -> tuple[str, str]:
        scope = params.get("scope") or {"type": "default"}
        return json.dumps(scope, sort_keys=True), str(params.get("language_code") or "")

    async def _set_my_commands(
        self, params: dict[str, Any], files: dict[str, UploadedFile]
    ) -> Any:
        commands = params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise bad_request("BOT_COMMANDS_TOO_MUCH")
        for command in commands:
            name = command.get("command", "") if isinstance(command, dict) else ""
            if not re.fullmatch(r"[a-z0-9_]{1,32}", name):
                raise bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(command.get("description", "")) <= 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        self.commands[self._commands_key(params)] = commands
        return True

    async def _get_my_commands(
        self, params: dict[str, Any], files: dict[str, UploadedFile]
    ) -> Any:
        return self.commands.get(self._commands_key(params), [])

    async def _delete_my_commands(
        self, params: dict[str, Any], files: dict[str, UploadedFile]
    ) -> Any:
        self.commands.pop(self._commands_key(params), None)
        return True

    def commands_for(
        self, scope: dict[str, Any] | None = None, language_code: str = ""
    ) -> list[dict[str, Any]]:
        """The commands set for a scope (default scope when None) and language."""
        key = json.dumps(scope or {"type": "default"}, sort_keys=True), language_code
        return self.commands.get(key, [])

    async def _send_chat_action(
        self, params: dict[str, Any], files: dict[str, UploadedFile]
    ) -> Any:
        chat = self._target_chat(params)
        action = str(params.get("action") or "")
        if not action:
            raise bad_request("wrong parameter action in request")
        self.chat_actions.append((chat.chat_id, action))
        return True

    async def _get_chat(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        chat = self._target_chat(params)
        return {
            **chat.info,
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }

    def _member(self, chat: ChatState, user_id: int) -> dict[str, Any]:
        user = self._user_object(user_id)
        if chat.creator == user_id:
            return {"status": "creator", "user": user, "is_anonymous": False}
        if user_id in chat.admins or (user_id == self.bot_id and chat.bot_is_admin):
            rights = dict.fromkeys(
                (
                    "can_manage_chat",
                    "can_delete_messages",
                    "can_manage_video_chats",
                    "can_restrict_members",
                    "can_change_info",
                    "can_invite_users",
                    "can_post_stories",
                    "can_edit_stories",
                    "can_delete_stories",
                    "can_pin_messages",
                    "can_send_welcome_messages",
                ),
                True,
            )
            return {
                "status": "administrator",
                "user": user,
                "can_be_edited": False,
                "is_anonymous": False,
                "can_promote_members": False,
                **rights,
            }
        in_chat = (
            user_id in chat.members
            or user_id == self.bot_id
            or (not chat.is_group and user_id == chat.chat_id)
        )
        return {"status": "member" if in_chat else "left", "user": user}

    async def _get_chat_member(
        self, params: dict[str, Any], files: dict[str, UploadedFile]
    ) -> Any:
        chat = self._target_chat(params)
        user_id = _as_int(params, "user_id")
        if user_id is None:
            raise bad_request("user not found")
        return self._member(chat, user_id)

    async def _get_chat_administrators(
        self, params: dict[str, Any], files: dict[str, UploadedFile]
    ) -> Any:
        chat = self._target_chat(params)
        if not chat.is_group:
            raise bad_request("there are no administrators in the private chat")
        ids = [chat.creator] if chat.creator is not None else []
        ids += sorted(chat.admins - set(ids))
        if chat.bot_is_admin:
            ids.append(self.bot_id)
        return [self._member(chat, user_id) for user_id in ids]

    async def _get_chat_member_count(
        self, params: dict[str, Any], files: dict[str, UploadedFile]
    ) -> Any:
        chat = self._target_chat(params)
        return len(chat.members | {self.bot_id}) if chat.is_group else 2

    async def _get_file(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        stored = self.files.get(str(params.get("file_id") or ""))
        if stored is None:
            raise bad_request("invalid file_id")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.content),
            "file_path": self._file_path(stored),
        }

    async def _get_chat_menu_button(
        self, params: dict[str, Any], files: dict[str, UploadedFile]
    ) -> Any:
        stored = self.bot_settings.get("setchatmenubutton", {}).get("menu_button")
        return stored if isinstance(stored, dict) else {"type": "default"}
