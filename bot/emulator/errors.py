"""Bot API errors, worded exactly as the real Bot API words them."""

from __future__ import annotations

from typing import Any


class BotApiError(Exception):
    """An error the emulated Bot API answers with instead of a result."""

    def __init__(self, status: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after

    def to_api(self) -> dict[str, Any]:
        """Render the error as the JSON object Telegram returns."""
        payload: dict[str, Any] = {
            "ok": False,
            "error_code": self.status,
            "description": self.description,
        }
        if self.retry_after is not None:
            payload["parameters"] = {"retry_after": self.retry_after}
        return payload

    def __repr__(self) -> str:
        return f"BotApiError({self.status}, {self.description!r})"


class EmulatorUsageError(Exception):
    """A test asked a simulated user to do something a real client could not do."""


def bad_request(detail: str) -> BotApiError:
    """A 400 answer; `detail` is the part after "Bad Request: "."""
    return BotApiError(400, f"Bad Request: {detail}")


def forbidden(detail: str) -> BotApiError:
    """A 403 answer; `detail` is the part after "Forbidden: "."""
    return BotApiError(403, f"Forbidden: {detail}")


def too_many_requests(retry_after: int) -> BotApiError:
    """A 429 answer carrying parameters.retry_after, as flood control sends it."""
    return BotApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after)


def not_found() -> BotApiError:
    """Telegram's answer for a method name it does not know (and for unknown file paths)."""
    return BotApiError(404, "Not Found")


def unauthorized() -> BotApiError:
    """Telegram's answer for a well-formed but wrong token."""
    return BotApiError(401, "Unauthorized")


# The descriptions below are the ones handlers meet in production; keeping them in one place
# lets tests match on the exact strings PTB exposes as exception messages.
CHAT_NOT_FOUND = "chat not found"
TEXT_EMPTY = "message text is empty"
TEXT_TOO_LONG = "message is too long"
CAPTION_TOO_LONG = "message caption is too long"
BUTTON_DATA_INVALID = "BUTTON_DATA_INVALID"
BUTTON_URL_INVALID = "BUTTON_URL_INVALID"
REPLY_MARKUP_TOO_LONG = "reply markup is too long"
NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the "
    "same as a current content and reply markup of the message"
)
MESSAGE_TO_EDIT_NOT_FOUND = "message to edit not found"
MESSAGE_TO_DELETE_NOT_FOUND = "message to delete not found"
MESSAGE_CANT_BE_EDITED = "message can't be edited"
NO_TEXT_TO_EDIT = "there is no text in the message to edit"
REPLY_NOT_FOUND = "message to be replied not found"
QUERY_INVALID = "query is too old and response timeout expired or query ID is invalid"
BOT_BLOCKED = "bot was blocked by the user"
CANT_INITIATE = "bot can't initiate conversation with a user"
NOT_A_MEMBER = "bot is not a member of the group chat"
