"""Station matching: exact names, fuzzy typing in three scripts, names inside sentences."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import date
from pathlib import Path

import pytest

from booking.demo_network import demo_timetable
from booking.model import Station
from booking.stations import StationIndex, fold, transliterate, word_key

DB_ZIP = (
    Path(__file__).resolve().parents[1].parent
    / "shared" / "data" / "gtfs" / "db-fernverkehr-2019" / "db-fv-gtfs-2019.zip"
)

# Names as the Deutsche Bahn feed spells them, busiest first as the catalogue lists them.
DB_NAMES = [
    "Berlin Hbf", "Köln Hbf", "Frankfurt(Main)Hbf", "München Hbf", "Hamburg Hbf",
    "Berlin Hbf (tief)", "Berlin Südkreuz", "Berlin-Spandau", "Berlin Gesundbrunnen",
    "Berlin Ostbahnhof", "Berlin Zoologischer Garten", "Bernau(b Berlin)", "Köln Messe/Deutz",
    "Köln-Ehrenfeld", "Köln/Bonn Flughafen", "Frankfurt(Oder)", "Frankfurt(Main)Süd",
    "Frankfurt(M) Flughafen Fernbf", "München Ost", "München-Pasing", "Hamburg-Altona",
    "St.Pölten Hbf", "Zürich HB", "Bad Hersfeld", "Düsseldorf Hbf", "Wien Hbf",
    "Amsterdam Centraal", "Brig", "Hof Hbf",
]


def db_station(name: str, number: int) -> Station:
    return Station(f"gtfs:db:{800000 + number}", {"de": name}, "Europe/Berlin")


@pytest.fixture(scope="module")
def demo() -> StationIndex:
    """The demo network's 21 cities, named in English, Chinese and Russian."""
    return StationIndex(demo_timetable(date(2026, 6, 1)).stations)


@pytest.fixture(scope="module")
def db() -> StationIndex:
    """A slice of the DB long-distance feed's station names."""
    return StationIndex([db_station(n, i) for i, n in enumerate(DB_NAMES)])


def names(stations: list[Station]) -> list[str]:
    return [s.name("de") for s in stations]


# ---- folding -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("Frankfurt(Main)Hbf", "frankfurt main hbf"),
        ("  Köln  Hbf ", "koln hbf"),
        ("St.Pölten", "st polten"),
        ("Орёл", "орел"),
        ("Нижний", "нижний"),  # й is a letter, not и with an accent
        ("Straße", "strasse"),
        ("ＢＥＲＬＩＮ", "berlin"),  # full-width letters from a Chinese keyboard
        ("北京", "北京"),
        ("🚂!!", ""),
    ],
)
def test_fold(text: str, folded: str) -> None:
    assert fold(text) == folded


def test_transliteration_and_word_keys() -> None:
    assert transliterate("санкт петербург") == "sankt peterburg"
    assert word_key("Москвы") == word_key("Москва") == "moskv"
    assert word_key("Берлине") == "berlin"
    assert word_key("Köln") == "koln"


# ---- exact -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Beijing", "BJS"),
        ("  BEIJING ", "BJS"),
        ("北京", "BJS"),
        ("Пекин", "BJS"),
        ("санкт петербург", "LED"),
        ("Sankt-Peterburg", "LED"),  # the Russian name in Latin letters
        ("saint-petersburg", "LED"),
        ("SaintPetersburg", "LED"),
        ("Питер", "LED"),
        ("St. Petersburg", "LED"),
        ("Нижний Новгород", "NNV"),
        ("Chebоksary", None),  # a Cyrillic о among Latin letters is still not a name
        ("KZN", "KZN"),
        ("kzn", "KZN"),
        ("Kaza", None),
        ("", None),
    ],
)
def test_exact_in_the_demo_network(demo: StationIndex, text: str, code: str | None) -> None:
    found = demo.exact(text)
    assert (found.code if found else None) == code


