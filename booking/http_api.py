"""The booking service over HTTP: every use case the bot calls, as JSON under /v1.

The operations, their parameters and answers are booking/http_contract.py; this module
serves them (aiohttp) on top of any BookingApi and CustomersApi, normally the in-process
services on a database. What every request goes through, outermost first:

- any failure becomes ``{"error": {"code", "message", "params"}}`` with its status; bad
  input is always a 4xx, a 500 only ever means a bug;
- a bearer token (401 without it or with another; the scheme's name in any case, RFC 7235);
- a body bound (413 above 64 KB, before it is read);
- Idempotency-Key on POST: the first answer is stored and replayed (booking/idempotency.py);
- validation of the path, query and body by the operation's pydantic models;
- the use case itself, run by one of a fixed number of worker tasks, in the order the
  requests came (``Workers`` says why).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import hmac
import json
import logging
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from functools import partial
from typing import Any

from aiohttp import web
from pydantic import BaseModel, TypeAdapter, ValidationError

from booking.api import BookingApi, CustomersApi
from booking.errors import BookingError, ErrorCode
from booking.http_contract import (
    IDEMPOTENCY_HEADER,
    MAX_BODY_BYTES,
    MAX_IDEMPOTENCY_KEY_LENGTH,
    OPERATIONS,
    PREFIX,
    REPLAYED_HEADER,
    AlternativesQuery,
    ApiErrorCode,
    BlockedAnswer,
    BlockedRequest,
    CancelRequest,
    CheckInRequest,
    CheckoutAccepted,
    CheckoutCheckRequest,
    ContactRequest,
    CustomerPath,
    CustomerRecord,
    Days,
    EventApplied,
    HoldRequest,
    LanguageRequest,
    NearestDaysQuery,
    Operation,
    OrderPath,
    OwnerQuery,
    OwnerRequired,
    PaymentRequest,
    ProviderEventRequest,
    RoleAnswer,
    SearchQuery,
    SegmentQuery,
    StationPath,
    TripPath,
    refusal_of,
    status_of,
)
from booking.idempotency import IdempotencyStore, fingerprint
from booking.model import Station
from booking.openapi import openapi_document
from booking.ports import LockTimeout
from booking.providers import Checkout
from booking.ticketing import CheckIn, TicketView
from booking.views import BookingLimits, CancellationQuote, OrderView, SeatMap, TripOption

log = logging.getLogger(__name__)

TOKEN = web.AppKey("token", str)
IDEMPOTENCY = web.AppKey("idempotency", IdempotencyStore)
DOCUMENT_PATH = f"{PREFIX}/openapi.json"


class ApiError(Exception):
    """A refusal of the HTTP layer (booking/http_contract.py ApiErrorCode)."""

    def __init__(self, code: ApiErrorCode, message: str, **params: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.params = params


# How many customer ids a server remembers as known before it starts again from none.
KNOWN_CUSTOMERS_KEPT = 100_000


class Endpoints:
    """One method per operation, named as it: the parsed request in, the answer out."""

    def __init__(self, booking: BookingApi, customers: CustomersApi) -> None:
        self.booking = booking
        self.customers = customers
        # Customers are never deleted, so one found stays found: a client's later holds
        # cost no read. Only finding them is remembered, never not finding them.
        self._known_customers: set[int] = set()

    async def _existing(self, customer_id: int) -> None:
        """Refuse a customer the API has never been told of (PUT /customers/{id}): an order
        belongs to a customer Kassa knows, whatever channel they came from."""
        if customer_id in self._known_customers:
            return
        if await self.customers.customer(customer_id) is None:
            raise _unknown_customer(customer_id)
        if len(self._known_customers) >= KNOWN_CUSTOMERS_KEPT:
            self._known_customers.clear()
        self._known_customers.add(customer_id)

    # ---- catalogue and search ----
    async def limits(self) -> BookingLimits:
        return self.booking.limits()

    async def stations(self) -> list[Station]:
        return await self.booking.stations()

    async def destinations(self, path: StationPath) -> list[Station]:
        return await self.booking.destinations(path.code)

    async def search(self, query: SearchQuery) -> list[TripOption]:
        return await self.booking.search(query.origin, query.destination, query.date)

    async def trip_option(self, path: TripPath, query: SegmentQuery) -> TripOption:
        return await self.booking.trip_option(path.trip_id, query.origin, query.destination)

    async def seat_map(self, path: TripPath, query: SegmentQuery) -> SeatMap:
        return await self.booking.seat_map(path.trip_id, query.origin, query.destination)

    async def nearest_days(self, query: NearestDaysQuery) -> Days:
        return Days(await self.booking.nearest_days(query.origin, query.destination,
                                                    query.date, query.seats))

    async def alternatives(self, query: AlternativesQuery) -> list[TripOption]:
        return await self.booking.alternatives(query.origin, query.destination, query.around,
                                               query.seats, exclude_trip=query.exclude_trip)

    # ---- holds and orders ----
    async def hold(self, body: HoldRequest) -> OrderView:
        await self._existing(body.customer_id)
        return await self.booking.hold(body.customer_id, body.trip_id, body.origin,
                                       body.destination, body.passengers, body.seats,
                                       request_key=body.request_key)

    async def order(self, path: OrderPath, query: OwnerQuery) -> OrderView:
        return await self.booking.order(path.order_id, query.customer_id)

    async def orders_of(self, path: CustomerPath) -> list[OrderView]:
        await self._existing(path.customer_id)
        return await self.booking.orders_of(path.customer_id)

    async def cancellation_quote(self, path: OrderPath, query: OwnerRequired
                                 ) -> CancellationQuote:
        return await self.booking.cancellation_quote(path.order_id, query.customer_id)

    async def cancel(self, path: OrderPath, body: CancelRequest) -> OrderView:
        return await self.booking.cancel(path.order_id, body.customer_id,
                                         hold_only=body.hold_only,
                                         expect_refund=body.expect_refund)

    # ---- payments and tickets ----
    async def start_payment(self, path: OrderPath, body: PaymentRequest) -> Checkout:
        return await self.booking.start_payment(path.order_id, body.customer_id)

    async def check_checkout(self, path: OrderPath, body: CheckoutCheckRequest
                             ) -> CheckoutAccepted:
        await self.booking.check_checkout(path.order_id, body.amount, body.currency)
        return CheckoutAccepted()

    async def handle_event(self, body: ProviderEventRequest) -> EventApplied:
        return EventApplied(await self.booking.handle_event(body.event()))

    async def tickets(self, path: OrderPath, query: OwnerQuery) -> list[TicketView]:
        return await self.booking.tickets(path.order_id, query.customer_id)

    async def check_in(self, body: CheckInRequest) -> CheckIn:
        return await self.booking.check_in(body.code, body.staff_id)

    # ---- customers ----
    async def customer(self, path: CustomerPath) -> CustomerRecord:
        found = await self.customers.customer(path.customer_id)
        if found is None:
            raise _unknown_customer(path.customer_id)
        return CustomerRecord.of(found)

    async def ensure(self, path: CustomerPath, body: ContactRequest) -> CustomerRecord:
        return CustomerRecord.of(
            await self.customers.ensure(path.customer_id, body.name, body.language))

    # A customer comes to be by first contact (ensure) only: a language or a block set for
    # an id never met is refused, not a customer made up without a name. (A role is the
    # staff configuration's as much as the customer's: any id has one, as in process.)
    async def set_language(self, path: CustomerPath, body: LanguageRequest) -> CustomerRecord:
        await self._existing(path.customer_id)
        return CustomerRecord.of(
            await self.customers.set_language(path.customer_id, body.language))

    async def set_blocked(self, path: CustomerPath, body: BlockedRequest) -> BlockedAnswer:
        await self._existing(path.customer_id)
        await self.customers.set_blocked(path.customer_id, body.blocked)
        return BlockedAnswer(body.blocked)

    async def role(self, path: CustomerPath) -> RoleAnswer:
        return RoleAnswer(await self.customers.role(path.customer_id))


def _unknown_customer(customer_id: int) -> ApiError:
    return ApiError(ApiErrorCode.UNKNOWN_CUSTOMER, "no such customer; create it with "
                    "PUT /v1/customers/{customer_id} first", customer_id=customer_id)


ENDPOINTS = web.AppKey("endpoints", Endpoints)


class Workers:
    """A fixed number of tasks that run the operations' use cases, each one at a time, in
    the order the requests came; as many as the service has database connections.

    A use case releases its connection as it ends. Run in the request's own task, the
    connection then waited in the pool while the event loop went round to wake the next
    request waiting for one, a turn that grows with the requests in flight: under
    bench/api.py (32 clients, 20 connections) the server's holds waited 8-12 ms (p50) for
    a connection they held 16-20 ms, while the same holds called in one process waited
    none, since a caller that has just released a connection takes it again at once. A
    worker takes the next request's use case as soon as it ends the last one, on the
    connection it just gave back (measured: no wait left); the requests wait their turn
    in order, where the pool's own queue lets a newcomer overtake them.

    A use case, once begun, runs to its end even if its request goes away meanwhile (the
    caller cannot tell that from an answer lost on the way back); one whose request went
    away before its turn is not begun.

    A use case runs with its request's context variables (the ids its log lines carry),
    not the worker's, and they are put back after it: what one request noted there would
    otherwise be on the lines of every later request the worker serves.
    """

    def __init__(self, count: int) -> None:
        if count < 1:
            raise ValueError("at least one worker")
        self.count = count
        self._queue: asyncio.Queue[_Call] | None = None
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self, app: web.Application | None = None) -> None:
        self._queue = asyncio.Queue()
        self._tasks = [asyncio.create_task(self._work(self._queue))
                       for _ in range(self.count)]

    async def stop(self, app: web.Application | None = None) -> None:
        queue, self._queue = self._queue, None
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        while queue is not None and not queue.empty():
            _, future, _context = queue.get_nowait()
            future.cancel()

    async def run(self, call: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
        """``call()``'s result, run by a worker (in this task, before start and after stop)."""
        queue = self._queue
        if queue is None:
            return await call()
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        queue.put_nowait((call, future, contextvars.copy_context()))
        return await future

    @staticmethod
    async def _work(queue: asyncio.Queue[_Call]) -> None:
        while True:
            call, future, context = await queue.get()
            if future.done():  # its request went away before its turn
                continue
            # The request's context variables, set here for the call and put back after
            # it (what the call noted goes with them). Not a task of its own in the
            # request's context: that cost 6% of the API's holds/s (bench/api.py).
            tokens = [(var, var.set(value)) for var, value in context.items()]
            try:
                result: Any = await call()
            except asyncio.CancelledError:
                future.cancel()
                raise
            except Exception as error:
                if not future.done():
                    future.set_exception(error)
            else:
                if not future.done():
                    future.set_result(result)
            finally:
                for var, token in reversed(tokens):
                    var.reset(token)


