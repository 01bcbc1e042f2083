"""The one rule for a passenger's name (booking/names.py), on its own: no I/O."""

from __future__ import annotations

import unicodedata

import pytest

from booking.errors import BookingError, ErrorCode
from booking.names import MAX_NAME_LENGTH, NameProblem, passenger_name
from handlers.errors import NAME_PROBLEM_MESSAGES, error_text
from locales import texts


def problem(raw: str) -> tuple[NameProblem, str | None]:
    with pytest.raises(BookingError) as error:
        passenger_name(raw)
    assert error.value.code is ErrorCode.BAD_PASSENGER_NAME
    return error.value.params["reason"], error.value.params.get("character")


@pytest.mark.parametrize(
    "name",
    [
        "Anna Lee", "Анна Иванова", "李小龙", "김민준", "さくら", "Γιώργος", "Þór Ōtsuka",
        "O'Brien", "O’Brien", "Jean-Luc Picard", "Gal·la", "约翰·史密斯", "ジョン・スミス",
        "Nguyễn Thị Minh Khai", "ꓚꓰꓠ", "O'Brien-Smith Jr.", "St. John", "J. R. R. Tolkien",
    ],
)
def test_letters_of_any_script_hyphens_apostrophes_and_middle_dots_are_names(name: str) -> None:
    assert passenger_name(name) == unicodedata.normalize("NFC", name)


def test_names_are_nfc_normalised() -> None:
    decomposed = "Zoe\u0301 Noe\u0308l"  # e + combining acute, e + combining diaeresis
    assert passenger_name(decomposed) == "Zoé Noël"
    assert passenger_name(decomposed) == passenger_name("Zoé Noël")


def test_spaces_of_any_kind_are_one_space_and_the_ends_are_trimmed() -> None:
    assert passenger_name("  Ann\u00a0\u3000 Lee \n") == "Ann Lee"


@pytest.mark.parametrize(
    ("raw", "character"),
    [
        ("\x1b[31mAnn\x1b[0m", "U+001B"),  # an ESC sequence that repaints a terminal
        ("Ann\x07", "U+0007"),  # BEL
        ("An\x7fn", "U+007F"),  # DEL
        ("Ann\x00Lee", "U+0000"),
        ("Ann\nLee", "U+000A"),  # a line break inside a name
        ("Ann\tLee", "U+0009"),
        ("Ann\x9bLee", "U+009B"),  # C1: CSI
        ("Ann\u2028Lee", "U+2028"),  # line separator
        ("Ann\ud800", "U+D800"),  # an unpaired surrogate
    ],
)
def test_control_characters_are_refused_with_their_code_point(raw: str, character: str) -> None:
    assert problem(raw) == (NameProblem.CONTROL, character)


@pytest.mark.parametrize(
    "char",
    ["\u202e", "\u202d", "\u202a", "\u202b", "\u202c", "\u2066", "\u2067", "\u2068", "\u2069",
     "\u200e", "\u200f", "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad"],
)
def test_bidi_overrides_and_zero_width_characters_are_refused(char: str) -> None:
    assert problem(f"Ann{char}Lee") == (NameProblem.INVISIBLE, f"U+{ord(char):04X}")


@pytest.mark.parametrize("raw", ["\u3164", "\u3164 \u3164", "\u115f", "\u1160", "\uffa0",
                                 "A\u034f\u034f", "\u0640\u0640"])
def test_letters_that_print_as_nothing_are_refused(raw: str) -> None:
    # Letters or marks by their category, but a ticket would print a blank name.
    assert problem(raw)[0] is NameProblem.INVISIBLE


@pytest.mark.parametrize(
    "raw", ["Ann 😀", "Ann3", "Ann!", "A&B", "<b>Ann</b>", "Ann,", "@ann", "Ann_Lee", "Ann™",
            "Ann\ue000"],
)
def test_emoji_digits_and_other_symbols_are_refused(raw: str) -> None:
    assert problem(raw)[0] is NameProblem.SYMBOL


def test_empty_and_letterless_names_are_refused() -> None:
    assert problem("")[0] is NameProblem.EMPTY
    assert problem(" \u3000 ")[0] is NameProblem.EMPTY
    assert problem("-'·")[0] is NameProblem.NO_LETTERS
    assert problem(". .")[0] is NameProblem.NO_LETTERS


def test_too_long_names_are_refused_even_huge_ones() -> None:
    assert passenger_name("A" * MAX_NAME_LENGTH) == "A" * MAX_NAME_LENGTH
    with pytest.raises(BookingError) as error:
        passenger_name("A" * (MAX_NAME_LENGTH + 1))
    assert error.value.params == {"reason": NameProblem.TOO_LONG, "limit": MAX_NAME_LENGTH}
    assert problem("A" * 10**7)[0] is NameProblem.TOO_LONG


@pytest.mark.parametrize(("name", "first"), [
    ("สมชาย ใจดี", "U+0E2A"),  # Thai: no font of the ticket's has it
    ("हिन्दी नाम", "U+0939"),  # Devanagari, likewise
    ("محمد علي", "U+0645"),  # right to left: printed left to right it would read reversed
    ("דוד לוי", "U+05D3"),
    ("Anna ลี", "U+0E25"),  # one letter of them is enough
])
def test_letters_the_ticket_cannot_print_as_written_are_refused(name: str, first: str) -> None:
    assert problem(name) == (NameProblem.SCRIPT, first)


def test_each_reason_reads_differently_in_every_language() -> None:
    for language in ("en", "ru", "zh"):
        _ = texts(language)
        general = error_text(_, BookingError(ErrorCode.BAD_PASSENGER_NAME))
        words = {
            reason: error_text(_, BookingError(ErrorCode.BAD_PASSENGER_NAME, reason=reason,
                                               limit=MAX_NAME_LENGTH))
            for reason in NameProblem
        }
        assert words[NameProblem.EMPTY] == words[NameProblem.NO_LETTERS] == general
        assert len({words[r] for r in NAME_PROBLEM_MESSAGES} | {general}) == 6
        assert str(MAX_NAME_LENGTH) in words[NameProblem.TOO_LONG]
