"""Message entities: UTF-16 offsets, links, trimming and the entities Telegram detects itself.

The parse modes live in markup_html and markup_markdown; formatting ties them together.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from bot.emulator.errors import BotApiError, bad_request

Entity = dict[str, Any]
UserLookup = Callable[[int], "dict[str, Any] | None"]

# TDLib's is_space(); "\0" doubles as the end-of-text sentinel of its C strings.
SPACE = frozenset(" \t\r\n\0\v")

# TDLib orders entities starting at the same offset by length, then by this priority.
_PRIORITY = {
    "mention": 50,
    "hashtag": 50,
    "bot_command": 50,
    "url": 50,
    "email": 50,
    "cashtag": 50,
    "phone_number": 50,
    "bold": 90,
    "italic": 91,
    "code": 20,
    "pre": 11,
    "text_link": 49,
    "text_mention": 49,
    "underline": 92,
    "strikethrough": 93,
    "blockquote": 0,
    "expandable_blockquote": 0,
    "spoiler": 94,
    "custom_emoji": 99,
}


class EntityParseError(Exception):
    """Markup that Telegram refuses; the message is TDLib's, without the common prefix."""


def parse_error(exc: EntityParseError) -> BotApiError:
    """The Bot API answer for a markup error."""
    return bad_request(f"can't parse entities: {exc}")


def utf16_len(text: str) -> int:
    """Length of `text` in UTF-16 code units, the unit of entity offsets."""
    if text.isascii():
        return len(text)
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def utf16_slice(text: str, offset: int, length: int) -> str:
    """The part of `text` an entity covers."""
    data = text.encode("utf-16-le")
    return data[2 * offset : 2 * (offset + length)].decode("utf-16-le", "replace")


def byte_offset(text: str, index: int) -> int:
    """Position of `text[index]` in UTF-8 bytes, the unit TDLib's error messages use."""
    return len(text[:index].encode("utf-8"))


@dataclass(slots=True)
class ParsedEntity:
    """An entity under construction; `argument` is the URL, language or custom emoji id."""

    type: str
    offset: int
    length: int
    argument: str = ""
    user: dict[str, Any] | None = None

    def to_api(self) -> Entity:
        """The MessageEntity object."""
        kind = "pre" if self.type == "pre_code" else self.type
        entity: Entity = {"type": kind, "offset": self.offset, "length": self.length}
        if self.type == "pre_code":
            entity["language"] = self.argument
        elif self.type == "text_link":
            entity["url"] = self.argument
        elif self.type == "custom_emoji":
            entity["custom_emoji_id"] = self.argument
        elif self.type == "text_mention":
            entity["user"] = self.user
        return entity


def sorted_entities(entities: Iterable[Entity]) -> list[Entity]:
    """Entities in TDLib's order: by offset, longer first, then by type priority."""
    return sorted(
        entities, key=lambda e: (e["offset"], -e["length"], _PRIORITY.get(e["type"], 50))
    )


def checked_link(url: str) -> str | None:
    """Normalise a link the way Telegram stores it, or None when Telegram would drop it."""
    url = url.strip()
    if not url or any(ch.isspace() for ch in url):
        return None
    if url.lower().startswith(("tg://", "ton://", "tonsite://")):
        return url
    if "://" not in url:
        url = "http://" + url
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https", "ftp") or "." not in host:
        return None
    if not parts.path:
        url = urlunsplit((parts.scheme, parts.netloc, "/", parts.query, parts.fragment))
    return url


def link_entity(
    offset: int, length: int, url: str, find_user: UserLookup | None
) -> ParsedEntity | None:
    """A text_link, or a text_mention for tg://user?id=..., or None if Telegram drops it."""
    match = re.fullmatch(r"tg://user\?id=(\d+)", url.strip())
    if match:
        user = find_user(int(match.group(1))) if find_user else None
        # Telegram only links users the bot can see; others silently lose the entity.
        return ParsedEntity("text_mention", offset, length, user=user) if user else None
    link = checked_link(url)
    return ParsedEntity("text_link", offset, length, link) if link else None


