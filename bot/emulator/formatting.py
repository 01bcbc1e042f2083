"""From the text a bot sends to what a user sees: parse mode, trimming, detected entities."""

from __future__ import annotations

from typing import Any

from bot.emulator.entities import (
    Entity,
    EntityParseError,
    UserLookup,
    clean_explicit,
    merge_detected,
    parse_error,
    trim,
)
from bot.emulator.errors import bad_request
from bot.emulator.markup_html import parse_html
from bot.emulator.markup_markdown import parse_markdown, parse_markdown_v2


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
