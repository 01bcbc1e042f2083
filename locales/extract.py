"""Find the message ids used in the code, and bring the .po catalogs up to date with them.

``python -m locales.extract`` adds new ids (untranslated) and drops unused ones; the catalog
test fails until every id is translated in zh and ru.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import write_po

from locales import LANGUAGES, catalog, po_path

ROOT = Path(__file__).resolve().parent.parent
SOURCE_DIRS = ("handlers", "bot")
# The emulator stands in for Telegram; its words are not the bot's.
SKIPPED = ("bot/emulator",)
KEYWORDS = {"_": None, "N_": None, "ngettext": (1, 2), "N_plural": (1, 2)}

MessageIds = dict[str, str | None]  # msgid -> msgid_plural (None for a singular)


def extracted() -> MessageIds:
    """Every message id in the bot's code, with its plural id where it has one."""
    found: MessageIds = {}
    for folder in SOURCE_DIRS:
        for filename, _line, message, _comments, _context in extract_from_dir(
            ROOT / folder, keywords=KEYWORDS, comment_tags=()
        ):
            if any(f"{folder}/{filename}".startswith(skip) for skip in SKIPPED):
                continue
            if isinstance(message, tuple):
                found[message[0]] = message[1]
            else:
                found.setdefault(message, None)
    return found


def update_catalogs() -> None:
    ids = extracted()
    for language in LANGUAGES:
        old = catalog(language) if po_path(language).exists() else Catalog(locale=language)
        new = Catalog(locale=language, domain="messages", project="Kassa",
                      fuzzy=False, charset="utf-8")
        for msgid, plural in sorted(ids.items()):
            previous = old.get(msgid)
            key = (msgid, plural) if plural else msgid
            string: Any = previous.string if previous is not None else ""
            if plural and not isinstance(string, tuple | list):
                string = ("",) * new.num_plurals
            if not plural and isinstance(string, tuple | list):
                string = ""
            new.add(key, string)
        po_path(language).parent.mkdir(parents=True, exist_ok=True)
        with po_path(language).open("wb") as handle:
            write_po(handle, new, width=100, omit_header=False, no_location=True)
    catalog.cache_clear()


if __name__ == "__main__":
    update_catalogs()
