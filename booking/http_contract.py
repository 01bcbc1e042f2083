"""The booking service's HTTP API as data: every operation, its parameters, body and answer.

The server (booking/http_api.py) binds a handler to each operation, the OpenAPI document
(booking/openapi.py) is generated from this table, and the client (booking/http_client.py)
builds its requests from it, so the three cannot drift apart. Answers are the same frozen
dataclasses the bot gets in-process (booking/views.py and friends), serialised by pydantic;
requests are pydantic models that refuse unknown fields and, in bodies, wrong JSON types.

A customer is Kassa's own record. Today the Telegram user id is the customer id; the API
calls it ``customer_id`` everywhere and shows the Telegram id as one identity of the
customer, so that another channel can call it for customers of its own.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    StringConstraints,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

from booking import limits
from booking.errors import ErrorCode
from booking.model import Customer, Role, Station
from booking.names import MAX_GIVEN_NAME_LENGTH, MAX_NAME_LENGTH, NameProblem
from booking.providers import Checkout, PaymentEventType, ProviderEvent
from booking.ticketing import CheckIn, TicketView
from booking.views import (
    BookingLimits,
    CancellationQuote,
    ConfirmResult,
    OrderView,
    SeatMap,
    TripOption,
)

PREFIX = "/v1"
MAX_BODY_BYTES = 64 * 1024
IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_IDEMPOTENCY_KEY_LENGTH = 255
# More seats than any layout has: a bound on what a request may list, so that it stays
# small; the service refuses above its own (configured) limit, and a request over this
# bound is refused with that limit too (refusal_of's ``max_seats``).
MAX_SEATS_ASKED = 50
# A ticket code is a signed token of a few hundred characters; a photo of anything else is
# refused by the service, a page of text by this bound.
MAX_TICKET_CODE_LENGTH = 2048
# A customer's name and language hint as their channel gives them (ContactRequest): the
# service keeps what its columns hold of them.
MAX_CONTACT_NAME_LENGTH = 1024
MAX_LANGUAGE_HINT_LENGTH = 64


class ApiErrorCode(StrEnum):
    """Refusals of the HTTP layer itself, beside the booking service's (booking/errors.py)."""

    UNAUTHORIZED = "unauthorized"
    MALFORMED_JSON = "malformed_json"
    INVALID_REQUEST = "invalid_request"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    UNSUPPORTED_ENCODING = "unsupported_encoding"  # a compressed body (Content-Encoding)
    BAD_IDEMPOTENCY_KEY = "bad_idempotency_key"
    REQUEST_IN_PROGRESS = "request_in_progress"  # the same Idempotency-Key is being answered
    UNKNOWN_CUSTOMER = "unknown_customer"
    INTERNAL = "internal_error"


# How each refusal of the booking service answers over HTTP; any other code is 422 (the
# request was understood, and refused on its content).
STATUS_OF_ERROR: dict[str, int] = {
    ErrorCode.UNKNOWN_ORDER: 404,
    ErrorCode.UNKNOWN_TRIP: 404,
    ErrorCode.UNKNOWN_STATION: 404,
    ErrorCode.BAD_CHECKOUT_TOKEN: 404,
    ErrorCode.NOT_YOUR_ORDER: 403,
    ErrorCode.NOT_STAFF: 403,
    ErrorCode.SEAT_TAKEN: 409,
    ErrorCode.NOT_ENOUGH_SEATS: 409,
    ErrorCode.TOO_MANY_HOLDS: 409,
    ErrorCode.HOLD_EXPIRED: 409,
    ErrorCode.ORDER_NOT_HELD: 409,
    ErrorCode.NOT_CANCELLABLE: 409,
    ErrorCode.CANCELLATION_CHANGED: 409,
    ErrorCode.TRIP_CANCELLED: 409,
    ErrorCode.TRIP_DEPARTED: 409,
    ErrorCode.PAYMENT_REFERENCE_USED: 409,
    ErrorCode.BAD_SIGNATURE: 401,
    ErrorCode.STALE_SIGNATURE: 401,
    ErrorCode.BUSY: 503,
    ApiErrorCode.UNAUTHORIZED: 401,
    ApiErrorCode.MALFORMED_JSON: 400,
    ApiErrorCode.BAD_IDEMPOTENCY_KEY: 400,
    ApiErrorCode.INVALID_REQUEST: 422,
    ApiErrorCode.NOT_FOUND: 404,
    ApiErrorCode.UNKNOWN_CUSTOMER: 404,
    ApiErrorCode.METHOD_NOT_ALLOWED: 405,
    ApiErrorCode.PAYLOAD_TOO_LARGE: 413,
    ApiErrorCode.UNSUPPORTED_ENCODING: 415,
    ApiErrorCode.REQUEST_IN_PROGRESS: 409,
    ApiErrorCode.INTERNAL: 500,
}
# Id fields and the range the service checks them against (booking/limits.py); an order id
# has no range, only its form.
_IDS: dict[str, tuple[int, int] | None] = {
    "customer_id": (1, limits.MAX_INT64),
    "staff_id": (1, limits.MAX_INT64),
    "trip_id": (1, limits.MAX_INT32),
    "exclude_trip": (1, limits.MAX_INT32),
    "order_id": None,
}
_TOO_BIG = frozenset({"less_than_equal", "too_long"})
_TOO_SMALL = frozenset({"greater_than_equal", "too_short"})
UNSAFE_CHARACTER = "unsafe_character"  # the error type of StorableText
_BAD_TEXT = frozenset({"string_too_long", "string_too_short", "string_pattern_mismatch",
                       UNSAFE_CHARACTER})


