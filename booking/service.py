"""The booking use cases: search, seat maps, holds, payments, cancellations, expiry.

Each use case reads as a short story: open a unit of work, load, let the domain decide,
commit, return plain values. Seats are checked inside the transaction that writes them,
with the trip's row locked, every time: we can never overbook a seat.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import TypeVar

from booking.errors import BookingError, ErrorCode
from booking.model import (
    Order,
    OrderStatus,
    Route,
    SeatAllocation,
    Station,
    Trip,
    TripStatus,
    local_day_bounds,
)
from booking.ports import (
    AuditEvent,
    LockTimeout,
    PaymentRecord,
    Segment,
    UnitOfWork,
    UnitOfWorkFactory,
)
from booking.settings import BookingRules
from booking.views import (
    ConfirmOutcome,
    ConfirmResult,
    OrderView,
    SeatCell,
    SeatMap,
    TripOption,
)

T = TypeVar("T")
Clock = Callable[[], datetime]
MAX_NAME_LENGTH = 100


def system_clock() -> datetime:
    return datetime.now(UTC)


def passenger_name(raw: str) -> str:
    """The name as it will be printed on the ticket; refuses what cannot be a name."""
    name = " ".join(str(raw).split())
    if not name or len(name) > MAX_NAME_LENGTH or not any(ch.isalpha() for ch in name):
        raise BookingError(ErrorCode.BAD_PASSENGER_NAME, name=str(raw)[:MAX_NAME_LENGTH])
    return name


class BookingService:
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

    # ---- catalogue -------------------------------------------------------------------

    async def stations(self) -> list[Station]:
        """Every station, the busiest first."""
        async with self._uow() as uow:
            return await uow.catalog.stations()

    async def destinations(self, origin: str) -> list[Station]:
        """Stations some route reaches after calling at ``origin``."""
        async with self._uow() as uow:
            await self._station(uow, origin)
            codes = await uow.catalog.destinations_from(origin)
            return [s for s in await uow.catalog.stations() if s.code in codes]

    async def _station(self, uow: UnitOfWork, code: str) -> Station:
        station: Station | None = await uow.catalog.station(code)
        if station is None:
            raise BookingError(ErrorCode.UNKNOWN_STATION, station=code)
        return station

    # ---- search ----------------------------------------------------------------------

    async def search(self, origin: str, destination: str, day: date) -> list[TripOption]:
        """Trips calling at origin, then destination, leaving origin on ``day`` (local time)."""
        if origin == destination:
            raise BookingError(ErrorCode.SAME_STATION)
        now = self.now()
        async with self._uow() as uow:
            start_station = await self._station(uow, origin)
            end_station = await self._station(uow, destination)
            today = now.astimezone(start_station.tz).date()
            if day < today:
                raise BookingError(ErrorCode.PAST_DATE, date=day.isoformat())
            if day > today + timedelta(days=self.rules.booking_horizon_days):
                raise BookingError(ErrorCode.DATE_TOO_FAR, date=day.isoformat())
            route_ids = await uow.catalog.routes_serving(origin, destination)
            if not route_ids:
                if await uow.catalog.routes_serving(destination, origin):
                    raise BookingError(ErrorCode.WRONG_DIRECTION)
                return []
            day_start, day_end = local_day_bounds(day, start_station.tz)
            segments: dict[int, tuple[int, int]] = {}
            latest_offset = 0
            routes = await uow.catalog.routes(route_ids)
            for route_id, route in routes.items():
                segments[route_id] = route.segment(origin, destination)
                latest_offset = max(latest_offset, route.stop(segments[route_id][0]).depart_offset)
            candidates = await uow.catalog.trips_departing(
                route_ids, day_start - timedelta(minutes=latest_offset), day_end
            )
            found: list[tuple[Trip, Route, datetime]] = []
            for trip in candidates:
                route = routes[trip.route_id]
                leaves = trip.departs_at(route, segments[trip.route_id][0])
                bookable = trip.status is not TripStatus.CANCELLED and leaves > now
                if bookable and day_start <= leaves < day_end:
                    found.append((trip, route, leaves))
            taken = await uow.inventory.taken_counts(
                [Segment(trip.id, *segments[trip.route_id]) for trip, _, _ in found], now
            )
            options = []
            for trip, route, leaves in found:
                from_seq, to_seq = segments[trip.route_id]
                layout = await uow.catalog.layout(trip.layout_id)
                options.append(
                    TripOption(
                        trip_id=trip.id,
                        route_name=route.name,
                        origin=start_station,
                        destination=end_station,
                        from_seq=from_seq,
                        to_seq=to_seq,
                        departure=leaves.astimezone(start_station.tz),
                        arrival=trip.arrives_at(route, to_seq).astimezone(end_station.tz),
                        price=route.price(from_seq, to_seq),
                        currency=route.currency,
                        seats_free=max(0, layout.capacity - taken.get(trip.id, 0)),
                        capacity=layout.capacity,
                        status=trip.status,
                        delay_minutes=trip.delay_minutes,
                    )
                )
        options.sort(key=lambda o: (o.departure, o.trip_id))
        return options

    async def seat_map(self, trip_id: int, origin: str, destination: str) -> SeatMap:
        """Which seats of the trip are free for the stop interval origin -> destination."""
        async with self._uow() as uow:
            trip = await uow.catalog.trip(trip_id)
            if trip is None:
                raise BookingError(ErrorCode.UNKNOWN_TRIP)
            route = await uow.catalog.route(trip.route_id)
            from_seq, to_seq = route.segment(origin, destination)
            layout = await uow.catalog.layout(trip.layout_id)
            taken = await uow.inventory.taken_seats(Segment(trip.id, from_seq, to_seq), self.now())
        rows = [
            [None if label is None else SeatCell(label, label not in taken) for label in row]
            for row in layout.grid()
        ]
        return SeatMap(trip.id, from_seq, to_seq, layout.seat_class, rows)

    # ---- holds -----------------------------------------------------------------------

    async def hold(
        self,
        customer_id: int,
        trip_id: int,
        origin: str,
        destination: str,
        passengers: Sequence[str],
        seats: Sequence[str] | None = None,
        *,
        request_key: str | None = None,
    ) -> Order:
        """Hold seats for every passenger, all or nothing, until the hold expires.

        ``seats`` names the seats (one per passenger, in order); without it seats are
        chosen side by side where possible. The same ``request_key`` twice returns the
        order made the first time, so a repeated button press never books twice.
        """
        names = [passenger_name(p) for p in passengers]
        if not names:
            raise BookingError(ErrorCode.BAD_SEAT_COUNT)
        if len(names) > self.rules.max_seats_per_order:
            raise BookingError(ErrorCode.TOO_MANY_SEATS, limit=self.rules.max_seats_per_order)
        wanted = list(seats) if seats is not None else None
        if wanted is not None:
            if len(wanted) != len(names):
                raise BookingError(ErrorCode.PASSENGERS_MISMATCH)
            if len(set(wanted)) != len(wanted):
                raise BookingError(ErrorCode.DUPLICATE_SEAT)

        async def attempt() -> Order:
            return await self._hold_once(
                customer_id, trip_id, origin, destination, names, wanted, request_key
            )

        return await self._retrying(attempt)

    async def _hold_once(
        self,
        customer_id: int,
        trip_id: int,
        origin: str,
        destination: str,
        names: list[str],
        wanted: list[str] | None,
        request_key: str | None,
    ) -> Order:
        async with self._uow(write=True) as uow:
            trip = await uow.catalog.trip(trip_id, lock=self.rules.lock_inventory)
            if trip is None:
                raise BookingError(ErrorCode.UNKNOWN_TRIP)
            if request_key is not None:
                earlier = await uow.orders.by_request_key(customer_id, request_key)
                if earlier is not None:
                    return earlier
            route = await uow.catalog.route(trip.route_id)
            from_seq, to_seq = route.segment(origin, destination)
            now = self.now()
            trip.check_bookable(route, from_seq, now)
            layout = await uow.catalog.layout(trip.layout_id)
            taken = await uow.inventory.taken_seats(Segment(trip.id, from_seq, to_seq), now)
            if wanted is not None:
                unknown = [s for s in wanted if s not in layout.label_set]
                if unknown:
                    raise BookingError(ErrorCode.UNKNOWN_SEAT, seats=unknown)
                clash = [s for s in wanted if s in taken]
                if clash:
                    raise BookingError(ErrorCode.SEAT_TAKEN, seats=clash)
                chosen = wanted
            else:
                free = layout.label_set - taken
                picked = layout.choose(free, len(names))
                if picked is None:
                    raise BookingError(ErrorCode.NOT_ENOUGH_SEATS, free=len(free))
                chosen = picked
            order = Order(
                id=uuid.uuid4().hex,
                customer_id=customer_id,
                trip_id=trip.id,
                from_seq=from_seq,
                to_seq=to_seq,
                status=OrderStatus.HELD,
                amount=route.price(from_seq, to_seq) * len(names),
                currency=route.currency,
                seats=tuple(SeatAllocation(s, n) for s, n in zip(chosen, names, strict=True)),
                created_at=now,
                expires_at=now + timedelta(minutes=self.rules.hold_minutes),
                request_key=request_key,
            )
            await uow.orders.add(
                order,
                AuditEvent(order.id, now, None, OrderStatus.HELD, f"customer:{customer_id}",
                           {"seats": chosen, "amount": order.amount}),
            )
            await uow.commit()
            return order

    # ---- payments --------------------------------------------------------------------

    async def confirm_payment(
        self, order_id: str, reference: str, amount: int, currency: str, provider: str = "sandbox"
    ) -> ConfirmResult:
        """Record a payment for an order; the same reference twice changes nothing.

        A payment after the hold expired still buys the seats if nobody took them in the
        meantime; otherwise (or if it does not match the order) it is recorded as
        needing a refund. A payment is never lost and a seat is never sold twice.
        """

        async def attempt() -> ConfirmResult:
            return await self._confirm_once(order_id, reference, amount, currency, provider)

        return await self._retrying(attempt)

    async def _confirm_once(
        self, order_id: str, reference: str, amount: int, currency: str, provider: str
    ) -> ConfirmResult:
        async with self._uow(write=True) as uow:
            known = await uow.orders.get(order_id)
            if known is None:
                raise BookingError(ErrorCode.UNKNOWN_ORDER)
            # Same lock as holds: a late payment may claim seats back.
            trip = await uow.catalog.trip(known.trip_id, lock=self.rules.lock_inventory)
            if trip is None:
                raise RuntimeError(f"order {order_id} refers to a missing trip {known.trip_id}")
            # Read again under the lock: the status may have changed while we waited.
            order = await uow.orders.get(order_id, lock=True)
            if order is None:
                raise BookingError(ErrorCode.UNKNOWN_ORDER)
            earlier = await uow.payments.find(provider, reference)
            if earlier is not None:
                if earlier.order_id != order_id:
                    raise BookingError(ErrorCode.UNKNOWN_ORDER)
                outcome = (
                    ConfirmOutcome.PAID if earlier.status == "succeeded"
                    else ConfirmOutcome.REFUND_NEEDED
                )
                return ConfirmResult(outcome, order, duplicate=True)
            now = self.now()
            reason = await self._refund_reason(uow, order, trip, amount, currency, now)
            payment = PaymentRecord(
                order_id, provider, reference, amount, currency,
                "refund_needed" if reason else "succeeded", now,
            )
            await uow.payments.add(payment)
            actor = f"payment:{provider}"
            if reason is None:
                order = await uow.orders.change_status(
                    order,
                    OrderStatus.PAID,
                    AuditEvent(order.id, now, order.status, OrderStatus.PAID, actor,
                               {"reference": reference, "amount": amount}),
                    seats_live=True,
                    payment_reference=reference,
                )
                await uow.commit()
                return ConfirmResult(ConfirmOutcome.PAID, order)
            if order.status is OrderStatus.HELD and not order.hold_live(now):
                order = await uow.orders.change_status(
                    order,
                    OrderStatus.EXPIRED,
                    AuditEvent(order.id, now, order.status, OrderStatus.EXPIRED, actor,
                               {"reference": reference, "reason": reason}),
                    seats_live=False,
                )
            await uow.commit()
            return ConfirmResult(ConfirmOutcome.REFUND_NEEDED, order, reason=reason)

    async def _refund_reason(
        self, uow: UnitOfWork, order: Order, trip: Trip, amount: int, currency: str, now: datetime
    ) -> str | None:
        """Why this payment cannot buy the order's seats, or None if it can."""
        if amount != order.amount or currency != order.currency:
            return ErrorCode.AMOUNT_MISMATCH.value
        if order.status is OrderStatus.PAID:
            return "already_paid"
        if order.status not in (OrderStatus.HELD, OrderStatus.EXPIRED):
            return "order_closed"
        if order.hold_live(now):
            return None
        if trip.status is TripStatus.CANCELLED:
            return ErrorCode.TRIP_CANCELLED.value
        route = await uow.catalog.route(trip.route_id)
        if trip.departs_at(route, order.from_seq) <= now:
            return ErrorCode.TRIP_DEPARTED.value
        taken = await uow.inventory.taken_seats(
            Segment(trip.id, order.from_seq, order.to_seq), now, exclude_order=order.id
        )
        if any(s.seat in taken for s in order.seats):
            return ErrorCode.SEAT_TAKEN.value
        return None

    # ---- orders ----------------------------------------------------------------------

    async def order(self, order_id: str, customer_id: int | None = None) -> OrderView:
        """One order, checked to belong to ``customer_id`` when given."""
        async with self._uow() as uow:
            order = await uow.orders.get(order_id)
            if order is None:
                raise BookingError(ErrorCode.UNKNOWN_ORDER)
            if customer_id is not None and order.customer_id != customer_id:
                raise BookingError(ErrorCode.NOT_YOUR_ORDER)
            return (await self._views(uow, [order]))[0]

    async def orders_of(self, customer_id: int) -> list[OrderView]:
        """A customer's orders, the soonest departure first."""
        async with self._uow() as uow:
            views = await self._views(uow, await uow.orders.for_customer(customer_id))
        return sorted(views, key=lambda v: v.departure)

    @staticmethod
    async def _trip_of(uow: UnitOfWork, order: Order) -> Trip:
        """The order's trip, which the foreign key guarantees."""
        trip = await uow.catalog.trip(order.trip_id)
        if trip is None:
            raise RuntimeError(f"order {order.id} refers to a missing trip {order.trip_id}")
        return trip

    async def _views(self, uow: UnitOfWork, orders: Sequence[Order]) -> list[OrderView]:
        views = []
        for order in orders:
            trip = await self._trip_of(uow, order)
            route = await uow.catalog.route(trip.route_id)
            origin = await self._station(uow, route.stop(order.from_seq).station_code)
            destination = await self._station(uow, route.stop(order.to_seq).station_code)
            views.append(
                OrderView(
                    order=order,
                    route_name=route.name,
                    origin=origin,
                    destination=destination,
                    departure=trip.departs_at(route, order.from_seq).astimezone(origin.tz),
                    arrival=trip.arrives_at(route, order.to_seq).astimezone(destination.tz),
                    trip_status=trip.status,
                    delay_minutes=trip.delay_minutes,
                )
            )
        return views

    async def refund_quote(self, order_id: str, customer_id: int) -> int:
        """What cancelling the order now would refund, changing nothing."""
        async with self._uow() as uow:
            order, departure, trip_cancelled = await self._cancellable(uow, order_id, customer_id)
            return self._refund(order, departure, trip_cancelled)

    def _refund(self, order: Order, departure: datetime, trip_cancelled: bool) -> int:
        if order.status is not OrderStatus.PAID:
            return 0
        if trip_cancelled:
            return order.amount
        return self.rules.refund_policy.refund(order.amount, departure, self.now())

    async def _cancellable(
        self, uow: UnitOfWork, order_id: str, customer_id: int | None, *, lock: bool = False
    ) -> tuple[Order, datetime, bool]:
        order: Order | None = await uow.orders.get(order_id, lock=lock)
        if order is None:
            raise BookingError(ErrorCode.UNKNOWN_ORDER)
        if customer_id is not None and order.customer_id != customer_id:
            raise BookingError(ErrorCode.NOT_YOUR_ORDER)
        now = self.now()
        if order.status is OrderStatus.HELD and not order.hold_live(now):
            raise BookingError(ErrorCode.HOLD_EXPIRED)
        if order.status not in (OrderStatus.HELD, OrderStatus.PAID):
            raise BookingError(ErrorCode.NOT_CANCELLABLE, status=order.status.value)
        trip = await self._trip_of(uow, order)
        route = await uow.catalog.route(trip.route_id)
        departure = trip.departs_at(route, order.from_seq)
        if order.status is OrderStatus.PAID and departure <= now:
            raise BookingError(ErrorCode.NOT_CANCELLABLE, status="departed")
        return order, departure, trip.status is TripStatus.CANCELLED

    async def cancel(
        self, order_id: str, customer_id: int | None, *, actor: str | None = None
    ) -> Order:
        """Cancel a held or paid order; a paid one is refunded by the refund policy.

        ``customer_id`` None is a staff cancellation (no ownership check).
        """

        async def attempt() -> Order:
            async with self._uow(write=True) as uow:
                order, departure, trip_cancelled = await self._cancellable(
                    uow, order_id, customer_id, lock=True
                )
                refund = self._refund(order, departure, trip_cancelled)
                status = OrderStatus.REFUNDED if refund > 0 else OrderStatus.CANCELLED
                now = self.now()
                changed = await uow.orders.change_status(
                    order,
                    status,
                    AuditEvent(order.id, now, order.status, status,
                               actor or f"customer:{customer_id}", {"refund": refund}),
                    seats_live=False,
                    refund_amount=refund,
                )
                await uow.commit()
                return changed

        return await self._retrying(attempt)

    async def expire_holds(self, batch: int = 500) -> int:
        """Mark holds past their expiry as expired; returns how many.

        Availability never waits for this (an expired hold stops counting at once); it
        tidies the orders so that passengers and staff see the right status.
        """
        expired = 0
        while True:
            async with self._uow(write=True) as uow:
                now = self.now()
                due = await uow.orders.expired_holds(now, batch)
                for order in due:
                    await uow.orders.change_status(
                        order,
                        OrderStatus.EXPIRED,
                        AuditEvent(order.id, now, order.status, OrderStatus.EXPIRED,
                                   "system:expiry", {}),
                        seats_live=False,
                    )
                await uow.commit()
            expired += len(due)
            if len(due) < batch:
                return expired

    # ---- plumbing --------------------------------------------------------------------

    async def _retrying(self, attempt: Callable[[], Awaitable[T]]) -> T:
        """Run a writing transaction, retrying a few times when a lock wait times out."""
        for tries in range(self.rules.lock_retries + 1):
            try:
                return await attempt()
            except LockTimeout:
                if tries == self.rules.lock_retries:
                    break
                await asyncio.sleep(random.uniform(0.005, 0.03) * (tries + 1))
        raise BookingError(ErrorCode.BUSY)
