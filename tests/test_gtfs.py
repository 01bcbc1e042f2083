"""The GTFS reader on the two shared feeds and on small broken copies of Google's sample.

Pure: no database. Storing is tested in test_timetable_store.py.
"""

from __future__ import annotations

import logging
import shutil
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from booking.gtfs import FeedError, read_feed
from booking.stations import StationIndex
from booking.timetable import Timetable, TimetableRoute, TimetableTrip

GTFS_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "gtfs"
SAMPLE_DIR = GTFS_DATA / "google-sample-feed-1" / "sample-feed-1"
SAMPLE_ZIP = GTFS_DATA / "google-sample-feed-1" / "sample-feed-1.zip"
DB_ZIP = GTFS_DATA / "db-fernverkehr-2019" / "db-fv-gtfs-2019.zip"

MONDAY = date(2026, 6, 1)  # the sample's calendar starts on a Monday too (2007-01-01)
TODAY = date(2026, 5, 20)


def sample(days: int = 7, shift_to: date | None = MONDAY, path: Path = SAMPLE_DIR) -> Timetable:
    return read_feed(path, today=TODAY, shift_to=shift_to, days=days)


def trips_of(timetable: Timetable, trip_id: str) -> list[TimetableTrip]:
    return [t for t in timetable.trips if t.source_key.split(":")[2].split("@")[0] == trip_id]


def route_of(timetable: Timetable, trip: TimetableTrip) -> TimetableRoute:
    return next(r for r in timetable.routes if r.code == trip.route_code)


def copy_sample(tmp_path: Path) -> Path:
    folder = tmp_path / "feed"
    shutil.copytree(SAMPLE_DIR, folder)
    for path in folder.iterdir():
        path.chmod(0o644)  # the shared copies are read-only
    return folder


def edit(folder: Path, name: str, old: str, new: str) -> None:
    path = folder / name
    text = path.read_text()
    assert old in text, f"{old!r} not in {name}"
    path.write_text(text.replace(old, new, 1))


def write(folder: Path, name: str, text: str) -> None:
    (folder / name).write_text(text)


# ---- Google's sample feed -------------------------------------------------------------


def test_folder_and_zip_give_the_same_timetable() -> None:
    assert sample(path=SAMPLE_DIR) == sample(path=SAMPLE_ZIP)  # the zip has CRLF lines


def test_stations_are_named_placed_and_ranked() -> None:
    timetable = sample()
    stations = {s.code: s for s in timetable.stations}
    airport = stations["gtfs:dta:BEATTY_AIRPORT"]
    assert airport.names == {"en": "Nye County Airport (Demo)"}
    assert airport.timezone == "America/Los_Angeles"
    assert (airport.lat, airport.lon) == (36.868446, -116.784582)
    assert len(stations) == 9
    # Only stations with a trip in the window: Amargosa Valley is served at weekends.
    assert "gtfs:dta:AMV" not in {s.code for s in sample(days=1).stations}
    # The shuttle every half hour makes Stagecoach the busiest.
    assert max(timetable.popularity, key=timetable.popularity.__getitem__) == (
        "gtfs:dta:STAGECOACH"
    )


def test_times_are_in_the_agency_timezone() -> None:
    [summer] = trips_of(sample(days=1), "AB1")
    assert summer.departure_at == datetime(2026, 6, 1, 15, 0, tzinfo=UTC)  # 08:00 PDT
    [winter] = trips_of(sample(days=1, shift_to=date(2026, 12, 7)), "AB1")
    assert winter.departure_at == datetime(2026, 12, 7, 16, 0, tzinfo=UTC)  # 08:00 PST


def test_calendar_dates_remove_a_day_and_weekend_services_keep_to_weekends() -> None:
    # Unshifted, in the feed's own 2007: FULLW does not run on Monday 2007-06-04.
    timetable = read_feed(SAMPLE_DIR, today=date(2007, 6, 1), days=7)
    days = Counter(trip.service_date for trip in timetable.trips)
    assert date(2007, 6, 4) not in days
    assert date(2007, 6, 5) in days
    weekend = {t.service_date.weekday() for t in trips_of(timetable, "AAMV1")}
    assert weekend == {5, 6}


