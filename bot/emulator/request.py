"""A PTB request backend that answers from the emulator in-process, with no network at all."""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

import orjson
from telegram.request import BaseRequest, RequestData

from bot.emulator.api import BotApiEmulator
from bot.emulator.errors import BotApiError, not_found
from bot.emulator.params import Upload

# PTB builds "<base_url><token>/<method>" and "<base_file_url><token>/<file_path>"; the host is
# irrelevant here, so whatever base URL the bot was given, the request stays in the process.
_API_PATH = re.compile(r"/bot(?P<token>[^/]+)/(?P<method>[A-Za-z]+)$")
_FILE_PATH = re.compile(r"/file/bot(?P<token>[^/]+)/(?P<path>.+)$")


class EmulatorRequest(BaseRequest):
    """Serve a Bot's HTTP requests by calling the emulator directly."""

    __slots__ = ("_emulator", "_read_timeout")

    def __init__(self, emulator: BotApiEmulator, read_timeout: float | None = 5.0) -> None:
        self._emulator = emulator
        self._read_timeout = read_timeout

    @property
    def read_timeout(self) -> float | None:
        """The default read timeout PTB adds to long-poll timeouts."""
        return self._read_timeout

    async def initialize(self) -> None:
        """Nothing to set up: there is no connection pool."""

    async def shutdown(self) -> None:
        """Nothing to release."""

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: object = BaseRequest.DEFAULT_NONE,
        write_timeout: object = BaseRequest.DEFAULT_NONE,
        connect_timeout: object = BaseRequest.DEFAULT_NONE,
        pool_timeout: object = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """Answer one request with the status code and body the Bot API would send."""
        path = unquote(urlsplit(url).path)
        file_match = _FILE_PATH.search(path)
        if file_match:
            try:
                return 200, self._emulator.download(file_match["token"], file_match["path"])
            except BotApiError as exc:
                return exc.status, orjson.dumps(exc.to_api())
        api_match = _API_PATH.search(path)
        if api_match is None:
            return 404, orjson.dumps(not_found().to_api())
        # `parameters` holds native JSON values: no need to encode and re-parse them.
        params = request_data.parameters if request_data else {}
        files: dict[str, Upload] = {}
        if request_data is not None and request_data.contains_files:
            for name, (filename, content, mime_type) in request_data.multipart_data.items():
                data = content if isinstance(content, bytes) else content.read()
                files[name] = Upload(filename, data, mime_type)
        status, payload = await self._emulator.handle(
            api_match["token"], api_match["method"], params, files
        )
        return status, orjson.dumps(payload)
