"""The domain: stations, routes, trips, seat layouts, orders and the decisions on them.

Nothing here does I/O, so every rule can be tested on its own. Routes and seat layouts
are immutable once stored: a timetable change makes a new route, so they may be cached.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from booking import limits
from booking.errors import BookingError, ErrorCode
from booking.names import MAX_NAME_LENGTH, passenger_name, squash

DEFAULT_LANGUAGE = "en"

# Scripts in which a name is written as it is read (kana for Japanese): a reading helps to
# find a station, but is never shown in place of its name.
READING_SCRIPTS = frozenset({"Hrkt", "Hira", "Kana"})
# Which variant of a language stands in for the plain one when a station has no name in
# it: Kassa's Chinese is Simplified.
PREFERRED_VARIANTS: dict[str, tuple[str, ...]] = {"zh": ("zh-Hans", "zh-CN", "zh-SG")}


def is_reading(tag: str) -> bool:
    """Whether the language tag (``ja-Hrkt``) names a reading rather than a name."""
    return any(part in READING_SCRIPTS for part in tag.split("-")[1:])


@dataclass(frozen=True, slots=True)
class Station:
    code: str
    names: dict[str, str]  # by language tag: "de", and apart from it "ja-Hrkt", "zh-Hant"
    timezone: str
    lat: float | None = None
    lon: float | None = None

    def name(self, language: str = DEFAULT_LANGUAGE) -> str:
        """The station's name in ``language``; else in a variant of it (zh-Hans for zh),
        never a reading; else in English; else any name, a reading only if nothing else."""
        exact = self.names.get(language)
        if exact:
            return exact
        variants = [
            *(tag for tag in PREFERRED_VARIANTS.get(language, ()) if tag in self.names),
            *(tag for tag in self.names if tag.split("-")[0] == language),
        ]
        for tag in variants:
            if not is_reading(tag) and self.names[tag]:
                return self.names[tag]
        return (
            self.names.get(DEFAULT_LANGUAGE)
            or next((n for tag, n in self.names.items() if n and not is_reading(tag)), None)
            or next(iter(self.names.values()), self.code)
        )

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True, slots=True)
class RouteStop:
    seq: int
    station_code: str
    arrive_offset: int  # minutes after the trip's first departure
    depart_offset: int
    fare_offset: int  # cumulative fare from the first stop, in minor units


@dataclass(frozen=True, slots=True)
class Route:
    id: int
    code: str
    name: str
    currency: str
    stops: tuple[RouteStop, ...]
    fares: dict[tuple[int, int], int] = field(default_factory=dict)  # explicit segment prices

    def segment(self, origin: str, destination: str) -> tuple[int, int]:
        """The stop interval [from_seq, to_seq) the route serves from origin to destination.

        A route may call at a station twice (a loop through an airport, say): the
        passenger boards at the call nearest before the first reachable destination.
        """
        if origin == destination:
            raise BookingError(ErrorCode.SAME_STATION)
        boarding: int | None = None
        for stop in self.stops:
            if stop.station_code == origin:
                boarding = stop.seq
            elif stop.station_code == destination and boarding is not None:
                return boarding, stop.seq
        codes = {s.station_code for s in self.stops}
        if origin in codes and destination in codes:
            raise BookingError(ErrorCode.WRONG_DIRECTION)
        missing = origin if origin not in codes else destination
        raise BookingError(ErrorCode.UNKNOWN_STATION, station=missing)

    def stop(self, seq: int) -> RouteStop:
        for stop in self.stops:
            if stop.seq == seq:
                return stop
        raise KeyError(seq)

    def price(self, from_seq: int, to_seq: int) -> int:
        """Price of one seat for [from_seq, to_seq), in minor units of ``currency``."""
        explicit = self.fares.get((from_seq, to_seq))
        if explicit is not None:
            return explicit
        return self.stop(to_seq).fare_offset - self.stop(from_seq).fare_offset


class TripStatus(StrEnum):
    SCHEDULED = "scheduled"
    DELAYED = "delayed"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class Trip:
    id: int
    route_id: int
    service_date: date
    departure_at: datetime  # UTC, departure from the route's first stop
    layout_id: int
    status: TripStatus = TripStatus.SCHEDULED
    delay_minutes: int = 0

    def departs_at(self, route: Route, seq: int) -> datetime:
        """Scheduled departure (UTC) from stop ``seq``."""
        return self.departure_at + timedelta(minutes=route.stop(seq).depart_offset)

    def arrives_at(self, route: Route, seq: int) -> datetime:
        """Scheduled arrival (UTC) at stop ``seq``."""
        return self.departure_at + timedelta(minutes=route.stop(seq).arrive_offset)

    def check_bookable(self, route: Route, from_seq: int, now: datetime) -> None:
        """Refuse a booking on a cancelled trip or one that has left the passenger's stop."""
        if self.status is TripStatus.CANCELLED:
            raise BookingError(ErrorCode.TRIP_CANCELLED)
        if self.departs_at(route, from_seq) <= now:
            raise BookingError(ErrorCode.TRIP_DEPARTED)


