"""getUpdates semantics: long polling, acknowledgement by offset, one poller at a time."""

from __future__ import annotations

import asyncio

import pytest

from bot.emulator.errors import BotApiError
from bot.emulator.users import SimulatedUser


async def start_poll(emulator, **params):
    """Begin a long poll and return once the emulator is holding it."""
    task = asyncio.create_task(emulator.call("getUpdates", {"timeout": 5, **params}))
    await emulator.wait_until(lambda: emulator.poller is not None, 1.0)
    return task


async def test_long_poll_wakes_on_an_update_and_offset_acknowledges(emulator):
    anna = SimulatedUser(emulator, emulator.add_user("Anna"))
    poll = await start_poll(emulator)

    await anna.send("hi")  # no sink: queued for getUpdates
    updates = await poll

    assert [u["message"]["text"] for u in updates] == ["hi"]
    assert await emulator.call("getUpdates", {"timeout": 0}) == updates  # not yet acknowledged
    next_offset = updates[-1]["update_id"] + 1
    assert await emulator.call("getUpdates", {"offset": next_offset}) == []
    assert emulator.confirmed_update_id == updates[-1]["update_id"]


async def test_a_second_poller_terminates_the_first_with_409(emulator):
    first = await start_poll(emulator)
    second = asyncio.create_task(emulator.call("getUpdates", {"timeout": 5}))

    with pytest.raises(BotApiError) as caught:
        await first  # ended by the second poll as soon as it arrives
    assert caught.value.status == 409
    assert "terminated by other getUpdates request" in caught.value.description
    emulator.release_long_polls()
    assert await second == []


async def test_a_webhook_makes_get_updates_conflict(emulator):
    await emulator.call("setWebhook", {"url": "https://kassa.example/hook"})
    with pytest.raises(BotApiError, match="webhook is active"):
        await emulator.call("getUpdates", {})
    info = await emulator.call("getWebhookInfo", {})
    assert info["url"] == "https://kassa.example/hook"
    await emulator.call("deleteWebhook", {"drop_pending_updates": "true"})
    assert await emulator.call("getUpdates", {}) == []


async def test_allowed_updates_drop_other_update_types(emulator):
    anna = SimulatedUser(emulator, emulator.add_user("Anna"))
    await emulator.call("getUpdates", {"allowed_updates": '["callback_query"]'})
    await anna.send("ignored")
    assert await emulator.call("getUpdates", {}) == []
    await emulator.call("getUpdates", {"allowed_updates": []})  # back to Telegram's default
    await anna.send("seen")
    assert [u["message"]["text"] for u in await emulator.call("getUpdates", {})] == ["seen"]


async def test_method_names_are_case_insensitive_and_tokens_checked(emulator):
    assert (await emulator.call("GETME", {}))["is_bot"] is True
    status, body = await emulator.handle("1:OTHER", "getMe", {})
    assert (status, body["description"]) == (401, "Unauthorized")
