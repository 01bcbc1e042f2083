"""A card's buttons: Kassa's own three-field Buttons, sent exactly as PTB sends its own."""

from __future__ import annotations

import json

import pytest
from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.request import RequestData
from telegram.request._requestparameter import RequestParameter

from handlers.cards import Button, Card, button


def wire(markup: InlineKeyboardMarkup) -> str:
    """The reply_markup as PTB sends it: the JSON of the value its request data holds."""
    data = RequestData([RequestParameter.from_input("reply_markup", markup)])
    return json.dumps(data.parameters["reply_markup"], ensure_ascii=False)


def test_a_keyboard_goes_over_the_wire_as_ptb_writes_one():
    ours = Card("x", [[button("✅ 12A", "b:0a1b2c:s:12A"), button("« Back", "b:0a1b2c:bk:")],
                      [Button("💳 Pay €12.00", url="https://pay.example/c/1")]]).markup
    theirs = InlineKeyboardMarkup([
        [InlineKeyboardButton("✅ 12A", callback_data="b:0a1b2c:s:12A"),
         InlineKeyboardButton("« Back", callback_data="b:0a1b2c:bk:")],
        [InlineKeyboardButton("💳 Pay €12.00", url="https://pay.example/c/1")]])
    assert ours is not None
    # Key order and all.
    assert wire(ours) == wire(theirs)
    assert json.loads(wire(ours))["inline_keyboard"][1] == [
        {"text": "💳 Pay €12.00", "url": "https://pay.example/c/1"}]


def test_a_button_says_what_it_sends_back():
    pressed = button("Today", "b:0a1b2c:D:2026-06-01")
    assert pressed.text == "Today" and pressed.callback_data == "b:0a1b2c:D:2026-06-01"
    assert pressed.url is None
    assert pressed == button("Today", "b:0a1b2c:D:2026-06-01")
    assert pressed != button("Today", "b:ffffff:D:2026-06-01")


def test_a_button_has_callback_data_or_a_link():
    with pytest.raises(ValueError):
        Button("Nothing")
    with pytest.raises(ValueError):
        Button("Both", callback_data="b:0a1b2c:y", url="https://pay.example/c/1")


def test_a_card_without_buttons_has_no_keyboard():
    assert Card("x", []).markup is None
