"""Agencies, and what they tell about the feed as a whole: its id, timezone, language."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from booking import limits
from booking.gtfs.errors import FeedError
from booking.gtfs.source import FeedFiles, Record

AGENCY = "agency.txt"
FEED_INFO = "feed_info.txt"


@dataclass(frozen=True, slots=True)
class Agency:
    id: str
    name: str
    timezone: str
    language: str | None


@dataclass(frozen=True, slots=True)
class FeedIdentity:
    """What the feed is called in codes and keys, and which language its names are in."""

    id: str  # short, stable: the first agency's id or name, slugged
    language: str | None  # primary language subtag of feed_lang or agency_lang


def timezone_of(record: Record, column: str) -> str:
    """The IANA timezone name in ``column``, checked to exist."""
    name = record.required(column)
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise record.error(f"unknown timezone {name!r} in {column}") from None
    return name


def language_tag(text: str) -> str | None:
    """``de``-style primary subtag of a BCP 47 tag; None for none or ``mul`` (multilingual).

    For the language of the feed's own names (feed_lang, agency_lang): a feed in ``zh-Hant``
    names its stops in Chinese, so they are the plain Chinese names.
    """
    primary = text.strip().lower().replace("_", "-").split("-")[0]
    return primary if primary and primary != "mul" else None


_SUBTAG = re.compile(r"[A-Za-z0-9]{1,8}")


def translation_tag(text: str) -> str | None:
    """A translation's BCP 47 tag in its usual case (``ja-Hrkt``, ``zh-Hant``, ``pt-BR``),
    kept whole: a script or region makes it another name than the plain language's (and
    ``ja-Hrkt`` is a reading, not a name). None for none or ``mul``; ValueError if it is
    no tag."""
    if not text.strip():
        return None
    parts = text.strip().replace("_", "-").split("-")
    if any(_SUBTAG.fullmatch(part) is None for part in parts):
        raise ValueError(f"bad language tag {text!r}")
    tag = [parts[0].lower()]
    for part in parts[1:]:
        if len(part) == 4 and part.isalpha():
            tag.append(part.title())  # script
        elif (len(part) == 2 and part.isalpha()) or (len(part) == 3 and part.isdigit()):
            tag.append(part.upper())  # region
        else:
            tag.append(part.lower())
    return None if tag == ["mul"] else "-".join(tag)


def read_agencies(files: FeedFiles) -> dict[str, Agency]:
    """Agencies by agency_id (an empty id is allowed for the only agency of a feed)."""
    agencies: dict[str, Agency] = {}
    for record in files.records(AGENCY, ("agency_name", "agency_timezone")):
        agency_id = record.get("agency_id")
        if agency_id in agencies:
            raise record.error(f"agency_id {agency_id!r} appears twice")
        agencies[agency_id] = Agency(
            id=agency_id,
            name=record.text("agency_name", limits.AGENCY_NAME_LENGTH),
            timezone=timezone_of(record, "agency_timezone"),
            language=language_tag(record.get("agency_lang")),
        )
    if not agencies:
        raise FeedError(AGENCY, None, "has no agency")
    return agencies


def identify_feed(files: FeedFiles, agencies: dict[str, Agency]) -> FeedIdentity:
    """The feed's id comes from its first agency, never from the path it was read from,
    so the same feed imported from a zip or a folder, or renamed, makes the same keys."""
    first = next(iter(agencies.values()))
    language = first.language
    if files.has(FEED_INFO):
        for record in files.records(FEED_INFO):
            language = language_tag(record.get("feed_lang")) or language
            break
    return FeedIdentity(slug(first.id or first.name), language)


def slug(text: str, limit: int = 24) -> str:
    """Lower-case ASCII letters, digits and dashes ("ÖBB" -> "obb"); a hash if none are left."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    cleaned = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:limit].strip("-")
    return cleaned or hashlib.sha1(text.encode()).hexdigest()[:8]
