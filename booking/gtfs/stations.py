"""Stops become stations: platforms fold into their parent, names gather translations.

A passenger picks "Berlin Hbf", not its platform 7, so a stop with a parent_station is
booked at the parent. Station codes are internal (passengers choose by name) and carry
the feed id, so that two feeds' stop "1" never clash.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from booking import limits
from booking.gtfs.agency import FeedIdentity, timezone_of, translation_tag
from booking.gtfs.errors import FeedError
from booking.gtfs.source import FeedFiles, Record
from booking.model import DEFAULT_LANGUAGE, Station

STOPS = "stops.txt"
TRANSLATIONS = "translations.txt"
STATION_CODE_LENGTH = 64  # stations.code is a String(64)

_NEW_TRANSLATIONS = ("table_name", "field_name", "language", "translation")
_OLD_TRANSLATIONS = ("trans_id", "lang", "translation")


@dataclass(frozen=True, slots=True)
class Stop:
    id: str
    name: str
    lat: float | None
    lon: float | None
    parent: str | None
    timezone: str | None
    zone: str
    line: int


def read_stops(files: FeedFiles) -> dict[str, Stop]:
    """Every stop by stop_id, with parent_station references checked."""
    stops: dict[str, Stop] = {}
    for record in files.records(STOPS, ("stop_id", "stop_name")):
        stop = _stop(record)
        if stop.id in stops:
            raise record.error(f"stop_id {stop.id!r} appears twice")
        stops[stop.id] = stop
    for stop in stops.values():
        if stop.parent is not None and stop.parent not in stops:
            raise FeedError(STOPS, stop.line, f"unknown parent_station {stop.parent!r}")
    return stops


def _stop(record: Record) -> Stop:
    location_type = record.choice("location_type", ("0", "1", "2", "3", "4"), default="0")
    # Generic nodes and boarding areas may go unnamed; anything a passenger sees may not.
    name = record.text("stop_name", limits.STATION_NAME_LENGTH, required=location_type in "012")
    return Stop(
        id=record.required("stop_id"),
        name=name,
        lat=record.number("stop_lat", -90, 90),
        lon=record.number("stop_lon", -180, 180),
        parent=record.get("parent_station") or None,
        timezone=timezone_of(record, "stop_timezone") if record.get("stop_timezone") else None,
        zone=record.get("zone_id"),
        line=record.line,
    )


def station_of(stops: dict[str, Stop], stop_id: str) -> Stop:
    """The stop a passenger books at: the platform's parent station, or the stop itself."""
    stop = stops[stop_id]
    return stops[stop.parent] if stop.parent is not None else stop


def station_code(feed: FeedIdentity, stop_id: str) -> str:
    code = f"gtfs:{feed.id}:{stop_id}"
    if len(code) <= STATION_CODE_LENGTH:
        return code
    return f"gtfs:{feed.id}:#{hashlib.sha1(stop_id.encode()).hexdigest()[:20]}"


@dataclass(slots=True)
class Translations:
    """Translated stop names, by stop_id and by the original text they translate."""

    by_stop: dict[str, dict[str, str]] = field(default_factory=dict)
    by_text: dict[str, dict[str, str]] = field(default_factory=dict)

    def of(self, stop: Stop) -> dict[str, str]:
        return {**self.by_text.get(stop.name, {}), **self.by_stop.get(stop.id, {})}


def read_translations(files: FeedFiles) -> Translations:
    """Stop names from translations.txt, in the GTFS format or the older Google one."""
    translations = Translations()
    if not files.has(TRANSLATIONS):
        return translations
    for record in files.records(TRANSLATIONS):
        if all(record.has_column(column) for column in _NEW_TRANSLATIONS):
            _add_translation(translations, record)
        elif all(record.has_column(column) for column in _OLD_TRANSLATIONS):
            # The older format translates a text wherever it appears (trans_id is the text).
            language = _language(record, "lang")
            if language:
                translations.by_text.setdefault(record.required("trans_id"), {})[language] = (
                    record.text("translation", limits.STATION_NAME_LENGTH)
                )
        else:
            expected = f"{','.join(_NEW_TRANSLATIONS)} or {','.join(_OLD_TRANSLATIONS)}"
            raise FeedError(TRANSLATIONS, 1, f"unknown columns, expected {expected}")
    return translations


def _add_translation(translations: Translations, record: Record) -> None:
    if record.get("table_name") != "stops" or record.get("field_name") != "stop_name":
        return  # only station names are shown by Kassa
    language = _language(record, "language")
    if language is None:
        return
    text = record.text("translation", limits.STATION_NAME_LENGTH)
    if record.get("record_id"):
        translations.by_stop.setdefault(record.get("record_id"), {})[language] = text
    elif record.get("field_value"):
        translations.by_text.setdefault(record.get("field_value"), {})[language] = text
    else:
        raise record.error("a stop_name translation needs record_id or field_value")


def _language(record: Record, column: str) -> str | None:
    try:
        return translation_tag(record.required(column))
    except ValueError as error:
        raise record.error(f"{error} in {column}") from None


class StationMaker:
    """Builds each station once, from the stop a passenger books at."""

    def __init__(
        self,
        stops: dict[str, Stop],
        translations: Translations,
        feed: FeedIdentity,
        default_timezone: str,
    ) -> None:
        self._stops = stops
        self._translations = translations
        self._feed = feed
        self._default_timezone = default_timezone
        self._positions = _platform_positions(stops)
        self._made: dict[str, Station] = {}

    def station(self, stop_id: str) -> Station:
        """The station for station stop ``stop_id`` (already folded into its parent)."""
        made = self._made.get(stop_id)
        if made is None:
            made = self._made[stop_id] = _station(
                self._stops[stop_id], self._positions, self._translations, self._feed,
                self._default_timezone,
            )
        return made


def _platform_positions(stops: dict[str, Stop]) -> dict[str, tuple[float, float]]:
    """Where each parent station's first platform with coordinates is."""
    positions: dict[str, tuple[float, float]] = {}
    for stop in stops.values():
        if stop.parent is not None and stop.lat is not None and stop.lon is not None:
            positions.setdefault(stop.parent, (stop.lat, stop.lon))
    return positions


def _station(
    stop: Stop,
    platform_positions: dict[str, tuple[float, float]],
    translations: Translations,
    feed: FeedIdentity,
    default_timezone: str,
) -> Station:
    # stop_name is shown to everyone whose language the feed does not translate to.
    # Translations come under their whole tag: ja-Hrkt (a kana reading) is kept apart from
    # ja and never replaces the name (Station.name never shows a reading for a name).
    names = {DEFAULT_LANGUAGE: stop.name}
    if feed.language:
        names[feed.language] = stop.name
    names.update(translations.of(stop))
    lat, lon = stop.lat, stop.lon
    if lat is None or lon is None:
        # A station may leave its position to its platforms.
        lat, lon = platform_positions.get(stop.id, (None, None))
    return Station(
        code=station_code(feed, stop.id),
        names=names,
        timezone=stop.timezone or default_timezone,
        lat=lat,
        lon=lon,
    )
