"""The emulator over HTTP on loopback, for bots built with a base_url pointing at it."""

from __future__ import annotations

from types import TracebackType
from typing import Any

import orjson
from aiohttp import web

from bot.emulator.api import BotApiEmulator
from bot.emulator.errors import BotApiError
from bot.emulator.params import Upload

LOOPBACK = "127.0.0.1"
# Documents may be up to 50 MB on Telegram; aiohttp's default body limit is 1 MB.
MAX_BODY = 52 * 1024 * 1024


class EmulatorServer:
    """Serve /bot<token>/<method> and /file/bot<token>/<path> on 127.0.0.1 only."""

    def __init__(self, emulator: BotApiEmulator) -> None:
        self.emulator = emulator
        self.port: int | None = None
        self._runner: web.AppRunner | None = None

    def make_app(self) -> web.Application:
        """The aiohttp application (also usable with aiohttp's test client)."""
        app = web.Application(client_max_size=MAX_BODY)
        app.router.add_route("*", "/bot{token}/{method}", self._api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._file)
        return app

    async def start(self, port: int = 0) -> int:
        """Start listening (port 0 picks a free one) and return the port."""
        # handler_cancellation: a client that gives up on a long poll must not leave it running.
        self._runner = web.AppRunner(
            self.make_app(), handler_cancellation=True, access_log=None, shutdown_timeout=1.0
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, LOOPBACK, port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        return self.port

    async def stop(self) -> None:
        """Stop listening; pending long polls are answered first so shutdown is immediate."""
        self.emulator.release_long_polls()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def base_url(self) -> str:
        """The value for ApplicationBuilder.base_url."""
        return f"http://{LOOPBACK}:{self._port()}/bot"

    @property
    def base_file_url(self) -> str:
        """The value for ApplicationBuilder.base_file_url."""
        return f"http://{LOOPBACK}:{self._port()}/file/bot"

    def _port(self) -> int:
        if self.port is None:
            raise RuntimeError("the emulator server is not started")
        return self.port

    async def __aenter__(self) -> EmulatorServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def _api(self, request: web.Request) -> web.Response:
        params, files = await _read_params(request)
        status, payload = await self.emulator.handle(
            request.match_info["token"], request.match_info["method"], params, files
        )
        return web.Response(body=orjson.dumps(payload), status=status,
                            content_type="application/json")

    async def _file(self, request: web.Request) -> web.Response:
        try:
            data = self.emulator.download(request.match_info["token"], request.match_info["path"])
        except BotApiError as exc:
            return web.json_response(exc.to_api(), status=exc.status)
        return web.Response(body=data, content_type="application/octet-stream")


async def _read_params(request: web.Request) -> tuple[dict[str, Any], dict[str, Upload]]:
    """Query string plus a JSON, urlencoded or multipart body, as the Bot API accepts."""
    params: dict[str, Any] = dict(request.query)
    files: dict[str, Upload] = {}
    if not request.can_read_body:
        return params, files
    if request.content_type == "application/json":
        try:
            body = orjson.loads(await request.read() or b"{}")
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise web.HTTPBadRequest(
                body=orjson.dumps(
                    BotApiError(400, "Bad Request: can't parse JSON object").to_api()
                ),
                content_type="application/json",
            )
        params.update(body)
        return params, files
    form = await request.post()
    for name, value in form.items():
        if isinstance(value, web.FileField):
            files[name] = Upload(value.filename, value.file.read(), value.content_type)
        else:
            params[name] = value
    return params, files
