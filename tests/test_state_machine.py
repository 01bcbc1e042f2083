"""Random sequences of search / hold / confirm / expire / cancel against a simple model.

After every step no seat may be allocated twice on overlapping segments, and the service
must agree with the model on what succeeded.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from booking.errors import BookingError, ErrorCode
from booking.model import RefundPolicy
from booking.outcomes import ConfirmOutcome
from booking.service import BookingService
from storage.database import create_engine
from storage.repositories import clear_caches
from storage.testing import empty_all_tables
from storage.uow import SqlUnitOfWorkFactory
from tests.conftest import FakeClock
from tests.factories import STOPS, build_network, double_allocations, pax

DAY = date(2026, 6, 1)
SEATS = ["1A", "1B", "2A", "2B"]
PRICE_PER_LEG = 1000
segments = st.tuples(st.integers(0, 4), st.integers(1, 5)).filter(lambda s: s[0] < s[1])


def departs(seq: int) -> datetime:
    """When the factory's 08:00 trip leaves stop ``seq`` (UTC)."""
    base = datetime.fromisoformat("2026-06-01T06:00:00+00:00")
    return base + timedelta(minutes=seq * 60 + (5 if 0 < seq < 5 else 0))


@dataclass
class ModelOrder:
    id: str
    seats: list[str]
    segment: tuple[int, int]
    status: str
    expires_at: datetime
    references: dict[str, str]