def segments_overlap(a: tuple[int, int], b: tuple[int, int]) -> bool:
    """Half-open stop intervals overlap: a seat sold A->C is free for C->E, taken for B->D."""
    return a[0] < b[1] and b[0] < a[1]


AISLE = "_"


@dataclass(frozen=True, slots=True)
class SeatLayout:
    """A grid of seats: ``columns`` lists the seat letters left to right, ``_`` is the aisle."""

    id: int
    name: str
    rows: int
    columns: str = "AB_CD"
    seat_class: str = "standard"
    missing: frozenset[str] = frozenset()  # positions with no seat (door, stairs, driver)
    # Derived once: searches and holds ask for them on every trip.
    labels: tuple[str, ...] = field(init=False, repr=False, compare=False)
    label_set: frozenset[str] = field(init=False, repr=False, compare=False)
    rows_of_labels: tuple[tuple[str | None, ...], ...] = field(init=False, repr=False,
                                                             compare=False)

    def __post_init__(self) -> None:
        letters = self.columns.replace(AISLE, "")
        if self.rows < 1 or not letters or len(set(letters)) != len(letters):
            raise ValueError(f"bad seat layout {self.name!r}")
        if any(c not in string.ascii_uppercase for c in letters):
            raise ValueError(f"seat letters must be A-Z in layout {self.name!r}")
        grid = tuple(
            tuple(None if letter == AISLE or f"{row}{letter}" in self.missing
                  else f"{row}{letter}" for letter in self.columns)
            for row in range(1, self.rows + 1)
        )
        object.__setattr__(self, "rows_of_labels", grid)
        labels = tuple(label for row in grid for label in row if label is not None)
        object.__setattr__(self, "labels", labels)
        object.__setattr__(self, "label_set", frozenset(labels))

    def grid(self) -> tuple[tuple[str | None, ...], ...]:
        """Rows of labels left to right; None stands for the aisle or a missing seat.
        Worked out once: every hold that picks seats walks it."""
        return self.rows_of_labels

    @property
    def capacity(self) -> int:
        return len(self.labels)

    def choose(self, free: AbstractSet[str], count: int) -> list[str] | None:
        """Pick ``count`` free seats, side by side where possible; None if too few are free.

        Preference: one unbroken run of seats on one side of the aisle (the shortest run
        that fits, so larger blocks stay for larger groups), then one row across the aisle,
        then the fewest consecutive rows.
        """
        if count > len(free):
            return None
        grid = self.grid()
        best_run: list[str] | None = None
        for row in grid:
            run: list[str] = []
            for cell in [*row, None]:
                if cell is not None and cell in free:
                    run.append(cell)
                    continue
                if len(run) >= count and (best_run is None or len(run) < len(best_run)):
                    best_run = run
                run = []
        if best_run is not None:
            return best_run[:count]
        row_free = [[c for c in row if c is not None and c in free] for row in grid]
        for seats in row_free:
            if len(seats) >= count:
                return seats[:count]
        best: list[str] | None = None
        best_span = len(grid) + 1
        for start in range(len(grid)):
            taken: list[str] = []
            end = start
            while end < len(grid) and len(taken) < count:
                taken.extend(row_free[end][: count - len(taken)])
                end += 1
            if len(taken) == count and end - start < best_span:
                best, best_span = taken, end - start
        return best


class OrderStatus(StrEnum):
    HELD = "held"
    PAID = "paid"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"
    USED = "used"


# Which statuses an order may move to; anything else is a bug or a stale request.
ORDER_TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.HELD: frozenset({OrderStatus.PAID, OrderStatus.EXPIRED, OrderStatus.CANCELLED}),
    OrderStatus.EXPIRED: frozenset({OrderStatus.PAID}),  # a late payment whose seats are free
    OrderStatus.PAID: frozenset({OrderStatus.CANCELLED, OrderStatus.REFUNDED, OrderStatus.USED}),
    OrderStatus.CANCELLED: frozenset(),
    OrderStatus.REFUNDED: frozenset(),
    OrderStatus.USED: frozenset(),
}


