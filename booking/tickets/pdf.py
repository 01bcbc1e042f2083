"""The ticket PDF: one A6 page per passenger, with the signed code as a QR code.

The page is laid out here and written by pdf_writer.py; zxing-cpp makes the QR code (it
reads them at check-in too), drawn as vector squares: crisp at any zoom, a few kilobytes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import cast

import zxingcpp

from booking.tickets.document import TicketCaptions, TicketDocument, time_label, zone_label
from booking.tickets.fonts import DEFAULT_FONTS, TicketFonts, font_source
from booking.tickets.pdf_writer import POINTS_PER_MM, Colour, FontPair, PdfCanvas

PAGE = (105.0, 148.0)  # A6 in mm: a phone screen's shape, a quarter of an A4 sheet
MARGIN = 7.0
WIDTH = 105.0 - 2 * MARGIN
CELL_PADDING = 1.0  # mm between a cell's edge and its text
QR_SIZE = 46.0  # mm including the quiet zone
QR_MIN_SIZE = 34.0  # about 0.65 mm a module at version 7: still fine on paper and screens
FOOT_HEIGHT = 16.0  # the check-in line and the printed code under the QR code
QR_BORDER = 4  # modules of quiet zone, as the standard asks
INK: Colour = (20, 20, 20)
MUTED: Colour = (110, 110, 110)
ACCENT: Colour = (0, 92, 151)
WHITE: Colour = (255, 255, 255)
CODE_GROUP = 5  # characters per group in the printed code


def render_ticket_pdf(
    document: TicketDocument,
    captions: TicketCaptions | None = None,
    fonts: TicketFonts = DEFAULT_FONTS,
) -> bytes:
    """One passenger's ticket as a one-page PDF."""
    return render_tickets_pdf([document], captions, fonts)


def render_tickets_pdf(
    documents: Sequence[TicketDocument],
    captions: TicketCaptions | None = None,
    fonts: TicketFonts = DEFAULT_FONTS,
) -> bytes:
    """Several tickets in one PDF, a page each."""
    if not documents:
        raise ValueError("no tickets to render")
    words = captions or TicketCaptions()
    # Every font, not only those this ticket needs: a missing Chinese font should fail the
    # first ticket, not the first Chinese one.
    fonts.check()
    cjk = font_source(fonts.cjk)
    pen = _Pen(PdfCanvas(*PAGE),
               regular=FontPair(font_source(fonts.regular), cjk),
               bold=FontPair(font_source(fonts.bold), cjk, fallback_bold=True))
    for document in documents:
        _page(pen, document, words)
    return pen.canvas.output(title=f"{words.title} {documents[0].booking_reference}")


class _Pen:
    """A cursor over the canvas with the current font and colour, placing text in cells
    the way a form is filled: a cell is a box of a width and height on the current line,
    its text vertically centred, and the cursor moves right or down after it."""

    def __init__(self, canvas: PdfCanvas, *, regular: FontPair, bold: FontPair) -> None:
        self.canvas = canvas
        self._regular, self._bold = regular, bold
        self.style = regular
        self.size = 10.0  # points
        self.colour = INK
        self.x = self.y = MARGIN

    def font(self, bold: bool, size: float) -> None:
        self.style = self._bold if bold else self._regular
        self.size = size

    @property
    def bold(self) -> bool:
        return self.style is self._bold

    def width(self, text: str) -> float:
        return self.canvas.text_width(text, self.style, self.size)

    def fits(self, text: str, width: float) -> bool:
        return self.width(text) <= width - 2 * CELL_PADDING

    def cell(self, width: float, height: float, text: str, *, align: str = "L",
             then: str = "right") -> None:
        """Text in a cell at the cursor; then the cursor moves "right" of the cell,
        "down" (under it, same x) or to the "margin" of the next line."""
        text_width = self.width(text)
        if align == "R":
            left = self.x + width - CELL_PADDING - text_width
        elif align == "C":
            left = self.x + (width - text_width) / 2
        else:
            left = self.x + CELL_PADDING
        # The baseline where a box of this height centres the font's body.
        baseline = self.y + 0.5 * height + 0.3 * self.size / POINTS_PER_MM
        self.canvas.text(left, baseline, text, self.style, self.size, self.colour)
        if then == "right":
            self.x += width
        elif then == "down":
            self.y += height
        else:
            self.x, self.y = MARGIN, self.y + height

    def lines(self, text: str, width: float) -> list[str]:
        """``text`` broken into lines that fit ``width``: at spaces, or anywhere in a word
        too long for a line (Chinese has no spaces)."""
        lines: list[str] = []
        line = ""
        for word in text.split(" "):
            candidate = f"{line} {word}" if line else word
            if self.fits(candidate, width):
                line = candidate
                continue
            if line:
                lines.append(line)
            line = ""
            for char in word:
                if line and not self.fits(line + char, width):
                    lines.append(line)
                    line = ""
                line += char
        if line:
            lines.append(line)
        return lines

    def fit(self, text: str, width: float) -> str:
        """The text, cut with an ellipsis where it would overrun a one-line cell."""
        if self.width(text) <= width - 1:
            return text
        while text and self.width(text + "…") > width - 1:
            text = text[:-1]
        return text + "…"


