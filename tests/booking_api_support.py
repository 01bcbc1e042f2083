"""The booking HTTP API served in the test process on loopback, and its client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncEngine

from booking.api import BookingApi, CustomersApi
from booking.http_api import make_booking_api
from booking.http_client import HttpBookingClient
from storage.idempotency import SqlIdempotencyStore

TOKEN = "test-token-7d1f-booking"


@dataclass
class ServedApi:
    client: TestClient  # raw HTTP, with the token in AUTH
    url: str

    def connect(self, clock) -> HttpBookingClient:
        return HttpBookingClient(self.url, TOKEN, clock=clock)


AUTH = {"Authorization": f"Bearer {TOKEN}"}


@asynccontextmanager
async def served_api(engine: AsyncEngine, booking: BookingApi, customers: CustomersApi
                     ) -> AsyncIterator[ServedApi]:
    """The API on ``booking`` and ``customers``, listening on 127.0.0.1."""
    app = make_booking_api(booking, customers, token=TOKEN,
                           idempotency=SqlIdempotencyStore(engine))
    server = TestServer(app, host="127.0.0.1")
    async with TestClient(server) as client:
        yield ServedApi(client, str(server.make_url("")).rstrip("/"))
