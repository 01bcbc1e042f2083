"""Default seat layouts by GTFS route_type: a feed says nothing about seats.

Rail-like vehicles (basic types 1, 2, 12 and extended rail 100-117) get one open rail
car; everything else (bus 3, coach 200-209, extended bus 700-716, and the rest) gets a
coach. An operator can re-seat trips later; these only make the import bookable.
"""

from __future__ import annotations

from booking.model import SeatLayout

# 13 rows of two pairs; the middle door takes 7C and 7D, the courier seat 1C.
COACH = SeatLayout(
    id=0, name="coach-49", rows=13, columns="AB_CD", missing=frozenset({"1C", "7C", "7D"})
)
RAIL_CAR = SeatLayout(id=0, name="rail-car-64", rows=16, columns="AB_CD")

_RAIL_TYPES = frozenset({1, 2, 12, *range(100, 118)})


def layout_for(route_type: int) -> SeatLayout:
    return RAIL_CAR if route_type in _RAIL_TYPES else COACH
