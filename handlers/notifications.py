"""Messages the bot sends on its own, delivered from the outbox: one deliverer per kind.

Each deliverer renders the message in the recipient's language at the moment of sending
(from the current state of the order, so a hold paid meanwhile is not called expired) and
turns Telegram's answers into the outbox's terms: blocked, retry later, or sent.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, datetime, timedelta

from telegram import Bot
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut

from booking.errors import BookingError
from booking.model import OrderStatus, TripStatus
from booking.outbox import Deliverer, MessageKind, RetryLater, Undeliverable, part_sent
from booking.ports import OutboxMessage
from booking.views import OrderView
from handlers import callback_data as cb
from handlers.booking_cards import again_row
from handlers.cards import Card, Rows, button
from handlers.context import Services
from handlers.documents import Document, ticket_documents
from handlers.errors import N_
from handlers.payments import pay_rows
from handlers.rate_limiter import retry_seconds
from handlers.times import arrival_time, moved_time, scheduled
from locales import Texts, texts


async def recipient_texts(services: Services, message: OutboxMessage) -> tuple[int, Texts]:
    if message.recipient is None:
        raise Undeliverable("a message for nobody")
    customer = await services.customers.customer(message.recipient)
    if customer is not None and customer.blocked:
        raise Undeliverable("the person has blocked the bot", blocked=True)
    return message.recipient, texts(customer.language if customer else "en")


async def send_card(bot: Bot, chat_id: int, card: Card) -> None:
    """Send a message, with Telegram's refusals in the outbox's terms."""
    await telegram_call(bot.send_message(chat_id, card.text, reply_markup=card.markup))


async def send_document(bot: Bot, chat_id: int, document: Document) -> None:
    await telegram_call(bot.send_document(chat_id, document.content,
                                          filename=document.filename))


async def telegram_call(call: Awaitable[object]) -> None:
    """Await one Bot API call; Telegram's refusals become the outbox's terms.

    The bot's rate limiter (handlers/rate_limiter.py) paces the call and waits out 429s
    itself; a 429 that still comes through here is flood control that outlasted its
    retries, which is no fault of the message: it is due again after retry_after and keeps
    its attempts."""
    try:
        await call
    except Forbidden as error:
        raise Undeliverable(error.message, blocked=True) from error
    except RetryAfter as error:
        raise RetryLater(error.message, after=retry_seconds(error), attempted=False) from error
    except BadRequest as error:  # chat not found, text refused: trying again changes nothing
        raise Undeliverable(error.message) from error
    except (TimedOut, NetworkError) as error:
        raise RetryLater(error.message) from error


def hold_expired(bot: Bot, services: Services) -> Deliverer:
    async def deliver(message: OutboxMessage) -> None:
        """Tell the passenger that their hold ran out (unless it was paid meanwhile)."""
        chat_id, _ = await recipient_texts(services, message)
        try:
            view = await services.booking.order(str(message.payload.get("order", "")))
        except BookingError as error:
            raise Undeliverable(f"no such order: {error}") from error
        if view.status is not OrderStatus.EXPIRED:
            return  # paid late, or cancelled: nothing to tell
        route = f"{view.origin.name(_.language)} → {view.destination.name(_.language)}"
        text = _.ngettext(
            "Your hold for {route} on {day} at {time} has expired and the seat was released.",
            "Your hold for {route} on {day} at {time} has expired and the seats were "
            "released.", len(view.seats), route=route,
            day=_.day(view.departure.date(), services.booking.now().astimezone(
                view.origin.tz).date()),
            time=_.time(view.departure))
        rows = [again_row(_, view, services.booking.now()),
                [button(_("🚌 Book again"), cb.menu("book"))]]
        await send_card(bot, chat_id, Card(text, [row for row in rows if row]))

    return deliver


async def order_for(services: Services, message: OutboxMessage) -> OrderView:
    try:
        return await services.booking.order(str(message.payload.get("order", "")))
    except BookingError as error:
        raise Undeliverable(f"no such order: {error}") from error


def local_today(services: Services, view: OrderView) -> date:
    """Today where the trip starts, which decides whether a date needs its year."""
    return services.booking.now().astimezone(view.origin.tz).date()


def route_of(_: Texts, view: OrderView) -> str:
    return f"{view.origin.name(_.language)} → {view.destination.name(_.language)}"


def payment_declined(bot: Bot, services: Services) -> Deliverer:
    async def deliver(message: OutboxMessage) -> None:
        """The provider declined: the hold stays until it expires, and can be paid again."""
        chat_id, _ = await recipient_texts(services, message)
        view = await order_for(services, message)
        if view.status is not OrderStatus.HELD or view.expires_at is None:
            return
        text = _("The payment was declined. Your seats stay held until {time} ({station} "
                 "time).", time=_.time(view.expires_at.astimezone(view.origin.tz)),
                 station=view.origin.name(_.language))
        await send_card(bot, chat_id, Card(text, await pay_rows(services, _, view)))

    return deliver


# Why money goes back, by the refund's reason (booking/outcomes.py RefundReason, and
# "cancelled", the passenger's own cancellation); any other reads as the seats gone.
REFUND_REASONS = {
    "cancelled": N_("Your booking {route} is cancelled."),
    "trip_cancelled": N_("We are sorry: your payment for {route} on {day} arrived after the "
                         "trip was cancelled."),
    "trip_departed": N_("We are sorry: your payment for {route} on {day} arrived after the "
                        "trip had left."),
    # Paid twice (two tabs, a retry): the first payment stands.
    "already_paid": N_("Your booking {route} on {day} was paid twice; your tickets stand, "
                       "and the second payment goes back."),
    "order_closed": N_("We are sorry: your payment for {route} on {day} arrived after the "
                       "booking was cancelled."),
    "amount_mismatch": N_("We are sorry: your payment for {route} on {day} was not the "
                          "booking's price."),
    "seat_taken": N_("We are sorry: your payment for {route} on {day} arrived after the "
                     "seats were no longer available."),
}


def refund_sentence(_: Texts, amount: str, *, by_hand: bool) -> str:
    """Where the money is: a refund a staff member makes by hand (Telegram Payments) is not
    yet on its way."""
    if by_hand:
        return _("{amount} will be refunded to you; we have asked our staff to make the "
                 "refund.", amount=amount)
    return _("{amount} is on its way back to you.", amount=amount)


def refund_notice(bot: Bot, services: Services) -> Deliverer:
    async def deliver(message: OutboxMessage) -> None:
        """The money went back: say how much and why, with an apology where we failed."""
        chat_id, _ = await recipient_texts(services, message)
        view = await order_for(services, message)
        amount = _.price(int(message.payload.get("amount", 0)), view.currency)
        reason = message.payload.get("reason")
        day = _.day(view.departure.date(), local_today(services, view))
        route = route_of(_, view)
        why = _(REFUND_REASONS.get(str(reason), REFUND_REASONS["seat_taken"]),
                route=route, day=day)
        how = refund_sentence(_, amount, by_hand=bool(message.payload.get("by_hand")))
        text = _("{sentence} {next_sentence}", sentence=why, next_sentence=how)
        if reason == "already_paid":  # nothing to book again: the booking is theirs
            await send_card(bot, chat_id, Card(text, [[button(_("🎫 My tickets"),
                                                              cb.menu("tickets"))]]))
            return
        # The trip the passenger cancelled has their seats free again: not offered back.
        # A payment that came too late may still find other seats on the trip they wanted.
        rows = await alternative_rows(services, _, view,
                                      other_trips=reason in ("cancelled", "trip_cancelled"))
        rows.append([button(_("🚌 Book again"), cb.menu("book"))])
        await send_card(bot, chat_id, Card(text, rows))

    return deliver


async def alternative_rows(services: Services, _: Texts, view: OrderView, *,
                           other_trips: bool = False) -> Rows:
    """The nearest trips with as many seats, each a button that books it at once; with
    ``other_trips``, never the booking's own trip."""
    try:
        options = await services.booking.alternatives(
            view.origin.code, view.destination.code, view.departure, len(view.seats),
            exclude_trip=view.trip_id if other_trips else None)
    except BookingError:
        return []
    today = local_today(services, view)
    return [[button(f"{_.day(o.departure.date(), today)} {_.time(o.departure)} · "
                    f"{_.price(o.price * len(view.seats), o.currency)}",
                    cb.alternative(view.id, o.trip_id))] for o in options]


