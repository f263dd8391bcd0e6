"""Telegram's HTML parse mode as the Bot API applies it: plain text plus entities, or an error.

Error sentences follow the wording Telegram returns after "Bad Request: can't parse entities: ".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Tag name -> entity type; span and a/code/blockquote get refined by their attributes.
_TAG_ENTITY: dict[str, str] = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}

_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


class HtmlParseError(ValueError):
    """The text is not valid Telegram HTML; the message is Telegram's own sentence."""


@dataclass
class _OpenTag:
    name: str
    offset: int  # in UTF-16 code units of the plain text
    attributes: dict[str, str] = field(default_factory=dict)


def utf16_length(text: str) -> int:
    """Length of text in UTF-16 code units, the unit of Telegram entity offsets."""
    return len(text.encode("utf-16-le")) // 2


def _is_name_char(char: str) -> bool:
    return char.isascii() and (char.isalnum() or char in "-_")


def _decode_entity(source: str, start: int) -> tuple[str, int] | None:
    """Decode an HTML entity at source[start] == '&'; None leaves the '&' as a plain character."""
    end = source.find(";", start + 1, start + 12)
    if end == -1:
        return None
    body = source[start + 1 : end]
    if body in _NAMED_ENTITIES:
        return _NAMED_ENTITIES[body], end + 1 - start
    try:
        if body[:2] in ("#x", "#X"):
            code = int(body[2:], 16)
        elif body[:1] == "#":
            code = int(body[1:], 10)
        else:
            return None
        return chr(code), end + 1 - start
    except (ValueError, OverflowError):
        return None