def _page(pen: _Pen, doc: TicketDocument, captions: TicketCaptions) -> None:
    canvas = pen.canvas
    canvas.add_page()
    x = MARGIN

    # Header: the operator and what this is.
    canvas.rect(0, 0, PAGE[0], 15, ACCENT)
    pen.colour = WHITE
    pen.x, pen.y = x, 4.5
    pen.font(False, 9)
    title = min(pen.width(captions.title) + 1, WIDTH * 0.4)
    pen.font(True, 11)
    pen.cell(WIDTH - title, 6, pen.fit(doc.operator, WIDTH - title - 2))
    pen.font(False, 9)
    pen.cell(title, 6, pen.fit(captions.title, title), align="R")

    # The journey: from -> to, big; a long name gets a smaller size and up to two lines.
    pen.colour = INK
    pen.x, pen.y = x, 18.5
    _headline(pen, doc.origin)
    _headline(pen, f"→ {doc.destination}")
    pen.font(False, 8)
    pen.colour = MUTED
    _text(pen, WIDTH, 4.5, captions.label(captions.trip, doc.route_name), max_lines=2)

    # Times on each station's clock.
    y = pen.y + 2
    half = WIDTH / 2
    _time_block(pen, x, y, half - 2, captions.departure, doc.departure_label
                or time_label(doc.departure), zone_label(doc.departure))
    _time_block(pen, x + half, y, half, captions.arrival, doc.arrival_label
                or time_label(doc.arrival), zone_label(doc.arrival))

    # Passenger, seat, price, reference.
    y += 15
    canvas.line(x, y - 1.5, x + WIDTH, y - 1.5, 0.2, MUTED)
    end = _field(pen, x, y, WIDTH * 0.72, captions.passenger, doc.passenger, 11,
                 whole_down_to=7.5)
    _field(pen, x + WIDTH * 0.74, y, WIDTH * 0.26, captions.seat, doc.seat, 14)
    y = max(end, y + 10) + 1
    end = _field(pen, x, y, half - 2, captions.price, doc.price, 10)
    end = max(end, _field(pen, x + half, y, half, captions.booking_reference,
                          doc.booking_reference, 10))

    # The QR code and the code in print, at the foot of the page; the QR code gives way
    # (down to QR_MIN_SIZE) when long names have taken more of the page.
    foot = PAGE[1] - MARGIN - FOOT_HEIGHT
    size = max(QR_MIN_SIZE, min(QR_SIZE, foot - (end + 2)))
    _qr(canvas, doc.code, (PAGE[0] - size) / 2, foot - size, size)
    pen.x, pen.y = x, foot + 0.5
    pen.colour = MUTED
    pen.font(False, 6.5)
    pen.cell(WIDTH, 3, pen.fit(captions.check_in, WIDTH), align="C", then="margin")
    _printed_code(pen, doc.code)


