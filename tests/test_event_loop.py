"""The servers' event loop: uvloop by default, asyncio's own on request."""

from __future__ import annotations

import asyncio

import uvloop

from bot import event_loop
from bot.settings import Settings


async def _running_loop() -> asyncio.AbstractEventLoop:
    return asyncio.get_running_loop()


def test_servers_run_on_uvloop_unless_asked_otherwise() -> None:
    assert Settings(_env_file=None).event_loop == "uvloop"
    assert isinstance(event_loop.run(_running_loop(), "uvloop"), uvloop.Loop)


def test_asyncio_loop_on_request(monkeypatch) -> None:
    monkeypatch.setenv("KASSA_EVENT_LOOP", "asyncio")
    name = Settings(_env_file=None).event_loop
    assert name == "asyncio"
    loop = event_loop.run(_running_loop(), name)
    assert not isinstance(loop, uvloop.Loop)
    assert isinstance(loop, asyncio.BaseEventLoop)
