"""Telegram text formatting: parse modes, UTF-16 entity offsets and auto-detected entities.

The parsers follow TDLib's (td/telegram/MessageEntity.cpp) closely enough to accept and reject
the same input with the same error text, because a formatting bug in a handler should fail in a
test exactly as it would fail against Telegram.
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
_SPACE = frozenset(" \t\r\n\0\v")
_HTML_TAGS = frozenset(
    {"a", "b", "strong", "i", "em", "s", "strike", "del", "u", "ins"}
    | {"tg-spoiler", "tg-emoji", "span", "pre", "code", "blockquote"}
)
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
# TDLib's names for entity types, used verbatim in MarkdownV2 error messages.
_TD_NAMES = {
    "bold": "Bold",
    "italic": "Italic",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "code": "Code",
    "pre": "Pre",
    "pre_code": "PreCode",
    "text_link": "TextUrl",
    "custom_emoji": "CustomEmoji",
    "blockquote": "BlockQuote",
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


def _byte_offset(text: str, index: int) -> int:
    # TDLib reports positions in bytes of the UTF-8 input.
    return len(text[:index].encode("utf-8"))


@dataclass(slots=True)
class _Ent:
    type: str
    offset: int
    length: int
    argument: str = ""
    user: dict[str, Any] | None = None

    def to_api(self) -> Entity:
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


def _sorted(entities: Iterable[Entity]) -> list[Entity]:
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


def _link_entity(
    offset: int, length: int, url: str, find_user: UserLookup | None
) -> _Ent | None:
    match = re.fullmatch(r"tg://user\?id=(\d+)", url.strip())
    if match:
        user = find_user(int(match.group(1))) if find_user else None
        # Telegram only links users the bot can see; others silently lose the entity.
        return _Ent("text_mention", offset, length, user=user) if user else None
    link = checked_link(url)
    return _Ent("text_link", offset, length, link) if link else None


def _decode_html_entity(text: str, pos: int) -> tuple[str, int] | None:
    """Decode a character reference at `pos`; None leaves the "&" as a literal, like TDLib."""
    n = len(text)
    end = pos + 1
    code = 0
    if end < n and text[end] == "#":
        end += 1
        if end < n and text[end] == "x":
            end += 1
            while end < n and text[end] in "0123456789abcdefABCDEF":
                code = code * 16 + int(text[end], 16)
                end += 1
        else:
            while end < n and text[end].isascii() and text[end].isdigit():
                code = code * 10 + int(text[end])
                end += 1
        if code == 0 or code >= 0x10FFFF or end - pos >= 10:
            return None
        if 0xD800 <= code <= 0xDFFF:
            raise EntityParseError(
                "Text contains invalid Unicode characters after decoding HTML entities, "
                "check for unmatched surrogate code units"
            )
    else:
        while end < n and text[end].isascii() and text[end].isalpha():
            end += 1
        name = text[pos + 1 : end]
        named = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}.get(name)
        if named is None:
            return None
        code = ord(named)
    if end < n and text[end] == ";":
        end += 1
    return chr(code), end


_HTML_SPECIAL = re.compile(r"[<&]")


def parse_html(text: str, find_user: UserLookup | None = None) -> tuple[str, list[Entity]]:
    """Parse Telegram's HTML parse mode into plain text and entities."""
    n = len(text)

    def at(i: int) -> str:
        return text[i] if i < n else "\0"

    def fail(message: str, index: int | None = None) -> EntityParseError:
        if index is None:
            return EntityParseError(message)
        return EntityParseError(f"{message} at byte offset {_byte_offset(text, index)}")

    out: list[str] = []
    utf16 = 0
    entities: list[_Ent] = []
    # (tag, argument, utf16 offset, index into `out` where the entity's text starts)
    nested: list[tuple[str, str, int, int]] = []
    i = 0
    while i < n:
        c = text[i]
        if c == "&":
            decoded = _decode_html_entity(text, i)
            if decoded:
                out.append(decoded[0])
                utf16 += utf16_len(decoded[0])
                i = decoded[1]
                continue
        if c != "<":
            match = _HTML_SPECIAL.search(text, i + 1)
            j = match.start() if match else n
            out.append(text[i:j])
            utf16 += utf16_len(text[i:j])
            i = j
            continue

        begin = i
        i += 1
        if at(i) != "/":
            while at(i) not in _SPACE and at(i) != ">":
                i += 1
            if i >= n:
                raise fail("Unclosed start tag", begin)
            tag = text[begin + 1 : i].lower()
            if tag not in _HTML_TAGS:
                raise fail(f'Unsupported start tag "{tag}"', begin)
            argument = ""
            while at(i) != ">":
                while i < n and at(i) in _SPACE:
                    i += 1
                if at(i) == ">":
                    break
                attr_begin = i
                while at(i) not in _SPACE and at(i) not in "=>/\"'":
                    i += 1
                attr_name = text[attr_begin:i]
                if not attr_name:
                    raise fail(f'Empty attribute name in the tag "{tag}"', begin)
                while i < n and at(i) in _SPACE:
                    i += 1
                if at(i) != "=":
                    if i >= n:
                        raise fail(f'Unclosed start tag "{tag}"', begin)
                    if tag == "blockquote" and attr_name == "expandable":
                        argument = "1"
                    continue
                i += 1
                while i < n and at(i) in _SPACE:
                    i += 1
                if i >= n:
                    raise fail(f'Unclosed start tag "{tag}"', begin)
                if at(i) not in "'\"":
                    token_begin = i
                    while at(i).isascii() and (at(i).isalnum() or at(i) in ".-"):
                        i += 1
                    value = text[token_begin:i].lower()
                    if at(i) not in _SPACE and at(i) != ">":
                        raise fail("Unexpected end of name token", token_begin)
                else:
                    quote = at(i)
                    i += 1
                    chars: list[str] = []
                    while i < n and at(i) != quote:
                        if at(i) == "&":
                            decoded = _decode_html_entity(text, i)
                            if decoded:
                                chars.append(decoded[0])
                                i = decoded[1]
                                continue
                        chars.append(at(i))
                        i += 1
                    if i < n:
                        i += 1
                    value = "".join(chars)
                if i >= n:
                    raise fail("Unclosed start tag", begin)
                if tag == "a" and attr_name == "href":
                    argument = value
                elif tag == "code" and attr_name == "class" and value.startswith("language-"):
                    argument = value[len("language-") :]
                elif tag == "span" and attr_name == "class" and value.startswith("tg-"):
                    argument = value[len("tg-") :]
                elif tag == "tg-emoji" and attr_name == "emoji-id":
                    argument = value
                elif tag == "blockquote" and attr_name == "expandable":
                    argument = "1"
            if tag == "span" and argument != "spoiler":
                raise fail('Tag "span" must have class "tg-spoiler"', begin)
            nested.append((tag, argument, utf16, len(out)))
            i += 1
            continue

        if not nested:
            raise fail("Unexpected end tag", begin)
        while at(i) not in _SPACE and at(i) != ">":
            i += 1
        end_tag = text[begin + 2 : i].lower()
        while i < n and at(i) in _SPACE:
            i += 1
        if at(i) != ">":
            raise fail("Unclosed end tag", begin)
        tag, argument, offset, out_index = nested.pop()
        if end_tag and end_tag != tag:
            raise EntityParseError(
                f"Unmatched end tag at byte offset {_byte_offset(text, begin)}, "
                f'expected "</{tag}>", found "</{end_tag}>"'
            )
        if utf16 > offset:
            _close_html_tag(tag, argument, offset, utf16 - offset, "".join(out[out_index:]),
                            entities, find_user)
        i += 1

    if nested:
        raise EntityParseError(
            f'Can\'t find end tag corresponding to start tag "{nested[-1][0]}"'
        )
    for ent in entities:
        if ent.type == "code":
            ent.argument = ""
    return "".join(out), _sorted(e.to_api() for e in entities)


