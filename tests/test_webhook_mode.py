"""Webhook mode's update path, on the running bot and the emulator: the secret token is
required (401, nothing handled), a replayed update_id is handled once (also when it comes
while the first delivery is still being handled, and when the update is nobody's turn; on
PostgreSQL recorded by the update's turn), a body that is not an update gets 400, and /readyz
says whether the schema is current."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy import text

from bot import webhook
from bot.turns import turns_of
from bot.web import MAX_WEBHOOK_BYTES
from bot.webhook import SECRET_HEADER, UpdateReceiver, readiness_route
from bot.webhook_reply import reply_slot
from tests.conversation_support import staff_bot


@pytest.fixture
async def bot(engine, clock):
    async with staff_bot(engine, clock) as running:
        yield running


@asynccontextmanager
async def served(bot, engine) -> AsyncIterator[tuple[str, UpdateReceiver]]:
    receiver = UpdateReceiver(bot.harness.application, engine, b"test-secret-key")
    app = web.Application(client_max_size=MAX_WEBHOOK_BYTES)  # as Kassa's web server
    receiver.add_routes(app)
    readiness_route(app, engine.url.render_as_string(hide_password=False))
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/"), receiver
    finally:
        await server.close()


def start_update(user, update_id: int) -> dict:
    return {"update_id": update_id, "message": {
        "message_id": update_id, "date": int(time.time()), "chat": user.chat.to_api(),
        "from": user.record.to_api(), "text": "/start",
        "entities": [{"type": "bot_command", "offset": 0, "length": 6}]}}


async def test_updates_need_the_secret_and_are_handled_once(bot, engine):
    anna = bot.user("Anna")
    async with served(bot, engine) as (base, receiver), aiohttp.ClientSession() as http:
        url = base + receiver.path
        for headers in ({}, {SECRET_HEADER: "wrong"}):
            async with http.post(url, json=start_update(anna, 1), headers=headers) as answer:
                assert answer.status == 401
        assert anna.messages == []  # nothing was handled
        good = {SECRET_HEADER: receiver.secret_token}
        for _ in range(3):  # Telegram delivering the same update again
            async with http.post(url, json=start_update(anna, 2), headers=good) as answer:
                assert answer.status == 200
        assert len(anna.messages) == 1 and "Hello, Anna" in anna.messages[0].text
        async with http.post(url, json=start_update(anna, 3), headers=good) as answer:
            assert answer.status == 200
        assert len(anna.messages) == 2
        for body in (b"not json", b"[1, 2]", b'{"update_id": "7"}', b'{"message": {}}'):
            async with http.post(url, data=body, headers=good) as answer:
                assert answer.status == 400
                assert (await answer.json())["error"]["code"] in ("bad_json", "not_an_update")
        huge = b'{"update_id": 8, "pad": "' + b"x" * 70_000 + b'"}'
        async with http.post(url, data=huge, headers=good) as answer:
            assert answer.status == 413
            assert (await answer.json())["error"]["code"] == "payload_too_large"
        receiver.stopping = True
        async with http.post(url, json=start_update(anna, 4), headers=good) as answer:
            assert answer.status == 503
        assert len(anna.messages) == 2
        async with http.post(base + "/telegram/elsewhere", json=start_update(anna, 5),
                             headers=good) as answer:
            assert answer.status == 404
    bot.harness.assert_no_errors()


async def _never(*_args: object) -> bool:
    raise AssertionError("on PostgreSQL the update's turn records it, not the receiver")


async def _until(condition: Callable[[], bool]) -> None:
    for _ in range(1000):
        if condition():
            return
        await asyncio.sleep(0.01)
    pytest.fail("never happened")


async def test_a_replay_while_the_first_delivery_is_handled_is_handled_once(
        bot, engine, monkeypatch):
    """Telegram delivering again before it had our answer: on PostgreSQL the replay waits in
    the sender's line and its turn then finds the id recorded (the receiver records nothing
    itself); on SQLite the receiver finds it recorded at once."""
    postgres = engine.dialect.name == "postgresql"
    if postgres:
        monkeypatch.setattr(webhook, "first_delivery", _never)
    anna = bot.user("Anna")
    turns = turns_of(bot.harness.application)
    async with served(bot, engine) as (base, receiver), aiohttp.ClientSession() as http:

        async def deliver() -> dict:
            async with http.post(base + receiver.path, json=start_update(anna, 7),
                                 headers={SECRET_HEADER: receiver.secret_token}) as answer:
                assert answer.status == 200
                return dict(await answer.json())

        def waiting() -> int:
            line = turns._lines.get(anna.id)
            return line.waiting if line is not None else 0

        async with turns.in_line(anna.id):  # Anna's turn is busy here for now
            first = asyncio.create_task(deliver())
            await _until(lambda: waiting() == 2)
            replay = asyncio.create_task(deliver())
            await _until((lambda: waiting() == 3) if postgres else replay.done)
            assert not first.done()
        assert await first == {"ok": True}
        assert await replay == {"ok": True, "replayed": True}
    assert len(anna.messages) == 1 and "Hello, Anna" in anna.messages[0].text
    bot.harness.assert_no_errors()


async def test_an_update_that_is_nobodys_turn_is_recorded_once(bot, engine, monkeypatch):
    if engine.dialect.name == "postgresql":
        monkeypatch.setattr(webhook, "first_delivery", _never)
    poll = {"update_id": 8, "poll": {
        "id": "1", "question": "?",
        "options": [{"persistent_id": "a", "text": "a", "voter_count": 0}],
        "total_voter_count": 0, "is_closed": False, "is_anonymous": True, "type": "regular",
        "allows_multiple_answers": False, "allows_revoting": False,
        "members_only": False}}
    async with served(bot, engine) as (base, receiver), aiohttp.ClientSession() as http:
        answers = []
        for _ in range(2):
            async with http.post(base + receiver.path, json=poll,
                                 headers={SECRET_HEADER: receiver.secret_token}) as answer:
                assert answer.status == 200
                answers.append(await answer.json())
    assert answers == [{"ok": True}, {"ok": True, "replayed": True}]
    bot.harness.assert_no_errors()


async def test_a_press_is_answered_in_the_webhooks_answer(bot, engine):
    """The answer to a pressed button rides in the 200 to Telegram's POST (one Bot API
    request less); a typed message's 200 carries nothing; Telegram makes the carried call."""
    anna = bot.user("Anna")
    emulator = bot.emulator
    answers: list[dict] = []
    async with served(bot, engine) as (base, receiver), aiohttp.ClientSession() as http:

        async def telegram(update: dict) -> None:
            async with http.post(base + receiver.path, json=update,
                                 headers={SECRET_HEADER: receiver.secret_token}) as answer:
                assert answer.status == 200
                answers.append(await answer.json())
            if "method" in answers[-1]:  # as Telegram does with a webhook's answer
                call = dict(answers[-1])
                await emulator.call(call.pop("method"), call)

        harness_sink, emulator.sink = emulator.sink, telegram
        try:
            await anna.send("/book")
            station = next(b for b in anna.last_message.button_texts() if b[:1].isalpha())
            requests_before = len(emulator.calls)
            query = await anna.press(station)
        finally:
            emulator.sink = harness_sink
    assert answers[0] == {"ok": True}
    assert answers[1]["method"] == "answerCallbackQuery"
    assert answers[1]["callback_query_id"] == query.id
    assert query.answered
    # The card was edited by a request of its own, before the answer was made from the 200.
    made = [c.method for c in emulator.calls[requests_before:]]
    assert made == ["editMessageText", "answerCallbackQuery"]
    bot.harness.assert_no_errors()


