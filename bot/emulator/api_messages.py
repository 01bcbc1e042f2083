"""Text messages: sending, editing, deleting, callback answers and chat actions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.emulator.errors import (
    CAPTION_TOO_LONG,
    MESSAGE_CANT_BE_EDITED,
    MESSAGE_TO_DELETE_NOT_FOUND,
    MESSAGE_TO_EDIT_NOT_FOUND,
    NO_TEXT_TO_EDIT,
    NOT_MODIFIED,
    QUERY_INVALID,
    REPLY_NOT_FOUND,
    TEXT_EMPTY,
    TEXT_TOO_LONG,
    bad_request,
)
from bot.emulator.keyboards import parse_reply_markup
from bot.emulator.params import Params
from bot.emulator.records import CallbackAnswer, ChatRecord, StoredMessage
from bot.emulator.state import EmulatorState

if TYPE_CHECKING:
    from bot.emulator.entities import Entity

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_ANSWER = 200
CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
_ENTITIES_ERROR = "can't parse entities JSON object"


def message_text(emu: EmulatorState, p: Params) -> tuple[str, list[Entity]]:
    """The text parameter as the user will see it; empty text is refused."""
    text = p.get_str("text") or ""
    if not text:
        raise bad_request(TEXT_EMPTY)
    entities = p.get_json("entities", _ENTITIES_ERROR)
    plain, parsed = emu.format(text, p.get_str("parse_mode"), entities)
    if not plain:
        raise bad_request(TEXT_EMPTY)
    return plain, parsed


def caption(emu: EmulatorState, p: Params) -> tuple[str | None, list[Entity]]:
    """The caption parameter as the user will see it; None when absent or blank."""
    text = p.get_str("caption")
    if not text:
        return None, []
    entities = p.get_json("caption_entities", _ENTITIES_ERROR)
    plain, parsed = emu.format(text, p.get_str("parse_mode"), entities)
    if len(plain) > MAX_CAPTION:
        raise bad_request(CAPTION_TOO_LONG)
    return (plain or None), parsed


def reply_target(p: Params, chat: ChatRecord) -> StoredMessage | None:
    """The message being replied to, from reply_parameters or reply_to_message_id."""
    reply = p.get_json("reply_parameters", "can't parse reply parameters JSON object")
    allow_missing = p.get_bool("allow_sending_without_reply")
    if isinstance(reply, dict):
        message_id = reply.get("message_id")
        allow_missing = bool(reply.get("allow_sending_without_reply", allow_missing))
    else:
        message_id = p.get_int("reply_to_message_id")
    if message_id is None:
        return None
    target = chat.live(int(message_id))
    if target is None and not allow_missing:
        raise bad_request(REPLY_NOT_FOUND)
    return target


def send(
    emu: EmulatorState, p: Params, chat: ChatRecord, markup: dict[str, Any] | None, **content: Any
) -> dict[str, Any]:
    """The common tail of every send method: reply, flood control, storing, keyboards."""
    reply_to = reply_target(p, chat)
    emu.flood.check(chat.id)
    message = emu.post(
        chat,
        emu.bot,
        reply_markup=markup,
        reply_to=reply_to,
        protect_content=p.get_bool("protect_content"),
        **content,
    )
    # A reply keyboard stays under the chat's input field until replaced or removed.
    if markup is not None and "keyboard" in markup:
        chat.reply_keyboard = markup
    elif markup is not None and markup.get("remove_keyboard"):
        chat.reply_keyboard = None
    return message.to_api()


async def send_message(emu: EmulatorState, p: Params) -> dict[str, Any]:
    """sendMessage."""
    text, entities = message_text(emu, p)
    markup = parse_reply_markup(p)
    chat = emu.find_chat(p.chat_id())
    emu.check_can_write(chat)
    if len(text) > MAX_TEXT:
        raise bad_request(TEXT_TOO_LONG)
    return send(emu, p, chat, markup, text=text, entities=entities)


def editable(emu: EmulatorState, p: Params) -> StoredMessage:
    """The message an edit method targets, checked the way Telegram checks it."""
    if p.has("inline_message_id"):
        raise bad_request("inline messages are not supported by the Kassa Bot API emulator")
    chat = emu.find_chat(p.chat_id())
    message = chat.live(p.message_id())
    if message is None:
        raise bad_request(MESSAGE_TO_EDIT_NOT_FOUND)
    if not message.from_bot:
        raise bad_request(MESSAGE_CANT_BE_EDITED)
    emu.check_can_write(chat)
    return message


def apply_edit(emu: EmulatorState, message: StoredMessage, **changes: Any) -> dict[str, Any]:
    """Change a message in place, refusing an edit that changes nothing as Telegram does."""
    if all(getattr(message, name) == value for name, value in changes.items()):
        raise bad_request(NOT_MODIFIED)
    emu.flood.check(message.chat.id)
    for name, value in changes.items():
        setattr(message, name, value)
    message.edit_date = emu.now()
    message.edits += 1
    return message.to_api()


async def edit_message_text(emu: EmulatorState, p: Params) -> dict[str, Any]:
    """editMessageText; leaving out reply_markup removes the inline keyboard, as on Telegram."""
    text, entities = message_text(emu, p)
    markup = parse_reply_markup(p, inline_only=True)
    message = editable(emu, p)
    if message.text is None:
        raise bad_request(NO_TEXT_TO_EDIT)
    if len(text) > MAX_TEXT:
        raise bad_request(TEXT_TOO_LONG)
    return apply_edit(emu, message, text=text, entities=entities, reply_markup=markup)


async def edit_message_caption(emu: EmulatorState, p: Params) -> dict[str, Any]:
    """editMessageCaption."""
    text, entities = caption(emu, p)
    markup = parse_reply_markup(p, inline_only=True)
    message = editable(emu, p)
    if message.document is None and message.photo is None:
        raise bad_request("there is no caption in the message to edit")
    return apply_edit(
        emu, message, caption=text, caption_entities=entities, reply_markup=markup
    )


async def edit_message_reply_markup(emu: EmulatorState, p: Params) -> dict[str, Any]:
    """editMessageReplyMarkup."""
    markup = parse_reply_markup(p, inline_only=True)
    message = editable(emu, p)
    return apply_edit(emu, message, reply_markup=markup)


async def delete_message(emu: EmulatorState, p: Params) -> bool:
    """deleteMessage; in private chats a bot may delete the user's messages too."""
    chat = emu.find_chat(p.chat_id())
    message = chat.live(p.message_id())
    if message is None:
        raise bad_request(MESSAGE_TO_DELETE_NOT_FOUND)
    message.deleted = True
    return True


