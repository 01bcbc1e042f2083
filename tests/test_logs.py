"""JSON logs: every line one JSON object, with the ids bound for the update or request at
hand, and no name or text of anybody's in it."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from telegram import Update

from bot.logs import configure, log_ids, note_ids, remove


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