def _text_params(problem: str, context: dict[str, Any]) -> dict[str, Any]:
    """The params limits.text gives for the same refusal."""
    if problem == "string_too_long" and "max_length" in context:
        return {"problem": limits.TextProblem.TOO_LONG, "limit": context["max_length"]}
    if problem == "string_too_short" and context.get("min_length") == 1:
        return {"problem": limits.TextProblem.EMPTY}
    if problem == UNSAFE_CHARACTER and "character" in context:
        return {"problem": limits.TextProblem.CHARACTER, "character": context["character"]}
    return {}


def refusal_of(loc: tuple[int | str, ...], problem: str, context: dict[str, Any] | None = None,
               *, max_seats: int = MAX_SEATS_ASKED) -> tuple[ErrorCode, dict[str, Any]] | None:
    """The service's own code and params for a value the request models refuse, so that a
    caller gets the same answer whether the schema or the service caught the value. None
    for wrong JSON types, missing and unknown fields (ApiErrorCode.INVALID_REQUEST).
    ``context`` is pydantic's for the error; ``max_seats`` the service's own limit of seats
    in one order, which a list over the schema's bound is over too."""
    context = context or {}
    names = [part for part in loc if isinstance(part, str)]
    field = names[-1] if names else ""
    item = bool(loc) and isinstance(loc[-1], int)
    if field in _IDS and problem in _TOO_BIG | _TOO_SMALL | _BAD_TEXT:
        bounds = _IDS[field]
        if bounds is None:
            return ErrorCode.BAD_ID, {"field": field}
        return ErrorCode.BAD_ID, {"field": field, "low": bounds[0], "high": bounds[1]}
    if field == "amount" and problem in _TOO_BIG | _TOO_SMALL:
        return ErrorCode.BAD_AMOUNT, {"field": field}
    if field == "currency" and problem in _BAD_TEXT:
        return ErrorCode.BAD_CURRENCY, {"field": field}
    if field in ("passengers", "seats") and not item:
        if problem in _TOO_BIG:
            return ErrorCode.TOO_MANY_SEATS, {"limit": max_seats}
        if problem in _TOO_SMALL:
            return ErrorCode.BAD_SEAT_COUNT, {}
    if field == "passengers" and item and problem in _BAD_TEXT:
        if problem == "string_too_long":
            return ErrorCode.BAD_PASSENGER_NAME, {"reason": NameProblem.TOO_LONG,
                                                  "limit": MAX_NAME_LENGTH}
        return ErrorCode.BAD_PASSENGER_NAME, {}
    if problem in _BAD_TEXT:
        return ErrorCode.BAD_TEXT, {"field": field, **_text_params(problem, context)}
    return None


# Every operation may answer with these (the document lists them, so a client knows).
ERROR_STATUSES = (400, 401, 403, 404, 409, 413, 415, 422, 503)


def status_of(code: str) -> int:
    return STATUS_OF_ERROR.get(code, 422)


# ---- the shapes of values on the wire ------------------------------------------------------