def test_shift_moves_the_calendar_by_whole_weeks() -> None:
    wednesday = date(2026, 6, 3)
    timetable = sample(days=7, shift_to=wednesday)
    days = {trip.service_date for trip in timetable.trips}
    assert min(days) == wednesday
    assert max(days) == date(2026, 6, 9)
    # Weekend-only trips still run on Saturday and Sunday only.
    assert {t.service_date for t in trips_of(timetable, "AAMV1")} == {
        date(2026, 6, 6), date(2026, 6, 7)
    }


def test_window_with_no_service_is_refused_with_the_feed_period() -> None:
    with pytest.raises(FeedError) as error:
        read_feed(SAMPLE_DIR, today=TODAY, days=14)
    assert error.value.file == "calendar.txt"
    assert error.value.line is None
    assert "2007-01-01..2010-12-31" in error.value.problem


def test_frequencies_become_runs_with_their_start_time_in_the_key() -> None:
    timetable = sample(days=1)
    shuttle = trips_of(timetable, "STBA")
    assert len(shuttle) == 32  # every 30 minutes from 06:00, ending before 22:00
    assert shuttle[0].source_key == "gtfs:dta:STBA:2026-06-01@06:00:00"
    assert shuttle[-1].departure_at == datetime(2026, 6, 2, 4, 30, tzinfo=UTC)  # 21:30 PDT
    assert len(trips_of(timetable, "CITY1")) == 4 + 12 + 12 + 18 + 6
    assert len({t.source_key for t in timetable.trips}) == len(timetable.trips)


def test_trips_with_the_same_stops_and_times_share_a_route() -> None:
    timetable = sample()
    saturday = [t for t in timetable.trips if t.service_date == date(2026, 6, 6)]
    by_trip = {t.source_key.split(":")[2]: t.route_code for t in saturday}
    assert by_trip["AAMV1"] == by_trip["AAMV3"]  # 08:00 and 13:00, same pattern
    assert by_trip["AAMV1"] != by_trip["AAMV2"]  # the other direction
    assert by_trip["AAMV1"].startswith("gtfs:dta:AAMV:")
    city1 = route_of(timetable, trips_of(timetable, "CITY1")[0])
    assert [s.seq for s in city1.stops] == [0, 1, 2, 3, 4]
    assert [(s.arrive_offset, s.depart_offset) for s in city1.stops] == [
        (0, 0), (5, 7), (12, 14), (19, 21), (26, 28)
    ]
    assert sample().routes == timetable.routes  # codes are stable from read to read


def test_route_names_and_layouts() -> None:
    timetable = sample(days=1)
    [trip] = trips_of(timetable, "AB1")
    assert route_of(timetable, trip).name == "10 Airport - Bullfrog (to Bullfrog)"
    assert route_of(timetable, trip).agency == "Demo Transit Authority"
    [layout] = timetable.layouts
    assert (layout.name, layout.capacity) == ("coach-49", 49)
    assert {t.layout_name for t in timetable.trips} == {"coach-49"}


def test_feed_fares_and_the_minimum_distance_fare() -> None:
    timetable = sample(days=1)
    [airport_bus] = trips_of(timetable, "AB1")
    route = route_of(timetable, airport_bus)
    assert route.currency == "USD"  # the feed's fares are in dollars
    assert route.fares == {(0, 1): 125}  # fare "p", 1.25, by route_id
    [city] = trips_of(timetable, "CITY1")[:1]
    city_route = route_of(timetable, city)
    # No fare rule for CITY: distance pricing, every short hop at the 5.00 minimum.
    offsets = [s.fare_offset for s in city_route.stops]
    assert offsets == sorted(offsets) and offsets[0] == 0 and offsets[-1] > 0
    assert set(city_route.fares.values()) == {500}
    assert len(city_route.fares) == 10  # all pairs of 5 stops


