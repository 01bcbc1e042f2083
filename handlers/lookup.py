"""Station matching and request parsing, from their real homes once those exist.

booking/stations.py and handlers/parsing.py are being written by a colleague; until they
land, handlers.interim stands in with the same names and signatures.
"""

from __future__ import annotations

try:
    from booking.stations import StationIndex
    from handlers.parsing import parse_date, parse_trip_request
except ImportError:  # pragma: no cover - goes away with handlers/interim.py
    from handlers.interim import (  # type: ignore[assignment]
        StationIndex,
        parse_date,
        parse_trip_request,
    )

__all__ = ["StationIndex", "parse_date", "parse_trip_request"]