async def test_a_button_of_no_chat_is_answered_out_of_date_and_fails_nothing(bot, engine):
    # An inline message's button (Kassa sends none) or a forged update: no message, no chat.
    anna = bot.user("Anna")
    async with served(bot, engine) as (base, receiver), aiohttp.ClientSession() as http:
        update = {"update_id": 77, "callback_query": {
            "id": "q77", "from": anna.record.to_api(), "chat_instance": "x",
            "inline_message_id": "m1", "data": "garbage"}}
        async with http.post(base + receiver.path, json=update,
                             headers={SECRET_HEADER: receiver.secret_token}) as answer:
            assert answer.status == 200
            reply = await answer.json()
    assert reply["method"] == "answerCallbackQuery"
    assert reply["text"] == "This button is out of date."
    bot.harness.assert_no_errors()


def test_the_reply_slot_takes_one_answer_and_nothing_once_answered():
    with reply_slot() as slot:
        assert not slot.take("sendMessage", {"chat_id": 1, "text": "hi"})
        assert slot.take("answerCallbackQuery", {"callback_query_id": "1"})
        assert not slot.take("answerCallbackQuery", {"callback_query_id": "2"})
        assert slot.answer() == {"method": "answerCallbackQuery", "callback_query_id": "1"}
    with reply_slot() as slot:
        assert slot.answer() == {"ok": True}
        # A handler still running after the answer was written: its call goes as a request.
        assert not slot.take("answerCallbackQuery", {"callback_query_id": "3"})


async def test_readyz_wants_the_database_and_the_newest_schema(bot, engine):
    async with served(bot, engine) as (base, _receiver), aiohttp.ClientSession() as http:
        async with http.get(base + "/readyz") as answer:
            assert answer.status == 200 and (await answer.json()) == {"ready": True}
        async with engine.begin() as conn:  # as if a newer release had not been migrated
            old = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()
            await conn.execute(text("UPDATE alembic_version SET version_num = '0001'"))
        try:
            async with http.get(base + "/readyz") as answer:
                assert answer.status == 503
                assert "kassa db upgrade" in (await answer.json())["database"]
            async with engine.begin() as conn:  # migrated by a newer release than this one
                await conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
            async with http.get(base + "/readyz") as answer:
                assert answer.status == 503
                reason = (await answer.json())["database"]
                assert "newer than this release" in reason and "db upgrade" not in reason
        finally:
            async with engine.begin() as conn:
                await conn.execute(text("UPDATE alembic_version SET version_num = :v"),
                                   {"v": old})
    app = web.Application()
    readiness_route(app, "postgresql+asyncpg://postgres@127.0.0.1:9/nowhere")
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as http, http.get(server.make_url("/readyz")) as answer:
            assert answer.status == 503
            # Not the driver's error, which names the host and the user, to whoever asks.
            assert await answer.json() == {"ready": False,
                                           "database": "the database does not answer"}
    finally:
        await server.close()


def test_the_path_and_token_come_from_the_secret_key(engine):
    one = UpdateReceiver(None, engine, b"a")
    assert one.path == UpdateReceiver(None, engine, b"a").path  # every instance agrees
    assert one.path != UpdateReceiver(None, engine, b"b").path
    assert 1 <= len(one.secret_token) <= 256 and one.secret_token.isalnum()
