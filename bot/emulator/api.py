"""The emulated Bot API's front door: one request in, the method it names run on the state.

BotApiEmulator is EmulatorState (bot.emulator.state) with the method table on top: the
method modules work on the state alone, and only this module knows all of them.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import telegram

from bot.emulator import api_bot, api_files, api_messages, api_payments
from bot.emulator.errors import BotApiError, bad_request, not_found, unauthorized
from bot.emulator.params import Params, Upload
from bot.emulator.records import ApiCall
from bot.emulator.state import EmulatorState

_log = logging.getLogger(__name__)

MethodImpl = Callable[[EmulatorState, Params], Awaitable[Any]]

# Every method the real Bot API has, taken from PTB so the list follows the library version:
# a name outside it is answered 404 like Telegram does, a name inside it but not emulated is a
# clear 400 instead, so a test never mistakes "not emulated" for "does not exist".
BOT_API_METHODS: dict[str, str] = {
    name.lower(): name
    for name in dir(telegram.Bot)
    if name[:1].islower() and name != name.lower() and callable(getattr(telegram.Bot, name))
}

_IMPLEMENTED: dict[str, MethodImpl] = {
    name.lower(): impl
    for module in (api_bot, api_messages, api_files, api_payments)
    for name, impl in module.METHODS.items()
}


class BotApiEmulator(EmulatorState):
    """An in-memory Telegram Bot API for one bot: what Telegram's servers would hold and do."""

    # ---- requests -------------------------------------------------------------------------

    async def handle(
        self,
        token: str,
        method: str,
        params: Mapping[str, Any],
        files: Mapping[str, Upload | bytes] | None = None,
    ) -> tuple[int, dict[str, Any]]:
        """Answer one HTTP-level request: status code and the JSON body Telegram would send."""
        if token != self.token:
            return 401, unauthorized().to_api()
        try:
            result = await self.call(method, params, files or {})
        except BotApiError as exc:
            return exc.status, exc.to_api()
        return 200, {"ok": True, "result": result}

    async def call(
        self,
        method: str,
        params: Mapping[str, Any],
        files: Mapping[str, Upload | bytes] | None = None,
    ) -> Any:
        """Run one Bot API method and return its result, or raise BotApiError."""
        key = method.lower()
        uploads = {
            name: value if isinstance(value, Upload) else Upload(name, value, "")
            for name, value in (files or {}).items()
        }
        p = Params(params, uploads)
        name = BOT_API_METHODS.get(key, method)
        try:
            impl = _IMPLEMENTED.get(key)
            if impl is None:
                if key in BOT_API_METHODS:
                    raise bad_request(f"method {name} is not supported by the Kassa emulator")
                raise not_found()
            fault = self.faults.take(key, _chat_key(params.get("chat_id")))
            if fault is not None:
                raise fault
            result = await impl(self, p)
        except BotApiError as exc:
            _log.debug("%s failed: %s", name, exc.description)
            self._record(name, params, uploads, exc.description)
            raise
        self._record(name, params, uploads, None)
        return result

    def _record(
        self, name: str, params: Mapping[str, Any], files: Mapping[str, Upload], error: str | None
    ) -> None:
        self.calls.append(ApiCall(name, dict(params), tuple(files), error, self.monotonic()))
        self.notify()

    def download(self, token: str, file_path: str) -> bytes:
        """Contents of a file by the path getFile returned; raises 404 like Telegram."""
        record = self.files_by_path.get(file_path)
        if token != self.token or record is None:
            raise not_found()
        return record.data

    # ---- test controls --------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        *,
        chat_id: int | str | None = None,
        retry_after: int | None = None,
        error_code: int = 400,
        description: str | None = None,
        times: int = 1,
    ) -> None:
        """Make the next `times` calls of `method` (optionally to one chat) fail.

        With `retry_after` the failure is flood control's 429; otherwise `error_code` with
        `description` (a full Telegram description such as "Bad Request: chat not found").
        """
        if retry_after is not None:
            error = BotApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after)
        else:
            error = BotApiError(error_code, description or "Internal Server Error")
        self.faults.add(method, error, _chat_key(chat_id), times)

    def set_flood_limit(
        self, chat_id: int | str | None = None, *, messages: int = 1, per_seconds: float = 1.0
    ) -> None:
        """Answer 429 once a chat (or, with None, the bot overall) exceeds a send rate."""
        self.flood.limit(_chat_key(chat_id), messages, per_seconds)

    def clear_flood_limit(self, chat_id: int | str | None = None) -> None:
        """Lift a flood limit set with set_flood_limit."""
        self.flood.remove(_chat_key(chat_id))

    def calls_to(self, method: str) -> list[ApiCall]:
        """Calls of one method, in order (the name is case-insensitive, as on Telegram)."""
        name = BOT_API_METHODS.get(method.lower(), method)
        return [call for call in self.calls if call.method == name]


def _chat_key(value: Any) -> int | str | None:
    if isinstance(value, str):
        stripped = value.strip()
        return int(stripped) if stripped.lstrip("-").isdigit() else stripped
    return value if isinstance(value, int) else None