# Auto-detected entities, as Telegram adds them to every text message.
_BOT_COMMAND = re.compile(r"(?<![\w/<>])/[a-zA-Z0-9_]{1,64}(?:@[a-zA-Z0-9_]{3,32})?(?![\w/<>@])")
_MENTION = re.compile(r"(?<!\w)@[a-zA-Z0-9_]{4,32}(?!\w)")
_HASHTAG = re.compile(r"(?<![\w#])#(?=\w*[^\W\d_])\w{1,256}(?![\w#])")
_URL = re.compile(r"(?<![\w@/])(?:https?://|www\.)[^\s<>\"]+", re.IGNORECASE)
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[a-zA-Z0-9-]+(?:\.[a-zA-Z0-9-]+)*\.[a-zA-Z]{2,}(?!\w)")
_URL_TRAILING = ".,;:!?)]}'\""
# Explicit entities of these types hide anything Telegram would otherwise detect inside them.
_OPAQUE = frozenset({"code", "pre", "text_link", "text_mention", "custom_emoji"})


def find_entities(text: str) -> list[Entity]:
    """Entities Telegram detects by itself: commands, mentions, hashtags, URLs, e-mails."""
    if text.isascii() and not any(ch in text for ch in "/@#.w"):
        return []
    found: list[tuple[int, int, str]] = []
    for kind, pattern in (
        ("bot_command", _BOT_COMMAND),
        ("mention", _MENTION),
        ("hashtag", _HASHTAG),
        ("email", _EMAIL),
    ):
        found.extend((m.start(), m.end(), kind) for m in pattern.finditer(text))
    for m in _URL.finditer(text):
        end = m.end()
        while end > m.start() and text[end - 1] in _URL_TRAILING:
            end -= 1
        found.append((m.start(), end, "url"))
    # Keep the earliest (and then longest) of overlapping matches, as TDLib does.
    found.sort(key=lambda f: (f[0], -(f[1] - f[0])))
    result: list[Entity] = []
    last_end = 0
    for start, end, kind in found:
        if start < last_end:
            continue
        last_end = end
        offset = utf16_len(text[:start])
        result.append({"type": kind, "offset": offset, "length": utf16_len(text[start:end])})
    return result


def merge_detected(text: str, entities: list[Entity]) -> list[Entity]:
    """Add auto-detected entities that do not fall inside code, pre or links."""
    detected = find_entities(text)
    if not detected:
        return entities
    opaque = [(e["offset"], e["offset"] + e["length"]) for e in entities if e["type"] in _OPAQUE]
    kept = [
        d
        for d in detected
        if not any(
            d["offset"] < end and start < d["offset"] + d["length"] for start, end in opaque
        )
    ]
    return sorted_entities([*entities, *kept])


def _is_trimmed(ch: str) -> bool:
    return ord(ch) <= 0x20


def trim(text: str, entities: list[Entity]) -> tuple[str, list[Entity]]:
    """Strip leading and trailing whitespace, shifting and clipping entities like Telegram."""
    start = 0
    while start < len(text) and _is_trimmed(text[start]):
        start += 1
    end = len(text)
    while end > start and _is_trimmed(text[end - 1]):
        end -= 1
    if start == 0 and end == len(text):
        return text, entities
    shift = start  # leading characters are ASCII, so code points equal UTF-16 units
    new_len = utf16_len(text[start:end])
    result: list[Entity] = []
    for entity in entities:
        begin = max(entity["offset"] - shift, 0)
        stop = min(entity["offset"] + entity["length"] - shift, new_len)
        if stop > begin:
            result.append({**entity, "offset": begin, "length": stop - begin})
    return text[start:end], result


def clean_explicit(text: str, raw: Any) -> list[Entity]:
    """Validate an explicit `entities` array, clipping entities to the text like Telegram."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise bad_request("can't parse entities JSON object")
    total = utf16_len(text)
    result: list[Entity] = []
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("type"), str):
            raise bad_request("can't parse MessageEntity JSON object")
        try:
            offset, length = int(item["offset"]), int(item["length"])
        except (KeyError, TypeError, ValueError):
            raise bad_request("can't parse MessageEntity JSON object") from None
        if offset < 0 or length <= 0 or offset >= total:
            continue
        length = min(length, total - offset)
        result.append({**item, "offset": offset, "length": length})
    return sorted_entities(result)
