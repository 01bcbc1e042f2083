"""A card's buttons: made once for each text and data, and written out as PTB would."""

from __future__ import annotations

import json

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from handlers.cards import Card, button


def test_a_button_is_written_out_as_ptb_writes_one():
    mine = button("✅ 12A", "b:0a1b2c:s:12A")
    ptb = InlineKeyboardButton("✅ 12A", callback_data="b:0a1b2c:s:12A")
    assert mine.to_dict() == ptb.to_dict()
    assert mine == ptb and mine.url is None and mine.callback_data == "b:0a1b2c:s:12A"
    # What goes over the wire, key order and all: the reply_markup form field, which PTB
    # writes as the JSON of to_dict().
    ours = Card("x", [[mine, button("« Back", "b:0a1b2c:bk:")]]).markup
    theirs = InlineKeyboardMarkup([[ptb, InlineKeyboardButton("« Back",
                                                              callback_data="b:0a1b2c:bk:")]])
    assert ours is not None
    assert json.dumps(ours.to_dict()) == json.dumps(theirs.to_dict())


def test_equal_buttons_are_one_button():
    assert button("Today", "b:0a1b2c:D:2026-06-01") is button("Today", "b:0a1b2c:D:2026-06-01")
    assert button("Today", "b:0a1b2c:D:2026-06-01") is not button("Today", "b:ffffff:D:2026-06-01")


def test_a_card_without_buttons_has_no_keyboard():
    assert Card("x", []).markup is None
