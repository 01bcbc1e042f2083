"""What a seat costs on each stretch of a route.

Two sources, simplest first:

* Distance: every route gets cumulative fare offsets, the haversine distance along its
  stations times a rate per km (``fare_offset`` of each stop, in minor units). A ride
  costs the difference, but never less than a minimum fare: the stretches the rate
  prices below it get an explicit fare of the minimum.
* The feed's own fares (fare_attributes.txt + fare_rules.txt, GTFS Fares v1): a rule
  that names a route_id and/or origin_id/destination_id zones sets an explicit price for
  every stretch it matches; where several match, the cheapest wins, as in GTFS. Rules
  with contains_id (zones passed through) are not mapped, nor are fares in another
  currency than the feed's main one; those stretches keep the distance price.

The currency is the one most of the feed's fares use, else the importer's default (EUR).
A currency_type must be an ISO 4217 code (written in any case: "eur" is EUR); any other
code is refused at its line, as is a price above what an amount column holds.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter, defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache

from babel.numbers import get_currency_precision

from booking import limits
from booking.gtfs.source import FeedFiles, Record

FARE_ATTRIBUTES = "fare_attributes.txt"
FARE_RULES = "fare_rules.txt"
EARTH_RADIUS_KM = 6371.0088

Position = tuple[float | None, float | None]
Segment = tuple[int, int]


@dataclass(frozen=True, slots=True)
class Pricing:
    """The distance tariff, in major units of the currency (e.g. euros)."""

    per_km: Decimal = Decimal("0.12")
    minimum: Decimal = Decimal("5.00")


@dataclass(frozen=True, slots=True)
class FareRule:
    price: int  # minor units
    route_id: str
    origin: str
    destination: str


@dataclass(slots=True)
class FareTable:
    currency: str
    rules_by_route: dict[str, list[FareRule]] = field(default_factory=dict)  # "" = any route

    def explicit(self, route_id: str, zones: Sequence[str]) -> dict[Segment, int]:
        """Prices the feed's fare rules give to stretches of this route (cheapest wins)."""
        prices: dict[Segment, int] = {}
        for rule in (*self.rules_by_route.get(route_id, ()), *self.rules_by_route.get("", ())):
            for segment in _matching_segments(rule, zones):
                if segment not in prices or rule.price < prices[segment]:
                    prices[segment] = rule.price
        return prices


def _matching_segments(rule: FareRule, zones: Sequence[str]) -> list[Segment]:
    origins = [i for i, zone in enumerate(zones) if not rule.origin or zone == rule.origin]
    destinations = [
        j for j, zone in enumerate(zones) if not rule.destination or zone == rule.destination
    ]
    return [(i, j) for i in origins for j in destinations if i < j]


def minor_units(amount: Decimal, currency: str) -> int:
    scaled = amount * (10 ** get_currency_precision(currency))
    return int(scaled.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def read_fares(files: FeedFiles, route_ids: Collection[str], default_currency: str) -> FareTable:
    """The feed's fares in its main currency; an empty table if it has none."""
    if not files.has(FARE_ATTRIBUTES):
        return FareTable(default_currency)
    fares: dict[str, tuple[Decimal, str]] = {}
    for record in files.records(FARE_ATTRIBUTES, ("fare_id", "price", "currency_type")):
        fare_id = record.required("fare_id")
        if fare_id in fares:
            raise record.error(f"fare_id {fare_id!r} appears twice")
        currency = _currency(record)
        fares[fare_id] = (_price(record, currency), currency)
    currency = _main_currency(fares.values(), default_currency)
    table = FareTable(currency)
    if files.has(FARE_RULES):
        _read_rules(files, fares, route_ids, table)
    return table


def _currency(record: Record) -> str:
    text = record.required("currency_type")
    if not limits.is_currency(text.upper()):
        raise record.error(
            f"unknown currency_type {text!r} (expected an ISO 4217 code such as EUR)"
        )
    return text.upper()


def _price(record: Record, currency: str) -> Decimal:
    text = record.required("price")
    try:
        price = Decimal(text)
    except InvalidOperation:
        raise record.error(f"bad price {text!r}") from None
    if not price.is_finite() or price < 0:
        raise record.error(f"bad price {text!r}")
    # Compared in major units first: a huge price has no minor units (quantize overflows).
    if price > limits.MAX_AMOUNT or minor_units(price, currency) > limits.MAX_AMOUNT:
        raise record.error(f"price {text} {currency} is more than a fare can be")
    return price


def _main_currency(fares: Collection[tuple[Decimal, str]], default: str) -> str:
    counts = Counter(currency for _, currency in fares)
    return counts.most_common(1)[0][0] if counts else default


def _read_rules(
    files: FeedFiles,
    fares: dict[str, tuple[Decimal, str]],
    route_ids: Collection[str],
    table: FareTable,
) -> None:
    rules: dict[str, list[FareRule]] = defaultdict(list)
    for record in files.records(FARE_RULES, ("fare_id",)):
        fare_id = record.required("fare_id")
        if fare_id not in fares:
            raise record.error(f"unknown fare_id {fare_id!r}")
        route_id = record.get("route_id")
        if route_id and route_id not in route_ids:
            raise record.error(f"unknown route_id {route_id!r}")
        price, currency = fares[fare_id]
        if record.get("contains_id") or currency != table.currency:
            continue  # not mapped: see the module docstring
        rules[route_id].append(
            FareRule(
                minor_units(price, currency), route_id,
                record.get("origin_id"), record.get("destination_id"),
            )
        )
    table.rules_by_route = dict(rules)


@lru_cache(maxsize=65536)  # routes share most of their stretches
def haversine_km(a: Position, b: Position) -> float:
    """Great-circle distance; 0 when either end has no position."""
    lat1, lon1 = a
    lat2, lon2 = b
    if lat1 is None or lon1 is None or lat2 is None or lon2 is None:
        return 0.0
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi, dlambda = phi2 - phi1, math.radians(lon2 - lon1)
    h = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def distance_offsets(positions: Sequence[Position], pricing: Pricing, currency: str) -> list[int]:
    """Cumulative distance fare from the first stop to each stop, in minor units."""
    per_km = minor_units(pricing.per_km * 1000, currency)  # per 1000 km, to keep precision
    offsets, km = [0], 0.0
    for before, after in itertools.pairwise(positions):
        km += haversine_km(before, after)
        offsets.append(round(km * per_km / 1000))
    return offsets


def price_route(
    route_id: str,
    positions: Sequence[Position],
    zones: Sequence[str],
    fares: FareTable,
    pricing: Pricing,
) -> tuple[list[int], dict[Segment, int]]:
    """Fare offsets of each stop and the explicit prices of the route's stretches."""
    offsets = distance_offsets(positions, pricing, fares.currency)
    explicit = fares.explicit(route_id, zones)
    minimum = minor_units(pricing.minimum, fares.currency)
    for i in range(len(offsets)):
        # Offsets never decrease, so the short stretches from i are the first few.
        for j in range(i + 1, len(offsets)):
            if offsets[j] - offsets[i] >= minimum:
                break
            explicit.setdefault((i, j), minimum)
    return offsets, explicit
