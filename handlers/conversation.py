"""The booking ConversationHandler, assembled in one place, and the trip-request filter."""

from __future__ import annotations

import warnings
from typing import Any

from telegram import Message
from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)
from telegram.warnings import PTBUserWarning

from handlers import booking_steps as steps
from handlers import callback_data as cb
from handlers import menu
from handlers.context import Services
from handlers.flow import (
    COUNT,
    DATE,
    DESTINATION,
    HELD,
    NAMES,
    ORIGIN,
    SEATS,
    STATE_NAMES,
    SUMMARY,
    TRIPS,
)
from handlers.parsing import parse_trip_request

CONVERSATION_NAME = "booking"
TEXT = filters.TEXT & ~filters.COMMAND


class TripRequestFilter(filters.MessageFilter):
    """Text that names a whole trip ("Beijing to Tianjin tomorrow"), in any step or none."""

    def __init__(self, services: Services) -> None:
        super().__init__(name="TripRequest")
        self.services = services

    def filter(self, message: Message) -> bool:
        if not message.text or message.text.startswith("/") or self.services.index is None:
            return False
        today = self.services.booking.now().date()
        return parse_trip_request(message.text, self.services.index, today) is not None


def button(callback: Any, *actions: str) -> CallbackQueryHandler[Any, Any]:
    return CallbackQueryHandler(callback, pattern=cb.action_pattern(*actions))


def booking_conversation(services: Services) -> ConversationHandler[Any]:
    """Every step of the booking, Back, /cancel, and re-entry by /book, menu or free text."""
    common = [button(steps.go_back, "bk"), button(steps.noop, "-")]
    states: dict[object, list[Any]] = {
        ORIGIN: [button(steps.pick_origin, "o"), MessageHandler(TEXT, steps.typed_origin)],
        DESTINATION: [button(steps.pick_destination, "d"),
                      MessageHandler(TEXT, steps.typed_destination)],
        DATE: [button(steps.pick_date, "D"), button(steps.turn_month, "M"),
               MessageHandler(TEXT, steps.typed_date)],
        TRIPS: [button(steps.pick_trip, "t"), button(steps.turn_page, "P"),
                button(steps.pick_date, "S"), MessageHandler(TEXT, steps.typed_date)],
        COUNT: [button(steps.pick_count, "c"), MessageHandler(TEXT, steps.typed_count)],
        SEATS: [button(steps.toggle_seat, "s"), button(steps.any_seats, "A"),
                MessageHandler(TEXT, steps.typed_seats)],
        NAMES: [button(steps.pick_saved_name, "n"), MessageHandler(TEXT, steps.typed_name)],
        SUMMARY: [button(steps.confirm, "y"), MessageHandler(TEXT, steps.typed_on_summary)],
        HELD: [button(steps.confirm, "y"), button(steps.cancel_hold, "x")],
    }
    for handlers in states.values():
        handlers[:0] = common
    assert set(states) == set(range(len(STATE_NAMES)))
    # Buttons are told apart by the flow id in their data, not per message, so per_message
    # stays False; PTB warns about that combination, and here it is intended.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=PTBUserWarning, message=".*per_message.*")
        return ConversationHandler(
            entry_points=[
                CommandHandler("book", steps.begin),
                CallbackQueryHandler(steps.begin, pattern=f"^{cb.menu('book')}$"),
                MessageHandler(TripRequestFilter(services), steps.trip_request),
            ],
            states=states,
            fallbacks=[
                CommandHandler("cancel", steps.cancel),
                CommandHandler("start", menu.start),
                CommandHandler("help", menu.show_help),
                CallbackQueryHandler(steps.stale, pattern=f"^{cb.BOOKING}:"),
            ],
            name=CONVERSATION_NAME,
            persistent=True,
            allow_reentry=True,
            per_message=False,
        )
