"""The booking conversation, assembled in one place: which step takes which button and text.

The flow record (handlers/flow.py) is the one source of the step. Every button of a booking
card and every typed text comes through the two routers below, which do once what every step
needs: find the person's flow, check that a pressed button belongs to its current card
(otherwise it is answered "out of date"), read a typed line once, and call the step.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from telegram import Message, Update

from booking.errors import BookingError
from handlers import booking_steps as steps
from handlers import callback_data as cb
from handlers.cards import answer_query, drop_buttons, show
from handlers.context import KassaContext
from handlers.errors import error_text
from handlers.flow import Flow, Step, load_flow, save_flow
from handlers.menu import menu_card, not_understood, pause_booking, resumable
from handlers.turn import Turn

StepAction = Callable[[Turn], Awaitable[None]]


@dataclass(frozen=True)
class StepHandlers:
    buttons: dict[str, StepAction] = field(default_factory=dict)
    text: StepAction | None = None  # typed text at this step; None: not for the booking


# Button actions valid at every step.
COMMON: dict[str, StepAction] = {"bk": steps.go_back, "-": steps.noop, "r": steps.resume}
# Pressed on another message than the booking card (the menu's "Continue booking").
FROM_ANY_MESSAGE = frozenset({"r"})

STEPS: dict[Step, StepHandlers] = {
    Step.ORIGIN: StepHandlers({"o": steps.pick_origin}, steps.typed_origin),
    Step.DESTINATION: StepHandlers({"d": steps.pick_destination}, steps.typed_destination),
    Step.DATE: StepHandlers({"D": steps.pick_date, "M": steps.turn_month}, steps.typed_date),
    Step.TRIPS: StepHandlers({"t": steps.pick_trip, "P": steps.turn_page, "S": steps.pick_date},
                             steps.typed_date),
    Step.COUNT: StepHandlers({"c": steps.pick_count}, steps.typed_count),
    Step.SEATS: StepHandlers({"s": steps.toggle_seat, "A": steps.any_seats,
                              "C": steps.seats_done}, steps.typed_seats),
    Step.NAMES: StepHandlers({"n": steps.pick_saved_name, "C": steps.names_done,
                              "N": steps.change_names}, steps.typed_name),
    Step.SUMMARY: StepHandlers({"y": steps.confirm}, steps.typed_on_summary),
    Step.HELD: StepHandlers({"y": steps.confirm, "x": steps.cancel_hold}),
}


async def begin(update: Update, context: KassaContext) -> None:
    """/book or the menu's "Book a trip": a new booking at the origin step.

    /book typed while a booking is under way asks first (continue it, or start anew), so
    that nobody loses one by typing /book to get back to it; the menu's button, pressed
    beside "Continue booking", is that choice made.
    """
    _ = context.texts
    await answer_query(update)
    flow = load_flow(context)
    route = resumable(context, flow)
    if update.callback_query is None and route is not None:
        pause_booking(context)
        question = _("You are booking {route}. Continue, or start a new booking?", route=route)
        await show(update, context, menu_card(context, question), edit=False)
        return
    await _drop_old_card(update, context, flow)
    await Turn(update, context, Flow.new()).go(Step.ORIGIN, steps.replaced(context, flow))


async def rebook(update: Update, context: KassaContext) -> None:
    """An alternative trip offered after one fell through: a new booking of the same stretch
    and number of passengers on that trip, at the seat map."""
    query = update.callback_query
    found = cb.parse_alternative(query.data if query else None)
    user = update.effective_user
    await answer_query(update)
    if found is None or user is None:
        return
    order_id, trip_id = found
    try:
        view = await context.services.booking.order(order_id, user.id)
    except BookingError as error:
        await show(update, context, menu_card(context, error_text(context.texts, error)),
                   edit=False)
        return
    await _drop_old_card(update, context, load_flow(context))
    flow = Flow.new()
    flow.origin, flow.destination = view.origin.code, view.destination.code
    flow.trip, flow.count = trip_id, len(view.seats)
    flow.names = list(view.passengers)
    turn = Turn(update, context, flow)
    try:
        option = await context.services.booking.trip_option(trip_id, flow.origin,
                                                           flow.destination)
    except BookingError as error:
        flow.trip = flow.count = None
        await turn.go(Step.DATE, error_text(context.texts, error), new_message=True)
        return
    flow.day = option.departure.date()
    await turn.go(Step.SEATS, new_message=True)


async def cancel(update: Update, context: KassaContext) -> None:
    """/cancel: stop the booking being made, and say so; a hold already placed stays (it
    is cancelled from its card or /mytickets, where the passenger sees what that does)."""
    _ = context.texts
    flow = load_flow(context)
    if flow is None or not flow.in_progress:
        await show(update, context, menu_card(context, _("There is no booking in progress.")),
                   edit=False)
        return
    await _drop_old_card(update, context, flow)
    save_flow(context, None)
    await show(update, context, menu_card(context, _("Booking stopped — /book to start again.")),
               edit=False)


async def on_button(update: Update, context: KassaContext) -> None:
    """A booking card's button: the step's action, or "out of date" for any other."""
    query = update.callback_query
    pressed = cb.parse_booking(query.data if query else None)
    flow = load_flow(context)
    message = query.message if query else None
    if pressed is None or flow is None or pressed.flow != flow.id:
        await stale(update, context, flow)
        return
    on_card = isinstance(message, Message) and message.message_id == flow.card
    action = COMMON.get(pressed.action) or STEPS[flow.step].buttons.get(pressed.action)
    if action is None or not (on_card or pressed.action in FROM_ANY_MESSAGE):
        await stale(update, context, flow)
        return
    turn = Turn(update, context, flow, pressed.argument)
    try:
        await action(turn)
    except steps.StaleButton:
        await stale(update, context, flow)
        return
    await turn.answer()


async def on_text(update: Update, context: KassaContext) -> None:
    """Typed text: a whole trip request starts a booking from anywhere; otherwise it is the
    answer to the current step of a booking in progress, or not understood."""
    message = update.effective_message
    text = (message.text or "") if message else ""
    request = steps.read_trip_request(context, text)
    flow = load_flow(context)
    if request is not None:
        await steps.trip_request(update, context, flow, request)
        return
    handler = STEPS[flow.step].text if flow is not None and not flow.paused else None
    if flow is None or handler is None:
        await not_understood(update, context)
        return
    await handler(Turn(update, context, flow))


async def stale(update: Update, context: KassaContext, flow: Flow | None) -> None:
    """A button from an old card or an earlier booking: say so and show the current step."""
    _ = context.texts
    await answer_query(update, _("This button is out of date."))
    if flow is None or flow.card is None:
        await show(update, context, menu_card(context), edit=False)
        return
    await Turn(update, context, flow).go(flow.step, new_message=True)


async def _drop_old_card(update: Update, context: KassaContext, flow: Flow | None) -> None:
    chat = update.effective_chat
    if flow is not None and chat is not None:
        await drop_buttons(context, chat.id, flow.card)
