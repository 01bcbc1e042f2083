"""The booking service over HTTP: auth, every class of refusal, idempotency, and the client
that makes it look like the in-process service. Through aiohttp's test client, on both
databases."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import re
import subprocess
import sys
import unicodedata
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from pydantic import SecretStr
from sqlalchemy import func, select

from booking.errors import BookingError, ErrorCode
from booking.http_contract import MAX_SEATS_ASKED, OPERATIONS, STORABLE_PATTERN
from booking.idempotency import ABANDONED_AFTER, StoredAnswer, fingerprint
from booking.model import OrderStatus, Role
from booking.names import MAX_GIVEN_NAME_LENGTH, MAX_NAME_LENGTH
from booking.providers import PaymentEventType, ProviderEvent
from booking.ticketing import CheckInOutcome
from bot.logs import configure, remove
from bot.services import booking_service, customer_service
from bot.settings import Settings
from storage import tables as t
from storage.idempotency import SqlIdempotencyStore
from tests.booking_api_support import AUTH, TOKEN, served_api
from tests.factories import build_network, pax

DAY = date(2026, 6, 1)
KNOWN_CUSTOMERS = (1, 2, 3)  # the world's customers; any other id is one it never met


@pytest.fixture
async def world(engine, clock):
    """A network of one daily trip A..F (20 seats), the services, and the API serving them."""
    network = await build_network(engine, days=3)
    settings = Settings(_env_file=None, staff_ids=[77])
    booking = booking_service(settings, engine, clock=clock)
    customers = customer_service(settings, engine, clock=clock)
    for customer in KNOWN_CUSTOMERS:
        await customers.ensure(customer, f"Customer {customer}", "en")
    async with served_api(engine, booking, customers) as api:
        yield network, booking, api


def hold_body(trip: int, customer: int = 1, **changes):
    body = {"customer_id": customer, "trip_id": trip, "origin": "B", "destination": "D",
            "passengers": ["Anna Lee"], "seats": ["1A"]}
    body.update(changes)
    return body


async def orders_count(engine) -> int:
    async with engine.connect() as conn:
        return (await conn.execute(select(func.count()).select_from(t.orders))).scalar_one()


async def error_of(response) -> tuple[int, str]:
    body = await response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "params"}
    assert body["error"]["message"]
    return response.status, body["error"]["code"]


# ---- auth ----------------------------------------------------------------------------------

async def test_without_the_token_or_with_another_nothing_is_answered(world, engine):
    network, _, api = world
    trip = network.trips[DAY]
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic eA=="},
                    {"Authorization": "Bearer é"}, {"Authorization": "Bearer"},
                    {"Authorization": TOKEN}, {"Authorization": f"Bearer{TOKEN}"},
                    {"Authorization": f"Basic {TOKEN}"},
                    {"Authorization": f"Bearer {TOKEN}x"}):
        response = await api.client.post("/v1/holds", json=hold_body(trip), headers=headers)
        assert await error_of(response) == (401, "unauthorized")
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        response = await api.client.get("/v1/stations", headers=headers)
        assert response.status == 401
    assert await orders_count(engine) == 0


async def test_the_scheme_of_the_token_is_any_case(world):
    """RFC 7235 2.1: the scheme's name is case-insensitive."""
    _, _, api = world
    for scheme in ("Bearer", "bearer", "BEARER", "bEaReR"):
        for spaces in (" ", "  "):
            headers = {"Authorization": f"{scheme}{spaces}{TOKEN}"}
            response = await api.client.get("/v1/stations", headers=headers)
            assert response.status == 200, headers


async def test_the_document_is_openapi_3_1_and_lists_every_operation(world):
    _, _, api = world
    response = await api.client.get("/v1/openapi.json")
    assert response.status == 200
    document = await response.json()
    assert document["openapi"] == "3.1.0"
    listed = {op["operationId"] for path in document["paths"].values() for op in path.values()}
    assert listed == {operation.name for operation in OPERATIONS}
    hold = document["paths"]["/v1/holds"]["post"]
    assert {"201", "401", "409", "413", "422"} <= set(hold["responses"])
    schema = document["components"]["schemas"]["HoldRequest"]
    assert schema["additionalProperties"] is False
    # The text the service reads; it keeps MAX_NAME_LENGTH once trimmed and normalised.
    assert schema["properties"]["passengers"]["items"]["maxLength"] == MAX_GIVEN_NAME_LENGTH
    # Every free text says it holds no control character, as the server refuses them.
    texts = [schema["properties"]["origin"], schema["properties"]["request_key"]["anyOf"][0],
             schema["properties"]["seats"]["anyOf"][0]["items"],
             document["components"]["schemas"]["ProviderEventRequest"]["properties"][
                 "event_id"],
             document["components"]["schemas"]["ContactRequest"]["properties"]["name"],
             document["components"]["schemas"]["LanguageRequest"]["properties"]["language"]]
    assert all(text["pattern"] == STORABLE_PATTERN for text in texts)
    assert re.fullmatch(STORABLE_PATTERN, "Anna Lee, 北京 ·") is not None
    assert not any(re.fullmatch(STORABLE_PATTERN, f"a{c}b") for c in "\x00\t\x1b\x7f\x85")


# ---- answers -------------------------------------------------------------------------------

