"""The request classes around python-telegram-bot's calls (bot/telegram_request.py)."""

from __future__ import annotations

import json
from typing import Any

from telegram.request import BaseRequest, RequestData

from bot.telegram_request import EditAnswersUnread

MESSAGE = {"message_id": 7, "date": 0, "chat": {"id": 1, "type": "private"}, "text": "card"}


class Answering(BaseRequest):
    """Answers every call with the status and body given."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        self.status, self.body = status, json.dumps(body).encode()

    @property
    def read_timeout(self) -> float | None:
        return None

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    async def do_request(self, url: str, method: str, request_data: RequestData | None = None,
                         *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        return self.status, self.body


async def call(inner: BaseRequest, method: str) -> tuple[int, dict[str, Any]]:
    status, body = await EditAnswersUnread(inner).do_request(
        f"https://api.telegram.org/bot1:x/{method}", "POST")
    return status, json.loads(body)


async def test_an_edit_is_answered_true_rather_than_with_the_message() -> None:
    edited = Answering(200, {"ok": True, "result": MESSAGE})
    for method in ("editMessageText", "editMessageReplyMarkup"):
        assert await call(edited, method) == (200, {"ok": True, "result": True})
    # Any other call's answer is read as Telegram gave it.
    assert await call(edited, "sendMessage") == (200, {"ok": True, "result": MESSAGE})


async def test_a_failed_edit_comes_through_as_it_is() -> None:
    refused = {"ok": False, "error_code": 400,
               "description": "Bad Request: message is not modified"}
    assert await call(Answering(400, refused), "editMessageText") == (400, refused)
