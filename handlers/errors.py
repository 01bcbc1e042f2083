"""Every booking refusal (ErrorCode) in words a passenger understands: the one mapping."""

from __future__ import annotations

from booking.errors import BookingError, ErrorCode
from booking.names import NameProblem
from locales import Texts


def N_(message: str) -> str:
    """Mark a message id for extraction; it is translated where it is shown."""
    return message


def N_plural(singular: str, plural: str) -> tuple[str, str]:
    """Mark a message with plural forms; the count is the refusal's ``limit``."""
    return singular, plural


ERROR_MESSAGES: dict[ErrorCode, str | tuple[str, str]] = {
    ErrorCode.UNKNOWN_STATION: N_("I don't know that station."),
    ErrorCode.NOT_ON_ROUTE: N_("This trip does not stop at that station."),
    ErrorCode.SAME_STATION: N_("Departure and arrival are the same station."),
    ErrorCode.WRONG_DIRECTION: N_("No trips run in that direction; try the return journey."),
    ErrorCode.PAST_DATE: N_("That date is in the past."),
    ErrorCode.DATE_TOO_FAR: N_("Tickets for that date are not on sale yet."),
    ErrorCode.UNKNOWN_TRIP: N_("That trip no longer exists."),
    ErrorCode.TRIP_CANCELLED: N_("That trip has been cancelled."),
    ErrorCode.TRIP_DEPARTED: N_("That trip has already left."),
    ErrorCode.BAD_SEAT_COUNT: N_("Choose at least one seat."),
    ErrorCode.TOO_MANY_SEATS: N_plural("One order can have at most {limit} seat.",
                                       "One order can have at most {limit} seats."),
    ErrorCode.PASSENGERS_MISMATCH: N_("Each passenger needs exactly one seat."),
    ErrorCode.BAD_PASSENGER_NAME: N_("Please type the passenger's full name in letters."),
    ErrorCode.UNKNOWN_SEAT: N_("There is no such seat on this coach."),
    ErrorCode.DUPLICATE_SEAT: N_("The same seat was chosen twice."),
    ErrorCode.SEAT_TAKEN: N_("Someone has just taken one of these seats. Please choose again."),
    ErrorCode.NOT_ENOUGH_SEATS: N_("Not enough free seats left on this trip."),
    ErrorCode.TOO_MANY_HOLDS: N_plural(
        "You already have {limit} unpaid booking. Pay for it or cancel it in 🎫 My "
        "tickets, then confirm this one.",
        "You already have {limit} unpaid bookings. Pay for one or cancel it in 🎫 My "
        "tickets, then confirm this one."),
    ErrorCode.UNKNOWN_ORDER: N_("I can't find that booking."),
    ErrorCode.NOT_YOUR_ORDER: N_("That booking belongs to someone else."),
    ErrorCode.HOLD_EXPIRED: N_("Your hold has expired and the seats were released."),
    ErrorCode.ORDER_NOT_HELD: N_("This booking is not on hold any more."),
    ErrorCode.NOT_CANCELLABLE: N_("This booking can no longer be cancelled."),
    ErrorCode.CANCELLATION_CHANGED: N_("What cancelling gives back has changed since you "
                                       "were asked. Nothing was cancelled: look again."),
    ErrorCode.AMOUNT_MISMATCH: N_("The payment does not match the booking."),
    ErrorCode.BUSY: N_("Many people are booking right now. Please try again in a moment."),
    ErrorCode.BAD_CHECKOUT_TOKEN: N_("This payment link is not valid."),
    ErrorCode.BAD_SIGNATURE: N_("The payment notice could not be verified."),
    ErrorCode.STALE_SIGNATURE: N_("The payment notice is too old."),
    ErrorCode.BAD_PAYMENT_EVENT: N_("The payment notice could not be read."),
    ErrorCode.CURRENCY_MISMATCH: N_("The payment is in another currency than the booking."),
    ErrorCode.NOT_STAFF: N_("This is for staff only."),
    ErrorCode.NOT_ADMIN: N_("Only an admin can do this."),
    ErrorCode.BAD_DELAY: N_("A delay is from 1 to {limit} minutes. Type the minutes again."),
    ErrorCode.BAD_REASON: N_("Type a reason of 1 to {limit} characters."),
    ErrorCode.BROADCAST_EMPTY: N_("The message is empty. Type the text to send."),
    ErrorCode.BROADCAST_TOO_LONG: N_(
        "The message is {length} characters long; Telegram takes at most {limit}. "
        "Shorten it and send it again."),
    ErrorCode.BROADCAST_FORMATTING: N_(
        "Telegram would refuse this formatting ({problem}). Use <b>, <i>, <u>, <s>, "
        "<code>, <a href=\"…\">, close every tag, and write < as &lt;."),
    ErrorCode.BROADCAST_NOBODY: N_("Nobody is in this audience: nothing was sent."),
    ErrorCode.BAD_PERIOD: N_("Give a number of days from 1 to {limit}, e.g. /stats 30."),
    ErrorCode.BAD_TICKET_CODE: N_("This is not a valid ticket code."),
    ErrorCode.BAD_ID: N_("That booking or trip number is not valid."),
    ErrorCode.BAD_TEXT: N_("That text is too long or holds characters that are not allowed."),
    ErrorCode.BAD_CURRENCY: N_("That is not a known currency code."),
    ErrorCode.BAD_AMOUNT: N_("That amount is not valid."),
    ErrorCode.BAD_BATCH_SIZE: N_("That batch size is out of range."),
    ErrorCode.REQUEST_KEY_REUSED: N_("This request was already used for a different booking."),
    ErrorCode.PAYMENT_REFERENCE_USED: N_(
        "This payment reference already belongs to another booking."),
}

# Why a name was refused, where the reason says more than the general message.
NAME_PROBLEM_MESSAGES: dict[NameProblem, str] = {
    NameProblem.TOO_LONG: N_("That name is too long: at most {limit} characters, please."),
    NameProblem.CONTROL: N_(
        "That name holds control characters or line breaks. Please type it on one line."),
    NameProblem.INVISIBLE: N_(
        "That name holds invisible formatting characters (direction marks or zero-width "
        "spaces). Please type it again."),
    NameProblem.SYMBOL: N_(
        "A name may hold letters, spaces, hyphens, apostrophes and full stops only: no "
        "emoji, digits or other symbols."),
    NameProblem.SCRIPT: N_(
        "The ticket cannot print this name's letters. Please type it in Latin letters, as "
        "in the passport."),
}


def error_text(_: Texts, error: BookingError) -> str:
    """The localized message for a refusal; only known, harmless parameters are shown."""
    limit = error.params.get("limit", "")
    # A broadcast's own text's length and the tag Telegram would refuse: the staff
    # member's own words, shown back to them.
    shown = {"limit": limit, "length": error.params.get("length", ""),
             "problem": error.params.get("problem", "")}
    message = ERROR_MESSAGES[error.code]
    reason = error.params.get("reason")
    if error.code is ErrorCode.BAD_PASSENGER_NAME and reason in NAME_PROBLEM_MESSAGES:
        message = NAME_PROBLEM_MESSAGES[reason]
    if isinstance(message, tuple):
        count = limit if isinstance(limit, int) else 0
        return _.ngettext(*message, count, **shown)
    return _(message, **shown)
