"""The emulator over loopback HTTP: a PTB bot built with base_url polls and calls it."""

from __future__ import annotations

import datetime as dtm
from collections.abc import AsyncIterator

import aiohttp
import pytest
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, InputFile, Update
from telegram.error import BadRequest, Forbidden, InvalidToken, RetryAfter
from telegram.ext import CallbackQueryHandler, CommandHandler, ContextTypes, MessageHandler, filters

from bot.emulator import BotApiEmulator, BotHarness, EmulatorServer, SimulatedUser, http_builder

Context = ContextTypes.DEFAULT_TYPE


@pytest.fixture
async def server(emulator: BotApiEmulator) -> AsyncIterator[EmulatorServer]:
    """The emulator listening on 127.0.0.1."""
    async with EmulatorServer(emulator) as running:
        yield running


@pytest.fixture
async def http_harness(server: EmulatorServer) -> AsyncIterator[BotHarness]:
    """A started Application that polls the emulator over HTTP."""
    app = http_builder(server).build()
    async with BotHarness(app, server.emulator, delivery="polling") as running:
        yield running


async def test_server_listens_on_loopback_only(server):
    assert server.base_url == f"http://127.0.0.1:{server.port}/bot"


async def test_polling_bot_answers_commands_and_buttons(http_harness, emulator):
    async def start(update: Update, context: Context) -> None:
        markup = InlineKeyboardMarkup([[InlineKeyboardButton("Today", callback_data="day:0")]])
        await update.effective_message.reply_text("When?", reply_markup=markup)

    async def day(update: Update, context: Context) -> None:
        await update.callback_query.answer()
        await update.callback_query.edit_message_text(f"Chosen {update.callback_query.data}")

    http_harness.application.add_handler(CommandHandler("start", start))
    http_harness.application.add_handler(CallbackQueryHandler(day))
    anna = http_harness.user("Anna")

    await anna.send("/start")
    assert anna.last_message.button_texts() == ["Today"]
    query = await anna.press("Today")

    assert query.answered
    assert anna.last_message.text == "Chosen day:0"
    assert emulator.calls_to("getUpdates")
    http_harness.assert_no_errors()


async def test_errors_over_http_become_ptb_exceptions(http_harness, emulator, monkeypatch):
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    bot = http_harness.bot
    anna = http_harness.user("Anna")

    with pytest.raises(BadRequest, match="Message is too long"):
        await bot.send_message(anna.id, "x" * 4097)
    emulator.fail_next("sendMessage", retry_after=7)
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(anna.id, "hi")
    assert caught.value.retry_after == dtm.timedelta(seconds=7)
    await anna.block()
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(anna.id, "hi")


async def test_multipart_upload_and_file_download_over_http(http_harness):
    anna = http_harness.user("Anna")
    data = bytes(range(256)) * 40
    sent = await http_harness.bot.send_document(
        anna.id, InputFile(data, filename="ticket.pdf"), caption="Ticket"
    )
    assert anna.documents[-1].document.data == data
    telegram_file = await http_harness.bot.get_file(sent.document.file_id)
    assert bytes(await telegram_file.download_as_bytearray()) == data


async def test_echo_bot_without_harness_waits_for_replies(server, emulator):
    async def echo(update: Update, context: Context) -> None:
        await update.effective_message.reply_text(update.effective_message.text.upper())

    app = http_builder(server).build()
    app.add_handler(MessageHandler(filters.TEXT, echo))
    anna = SimulatedUser(emulator, emulator.add_user("Anna"))
    async with app:
        await app.start()
        await app.updater.start_polling(poll_interval=0, timeout=5)
        await anna.send("quiet please")  # no sink: the update waits for getUpdates
        messages = await anna.wait_for_messages(1)
        await app.updater.stop()
        await app.stop()
    assert messages[0].text == "QUIET PLEASE"


async def test_raw_http_bodies_and_tokens(server):
    url = f"http://127.0.0.1:{server.port}"
    token = server.emulator.token
    async with aiohttp.ClientSession(trust_env=False) as session:
        async with session.post(f"{url}/bot{token}/getMe", json={}) as response:
            body = await response.json()
            assert response.status == 200 and body["result"]["username"] == "kassa_test_bot"
        async with session.get(f"{url}/bot{token}/getMe?foo=1") as response:
            assert (await response.json())["ok"] is True
        async with session.post(f"{url}/bot{token}/noSuchMethod", data={"a": "1"}) as response:
            assert response.status == 404
            assert await response.json() == {
                "ok": False, "error_code": 404, "description": "Not Found",
            }
        async with session.post(f"{url}/bot1:WRONG/getMe") as response:
            assert response.status == 401
        async with session.get(f"{url}/file/bot{token}/documents/missing.pdf") as response:
            assert response.status == 404


async def test_wrong_token_is_invalid_token_for_ptb(server):
    app = http_builder(server).token("999:WRONG").build()
    with pytest.raises(InvalidToken):
        async with app.bot:  # initializing calls getMe
            pass
