"""The Bot API methods of the Telegram emulator and the state they work on.

TelegramEmulator (in ``telegram``) adds the HTTP server, fault injection, the user driver's
hooks and the reading side for tests on top of this class.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import aiohttp
from aiohttp import web

from tests.emulators.telegram_html import HtmlParseError, parse_html, utf16_length
from tests.emulators.telegram_models import (
    ApiCall,
    BotApiError,
    CallbackAnswer,
    ChatMessage,
    Fault,
    FloodLimiter,
    InlineAnswer,
    MessageEvent,
    UploadedFile,
    bad_request,
    too_many_requests,
)

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

T = TypeVar("T")
Handler = Callable[[dict[str, Any], dict[str, UploadedFile]], Awaitable[Any]]


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


def chat_type_for_id(chat_id: int) -> str:
    """private, group or supergroup (ids starting with -100), as Telegram numbers chats."""
    if chat_id > 0:
        return "private"
    return "supergroup" if str(chat_id).startswith("-100") else "group"


def decode_param(name: str, value: Any) -> Any:
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


def as_int(params: dict[str, Any], name: str, default: int | None = None) -> int | None:
    """An integer parameter, or 400 when the client sent something else."""
    value = params.get(name, default)
    if value is None or isinstance(value, int):
        return value
    raise bad_request(f"invalid {name} specified")


class BotApiMethods:
    """The emulator's state and its answers to Bot API calls (no server, no test helpers)."""

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

    def _chat(self, chat_id: int, *, create: bool = False) -> ChatState:
        chat = self._chats.get(chat_id)
        if chat is None:
            if not create:
                raise KeyError(f"unknown chat {chat_id}")
            info: dict[str, Any] = {"id": chat_id, "type": chat_type_for_id(chat_id)}
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
        thread_id = as_int(params, "message_thread_id")
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
        message_id = as_int(params, "message_id")
        if message_id is None:
            raise bad_request("message identifier is not specified")
        message = chat.messages.get(message_id)
        if message is None or message.deleted:
            raise bad_request("message to edit not found")
        if not message.from_bot:
            raise bad_request("message can't be edited")
        return chat, message

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
        limit = min(max(as_int(params, "limit", 100) or 100, 1), 100)
        timeout = max(as_int(params, "timeout", 0) or 0, 0)
        if "allowed_updates" in params:
            self._allowed_updates = list(params["allowed_updates"] or [])
        self._confirm(as_int(params, "offset"))
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
        self._webhook_max_connections = as_int(params, "max_connections", 40) or 40
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
            decoded = {name: decode_param(name, value) for name, value in params.items()}
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
        if self._limiter is not None and self._limiter.limits.count_edits:
            self._count_send(chat)
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
        message_id = as_int(params, "message_id")
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
                cache_time=as_int(params, "cache_time"),
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
                cache_time=as_int(params, "cache_time"),
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
        user_id = as_int(params, "user_id")
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
