"""Message catalogs (gettext .po, read with Babel at first use) and per-locale formatting.

The .po files are the source of truth and are read directly, so a translator's edit needs no
build step. Message ids are the English texts; the en catalog may leave msgstr empty.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import cache, lru_cache
from gettext import c2py
from pathlib import Path
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.dates import format_skeleton, format_time, format_timedelta
from babel.languages import get_official_languages
from babel.lists import format_list
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po
from babel.numbers import (
    format_currency,
    format_percent,
    get_currency_precision,
    get_currency_symbol,
)

LOCALES_DIR = Path(__file__).parent
DOMAIN = "messages"
LANGUAGES = ("en", "zh", "ru")
DEFAULT_LANGUAGE = "en"


def po_path(language: str) -> Path:
    return LOCALES_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def catalog(language: str) -> Catalog:
    """The parsed catalog of one language, read once per process."""
    with po_path(language).open("rb") as handle:
        return read_po(handle, locale=language, domain=DOMAIN)


@cache
def _plural_rule(language: str) -> Callable[[int], int]:
    # gettext's own reader of the catalog's Plural-Forms C expression.
    return c2py(catalog(language).plural_expr)


def plural_index(language: str, count: int) -> int:
    """Which plural form of the catalog fits ``count`` (ru: 1 место, 2 места, 5 мест)."""
    return int(_plural_rule(language)(count))


def pick_language(code: str | None) -> str:
    """The supported language closest to a Telegram language_code such as "ru" or "zh-hans"."""
    base = (code or "").replace("_", "-").split("-")[0].lower()
    return base if base in LANGUAGES else DEFAULT_LANGUAGE


@cache
def own_symbol(currency: str) -> str | None:
    """The symbol a currency has at home (₽ for RUB, Kč for CZK), or None if CLDR has none.

    ISO 4217 codes start with their country's code, whose official languages give the
    locale the currency is written in at home.
    """
    territory = currency[:2]
    for language in get_official_languages(territory, de_facto=True):
        try:
            symbol = Locale.parse(f"{language}_{territory}").currency_symbols.get(currency)
        except (UnknownLocaleError, ValueError):
            continue
        if symbol and symbol != currency:
            return symbol
    return None


def format_text(text: str, params: dict[str, Any]) -> str:
    return text.format(**params) if params else text


@dataclass(frozen=True)
class Texts:
    """The words and formats of one language: ``_("msgid", **params)``, ``_.ngettext(...)``."""

    language: str

    @property
    def locale(self) -> Locale:
        return _locale(self.language)

    def __call__(self, msgid: str, **params: Any) -> str:
        message = catalog(self.language).get(msgid)
        text = message.string if message is not None and message.string else msgid
        assert isinstance(text, str)
        return format_text(text, params)

    def ngettext(self, singular: str, plural: str, count: int, **params: Any) -> str:
        """The plural form for ``count`` (``{n}`` in the text is the count)."""
        params = {"n": count, **params}
        message = catalog(self.language).get(singular)
        forms = message.string if message is not None else None
        if isinstance(forms, tuple | list) and all(forms):
            index = plural_index(self.language, count)
            return format_text(forms[min(index, len(forms) - 1)], params)
        return format_text(singular if count == 1 else plural, params)

    # ---- formats ---------------------------------------------------------------------

    def price(self, minor_units: int, currency: str) -> str:
        """An amount in minor units of ``currency``, written the local way, with the
        currency's own symbol where the language has none of its own ("₽2,624.00", not
        "RUB2,624.00")."""
        return _price(self.language, minor_units, currency)

    def day(self, value: date, today: date) -> str:
        """A date with its weekday, e.g. "Mon, Jun 1"; with its year ("Wed, Dec 1, 2027")
        when that is not the year of ``today``, so that no date is mistaken for another."""
        return _skeleton(self.language, "MMMEd" if value.year == today.year else "yMMMEd", value)

    def day_month(self, value: date, today: date) -> str:
        """A short date without weekday, e.g. "Jun 1", for buttons; with its year when that
        is not the year of ``today``."""
        return _skeleton(self.language, "MMMd" if value.year == today.year else "yMMMd", value)

    def percent(self, share: float) -> str:
        """A share as a percentage with one decimal, the local way ("0.7%", "0,7 %"): a
        quiet route's 0.4% is not 0%."""
        # The locale's own pattern (its spacing, its sign's side) with one decimal.
        pattern = self.locale.percent_formats[None].pattern.replace("0", "0.0", 1)
        return format_percent(share, pattern, locale=self.locale)

    def items(self, values: list[str]) -> str:
        """A list the local way: "3A, 3B, and 4C", "3A、3B和4C", "3A, 3B и 4C"."""
        return format_list(values, locale=self.locale) if values else ""

    def month(self, value: date) -> str:
        return _skeleton(self.language, "yMMMM", value)

    def time(self, value: datetime) -> str:
        """A wall-clock time in the value's own timezone."""
        # The short time formats show hours, minutes and am/pm, no zone: the wall clock is
        # the whole key (aware datetimes of one instant in two zones are equal, not alike).
        return _short_time(self.language, value.hour, value.minute)

    def duration(self, value: timedelta) -> str:
        """Hours and minutes, e.g. "1 hr 40 min"."""
        return _duration(self.language, int(value.total_seconds() // 60))


# Babel builds each text from the locale's CLDR data every time: the same fares, times and
# days are written again and again (every passenger's search lists the same trips), so each
# language's answer for a value is kept.
@cache
def _locale(language: str) -> Locale:
    return Locale.parse(language)


@lru_cache(maxsize=4096)
def _price(language: str, minor_units: int, currency: str) -> str:
    locale = _locale(language)
    amount = Decimal(minor_units).scaleb(-get_currency_precision(currency))
    text = format_currency(amount, currency, locale=locale)
    if get_currency_symbol(currency, locale=locale) == currency:
        symbol = own_symbol(currency)
        if symbol is not None:
            text = text.replace(currency, symbol)
    return text


def _skeleton(language: str, skeleton: str, value: date) -> str:
    if type(value) is not date:  # a datetime Babel would move to this machine's zone first
        return format_skeleton(skeleton, value, locale=_locale(language))
    return _date_skeleton(language, skeleton, value)


@lru_cache(maxsize=4096)
def _date_skeleton(language: str, skeleton: str, value: date) -> str:
    return format_skeleton(skeleton, value, locale=_locale(language))


@lru_cache(maxsize=4096)
def _short_time(language: str, hour: int, minute: int) -> str:
    return format_time(time(hour, minute), format="short", locale=_locale(language))


@lru_cache(maxsize=4096)
def _duration(language: str, minutes: int) -> str:
    locale = _locale(language)
    hours, rest = divmod(minutes, 60)
    parts = []
    if hours:
        parts.append(format_timedelta(timedelta(hours=hours), format="short",
                                      threshold=1, locale=locale))
    if rest or not hours:
        parts.append(format_timedelta(timedelta(minutes=rest), format="short",
                                      threshold=1, locale=locale))
    # Chinese writes its units with no space between them: 1小时35分钟.
    return ("" if language.startswith("zh") else " ").join(parts)


@cache
def texts(language: str) -> Texts:
    return Texts(pick_language(language))
