"""Records kept by the Telegram Bot API emulator: calls, messages, answers, faults, limits."""

from __future__ import annotations

import copy
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


class BotApiError(Exception):
    """An error answer of the Bot API: {"ok": false, "error_code", "description", "parameters"}."""

    def __init__(
        self, error_code: int, description: str, parameters: dict[str, Any] | None = None
    ) -> None:
        super().__init__(f"{error_code} {description}")
        self.error_code = error_code
        self.description = description
        self.parameters = parameters

    def body(self) -> dict[str, Any]:
        """The JSON body Telegram sends for this error."""
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.error_code,
            "description": self.description,
        }
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def bad_request(detail: str) -> BotApiError:
    """400 with Telegram's "Bad Request: ..." wording."""
    return BotApiError(400, f"Bad Request: {detail}")


def too_many_requests(retry_after: int) -> BotApiError:
    """429 with the integer retry_after Telegram puts in parameters."""
    return BotApiError(
        429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after}
    )


@dataclass
class ApiCall:
    """One Bot API call as the emulator saw it and answered it."""

    method: str  # as the client spelled it, e.g. "sendMessage"
    params: dict[str, Any]  # decoded: ints, bools and JSON objects already parsed
    at: float  # emulator clock (monotonic seconds)
    ok: bool = True
    result: Any = None
    error_code: int | None = None
    description: str | None = None
    parameters: dict[str, Any] | None = None
    files: dict[str, UploadedFile] = field(default_factory=dict)

    @property
    def chat_id(self) -> int | str | None:
        """The chat_id parameter of the call, if any."""
        value = self.params.get("chat_id")
        return value if isinstance(value, int | str) else None


@dataclass
class UploadedFile:
    """A file the bot uploaded (multipart) or referenced by URL."""

    file_id: str
    file_unique_id: str
    kind: str  # "photo" | "document"
    file_name: str | None
    content: bytes
    mime_type: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class InlineButton:
    """An inline keyboard button as a user sees it."""

    text: str
    callback_data: str | None = None
    url: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass
class ChatMessage:
    """A message in a chat transcript, as it stands now (or at the moment of a recorded event)."""

    chat_id: int
    message_id: int
    from_bot: bool
    sender_id: int
    date: int
    raw: dict[str, Any]  # the Bot API Message object
    text: str | None = None  # plain text (or caption) with HTML tags resolved
    html: str | None = None  # the raw text/caption exactly as the bot sent it with parse_mode HTML
    parse_mode: str | None = None
    reply_markup: dict[str, Any] | None = None
    edit_date: int | None = None
    deleted: bool = False
    message_thread_id: int | None = None

    @property
    def buttons(self) -> list[list[InlineButton]]:
        """Inline keyboard rows (empty when the message has no inline keyboard)."""
        rows = (self.reply_markup or {}).get("inline_keyboard") or []
        return [
            [
                InlineButton(
                    text=button.get("text", ""),
                    callback_data=button.get("callback_data"),
                    url=button.get("url"),
                    raw=button,
                )
                for button in row
            ]
            for row in rows
        ]

    @property
    def labels(self) -> list[str]:
        """Labels of all inline buttons, row by row."""
        return [button.text for row in self.buttons for button in row]

    @property
    def keyboard_labels(self) -> list[str]:
        """Labels of the reply keyboard this message set, if any."""
        rows = (self.reply_markup or {}).get("keyboard") or []
        return [
            button if isinstance(button, str) else button.get("text", "")
            for row in rows
            for button in row
        ]

    def button(self, label: str) -> InlineButton:
        """The inline button with this exact label; LookupError lists the labels otherwise."""
        for row in self.buttons:
            for candidate in row:
                if candidate.text == label:
                    return candidate
        raise LookupError(
            f"no inline button {label!r} in message {self.message_id}; labels: {self.labels}"
        )

    @property
    def kind(self) -> str:
        """What the message carries: text, photo, document, contact, or other."""
        for key in ("text", "photo", "document", "contact"):
            if key in self.raw:
                return key
        return "other"

    def snapshot(self) -> ChatMessage:
        """A deep copy that later edits do not change."""
        return copy.deepcopy(self)


@dataclass
class MessageEvent:
    """The bot sent or edited a message; what wait_for_message returns."""

    seq: int
    kind: str  # "sent" | "edited" | "deleted"
    message: ChatMessage


@dataclass
class CallbackAnswer:
    """The bot's answerCallbackQuery."""

    callback_query_id: str
    text: str | None
    show_alert: bool
    url: str | None
    cache_time: int | None


@dataclass
class InlineAnswer:
    """The bot's answerInlineQuery."""

    inline_query_id: str
    results: list[dict[str, Any]]
    cache_time: int | None
    is_personal: bool
    next_offset: str | None
    button: dict[str, Any] | None


@dataclass
class Fault:
    """An injected error answer, matched by method and/or chat, for `remaining` calls."""

    error: BotApiError
    method: str | None = None  # lowercase method name, None for any
    chat_id: int | None = None
    remaining: int | None = 1  # None: until cleared

    def matches(self, method: str, chat_id: int | str | None) -> bool:
        """True when this fault applies to a call of method (lowercase) aimed at chat_id."""
        if self.method is not None and self.method != method:
            return False
        return self.chat_id is None or self.chat_id == chat_id


@dataclass
class FloodLimits:
    """Telegram's flood ceilings; the emulator answers 429 when a send would exceed one."""

    per_chat_per_second: float = 1.0
    per_chat_burst: int = 3
    per_group_per_minute: int = 20
    global_per_second: int = 30
    count_edits: bool = False
    """Count message edits like sends (Telegram's group limit counts edits too)."""


class FloodLimiter:
    """Counts message-producing calls and says how long to wait when a ceiling is reached."""

    def __init__(self, limits: FloodLimits, clock: Callable[[], float]) -> None:
        self.limits = limits
        self.clock = clock
        self._chat_tokens: dict[int | str, tuple[float, float]] = {}  # chat -> (tokens, at)
        self._group_sends: dict[int | str, deque[float]] = {}
        self._global_sends: deque[float] = deque()

    def acquire(self, chat_id: int | str, is_group: bool) -> int | None:
        """Count one send; return None if allowed, else retry_after in whole seconds."""
        now = self.clock()
        limits = self.limits
        waits: list[float] = []

        tokens, at = self._chat_tokens.get(chat_id, (float(limits.per_chat_burst), now))
        tokens = min(
            float(limits.per_chat_burst), tokens + (now - at) * limits.per_chat_per_second
        )
        if tokens < 1.0:
            waits.append((1.0 - tokens) / limits.per_chat_per_second)

        group_window = self._group_sends.setdefault(chat_id, deque()) if is_group else None
        if group_window is not None:
            while group_window and group_window[0] <= now - 60.0:
                group_window.popleft()
            if len(group_window) >= limits.per_group_per_minute:
                waits.append(group_window[0] + 60.0 - now)

        while self._global_sends and self._global_sends[0] <= now - 1.0:
            self._global_sends.popleft()
        if len(self._global_sends) >= limits.global_per_second:
            waits.append(self._global_sends[0] + 1.0 - now)

        if waits:
            self._chat_tokens[chat_id] = (tokens, now)
            return max(1, math.ceil(max(waits)))
        self._chat_tokens[chat_id] = (tokens - 1.0, now)
        if group_window is not None:
            group_window.append(now)
        self._global_sends.append(now)
        return None
