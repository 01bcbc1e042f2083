"""Reading a feed's files, from a zip or a folder, as records that know their line.

Every value read through a ``Record`` that does not parse becomes a ``FeedError`` naming
the file and line, so the readers above never deal with raw ``ValueError``s.

Every row is checked against what no stored text may hold (booking/limits.py): a NUL,
another control character (a tab or line break inside a value included) or an unpaired
surrogate is refused at its line, on either database, rather than stored by SQLite and
a traceback on PostgreSQL. A value spanning lines is a quote left open, reported at the
line where it opens.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import IO

from booking import limits
from booking.gtfs.errors import FeedError

# 6:00:00 and 25:10:00 are fine (a service day can run past midnight); 25:61:00 is not.
_TIME = re.compile(r"^(\d{1,3}):([0-5]\d):([0-5]\d)$")
_DATE = re.compile(r"^\d{8}$")


@lru_cache(maxsize=65536)  # a feed repeats the same few thousand times and dates
def parse_time(text: str) -> int | None:
    """Seconds after the service day's noon-minus-12h, or None if ``text`` is no GTFS time."""
    match = _TIME.match(text)
    if match is None:
        return None
    hours, minutes, seconds = (int(part) for part in match.groups())
    return hours * 3600 + minutes * 60 + seconds


@lru_cache(maxsize=65536)
def parse_date(text: str) -> date | None:
    """The date of a GTFS ``YYYYMMDD`` value, or None if it is not a real date."""
    if _DATE.match(text) is None:
        return None
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class Record:
    """One row of a feed file: its values by column name, and where it came from."""

    file: str
    line: int
    columns: dict[str, int]  # shared by every row of the file: no dict per row
    cells: list[str]

    def has_column(self, column: str) -> bool:
        return column in self.columns

    def get(self, column: str) -> str:
        index = self.columns.get(column)
        if index is None or index >= len(self.cells):
            return ""
        return self.cells[index].strip()

    def error(self, problem: str) -> FeedError:
        return FeedError(self.file, self.line, problem)

    def required(self, column: str) -> str:
        value = self.get(column)
        if not value:
            raise self.error(f"{column} is empty")
        return value

    def text(self, column: str, max_length: int, *, required: bool = True) -> str:
        """A value that will be stored as text: at most ``max_length`` characters."""
        value = self.required(column) if required else self.get(column)
        if len(value) > max_length:
            raise self.error(f"{column} is {len(value)} characters long, more than {max_length}")
        return value

    def time(self, column: str) -> int | None:
        """A GTFS time in seconds; None when the cell is empty (a non-timepoint stop)."""
        text = self.get(column)
        if not text:
            return None
        seconds = parse_time(text)
        if seconds is None:
            raise self.error(f"bad time {text!r} in {column} (expected H:MM:SS)")
        return seconds

    def date(self, column: str) -> date:
        text = self.required(column)
        parsed = parse_date(text)
        if parsed is None:
            raise self.error(f"bad date {text!r} in {column} (expected YYYYMMDD)")
        return parsed

    def integer(self, column: str, default: int | None = None) -> int:
        text = self.get(column)
        if not text and default is not None:
            return default
        try:
            return int(self.required(column))
        except ValueError:
            raise self.error(f"bad number {text!r} in {column}") from None

    def number(self, column: str, low: float, high: float) -> float | None:
        """A decimal number within [low, high], or None when the cell is empty."""
        text = self.get(column)
        if not text:
            return None
        try:
            value = float(text)
        except ValueError:
            raise self.error(f"bad number {text!r} in {column}") from None
        if not low <= value <= high:
            raise self.error(f"{column} {text} is outside {low}..{high}")
        return value

    def choice(self, column: str, allowed: Sequence[str], default: str | None = None) -> str:
        text = self.get(column) or default or ""
        if text not in allowed:
            raise self.error(f"bad {column} {text!r} (expected one of {', '.join(allowed)})")
        return text


_OPEN_QUOTE = "a quoted value runs past the end of this line (is a closing quote missing?)"


def _check_characters(name: str, line: int, header: Sequence[str], row: Sequence[str]) -> None:
    """Refuse a row holding a character no stored text may hold, naming its column."""
    if limits.unsafe_character("".join(row)) is None:  # one search for the common case
        return
    for index, cell in enumerate(row):
        bad = limits.unsafe_character(cell)
        if bad is not None:
            column = header[index] if index < len(header) else f"column {index + 1}"
            raise FeedError(
                name, line, f"{column} holds the control character {limits.code_point(bad)}"
            )


class FeedFiles:
    """The text files of a feed, from a zip archive or a folder."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._zip: zipfile.ZipFile | None = None
        self._members: dict[str, str] = {}
        if path.is_dir():
            return
        if not path.is_file():
            raise FeedError(path.name, None, "no such file or folder")
        try:
            self._zip = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as error:
            raise FeedError(path.name, None, f"not a zip archive or a folder ({error})") from None
        # Some publishers zip the folder rather than its files: accept one level of nesting.
        for info in self._zip.infolist():
            if not info.is_dir():
                self._members.setdefault(PurePosixPath(info.filename).name, info.filename)

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()

    def __enter__(self) -> FeedFiles:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def has(self, name: str) -> bool:
        if self._zip is not None:
            return name in self._members
        return (self.path / name).is_file()

    def _open(self, name: str) -> IO[str]:
        # utf-8-sig drops the byte order mark that spreadsheet exports put in front.
        return io.TextIOWrapper(self._raw(name), encoding="utf-8-sig", newline="")

    def _raw(self, name: str) -> IO[bytes]:
        if self._zip is not None:
            return self._zip.open(self._members[name])
        return (self.path / name).open("rb")

    def _undecodable_line(self, name: str) -> int | None:
        """The first line that is not UTF-8 (text is decoded in chunks, not lines)."""
        with self._raw(name) as raw:
            for number, line in enumerate(raw, start=1):
                try:
                    line.decode("utf-8")
                except UnicodeDecodeError:
                    return number
        return None

    def records(self, name: str, required: Sequence[str] = ()) -> Iterator[Record]:
        """The rows of ``name``, checking that the header has the ``required`` columns."""
        if not self.has(name):
            raise FeedError(name, None, "required file is missing")
        with self._open(name) as text:
            reader = csv.reader(text)
            try:
                header = [column.strip() for column in next(reader, [])]
                missing = [column for column in required if column not in header]
                if missing:
                    raise FeedError(name, 1, f"missing column {', '.join(missing)}")
                columns = {column: index for index, column in enumerate(header)}
                start = reader.line_num + 1  # the line the next row begins on
                for row in reader:
                    if reader.line_num != start:
                        raise FeedError(name, start, _OPEN_QUOTE)
                    line, start = start, reader.line_num + 1
                    if not any(row) or not "".join(row).strip():
                        continue  # blank lines are common at the end of hand-edited files
                    _check_characters(name, line, header, row)
                    yield Record(name, line, columns, row)
            except UnicodeDecodeError:
                raise FeedError(name, self._undecodable_line(name), "not UTF-8 text") from None
            except csv.Error as error:
                # Reported where the row began: an open quote makes the reader fail (a
                # field too large, say) many lines after the quote that caused it.
                raise FeedError(name, start, f"unreadable CSV ({error})") from None