async def test_a_hold_and_its_order_as_json(world):
    network, _, api = world
    trip = network.trips[DAY]
    response = await api.client.post("/v1/holds", json=hold_body(trip), headers=AUTH)
    assert response.status == 201
    order = await response.json()
    assert order["status"] == "held" and order["seats"] == [{"seat": "1A",
                                                             "passenger": "Anna Lee"}]
    response = await api.client.get(f"/v1/orders/{order['id']}", params={"customer_id": "1"},
                                    headers=AUTH)
    assert response.status == 200 and (await response.json())["id"] == order["id"]
    response = await api.client.get("/v1/customers/1/orders", headers=AUTH)
    assert [o["id"] for o in await response.json()] == [order["id"]]
    response = await api.client.get("/v1/trips", headers=AUTH, params={
        "origin": "B", "destination": "D", "date": DAY.isoformat()})
    [option] = await response.json()
    assert option["trip_id"] == trip and option["seats_free"] == 19


async def test_unknown_ids_are_404(world):
    _, _, api = world
    for path in ("/v1/orders/NOSUCHORDER", "/v1/customers/5/role/x", "/v1/trips/999",
                 "/v1/customers/123456"):
        response = await api.client.get(path, headers=AUTH,
                                        params={"origin": "A", "destination": "B"}
                                        if path.startswith("/v1/trips") else None)
        status, code = await error_of(response)
        assert status == 404, (path, code)
        assert code in {"unknown_order", "not_found", "unknown_trip", "unknown_customer"}
    response = await api.client.get("/v1/stations/ZZ/destinations", headers=AUTH)
    assert await error_of(response) == (404, "unknown_station")
    response = await api.client.delete("/v1/holds", headers=AUTH)
    assert await error_of(response) == (405, "method_not_allowed")
    assert response.headers["Allow"] == "POST"
    # HEAD is a GET without the body, wherever GET is taken.
    got = await api.client.get("/v1/stations", headers=AUTH)
    head = await api.client.head("/v1/stations", headers=AUTH)
    assert (head.status, await head.read()) == (200, b"")
    assert head.headers["Content-Type"] == got.headers["Content-Type"]
    head = await api.client.head("/v1/orders/NOSUCHORDER", headers=AUTH)
    assert head.status == 404


async def test_a_customer_never_registered_is_404_and_nothing_is_held(world, engine):
    network, _, api = world
    body = hold_body(network.trips[DAY], customer=424242)
    response = await api.client.post("/v1/holds", json=body, headers=AUTH)
    assert await error_of(response) == (404, "unknown_customer")
    assert (await response.json())["error"]["params"] == {"customer_id": 424242}
    response = await api.client.get("/v1/customers/424242/orders", headers=AUTH)
    assert await error_of(response) == (404, "unknown_customer")
    # Nor does a language or a block set for them make a customer up.
    for method, path, payload in (("PUT", "/language", {"language": "en"}),
                                  ("PUT", "/blocked", {"blocked": True}), ("GET", "", None)):
        response = await api.client.request(method, f"/v1/customers/424242{path}",
                                            headers=AUTH, json=payload)
        assert await error_of(response) == (404, "unknown_customer"), path
        assert (await response.json())["error"]["params"] == {"customer_id": 424242}
    assert await orders_count(engine) == 0
    async with engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(t.customers).where(
            t.customers.c.id == 424242))).scalar_one() == 0
    # Once the channel has told Kassa of them, the same hold is taken.
    response = await api.client.put("/v1/customers/424242", headers=AUTH,
                                    json={"name": "Li Na", "language": "zh"})
    assert response.status == 200
    response = await api.client.post("/v1/holds", json=body, headers=AUTH)
    assert response.status == 201
    response = await api.client.get("/v1/customers/424242/orders", headers=AUTH)
    assert [o["status"] for o in await response.json()] == ["held"]


async def test_a_seat_no_longer_free_is_409_and_changes_nothing(world, engine):
    network, _, api = world
    trip = network.trips[DAY]
    assert (await api.client.post("/v1/holds", json=hold_body(trip), headers=AUTH)).status == 201
    response = await api.client.post("/v1/holds", json=hold_body(trip, customer=2),
                                     headers=AUTH)
    status, code = await error_of(response)
    assert (status, code) == (409, "seat_taken")
    assert (await response.json())["error"]["params"] == {"seats": ["1A"]}
    assert await orders_count(engine) == 1


async def test_a_customer_at_the_unpaid_hold_cap_is_409_and_changes_nothing(world, engine):
    network, _, api = world
    trip = network.trips[DAY]
    for seat in ("1A", "1B", "1C"):  # the cap a process takes by default (KASSA_MAX_LIVE_HOLDS)
        response = await api.client.post("/v1/holds", json=hold_body(trip, seats=[seat]),
                                         headers=AUTH)
        assert response.status == 201
    response = await api.client.post("/v1/holds", json=hold_body(trip, seats=["2A"]),
                                     headers=AUTH)
    assert await error_of(response) == (409, "too_many_holds")
    assert (await response.json())["error"]["params"] == {"limit": 3}
    assert await orders_count(engine) == 3