def send_tickets(bot: Bot, services: Services) -> Deliverer:
    async def deliver(message: OutboxMessage) -> None:
        """The paid order's reference and tickets, in the chat."""
        chat_id, _ = await recipient_texts(services, message)
        view = await order_for(services, message)
        await send_ticket_files(bot, services, chat_id, _, view, parts_sent=message.parts_sent)

    return deliver


async def send_ticket_files(bot: Bot, services: Services, chat_id: int, _: Texts,
                            view: OrderView, *, parts_sent: int = 0) -> None:
    """The booking reference and each ticket's code, then one PDF per passenger and the .ics:
    each a part (booking.outbox.part_sent), and the first ``parts_sent`` of them skipped, as
    an earlier attempt that failed part-way sent them."""
    try:
        tickets = await services.booking.tickets(view.id, None)
    except LookupError as error:
        raise Undeliverable(str(error)) from error
    lines = [_("✅ Paid. Booking reference: {reference}", reference=view.id),
             route_of(_, view),
             _("{day}, {departs} → {arrives}",
               day=_.day(view.departure.date(), local_today(services, view)),
               departs=_.time(view.departure),
               arrives=arrival_time(_, view.departure, view.arrival))]
    for ticket in tickets:
        seat = f"{ticket.seat} — {ticket.passenger}"
        lines.append(_("{label}: {value}", label=seat, value=ticket.code))
    if parts_sent < 1:
        await send_card(bot, chat_id, Card("\n".join(lines),
                                           [[button(_("🎫 My tickets"), cb.menu("tickets"))]]))
        part_sent()
    documents = await ticket_documents(_, view, tickets, services.operator,
                                       services.booking.now())
    for document in documents[max(parts_sent - 1, 0):]:
        await send_document(bot, chat_id, document)
        part_sent()


