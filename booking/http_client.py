"""The booking service over HTTP, behind the same interface as the in-process one.

HttpBookingClient implements booking.api.BookingApi and CustomersApi by calling the API of
booking/http_api.py, so the handlers cannot tell the two apart: answers come back as the
same frozen values, and refusals as the same BookingError codes. What the HTTP layer
itself refuses (a wrong token, a request the server cannot read) is a fault of this
deployment rather than of what the person asked: it is logged as an error and the person
is told to try again, as when the service cannot be reached at all.

Two questions are answered locally, since the interface asks them without awaiting: the
time (``now``, this process's clock, for what a person is shown; every decision is the
service's) and whether a name could be printed on a ticket (booking/names.py, the same
rule the service applies again). The service's limits are read once, by ``open``.

Requests go over kept HTTP/1.1 connections to that one service (booking/http_connections.py,
which says why not aiohttp's client); a JSON body is the request's, a JSON answer is
checked against the operation's type by pydantic.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

from pydantic import TypeAdapter, ValidationError

from booking import limits
from booking.clock import Clock, system_clock
from booking.errors import BookingError, ErrorCode
from booking.http_connections import ConnectionPool, HttpError, Origin
from booking.http_contract import (
    MAX_CONTACT_NAME_LENGTH,
    MAX_LANGUAGE_HINT_LENGTH,
    OPERATIONS,
    ApiErrorCode,
    BlockedAnswer,
    CustomerRecord,
    Days,
    ErrorBody,
    EventApplied,
    RoleAnswer,
)
from booking.model import Customer, Role, Station
from booking.names import passenger_name
from booking.providers import Checkout, ProviderEvent
from booking.ticketing import CheckIn, TicketView
from booking.views import (
    BookingLimits,
    CancellationQuote,
    ConfirmResult,
    OrderView,
    SeatMap,
    TripOption,
)

log = logging.getLogger(__name__)

T = TypeVar("T")
_ANSWERS: dict[str, TypeAdapter[Any]] = {op.name: TypeAdapter(op.answer) for op in OPERATIONS}
_OPERATIONS = {op.name: op for op in OPERATIONS}
_ERROR = TypeAdapter(ErrorBody)
_CODES = frozenset(code.value for code in ErrorCode)


class HttpBookingClient:
    """BookingApi and CustomersApi on a booking service at ``base_url``."""

    def __init__(self, base_url: str, token: str, *, clock: Clock = system_clock,
                 timeout_s: float = 10.0, connections: int = 100) -> None:
        Origin.parse(base_url)  # a URL it cannot call is refused now, not at the first call
        if not token.isprintable() or not token.isascii():
            raise ValueError("the booking API's token must be printable ASCII on one line")
        self._base_url = base_url
        self._auth = f"Authorization: Bearer {token}\r\n"
        self._json_auth = f"{self._auth}Content-Type: application/json\r\n"
        self._clock = clock
        self._timeout_s = timeout_s
        self._connections = connections
        self._pool: ConnectionPool | None = None
        self._limits: BookingLimits | None = None

    async def open(self) -> None:
        """Connect and read the service's limits; nothing else is asked before this."""
        if self._pool is None:
            self._pool = ConnectionPool(self._base_url, limit=self._connections,
                                        timeout_s=self._timeout_s)
        if self._limits is None:
            self._limits = await self._call("limits", BookingLimits)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    # ---- BookingApi ----
    def now(self) -> datetime:
        return self._clock()

    def limits(self) -> BookingLimits:
        if self._limits is None:
            raise RuntimeError("HttpBookingClient.open() was not awaited")
        return self._limits

    def check_passenger_name(self, raw: str) -> str:
        return passenger_name(raw)

    async def stations(self) -> list[Station]:
        return await self._call("stations", list[Station])

    async def destinations(self, origin: str) -> list[Station]:
        return await self._call("destinations", list[Station], path={"code": origin})

    async def search(self, origin: str, destination: str, day: date) -> list[TripOption]:
        found = await self._call("search", list[TripOption], query={
            "origin": origin, "destination": destination, "date": day})
        return [_local_trip(option) for option in found]

    async def trip_option(self, trip_id: int, origin: str, destination: str) -> TripOption:
        return _local_trip(await self._call(
            "trip_option", TripOption, path={"trip_id": trip_id},
            query={"origin": origin, "destination": destination}))

    async def nearest_days(self, origin: str, destination: str, day: date, seats: int
                           ) -> list[date]:
        days = await self._call("nearest_days", Days, query={
            "origin": origin, "destination": destination, "date": day, "seats": seats})
        return days.days

    async def seat_map(self, trip_id: int, origin: str, destination: str) -> SeatMap:
        return await self._call("seat_map", SeatMap, path={"trip_id": trip_id},
                                query={"origin": origin, "destination": destination})

    async def alternatives(self, origin: str, destination: str, around: datetime, seats: int,
                           *, exclude_trip: int | None = None) -> list[TripOption]:
        found = await self._call("alternatives", list[TripOption], query={
            "origin": origin, "destination": destination, "around": around, "seats": seats,
            "exclude_trip": exclude_trip})
        return [_local_trip(option) for option in found]

    async def hold(self, customer_id: int, trip_id: int, origin: str, destination: str,
                   passengers: Sequence[str], seats: Sequence[str] | None = None, *,
                   request_key: str | None = None) -> OrderView:
        return _local_order(await self._call("hold", OrderView, body={
            "customer_id": customer_id, "trip_id": trip_id, "origin": origin,
            "destination": destination, "passengers": list(passengers),
            "seats": None if seats is None else list(seats), "request_key": request_key}))

    async def order(self, order_id: str, customer_id: int | None = None) -> OrderView:
        return _local_order(await self._call("order", OrderView, path={"order_id": order_id},
                                             query={"customer_id": customer_id}))

    async def orders_of(self, customer_id: int) -> list[OrderView]:
        try:
            found = await self._call("orders_of", list[OrderView],
                                     path={"customer_id": customer_id})
        except _UnknownCustomer:  # no record yet: no orders, as in-process
            return []
        return [_local_order(order) for order in found]

    async def cancellation_quote(self, order_id: str, customer_id: int) -> CancellationQuote:
        return await self._call("cancellation_quote", CancellationQuote,
                                path={"order_id": order_id},
                                query={"customer_id": customer_id})

    async def cancel(self, order_id: str, customer_id: int, *, hold_only: bool = False,
                     expect_refund: int | None = None) -> OrderView:
        return _local_order(await self._call("cancel", OrderView, path={"order_id": order_id},
                                             body={"customer_id": customer_id,
                                                   "hold_only": hold_only,
                                                   "expect_refund": expect_refund}))

    async def start_payment(self, order_id: str, customer_id: int | None) -> Checkout:
        return await self._call("start_payment", Checkout, path={"order_id": order_id},
                                body={"customer_id": customer_id})

    async def check_checkout(self, order_id: str, amount: int, currency: str) -> None:
        await self._call("check_checkout", object, path={"order_id": order_id},
                         body={"amount": amount, "currency": currency})

    async def handle_event(self, event: ProviderEvent) -> ConfirmResult | None:
        applied = await self._call("handle_event", EventApplied, body={
            "provider": event.provider, "event_id": event.event_id, "type": event.type.value,
            "order_id": event.order_id, "amount": event.amount, "currency": event.currency})
        result = applied.result
        return None if result is None else replace(result, order=_local_order(result.order))

    async def tickets(self, order_id: str, customer_id: int | None) -> list[TicketView]:
        return await self._call("tickets", list[TicketView], path={"order_id": order_id},
                                query={"customer_id": customer_id})

    async def check_in(self, code: str, staff_id: int | None) -> CheckIn:
        result = await self._call("check_in", CheckIn, body={"code": code,
                                                             "staff_id": staff_id})
        if result.order is None:
            return result
        return replace(result, order=_local_order(result.order))

    # ---- CustomersApi ----
    async def customer(self, user_id: int) -> Customer | None:
        try:
            record = await self._call("customer", CustomerRecord,
                                      path={"customer_id": user_id})
        except _UnknownCustomer:
            return None
        return record.customer()

    async def ensure(self, user_id: int, name: str, language: str | None = None) -> Customer:
        record = await self._call("ensure", CustomerRecord, path={"customer_id": user_id},
                                  body=_contact(name, language))
        return record.customer()

    async def set_language(self, user_id: int, language: str) -> Customer:
        record = await self._call("set_language", CustomerRecord,
                                  path={"customer_id": user_id}, body={"language": language})
        return record.customer()

    async def set_blocked(self, user_id: int, blocked: bool) -> None:
        await self._call("set_blocked", BlockedAnswer, path={"customer_id": user_id},
                         body={"blocked": blocked})

    async def role(self, user_id: int) -> Role:
        answer = await self._call("role", RoleAnswer, path={"customer_id": user_id})
        return answer.role

    # ---- one call ----
    async def _call(self, name: str, answer_type: type[T], *,
                    path: Mapping[str, Any] | None = None,
                    query: Mapping[str, Any] | None = None,
                    body: Mapping[str, Any] | None = None) -> T:
        operation = _OPERATIONS[name]
        pool = self._pool
        if pool is None:
            raise RuntimeError("HttpBookingClient.open() was not awaited")
        target = operation.url_path
        if path:
            target = target.format(
                **{key: quote(str(value), safe="") for key, value in path.items()})
        if query:
            params = {key: _text(value) for key, value in query.items() if value is not None}
            if params:
                target += "?" + urlencode(params, quote_via=quote, safe="")
        try:
            if body is None:
                answer = await pool.request(operation.method, target, self._auth)
            else:
                answer = await pool.request(operation.method, target, self._json_auth,
                                            json.dumps(body, ensure_ascii=False).encode())
        except (HttpError, OSError, TimeoutError) as error:
            log.warning("booking API unreachable (%s %s): %r", operation.method,
                        operation.path, error)
            raise BookingError(ErrorCode.BUSY) from None
        status, raw = answer.status, answer.body
        if status == operation.status:
            try:
                value: T = _ANSWERS[name].validate_json(raw)
            except ValidationError as error:
                log.error("booking API %s answered what its document does not say: %s",
                          name, error)
                raise BookingError(ErrorCode.BUSY) from None
            return value
        raise _refusal(name, status, raw)