async def test_another_customers_order_is_refused_and_left_alone(world, engine):
    network, booking, api = world
    view = await booking.hold(1, network.trips[DAY], "B", "D", ["Anna Lee"])
    response = await api.client.post(f"/v1/orders/{view.id}/cancel", json={"customer_id": 2},
                                     headers=AUTH)
    assert await error_of(response) == (403, "not_your_order")
    response = await api.client.post(f"/v1/orders/{view.id}/payment", json={"customer_id": 2},
                                     headers=AUTH)
    assert await error_of(response) == (403, "not_your_order")
    assert (await booking.order(view.id)).status is OrderStatus.HELD


# ---- bad input: always a 4xx with a code, never a 500, and nothing changed -----------------

BAD_BODIES = {
    "not JSON": (b"{not json", 400, "malformed_json"),
    "empty": (b"", 400, "malformed_json"),
    "not UTF-8": (b"\xff\xfe", 400, "malformed_json"),
    "a list": (b"[]", 422, "invalid_request"),
    "a string": (b'"text"', 422, "invalid_request"),
    "an id as text": ({"customer_id": "1"}, 422, "invalid_request"),
    "an unknown field": ({"surprise": True}, 422, "invalid_request"),
    "a field missing": ({"passengers": None}, 422, "invalid_request"),
    "an id no column holds": ({"trip_id": 2**40}, 422, "bad_id"),
    "51 passengers": ({"passengers": [pax(i) for i in range(51)], "seats": None}, 422,
                      "too_many_seats"),
    "a name of 1000 letters": ({"passengers": ["x" * 1000]}, 422, "bad_passenger_name"),
    "a control character": ({"origin": "B\u0007"}, 422, "bad_text"),
    "a NUL in a seat": ({"seats": ["1\u0000"]}, 422, "bad_text"),
    "a NUL in the request key": ({"request_key": "k\u0000"}, 422, "bad_text"),
    "a NUL in a name": ({"passengers": ["Anna\u0000Lee"]}, 422, "bad_passenger_name"),
}


@pytest.mark.parametrize("case", list(BAD_BODIES))
async def test_bad_bodies(world, engine, case):
    network, _, api = world
    body, status, code = BAD_BODIES[case]
    if isinstance(body, dict):
        data = hold_body(network.trips[DAY], **body)
        body = json.dumps({k: v for k, v in data.items() if v is not None or k == "seats"})
    response = await api.client.post("/v1/holds", data=body,
                                     headers={**AUTH, "Content-Type": "application/json"})
    assert await error_of(response) == (status, code)
    assert await orders_count(engine) == 0


async def test_a_body_over_64_kb_is_413(world, engine):
    network, _, api = world
    body = json.dumps(hold_body(network.trips[DAY], padding="x" * 70_000))
    response = await api.client.post("/v1/holds", data=body, headers=AUTH)
    assert await error_of(response) == (413, "payload_too_large")

    async def chunks():  # no Content-Length: aiohttp's own bound stops it
        for _ in range(70):
            yield b"x" * 1024

    response = await api.client.post("/v1/holds", data=chunks(), headers=AUTH)
    assert await error_of(response) == (413, "payload_too_large")
    assert await orders_count(engine) == 0


async def test_bad_parameters(world):
    network, _, api = world
    trip = network.trips[DAY]
    cases = [
        (f"/v1/trips/{trip}", {"origin": "B"}, 422, "invalid_request"),  # destination missing
        (f"/v1/trips/{trip}", {"origin": "B", "destination": "D", "x": "1"}, 422,
         "invalid_request"),
        ("/v1/trips/abc", {"origin": "B", "destination": "D"}, 422, "invalid_request"),
        ("/v1/trips/0", {"origin": "B", "destination": "D"}, 422, "bad_id"),
        ("/v1/trips", {"origin": "B", "destination": "D", "date": "tomorrow"}, 422,
         "invalid_request"),
        ("/v1/trips", {"origin": "B", "destination": "B", "date": DAY.isoformat()}, 422,
         "same_station"),
        ("/v1/nearest-days", {"origin": "B", "destination": "D", "date": DAY.isoformat(),
                              "seats": "0"}, 422, "bad_seat_count"),
        ("/v1/orders/bad%20id", None, 422, "bad_id"),
        ("/v1/stations", {"page": "2"}, 422, "invalid_request"),
        ("/v1/customers/-4", None, 422, "bad_id"),
        ("/v1/alternatives", {"origin": "B", "destination": "D", "seats": "1",
                              "around": "2026-06-01T12:00:00+00:00", "exclude_trip": "0"},
         422, "bad_id"),
        ("/v1/alternatives", {"origin": "B", "destination": "D", "seats": "1",
                              "around": "2026-06-01T12:00:00+00:00",
                              "exclude_trip": str(2**31)}, 422, "bad_id"),
    ]
    for path, params, status, code in cases:
        response = await api.client.get(path, params=params, headers=AUTH)
        assert await error_of(response) == (status, code), path
    response = await api.client.get("/v1/alternatives", headers=AUTH, params={
        "origin": "B", "destination": "D", "seats": "1", "around": "2026-06-01T12:00:00+00:00",
        "exclude_trip": "0"})
    assert (await response.json())["error"]["params"] == {
        "field": "exclude_trip", "low": 1, "high": 2**31 - 1}
    response = await api.client.get(
        "/v1/trips?origin=B&origin=C&destination=D&date=2026-06-01", headers=AUTH)
    assert await error_of(response) == (422, "invalid_request")