# What limits.unsafe_character refuses, as the document says it: NUL and the other C0
# controls, DEL and the C1 controls. (Unpaired surrogates are refused too, but JSON parsing
# refuses them first, and UTF-8 cannot carry them in a query.)
STORABLE_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]*$"


def _storable(value: str) -> str:
    bad = limits.unsafe_character(value)
    if bad is not None:
        raise PydanticCustomError(UNSAFE_CHARACTER, "a character no text may hold: {character}",
                                  {"character": limits.code_point(bad)})
    return value


class _Storable:
    """A text no column refuses: the check limits.text makes of every text the service
    stores or looks up, made of every free text in a request (BAD_TEXT, problem
    ``character``), and the document's ``pattern`` for it."""

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler
                                     ) -> CoreSchema:
        return core_schema.no_info_after_validator_function(_storable, handler(source))

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler
                                     ) -> JsonSchemaValue:
        answer = handler(schema)
        answer["pattern"] = STORABLE_PATTERN
        return answer


STORABLE = _Storable()

CustomerId = Annotated[int, Field(ge=1, le=limits.MAX_INT64,
                                  description="Kassa's customer id")]
TripId = Annotated[int, Field(ge=1, le=limits.MAX_INT32)]
OrderId = Annotated[str, StringConstraints(min_length=1, max_length=limits.ORDER_ID_LENGTH,
                                           pattern=r"^[0-9A-Za-z_-]+$")]
StationCode = Annotated[str, StringConstraints(min_length=1,
                                               max_length=limits.STATION_CODE_LENGTH),
                        STORABLE]
SeatLabel = Annotated[str, StringConstraints(min_length=1, max_length=limits.SEAT_LABEL_LENGTH),
                      STORABLE]
RequestKey = Annotated[str, StringConstraints(min_length=1,
                                              max_length=limits.REQUEST_KEY_LENGTH), STORABLE]
EventId = Annotated[str, StringConstraints(min_length=1,
                                           max_length=limits.PAYMENT_REFERENCE_LENGTH),
                    STORABLE]
Language = Annotated[str, StringConstraints(min_length=1, max_length=limits.LANGUAGE_LENGTH),
                     STORABLE]
# A passenger's name as the service takes it (booking/names.py): its own rule refuses
# control characters and symbols with BAD_PASSENGER_NAME and a reason, and a name longer
# than MAX_NAME_LENGTH once trimmed and normalised; the document bounds the text given.
PassengerName = Annotated[str, StringConstraints(max_length=MAX_GIVEN_NAME_LENGTH)]
SeatCount = Annotated[int, Field(ge=1, le=MAX_SEATS_ASKED)]
Amount = Annotated[int, Field(ge=0, le=limits.MAX_AMOUNT)]
Currency = Annotated[str, StringConstraints(min_length=3, max_length=3)]


class _Query(BaseModel):
    """Query and path parameters arrive as text: numbers and dates are parsed from it."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class _Body(BaseModel):
    """A JSON body: unknown fields and wrong JSON types are refused, never coerced."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class StationPath(_Query):
    code: StationCode


class TripPath(_Query):
    trip_id: TripId


class OrderPath(_Query):
    order_id: OrderId


class CustomerPath(_Query):
    customer_id: CustomerId


class SegmentQuery(_Query):
    origin: StationCode
    destination: StationCode


class SearchQuery(SegmentQuery):
    date: dt.date


class NearestDaysQuery(SegmentQuery):
    date: dt.date
    seats: SeatCount


class AlternativesQuery(SegmentQuery):
    around: AwareDatetime
    seats: SeatCount
    exclude_trip: TripId | None = None  # the trip that fell through


class OwnerQuery(_Query):
    """Whose order it must be; without it the order is anyone's (staff and payment pages)."""

    customer_id: CustomerId | None = None


class OwnerRequired(_Query):
    customer_id: CustomerId


class HoldRequest(_Body):
    customer_id: CustomerId
    trip_id: TripId
    origin: StationCode
    destination: StationCode
    passengers: Annotated[list[PassengerName], Field(max_length=MAX_SEATS_ASKED)]
    seats: Annotated[list[SeatLabel], Field(max_length=MAX_SEATS_ASKED)] | None = Field(
        default=None, description="the seats wanted; none: the best free ones")
    request_key: RequestKey | None = Field(
        default=None,
        description="the caller's key for this booking: asking again with it answers the "
                    "order it made")