class _UnknownCustomer(Exception):
    pass


# Where a customer with no record has an answer (none; no orders). A hold for one is the
# caller's fault: the bot records every customer on first contact, before any hold.
_NO_RECORD_IS_AN_ANSWER = frozenset({"customer", "orders_of"})


def _refusal(name: str, status: int, raw: bytes) -> Exception:
    """The BookingError an error answer stands for."""
    try:
        detail = _ERROR.validate_json(raw).error
    except ValidationError:
        log.error("booking API %s answered %s without an error body", name, status)
        return BookingError(ErrorCode.BUSY)
    if detail.code in _CODES:
        return BookingError(ErrorCode(detail.code), **detail.params)
    if detail.code == ApiErrorCode.UNKNOWN_CUSTOMER and name in _NO_RECORD_IS_AN_ANSWER:
        return _UnknownCustomer()
    # The HTTP layer refused the request itself: the deployment is at fault (a wrong token,
    # a client and server of different versions), not what the person asked.
    log.error("booking API %s refused the request: %s %s (%s)", name, status, detail.code,
              detail.message)
    return BookingError(ErrorCode.BUSY)


def _contact(name: str, language: str | None) -> dict[str, Any]:
    """A channel's name and language hint as the API takes them. The in-process service
    drops from them what no column holds rather than refuse the person's message
    (Customer.on_contact); the API refuses such text (BAD_TEXT), so it is dropped here the
    same way: a line break or tab becomes a space, other controls go, and a hint that
    could not be kept is not sent."""
    name = limits.storable(name)[:MAX_CONTACT_NAME_LENGTH]
    if language is not None and (len(language) > MAX_LANGUAGE_HINT_LENGTH
                                 or limits.unsafe_character(language) is not None):
        language = None
    return {"name": name, "language": language}


def _text(value: Any) -> str:
    if isinstance(value, date | datetime):
        return value.isoformat()
    return str(value)


def _local_trip(option: TripOption) -> TripOption:
    """Times in their stations' zones, as the in-process service gives them (JSON carries
    only the offset)."""
    return replace(option, departure=option.departure.astimezone(option.origin.tz),
                   arrival=option.arrival.astimezone(option.destination.tz))


def _local_order(order: OrderView) -> OrderView:
    return replace(order, departure=order.departure.astimezone(order.origin.tz),
                   arrival=order.arrival.astimezone(order.destination.tz))
