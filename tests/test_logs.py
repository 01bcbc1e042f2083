"""JSON logs: every line one JSON object, with the update, person and order it concerns,
and no name or text of anybody's in it. A booking made in the chat, paid on the checkout
page and delivered by the outbox, on both databases."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from telegram import Update

from booking.http_api import make_booking_api
from bot.logs import configure, log_ids, note_ids, remove
from bot.metrics import Metrics, observe_web_app
from bot.services import booking_service, customer_service
from bot.settings import Settings
from bot.web import make_web_app
from storage.idempotency import SqlIdempotencyStore
from tests.booking_api_support import AUTH, TOKEN
from tests.conversation_support import running_bot, seed
from tests.factories import build_network
from tests.test_booking_http_api import hold_body
from tests.test_metrics import serving
from tests.test_payments_web import held_booking, pay_url


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    """Logging configured as `kassa run` has it, into a buffer; put back afterwards."""
    root = logging.getLogger()
    level = root.level
    buffer = io.StringIO()
    handler = configure("json", stream=buffer)
    yield buffer
    remove(handler)
    root.setLevel(level)


def lines_of(buffer: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


def one(lines: list[dict[str, Any]], event: str) -> dict[str, Any]:
    [line] = [line for line in lines if line["event"] == event]
    return line


async def test_a_booking_logs_its_ids_in_json_and_no_names(engine, clock, json_logs):
    await seed(engine, clock)
    metrics = Metrics()
    async with running_bot(engine, clock, metrics=metrics) as bot:
        user, view = await held_booking(bot, "Zofia", "Zofia Wiśniewska")
        url = pay_url(user.last_message)
        app = make_web_app(bot.services, bot.sandbox, "Test Coaches", metrics=metrics)
        async with serving(app) as base, aiohttp.ClientSession() as http, http.post(
                base + url[url.index("/pay/"):], data={"action": "pay"}) as answer:
            assert answer.status == 200
        await bot.run_jobs()
        assert any(m.document for m in user.messages)  # the tickets arrived
    text = json_logs.getvalue()
    lines = lines_of(json_logs)  # each line is one JSON object
    assert all({"event", "level", "logger", "timestamp"} <= set(line) for line in lines)
    # The hold, in the update that made it: the update, the person and the order.
    placed = one(lines, "hold placed")
    assert isinstance(placed["update_id"], int) and placed["user_id"] == user.id
    assert placed["order_id"] == view.id and placed["seats"] == 1
    assert placed["level"] == "info" and placed["logger"] == "bot.observed"
    # The payment, in the web request of the provider's webhook: no update there.
    paid = one(lines, "payment confirmed")
    assert paid["order_id"] == view.id and paid["user_id"] == user.id
    assert paid["outcome"] == "paid" and "update_id" not in paid
    # Ids bound for one update or request are gone on the lines after it.
    after = lines[lines.index(placed) + 1:]
    assert all(line.get("update_id") != placed["update_id"] for line in after
               if line["event"] == "payment confirmed")
    # Neither the person's name nor the passenger's, in any form.
    assert "Zofia" not in text and "Wiśniewska" not in text and "Wi\\u015b" not in text


def test_a_telegram_update_in_a_log_call_is_written_as_its_ids(json_logs):
    update = Update.de_json({"update_id": 9, "message": {
        "message_id": 1, "date": 0, "chat": {"id": 5, "type": "private"},
        "from": {"id": 5, "is_bot": False, "first_name": "Olga", "phone_number": "+4912345"},
        "text": "my secret itinerary"}}, None)
    # What python-telegram-bot logs when it cannot build a context for an update.
    logging.getLogger("telegram.ext.Application").critical(
        "Error while building CallbackContext for update %s. Update will not be processed.",
        update)
    [line] = lines_of(json_logs)
    assert line["event"] == ("Error while building CallbackContext for update <update 9 of "
                             "user 5>. Update will not be processed.")
    assert "Olga" not in json_logs.getvalue() and "secret" not in json_logs.getvalue()


def test_ids_noted_inside_a_scope_end_with_it(json_logs):
    log = logging.getLogger("kassa.test")
    with log_ids(update_id=1, user_id=2):
        note_ids(order_id="ORDER1")
        log.info("inside")
        with log_ids(update_id=3, user_id=4):
            log.info("nested")
        log.info("back")
    log.info("outside")
    inside, nested, back, outside = lines_of(json_logs)
    assert (inside["update_id"], inside["user_id"], inside["order_id"]) == (1, 2, "ORDER1")
    assert (nested["update_id"], nested["user_id"]) == (3, 4) and "order_id" not in nested
    assert (back["update_id"], back["order_id"]) == (1, "ORDER1")
    assert not {"update_id", "user_id", "order_id"} & set(outside)


def test_console_format_is_for_people(json_logs):
    buffer = io.StringIO()
    handler = configure("console", stream=buffer)
    try:
        logging.getLogger("kassa.test").warning("the outbox is slow", extra={"pending": 3})
    finally:
        remove(handler)
    [line] = buffer.getvalue().splitlines()
    assert "the outbox is slow" in line and "pending=3" in line and not line.startswith("{")
    assert json_logs.getvalue() == ""  # the console handler replaced the JSON one


async def test_at_debug_level_too_no_name_text_or_token(engine, clock):
    """KASSA_LOG_LEVEL=debug is for finding a fault, not for reading passengers' names:
    python-telegram-bot's debug lines (every Bot API call's text, the URL with the token)
    and SQLAlchemy's (every statement's parameters) stay out."""
    root = logging.getLogger()
    level = root.level
    buffer = io.StringIO()
    level = logging.getLogger().level
    handler = configure("json", stream=buffer, level=logging.DEBUG)
    try:
        await seed(engine, clock)
        async with running_bot(engine, clock) as bot:
            await held_booking(bot, "Zofia", "Zofia Wiśniewska")
            token = bot.harness.application.bot.token
            logging.getLogger("bot.observed").debug("Kassa's own debug line")
    finally:
        remove(handler)
        root.setLevel(level)
    text = buffer.getvalue()
    assert "Kassa's own debug line" in text
    assert "Zofia" not in text and "Wi\\u015b" not in text and token not in text


def test_the_libraries_floors_never_lower_the_level_asked_for():
    root = logging.getLogger()
    level = root.level
    buffer = io.StringIO()
    handler = configure("json", stream=buffer, level=logging.WARNING)
    try:
        logging.getLogger("telegram.ext.Application").info("Application started")
        logging.getLogger("aiosqlite").info("executing")
        logging.getLogger("telegram.ext.Application").warning("a warning")
    finally:
        remove(handler)
        root.setLevel(level)
    assert [line["event"] for line in lines_of(buffer)] == ["a warning"]


async def test_the_booking_apis_lines_carry_their_own_requests_ids(engine, clock):
    # The API's use cases run in long-lived worker tasks: an order noted while one request
    # was served must not be on the lines of the next request that worker serves.
    network = await build_network(engine, days=3)
    trip = network.trips[min(network.trips)]
    settings = Settings(_env_file=None)
    metrics = Metrics()
    app = make_booking_api(booking_service(settings, engine, clock=clock, metrics=metrics),
                           customer_service(settings, engine, clock=clock), token=TOKEN,
                           idempotency=SqlIdempotencyStore(engine), workers=1)
    observe_web_app(app, metrics)
    buffer = io.StringIO()
    level = logging.getLogger().level
    handler = configure("json", stream=buffer, level=logging.DEBUG)
    try:
        async with TestClient(TestServer(app, host="127.0.0.1")) as client:
            for customer in (1, 2):
                assert (await client.put(f"/v1/customers/{customer}", headers=AUTH,
                                         json={"name": "Anna", "language": "en"})).status == 200
            held = await client.post("/v1/holds", json=hold_body(trip), headers=AUTH)
            assert held.status == 201
            order_id = (await held.json())["id"]
            refused = await client.post("/v1/holds", headers=AUTH,
                                        json=hold_body(trip, customer=2, passengers=["B0b"]))
            assert refused.status == 422
    finally:
        remove(handler)
        logging.getLogger().setLevel(level)
    lines = lines_of(buffer)
    assert one(lines, "hold placed")["order_id"] == order_id
    refusal = one(lines, "hold refused")
    assert refusal["user_id"] == 2 and "order_id" not in refusal


async def test_a_request_that_is_not_http_is_one_line_without_its_bytes(json_logs):
    # aiohttp logs a request it cannot parse with a traceback quoting the offending bytes:
    # a header too long is the client's Authorization header, token and all.
    app = aiohttp.web.Application()
    async with serving(app) as base, aiohttp.ClientSession() as http:
        secret = "Bearer tok_" + "x" * 9000
        async with http.get(base + "/v1/limits", headers={"Authorization": secret}) as answer:
            assert answer.status == 400
    text = json_logs.getvalue()
    [line] = [line for line in lines_of(json_logs) if line["logger"] == "aiohttp.server"]
    assert line["level"] == "warning" and "exception" not in line
    assert line["event"].startswith("bad HTTP request from 127.0.0.1 refused")
    assert "tok_" not in text and "Traceback" not in text


async def test_a_job_scheduled_while_an_update_is_handled_logs_without_its_ids(json_logs):
    from telegram.ext import ApplicationBuilder

    from bot.jobs import JobQueueOwnIds

    ran = asyncio.Event()

    async def job(_context: object) -> None:
        logging.getLogger("kassa.test").info("job ran")
        ran.set()

    application = ApplicationBuilder().token("1:a").job_queue(JobQueueOwnIds()).build()
    queue = application.job_queue  # which holds the application weakly: kept alive here
    assert queue is not None
    await queue.start()  # no Bot API call: the queue alone
    try:
        with log_ids(update_id=11, user_id=22):  # as inside a handler
            queue.run_once(job, 0.01)
        await asyncio.wait_for(ran.wait(), 5)
    finally:
        await queue.stop()
    line = one(lines_of(json_logs), "job ran")
    assert "update_id" not in line and "user_id" not in line