# A use case to run, the future its request awaits, and the request's context.
_Call = tuple[Callable[[], Coroutine[Any, Any, Any]], asyncio.Future[Any], contextvars.Context]


def make_booking_api(booking: BookingApi, customers: CustomersApi, *, token: str,
                     idempotency: IdempotencyStore, workers: int = 20) -> web.Application:
    """The API's aiohttp application; the caller runs it (bot/booking_api.py, tests), with
    ``workers`` as many as its database connections (Workers)."""
    if not token:
        raise ValueError("the booking API needs a token")
    # aiohttp's own bound stops a body sent without Content-Length (chunked) at 64 KB too.
    app = web.Application(client_max_size=MAX_BODY_BYTES,
                          middlewares=[_plain_body, _answer_errors, _authenticate,
                                       _bound_body, _idempotent])
    endpoints = Endpoints(booking, customers)
    app[ENDPOINTS] = endpoints
    app[TOKEN] = token
    app[IDEMPOTENCY] = idempotency
    document = json.dumps(openapi_document()).encode()

    async def serve_document(request: web.Request) -> web.Response:
        return web.Response(body=document, content_type="application/json")

    running = Workers(workers)
    app.on_startup.append(running.start)
    app.on_cleanup.append(running.stop)
    app.router.add_get(DOCUMENT_PATH, serve_document)
    for operation in OPERATIONS:
        handler = _endpoint(operation, getattr(endpoints, operation.name), running)
        if operation.method == "GET":  # and HEAD, as HTTP has every GET (RFC 9110 9.3.2)
            app.router.add_get(operation.url_path, handler, allow_head=True)
        else:
            app.router.add_route(operation.method, operation.url_path, handler)
    return app


