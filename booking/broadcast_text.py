"""What Telegram accepts as a broadcast's text: not empty, at most 4,096 characters once the
formatting is taken out, and well-formed HTML of the tags Telegram knows.

Checked before anything is stored, so a broadcast never turns into thousands of outbox rows
that Telegram would refuse one by one.
"""

from __future__ import annotations

from html.parser import HTMLParser

from booking.errors import BookingError, ErrorCode

MAX_LENGTH = 4096  # Telegram's limit for a message's text, after entity parsing
# Telegram's HTML parse mode (core.telegram.org/bots/api#html-style): nothing else is allowed.
ALLOWED_TAGS = frozenset({"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a",
                          "code", "pre", "span", "tg-spoiler", "tg-emoji", "blockquote"})


class _Checker(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.open: list[str] = []
        self.length = 0
        self.problem: str | None = None

    def _refuse(self, what: str) -> None:
        if self.problem is None:
            self.problem = what

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag not in ALLOWED_TAGS:
            self._refuse(f"<{tag}>")
        elif tag == "a" and not values.get("href"):
            self._refuse("<a> without href")
        elif tag == "span" and values.get("class") != "tg-spoiler":
            self._refuse("<span>")
        self.open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._refuse(f"<{tag}/>")

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open[-1] != tag:
            self._refuse(f"</{tag}>")
            return
        self.open.pop()

    def handle_data(self, data: str) -> None:
        if "<" in data or ">" in data:
            self._refuse("< or > (write &lt; and &gt;)")
        self.length += len(data)

    def handle_entityref(self, name: str) -> None:
        if name not in ("lt", "gt", "amp", "quot"):
            self._refuse(f"&{name};")
        self.length += 1

    def handle_charref(self, name: str) -> None:
        self.length += 1


def check_broadcast_text(text: str) -> str:
    """The text, stripped, if Telegram will take it; else a BookingError saying why."""
    text = text.strip()
    if not text:
        raise BookingError(ErrorCode.BROADCAST_EMPTY)
    checker = _Checker()
    checker.feed(text)
    checker.close()
    if checker.problem is None and checker.open:
        checker.problem = f"<{checker.open[-1]}> not closed"
    if checker.problem is not None:
        raise BookingError(ErrorCode.BROADCAST_FORMATTING, problem=checker.problem)
    if checker.length > MAX_LENGTH:
        raise BookingError(ErrorCode.BROADCAST_TOO_LONG, length=checker.length, limit=MAX_LENGTH)
    return text