def test_exact_ignores_accents_punctuation_and_spacing(db: StationIndex) -> None:
    for text in ("koln hbf", "KÖLN-HBF", "Köln Hbf."):
        assert names([db.exact(text)]) == ["Köln Hbf"]  # type: ignore[list-item]
    assert names([db.exact("frankfurt main hbf")]) == ["Frankfurt(Main)Hbf"]  # type: ignore[list-item]
    assert names([db.exact("St Polten Hbf")]) == ["St.Pölten Hbf"]  # type: ignore[list-item]
    assert db.exact("Köln") is None  # a city with several stations is not one station


def test_exact_is_none_when_two_stations_share_a_name() -> None:
    index = StationIndex([db_station("Neustadt", 1), db_station("Neustadt", 2)])
    assert index.exact("Neustadt") is None
    assert len(index.match("Neustadt")) == 2


# ---- fuzzy -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Bejing", "BJS"),
        ("beijng", "BJS"),
        ("Moskva", "MOW"),
        ("moscow", "MOW"),
        ("москва", "MOW"),
        ("МОСКВЫ", "MOW"),
        ("Moskau", "MOW"),
        ("Sankt Peterburg", "LED"),
        ("St Petersburg", "LED"),
        ("Petersburg", "LED"),
        ("Питер", "LED"),
        ("Shanhai", "SHA"),
        ("上海", "SHA"),
        ("Kazn", "KZN"),
        ("Казани", "KZN"),
        ("Nizhny", "NNV"),
        ("Praha", "PRG"),
        ("Берлин", "BER"),  # Russian letters for a city named in Russian too
        ("Drezden", "DRS"),
        ("北京站", "BJS"),
    ],
)
def test_match_puts_the_meant_station_first(demo: StationIndex, text: str, code: str) -> None:
    found = demo.match(text)
    assert found, text
    assert found[0].code == code


@pytest.mark.parametrize("text", ["xyzzy", "12345", "🚂🚌", "", "   ", "!!!", "qwerty", "hello"])
def test_match_nonsense_finds_nothing(demo: StationIndex, db: StationIndex, text: str) -> None:
    assert demo.match(text) == []
    assert db.match(text) == []


def test_match_in_db_feed_names(db: StationIndex) -> None:
    assert names(db.match("Köln"))[0] == "Köln Hbf"
    assert names(db.match("Koln"))[0] == "Köln Hbf"
    assert names(db.match("Frankfurt"))[0] == "Frankfurt(Main)Hbf"
    assert names(db.match("Munchen"))[0] == "München Hbf"
    assert names(db.match("Muenchen"))[0] == "München Hbf"
    assert names(db.match("Zurich"))[0] == "Zürich HB"
    assert names(db.match("Dusseldorf"))[0] == "Düsseldorf Hbf"
    assert names(db.match("Frankfurt Flughafen")) == ["Frankfurt(M) Flughafen Fernbf"]


def test_typing_a_city_offers_all_its_stations(db: StationIndex) -> None:
    berlin = names(db.match("Berlin", limit=10))
    assert berlin[0] == "Berlin Hbf"  # the main station first
    assert set(berlin) >= {
        "Berlin Hbf", "Berlin Hbf (tief)", "Berlin Südkreuz", "Berlin-Spandau",
        "Berlin Gesundbrunnen", "Berlin Ostbahnhof", "Berlin Zoologischer Garten",
    }
    assert len(db.match("Berlin")) == 5  # the default limit


def test_match_respects_limit(db: StationIndex) -> None:
    assert len(db.match("Berlin", limit=2)) == 2
    assert db.match("Berlin", limit=0) == []


def test_short_input_is_ambiguous_but_starts_a_word(db: StationIndex) -> None:
    found = names(db.match("Ber", limit=10))
    assert len(found) > 1
    assert all(any(w.startswith("ber") for w in fold(n).split()) for n in found)
    # Letters in the middle of a word are not a guess: "ab" is not Amsterdam Centraal.
    assert db.match("ab") == []


def test_a_longer_query_is_not_matched_by_a_shorter_name_inside_it(db: StationIndex) -> None:
    assert "Brig" not in names(db.match("Brighton"))
    assert db.match("Vienna") == []