async def test_too_many_passengers_is_refused_with_the_real_limit(world, engine):
    """The schema's bound on a list is a safety net: the limit a refusal names is the
    service's own (KASSA_MAX_SEATS), whichever check caught the request."""
    network, booking, api = world
    limit = booking.limits().max_seats_per_order
    trip = network.trips[DAY]
    for count in (limit + 1, MAX_SEATS_ASKED + 1):
        names = [pax(i) for i in range(count)]
        response = await api.client.post("/v1/holds", json=hold_body(trip, passengers=names,
                                                                      seats=None), headers=AUTH)
        assert await error_of(response) == (422, "too_many_seats"), count
        assert (await response.json())["error"]["params"] == {"limit": limit}
        if count > MAX_SEATS_ASKED:  # a list of seats over the bound is refused alike
            response = await api.client.post(
                "/v1/holds", headers=AUTH,
                json=hold_body(trip, seats=[f"{i}A" for i in range(count)]))
            assert await error_of(response) == (422, "too_many_seats")
            assert (await response.json())["error"]["params"] == {"limit": limit}
        for path in ("/v1/nearest-days", "/v1/alternatives"):
            when = ({"date": DAY.isoformat()} if path == "/v1/nearest-days"
                    else {"around": "2026-06-01T12:00:00+00:00"})
            response = await api.client.get(path, headers=AUTH, params={
                "origin": "B", "destination": "D", "seats": str(count), **when})
            assert await error_of(response) == (422, "too_many_seats"), (path, count)
            assert (await response.json())["error"]["params"] == {"limit": limit}
    assert await orders_count(engine) == 0


async def test_a_name_too_long_is_refused_alike_by_the_schema_and_the_service(world, engine):
    network, _, api = world
    trip = network.trips[DAY]
    too_long = {"reason": "too_long", "limit": MAX_NAME_LENGTH}
    for name in ("A" * (MAX_NAME_LENGTH + 1), "A" * (4 * MAX_NAME_LENGTH + 1), "A" * 10_000):
        response = await api.client.post("/v1/holds", json=hold_body(trip, passengers=[name]),
                                         headers=AUTH)
        assert await error_of(response) == (422, "bad_passenger_name")
        assert (await response.json())["error"]["params"] == too_long
    response = await api.client.post(
        "/v1/holds", json=hold_body(trip, passengers=["A" * MAX_NAME_LENGTH]), headers=AUTH)
    assert response.status == 201
    # Long as given, short once normalised (decomposed Hangul, spaces around): taken.
    decomposed = unicodedata.normalize("NFD", "각" * 40)  # 3 letters each
    assert len(decomposed) > MAX_NAME_LENGTH
    response = await api.client.post(
        "/v1/holds", json=hold_body(trip, passengers=[f"  {decomposed}  "], seats=None),
        headers=AUTH)
    assert response.status == 201, await response.text()
    assert await orders_count(engine) == 2


# Every free text of every request, with a character no column may hold.
def _text_requests(trip: int, order: str, bad: str) -> list[tuple[str, str, dict, str]]:
    event = {"provider": "sandbox", "event_id": "e1", "type": "payment.failed",
             "order_id": order, "amount": 100, "currency": "EUR"}
    segment = {"origin": "B", "destination": "D"}
    return [
        ("POST", "/v1/holds", hold_body(trip, origin=f"B{bad}"), "origin"),
        ("POST", "/v1/holds", hold_body(trip, destination=f"D{bad}"), "destination"),
        ("POST", "/v1/holds", hold_body(trip, seats=[f"1{bad}"]), "seats"),
        ("POST", "/v1/holds", hold_body(trip, request_key=f"k{bad}"), "request_key"),
        ("POST", "/v1/payment-events", event | {"event_id": f"e{bad}"}, "event_id"),
        ("PUT", "/v1/customers/5", {"name": f"Anna{bad}", "language": "en"}, "name"),
        ("PUT", "/v1/customers/5", {"name": "Anna", "language": f"e{bad}"}, "language"),
        ("PUT", "/v1/customers/5/language", {"language": f"e{bad}"}, "language"),
        ("GET", "/v1/trips", {**segment, "origin": f"B{bad}", "date": DAY.isoformat()},
         "origin"),
        ("GET", f"/v1/trips/{trip}", {**segment, "destination": f"D{bad}"}, "destination"),
        ("GET", f"/v1/trips/{trip}/seats", {**segment, "origin": f"B{bad}"}, "origin"),
        ("GET", "/v1/nearest-days", {**segment, "origin": f"B{bad}", "date": DAY.isoformat(),
                                     "seats": "1"}, "origin"),
        ("GET", "/v1/alternatives", {**segment, "destination": f"D{bad}", "seats": "1",
                                     "around": "2026-06-01T12:00:00+00:00"}, "destination"),
        ("GET", f"/v1/stations/{quote(f'B{bad}', safe='')}/destinations", {}, "code"),
    ]


@pytest.mark.parametrize("bad", ["\u0000", "\u0007", "\u001b", "\u007f", "\u0085", "\n"],
                         ids=["NUL", "BEL", "ESC", "DEL", "NEL", "LF"])