async def answer_callback_query(emu: EmulatorState, p: Params) -> bool:
    """answerCallbackQuery; each query can be answered once."""
    query = emu.callback_queries.get(p.get_str("callback_query_id") or "")
    if query is None or query.answered:
        raise bad_request(QUERY_INVALID)
    text = p.get_str("text")
    if text is not None and len(text) > MAX_CALLBACK_ANSWER:
        raise bad_request("MESSAGE_TOO_LONG")
    query.answer = CallbackAnswer(
        text=text or None,
        show_alert=p.get_bool("show_alert"),
        url=p.get_str("url"),
        cache_time=p.get_int("cache_time") or 0,
    )
    return True


async def send_chat_action(emu: EmulatorState, p: Params) -> bool:
    """sendChatAction."""
    action = p.get_str("action")
    chat = emu.find_chat(p.chat_id())
    if action not in CHAT_ACTIONS:
        raise bad_request("wrong parameter action in request")
    emu.check_can_write(chat)
    chat.chat_actions.append(action)
    return True


METHODS = {
    "sendMessage": send_message,
    "editMessageText": edit_message_text,
    "editMessageCaption": edit_message_caption,
    "editMessageReplyMarkup": edit_message_reply_markup,
    "deleteMessage": delete_message,
    "answerCallbackQuery": answer_callback_query,
    "sendChatAction": send_chat_action,
}
