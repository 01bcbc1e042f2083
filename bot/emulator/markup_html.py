"""Telegram's HTML parse mode, ported from TDLib's parse_html.

It accepts and rejects what Telegram accepts and rejects, with the same error text, because a
formatting bug in a handler should fail in a test exactly as it would fail against Telegram.
"""

from __future__ import annotations

import re

from bot.emulator.entities import (
    SPACE,
    Entity,
    EntityParseError,
    ParsedEntity,
    UserLookup,
    byte_offset,
    link_entity,
    sorted_entities,
    utf16_len,
)

_HTML_TAGS = frozenset(
    {"a", "b", "strong", "i", "em", "s", "strike", "del", "u", "ins"}
    | {"tg-spoiler", "tg-emoji", "span", "pre", "code", "blockquote"}
)


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
        return EntityParseError(f"{message} at byte offset {byte_offset(text, index)}")

    out: list[str] = []
    utf16 = 0
    entities: list[ParsedEntity] = []
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
            while at(i) not in SPACE and at(i) != ">":
                i += 1
            if i >= n:
                raise fail("Unclosed start tag", begin)
            tag = text[begin + 1 : i].lower()
            if tag not in _HTML_TAGS:
                raise fail(f'Unsupported start tag "{tag}"', begin)
            argument = ""
            while at(i) != ">":
                while i < n and at(i) in SPACE:
                    i += 1
                if at(i) == ">":
                    break
                attr_begin = i
                while at(i) not in SPACE and at(i) not in "=>/\"'":
                    i += 1
                attr_name = text[attr_begin:i]
                if not attr_name:
                    raise fail(f'Empty attribute name in the tag "{tag}"', begin)
                while i < n and at(i) in SPACE:
                    i += 1
                if at(i) != "=":
                    if i >= n:
                        raise fail(f'Unclosed start tag "{tag}"', begin)
                    if tag == "blockquote" and attr_name == "expandable":
                        argument = "1"
                    continue
                i += 1
                while i < n and at(i) in SPACE:
                    i += 1
                if i >= n:
                    raise fail(f'Unclosed start tag "{tag}"', begin)
                if at(i) not in "'\"":
                    token_begin = i
                    while at(i).isascii() and (at(i).isalnum() or at(i) in ".-"):
                        i += 1
                    value = text[token_begin:i].lower()
                    if at(i) not in SPACE and at(i) != ">":
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
        while at(i) not in SPACE and at(i) != ">":
            i += 1
        end_tag = text[begin + 2 : i].lower()
        while i < n and at(i) in SPACE:
            i += 1
        if at(i) != ">":
            raise fail("Unclosed end tag", begin)
        tag, argument, offset, out_index = nested.pop()
        if end_tag and end_tag != tag:
            raise EntityParseError(
                f"Unmatched end tag at byte offset {byte_offset(text, begin)}, "
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
    return "".join(out), sorted_entities(e.to_api() for e in entities)


def _close_html_tag(
    tag: str,
    argument: str,
    offset: int,
    length: int,
    inner_text: str,
    entities: list[ParsedEntity],
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
        entities.append(ParsedEntity(simple[tag], offset, length))
    elif tag == "tg-emoji":
        if not argument.isdigit() or int(argument) == 0:
            raise EntityParseError("Invalid custom emoji identifier specified")
        entities.append(ParsedEntity("custom_emoji", offset, length, argument))
    elif tag == "a":
        link = link_entity(offset, length, argument or inner_text, find_user)
        if link:
            entities.append(link)
    elif tag == "pre":
        # <pre><code class="language-x"> is one pre entity with a language.
        if same_span and last is not None and last.type == "code" and last.argument:
            last.type = "pre_code"
        else:
            entities.append(ParsedEntity("pre", offset, length))
    elif tag == "code":
        if same_span and last is not None and last.type == "pre" and argument:
            last.type = "pre_code"
            last.argument = argument
        else:
            entities.append(ParsedEntity("code", offset, length, argument))
    elif tag == "blockquote":
        kind = "expandable_blockquote" if argument else "blockquote"
        entities.append(ParsedEntity(kind, offset, length))