# ---- errors --------------------------------------------------------------------------------

def error_response(code: str, message: str, params: Mapping[str, Any] | None = None,
                   status: int | None = None) -> web.Response:
    status = status or status_of(code)
    body = {"error": {"code": code, "message": message, "params": _plain(params or {})}}
    headers = {"Retry-After": "1"} if status == 503 else None
    return web.json_response(body, status=status, headers=headers)


def _plain(params: Mapping[str, Any]) -> dict[str, Any]:
    """Parameters as JSON has them: sets and tuples as lists, anything else as text."""
    def convert(value: Any) -> Any:
        if isinstance(value, set | frozenset):
            return sorted(value, key=str)
        if isinstance(value, tuple):
            return list(value)
        return str(value)

    result: dict[str, Any] = json.loads(json.dumps(dict(params), default=convert))
    return result


def booking_error_response(error: BookingError) -> web.Response:
    detail = error.params.get("detail")
    message = str(detail) if detail else error.code.value.replace("_", " ")
    return error_response(error.code.value, message, error.params)


_HTTP_ERRORS = {
    404: (ApiErrorCode.NOT_FOUND, "no such resource"),
    405: (ApiErrorCode.METHOD_NOT_ALLOWED, "method not allowed here"),
    413: (ApiErrorCode.PAYLOAD_TOO_LARGE, f"bodies are limited to {MAX_BODY_BYTES} bytes"),
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def _answer_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as error:
        return error_response(error.code, error.message, error.params)
    except BookingError as error:
        return booking_error_response(error)
    except LockTimeout:
        return error_response(ErrorCode.BUSY, "busy, try again")
    except web.HTTPException as error:
        code, message = _HTTP_ERRORS.get(error.status, (ApiErrorCode.INVALID_REQUEST,
                                                       error.reason))
        response = error_response(code, message, status=error.status)
        if "Allow" in error.headers:  # a 405 says which methods the path takes (RFC 9110)
            response.headers["Allow"] = error.headers["Allow"]
        return response
    except Exception:
        log.exception("booking API: %s %s failed", request.method, request.path)
        return error_response(ApiErrorCode.INTERNAL, "internal error")


@web.middleware
async def _authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path != DOCUMENT_PATH:
        scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
        given = credentials.lstrip(" ").encode("utf-8", "replace")
        expected = request.app[TOKEN].encode()
        # The scheme's name is case-insensitive (RFC 7235 2.1): "bearer" is "Bearer".
        if scheme.lower() != "bearer" or not hmac.compare_digest(given, expected):
            response = error_response(ApiErrorCode.UNAUTHORIZED,
                                      "a valid bearer token is needed")
            response.headers["WWW-Authenticate"] = 'Bearer realm="kassa"'
            return response
    return await handler(request)


@web.middleware
async def _plain_body(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Bodies come as they are: a compressed one is refused before anything reads it (a
    body that is not what its Content-Encoding says broke inside aiohttp's reading, a 500
    with a traceback, whoever sent it), and the connection closed rather than drained."""
    if request.headers.get("Content-Encoding", "identity").strip().lower() != "identity":
        response = error_response(ApiErrorCode.UNSUPPORTED_ENCODING,
                                  "send the body without Content-Encoding")
        response.force_close()
        return response
    return await handler(request)


@web.middleware
async def _bound_body(request: web.Request, handler: Handler) -> web.StreamResponse:
    if (request.content_length or 0) > MAX_BODY_BYTES:
        raise web.HTTPRequestEntityTooLarge(MAX_BODY_BYTES, request.content_length or 0)
    return await handler(request)


@web.middleware
async def _idempotent(request: web.Request, handler: Handler) -> web.StreamResponse:
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if request.method != "POST" or key is None:
        return await handler(request)
    if not 0 < len(key) <= MAX_IDEMPOTENCY_KEY_LENGTH or not all(
            "!" <= c <= "~" for c in key):
        raise ApiError(ApiErrorCode.BAD_IDEMPOTENCY_KEY,
                       f"{IDEMPOTENCY_HEADER} must be 1 to {MAX_IDEMPOTENCY_KEY_LENGTH} "
                       "printable ASCII characters")
    store = request.app[IDEMPOTENCY]
    now = request.app[ENDPOINTS].booking.now()
    mark = fingerprint(request.method, request.path, request.query_string,
                       await request.read())
    stored = await store.reserve(key, mark, now)
    if stored is not None:
        if stored.fingerprint != mark:
            return error_response(ErrorCode.REQUEST_KEY_REUSED,
                                  f"this {IDEMPOTENCY_HEADER} was used for another request")
        if stored.status is None or stored.body is None:
            return error_response(ApiErrorCode.REQUEST_IN_PROGRESS,
                                  f"a request with this {IDEMPOTENCY_HEADER} is being "
                                  "answered")
        return web.Response(text=stored.body, status=stored.status,
                            content_type="application/json", headers={REPLAYED_HEADER: "true"})
    try:
        response = await handler(request)
    except BaseException:
        await store.release(key)
        raise
    # Answers worth replaying are those that decided something; a 5xx (busy, a bug) is
    # not a decision, so the same key may try again.
    if isinstance(response, web.Response) and response.status < 500 and response.text:
        await store.complete(key, response.status, response.text, now)
    else:
        await store.release(key)
    return response


# ---- one operation -------------------------------------------------------------------------

def _endpoint(operation: Operation, method: Callable[..., Coroutine[Any, Any, Any]],
              workers: Workers) -> Handler:
    answer = TypeAdapter(operation.answer)

    async def handle(request: web.Request) -> web.StreamResponse:
        # Refusals are answered here rather than by the outer middleware, so that the
        # idempotency layer sees (and stores) them as this request's answer.
        try:
            arguments = await _arguments(operation, request)
            value = await workers.run(partial(method, **arguments))
        except BookingError as error:
            return booking_error_response(error)
        except ApiError as error:
            return error_response(error.code, error.message, error.params)
        return web.Response(body=answer.dump_json(value), status=operation.status,
                            content_type="application/json")

    return handle


async def _arguments(operation: Operation, request: web.Request) -> dict[str, BaseModel]:
    """The operation's path, query and body parsed by its models."""
    arguments: dict[str, BaseModel] = {}
    try:
        if operation.path_params is not None:
            arguments["path"] = operation.path_params.model_validate(dict(request.match_info))
        arguments.update(_query(operation, request))
        if operation.body is not None:
            arguments["body"] = operation.body.model_validate_json(await request.read())
    except ValidationError as error:
        # A list of seats over the schema's bound is over the service's own limit too:
        # the refusal says that limit, as the service's own check would.
        max_seats = request.app[ENDPOINTS].booking.limits().max_seats_per_order
        raise _invalid(error, max_seats) from None
    return arguments


def _query(operation: Operation, request: web.Request) -> dict[str, BaseModel]:
    names = [name for name, _ in request.query.items()]
    if len(set(names)) != len(names):
        repeated = next(name for name in names if names.count(name) > 1)
        raise ApiError(ApiErrorCode.INVALID_REQUEST,
                       f"query parameter given more than once: {repeated}")
    if operation.query is None:
        if names:
            raise ApiError(ApiErrorCode.INVALID_REQUEST,
                           f"unknown query parameter: {names[0]}")
        return {}
    return {"query": operation.query.model_validate(dict(request.query))}


def _invalid(error: ValidationError, max_seats: int) -> Exception:
    """Malformed JSON (400); a value the service has a code for (BookingError, 422 or
    whatever that code answers); else wrong types, missing or unknown fields (422)."""
    problems = error.errors(include_url=False, include_input=False)
    if any(problem["type"] == "json_invalid" for problem in problems):
        return ApiError(ApiErrorCode.MALFORMED_JSON, "the body is not JSON")
    first = problems[0]
    refusal = refusal_of(tuple(first["loc"]), first["type"], first.get("ctx"),
                         max_seats=max_seats)
    if refusal is not None:
        code, params = refusal
        return BookingError(code, **params)
    where = ".".join(str(part) for part in first["loc"]) or "body"
    return ApiError(ApiErrorCode.INVALID_REQUEST, f"{where}: {first['msg']}",
                    errors=[{"loc": [str(part) for part in problem["loc"]], "msg": problem["msg"],
                             "type": problem["type"]} for problem in problems])