def test_whole_db_feed(demo: StationIndex) -> None:
    with zipfile.ZipFile(DB_ZIP) as feed, feed.open("stops.txt") as raw:
        rows = list(csv.DictReader(io.TextIOWrapper(raw, "utf-8-sig")))
    stations = [db_station(r["stop_name"], i) for i, r in enumerate(rows)]
    index = StationIndex(stations)
    assert len(index.stations) > 600
    assert names(index.match("Köln"))[0] == "Köln Hbf"
    assert names(index.match("Hamburg"))[0] == "Hamburg Hbf"
    assert names(index.match("Hanover"))[0] == "Hannover Hbf"
    assert names(index.match("Nurnberg"))[0] == "Nürnberg Hbf"
    assert index.match("xyzzy") == []
    text = "из Берлина во Франкфурт"  # Russian names that transliterate to the German ones
    assert [names([s])[0] for _, _, s in index.find_in(text)] == [
        "Berlin Hbf", "Frankfurt(Main)Hbf"
    ]


# ---- in free text ------------------------------------------------------------------------


def spans(index: StationIndex, text: str) -> list[tuple[str, str]]:
    """Each station found in ``text`` as (the words it was found in, its code)."""
    return [(text[start:end], station.code) for start, end, station in index.find_in(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Beijing to Tianjin", [("Beijing", "BJS"), ("Tianjin", "TSN")]),
        ("из Москвы в Казань", [("Москвы", "MOW"), ("Казань", "KZN")]),
        ("до Санкт-Петербурга", [("Санкт-Петербурга", "LED")]),
        ("в Нижний Новгород завтра", [("Нижний Новгород", "NNV")]),
        ("из Нижнего Новгорода в Москву", [("Нижнего Новгорода", "NNV"), ("Москву", "MOW")]),
        ("в Великий Новгород", [("Великий Новгород", "VNO")]),
        ("из Твери в Питер", [("Твери", "TVR"), ("Питер", "LED")]),
        ("北京到天津明天2张", [("北京", "BJS"), ("天津", "TSN")]),
        ("从上海到杭州 12月25日 两张", [("上海", "SHA"), ("杭州", "HGH")]),
        ("去下诺夫哥罗德", [("下诺夫哥罗德", "NNV")]),
        ("Berlin - Prague 2026-12-25", [("Berlin", "BER"), ("Prague", "PRG")]),
        ("moskva to st petersburg", [("moskva", "MOW"), ("st petersburg", "LED")]),
        ("Берлин Прага", [("Берлин", "BER"), ("Прага", "PRG")]),
        ("hello there", []),
        ("", []),
    ],
)
def test_find_in_demo(demo: StationIndex, text: str, expected: list[tuple[str, str]]) -> None:
    assert spans(demo, text) == expected


def test_find_in_prefers_the_longest_name(db: StationIndex) -> None:
    # A span runs from the first word of the name to its last: the ")" is not a word.
    assert db_spans(db, "Berlin Hbf (tief) nach Köln Messe/Deutz") == [
        ("Berlin Hbf (tief", "Berlin Hbf (tief)"), ("Köln Messe/Deutz", "Köln Messe/Deutz")
    ]
    assert db_spans(db, "Berlin Hbf") == [("Berlin Hbf", "Berlin Hbf")]


def test_find_in_takes_a_city_for_its_main_station(db: StationIndex) -> None:
    assert db_spans(db, "from Köln to Frankfurt tomorrow") == [
        ("Köln", "Köln Hbf"), ("Frankfurt", "Frankfurt(Main)Hbf")
    ]
    assert db_spans(db, "Frankfurt Oder") == [("Frankfurt Oder", "Frankfurt(Oder)")]


def test_find_in_ignores_generic_first_words(db: StationIndex) -> None:
    assert db_spans(db, "bad weather in Hof") == [("Hof", "Hof Hbf")]  # not Bad Hersfeld
    assert db_spans(db, "Bad Hersfeld") == [("Bad Hersfeld", "Bad Hersfeld")]


def db_spans(index: StationIndex, text: str) -> list[tuple[str, str]]:
    return [(text[a:b], s.name("de")) for a, b, s in index.find_in(text)]


def test_an_empty_index_finds_nothing() -> None:
    index = StationIndex([])
    assert index.match("Berlin") == []
    assert index.exact("Berlin") is None
    assert index.find_in("Berlin to Prague") == []
