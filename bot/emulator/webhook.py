"""Telegram's side of webhook mode: each update POSTed to the bot's webhook.

Installed as the emulator's update sink, so a SimulatedUser's send() or press() returns once
the bot has answered the POST (Kassa's receiver answers after handling the update). With
several `targets` the updates go round robin, as a load balancer in front of several
instances spreads them: one passenger's consecutive updates reach different instances.
Like Telegram, a 503 or a refused connection is delivered again a little later; any other
answer but 200 is an error of the bot's; a 200 that names a Bot API "method" is that call,
made as Telegram makes it (its failure told to nobody).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Sequence
from types import TracebackType
from typing import Any

import aiohttp
import orjson

from bot.emulator.api import BotApiEmulator
from bot.emulator.errors import BotApiError

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
RETRIES = 20
RETRY_PAUSE = 0.1  # seconds


class WebhookDeliveryError(RuntimeError):
    """The bot answered an update with something else than 200."""


class WebhookDelivery:
    """`async with WebhookDelivery(emulator, targets)`: updates go to the targets (full URLs
    of the webhook path; by default the one setWebhook registered) until the block ends."""

    def __init__(self, emulator: BotApiEmulator, targets: Sequence[str] = (),
                 *, connections: int = 100) -> None:
        self.emulator = emulator
        self._targets = list(targets)
        self._next = itertools.count()
        self._connections = connections
        self._session: aiohttp.ClientSession | None = None
        self.delivered = 0

    async def __aenter__(self) -> WebhookDelivery:
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=self._connections))
        self.emulator.sink = self
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        if self.emulator.sink is self:
            self.emulator.sink = None
        if self._session is not None:
            await self._session.close()

    async def __call__(self, update: dict[str, Any]) -> None:
        if self._session is None:
            raise RuntimeError("use WebhookDelivery in `async with`")
        targets = self._targets or [self.emulator.webhook_url]
        if not targets[0]:
            raise RuntimeError("no webhook set: the bot has not called setWebhook")
        headers = {SECRET_HEADER: self.emulator.webhook_secret_token,
                   "Content-Type": "application/json"}
        body = orjson.dumps(update)
        for attempt in range(RETRIES):
            url = targets[next(self._next) % len(targets)]  # a retry may reach another
            try:
                async with self._session.post(url, data=body, headers=headers) as answer:
                    answered = await answer.read()
                    if answer.status == 200:
                        self.delivered += 1
                        await self._carried_call(answered)
                        return
                    if answer.status != 503:
                        said = answered[:200].decode(errors="replace")
                        raise WebhookDeliveryError(f"{url} answered update "
                                                   f"{update['update_id']} with "
                                                   f"{answer.status}: {said}")
            except aiohttp.ClientConnectionError:
                if attempt == RETRIES - 1:
                    raise
            await asyncio.sleep(RETRY_PAUSE)
        raise WebhookDeliveryError(f"the bot kept answering 503 to update {update['update_id']}")

    async def _carried_call(self, body: bytes) -> None:
        """The Bot API call a webhook's answer carries, if it names one."""
        try:
            answer = orjson.loads(body)
        except ValueError:
            return
        if not isinstance(answer, dict) or not isinstance(answer.get("method"), str):
            return
        parameters = {k: v for k, v in answer.items() if k != "method"}
        with contextlib.suppress(BotApiError):  # Telegram tells nobody either
            await self.emulator.call(answer["method"], parameters)