def _printed_code(pen: _Pen, code: str) -> None:
    """The code in Courier, in groups, centred, as many groups a line as fit."""
    size = 7.0
    group = pen.canvas.courier_width("K1234 ", size)
    per_line = max(1, int((WIDTH + pen.canvas.courier_width(" ", size)) // group))
    groups = _grouped(code).split(" ")
    for start in range(0, len(groups), per_line):
        line = " ".join(groups[start : start + per_line])
        left = MARGIN + (WIDTH - pen.canvas.courier_width(line, size)) / 2
        baseline = pen.y + 1.5 + 0.3 * size / POINTS_PER_MM
        pen.canvas.courier(left, baseline, line, size, INK)
        pen.y += 3


def _headline(pen: _Pen, text: str) -> None:
    """A station name: one line at 15 pt, or at most two at 11 pt."""
    pen.font(True, 15)
    if pen.fits(text, WIDTH):
        pen.cell(WIDTH, 6.5, text, then="margin")
        return
    pen.font(True, 11)
    _text(pen, WIDTH, 5, text, max_lines=2)


def _time_block(
    pen: _Pen, x: float, y: float, width: float, caption: str, when: str, zone: str
) -> None:
    pen.x, pen.y = x, y
    pen.font(False, 7)
    pen.colour = MUTED
    pen.cell(width, 3.5, pen.fit(caption.upper(), width), then="down")
    size = 10.5
    pen.font(True, size)
    # A spelled-out local date ("25 дек. 2026 г., 06:00") is longer than the ISO one.
    while size > 7 and not pen.fits(when, width):
        size -= 0.5
        pen.font(True, size)
    pen.colour = INK
    pen.cell(width, 5.5, pen.fit(when, width), then="down")
    pen.font(False, 6.5)
    pen.colour = MUTED
    pen.cell(width, 3.5, pen.fit(zone, width))


def _field(pen: _Pen, x: float, y: float, width: float, caption: str, value: str,
           size: float, *, whole_down_to: float | None = None) -> float:
    """A caption over its value; returns where the value ends. With ``whole_down_to``, a
    value that three lines cannot hold is set smaller, down to that size, and given a
    fourth line there, before any of it is cut: a passenger's whole name is what the
    ticket is checked against."""
    pen.x, pen.y = x, y
    pen.font(False, 7)
    pen.colour = MUTED
    pen.cell(width, 3.5, pen.fit(caption.upper(), width), then="down")
    pen.font(True, size)
    lines = 3
    if whole_down_to is not None:
        while size > whole_down_to and len(pen.lines(value, width)) > lines:
            size = max(whole_down_to, size - 0.5)
            pen.font(True, size)
        lines = 4 if len(pen.lines(value, width)) > lines else lines
    pen.colour = INK
    _text(pen, width, size * 0.45, value, max_lines=lines)
    return pen.y


def _text(pen: _Pen, width: float, height: float, text: str, max_lines: int = 3) -> None:
    """Text in the current font, wrapped when it does not fit, at most ``max_lines`` lines
    (the last one cut with an ellipsis); the cursor ends under it."""
    lines = pen.lines(text, width) if not pen.fits(text, width) else [text]
    if len(lines) > max_lines:
        lines = [*lines[: max_lines - 1], pen.fit(" ".join(lines[max_lines - 1 :]), width)]
    for line in lines:
        pen.cell(width, height, line, then="down")


def _grouped(code: str) -> str:
    head, _, body = code.partition(".")
    groups = [body[i : i + CODE_GROUP] for i in range(0, len(body), CODE_GROUP)]
    return f"{head}. " + " ".join(groups)


def _qr(canvas: PdfCanvas, text: str, x: float, y: float, size: float) -> None:
    """The QR code as one filled path of rectangles: each run of dark modules in a row,
    carried down over the rows below that repeat it exactly (about half the rectangles of
    one per run)."""
    symbol = zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.QRCode, ec_level="M")
    image = memoryview(cast(bytes, symbol.to_image(scale=1, add_quiet_zones=False)))
    width = image.shape[0] if image.shape else 0
    modules = image.tobytes()  # one byte a module, row by row: 0 dark, 255 light
    rows = [_runs(modules[r * width : (r + 1) * width]) for r in range(width)]
    unit = size / (width + 2 * QR_BORDER)
    left, top = x + QR_BORDER * unit, y + QR_BORDER * unit
    boxes = []
    for r, runs in enumerate(rows):
        for run in runs:
            depth = 1
            while r + depth < width and run in rows[r + depth]:
                rows[r + depth].remove(run)
                depth += 1
            start, end = run
            # A hair larger, so neighbouring rectangles leave no seam when rasterised.
            boxes.append((left + start * unit, top + r * unit,
                          (end - start) * unit + 0.01, depth * unit + 0.01))
    canvas.rects(boxes, (0, 0, 0))


DARK_RUN = re.compile(b"\x00+")


def _runs(row: bytes) -> list[tuple[int, int]]:
    """[start, end) of each run of dark modules."""
    return [match.span() for match in DARK_RUN.finditer(row)]
