"""Domain rules with no I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from booking.errors import BookingError, ErrorCode
from booking.model import (
    RefundPolicy,
    Route,
    RouteStop,
    SeatLayout,
    Station,
    segments_overlap,
)


def test_segment_inventory_is_half_open() -> None:
    sold = (0, 2)  # A -> C
    assert not segments_overlap(sold, (2, 4))  # C -> E is free
    assert segments_overlap(sold, (1, 3))  # B -> D is taken
    assert segments_overlap((1, 2), (0, 4))


def test_layout_grid_and_labels() -> None:
    layout = SeatLayout(1, "t", rows=2, columns="AB_CD", missing=frozenset({"2D"}))
    assert layout.grid() == (("1A", "1B", None, "1C", "1D"), ("2A", "2B", None, "2C", None))
    assert layout.capacity == 7


def test_choose_prefers_seats_side_by_side() -> None:
    layout = SeatLayout(1, "t", rows=3, columns="AB_CD")
    free = set(layout.labels) - {"1A", "1C", "2B"}
    # 3D+3C is a pair on one side; the shortest run that fits is taken first.
    assert layout.choose(free, 2) in (["1C", "1D"], ["2C", "2D"], ["3A", "3B"], ["3C", "3D"])
    pair = layout.choose(free, 2)
    assert pair is not None and pair[0][0] == pair[1][0]
    three = layout.choose(free, 3)
    assert three is not None and len({s[0] for s in three}) == 1  # one row across the aisle
    assert layout.choose(free, 9) is not None
    assert layout.choose(free, 10) is None


def test_choose_spans_fewest_rows_when_no_row_fits() -> None:
    layout = SeatLayout(1, "t", rows=4, columns="AB_CD")
    free = {"1A", "2A", "2B", "3A", "3B", "3C", "4D"}
    picked = layout.choose(free, 5)
    assert picked is not None and {s[0] for s in picked} == {"2", "3"}


@pytest.mark.parametrize(
    ("hours_before", "expected"), [(48, 1000), (24, 1000), (23, 500), (2, 500), (1.5, 0)]
)
def test_default_refund_policy(hours_before: float, expected: int) -> None:
    departure = datetime(2026, 6, 10, 12, tzinfo=UTC)
    now = departure - timedelta(hours=hours_before)
    assert RefundPolicy().refund(1000, departure, now) == expected


def test_refund_policy_is_configurable() -> None:
    policy = RefundPolicy.parse("72:90, 6:25")
    departure = datetime(2026, 6, 10, 12, tzinfo=UTC)
    assert policy.refund(1000, departure, departure - timedelta(hours=80)) == 900
    assert policy.refund(1000, departure, departure - timedelta(hours=10)) == 250
    assert policy.refund(1000, departure, departure - timedelta(hours=5)) == 0
    with pytest.raises(ValueError):
        RefundPolicy.parse("24:150")


def test_route_segment_errors() -> None:
    stops = tuple(RouteStop(i, c, i * 60, i * 60, i * 100) for i, c in enumerate("ABC"))
    route = Route(1, "r", "r", "EUR", stops, fares={(0, 2): 150})
    assert route.segment("A", "C") == (0, 2)
    assert route.price(0, 2) == 150  # explicit fare wins
    assert route.price(1, 2) == 100
    for origin, destination, code in [
        ("A", "A", ErrorCode.SAME_STATION),
        ("C", "A", ErrorCode.WRONG_DIRECTION),
        ("X", "A", ErrorCode.UNKNOWN_STATION),
        ("A", "X", ErrorCode.UNKNOWN_STATION),
    ]:
        with pytest.raises(BookingError) as error:
            route.segment(origin, destination)
        assert error.value.code is code


def test_route_calling_twice_boards_at_the_nearest_call() -> None:
    codes = ["A", "X", "B", "X", "C"]
    stops = tuple(RouteStop(i, c, i * 60, i * 60, i * 100) for i, c in enumerate(codes))
    route = Route(1, "loop", "loop", "EUR", stops)
    assert route.segment("X", "C") == (3, 4)
    assert route.segment("X", "B") == (1, 2)
    assert route.segment("A", "X") == (0, 1)


def test_station_name_prefers_the_language_then_a_variant_never_a_reading() -> None:
    names = {"en": "Kodai", "ja-Hrkt": "こうだい", "ja-JP": "工大", "zh-Hant": "工大站",
             "zh-Hans": "工大站简"}
    station = Station("K", names, "Asia/Tokyo")
    assert station.name("ja") == "工大"  # the regional variant, not the reading
    assert station.name("zh") == "工大站简"  # Kassa's Chinese is Simplified
    assert station.name("ru") == "Kodai"
    only_reading = Station("K", {"ja-Hrkt": "こうだい", "ja": "工大"}, "Asia/Tokyo")
    assert only_reading.name("en") == "工大"
    assert Station("K", {"ja-Hrkt": "こうだい"}, "Asia/Tokyo").name("ja") == "こうだい"