class _HtmlParser:
    """One pass over the source, the way Telegram reads HTML: tags must nest strictly."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.pos = 0
        self.plain: list[str] = []
        self.plain_utf16 = 0
        self.stack: list[_OpenTag] = []
        self.entities: list[dict[str, Any]] = []

    def byte_offset(self, index: int) -> int:
        return len(self.source[:index].encode("utf-8"))

    def emit(self, text: str) -> None:
        self.plain.append(text)
        self.plain_utf16 += utf16_length(text)

    def parse(self) -> tuple[str, list[dict[str, Any]]]:
        source = self.source
        while self.pos < len(source):
            char = source[self.pos]
            if char == "&":
                decoded = _decode_entity(source, self.pos)
                if decoded is None:
                    self.emit("&")
                    self.pos += 1
                else:
                    self.emit(decoded[0])
                    self.pos += decoded[1]
            elif char == "<":
                self.read_tag()
            else:
                self.emit(char)
                self.pos += 1
        if self.stack:
            raise HtmlParseError(
                f'Can\'t find end tag corresponding to start tag "{self.stack[-1].name}"'
            )
        self.entities.sort(key=lambda entity: (entity["offset"], -entity["length"]))
        return "".join(self.plain), self.entities

    def skip_spaces(self) -> None:
        while self.pos < len(self.source) and self.source[self.pos].isspace():
            self.pos += 1

    def read_name(self) -> str:
        start = self.pos
        while self.pos < len(self.source) and _is_name_char(self.source[self.pos]):
            self.pos += 1
        return self.source[start : self.pos].lower()

    def read_tag(self) -> None:
        begin = self.pos
        self.pos += 1
        closing = self.source.startswith("/", self.pos)
        if closing:
            self.pos += 1
        name = self.read_name()
        if not name:
            if self.pos >= len(self.source):
                raise HtmlParseError(
                    f"Unclosed start tag at byte offset {self.byte_offset(begin)}"
                )
            raise HtmlParseError(
                f"Unexpected end of name token at byte offset {self.byte_offset(self.pos)}"
            )
        if closing:
            self.close_tag(name, begin)
        else:
            self.open_tag(name, begin)

    def open_tag(self, name: str, begin: int) -> None:
        if name not in _TAG_ENTITY:
            raise HtmlParseError(
                f'Unsupported start tag "{name}" at byte offset {self.byte_offset(begin)}'
            )
        attributes = self.read_attributes(name, begin)
        if name == "span" and attributes.get("class") != "tg-spoiler":
            raise HtmlParseError(
                f'Tag "span" must have class "tg-spoiler" at byte offset {self.byte_offset(begin)}'
            )
        if name == "tg-emoji" and "emoji-id" not in attributes:
            raise HtmlParseError(
                f'Tag "tg-emoji" must have attribute "emoji-id" at byte offset '
                f"{self.byte_offset(begin)}"
            )
        self.stack.append(_OpenTag(name, self.plain_utf16, attributes))

    def read_attributes(self, tag: str, begin: int) -> dict[str, str]:
        source = self.source
        attributes: dict[str, str] = {}
        while True:
            self.skip_spaces()
            if self.pos >= len(source):
                raise HtmlParseError(
                    f"Unclosed start tag at byte offset {self.byte_offset(begin)}"
                )
            if source[self.pos] == ">":
                self.pos += 1
                return attributes
            name = self.read_name()
            if not name:
                raise HtmlParseError(
                    f'Empty attribute name in the tag "{tag}" at byte offset '
                    f"{self.byte_offset(self.pos)}"
                )
            self.skip_spaces()
            if not source.startswith("=", self.pos):
                # A bare attribute such as <blockquote expandable>.
                attributes[name] = ""
                continue
            self.pos += 1
            self.skip_spaces()
            attributes[name] = self.read_attribute_value(begin)

    def read_attribute_value(self, begin: int) -> str:
        source = self.source
        if self.pos < len(source) and source[self.pos] in "\"'":
            quote = source[self.pos]
            end = source.find(quote, self.pos + 1)
            if end == -1:
                raise HtmlParseError(
                    f"Unclosed start tag at byte offset {self.byte_offset(begin)}"
                )
            raw = source[self.pos + 1 : end]
            self.pos = end + 1
        else:
            start = self.pos
            while self.pos < len(source) and not (
                source[self.pos].isspace() or source[self.pos] == ">"
            ):
                self.pos += 1
            raw = source[start : self.pos]
        return _decode_text(raw)

    def close_tag(self, name: str, begin: int) -> None:
        self.skip_spaces()
        if not self.source.startswith(">", self.pos):
            raise HtmlParseError(f"Unclosed end tag at byte offset {self.byte_offset(begin)}")
        self.pos += 1
        if not self.stack:
            raise HtmlParseError(f"Unexpected end tag at byte offset {self.byte_offset(begin)}")
        opened = self.stack[-1]
        if opened.name != name:
            raise HtmlParseError(
                f"Unmatched end tag at byte offset {self.byte_offset(begin)}, "
                f'expected "</{opened.name}>", found "</{name}>"'
            )
        self.stack.pop()
        length = self.plain_utf16 - opened.offset
        if length > 0:
            self.entities.append(self.make_entity(opened, length))

    def make_entity(self, opened: _OpenTag, length: int) -> dict[str, Any]:
        entity: dict[str, Any] = {
            "type": _TAG_ENTITY[opened.name],
            "offset": opened.offset,
            "length": length,
        }
        attributes = opened.attributes
        if opened.name == "a":
            href = attributes.get("href", "")
            if href.startswith("tg://user?id="):
                entity["type"] = "text_mention"
                user_id = href.removeprefix("tg://user?id=")
                entity["user"] = {"id": int(user_id) if user_id.isdigit() else 0}
            else:
                entity["url"] = href
        elif opened.name == "code" and self.stack and self.stack[-1].name == "pre":
            language = attributes.get("class", "")
            if language.startswith("language-"):
                entity["type"] = "pre"
                entity["language"] = language.removeprefix("language-")
        elif opened.name == "blockquote" and "expandable" in attributes:
            entity["type"] = "expandable_blockquote"
        elif opened.name == "tg-emoji":
            entity["custom_emoji_id"] = attributes["emoji-id"]
        return entity


def _decode_text(raw: str) -> str:
    parts: list[str] = []
    index = 0
    while index < len(raw):
        if raw[index] == "&" and (decoded := _decode_entity(raw, index)) is not None:
            parts.append(decoded[0])
            index += decoded[1]
        else:
            parts.append(raw[index])
            index += 1
    return "".join(parts)


def parse_html(source: str) -> tuple[str, list[dict[str, Any]]]:
    """Return the plain text and Bot API entities of an HTML-formatted text.

    Raises HtmlParseError with Telegram's sentence when the markup is invalid.
    """
    return _HtmlParser(source).parse()
