"""Typed access to Bot API parameters, which arrive as JSON values or as form strings."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.emulator.errors import bad_request


@dataclass(frozen=True, slots=True)
class Upload:
    """A file sent in a multipart request."""

    filename: str
    data: bytes
    mime_type: str


class Params:
    """Method parameters; form and multipart bodies carry every value as a string."""

    __slots__ = ("files", "raw")

    def __init__(self, raw: Mapping[str, Any], files: Mapping[str, Upload] | None = None) -> None:
        self.raw = raw
        self.files = files or {}

    def has(self, name: str) -> bool:
        """Whether the parameter was sent at all."""
        return self.raw.get(name) is not None or name in self.files

    def get_str(self, name: str) -> str | None:
        """A string parameter; numbers are accepted the way Telegram accepts them."""
        value = self.raw.get(name)
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return str(value)
        return json.dumps(value)

    def get_int(self, name: str) -> int | None:
        """An integer parameter."""
        value = self.raw.get(name)
        if value is None:
            return None
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, int):
            return value
        try:
            return int(str(value).strip())
        except ValueError:
            raise bad_request(f"invalid {name} specified") from None

    def get_float(self, name: str) -> float | None:
        """A number parameter."""
        value = self.raw.get(name)
        if value is None:
            return None
        try:
            return float(value)
        except (TypeError, ValueError):
            raise bad_request(f"invalid {name} specified") from None

    def get_bool(self, name: str, default: bool = False) -> bool:
        """A Boolean parameter; forms send "true"/"false" (or 1/0)."""
        value = self.raw.get(name)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, int):
            return value != 0
        return str(value).strip().lower() in ("true", "1")

    def get_json(self, name: str, error: str) -> Any:
        """A JSON-serialised object or array parameter; `error` is Telegram's parse error."""
        value = self.raw.get(name)
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                raise bad_request(error) from None
        return value

    def chat_id(self) -> int | str:
        """The target chat: an integer id or an "@username"."""
        value = self.raw.get("chat_id")
        if value is None or value == "":
            raise bad_request("chat_id is empty")
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        text = str(value).strip()
        if text.startswith("@"):
            return text
        try:
            return int(text)
        except ValueError:
            raise bad_request("chat not found") from None

    def message_id(self, name: str = "message_id") -> int:
        """A required message identifier."""
        value = self.get_int(name)
        if value is None:
            raise bad_request(f"{name} is empty")
        return value
