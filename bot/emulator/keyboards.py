"""Validation of reply markup, with the limits and errors Telegram applies."""

from __future__ import annotations

from typing import Any

from bot.emulator.entities import checked_link
from bot.emulator.errors import (
    BUTTON_DATA_INVALID,
    BUTTON_URL_INVALID,
    REPLY_MARKUP_TOO_LONG,
    bad_request,
)
from bot.emulator.params import Params

Markup = dict[str, Any]

_MARKUP_JSON_ERROR = "can't parse reply keyboard markup JSON object"
_MAX_BUTTONS = 100
_MAX_CALLBACK_DATA = 64
# An inline button must do exactly one thing; these are the fields that say what.
_INLINE_ACTIONS = (
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
)


def parse_reply_markup(params: Params, *, inline_only: bool = False) -> Markup | None:
    """Read and check the reply_markup parameter; None when it was not sent."""
    markup = params.get_json("reply_markup", _MARKUP_JSON_ERROR)
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise bad_request(_MARKUP_JSON_ERROR)
    if "inline_keyboard" in markup:
        return {"inline_keyboard": _inline_rows(markup["inline_keyboard"])}
    if inline_only:
        raise bad_request("inline keyboard expected")
    if "keyboard" in markup:
        return {**markup, "keyboard": _reply_rows(markup["keyboard"])}
    if markup.get("remove_keyboard") or markup.get("force_reply"):
        return dict(markup)
    raise bad_request(_MARKUP_JSON_ERROR)


def _inline_rows(rows: Any) -> list[list[dict[str, Any]]]:
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request("field \"inline_keyboard\" of the InlineKeyboardMarkup must be an Array")
    if sum(len(row) for row in rows) > _MAX_BUTTONS:
        raise bad_request(REPLY_MARKUP_TOO_LONG)
    return [[_inline_button(button) for button in row] for row in rows]


def _inline_button(button: Any) -> dict[str, Any]:
    if not isinstance(button, dict) or not isinstance(button.get("text"), str):
        raise bad_request(
            "can't parse inline keyboard button: Field \"text\" must be of type String"
        )
    actions = [name for name in _INLINE_ACTIONS if button.get(name) is not None]
    if not actions:
        raise bad_request(
            "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
        )
    if "callback_data" in actions:
        data = button["callback_data"]
        if not isinstance(data, str) or not 1 <= len(data.encode("utf-8")) <= _MAX_CALLBACK_DATA:
            raise bad_request(BUTTON_DATA_INVALID)
    if "url" in actions:
        link = checked_link(str(button["url"]))
        if link is None:
            raise bad_request(BUTTON_URL_INVALID)
        button = {**button, "url": link}
    return dict(button)


def _reply_rows(rows: Any) -> list[list[dict[str, Any]]]:
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request("field \"keyboard\" of the ReplyKeyboardMarkup must be an Array")
    result: list[list[dict[str, Any]]] = []
    for row in rows:
        buttons: list[dict[str, Any]] = []
        for button in row:
            # Plain strings are allowed and mean a button that sends its own text.
            item = {"text": button} if isinstance(button, str) else button
            if not isinstance(item, dict) or not isinstance(item.get("text"), str):
                raise bad_request(
                    "can't parse keyboard button: Field \"text\" must be of type String"
                )
            buttons.append(dict(item))
        result.append(buttons)
    return result
