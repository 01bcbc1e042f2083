"""Every use case fed arbitrary integers, text and dates (issue 9), on SQLite and PostgreSQL.

Whatever comes in, a use case either succeeds or refuses with a BookingError carrying a
code of the catalogue, and a refusal leaves the database exactly as it was. Values no
column holds are refused with the same code on both databases. The inputs mix hostile
values (NUL, control characters, unpaired surrogates, bidi overrides, texts of 100 000
characters, ids past 2**63, dates at both ends of the calendar) with real ones (stations,
trips and orders that exist), so that the checks behind the first ones are reached too.
"""

from __future__ import annotations

import asyncio
import unicodedata
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncEngine

from booking import limits
from booking.customers import CustomerService
from booking.errors import BookingError, ErrorCode
from booking.names import MAX_NAME_LENGTH, passenger_name
from booking.outbox import DEDUPE_KEY_LENGTH, OutboxService, dedupe_key
from booking.service import BookingService
from storage.uow import SqlUnitOfWorkFactory
from tests.conftest import FakeClock
from tests.factories import STOPS, Network, build_network
from tests.snapshot import database_snapshot

T = TypeVar("T")
DAY = date(2026, 6, 1)
EXAMPLES = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# ---- what arrives ----------------------------------------------------------------------------

EDGE_INTS = [0, 1, -1, 2, 1001, limits.MAX_INT32, limits.MAX_INT32 + 1, limits.MAX_INT64,
             limits.MAX_INT64 + 1, -limits.MAX_INT64 - 2, 10**30]
HOSTILE_CHARS = ["\x00", "\x07", "\x1b", "\x7f", "\x9b", "\n", "\u202e", "\u2066", "\u200b",
                 "\ufeff", "\u00ad", "😀", "\ud800", "\udfff", "'", "%", "_", "\\"]

integers = st.one_of(st.integers(), st.sampled_from(EDGE_INTS))
characters = st.one_of(
    st.characters(exclude_categories=()),
    st.sampled_from(HOSTILE_CHARS),
    st.integers(0xD800, 0xDFFF).map(chr),  # unpaired surrogates, rare in st.characters
)
texts = st.one_of(
    st.text(characters, max_size=12),
    st.builds(lambda char, n: char * n, characters, st.integers(0, 100_000)),  # very long
    # Real values with a hostile tail: "Ann\x00", "pay-1\u202e".
    st.builds(lambda real, tail: real + tail, st.sampled_from(["A", "Ann", "pay-1", "sandbox"]),
              st.text(st.sampled_from(HOSTILE_CHARS), min_size=1, max_size=3)),
)
dates = st.one_of(st.dates(), st.dates(date(2026, 5, 25), date(2026, 6, 10)),
                  st.sampled_from([date.min, date.max]))