@dataclass(frozen=True, slots=True)
class SeatAllocation:
    seat: str
    passenger: str


@dataclass(frozen=True, slots=True)
class Order:
    id: str
    customer_id: int
    trip_id: int
    from_seq: int
    to_seq: int
    status: OrderStatus
    amount: int
    currency: str
    seats: tuple[SeatAllocation, ...]
    created_at: datetime
    expires_at: datetime | None = None
    refund_amount: int | None = None
    payment_reference: str | None = None
    request_key: str | None = None

    def hold_live(self, now: datetime) -> bool:
        return self.status is OrderStatus.HELD and self.expires_at is not None and (
            self.expires_at > now
        )

    def answers(
        self,
        trip_id: int,
        segment: tuple[int, int],
        names: Sequence[str],
        seats: Sequence[str] | None,
    ) -> bool:
        """Whether this order is what a hold of ``names`` on the trip's ``segment`` (on
        ``seats``, or any seats when None) asked for: the same request key may replay it."""
        return (
            self.trip_id == trip_id
            and (self.from_seq, self.to_seq) == segment
            and [s.passenger for s in self.seats] == list(names)
            and (seats is None or [s.seat for s in self.seats] == list(seats))
        )

    def status_at(self, now: datetime) -> OrderStatus:
        """The status a person should see: a hold past its time is expired, whether or not
        the expiry sweep has tidied the row yet."""
        if self.status is OrderStatus.HELD and not self.hold_live(now):
            return OrderStatus.EXPIRED
        return self.status

    def can_become(self, status: OrderStatus) -> bool:
        return status in ORDER_TRANSITIONS[self.status]

    def transition(
        self,
        status: OrderStatus,
        *,
        refund_amount: int | None = None,
        payment_reference: str | None = None,
    ) -> Order:
        """The order after moving to ``status``; an illegal move is a bug, never a write."""
        if not self.can_become(status):
            raise IllegalTransition(self.id, self.status, status)
        return replace(
            self,
            status=status,
            refund_amount=self.refund_amount if refund_amount is None else refund_amount,
            payment_reference=payment_reference or self.payment_reference,
        )


class IllegalTransition(RuntimeError):
    """A status change ORDER_TRANSITIONS does not allow: a decision made on stale data."""

    def __init__(self, order_id: str, current: OrderStatus, wanted: OrderStatus) -> None:
        super().__init__(f"order {order_id}: {current.value} cannot become {wanted.value}")
        self.current = current
        self.wanted = wanted


class TicketStatus(StrEnum):
    VALID = "valid"
    USED = "used"  # checked in
    VOID = "void"  # its order was cancelled or refunded


@dataclass(frozen=True, slots=True)
class Ticket:
    """One passenger's seat on a paid order; what a scanner checks in."""

    id: str
    order_id: str
    seat: str
    passenger: str
    status: TicketStatus
    issued_at: datetime
    used_at: datetime | None = None
    used_by: int | None = None


@dataclass(frozen=True, slots=True)
class RefundTier:
    hours_before: float
    percent: int


@dataclass(frozen=True, slots=True)
class RefundPolicy:
    """Refund share by how long before departure the order is cancelled.

    Tiers are checked from the earliest cut-off: cancelling at least ``hours_before`` ahead
    returns ``percent`` of the amount; past every tier nothing is returned.
    """

    tiers: tuple[RefundTier, ...] = (RefundTier(24, 100), RefundTier(2, 50))

    @classmethod
    def parse(cls, spec: str) -> RefundPolicy:
        """Read a policy like ``"24:100,2:50"`` (hours before departure : percent)."""
        tiers = []
        problem = (f"{spec!r} is not a refund policy like 24:100,2:50 (hours before "
                   "departure : percent returned, from 0 to 100)")
        for part in spec.split(","):
            hours, _, percent = part.strip().partition(":")
            try:
                tiers.append(RefundTier(float(hours), int(percent)))
            except ValueError:
                raise ValueError(problem) from None
        if not tiers or any(not 0 <= t.percent <= 100 or not 0 <= t.hours_before < 10_000
                            for t in tiers):
            raise ValueError(problem)
        return cls(tuple(sorted(tiers, key=lambda t: -t.hours_before)))

    def refund(self, amount: int, departure: datetime, now: datetime) -> int:
        ahead = departure - now
        for tier in self.tiers:
            if ahead >= timedelta(hours=tier.hours_before):
                return amount * tier.percent // 100
        return 0