def _close_html_tag(
    tag: str,
    argument: str,
    offset: int,
    length: int,
    inner_text: str,
    entities: list[_Ent],
    find_user: UserLookup | None,
) -> None:
    simple = {
        "i": "italic",
        "em": "italic",
        "b": "bold",
        "strong": "bold",
        "s": "strikethrough",
        "strike": "strikethrough",
        "del": "strikethrough",
        "u": "underline",
        "ins": "underline",
        "tg-spoiler": "spoiler",
        "span": "spoiler",
    }
    last = entities[-1] if entities else None
    same_span = last is not None and last.offset == offset and last.length == length
    if tag in simple:
        entities.append(_Ent(simple[tag], offset, length))
    elif tag == "tg-emoji":
        if not argument.isdigit() or int(argument) == 0:
            raise EntityParseError("Invalid custom emoji identifier specified")
        entities.append(_Ent("custom_emoji", offset, length, argument))
    elif tag == "a":
        link = _link_entity(offset, length, argument or inner_text, find_user)
        if link:
            entities.append(link)
    elif tag == "pre":
        # <pre><code class="language-x"> is one pre entity with a language.
        if same_span and last is not None and last.type == "code" and last.argument:
            last.type = "pre_code"
        else:
            entities.append(_Ent("pre", offset, length))
    elif tag == "code":
        if same_span and last is not None and last.type == "pre" and argument:
            last.type = "pre_code"
            last.argument = argument
        else:
            entities.append(_Ent("code", offset, length, argument))
    elif tag == "blockquote":
        kind = "expandable_blockquote" if argument else "blockquote"
        entities.append(_Ent(kind, offset, length))