class CancelRequest(_Body):
    customer_id: CustomerId
    # Release a live hold and refuse anything else (409 order_not_held): a hold's own
    # cancel button, which must never cancel (and refund) a booking paid meanwhile.
    hold_only: bool = False
    # The refund the customer was quoted and agreed to (0 for a hold's release): refused
    # (409 cancellation_changed) if cancelling now would refund another amount.
    expect_refund: Annotated[int, Field(ge=0, le=limits.MAX_INT64)] | None = None


class PaymentRequest(_Body):
    customer_id: CustomerId | None = None


class CheckoutCheckRequest(_Body):
    amount: Amount
    currency: Currency


class ProviderEventRequest(_Body):
    """A payment provider's event, already verified by whoever received it (the bot's
    webhook checks the provider's signature; Telegram's payments arrive in updates)."""

    provider: Literal["sandbox", "telegram"]
    event_id: EventId
    type: PaymentEventType
    order_id: OrderId
    amount: Amount
    currency: Currency

    def event(self) -> ProviderEvent:
        return ProviderEvent(self.provider, self.event_id, self.type, self.order_id,
                             self.amount, self.currency)


class CheckInRequest(_Body):
    code: Annotated[str, StringConstraints(min_length=1, max_length=MAX_TICKET_CODE_LENGTH),
                    STORABLE]
    staff_id: CustomerId | None = Field(default=None,
                                        description="who checks it in; none: a scanner app")


class ContactRequest(_Body):
    """Someone wrote to us: their name and language as their channel gives them."""

    name: Annotated[str, StringConstraints(max_length=MAX_CONTACT_NAME_LENGTH), STORABLE]
    language: Annotated[str, StringConstraints(max_length=MAX_LANGUAGE_HINT_LENGTH),
                        STORABLE] | None = Field(
        default=None, description="a hint, as the channel gives it (such as en or zh-CN): "
                                  "kept only while the customer has no language, and only "
                                  "if it can be stored (PUT …/language sets one)")


class LanguageRequest(_Body):
    language: Language


class BlockedRequest(_Body):
    blocked: bool


# Answers that are not one of the service's own values.

@dataclass(frozen=True, slots=True)
class Identity:
    """One way a customer reaches Kassa: a channel and the id it knows them by."""

    channel: Literal["telegram"]
    id: str


@dataclass(frozen=True, slots=True)
class CustomerRecord:
    """A customer as the API shows them."""

    customer_id: int
    identities: tuple[Identity, ...]
    name: str
    language: str | None
    role: Role
    blocked: bool
    saved_passengers: tuple[str, ...]

    @classmethod
    def of(cls, customer: Customer) -> CustomerRecord:
        # Today a customer is their Telegram account: the ids are equal.
        return cls(customer.id, (Identity("telegram", str(customer.id)),), customer.name,
                   customer.language, customer.role, customer.blocked,
                   customer.saved_passengers)

    def customer(self) -> Customer:
        return Customer(self.customer_id, self.name, self.language, self.role, self.blocked,
                        self.saved_passengers)


@dataclass(frozen=True, slots=True)
class RoleAnswer:
    role: Role


@dataclass(frozen=True, slots=True)
class BlockedAnswer:
    blocked: bool


@dataclass(frozen=True, slots=True)
class Days:
    days: list[dt.date]


@dataclass(frozen=True, slots=True)
class CheckoutAccepted:
    """The order may be paid now, for that amount."""

    ok: Literal[True] = True


@dataclass(frozen=True, slots=True)
class EventApplied:
    """What a provider's event did: a confirmation's result, or none for a decline."""

    result: ConfirmResult | None


@dataclass(frozen=True, slots=True)
class ErrorDetail:
    code: str
    message: str
    params: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ErrorBody:
    error: ErrorDetail


# ---- the operations ------------------------------------------------------------------------

@dataclass(frozen=True)
class Operation:
    name: str  # the operationId, and the handler's name on the server
    method: Literal["GET", "POST", "PUT"]
    path: str  # under PREFIX, with {placeholders}
    summary: str
    answer: Any  # the type of a successful answer's body
    status: int = 200
    path_params: type[_Query] | None = None
    query: type[_Query] | None = None
    body: type[_Body] | None = None
    tag: str = "booking"

    @property
    def url_path(self) -> str:
        return PREFIX + self.path