def local_day_bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC instants where ``day`` starts and ends in timezone ``tz``.

    In UTC, so that arithmetic on them counts real minutes: an aware local datetime adds
    and subtracts wall-clock time, which is an hour off across a clock change.
    """
    start = datetime.combine(day, time(), tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), time(), tzinfo=tz)
    return start.astimezone(UTC), end.astimezone(UTC)


# ---- customers ----------------------------------------------------------------------------

MAX_SAVED_PASSENGERS = 10
MAX_CUSTOMER_NAME_LENGTH = limits.CUSTOMER_NAME_LENGTH
MAX_LANGUAGE_LENGTH = limits.LANGUAGE_LENGTH


class Role(StrEnum):
    PASSENGER = "passenger"
    STAFF = "staff"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _ROLE_RANKS[self]


_ROLE_RANKS = {Role.PASSENGER: 0, Role.STAFF: 1, Role.ADMIN: 2}


def check_language(language: str) -> str:
    if (
        not language
        or len(language) > MAX_LANGUAGE_LENGTH
        or limits.unsafe_character(language) is not None
    ):
        raise ValueError(f"bad language code {language!r}")
    return language


@dataclass(frozen=True)
class Customer:
    id: int  # the Telegram user id
    name: str
    language: str | None  # None until the person chooses or Telegram tells us one
    role: Role
    blocked: bool  # the person has blocked the bot, so messages to them fail
    saved_passengers: tuple[str, ...]  # most recently used first
    # What an admin gave the person in the bot (/staff add); the settings' lists give the
    # rest. Kept apart from ``role`` so that taking someone off a list never takes away a
    # grant, and taking a grant away never outranks the lists.
    granted: Role = Role.PASSENGER

    @classmethod
    def new(cls, user_id: int) -> Customer:
        return cls(user_id, "", None, Role.PASSENGER, False, ())

    def on_contact(self, name: str, language: str | None, *, is_staff: bool,
                   is_admin: bool = False) -> Customer:
        """The customer after they wrote to the bot.

        The name follows the Telegram profile. A language already set is kept, since it is
        either the person's own choice or the first guess they did not correct. The role is
        what the configuration lists now or what an admin granted, whichever is higher, so
        taking someone off the list takes away the rights the list gave. Someone writing to
        us has not blocked us.
        """
        # The profile name is Telegram's, not something the person typed for us: characters
        # no column may hold are dropped rather than refusing the person's message.
        name = squash(limits.storable(name))[:MAX_CUSTOMER_NAME_LENGTH] or self.name
        # The language given here is only a hint (Telegram's); one that cannot be stored is
        # dropped, for the same reason.
        hint_fits = language is not None and (
            0 < len(language) <= MAX_LANGUAGE_LENGTH
            and limits.unsafe_character(language) is None
        )
        if self.language is not None or not hint_fits:
            language = self.language
        role = self.role_with(is_staff=is_staff, is_admin=is_admin)
        return replace(self, name=name, language=language, role=role, blocked=False)

    def role_with(self, *, is_staff: bool, is_admin: bool = False) -> Role:
        """The role given what the configuration lists now and what an admin granted."""
        listed = Role.ADMIN if is_admin else Role.STAFF if is_staff else Role.PASSENGER
        return max(listed, self.granted, key=lambda role: role.rank)

    def with_grant(self, granted: Role, *, is_staff: bool, is_admin: bool) -> Customer:
        """The customer after an admin granted (or took back) a role in the bot."""
        changed = replace(self, granted=granted)
        return replace(changed, role=changed.role_with(is_staff=is_staff, is_admin=is_admin))

    def with_language(self, language: str) -> Customer:
        return replace(self, language=check_language(language))

    def with_passengers(self, names: Sequence[str]) -> Customer:
        """Remember ``names`` as the latest passengers, ahead of the older ones.

        Names differing only in case or spacing are one person; the latest spelling wins.
        """
        kept: dict[str, str] = {}
        for raw in [*names, *self.saved_passengers]:
            try:  # only what a hold accepts is offered again
                name = passenger_name(squash(raw)[:MAX_NAME_LENGTH])
            except BookingError:
                continue
            kept.setdefault(name.casefold(), name)
        return replace(self, saved_passengers=tuple(kept.values())[:MAX_SAVED_PASSENGERS])

    def with_blocked(self, blocked: bool) -> Customer:
        return replace(self, blocked=blocked)
