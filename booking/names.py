"""What may be printed on a ticket as a passenger's name: one rule for the chat, the API and
imports alike.

A name holds letters of any script the ticket prints (with their combining marks),
spaces, hyphens, apostrophes, full stops (St. John, Jr., J. R.), and the middle dots that
join the parts of a foreign name in Chinese and Japanese (约翰·史密斯, ジョン・スミス) or
Catalan (Gal·la). It is NFC-normalised, so the same name typed on two keyboards is one
name, and runs of spaces become one space.
Letters the ticket cannot print as written are refused (``NameProblem.SCRIPT``): a script
its fonts lack (Thai, Devanagari), or one written right to left (Arabic, Hebrew), which it
would print reversed; such a name is typed in Latin letters, as in a passport. Anything
else is refused with a reason (``NameProblem``), since it would be printed on tickets and
shown to staff: control characters (ESC sequences that repaint a terminal, BEL, DEL),
invisible formatting (bidirectional overrides that reverse what staff read, zero-width
characters that make two names look alike), and symbols such as emoji or digits.
"""

from __future__ import annotations

import unicodedata
from enum import StrEnum

from booking.errors import BookingError, ErrorCode
from booking.limits import code_point
from booking.tickets.fonts import printable

MAX_NAME_LENGTH = 100  # allocations.passenger is wider; a ticket line is not
# The text given, before it is trimmed, normalised and its spaces squashed (a name of
# decomposed Hangul is three times as long before NFC): anything longer is refused unread.
MAX_GIVEN_NAME_LENGTH = 4 * MAX_NAME_LENGTH

HYPHENS = frozenset("-\u2010\u2011")  # hyphen-minus, hyphen, non-breaking hyphen
APOSTROPHES = frozenset("'\u2019")  # O'Brien and O’Brien (phones type the latter)
MIDDLE_DOTS = frozenset("\u00b7\u30fb")  # · and ・
FULL_STOPS = frozenset(".")  # initials and abbreviations: J. R. Smith, St. John, Jr.
_JOINERS = HYPHENS | APOSTROPHES | MIDDLE_DOTS | FULL_STOPS


class NameProblem(StrEnum):
    """Why a text cannot be a passenger's name (the ``reason`` of BAD_PASSENGER_NAME)."""

    EMPTY = "empty"
    TOO_LONG = "too_long"
    NO_LETTERS = "no_letters"  # only hyphens, apostrophes or dots
    CONTROL = "control"  # control characters, line breaks, unpaired surrogates
    INVISIBLE = "invisible"  # bidi overrides, zero-width and other format characters
    SYMBOL = "symbol"  # emoji, digits, punctuation other than - ' . ·
    # Letters a ticket cannot print as written: a script its fonts lack (Thai, Devanagari),
    # or one written right to left (Arabic, Hebrew), which it would print reversed.
    SCRIPT = "script"


def squash(text: str) -> str:
    """Collapse runs of whitespace, so "Ann  Lee " and "Ann Lee" are one name."""
    return " ".join(text.split())


def _refuse(problem: NameProblem, char: str | None = None) -> BookingError:
    params: dict[str, object] = {"reason": problem}
    if char is not None:
        params["character"] = code_point(char)
    if problem is NameProblem.TOO_LONG:
        params["limit"] = MAX_NAME_LENGTH
    return BookingError(ErrorCode.BAD_PASSENGER_NAME, **params)


# Letters and marks by Unicode's categories that print as nothing: the Hangul fillers (a
# name of them is a blank line on the ticket), the combining grapheme joiner, and the
# Arabic tatweel, a stroke that only stretches the letters beside it.
_BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u034f\u0640")


def _problem(char: str) -> NameProblem | None:
    """What is wrong with ``char`` inside a name, or None if a name may hold it."""
    if char in _BLANK_LETTERS:
        return NameProblem.INVISIBLE
    category = unicodedata.category(char)
    if category[0] in "LM" or char == " " or char in _JOINERS:
        return None
    if category in ("Cc", "Cs", "Zl", "Zp"):
        return NameProblem.CONTROL
    if category == "Cf":
        return NameProblem.INVISIBLE
    return NameProblem.SYMBOL


def passenger_name(raw: str) -> str:
    """The name as it will be printed on the ticket; refuses what cannot be a name."""
    if not isinstance(raw, str):
        raise _refuse(NameProblem.EMPTY)
    # Checked on the raw text first, so that a huge text costs no normalising.
    if len(raw) > MAX_GIVEN_NAME_LENGTH:
        raise _refuse(NameProblem.TOO_LONG)
    # Whitespace around the name (a pasted line break) is trimmed; inside it, a line break
    # or tab is a control character, and other spaces (no-break, ideographic) are spaces.
    text = unicodedata.normalize("NFC", raw.strip())
    chars = []
    for char in text:
        if unicodedata.category(char) == "Zs":
            char = " "
        problem = _problem(char)
        if problem is not None:
            raise _refuse(problem, char)
        chars.append(char)
    name = squash("".join(chars))
    if not name:
        raise _refuse(NameProblem.EMPTY)
    if len(name) > MAX_NAME_LENGTH:
        raise _refuse(NameProblem.TOO_LONG)
    if not any(unicodedata.category(c)[0] == "L" for c in name):
        raise _refuse(NameProblem.NO_LETTERS)
    if not name.isascii():
        for char in name:
            if not (char.isascii() or char in _JOINERS or printable(char)) or (
                    unicodedata.bidirectional(char) in ("R", "AL")):
                raise _refuse(NameProblem.SCRIPT, char)
    return name