def either(real: list[Any], hostile: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A real value or a hostile one."""
    return st.one_of(st.sampled_from(real), hostile)


def arguments(
    data: st.DataObject, real: dict[str, st.SearchStrategy[Any]],
    hostile: dict[str, st.SearchStrategy[Any]],
) -> dict[str, Any]:
    """Real arguments but for one or two hostile ones, so that every check is reached with
    everything before it passing (all hostile at once, the first check would catch all)."""
    chosen = data.draw(st.sets(st.sampled_from(sorted(hostile)), min_size=1, max_size=2),
                       label="hostile")
    return {name: data.draw(hostile[name] if name in chosen else real[name], label=name)
            for name in real}


real_station = st.sampled_from(STOPS)
hostile_names = st.lists(either(["Ann", "Bob Lee", "Zoë"], texts), max_size=12)
real_names = st.lists(st.sampled_from(["Ann", "Bob Lee", "Zoë", "Zoe\u0301", " Li  Wei "]),
                      min_size=1, max_size=3)


# ---- the world they arrive in ----------------------------------------------------------------


class World:
    """A network with orders in every state; ids callers may have seen."""

    def __init__(self, engine: AsyncEngine, network: Network, service: BookingService,
                 orders: list[str]) -> None:
        self.engine = engine
        self.network = network
        self.service = service
        self.orders = orders

    @property
    def trips(self) -> list[int]:
        return list(self.network.trips.values())


@pytest.fixture
async def world(engine: AsyncEngine, service: BookingService, clock: FakeClock) -> World:
    """Stations A-F, daily trips, and a held, a paid and a cancelled order."""
    network = await build_network(engine, days=3)
    trip = network.trips[DAY]
    held = await service.hold(1001, trip, "A", "C", ["Ann"])
    paid = await service.hold(1001, trip, "B", "D", ["Bob"], request_key="k")
    await service.confirm_payment(paid.id, "pay-1", paid.amount, "EUR")
    cancelled = await service.hold(2002, trip, "C", "F", ["Cy"])
    await service.cancel(cancelled.id, 2002)
    return World(engine, network, service, [held.id, paid.id, cancelled.id])


async def attempt(
    engine: AsyncEngine,
    call: Callable[[], Awaitable[T]],
    *,
    writes: bool = True,
    kept_on_refusal: frozenset[ErrorCode] = frozenset(),
) -> T | BookingError:
    """The call's result, or its refusal after checking the refusal changed nothing.

    A read-only use case (``writes=False``) changes nothing even when it succeeds. A code
    in ``kept_on_refusal`` may leave a note in an order's history and nothing else.
    """
    before = await database_snapshot(engine)
    try:
        result = await asyncio.wait_for(call(), timeout=20)  # every loop ends
    except BookingError as error:
        assert isinstance(error.code, ErrorCode)
        after = await database_snapshot(engine)
        if error.code in kept_on_refusal:
            after["order_events"] = before["order_events"] = []
        assert after == before, error
        return error
    if not writes:
        assert await database_snapshot(engine) == before
    return result


def refused_as(result: object, code: ErrorCode) -> None:
    assert isinstance(result, BookingError) and result.code is code, result


def in_range(value: int, high: int) -> bool:
    return 1 <= value <= high


def storable(value: str | None, length: int) -> bool:
    """Whether a column of ``length`` holds ``value`` on PostgreSQL (SQLite holds anything:
    a refusal of what PostgreSQL cannot hold is what keeps the two alike)."""
    return value is None or (0 < len(value) <= length and limits.unsafe_character(value) is None)


# ---- the properties --------------------------------------------------------------------------


@EXAMPLES
@given(data=st.data())
async def test_search_and_nearest_days(world: World, data: st.DataObject) -> None:
    a = arguments(
        data,
        {"origin": real_station, "destination": real_station,
         "day": st.dates(date(2026, 5, 30), date(2026, 6, 4)), "seats": st.integers(1, 9)},
        {"origin": texts, "destination": texts, "day": dates, "seats": integers},
    )
    service = world.service
    found = await attempt(world.engine,
                          lambda: service.search(a["origin"], a["destination"], a["day"]),
                          writes=False)
    if not isinstance(found, BookingError):
        assert all(o.departure.date() == a["day"] for o in found)
    near = await attempt(
        world.engine,
        lambda: service.nearest_days(a["origin"], a["destination"], a["day"], a["seats"]),
        writes=False,
    )
    if not isinstance(near, BookingError):
        assert a["day"] not in near
    await attempt(world.engine, lambda: service.destinations(a["origin"]), writes=False)


@EXAMPLES
@given(data=st.data())
async def test_trip_option_and_seat_map(world: World, data: st.DataObject) -> None:
    a = arguments(
        data,
        {"trip": st.sampled_from(world.trips), "origin": real_station,
         "destination": real_station},
        {"trip": integers, "origin": texts, "destination": texts},
    )
    service = world.service
    option = await attempt(
        world.engine, lambda: service.trip_option(a["trip"], a["origin"], a["destination"]),
        writes=False,
    )
    seat_map = await attempt(
        world.engine, lambda: service.seat_map(a["trip"], a["origin"], a["destination"]),
        writes=False,
    )
    if not in_range(a["trip"], limits.MAX_INT32):
        refused_as(option, ErrorCode.BAD_ID)
        refused_as(seat_map, ErrorCode.BAD_ID)


@EXAMPLES
@given(data=st.data())
async def test_hold(world: World, data: st.DataObject) -> None:
    a = arguments(
        data,
        {"customer": st.sampled_from([1001, 2002, 3003]), "trip": st.sampled_from(world.trips),
         "origin": real_station, "destination": real_station, "passengers": real_names,
         "seats": st.none(), "key": st.one_of(st.none(), st.sampled_from(["k", "k2"]))},
        {"customer": integers, "trip": integers, "origin": texts, "destination": texts,
         "passengers": hostile_names,
         "seats": st.lists(either(["1A", "1B", "2C"], texts), max_size=4), "key": texts},
    )
    result = await attempt(world.engine, lambda: world.service.hold(
        a["customer"], a["trip"], a["origin"], a["destination"], a["passengers"], a["seats"],
        request_key=a["key"]))
    if not in_range(a["customer"], limits.MAX_INT64):
        refused_as(result, ErrorCode.BAD_ID)
    if not (storable(a["key"], limits.REQUEST_KEY_LENGTH)
            and storable(a["origin"], limits.STATION_CODE_LENGTH)
            and storable(a["destination"], limits.STATION_CODE_LENGTH)):
        assert isinstance(result, BookingError)
    if not isinstance(result, BookingError):
        # What was stored is what a ticket may print.
        assert all(passenger_name(p) == p for p in result.passengers)


@EXAMPLES
@given(data=st.data())
async def test_orders_quotes_and_cancellation(world: World, data: st.DataObject) -> None:
    a = arguments(
        data,
        {"order": st.sampled_from(world.orders), "customer": st.sampled_from([None, 1001, 2002]),
         "actor": st.sampled_from([None, "staff:7"])},
        {"order": texts, "customer": integers, "actor": texts},
    )
    order_id, customer, service = a["order"], a["customer"], world.service
    await attempt(world.engine, lambda: service.order(order_id, customer), writes=False)
    await attempt(world.engine, lambda: service.cancellation_quote(order_id, customer),
                  writes=False)
    if customer is not None:
        mine = await attempt(world.engine, lambda: service.orders_of(customer), writes=False)
        if not in_range(customer, limits.MAX_INT64):
            refused_as(mine, ErrorCode.BAD_ID)
    cancelled = await attempt(world.engine,
                              lambda: service.cancel(order_id, customer, actor=a["actor"]))
    if not storable(a["actor"], limits.ACTOR_LENGTH):
        assert isinstance(cancelled, BookingError)


@EXAMPLES
@given(data=st.data())
async def test_confirm_payment(world: World, data: st.DataObject) -> None:
    a = arguments(
        data,
        {"order": st.sampled_from(world.orders),
         "reference": st.sampled_from(["pay-1", "pay-2", "pay-3"]),
         "amount": st.sampled_from([0, 1000, 2000]), "currency": st.sampled_from(["EUR", "USD"]),
         "provider": st.sampled_from(["sandbox", "telegram"])},
        {"order": texts, "reference": texts, "amount": integers, "currency": texts,
         "provider": texts},
    )
    result = await attempt(
        world.engine,
        lambda: world.service.confirm_payment(a["order"], a["reference"], a["amount"],
                                              a["currency"], a["provider"]),
        kept_on_refusal=frozenset({ErrorCode.PAYMENT_REFERENCE_USED}),
    )
    if not (0 <= a["amount"] <= limits.MAX_AMOUNT and limits.is_currency(a["currency"])
            and storable(a["reference"], limits.PAYMENT_REFERENCE_LENGTH)
            and storable(a["provider"], limits.PROVIDER_LENGTH)):
        assert isinstance(result, BookingError)


@EXAMPLES
@given(batch=integers, limit=integers)
async def test_sweeps_end(world: World, clock: FakeClock, batch: int, limit: int) -> None:
    result = await attempt(world.engine, lambda: world.service.expire_holds(batch))
    if batch < 1:
        refused_as(result, ErrorCode.BAD_BATCH_SIZE)
    outbox = OutboxService(SqlUnitOfWorkFactory(world.engine), clock=clock)
    delivered = await attempt(world.engine, lambda: outbox.deliver_due({}, limit=limit))
    if limit < 1:
        refused_as(delivered, ErrorCode.BAD_BATCH_SIZE)


@EXAMPLES
@given(data=st.data(), blocked=st.booleans())
async def test_customers(
    world: World, clock: FakeClock, data: st.DataObject, blocked: bool
) -> None:
    a = arguments(
        data,
        {"user": st.sampled_from([1001, 5005]), "name": st.sampled_from(["Ann", "Li Wei"]),
         "language": st.sampled_from([None, "en", "ru", "zh"])},
        {"user": integers, "name": texts, "language": texts},
    )
    user, language = a["user"], a["language"]
    customers = CustomerService(SqlUnitOfWorkFactory(world.engine), clock=clock)
    ensured = await attempt(world.engine, lambda: customers.ensure(user, a["name"], language))
    if not in_range(user, limits.MAX_INT64):
        refused_as(ensured, ErrorCode.BAD_ID)
    else:
        assert not isinstance(ensured, BookingError)  # a profile is never a reason to refuse
        assert limits.unsafe_character(ensured.name) is None
    if language is not None:
        chosen = await attempt(world.engine, lambda: customers.set_language(user, language))
        if not storable(language, limits.LANGUAGE_LENGTH):
            assert isinstance(chosen, BookingError)
    await attempt(world.engine, lambda: customers.set_blocked(user, blocked))
    await attempt(world.engine, lambda: customers.role(user), writes=False)


@settings(max_examples=300, deadline=None)
@given(raw=texts)
def test_a_name_that_is_accepted_is_printable_normalised_and_stable(raw: str) -> None:
    try:
        name = passenger_name(raw)
    except BookingError as error:
        assert error.code is ErrorCode.BAD_PASSENGER_NAME
        return
    assert 0 < len(name) <= MAX_NAME_LENGTH
    assert name == unicodedata.normalize("NFC", name) == passenger_name(name)
    assert all(unicodedata.category(c)[0] in "LMZ" or c in "-‐‑'’·・" for c in name)


def test_outbox_keys_of_the_longest_references_fit_their_column() -> None:
    # A provider's reference may be 255 characters; the outbox's dedupe key holds 128.
    long = "R" * 255
    key = dedupe_key("refund", "sandbox", long)
    assert len(key) <= DEDUPE_KEY_LENGTH
    assert key == dedupe_key("refund", "sandbox", long)  # the same message, the same key
    assert key != dedupe_key("refund", "sandbox", long[:-1] + "S")
    assert dedupe_key("refund", "sandbox", "abc") == "refund:sandbox:abc"
