"""python-telegram-bot's calls to the Bot API over aiohttp instead of httpx.

Why: with many updates in flight, httpx (httpcore) looks through its whole connection pool
for every request: with the 64 connections Kassa keeps, that scan was the largest part of a
bare echo bot's CPU (py-spy, bench/conversation.py). aiohttp, already Kassa's web server and
HTTP client, hands out a pooled connection in constant time. The behaviour PTB expects of a
request class is kept: the parameters (one JSON body; multipart with the values JSON-encoded
when there are files), its timeouts, TimedOut and NetworkError.

Kassa never reads an inline keyboard back from Telegram (it keeps what a button means in the
button's callback data and its own state), yet a sent message comes back with its ~50
buttons, and a pressed button's update carries them too, and PTB builds an object of each.
So the keyboards are dropped from the answers (a successful edit's answer is not parsed at
all: EditAnswersUnread below) and from incoming updates (without_keyboards) before PTB
parses them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, TypeVar

import aiohttp
import orjson

# The types PTB's own request classes are declared with (not exported by telegram.request).
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TelegramError, TimedOut
from telegram.request import BaseRequest, RequestData

T = TypeVar("T")

# PTB's own defaults (HTTPXRequest), in seconds.
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 5.0
POOL_TIMEOUT = 1.0
MEDIA_TIMEOUT = 20.0  # a document upload's whole request
JSON_CONTENT = {"Content-Type": "application/json"}


class AiohttpRequest(BaseRequest):
    """One aiohttp session with up to ``connections`` connections to the Bot API."""

    def __init__(self, connections: int = 1, *, read_timeout: float | None = READ_TIMEOUT,
                 connect_timeout: float = CONNECT_TIMEOUT,
                 pool_timeout: float = POOL_TIMEOUT) -> None:
        self._connections = connections
        self._read_timeout = read_timeout
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    @staticmethod
    def parse_json_payload(payload: bytes) -> dict[str, Any]:
        """Telegram's answer, without the inline keyboards of the messages in it."""
        try:
            answer = orjson.loads(payload.decode("utf-8", "replace"))
        except orjson.JSONDecodeError as error:
            raise TelegramError("Invalid server response") from error
        result = answer.get("result") if isinstance(answer, dict) else None
        if isinstance(result, dict):
            result.pop("reply_markup", None)
        elif isinstance(result, list):  # getUpdates
            for update in result:
                without_keyboards(update)
        return answer

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._connections),
                headers={"User-Agent": self.USER_AGENT})

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if self._session is None or self._session.closed:
            raise RuntimeError("AiohttpRequest is not initialized")
        files = request_data.multipart_data if request_data else None
        read = _given(read_timeout, self._read_timeout)
        connect = _given(connect_timeout, self._connect_timeout)
        pool = _given(pool_timeout, self._pool_timeout)
        # aiohttp waits for a free pooled connection within its connect timeout.
        timeout = aiohttp.ClientTimeout(
            total=MEDIA_TIMEOUT + (read or 0) if files else None,
            connect=None if connect is None else connect + (pool or 0),
            sock_read=read)
        body: aiohttp.FormData | bytes | None = None
        headers = None
        if files:
            form = aiohttp.FormData()
            assert request_data is not None  # it holds the files
            for name, value in request_data.json_parameters.items():
                form.add_field(name, value)
            for name, (filename, content, mime_type) in files.items():
                form.add_field(name, content, filename=filename, content_type=mime_type)
            body = form
        elif request_data is not None:
            # One JSON document, as the Bot API takes it: PTB's form fields are each value
            # JSON-encoded on its own and then URL-encoded, a keyboard's ~2 KB character
            # by character in Python.
            body = orjson.dumps(request_data.parameters)
            headers = JSON_CONTENT
        try:
            async with self._session.request(method, url, data=body, headers=headers,
                                             timeout=timeout) as response:
                return response.status, await response.read()
        except TimeoutError as error:
            raise TimedOut from error
        except aiohttp.ClientError as error:
            raise NetworkError(f"aiohttp.{error.__class__.__name__}: {error}") from error


Send = Callable[[], Awaitable[tuple[int, bytes]]]


class WrappedRequest(BaseRequest):
    """Another request class, whose calls a subclass sees on their way: ``around`` gets
    each call's URL and data, and ``send`` to make it through the inner class."""

    def __init__(self, inner: BaseRequest) -> None:
        self._inner = inner

    @property
    def read_timeout(self) -> float | None:
        return self._inner.read_timeout

    async def initialize(self) -> None:
        await self._inner.initialize()

    async def shutdown(self) -> None:
        await self._inner.shutdown()

    def parse_json_payload(self, payload: bytes) -> dict[str, Any]:  # type: ignore[override]
        # The inner class may read answers its own way (AiohttpRequest drops keyboards).
        return self._inner.parse_json_payload(payload)

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        # The timeouts go on as given: PTB's DEFAULT_NONE makes the inner class use its own.
        return await self.around(bot_api_method(url), request_data, partial(
            self._inner.do_request, url, method, request_data, read_timeout=read_timeout,
            write_timeout=write_timeout, connect_timeout=connect_timeout,
            pool_timeout=pool_timeout))

    async def around(self, endpoint: str, request_data: RequestData | None,
                     send: Send) -> tuple[int, bytes]:
        """One call to the Bot API method ``endpoint`` (bot_api_method): as it is, here."""
        return await send()


def bot_api_method(url: str) -> str:
    """The Bot API method a URL calls (the last part of .../bot<token>/sendMessage); file
    downloads, whose last part is a file's path, are all "file"."""
    last = url.rsplit("/", 1)[-1].split("?", 1)[0]
    return last if last.isalpha() and "/file/bot" not in url else "file"


# Edits whose answer Kassa never reads: whether they worked is all it asks.
UNREAD_ANSWERS = frozenset({"editMessageText", "editMessageReplyMarkup"})
# What the Bot API answers a call whose result is True.
TRUE_ANSWER = b'{"ok":true,"result":true}'


class EditAnswersUnread(WrappedRequest):
    """Another request class, whose successful edits are answered True instead of with the
    edited message: PTB then returns True, as for an edit of an inline message, and builds
    no Message (~120 attributes set, a tenth of a button press's CPU with the keyboard
    already dropped). Kassa keeps a card's message id itself (handlers/cards.py); failures
    come through as they are, "message is not modified" included."""

    async def around(self, endpoint: str, request_data: RequestData | None,
                     send: Send) -> tuple[int, bytes]:
        status, body = await send()
        if status == 200 and endpoint in UNREAD_ANSWERS:
            return status, TRUE_ANSWER
        return status, body


def without_keyboards(update: T) -> T:
    """An update's messages without their inline keyboards (see the module's docstring)."""
    if isinstance(update, dict):
        for kind in ("message", "edited_message", "channel_post", "callback_query"):
            part = update.get(kind)
            if isinstance(part, dict):
                part.pop("reply_markup", None)
                message = part.get("message")
                if isinstance(message, dict):
                    message.pop("reply_markup", None)
    return update


def _given(value: ODVInput[float], default: float | None) -> float | None:
    """A timeout the caller gave (None included: no limit), else ours."""
    if isinstance(value, DefaultValue):
        return default
    return None if value is None else float(value)