def parse_markdown_v2(text: str, find_user: UserLookup | None = None) -> tuple[str, list[Entity]]:
    """Parse Telegram's MarkdownV2 parse mode into plain text and entities."""
    n = len(text)

    def at(i: int) -> str:
        return text[i] if i < n else "\0"

    def reserved(ch: str) -> EntityParseError:
        return EntityParseError(
            f"Character '{ch}' is reserved and must be escaped with the preceding '\\'"
        )

    def unclosed(kind: str, byte_offset: int) -> EntityParseError:
        return EntityParseError(
            f"Can't find end of {_TD_NAMES[kind]} entity at byte offset {byte_offset}"
        )

    out: list[str] = []
    utf16 = 0
    entities: list[_Ent] = []
    # (type, argument, utf16 offset, byte offset of the opening mark, index into `out`)
    nested: list[list[Any]] = []
    have_blockquote = False
    can_start_blockquote = True
    i = 0
    while i < n:
        c = text[i]
        if c == "\\" and "\0" < at(i + 1) <= "~":
            i += 1
            utf16 += 1
            out.append(text[i])
            if text[i] != "\r":
                can_start_blockquote = text[i] == "\n"
            i += 1
            continue
        reserved_chars = "_*[]()~`>#+-=|{}.!\n"
        if nested and nested[-1][0] in ("code", "pre", "pre_code"):
            reserved_chars = "`"
        if c not in reserved_chars:
            utf16 += utf16_len(c)
            if c != "\r":
                can_start_blockquote = False
            out.append(c)
            i += 1
            continue

        top = nested[-1][0] if nested else None
        is_end = False
        if nested:
            if have_blockquote and c == "\n" and (i + 1 == n or text[i + 1] != ">"):
                is_end = True
            else:
                is_end = {
                    "bold": c == "*",
                    "italic": c == "_" and at(i + 1) != "_",
                    "code": c == "`",
                    "pre": c == "`" and at(i + 1) == "`" and at(i + 2) == "`",
                    "pre_code": c == "`" and at(i + 1) == "`" and at(i + 2) == "`",
                    "text_link": c == "]",
                    "underline": c == "_" and at(i + 1) == "_",
                    "strikethrough": c == "~",
                    "spoiler": c == "|" and at(i + 1) == "|",
                    "custom_emoji": c == "]",
                    "blockquote": False,
                }[top or "blockquote"]

        if not is_end:
            kind: str | None
            argument = ""
            mark_offset = _byte_offset(text, i)
            if c == "_":
                if at(i + 1) == "_":
                    kind = "underline"
                    i += 1
                else:
                    kind = "italic"
            elif c == "*":
                kind = "bold"
            elif c == "~":
                kind = "strikethrough"
            elif c == "|":
                if at(i + 1) != "|":
                    raise reserved(c)
                i += 1
                kind = "spoiler"
            elif c == "[":
                kind = "text_link"
            elif c == "`":
                if at(i + 1) == "`" and at(i + 2) == "`":
                    i += 3
                    kind = "pre"
                    lang_end = i
                    while at(lang_end) not in _SPACE and at(lang_end) != "`":
                        lang_end += 1
                    if i != lang_end and lang_end < n and text[lang_end] != "`":
                        kind = "pre_code"
                        argument = text[i:lang_end]
                        i = lang_end
                    if at(i) in "\n\r":
                        if at(i + 1) in "\n\r" and at(i) != at(i + 1):
                            i += 2
                        else:
                            i += 1
                    i -= 1
                else:
                    kind = "code"
            elif c == "!":
                if at(i + 1) != "[":
                    raise reserved(c)
                i += 1
                kind = "custom_emoji"
            elif c == "\n":
                utf16 += 1
                out.append("\n")
                can_start_blockquote = True
                kind = None
            elif c == ">":
                if not can_start_blockquote:
                    raise reserved(c)
                if have_blockquote:
                    kind = None
                else:
                    kind = "blockquote"
                    have_blockquote = True
            else:
                raise reserved(c)
            if kind is not None:
                nested.append([kind, argument, utf16, mark_offset, len(out)])
            i += 1
            continue

        kind = nested[-1][0]
        if c == "\n" and kind != "blockquote":
            # "**>quote||" ends an expandable blockquote: a spoiler mark right before the newline.
            opened_at = nested[-1][3]
            here = _byte_offset(text, i)
            if kind != "spoiler" or not (
                opened_at == here - 2 or (opened_at == here - 3 and out and out[-1] == "\r")
            ):
                raise unclosed(kind, opened_at)
            nested.pop()
            kind = nested[-1][0]
            if kind != "blockquote":
                raise unclosed(kind, nested[-1][3])
            kind = "expandable_blockquote"
        _, argument, offset, _, out_index = nested[-1]
        skip = utf16 == offset
        user: dict[str, Any] | None = None
        if kind in ("underline", "spoiler"):
            i += 1
        elif kind in ("pre", "pre_code"):
            i += 2
        elif kind == "text_link":
            if at(i + 1) != "(":
                url = "".join(out[out_index:])
            else:
                i += 2
                url_begin = i
                chars: list[str] = []
                while i < n and text[i] != ")":
                    if text[i] == "\\" and "\0" < at(i + 1) <= "~":
                        chars.append(text[i + 1])
                        i += 2
                        continue
                    chars.append(text[i])
                    i += 1
                if at(i) != ")":
                    raise EntityParseError(
                        f"Can't find end of a URL at byte offset {_byte_offset(text, url_begin)}"
                    )
                url = "".join(chars)
            link = _link_entity(offset, utf16 - offset, url, find_user)
            if link is None:
                skip = True
            else:
                kind, argument, user = link.type, link.argument, link.user
        elif kind == "custom_emoji":
            if at(i + 1) != "(":
                raise EntityParseError("Custom emoji entity must contain a tg://emoji URL")
            i += 2
            url_begin = i
            while i < n and text[i] != ")":
                i += 1
            if at(i) != ")":
                raise EntityParseError(
                    "Can't find end of a custom emoji URL at byte offset "
                    f"{_byte_offset(text, url_begin)}"
                )
            match = re.fullmatch(r"tg://emoji\?id=(\d+)", text[url_begin:i])
            if not match:
                raise EntityParseError("Invalid custom emoji identifier specified")
            argument = match.group(1)
        elif kind in ("blockquote", "expandable_blockquote"):
            have_blockquote = False
            out.append(c)
            can_start_blockquote = True
            utf16 += 1
            skip = False
        if not skip:
            entities.append(_Ent(kind, offset, utf16 - offset, argument, user))
        nested.pop()
        i += 1

    if have_blockquote:
        kind = "blockquote"
        if nested[-1][0] == "spoiler" and nested[-1][3] == len(text.encode("utf-8")) - 2:
            nested.pop()
            kind = "expandable_blockquote"
        if nested[-1][0] == "blockquote":
            offset = nested[-1][2]
            if utf16 != offset:
                entities.append(_Ent(kind, offset, utf16 - offset))
            nested.pop()
    if nested:
        raise unclosed(nested[-1][0], nested[-1][3])
    return "".join(out), _sorted(e.to_api() for e in entities)