async def test_no_free_text_may_hold_a_control_character(world, engine, bad):
    network, booking, api = world
    trip = network.trips[DAY]
    view = await booking.hold(9, trip, "A", "F", ["Bo Chen"], ["1A"])
    for method, path, data, field in _text_requests(trip, view.id, bad):
        if method == "GET":
            response = await api.client.get(path, params=data, headers=AUTH)
        else:
            response = await api.client.request(method, path, json=data, headers=AUTH)
        assert await error_of(response) == (422, "bad_text"), (path, field)
        assert (await response.json())["error"]["params"] == {
            "field": field, "problem": "character", "character": f"U+{ord(bad):04X}"}, path
    assert await orders_count(engine) == 1
    async with engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(t.payment_events))
                ).scalar_one() == 0
        assert (await conn.execute(select(func.count()).select_from(t.customers).where(
            t.customers.c.id == 5))).scalar_one() == 0


async def test_a_declined_event_with_an_event_id_no_column_holds_is_refused_in_process(
        world, engine):
    network, booking, _ = world
    view = await booking.hold(9, network.trips[DAY], "A", "F", ["Bo Chen"], ["1A"])
    for event_id in ("e\u0000", "e" * 256):
        with pytest.raises(BookingError) as refused:
            await booking.handle_event(ProviderEvent(
                "sandbox", event_id, PaymentEventType.FAILED, view.id, view.amount,
                view.currency))
        assert refused.value.code is ErrorCode.BAD_TEXT
        assert refused.value.params["field"] == "event_id"
    async with engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(t.payment_events))
                ).scalar_one() == 0


async def test_the_client_drops_what_the_api_refuses_of_a_channels_name(world, clock):
    """The bot's customers keep writing to it with a control character in their Telegram
    name or language: over HTTP as in-process, what no column holds is dropped."""
    _, _, api = world
    client = api.connect(clock)
    await client.open()
    try:
        anna = await client.ensure(5, "Anna\u0000\nLee", "e\u0000n")
        assert anna.name == "Anna Lee" and anna.language is None
        bo = await client.ensure(6, "Bo", "x" * 100)
        assert bo.language is None
    finally:
        await client.close()


# Extreme dates and times of every operation that takes one: never a 500.
EXTREME_TIMES = [f"{day}{offset}" for day in ("0001-01-01T00:00:00", "9999-12-31T23:59:59")
                 for offset in ("+00:00", "+14:00", "-12:00")]


@pytest.mark.parametrize("around", EXTREME_TIMES)
async def test_alternatives_around_an_extreme_time(world, around):
    network, _, api = world
    response = await api.client.get("/v1/alternatives", headers=AUTH, params={
        "origin": "B", "destination": "D", "around": around, "seats": "1"})
    if around.startswith("0001"):  # long past: the trips from now on
        assert response.status == 200
        assert (await response.json())[0]["trip_id"] == network.trips[DAY]
    else:
        assert await error_of(response) == (422, "date_too_far")


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31"])
async def test_searches_on_an_extreme_day(world, day):
    _, _, api = world
    response = await api.client.get("/v1/trips", headers=AUTH, params={
        "origin": "B", "destination": "D", "date": day})
    assert await error_of(response) == (422, "past_date" if day < "2026" else "date_too_far")
    response = await api.client.get("/v1/nearest-days", headers=AUTH, params={
        "origin": "B", "destination": "D", "date": day, "seats": "1"})
    assert response.status == 200 and await response.json() == {"days": []}


# ---- Idempotency-Key -----------------------------------------------------------------------

async def test_the_same_key_and_body_replays_the_first_answer(world, engine):
    network, _, api = world
    body = hold_body(network.trips[DAY], seats=None)
    headers = {**AUTH, "Idempotency-Key": "k-1"}
    first = await api.client.post("/v1/holds", json=body, headers=headers)
    again = await api.client.post("/v1/holds", data=json.dumps(body, indent=2),
                                  headers=headers)  # the same JSON, spaced otherwise
    assert first.status == again.status == 201
    assert await first.json() == await again.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert await orders_count(engine) == 1
    # Without the key it is a new request.
    assert (await api.client.post("/v1/holds", json=body, headers=AUTH)).status == 201
    assert await orders_count(engine) == 2


async def test_the_same_key_with_another_body_is_422_and_changes_nothing(world, engine):
    network, _, api = world
    trip = network.trips[DAY]
    headers = {**AUTH, "Idempotency-Key": "k-2"}
    assert (await api.client.post("/v1/holds", json=hold_body(trip),
                                  headers=headers)).status == 201
    response = await api.client.post("/v1/holds", json=hold_body(trip, seats=["2A"]),
                                     headers=headers)
    assert await error_of(response) == (422, "request_key_reused")
    response = await api.client.post("/v1/orders/x/cancel", json={"customer_id": 1},
                                     headers=headers)  # another path too
    assert await error_of(response) == (422, "request_key_reused")
    assert await orders_count(engine) == 1


