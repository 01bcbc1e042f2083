"""Station matching and request parsing, from their real homes once those exist.

handlers/parsing.py is being written by a colleague; until it lands, handlers.interim
stands in with the same names and signatures.
"""

from __future__ import annotations

from booking.stations import StationIndex

try:
    from handlers.parsing import parse_date, parse_trip_request
except ImportError:  # pragma: no cover - goes away with handlers/interim.py
    from handlers.interim import parse_date, parse_trip_request

__all__ = ["StationIndex", "parse_date", "parse_trip_request"]
