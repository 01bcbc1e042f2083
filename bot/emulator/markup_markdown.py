"""Telegram's MarkdownV2 and legacy Markdown parse modes, ported from TDLib."""

from __future__ import annotations

import re
from typing import Any

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
    entities: list[ParsedEntity] = []
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
            mark_offset = byte_offset(text, i)
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
                    while at(lang_end) not in SPACE and at(lang_end) != "`":
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
            here = byte_offset(text, i)
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
                        f"Can't find end of a URL at byte offset {byte_offset(text, url_begin)}"
                    )
                url = "".join(chars)
            link = link_entity(offset, utf16 - offset, url, find_user)
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
                    f"{byte_offset(text, url_begin)}"
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
            entities.append(ParsedEntity(kind, offset, utf16 - offset, argument, user))
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
                entities.append(ParsedEntity(kind, offset, utf16 - offset))
            nested.pop()
    if nested:
        raise unclosed(nested[-1][0], nested[-1][3])
    return "".join(out), sorted_entities(e.to_api() for e in entities)


def parse_markdown(text: str, find_user: UserLookup | None = None) -> tuple[str, list[Entity]]:
    """Parse the legacy Markdown parse mode into plain text and entities."""
    n = len(text)
    out: list[str] = []
    utf16 = 0
    entities: list[ParsedEntity] = []
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
            while lang_end < n and text[lang_end] not in SPACE and text[lang_end] != "`":
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
                f"{byte_offset(text, begin)}"
            )
        if utf16 != offset:
            length = utf16 - offset
            if c == "_":
                entities.append(ParsedEntity("italic", offset, length))
            elif c == "*":
                entities.append(ParsedEntity("bold", offset, length))
            elif c == "[":
                url = text[begin + 1 : i]
                if i + 1 < n and text[i + 1] == "(":
                    close = text.find(")", i + 2)
                    close = n if close < 0 else close
                    url = text[i + 2 : close]
                    i = close
                link = link_entity(offset, length, url, find_user)
                if link:
                    entities.append(link)
            elif is_pre:
                kind = "pre_code" if language else "pre"
                entities.append(ParsedEntity(kind, offset, length, language))
            else:
                entities.append(ParsedEntity("code", offset, length))
        i += 3 if is_pre else 1
    return "".join(out), sorted_entities(e.to_api() for e in entities)