async def test_a_refusal_is_replayed_too_and_a_bad_key_is_400(world, engine):
    network, booking, api = world
    trip = network.trips[DAY]
    await booking.hold(9, trip, "A", "F", ["Bo Chen"], ["1A"])
    headers = {**AUTH, "Idempotency-Key": "k-3"}
    first = await api.client.post("/v1/holds", json=hold_body(trip), headers=headers)
    assert await error_of(first) == (409, "seat_taken")
    again = await api.client.post("/v1/holds", json=hold_body(trip), headers=headers)
    assert await error_of(again) == (409, "seat_taken")
    assert again.headers["Idempotent-Replayed"] == "true"
    for key in ("", "with space", "ключ", "k" * 256):
        response = await api.client.post("/v1/holds", json=hold_body(trip, seats=["3A"]),
                                         headers={**AUTH, "Idempotency-Key": key})
        assert await error_of(response) == (400, "bad_idempotency_key"), key
    assert await orders_count(engine) == 1


# ---- the client ----------------------------------------------------------------------------

async def test_the_client_answers_as_the_in_process_service(world, clock):
    network, booking, api = world
    trip = network.trips[DAY]
    client = api.connect(clock)
    await client.open()
    try:
        assert client.limits() == booking.limits()
        assert await client.stations() == await booking.stations()
        assert await client.search("B", "D", DAY) == await booking.search("B", "D", DAY)
        option = await client.trip_option(trip, "B", "D")
        assert option.departure.tzinfo == (await booking.trip_option(trip, "B", "D")
                                           ).departure.tzinfo
        assert await client.seat_map(trip, "B", "D") == await booking.seat_map(trip, "B", "D")
        view = await client.hold(1, trip, "B", "D", ["Anna Lee"], ["1A"], request_key="r1")
        assert view == await booking.order(view.id, 1)
        assert view.departure.tzinfo == view.origin.tz
        assert await client.hold(1, trip, "B", "D", ["Anna Lee"], ["1A"],
                                 request_key="r1") == view
        with pytest.raises(BookingError) as refused:
            await client.hold(2, trip, "B", "D", ["Bo Chen"], ["1A"])
        assert refused.value.code is ErrorCode.SEAT_TAKEN
        assert refused.value.params == {"seats": ["1A"]}
        with pytest.raises(BookingError) as refused:
            await client.order("NOSUCH")
        assert refused.value.code is ErrorCode.UNKNOWN_ORDER
        quote = await client.cancellation_quote(view.id, 1)
        assert quote == await booking.cancellation_quote(view.id, 1)
        checkout = await client.start_payment(view.id, 1)
        assert checkout.provider == "sandbox" or checkout.url or checkout.invoice
        cancelled = await client.cancel(view.id, 1)
        assert cancelled.status is OrderStatus.CANCELLED
        assert await client.orders_of(1) == await booking.orders_of(1)
        assert await client.customer(5) is None
        anna = await client.ensure(5, "Anna", "ru")
        assert anna.id == 5 and anna.language == "ru" and anna.role is Role.PASSENGER
        assert (await client.set_language(5, "zh")).language == "zh"
        await client.set_blocked(5, True)
        assert (await client.customer(5)).blocked is True
        assert await client.role(77) is Role.STAFF
        assert (await client.check_in("not-a-ticket", 77)).outcome is CheckInOutcome.FORGED
    finally:
        await client.close()


async def test_the_client_says_busy_when_the_service_is_away_or_refuses_its_token(world, clock):
    _, _, api = world
    from booking.http_client import HttpBookingClient

    wrong = HttpBookingClient(api.url, "not-the-token", clock=clock)
    with pytest.raises(BookingError) as refused:
        await wrong.open()
    assert refused.value.code is ErrorCode.BUSY
    await wrong.close()
    away = HttpBookingClient("http://127.0.0.1:9", "x", clock=clock, timeout_s=2)
    with pytest.raises(BookingError) as refused:
        await away.open()
    assert refused.value.code is ErrorCode.BUSY
    await away.close()


# ---- the key store and the command -----------------------------------------------------------

async def test_the_key_store_reserves_replays_takes_over_and_forgets(engine, clock):
    store = SqlIdempotencyStore(engine)
    now = clock()
    assert await store.reserve("k", "fp-1", now) is None
    # Asked again while the first is being answered: in progress, nothing to replay yet.
    assert await store.reserve("k", "fp-1", now) == StoredAnswer("fp-1", None, None)
    await store.complete("k", 201, '{"id": "X"}', now)
    assert await store.reserve("k", "fp-1", now) == StoredAnswer("fp-1", 201, '{"id": "X"}')
    assert await store.reserve("k", "fp-2", now) == StoredAnswer("fp-1", 201, '{"id": "X"}')
    # A request whose process died keeps its key only so long.
    assert await store.reserve("dead", "fp-3", now) is None
    assert await store.reserve("dead", "fp-4", now + ABANDONED_AFTER / 2) is not None
    assert await store.reserve("dead", "fp-4", now + ABANDONED_AFTER) is None
    # A failure without an answer gives the key up; an answered key is not released.
    await store.release("dead")
    assert await store.reserve("dead", "fp-5", now + ABANDONED_AFTER) is None
    await store.release("k")
    assert (await store.reserve("k", "fp-1", now)).status == 201
    assert await store.purge(now + ABANDONED_AFTER / 2) == 1  # "k"; "dead" is newer
    assert await store.reserve("k", "fp-9", now) is None