# ---- Deutsche Bahn 2019 ---------------------------------------------------------------


class Collected(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture(scope="module")
def db_read() -> tuple[Timetable, list[str]]:
    """Two days of the 2019 DB long-distance feed moved onto 2026-06-01 (a Monday), and
    the warnings logged while reading it (read once: it takes a few seconds)."""
    collected = Collected()
    logger = logging.getLogger("booking.gtfs")
    logger.addHandler(collected)
    try:
        timetable = read_feed(DB_ZIP, today=TODAY, shift_to=MONDAY, days=2)
    finally:
        logger.removeHandler(collected)
    return timetable, collected.messages


@pytest.fixture
def db_feed(db_read: tuple[Timetable, list[str]]) -> Timetable:
    return db_read[0]


def test_db_feed_stations_have_german_and_english_names(db_feed: Timetable) -> None:
    cologne = next(s for s in db_feed.stations if s.code == "gtfs:db:8000207")
    assert cologne.names == {"en": "Köln Hbf", "de": "Köln Hbf"}
    assert cologne.timezone == "Europe/Berlin"
    assert len(db_feed.layouts) == 1 and db_feed.layouts[0].name == "rail-car-64"


def test_db_feed_trips_are_dated_in_berlin_time(db_feed: Timetable) -> None:
    # The feed starts on Sunday 2018-12-09; shifted by whole weeks, Monday 2026-06-01
    # runs Monday 2018-12-10's timetable. ICE 1579 (trip 1) leaves Altona 10:13 CEST.
    [ice] = [t for t in db_feed.trips if t.source_key == "gtfs:db:1:2026-06-01"]
    assert ice.departure_at == datetime(2026, 6, 1, 8, 13, tzinfo=UTC)
    route = route_of(db_feed, ice)
    assert route.name == "ICE 1579 (Karlsruhe Hbf)"
    assert route.currency == "EUR"
    assert route.stops[-1].station_code == "gtfs:db:8000191"  # Karlsruhe Hbf
    assert route.stops[-1].depart_offset == 6 * 60 + 37
    assert 60_00 < route.stops[-1].fare_offset < 90_00  # about 600 km at 0.12 EUR/km
    assert {t.service_date for t in db_feed.trips} == {MONDAY, date(2026, 6, 2)}
    assert 500 < len(db_feed.trips) < 1500


def test_db_feed_trips_going_back_in_time_are_skipped_with_a_warning(
    db_read: tuple[Timetable, list[str]],
) -> None:
    # Three Moscow trains whose times jump back an hour or two at the Polish border.
    timetable, warnings = db_read
    assert len(warnings) == 3
    assert warnings[0].startswith(
        "stop_times.txt line 41660: trip '2718' arrives 33:01:00, before it left the stop "
        "before (33:49:00): times go backwards"
    )
    assert not any(key.startswith(("gtfs:db:2718:", "gtfs:db:2721:", "gtfs:db:4026:"))
                   for key in (t.source_key for t in timetable.trips))


# ---- smaller features, on edited copies of the sample ----------------------------------


def test_platforms_fold_into_their_parent_station(tmp_path: Path) -> None:
    folder = copy_sample(tmp_path)
    write(folder, "stops.txt", (
        "stop_id,stop_name,stop_lat,stop_lon,location_type,parent_station,stop_timezone\n"
        "HBF,Hauptbahnhof,,,1,,Europe/Berlin\n"
        "HBF_1,Hauptbahnhof Gleis 1,52.5,13.3,0,HBF,\n"
        "HBF_2,Hauptbahnhof Gleis 2,52.5,13.3,0,HBF,\n"
        "ZOO,Zoo,52.51,13.33,,,\n"
    ))
    write(folder, "stop_times.txt", (
        "trip_id,arrival_time,departure_time,stop_id,stop_sequence\n"
        "AB1,8:00:00,8:00:00,HBF_1,10\n"
        "AB1,8:10:00,8:10:00,ZOO,20\n"
        "AB2,9:00:00,9:00:00,ZOO,1\n"
        "AB2,9:10:00,9:10:00,HBF_2,2\n"
    ))
    for name in ("frequencies.txt", "fare_rules.txt"):
        (folder / name).unlink()
    _keep_only_trips(folder, {"AB1", "AB2"})
    timetable = sample(days=1, path=folder)
    assert [s.code for s in timetable.stations] == ["gtfs:dta:HBF", "gtfs:dta:ZOO"]
    hbf = timetable.stations[0]
    assert hbf.names["en"] == "Hauptbahnhof"
    assert hbf.timezone == "Europe/Berlin"
    assert (hbf.lat, hbf.lon) == (52.5, 13.3)  # from its platform
    assert timetable.popularity == {"gtfs:dta:HBF": 2, "gtfs:dta:ZOO": 2}


def _keep_only_trips(folder: Path, keep: set[str]) -> None:
    lines = (folder / "trips.txt").read_text().splitlines(keepends=True)
    (folder / "trips.txt").write_text(
        "".join([lines[0], *(line for line in lines[1:] if line.split(",")[2] in keep)])
    )


def test_translations_in_both_formats(tmp_path: Path) -> None:
    folder = copy_sample(tmp_path)
    write(folder, "translations.txt", (
        "table_name,field_name,language,translation,record_id,record_sub_id,field_value\n"
        "stops,stop_name,ru,Аэропорт,BEATTY_AIRPORT,,\n"
        "stops,stop_name,zh-Hans,牛蛙,,,Bullfrog (Demo)\n"
        "routes,route_long_name,ru,Город,CITY,,\n"
    ))
    stations = {s.code: s for s in sample(days=1, path=folder).stations}
    assert stations["gtfs:dta:BEATTY_AIRPORT"].names["ru"] == "Аэропорт"
    # A script is part of the tag, kept apart from plain zh; Chinese readers get it.
    assert stations["gtfs:dta:BULLFROG"].names["zh-Hans"] == "牛蛙"
    assert stations["gtfs:dta:BULLFROG"].name("zh") == "牛蛙"
    write(folder, "translations.txt", "trans_id,lang,translation\nBullfrog (Demo),ru,Буллфрог\n")
    stations = {s.code: s for s in sample(days=1, path=folder).stations}
    assert stations["gtfs:dta:BULLFROG"].names == {"en": "Bullfrog (Demo)", "ru": "Буллфрог"}


def test_japanese_names_keep_their_kanji_and_readings_stay_apart(tmp_path: Path) -> None:
    """A feed in Japanese with both ja and ja-Hrkt (kana reading) rows: the reading once
    overwrote the name, so Japanese readers saw こうだい, and 工大 showed only in English."""
    folder = copy_sample(tmp_path)
    edit(folder, "stops.txt", "Bullfrog (Demo)", "工大")
    write(folder, "feed_info.txt", (
        "feed_publisher_name,feed_publisher_url,feed_lang\nDemo,http://example.com,ja\n"
    ))
    write(folder, "translations.txt", (
        "table_name,field_name,language,translation,record_id,record_sub_id,field_value\n"
        "stops,stop_name,ja,工大,BULLFROG,,\n"
        "stops,stop_name,ja-Hrkt,こうだい,BULLFROG,,\n"
        "stops,stop_name,en,Kodai,BULLFROG,,\n"
        "stops,stop_name,zh-Hant,工大站,BULLFROG,,\n"
        "stops,stop_name,SR-latn,Kodai Latinica,BULLFROG,,\n"
    ))
    [station] = [s for s in sample(days=1, path=folder).stations if s.code.endswith("BULLFROG")]
    assert station.names == {"en": "Kodai", "ja": "工大", "ja-Hrkt": "こうだい",
                             "zh-Hant": "工大站", "sr-Latn": "Kodai Latinica"}
    assert (station.name("ja"), station.name("en"), station.name("zh")) == (
        "工大", "Kodai", "工大站")
    assert station.name("sr") == "Kodai Latinica"
    # The reading still finds the station.
    assert StationIndex([station]).match("こうだい") == [station]


def test_a_reading_alone_is_never_shown_as_the_name(tmp_path: Path) -> None:
    folder = copy_sample(tmp_path)
    edit(folder, "stops.txt", "Bullfrog (Demo)", "工大")
    write(folder, "translations.txt", (
        "table_name,field_name,language,translation,record_id,record_sub_id,field_value\n"
        "stops,stop_name,ja-Hrkt,こうだい,BULLFROG,,\n"
    ))
    [station] = [s for s in sample(days=1, path=folder).stations if s.code.endswith("BULLFROG")]
    assert station.name("ja") == station.name("ru") == "工大"


def test_a_translation_language_that_is_no_tag_is_refused(tmp_path: Path) -> None:
    folder = copy_sample(tmp_path)
    write(folder, "translations.txt", (
        "table_name,field_name,language,translation,record_id,record_sub_id,field_value\n"
        "stops,stop_name,ru,Аэропорт,BEATTY_AIRPORT,,\n"
        "stops,stop_name,ja Hrkt!,こうだい,BULLFROG,,\n"
    ))
    with pytest.raises(FeedError) as error:
        sample(days=1, path=folder)
    assert (error.value.file, error.value.line) == ("translations.txt", 3)
    assert "language" in error.value.problem


def test_stops_without_times_are_placed_evenly(tmp_path: Path) -> None:
    folder = copy_sample(tmp_path)
    edit(folder, "stop_times.txt", "CITY1,6:05:00,6:07:00,NANAA", "CITY1,,,NANAA")
    edit(folder, "stop_times.txt", "CITY1,6:12:00,6:14:00,NADAV", "CITY1,,,NADAV")
    timetable = sample(days=1, path=folder)
    route = route_of(timetable, trips_of(timetable, "CITY1")[0])
    # 06:00 at Stagecoach, 06:19 at Doing Ave: the two stops between at 06:06 and 06:12.
    assert [s.arrive_offset for s in route.stops] == [0, 6, 12, 19, 26]


def test_dst_day_counts_from_noon_minus_twelve_hours(tmp_path: Path) -> None:
    # On the day US clocks spring forward (2026-03-08) GTFS times count from 23:00
    # PST the evening before, so "01:30:00" is 00:30 PST, 08:30 UTC.
    folder = copy_sample(tmp_path)
    edit(folder, "stop_times.txt", "AB1,8:00:00,8:00:00", "AB1,1:30:00,1:30:00")
    timetable = read_feed(folder, today=TODAY, shift_to=date(2026, 3, 2), days=7)
    [trip] = [t for t in trips_of(timetable, "AB1") if t.service_date == date(2026, 3, 8)]
    assert trip.departure_at == datetime(2026, 3, 8, 8, 30, tzinfo=UTC)


def test_times_past_midnight_belong_to_the_service_day(tmp_path: Path) -> None:
    folder = copy_sample(tmp_path)
    edit(folder, "stop_times.txt", "AB1,8:00:00,8:00:00", "AB1,25:00:00,25:00:00")
    edit(folder, "stop_times.txt", "AB1,8:10:00,8:15:00", "AB1,25:10:00,25:15:00")
    [trip] = trips_of(sample(days=1, path=folder), "AB1")
    assert trip.service_date == MONDAY
    assert trip.departure_at == datetime(2026, 6, 2, 8, 0, tzinfo=UTC)  # Tue 01:00 PDT


# ---- broken feeds ---------------------------------------------------------------------

ST = "stop_times.txt"
BROKEN: list[tuple[str, str, str, str, int | None, str]] = [
    # (file edited, old text, new text, file named, line, problem)
    (ST, "AB1,8:10:00,8:15:00,BULLFROG", "AB1,8:10:00,8:15:00,NOWHERE", ST, 15,
     "unknown stop_id 'NOWHERE'"),
    (ST, "AB1,8:10:00,", "AB1,25:61:00,", ST, 15,
     "bad time '25:61:00' in arrival_time (expected H:MM:SS)"),
    (ST, "AB1,8:10:00,8:15:00", "AB1,8:10:00,abc", ST, 15,
     "bad time 'abc' in departure_time (expected H:MM:SS)"),
    (ST, "AB2,12:05:00", "AB9,12:05:00", ST, 16, "unknown trip_id 'AB9'"),
    (ST, "AB2,12:15:00,12:15:00,BEATTY_AIRPORT,2,,,,\n", "", ST, 16,
     "trip 'AB2' has only one stop"),
    (ST, "BULLFROG,2,", "BULLFROG,1,", ST, 15, "stop_sequence 1 twice in trip 'AB1'"),
    (ST, "trip_id,arrival_time,departure_time,stop_id", "trip_id,arrival_time,departure_time,stop",
     ST, 1, "missing column stop_id"),
    ("calendar.txt", "20070101,20101231", "20191332,20101231", "calendar.txt", 2,
     "bad date '20191332' in start_date (expected YYYYMMDD)"),
    ("calendar.txt", "FULLW,1,1", "FULLW,2,1", "calendar.txt", 2,
     "bad monday '2' (expected one of 0, 1)"),
    ("calendar_dates.txt", "20070604,2", "20070604,3", "calendar_dates.txt", 2,
     "bad exception_type '3' (expected one of 1, 2)"),
    ("agency.txt", "America/Los_Angeles", "Mars/Olympus_Mons", "agency.txt", 2,
     "unknown timezone 'Mars/Olympus_Mons' in agency_timezone"),
    ("trips.txt", "AB,FULLW,AB1", "XX,FULLW,AB1", "trips.txt", 2, "unknown route_id 'XX'"),
    ("trips.txt", "AB,FULLW,AB2", "AB,NEVER,AB2", "trips.txt", 3, "unknown service_id 'NEVER'"),
    ("routes.txt", "Airport - Bullfrog,,3", "Airport - Bullfrog,,bus", "routes.txt", 2,
     "bad number 'bus' in route_type"),
    ("routes.txt", "AB,DTA,10", "AB,XYZ,10", "routes.txt", 2, "unknown agency_id 'XYZ'"),
    ("stops.txt", "AMV,Amargosa Valley (Demo),,36.641496", "AMV,Amargosa Valley (Demo),,136.6",
     "stops.txt", 10, "stop_lat 136.6 is outside -90..90"),
    ("stops.txt", "NADAV,North Ave", "NANAA,North Ave", "stops.txt", 7,
     "stop_id 'NANAA' appears twice"),
    ("frequencies.txt", "STBA,6:00:00,22:00:00,1800", "STBA,6:00:00,22:00:00,0",
     "frequencies.txt", 2, "headway_secs must be positive, not 0"),
    ("fare_rules.txt", "a,AAMV", "b,AAMV", "fare_rules.txt", 5, "unknown fare_id 'b'"),
    # Issue 9: what a use case would refuse does not get in through a feed either.
    ("fare_attributes.txt", "a,5.25,USD", "a,5.25,EURO", "fare_attributes.txt", 3,
     "unknown currency_type 'EURO' (expected an ISO 4217 code such as EUR)"),
    ("fare_attributes.txt", "p,1.25,USD", "p,1.25,ABC", "fare_attributes.txt", 2,
     "unknown currency_type 'ABC' (expected an ISO 4217 code such as EUR)"),
    ("fare_attributes.txt", "p,1.25,USD", "p,21474836.48,USD", "fare_attributes.txt", 2,
     "price 21474836.48 USD is more than a fare can be"),
    ("fare_attributes.txt", "p,1.25,USD", "p,1e400,USD", "fare_attributes.txt", 2,
     "price 1e400 USD is more than a fare can be"),
    ("agency.txt", "Demo Transit Authority", "D" * 201, "agency.txt", 2,
     "agency_name is 201 characters long, more than 200"),
    ("stops.txt", "Nye County Airport (Demo)", "N" * 201, "stops.txt", 3,
     "stop_name is 201 characters long, more than 200"),
    ("stops.txt", "Nye County Airport (Demo)", "Nye\x00County", "stops.txt", 3,
     "stop_name holds the control character U+0000"),
    ("stops.txt", "Nye County Airport (Demo)", "Nye\x1b[2J", "stops.txt", 3,
     "stop_name holds the control character U+001B"),
    ("stops.txt", "Nye County Airport (Demo)", "\"Nye\tCounty\"", "stops.txt", 3,
     "stop_name holds the control character U+0009"),
    ("agency.txt", "Demo Transit Authority", "Demo\x07Transit", "agency.txt", 2,
     "agency_name holds the control character U+0007"),
    ("routes.txt", "Airport - Bullfrog,,3", "Airport\x7f - Bullfrog,,3", "routes.txt", 2,
     "route_long_name holds the control character U+007F"),
    ("trips.txt", "AB,FULLW,AB1,to Bullfrog", "AB,FULLW,AB1,to\x85 Bullfrog", "trips.txt", 2,
     "trip_headsign holds the control character U+0085"),
    # A quote left open swallows the lines after it: reported where it opens.
    ("stops.txt", "BEATTY_AIRPORT,Nye County Airport (Demo)",
     'BEATTY_AIRPORT,"Nye County Airport (Demo)', "stops.txt", 3,
     "a quoted value runs past the end of this line (is a closing quote missing?)"),
    ("stop_times.txt", "AB1,8:10:00,8:15:00,BULLFROG", 'AB1,"8:10:00,8:15:00,BULLFROG', ST, 15,
     "a quoted value runs past the end of this line (is a closing quote missing?)"),
]


@pytest.mark.parametrize(
    ("edited", "old", "new", "file", "line", "problem"), BROKEN,
    ids=[case[5].split(" (")[0] for case in BROKEN],
)
def test_broken_feed_names_file_line_and_problem(
    tmp_path: Path, edited: str, old: str, new: str, file: str, line: int | None, problem: str
) -> None:
    folder = copy_sample(tmp_path)
    edit(folder, edited, old, new)
    with pytest.raises(FeedError) as error:
        sample(path=folder)
    assert (error.value.file, error.value.line, error.value.problem) == (file, line, problem)
    assert str(error.value) == f"{file} line {line}: {problem}"


@pytest.mark.parametrize(
    ("times", "problem"),
    [
        ("7:50:00,8:15:00", "trip 'AB1' arrives 07:50:00, before it left the stop before "
                            "(08:00:00): times go backwards"),
        ("8:15:00,8:10:00", "trip 'AB1' departs 08:10:00 before it arrives 08:15:00"),
    ],
)
def test_trips_going_backwards_are_refused_when_strict(
    tmp_path: Path, times: str, problem: str
) -> None:
    folder = copy_sample(tmp_path)
    edit(folder, ST, "AB1,8:10:00,8:15:00", f"AB1,{times}")
    with pytest.raises(FeedError) as error:
        read_feed(folder, today=TODAY, shift_to=MONDAY, strict=True)
    assert str(error.value) == f"stop_times.txt line 15: {problem}"
    lenient = sample(path=folder)  # by default the trip is skipped and the rest imports
    assert not trips_of(lenient, "AB1") and trips_of(lenient, "AB2")


@pytest.mark.parametrize("missing", ["agency.txt", "stops.txt", "routes.txt", "trips.txt", ST])
def test_missing_required_file(tmp_path: Path, missing: str) -> None:
    folder = copy_sample(tmp_path)
    (folder / missing).unlink()
    with pytest.raises(FeedError) as error:
        sample(path=folder)
    assert str(error.value) == f"{missing}: required file is missing"


def test_a_calendar_file_is_required(tmp_path: Path) -> None:
    folder = copy_sample(tmp_path)
    (folder / "calendar_dates.txt").unlink()
    sample(path=folder)  # calendar.txt alone is enough
    (folder / "calendar.txt").unlink()
    with pytest.raises(FeedError) as error:
        sample(path=folder)
    assert error.value.file == "calendar.txt" and error.value.line is None


def test_trip_without_stop_times(tmp_path: Path) -> None:
    folder = copy_sample(tmp_path)
    edit(folder, ST, "AB2,12:05:00,12:05:00,BULLFROG,1,,,,\n", "")
    edit(folder, ST, "AB2,12:15:00,12:15:00,BEATTY_AIRPORT,2,,,,\n", "")
    with pytest.raises(FeedError) as error:
        sample(path=folder)
    assert str(error.value) == "trips.txt line 3: trip 'AB2' has no stop times"


def test_text_that_is_not_utf8(tmp_path: Path) -> None:
    folder = copy_sample(tmp_path)
    stops = (folder / "stops.txt").read_bytes().replace(b"Bullfrog (Demo)", b"Bullfr\xf6g")
    (folder / "stops.txt").write_bytes(stops)
    with pytest.raises(FeedError) as error:
        sample(path=folder)
    assert str(error.value) == "stops.txt line 4: not UTF-8 text"


def test_not_a_feed(tmp_path: Path) -> None:
    bogus = tmp_path / "feed.zip"
    bogus.write_text("hello")
    with pytest.raises(FeedError) as error:
        sample(path=bogus)
    assert error.value.file == "feed.zip" and error.value.line is None
    with pytest.raises(FeedError, match="no such file or folder"):
        sample(path=tmp_path / "nothing-here")


def test_a_quote_left_open_is_reported_where_it_opens_even_when_it_closes_later(
    tmp_path: Path,
) -> None:
    """The reader resynchronises at the next quote and would fail lines later, on a row
    mixed from two, with an unrelated problem."""
    folder = copy_sample(tmp_path)
    edit(folder, "stops.txt", "BEATTY_AIRPORT,Nye County Airport (Demo)",
         'BEATTY_AIRPORT,"Nye County Airport (Demo)')
    edit(folder, "stops.txt", "NADAV,North Ave / D Ave N (Demo)",
         'NADAV,North Ave / D Ave N (Demo)"')
    with pytest.raises(FeedError) as error:
        sample(path=folder)
    assert (error.value.file, error.value.line) == ("stops.txt", 3)


def test_an_over_long_field_is_reported_where_its_quote_opens(tmp_path: Path) -> None:
    """A quote left open in a long file makes the reader fail on a field too large, at
    the end: the line reported is still the one with the quote."""
    folder = copy_sample(tmp_path)
    edit(folder, "stops.txt", "BEATTY_AIRPORT,Nye County Airport (Demo)",
         'BEATTY_AIRPORT,"Nye County Airport (Demo)')
    with (folder / "stops.txt").open("a") as stops:
        for n in range(20000):
            stops.write(f"X{n},Filler stop {n} with a long enough name,,36.0,-116.0,,\n")
    with pytest.raises(FeedError) as error:
        sample(path=folder)
    assert (error.value.file, error.value.line) == ("stops.txt", 3)


def test_names_at_their_limit_and_currencies_in_lower_case_are_imported(
    tmp_path: Path,
) -> None:
    folder = copy_sample(tmp_path)
    edit(folder, "agency.txt", "Demo Transit Authority", "D" * 200)
    edit(folder, "stops.txt", "Nye County Airport (Demo)", "N" * 200)
    edit(folder, "fare_attributes.txt", "p,1.25,USD", "p,1.25,usd")
    edit(folder, "fare_attributes.txt", "a,5.25,USD", "a,5.25,usd")
    timetable = sample(days=1, path=folder)
    assert {r.agency for r in timetable.routes} == {"D" * 200}
    assert {r.currency for r in timetable.routes} == {"USD"}
    airport = next(s for s in timetable.stations if s.code == "gtfs:dta:BEATTY_AIRPORT")
    assert airport.names == {"en": "N" * 200}


def test_a_default_currency_that_is_no_iso_code_is_refused() -> None:
    with pytest.raises(ValueError, match="ISO 4217"):
        read_feed(SAMPLE_DIR, today=TODAY, shift_to=MONDAY, default_currency="EURO")
