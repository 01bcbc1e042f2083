"""Holds: seats for every passenger, all or nothing, until the hold expires.

Seats are checked inside the transaction that writes them, with the trip's row locked,
every time: we can never overbook a seat.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta

from booking import limits
from booking.errors import BookingError, ErrorCode
from booking.model import Order, OrderStatus, Route, SeatAllocation, Trip
from booking.names import passenger_name
from booking.orders import OrderParts, order_parts, remember_order, view_of
from booking.outbox import MessageKind, enqueue
from booking.ports import AuditEvent, OutboxMessage, Segment, UnitOfWork
from booking.usecase import UseCases, segment_on
from booking.views import OrderView

# Crockford's base32: no I, L, O or U, so a reference read aloud or typed is not mistaken.
REFERENCE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
REFERENCE_LENGTH = 12  # 60 random bits: a clash is unlikely at any realistic volume


def new_booking_reference() -> str:
    """The order's id, which is the booking reference a passenger sees and quotes."""
    # One read of the system's random source, cut into 5-bit letters (secrets.choice per
    # letter cost a tenth of a millisecond a hold).
    bits = int.from_bytes(secrets.token_bytes(8), "big")
    return "".join(REFERENCE_ALPHABET[(bits >> (5 * i)) & 31] for i in range(REFERENCE_LENGTH))


class HoldService(UseCases):
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
    ) -> OrderView:
        """Hold seats for every passenger, all or nothing, until the hold expires.

        ``seats`` names the seats (one per passenger, in order); without it seats are
        chosen side by side where possible. The same ``request_key`` with the same request
        returns the order made the first time, so a repeated button press never books
        twice; the same key with a different request is refused (REQUEST_KEY_REUSED).
        """
        limits.customer_id(customer_id)
        limits.trip_id(trip_id)
        limits.station_code(origin, "origin")
        limits.station_code(destination, "destination")
        if request_key is not None:
            limits.text(request_key, "request_key", limits.REQUEST_KEY_LENGTH)
        passengers = list(passengers)
        if not passengers:
            raise BookingError(ErrorCode.BAD_SEAT_COUNT)
        if len(passengers) > self.rules.max_seats_per_order:
            raise BookingError(ErrorCode.TOO_MANY_SEATS, limit=self.rules.max_seats_per_order)
        names = [passenger_name(p) for p in passengers]
        wanted = list(seats) if seats is not None else None
        if wanted is not None:
            if len(wanted) != len(names):
                raise BookingError(ErrorCode.PASSENGERS_MISMATCH)
            if len(set(wanted)) != len(wanted):
                raise BookingError(ErrorCode.DUPLICATE_SEAT)

        async def attempt() -> tuple[OrderParts, OrderView]:
            return await self._hold_once(
                customer_id, trip_id, origin, destination, names, wanted, request_key
            )

        parts, view = await self._retrying(attempt)
        remember_order(parts)  # after the unit of work, which forgot the update's reads
        return view

    async def _hold_once(
        self,
        customer_id: int,
        trip_id: int,
        origin: str,
        destination: str,
        names: list[str],
        wanted: list[str] | None,
        request_key: str | None,
    ) -> tuple[OrderParts, OrderView]:
        async with self._uow(write=True) as uow:
            trip = await uow.catalog.trip(trip_id, lock=self.rules.lock_inventory)
            if trip is None:
                raise BookingError(ErrorCode.UNKNOWN_TRIP)
            now = self.now()
            route = await uow.catalog.route(trip.route_id)
            if request_key is not None:
                earlier = await uow.orders.by_request_key(customer_id, request_key)
                if earlier is not None:
                    return await self._replay(uow, earlier, trip, route, origin, destination,
                                              names, wanted, now)
            cap = self.rules.max_live_holds
            if cap is not None and await uow.orders.live_holds(customer_id, now) >= cap:
                raise BookingError(ErrorCode.TOO_MANY_HOLDS, limit=cap)
            from_seq, to_seq = await segment_on(uow, route, origin, destination)
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
            amount = route.price(from_seq, to_seq) * len(names)
            if amount > limits.MAX_AMOUNT:  # a stored fare times the passengers
                raise BookingError(ErrorCode.BAD_AMOUNT, field="amount")
            order = Order(
                id=new_booking_reference(),
                customer_id=customer_id,
                trip_id=trip.id,
                from_seq=from_seq,
                to_seq=to_seq,
                status=OrderStatus.HELD,
                amount=amount,
                currency=route.currency,
                seats=tuple(SeatAllocation(s, n) for s, n in zip(chosen, names, strict=True)),
                created_at=now,
                # A hold ends when the coach leaves the passenger's stop, if that comes
                # first: a seat on a coach that has gone cannot be paid for.
                expires_at=min(now + timedelta(minutes=self.rules.hold_minutes),
                               trip.departs_at(route, from_seq)),
                request_key=request_key,
            )
            # The passengers are remembered for the customer's next booking after the commit,
            # off the hold's path (the customer's row is not locked here).
            await enqueue(uow, OutboxMessage(MessageKind.SAVE_PASSENGERS, customer_id,
                                             {"names": names}, now), now)
            await uow.orders.add(
                order,
                AuditEvent(order.id, now, None, OrderStatus.HELD, f"customer:{customer_id}",
                           {"seats": chosen, "amount": order.amount}),
            )
            # Built before the commit from what is at hand: no more round trips under the lock.
            [parts] = await order_parts(uow, [order], known_trips=[trip])
            await uow.commit()
            return parts, view_of(parts, now)

    @staticmethod
    async def _replay(
        uow: UnitOfWork,
        earlier: Order,
        trip: Trip,
        route: Route,
        origin: str,
        destination: str,
        names: list[str],
        wanted: list[str] | None,
        now: datetime,
    ) -> tuple[OrderParts, OrderView]:
        """The order made the first time with this request key, as it stands now, if this
        is the same request; a key reused for another trip, stretch, passengers or seats
        never answers with an order the caller did not ask for."""
        try:
            segment = route.segment(origin, destination)
        except BookingError:
            segment = None
        if segment is None or not earlier.answers(trip.id, segment, names, wanted):
            raise BookingError(ErrorCode.REQUEST_KEY_REUSED)
        [parts] = await order_parts(uow, [earlier], known_trips=[trip])
        return parts, view_of(parts, now)