async def test_a_request_answered_meanwhile_is_409_in_progress(world, engine, clock):
    network, _, api = world
    body = hold_body(network.trips[DAY])
    fingerprint_of = fingerprint("POST", "/v1/holds", "", json.dumps(body).encode())
    assert await SqlIdempotencyStore(engine).reserve("busy-key", fingerprint_of, clock()) is None
    response = await api.client.post("/v1/holds", json=body,
                                     headers={**AUTH, "Idempotency-Key": "busy-key"})
    assert await error_of(response) == (409, "request_in_progress")
    assert await orders_count(engine) == 0


def test_booking_api_needs_its_token(tmp_path):
    env = {name: value for name, value in os.environ.items() if not name.startswith("KASSA_")}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent)
    finished = subprocess.run(
        [sys.executable, "-c", "import sys; from bot.cli import main; sys.exit(main())",
         "booking-api", "--port", "0"], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=60)
    assert finished.returncode == 2
    assert finished.stderr.strip().splitlines() == [
        "kassa booking-api: KASSA_BOOKING_API_TOKEN is not set (any long random text; the bot "
        "is given the same)"]
    # A token someone chose ("secret") is refused as well: anyone could guess it.
    short = subprocess.run(
        [sys.executable, "-c", "import sys; from bot.cli import main; sys.exit(main())",
         "booking-api", "--port", "0"], cwd=tmp_path,
        env={**env, "KASSA_BOOKING_API_TOKEN": "secret"}, capture_output=True, text=True,
        timeout=60)
    assert short.returncode == 2
    assert short.stderr.strip().splitlines() == [
        "kassa booking-api: KASSA_BOOKING_API_TOKEN is too short: use at least 16 random "
        "characters (openssl rand -hex 32 makes one)"]


def test_kassa_run_names_a_booking_api_setting_that_is_missing_or_wrong():
    from booking.tickets.codes import generate_signing_key
    from bot.polling import SettingsProblem, check_settings

    ready = Settings(_env_file=None, telegram_token="123:abc", secret_key="s" * 32,
                     payment_webhook_secret="w" * 32, ticket_signing_key=generate_signing_key())
    with pytest.raises(SettingsProblem, match="KASSA_BOOKING_API_TOKEN is not set"):
        check_settings(ready.model_copy(update={"booking_api_url": "http://127.0.0.1:8081"}))
    with pytest.raises(SettingsProblem, match="KASSA_BOOKING_API_URL must start with http"):
        check_settings(ready.model_copy(update={"booking_api_url": "127.0.0.1:8081",
                                                "booking_api_token": SecretStr("t" * 16)}))
    with pytest.raises(SettingsProblem, match="KASSA_BOOKING_API_TOKEN is too short"):
        check_settings(ready.model_copy(update={"booking_api_url": "http://127.0.0.1:8081",
                                                "booking_api_token": SecretStr("t")}))
    with pytest.raises(SettingsProblem, match="KASSA_SECRET_KEY is too short"):
        check_settings(ready.model_copy(update={"secret_key": SecretStr("hunter2")}))
    check_settings(ready.model_copy(update={"booking_api_url": "http://127.0.0.1:8081",
                                            "booking_api_token": SecretStr("t" * 16)}))


async def test_hold_only_cancels_a_hold_and_refuses_a_paid_order(world):
    network, booking, api = world
    held = await booking.hold(1, network.trips[DAY], "B", "D", ["Anna Lee"], ["1A"])
    paid = await booking.hold(1, network.trips[DAY], "B", "D", ["Bo Chen"], ["1B"])
    await booking.start_payment(paid.id, 1)
    await booking.handle_event(ProviderEvent("sandbox", "evt-1", PaymentEventType.SUCCEEDED,
                                             paid.id, paid.amount, paid.currency))
    response = await api.client.post(f"/v1/orders/{paid.id}/cancel", headers=AUTH,
                                     json={"customer_id": 1, "hold_only": True})
    assert await error_of(response) == (409, "order_not_held")
    assert (await booking.order(paid.id, 1)).status.value == "paid"
    response = await api.client.post(f"/v1/orders/{held.id}/cancel", headers=AUTH,
                                     json={"customer_id": 1, "hold_only": True})
    assert response.status == 200 and (await response.json())["status"] == "cancelled"


async def test_a_hold_cancelled_with_its_quoted_refund_of_nothing_is_released(world):
    # A channel that sends back whatever the quote said: a hold's quote is a release with
    # a refund of 0, and that is what cancelling it does.
    network, booking, api = world
    held = await booking.hold(1, network.trips[DAY], "B", "D", ["Anna Lee"], ["1A"])
    quote = await api.client.get(f"/v1/orders/{held.id}/cancellation?customer_id=1",
                                 headers=AUTH)
    assert (await quote.json())["kind"] == "release" and (await quote.json())["refund"] == 0
    response = await api.client.post(f"/v1/orders/{held.id}/cancel", headers=AUTH,
                                     json={"customer_id": 1, "expect_refund": 5})
    assert await error_of(response) == (409, "cancellation_changed")
    response = await api.client.post(f"/v1/orders/{held.id}/cancel", headers=AUTH,
                                     json={"customer_id": 1, "expect_refund": 0})
    assert response.status == 200 and (await response.json())["status"] == "cancelled"


