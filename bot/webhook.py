"""Webhook mode: Telegram posts each update to a secret path of Kassa's web server.

The path and the X-Telegram-Bot-Api-Secret-Token header are both derived from
KASSA_SECRET_KEY, so every instance behind a load balancer agrees on them without another
setting. A request without the right header is refused (401) and nothing is handled; a
body that is not an update gets 400; an update_id seen before is answered 200 and skipped
(recorded before handling: Telegram retries what it thinks was lost, and a retry must not
book twice). On PostgreSQL the record is made by the update's turn, in the round trip that
takes the sender's lock (bot/turns.py); on SQLite here, first. While stopping, the path
answers 503 so Telegram delivers again later. The 200 may carry one Bot API call, a pressed
button's answer (bot/webhook_reply.py).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

import orjson
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine
from telegram import Update

from bot.logs import note_ids
from bot.telegram_request import without_keyboards
from bot.turns import handle, turns_of
from bot.webhook_reply import reply_slot
from storage.webhook_updates import Delivery, first_delivery, forget_before

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
KEPT_FOR = timedelta(days=1)  # Telegram gives up on an update within a day


def derived(secret_key: bytes, purpose: str, length: int) -> str:
    return hmac.new(secret_key, purpose.encode(), hashlib.sha256).hexdigest()[:length]


@dataclass
class UpdateReceiver:
    """The update path's state: where it is, its secret, and whether it still takes updates."""

    application: Any
    engine: AsyncEngine
    secret_key: bytes
    stopping: bool = field(default=False)

    @property
    def path(self) -> str:
        return f"/telegram/{self._path_secret}"

    # Derived once (an HMAC each): every update checks both.
    @cached_property
    def _path_secret(self) -> str:
        return derived(self.secret_key, "telegram-webhook-path", 32)

    @cached_property
    def secret_token(self) -> str:
        return derived(self.secret_key, "telegram-webhook-secret-token", 48)

    def add_routes(self, app: web.Application) -> None:
        # A pattern, not the path itself: the route's name in metrics and logs
        # ("/telegram/{secret}") then gives nothing away.
        app.router.add_post("/telegram/{secret}", self.receive)

    async def receive(self, request: web.Request) -> web.Response:
        if not hmac.compare_digest(request.match_info["secret"].encode(),
                                   self._path_secret.encode()):
            raise web.HTTPNotFound()
        if self.stopping:
            return _error(503, "stopping", "not taking updates now; deliver again later")
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), self.secret_token.encode()):
            return _error(401, "unauthorized", f"wrong or missing {SECRET_HEADER}")
        try:
            data = orjson.loads(await request.read())
        except orjson.JSONDecodeError:  # not JSON, or not UTF-8
            return _error(400, "bad_json", "the body is not JSON")
        except web.HTTPRequestEntityTooLarge as error:  # over the server's client_max_size
            return _error(413, "payload_too_large", error.text or "the body is too large")
        update_id = data.get("update_id") if isinstance(data, dict) else None
        if not isinstance(update_id, int) or isinstance(update_id, bool):
            return _error(400, "not_an_update", "the body is not a Telegram update")
        note_ids(update_id=update_id)
        delivery = Delivery(update_id, datetime.now(UTC))
        # On PostgreSQL the turn records it (a round trip less per update); here, first.
        in_turn = turns_of(self.application).locks.shared
        if not in_turn and not await first_delivery(self.engine, delivery.update_id,
                                                     delivery.received_at):
            return _replayed()
        update = Update.de_json(without_keyboards(data), self.application.bot)
        # As the sender's turn (bot/turns.py): in order with their other updates, on any
        # instance; answered once handled, so a stop finishes what it took. The answer
        # may carry the press's answerCallbackQuery (bot/webhook_reply.py).
        with reply_slot() as slot:
            if not await handle(self.application, update,
                                record=delivery if in_turn else None):
                return _replayed()
            return web.Response(body=orjson.dumps(slot.answer()),
                                content_type="application/json", charset="utf-8")

    async def prune(self, _context: object = None) -> None:
        await forget_before(self.engine, datetime.now(UTC) - KEPT_FOR)


def readiness_route(app: web.Application, database_url: str) -> None:
    """/readyz: 200 when the database answers and its schema is the newest, else 503."""

    async def readyz(request: web.Request) -> web.Response:
        from bot.startup import cause
        from storage.migrate import schema_status

        try:
            status = await schema_status(database_url)
        except Exception as error:  # any failure to reach the database means not ready
            # The reason goes to the log, not to whoever asked: it names hosts and users.
            # One line: a probe every few seconds during an outage would repeat a traceback.
            log.warning("readiness: the database does not answer (%s)", cause(error))
            return _not_ready("the database does not answer")
        if status == "behind":
            return _not_ready("the schema is older than this release; run `kassa db upgrade`")
        if status == "ahead":
            return _not_ready("the schema is newer than this release: replace this instance "
                              "with the release that migrated it")
        return web.json_response({"ready": True})

    app.router.add_get("/readyz", readyz)


def _not_ready(reason: str) -> web.Response:
    return web.json_response({"ready": False, "database": reason}, status=503)


def _replayed() -> web.Response:
    log.info("update replayed: skipped")
    return web.json_response({"ok": True, "replayed": True})


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)