def broadcast(bot: Bot, services: Services) -> Deliverer:
    async def deliver(message: OutboxMessage) -> None:
        """A staff member's broadcast, as they wrote it (Telegram's HTML formatting).

        Whether the person blocked the bot is known before this runs: the outbox worker
        records those rows blocked unsent (a message to people, see ``telegram_deliverers``),
        so a broadcast to thousands reads no customer rows one by one."""
        if message.recipient is None:
            raise Undeliverable("a broadcast for nobody")
        text = message.payload.get("text")
        if not isinstance(text, str) or not text.strip():
            raise Undeliverable(f"a broadcast without a text: {message.payload!r}")
        await telegram_call(bot.send_message(message.recipient, text, parse_mode=ParseMode.HTML))

    return deliver


def timetabled_when(_: Texts, services: Services, view: OrderView, planned: datetime) -> str:
    """The trip's day and time as the timetable had them ("Tue, Jun 2 6:00 AM"): how the
    passenger knows it, whatever delays moved it since."""
    return f"{_.day(planned.date(), local_today(services, view))} {_.time(planned)}"


def trip_delayed(bot: Bot, services: Services) -> Deliverer:
    async def deliver(message: OutboxMessage) -> None:
        """A staff delay: the new local times at the passenger's own stops, and why.

        Rendered from the orders as they are when sent: a booking cancelled meanwhile is
        not mentioned, and a second delay shows the times after both."""
        chat_id, _ = await recipient_texts(services, message)
        trip_id = int(message.payload.get("trip", 0))
        try:
            views = [v for v in await services.booking.orders_of(chat_id)
                     if v.trip_id == trip_id and (v.status is OrderStatus.PAID or (
                         v.status is OrderStatus.HELD and v.expires_at is not None))]
        except BookingError as error:
            raise Undeliverable(str(error)) from error
        if not views:
            return
        view = views[0]
        # Named by its day and time in the timetable, which is how the passenger knows it;
        # the new departure marked "+1" if the delay took it past midnight.
        planned = scheduled(view.departure, view.delay_minutes)
        # The delay in all, as the new times are: a trip delayed 45 minutes, then 15 more,
        # is an hour late (the reason is the latest one's).
        text = _("⏰ Your trip {route} on {day} is {minutes} min late: {reason}\n"
                 "New departure {departs} from {origin}, arrival {arrives} at {destination} "
                 "(local times).", route=route_of(_, view),
                 day=timetabled_when(_, services, view, planned),
                 minutes=view.delay_minutes,
                 reason=str(message.payload.get("reason", "")),
                 departs=moved_time(_, planned, view.departure),
                 origin=view.origin.name(_.language),
                 # Both marked from the day the passenger knows the trip by.
                 arrives=arrival_time(_, planned, view.arrival),
                 destination=view.destination.name(_.language))
        await send_card(bot, chat_id, Card(text, [[button(_("🎫 My tickets"),
                                                          cb.menu("tickets"))]]))

    return deliver


