"""What every use case module shares: units of work, the rules, the clock, bounded retries."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TypeVar

from booking.clock import Clock, system_clock
from booking.errors import BookingError, ErrorCode
from booking.model import Order, Route, Station, Trip
from booking.ports import DuplicateKey, LockTimeout, UnitOfWork, UnitOfWorkFactory
from booking.settings import BookingRules

T = TypeVar("T")


class UseCases:
    """A group of use cases on one database, with the operator's rules and a clock."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        *,
        rules: BookingRules | None = None,
        clock: Clock = system_clock,
    ) -> None:
        self._uow = uow
        self.rules = rules or BookingRules()
        self._clock = clock

    def now(self) -> datetime:
        return self._clock()

    async def _retrying(self, attempt: Callable[[], Awaitable[T]]) -> T:
        """Run a writing transaction, retrying a few times when a lock wait times out, or
        when a concurrent one committed the same idempotency key first (the retry reads
        what it committed)."""
        for tries in range(self.rules.lock_retries + 1):
            try:
                return await attempt()
            except DuplicateKey:
                if tries == self.rules.lock_retries:
                    break
            except LockTimeout:
                if tries == self.rules.lock_retries:
                    break
                await asyncio.sleep(random.uniform(0.005, 0.03) * (tries + 1))
        raise BookingError(ErrorCode.BUSY)


async def station_of(uow: UnitOfWork, code: str) -> Station:
    station: Station | None = await uow.catalog.station(code)
    if station is None:
        raise BookingError(ErrorCode.UNKNOWN_STATION, station=code)
    return station


async def segment_on(uow: UnitOfWork, route: Route, origin: str, destination: str
                     ) -> tuple[int, int]:
    """``route.segment``, with a station Kassa knows but the route does not call at told
    apart from one it does not know (looked up only then: the hold's path reads nothing
    more)."""
    try:
        return route.segment(origin, destination)
    except BookingError as refusal:
        code = refusal.params.get("station")
        if (refusal.code is ErrorCode.UNKNOWN_STATION and isinstance(code, str)
                and await uow.catalog.station(code) is not None):
            raise BookingError(ErrorCode.NOT_ON_ROUTE, station=code) from None
        raise


async def trip_of(uow: UnitOfWork, order: Order, *, lock: bool = False) -> Trip:
    """The order's trip, which the foreign key guarantees."""
    trip = await uow.catalog.trip(order.trip_id, lock=lock)
    if trip is None:
        raise RuntimeError(f"order {order.id} refers to a missing trip {order.trip_id}")
    return trip