async def test_a_station_the_trip_does_not_call_at_is_not_called_unknown(world, engine):
    network, _, api = world
    async with engine.begin() as conn:
        await conn.execute(t.stations.insert().values(
            code="Z", names={"en": "Station Z"}, timezone="Europe/Berlin", popularity=0))
    trip = network.trips[DAY]
    response = await api.client.post("/v1/holds", headers=AUTH,
                                     json=hold_body(trip, destination="Z"))
    assert await error_of(response) == (422, "not_on_route")
    assert (await response.json())["error"]["params"] == {"station": "Z"}
    response = await api.client.get(f"/v1/trips/{trip}/seats", headers=AUTH,
                                    params={"origin": "Z", "destination": "D"})
    assert await error_of(response) == (422, "not_on_route")
    # One Kassa has never heard of is still unknown.
    response = await api.client.post("/v1/holds", headers=AUTH,
                                     json=hold_body(trip, destination="NOWHERE"))
    assert await error_of(response) == (404, "unknown_station")
    assert await orders_count(engine) == 0


async def test_a_ticket_scanned_days_before_its_trip_is_not_used_up(world):
    # A scan at the wrong coach days ahead would use the ticket up, and its booking could
    # no longer be cancelled: it is refused, marking nothing, until the day before.
    network, booking, api = world
    later = date(2026, 6, 3)  # the clock reads the morning of 1 June
    order = await booking.hold(1, network.trips[later], "B", "D", ["Anna Lee"], ["1A"])
    await booking.start_payment(order.id, 1)
    await booking.handle_event(ProviderEvent("sandbox", "evt-e", PaymentEventType.SUCCEEDED,
                                             order.id, order.amount, order.currency))
    [ticket] = await booking.tickets(order.id, 1)
    response = await api.client.post("/v1/check-ins", headers=AUTH, json={"code": ticket.code})
    answer = await response.json()
    assert answer["outcome"] == "too_early" and answer["ticket"]["status"] == "valid"
    assert (await booking.order(order.id, 1)).cancellable
    tomorrow = await booking.hold(1, network.trips[date(2026, 6, 2)], "B", "D", ["Bo Chen"],
                                  ["1A"])
    await booking.start_payment(tomorrow.id, 1)
    await booking.handle_event(ProviderEvent("sandbox", "evt-t", PaymentEventType.SUCCEEDED,
                                             tomorrow.id, tomorrow.amount, tomorrow.currency))
    [ticket] = await booking.tickets(tomorrow.id, 1)
    response = await api.client.post("/v1/check-ins", headers=AUTH, json={"code": ticket.code})
    assert (await response.json())["outcome"] == "checked_in"  # the day before: open


async def test_a_check_in_answers_the_code_as_printed_and_refuses_control_characters(world):
    network, booking, api = world
    order = await booking.hold(1, network.trips[DAY], "B", "D", ["Anna Lee"], ["1A"])
    await booking.start_payment(order.id, 1)
    await booking.handle_event(ProviderEvent("sandbox", "evt-c", PaymentEventType.SUCCEEDED,
                                             order.id, order.amount, order.currency))
    [ticket] = await booking.tickets(order.id, 1)
    response = await api.client.post("/v1/check-ins", headers=AUTH,
                                     json={"code": f"  {ticket.code.lower()} "})
    answer = await response.json()
    assert answer["outcome"] == "checked_in" and answer["ticket"]["code"] == ticket.code
    response = await api.client.post("/v1/check-ins", headers=AUTH, json={"code": "K1.\u0000"})
    assert await error_of(response) == (422, "bad_text")


async def test_a_hold_whose_trip_has_left_cannot_be_paid(world, clock):
    # A hold made minutes before departure ends when the coach leaves the passenger's stop,
    # not its minutes later: no checkout for a coach gone.
    _, booking, api = world
    [option] = await booking.search("B", "D", DAY)
    clock.now = option.departure - timedelta(minutes=5)
    order = await booking.hold(1, option.trip_id, "B", "D", ["Anna Lee"], ["1A"])
    assert order.expires_at == option.departure
    clock.now = option.departure + timedelta(minutes=1)  # the coach has left B
    response = await api.client.post(f"/v1/orders/{order.id}/payment", headers=AUTH,
                                     json={"customer_id": 1})
    assert await error_of(response) == (409, "hold_expired")
    response = await api.client.post(f"/v1/orders/{order.id}/checkout-check", headers=AUTH,
                                     json={"amount": order.amount, "currency": order.currency})
    assert await error_of(response) == (409, "hold_expired")


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
async def test_a_compressed_body_is_415_and_nothing_breaks(world, engine, encoding):
    network, _, api = world
    body = json.dumps(hold_body(network.trips[DAY])).encode()
    buffer = io.StringIO()
    level = logging.getLogger().level
    handler = configure("json", stream=buffer)
    try:
        response = await api.client.post("/v1/holds", data=b"not " + body, headers={
            **AUTH, "Content-Type": "application/json", "Content-Encoding": encoding})
        assert await error_of(response) == (415, "unsupported_encoding")
        await asyncio.sleep(0.1)  # aiohttp's reading of the rest of the body, if any
    finally:
        remove(handler)
        logging.getLogger().setLevel(level)
    assert await orders_count(engine) == 0
    # No error, no traceback: a client's mistake is at most a warning line.
    lines = [json.loads(line) for line in buffer.getvalue().splitlines()]
    assert all(line["level"] in ("info", "warning") and "exception" not in line
               for line in lines), lines