def trip_cancelled(bot: Bot, services: Services) -> Deliverer:
    async def deliver(message: OutboxMessage) -> None:
        """The operator cancelled the trip: why, the money coming back, and the nearest
        other trips as buttons (one tap books the same stretch and seat count)."""
        chat_id, _ = await recipient_texts(services, message)
        view = await order_for(services, message)
        # Which booking this is, for someone with several on the trip: its time in the
        # timetable, its reference, its seats and names.
        planned = scheduled(view.departure, view.delay_minutes)
        text = _("❌ Your trip {route} on {day} is cancelled: {reason}",
                 route=route_of(_, view),
                 day=timetabled_when(_, services, view, planned),
                 reason=str(message.payload.get("reason", "")))
        text += "\n" + " · ".join([view.id, *(f"{s.seat} {s.passenger}" for s in view.seats)])
        refund = int(message.payload.get("refund", 0))
        if refund:
            text += "\n" + refund_sentence(_, _.price(refund, view.currency),
                                           by_hand=bool(message.payload.get("by_hand")))
        rows = await alternative_rows(services, _, view)
        if rows:
            text += "\n" + _("Other trips with seats for you:")
        rows.append([button(_("🚌 Book again"), cb.menu("book"))])
        await send_card(bot, chat_id, Card(text, rows))

    return deliver


# A reminder is sent if it is due within this much of its time; a delayed trip's reminder
# found earlier than that waits for the new time.
REMINDER_EARLY = timedelta(minutes=1)


def reminder(bot: Bot, services: Services) -> Deliverer:
    async def deliver(message: OutboxMessage) -> None:
        """Before departure: trip, seats, boarding stop and local time, and the ticket."""
        chat_id, _ = await recipient_texts(services, message)
        view = await order_for(services, message)
        if view.status is not OrderStatus.PAID or view.trip_status is TripStatus.CANCELLED:
            return  # cancelled meanwhile: nothing to remind of
        now = services.booking.now()
        before = timedelta(seconds=int(message.payload.get("before_s", 0)))
        due = view.departure - before
        if due - now > REMINDER_EARLY:  # the trip was delayed after this was written
            raise RetryLater("the trip was delayed", after=(due - now).total_seconds(),
                             attempted=False)
        if view.departure <= now:
            return  # the worker was down past departure: a reminder now would only confuse
        seats = ", ".join(f"{s.seat} {s.passenger}" for s in view.seats)
        text = _("🔔 Reminder: {route}, {day} at {time} ({station} time), from {station}.\n"
                 "Seats: {seats}", route=route_of(_, view),
                 day=_.day(view.departure.date(), local_today(services, view)),
                 time=_.time(view.departure), station=view.origin.name(_.language),
                 seats=seats)
        await send_card(bot, chat_id, Card(text, [[button(_("🎫 Show my ticket"),
                                                          cb.tickets("o", view.id))]]))

    return deliver


def refund_by_hand(bot: Bot, services: Services) -> Deliverer:
    async def deliver(message: OutboxMessage) -> None:
        """Ask a staff member to make a refund the provider cannot make itself."""
        chat_id, _ = await recipient_texts(services, message)
        view = await order_for(services, message)
        text = _("Refund to make by hand: {amount} for booking {order} ({route}, {day}). "
                 "Make it in the payment provider's dashboard, for payment {reference}.",
                 amount=_.price(int(message.payload.get("amount", 0)), view.currency),
                 order=view.id, route=route_of(_, view),
                 day=_.day(view.departure.date(), local_today(services, view)),
                 reference=str(message.payload.get("reference")))
        await send_card(bot, chat_id, Card(text, []))

    return deliver


DelivererFactory = Callable[[Bot, Services], Deliverer]

TELEGRAM_DELIVERERS: dict[MessageKind, DelivererFactory] = {
    MessageKind.HOLD_EXPIRED: hold_expired,
    MessageKind.PAYMENT_DECLINED: payment_declined,
    MessageKind.REFUND_NOTICE: refund_notice,
    MessageKind.REFUND_BY_HAND: refund_by_hand,
    MessageKind.SEND_TICKETS: send_tickets,
    MessageKind.BROADCAST: broadcast,
    MessageKind.REMINDER: reminder,
    MessageKind.TRIP_DELAYED: trip_delayed,
    MessageKind.TRIP_CANCELLED: trip_cancelled,
}


def telegram_deliverers(bot: Bot, services: Services) -> dict[str, Deliverer]:
    """The deliverers of every kind of message the bot sends to a person."""
    return {kind.value: make(bot, services) for kind, make in TELEGRAM_DELIVERERS.items()}
