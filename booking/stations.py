"""Finding stations by what people type: exact names, typos, other scripts, names in a sentence.

Every name is compared in a folded form (case, accents, ё, punctuation and spacing do not
count). Russian names are also indexed transliterated, so "Moskva" finds Москва and
"Берлин" finds Berlin; a small alias list covers the nicknames people really use. In free
text, Russian words are compared by their stem, since a city name changes its ending with
the preposition before it (из Москвы, в Казань, до Санкт-Петербурга).

Everything that depends only on the stations is worked out once, in the constructor; a
lookup then costs one rapidfuzz pass over a few thousand short strings.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from booking.model import Station

# Nicknames and foreign spellings that neither fuzzy matching nor transliteration reach,
# keyed by the folded English name of the station they mean.
ALIASES: dict[str, tuple[str, ...]] = {
    "saint petersburg": ("St Petersburg", "Petersburg", "Piter", "Питер", "СПб", "Peterburg"),
    "moscow": ("Moskau", "Moscou"),
    "beijing": ("Peking", "Pékin"),
    "prague": ("Praha", "Prag"),
    "nizhny novgorod": ("Nizhniy Novgorod", "Nizhni Novgorod"),
}

# Words that mark a city's main station: "Köln" means Köln Hbf before Köln-Ehrenfeld.
MAIN_STATION_WORDS = frozenset({"hbf", "hauptbahnhof", "central", "centraal", "centrale"})

# A first word too generic to stand for a station on its own ("Bad" is not Bad Hersfeld).
_GENERIC_FIRST_WORDS = frozenset(
    {"bad", "st", "sankt", "saint", "san", "santa", "new", "la", "le", "les", "den", "am", "an",
     "im", "bei", "neu", "nove", "novy", "nowy", "velikiy", "veliky", "velik"}
)

MATCH_CUTOFF = 78  # below this a fuzzy score is noise (tuned on the DB long-distance feed)
MATCH_WINDOW = 12  # offer only stations scoring within this of the best one
PART_MATCH_WEIGHT = 0.95  # a query matching part of a name scores a little below a whole one
SHORT_QUERY = 3  # letters; shorter queries must start a word of the name

_CYRILLIC_TO_LATIN = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ж": "zh", "з": "z", "и": "i",
    "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r", "с": "s",
    "т": "t", "у": "u", "ф": "f", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "shch",
    "ъ": "", "ы": "y", "ь": "", "э": "e", "ю": "yu", "я": "ya", "і": "i", "ї": "yi", "є": "ye",
}
_TRANSLITERATION = str.maketrans(_CYRILLIC_TO_LATIN)

# Russian case endings, longest first; a stem keeps at least _MIN_STEM letters.
_RUSSIAN_ENDINGS = (
    "ами", "ями", "ого", "его", "ому", "ему", "ой", "ей", "ий", "ый", "ая", "яя", "ую", "юю",
    "ом", "ем", "ам", "ям", "ах", "ях", "ью", "ы", "и", "а", "я", "у", "ю", "е", "о", "ь", "й",
)
_MIN_STEM = 3

# One token of free text: a single CJK ideograph (Chinese is written without spaces), a run
# of other letters, or a run of digits.
_TOKEN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]|[^\W\d_\u3400-\u9fff]+|\d+")


def fold(text: str) -> str:
    """Text as names are compared: casefolded, accents and punctuation gone, single spaces.

    "Frankfurt(Main)Hbf" -> "frankfurt main hbf", "Köln" -> "koln", "Орёл" -> "орел".
    The breve of й is kept (it is a letter of its own, not an accent).
    """
    out: list[str] = []
    for char in unicodedata.normalize("NFKD", text.casefold()):
        if unicodedata.combining(char):
            if char == "\u0306" and out and out[-1] == "и":
                out[-1] = "й"
            continue
        out.append(char if char.isalnum() else " ")
    return " ".join("".join(out).split())


def transliterate(folded: str) -> str:
    """Cyrillic letters of folded text in Latin ones ("москва" -> "moskva"); others unchanged."""
    return folded.translate(_TRANSLITERATION)


def _is_cyrillic(word: str) -> bool:
    return any("\u0400" <= char <= "\u04ff" for char in word)


def _is_cjk(word: str) -> bool:
    return any("\u3400" <= char <= "\u9fff" or "\uf900" <= char <= "\ufaff" for char in word)


def _russian_stem(word: str) -> str:
    for ending in _RUSSIAN_ENDINGS:
        if word.endswith(ending) and len(word) - len(ending) >= _MIN_STEM:
            return word[: -len(ending)]
    return word


def word_key(word: str) -> str:
    """What a word of free text must equal to be a word of a station name.

    Russian words are stemmed, then transliterated, so "Москвы" and "Москва" agree and
    "Берлине" agrees with "Berlin".
    """
    folded = fold(word).replace(" ", "")
    if _is_cyrillic(folded):
        return transliterate(_russian_stem(folded))
    return folded


@dataclass(frozen=True, slots=True)
class _Phrase:
    """A station name (or its leading words) as the word keys that spell it."""

    keys: tuple[str, ...]
    station: int  # index into StationIndex.stations
    whole: bool  # the full name, not only its first words
    rank: tuple[int, int, int]  # lower first: main station, shorter name, busier station


class StationIndex:
    def __init__(self, stations: Sequence[Station]) -> None:
        """Index ``stations``; give them busiest first, since ties go to the earlier one."""
        self.stations = list(stations)
        exact: dict[str, set[int]] = {}
        fuzzy: dict[str, set[int]] = {}
        phrases: dict[str, list[_Phrase]] = {}
        self._main: list[bool] = []  # whether the station is a city's main station
        for position, station in enumerate(self.stations):
            names = self._names(station)
            main = any(set(n.split()) & MAIN_STATION_WORDS for n in names)
            self._main.append(main)
            exact.setdefault(fold(station.code).replace(" ", ""), set()).add(position)
            for name in names:
                for variant in {name, transliterate(name)}:
                    exact.setdefault(variant.replace(" ", ""), set()).add(position)
                    fuzzy.setdefault(variant, set()).add(position)
                self._add_phrases(phrases, name, position, main)
        self._exact = exact
        self._choices = list(fuzzy)
        self._choice_stations = [sorted(fuzzy[c]) for c in self._choices]
        self._phrases = phrases

    @staticmethod
    def _names(station: Station) -> list[str]:
        """Every folded name of the station: its names in each language and its aliases."""
        names = {fold(n) for n in station.names.values()}
        for name in list(names):
            names.update(fold(alias) for alias in ALIASES.get(name, ()))
        # Chinese station names often end in 站 ("station"), which people leave out.
        names.update(n[:-1] for n in list(names) if len(n) > 2 and n.endswith("站"))
        names.discard("")
        return sorted(names)

    def _add_phrases(
        self, phrases: dict[str, list[_Phrase]], name: str, position: int, main: bool
    ) -> None:
        words = [m.group() for m in _TOKEN.finditer(name)]
        if not words:
            return
        variants = [[word_key(w) for w in words]]
        if any(_is_cyrillic(w) for w in words):  # "Moskva" typed in Latin letters
            variants.append([transliterate(w) for w in words])
        rank = (0 if main else 1, len(name), position)
        for keys in variants:
            phrases.setdefault(keys[0], []).append(_Phrase(tuple(keys), position, True, rank))
            # A name's leading words may stand for it ("Köln" for Köln Hbf), but not
            # leading characters of a Chinese name, nor a generic word on its own.
            if _is_cjk(name):
                continue
            for size in range(1, len(keys)):
                lead = tuple(keys[:size])
                if size == 1 and (lead[0] in _GENERIC_FIRST_WORDS or len(lead[0]) < 3):
                    continue
                phrases[lead[0]].append(_Phrase(lead, position, False, rank))

    # ---- lookups -----------------------------------------------------------------------

    def exact(self, text: str) -> Station | None:
        """The one station named ``text`` (or with that code), ignoring case, accents,
        punctuation and spacing; None if there is none or the name is ambiguous."""
        found = self._exact.get(fold(text).replace(" ", ""), set())
        return self.stations[next(iter(found))] if len(found) == 1 else None

    def lookup(self, text: str, *, limit: int = 5) -> list[Station]:
        """The station ``text`` names exactly, alone; otherwise the ones it may mean."""
        exact = self.exact(text)
        return [exact] if exact is not None else self.match(text, limit=limit)

    def match(self, text: str, *, limit: int = 5) -> list[Station]:
        """Stations ``text`` may mean, best first; [] if nothing is plausible."""
        query = fold(text)
        if limit < 1 or not any(char.isalpha() for char in query):
            return []  # digits, emoji and punctuation name no station
        best: dict[int, tuple[float, int]] = {}  # station -> (score, -length of the name)
        # Russian words also without their case ending: "МОСКВЫ" is Москва.
        stemmed = " ".join(_russian_stem(w) if _is_cyrillic(w) else w for w in query.split())
        for variant in {query, stemmed, transliterate(query), transliterate(stemmed)}:
            for choice, score in self._scores(variant).items():
                for position in self._choice_stations[choice]:
                    entry = (score, -len(self._choices[choice]))
                    if position not in best or entry > best[position]:
                        best[position] = entry
        if not best:
            return []
        top = max(score for score, _ in best.values())
        ranked = sorted(
            (p for p, (score, _) in best.items() if score >= top - MATCH_WINDOW),
            # Equal scores: the main station, then the name closest in length, then the
            # busier station ("Berlin" offers Berlin Hbf before Berlin-Spandau).
            key=lambda p: (-best[p][0], not self._main[p], -best[p][1], p),
        )
        return [self.stations[p] for p in ranked[:limit]]

    def _scores(self, query: str) -> dict[int, float]:
        """Score of each plausible choice (by index) for the folded query.

        A name is scored as a whole (typos: "Bejing") and, if longer than the query, by
        its best-matching part ("Köln" in "Köln Hbf"), a little below a whole match. A
        name shorter than the query is never scored by part: "Vienna" is not "Unna".
        """
        scores: dict[int, float] = {}
        for _, score, index in process.extract(
            query, self._choices, scorer=fuzz.ratio, score_cutoff=MATCH_CUTOFF, limit=None
        ):
            scores[index] = score
        short = len(query.replace(" ", "")) <= SHORT_QUERY
        for _, score, index in process.extract(
            query,
            self._choices,
            scorer=fuzz.partial_ratio,
            score_cutoff=MATCH_CUTOFF / PART_MATCH_WEIGHT,
            limit=None,
        ):
            choice = self._choices[index]
            if len(choice) <= len(query):
                continue
            # Two or three letters found anywhere in a name mean nothing ("ab" in
            # "Osnabrück"); at the start of one of its words they are a fair guess.
            if short and not any(word.startswith(query) for word in choice.split()):
                continue
            scores[index] = max(scores.get(index, 0.0), score * PART_MATCH_WEIGHT)
        return scores

    def find_in(self, text: str) -> list[tuple[int, int, Station]]:
        """Station names occurring in free text, as (start, end, station), left to right.

        Matches never overlap; where several start at one word the longest wins, a full
        name beats the first words of a longer one, and a city's main station its others.
        """
        words = list(_TOKEN.finditer(text))
        keys = [word_key(w.group()) for w in words]
        found: list[tuple[int, int, Station]] = []
        at = 0
        while at < len(words):
            phrase = self._longest_phrase(keys, at)
            if phrase is None:
                at += 1
                continue
            last = at + len(phrase.keys) - 1
            found.append((words[at].start(), words[last].end(), self.stations[phrase.station]))
            at = last + 1
        return found

    def _longest_phrase(self, keys: Sequence[str], at: int) -> _Phrase | None:
        candidates: Iterable[_Phrase] = (
            p
            for p in self._phrases.get(keys[at], ())
            if tuple(keys[at : at + len(p.keys)]) == p.keys
        )
        return min(
            candidates,
            key=lambda p: (-len(p.keys), not p.whole, p.rank),
            default=None,
        )