def parse_markdown(text: str, find_user: UserLookup | None = None) -> tuple[str, list[Entity]]:
    """Parse the legacy Markdown parse mode into plain text and entities."""
    n = len(text)
    out: list[str] = []
    utf16 = 0
    entities: list[_Ent] = []
    i = 0
    while i < n:
        c = text[i]
        if c == "\\" and i + 1 < n and text[i + 1] in "_*`[":
            out.append(text[i + 1])
            utf16 += 1
            i += 2
            continue
        if c not in "_*`[":
            out.append(c)
            utf16 += utf16_len(c)
            i += 1
            continue
        begin = i
        end_char = "]" if c == "[" else c
        is_pre = False
        language = ""
        i += 1
        if c == "`" and text[i : i + 2] == "``":
            i += 2
            is_pre = True
            lang_end = i
            while lang_end < n and text[lang_end] not in _SPACE and text[lang_end] != "`":
                lang_end += 1
            if i != lang_end and lang_end < n and text[lang_end] != "`":
                language = text[i:lang_end]
                i = lang_end
            if i < n and text[i] in "\n\r":
                pair = text[i : i + 2]
                i += 2 if len(pair) == 2 and pair[1] in "\n\r" and pair[0] != pair[1] else 1
        offset = utf16
        while i < n and (text[i] != end_char or (is_pre and text[i + 1 : i + 3] != "``")):
            out.append(text[i])
            utf16 += utf16_len(text[i])
            i += 1
        if i == n:
            raise EntityParseError(
                "Can't find end of the entity starting at byte offset "
                f"{_byte_offset(text, begin)}"
            )
        if utf16 != offset:
            length = utf16 - offset
            if c == "_":
                entities.append(_Ent("italic", offset, length))
            elif c == "*":
                entities.append(_Ent("bold", offset, length))
            elif c == "[":
                url = text[begin + 1 : i]
                if i + 1 < n and text[i + 1] == "(":
                    close = text.find(")", i + 2)
                    close = n if close < 0 else close
                    url = text[i + 2 : close]
                    i = close
                link = _link_entity(offset, length, url, find_user)
                if link:
                    entities.append(link)
            elif is_pre:
                kind = "pre_code" if language else "pre"
                entities.append(_Ent(kind, offset, length, language))
            else:
                entities.append(_Ent("code", offset, length))
        i += 3 if is_pre else 1
    return "".join(out), _sorted(e.to_api() for e in entities)


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
    return _sorted([*entities, *kept])


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
    return _sorted(result)


def format_text(
    text: str,
    parse_mode: str | None,
    explicit: Any,
    find_user: UserLookup | None = None,
) -> tuple[str, list[Entity]]:
    """Turn the text a bot sent into what a user sees: plain text plus entities."""
    mode = (parse_mode or "").lower()
    if text and mode and mode != "none":
        parser = {
            "html": parse_html,
            "markdownv2": parse_markdown_v2,
            "markdown": parse_markdown,
        }.get(mode)
        if parser is None:
            raise bad_request("unsupported parse_mode")
        try:
            plain, entities = parser(text, find_user)
        except EntityParseError as exc:
            raise parse_error(exc) from None
    else:
        plain, entities = text, clean_explicit(text, explicit)
    plain, entities = trim(plain, entities)
    return plain, merge_detected(plain, entities)
