"""Documents and photos: uploads, re-sends by file_id, and getFile."""

from __future__ import annotations

import struct
from typing import Any

from bot.emulator.api_messages import caption, send
from bot.emulator.errors import BotApiError, bad_request
from bot.emulator.keyboards import parse_reply_markup
from bot.emulator.params import Params
from bot.emulator.records import FileRecord
from bot.emulator.state import EmulatorState

MAX_UPLOAD = 50 * 1024 * 1024
MAX_DOWNLOAD = 20 * 1024 * 1024


def input_file(
    emu: EmulatorState, p: Params, name: str, *, folder: str, photo: bool = False
) -> FileRecord:
    """The file a send method refers to: a fresh upload, an attach:// part or a file_id."""
    value = p.get_str(name)
    upload = p.files.get(name)
    if upload is None and value and value.startswith("attach://"):
        upload = p.files.get(value.removeprefix("attach://"))
    if upload is not None:
        if not upload.data:
            raise bad_request("file must be non-empty")
        if len(upload.data) > MAX_UPLOAD:
            raise BotApiError(413, "Request Entity Too Large")
        width = height = 0
        if photo:
            size = image_size(upload.data)
            if size is None:
                raise bad_request("IMAGE_PROCESS_FAILED")
            width, height = size
        return emu.store_file(
            upload.data,
            folder=folder,
            file_name=None if photo else upload.filename,
            mime_type=None if photo else (upload.mime_type or "application/octet-stream"),
            width=width,
            height=height,
        )
    if not value:
        raise bad_request(f"there is no {name} in the request")
    if value.startswith(("http://", "https://")):
        # The emulator never leaves the machine, so it can fetch nothing, like a dead link.
        raise bad_request("failed to get HTTP URL content")
    record = emu.files.get(value)
    if record is None:
        raise bad_request("wrong file identifier/HTTP URL specified")
    return record


def image_size(data: bytes) -> tuple[int, int] | None:
    """Width and height of a PNG, GIF or JPEG image; None for anything else."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        width, height = struct.unpack("<HH", data[6:10])
        return int(width), int(height)
    if data.startswith(b"\xff\xd8"):
        return _jpeg_size(data)
    return None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    # Walk the marker segments to the first start-of-frame, which holds the dimensions.
    i = 2
    while i + 9 < len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        length = int.from_bytes(data[i + 2 : i + 4], "big")
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", data[i + 5 : i + 9])
            return int(width), int(height)
        i += 2 + length
    return None


async def send_document(emu: EmulatorState, p: Params) -> dict[str, Any]:
    """sendDocument."""
    text, entities = caption(emu, p)
    markup = parse_reply_markup(p)
    chat = emu.find_chat(p.chat_id())
    emu.check_can_write(chat)
    record = input_file(emu, p, "document", folder="documents")
    return send(
        emu, p, chat, markup, document=record, caption=text, caption_entities=entities
    )


async def send_photo(emu: EmulatorState, p: Params) -> dict[str, Any]:
    """sendPhoto."""
    text, entities = caption(emu, p)
    markup = parse_reply_markup(p)
    chat = emu.find_chat(p.chat_id())
    emu.check_can_write(chat)
    record = input_file(emu, p, "photo", folder="photos", photo=True)
    return send(emu, p, chat, markup, photo=record, caption=text, caption_entities=entities)


async def get_file(emu: EmulatorState, p: Params) -> dict[str, Any]:
    """getFile: the path under which /file/bot<token>/ serves the bytes."""
    record = emu.files.get(p.get_str("file_id") or "")
    if record is None:
        raise bad_request("invalid file_id")
    if record.file_size > MAX_DOWNLOAD:
        raise bad_request("file is too big")
    return {
        "file_id": record.file_id,
        "file_unique_id": record.file_unique_id,
        "file_size": record.file_size,
        "file_path": record.file_path,
    }


METHODS = {
    "sendDocument": send_document,
    "sendPhoto": send_photo,
    "getFile": get_file,
}