class BookingMachine(RuleBasedStateMachine):
    orders = Bundle("orders")

    def __init__(self, database_url: str) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.engine = create_engine(database_url, pool_size=2)
        self.clock = FakeClock(datetime.fromisoformat("2026-06-01T04:00:00+00:00"))
        self.service = BookingService(SqlUnitOfWorkFactory(self.engine), clock=self.clock)
        self.model: dict[str, ModelOrder] = {}
        self.trip = 0
        self.payments = 0

    def run(self, awaitable: Any) -> Any:
        return self.loop.run_until_complete(awaitable)

    @initialize()
    def network(self) -> None:
        self.run(empty_all_tables(self.engine))
        clear_caches()
        network = self.run(build_network(self.engine, rows=2, columns="AB", days=1))
        self.trip = network.trips[DAY]

    def teardown(self) -> None:
        self.run(self.engine.dispose())
        self.loop.close()

    # ---- the model -------------------------------------------------------------------

    def live(self, order: ModelOrder) -> bool:
        return order.status == "paid" or (
            order.status == "held" and order.expires_at > self.clock.now
        )

    def taken(self, segment: tuple[int, int], exclude: str | None = None) -> set[str]:
        return {
            seat
            for o in self.model.values()
            if o.id != exclude and self.live(o)
            and o.segment[0] < segment[1] and segment[0] < o.segment[1]
            for seat in o.seats
        }

    # ---- rules -----------------------------------------------------------------------

    @rule(minutes=st.integers(1, 40))
    def time_passes(self, minutes: int) -> None:
        self.clock.advance(minutes=minutes)

    @rule(segment=segments)
    def search(self, segment: tuple[int, int]) -> None:
        origin, destination = STOPS[segment[0]], STOPS[segment[1]]
        options = self.run(self.service.search(origin, destination, DAY))
        if departs(segment[0]) <= self.clock.now:
            assert options == []
        else:
            [option] = options
            assert option.seats_free == len(SEATS) - len(self.taken(segment))

    @rule(target=orders, segment=segments, seat=st.sampled_from(SEATS))
    def hold_seat(self, segment: tuple[int, int], seat: str) -> Any:
        return self._hold(segment, [seat])

    @rule(target=orders, segment=segments, count=st.integers(1, 3))
    def hold_any(self, segment: tuple[int, int], count: int) -> Any:
        return self._hold(segment, None, count)

    def _hold(self, segment: tuple[int, int], seats: list[str] | None, count: int = 1) -> Any:
        origin, destination = STOPS[segment[0]], STOPS[segment[1]]
        names = [pax(i) for i in range(len(seats) if seats else count)]
        free = set(SEATS) - self.taken(segment)
        if departs(segment[0]) <= self.clock.now:
            expected: ErrorCode | None = ErrorCode.TRIP_DEPARTED
        elif seats is not None:
            expected = None if set(seats) <= free else ErrorCode.SEAT_TAKEN
        else:
            expected = None if len(free) >= count else ErrorCode.NOT_ENOUGH_SEATS
        try:
            order = self.run(
                self.service.hold(7, self.trip, origin, destination, names, seats)
            )
        except BookingError as error:
            assert error.code is expected, (error, expected)
            return None
        assert expected is None, f"hold succeeded, model expected {expected}"
        assert {s.seat for s in order.seats} <= free
        assert order.amount == PRICE_PER_LEG * (segment[1] - segment[0]) * len(names)
        self.model[order.id] = ModelOrder(
            order.id, [s.seat for s in order.seats], segment, "held", order.expires_at, {}
        )
        return order.id

    @rule(order_id=orders, repeat=st.booleans())
    def pay(self, order_id: str | None, repeat: bool) -> None:
        if order_id is None:
            return
        order = self.model[order_id]
        if repeat and order.references:
            reference = next(iter(order.references))
        else:
            self.payments += 1
            reference = f"pay-{self.payments}"
        amount = PRICE_PER_LEG * (order.segment[1] - order.segment[0]) * len(order.seats)
        result = self.run(self.service.confirm_payment(order_id, reference, amount, "EUR"))
        if reference in order.references:
            assert result.duplicate and result.outcome.value == order.references[reference]
            return
        now = self.clock.now
        if order.status == "held" and order.expires_at > now:
            expected = "paid"
        elif order.status in ("held", "expired") and departs(order.segment[0]) > now:
            clash = set(order.seats) & self.taken(order.segment, exclude=order.id)
            expected = "refund_needed" if clash else "paid"
        else:
            expected = "refund_needed"
        assert result.outcome is ConfirmOutcome(expected), (result, order)
        order.references[reference] = expected
        if expected == "paid":
            order.status = "paid"
        elif order.status == "held":
            order.status = "expired"

    @rule(order_id=orders)
    def cancel(self, order_id: str | None) -> None:
        if order_id is None:
            return
        order = self.model[order_id]
        now = self.clock.now
        if order.status == "held" and order.expires_at <= now:
            expected_error: ErrorCode | None = ErrorCode.HOLD_EXPIRED
        elif order.status not in ("held", "paid") or departs(order.segment[0]) <= now:
            # Closed orders, and paid ones whose trip has left, cannot be cancelled.
            expected_error = ErrorCode.NOT_CANCELLABLE
        else:
            expected_error = None
        try:
            cancelled = self.run(self.service.cancel(order_id, 7))
        except BookingError as error:
            assert error.code is expected_error, (error, expected_error)
            return
        assert expected_error is None
        refund = None  # a released hold: no money had moved
        if order.status == "paid":
            amount = PRICE_PER_LEG * (order.segment[1] - order.segment[0]) * len(order.seats)
            refund = RefundPolicy().refund(amount, departs(order.segment[0]), now)
        assert cancelled.refund_amount == refund
        order.status = "refunded" if refund else "cancelled"
        assert cancelled.status.value == order.status

    @rule()
    def expire(self) -> None:
        expected = [
            o for o in self.model.values()
            if o.status == "held" and o.expires_at <= self.clock.now
        ]
        assert self.run(self.service.expire_holds()) == len(expected)
        for order in expected:
            order.status = "expired"

    @invariant()
    def no_seat_sold_twice(self) -> None:
        if self.trip:
            assert self.run(double_allocations(self.engine, self.clock.now)) == []


def test_booking_state_machine(database_url: str) -> None:
    run_state_machine_as_test(
        lambda: BookingMachine(database_url),  # type: ignore[arg-type]
        settings=settings(
            max_examples=25,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