OPERATIONS: tuple[Operation, ...] = (
    Operation("limits", "GET", "/limits", "The rules a caller needs before asking",
              BookingLimits, tag="catalogue"),
    Operation("stations", "GET", "/stations", "Every station, the busiest first",
              list[Station], tag="catalogue"),
    Operation("destinations", "GET", "/stations/{code}/destinations",
              "The stations reachable from one", list[Station], path_params=StationPath,
              tag="catalogue"),
    Operation("search", "GET", "/trips", "Trips between two stations on a local day",
              list[TripOption], query=SearchQuery, tag="catalogue"),
    Operation("trip_option", "GET", "/trips/{trip_id}",
              "One trip as the search shows it, with its seats free now", TripOption,
              path_params=TripPath, query=SegmentQuery, tag="catalogue"),
    Operation("seat_map", "GET", "/trips/{trip_id}/seats", "The seat map of a trip's segment",
              SeatMap, path_params=TripPath, query=SegmentQuery, tag="catalogue"),
    Operation("nearest_days", "GET", "/nearest-days",
              "The days closest to one with a trip that has the seats free", Days,
              query=NearestDaysQuery, tag="catalogue"),
    Operation("alternatives", "GET", "/alternatives",
              "Trips around a time (from a few hours before it on) with the seats free, for "
              "someone whose trip fell through",
              list[TripOption], query=AlternativesQuery, tag="catalogue"),
    Operation("hold", "POST", "/holds", "Hold seats for a customer (409: no longer free)",
              OrderView, status=201, body=HoldRequest, tag="orders"),
    Operation("order", "GET", "/orders/{order_id}", "One order", OrderView,
              path_params=OrderPath, query=OwnerQuery, tag="orders"),
    Operation("orders_of", "GET", "/customers/{customer_id}/orders", "A customer's orders",
              list[OrderView], path_params=CustomerPath, tag="orders"),
    Operation("cancellation_quote", "GET", "/orders/{order_id}/cancellation",
              "What cancelling the order now would do, changing nothing", CancellationQuote,
              path_params=OrderPath, query=OwnerRequired, tag="orders"),
    Operation("cancel", "POST", "/orders/{order_id}/cancel",
              "Cancel an order: a hold is released, a paid order refunded by the policy",
              OrderView, path_params=OrderPath, body=CancelRequest, tag="orders"),
    Operation("start_payment", "POST", "/orders/{order_id}/payment",
              "How to pay for a live hold: a checkout page, or an invoice", Checkout,
              path_params=OrderPath, body=PaymentRequest, tag="payments"),
    Operation("check_checkout", "POST", "/orders/{order_id}/checkout-check",
              "May the order be paid now, for this amount", CheckoutAccepted,
              path_params=OrderPath, body=CheckoutCheckRequest, tag="payments"),
    Operation("handle_event", "POST", "/payment-events",
              "Apply a verified provider event exactly once", EventApplied,
              body=ProviderEventRequest, tag="payments"),
    Operation("tickets", "GET", "/orders/{order_id}/tickets", "The tickets of a paid order",
              list[TicketView], path_params=OrderPath, query=OwnerQuery, tag="tickets"),
    Operation("check_in", "POST", "/check-ins", "Verify a ticket code and check it in",
              CheckIn, body=CheckInRequest, tag="tickets"),
    Operation("customer", "GET", "/customers/{customer_id}", "One customer",
              CustomerRecord, path_params=CustomerPath, tag="customers"),
    Operation("ensure", "PUT", "/customers/{customer_id}",
              "The customer, created on first contact and brought up to date on later ones",
              CustomerRecord, path_params=CustomerPath, body=ContactRequest, tag="customers"),
    Operation("set_language", "PUT", "/customers/{customer_id}/language",
              "Set a known customer's language", CustomerRecord, path_params=CustomerPath,
              body=LanguageRequest, tag="customers"),
    Operation("set_blocked", "PUT", "/customers/{customer_id}/blocked",
              "Record whether a known customer has blocked us", BlockedAnswer,
              path_params=CustomerPath, body=BlockedRequest, tag="customers"),
    Operation("role", "GET", "/customers/{customer_id}/role",
              "The role of this id now, read afresh (the staff configuration's for an id "
              "never met)", RoleAnswer, path_params=CustomerPath,
              tag="customers"),
)
OPERATION = {operation.name: operation for operation in OPERATIONS}
