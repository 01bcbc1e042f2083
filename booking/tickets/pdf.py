"""The ticket PDF: one A6 page per passenger, with the signed code as a QR code.

fpdf2 writes the page; segno makes the QR code, drawn as vector squares (crisp at any
zoom and a few kilobytes). The fonts are subset into the file (see fonts.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import astuple
from io import BytesIO
from pathlib import Path
from typing import cast

import segno
from fpdf import FPDF
from fpdf.fonts import TTFFont

from booking.tickets.document import TicketCaptions, TicketDocument, time_label, zone_label
from booking.tickets.fonts import DEFAULT_FONTS, TicketFonts, font_source

PAGE = (105.0, 148.0)  # A6 in mm: a phone screen's shape, a quarter of an A4 sheet
MARGIN = 7.0
WIDTH = 105.0 - 2 * MARGIN
QR_SIZE = 46.0  # mm including the quiet zone
QR_MIN_SIZE = 34.0  # about 0.65 mm a module at version 7: still fine on paper and screens
FOOT_HEIGHT = 16.0  # the check-in line and the printed code under the QR code
QR_BORDER = 4  # modules of quiet zone, as the standard asks
INK = (20, 20, 20)
MUTED = (110, 110, 110)
ACCENT = (0, 92, 151)
CODE_GROUP = 5  # characters per group in the printed code
QR_MASK = 0


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
    pdf = _new_pdf(fonts, _characters(documents, words))
    pdf.set_title(f"{words.title} {documents[0].booking_reference}")
    for document in documents:
        _page(pdf, document, words)
    return bytes(pdf.output())


def _characters(documents: Sequence[TicketDocument], captions: TicketCaptions) -> set[str]:
    """Every character the pages may print, so the embedded fonts need nothing more."""
    texts = [*astuple(captions), "…→:., 0123456789"]
    for doc in documents:
        texts += [doc.operator, doc.booking_reference, doc.passenger, doc.route_name,
                  doc.origin, doc.destination, doc.seat, doc.price, _grouped(doc.code),
                  doc.departure_label or time_label(doc.departure), zone_label(doc.departure),
                  doc.arrival_label or time_label(doc.arrival), zone_label(doc.arrival)]
    joined = "".join(texts)
    return set(joined) | set(joined.upper())


def _new_pdf(fonts: TicketFonts, chars: set[str]) -> FPDF:
    # Every font, not only those this ticket needs: a missing Chinese font should fail the
    # first ticket, not the first Chinese one.
    fonts.check()
    pdf = FPDF(orientation="P", unit="mm", format=PAGE)
    pdf.set_margins(MARGIN, MARGIN, MARGIN)
    pdf.set_auto_page_break(False)
    pdf.set_creator("Kassa")
    regular = font_source(fonts.regular)
    _add_font(pdf, "Sans", "", regular.subset(chars))
    _add_font(pdf, "Sans", "B", font_source(fonts.bold).subset(chars))
    # Micro Hei only where DejaVu has no glyph (Chinese), bold text included.
    missing = {c for c in chars if not regular.covers(c)}
    if missing:
        _add_font(pdf, "CJK", "", font_source(fonts.cjk).subset(missing))
        pdf.set_fallback_fonts(["CJK"], exact_match=False)
    return pdf


def _add_font(pdf: FPDF, family: str, style: str, data: bytes) -> None:
    """FPDF.add_font for a font in memory (add_font itself takes only a file path)."""
    key = f"{family.lower()}{style}"
    # TTFFont hands its source straight to fontTools, which reads a file object as well.
    font = TTFFont(pdf, cast(Path, BytesIO(data)), key, style)
    # Keep each glyph's raw bytes on output too: recomputing bounds would decode every one.
    font.ttfont.recalcBBoxes = False
    pdf.fonts[key] = font


def _page(pdf: FPDF, doc: TicketDocument, captions: TicketCaptions) -> None:
    pdf.add_page()
    x = MARGIN

    # Header: the operator and what this is.
    pdf.set_fill_color(*ACCENT)
    pdf.rect(0, 0, 105, 15, style="F")
    pdf.set_text_color(255, 255, 255)
    pdf.set_xy(x, 4.5)
    _font(pdf, "", 9)
    title = min(pdf.get_string_width(captions.title) + 1, WIDTH * 0.4)
    _font(pdf, "B", 11)
    pdf.cell(WIDTH - title, 6, _fit(pdf, doc.operator, WIDTH - title - 2))
    _font(pdf, "", 9)
    pdf.cell(title, 6, _fit(pdf, captions.title, title), align="R")

    # The journey: from -> to, big; a long name gets a smaller size and up to two lines.
    pdf.set_text_color(*INK)
    pdf.set_xy(x, 18.5)
    _headline(pdf, doc.origin)
    _headline(pdf, f"→ {doc.destination}")
    _font(pdf, "", 8)
    pdf.set_text_color(*MUTED)
    _text(pdf, WIDTH, 4.5, f"{captions.trip}: {doc.route_name}", max_lines=2)

    # Times on each station's clock.
    y = pdf.get_y() + 2
    half = WIDTH / 2
    _time_block(pdf, x, y, half - 2, captions.departure, doc.departure_label
                or time_label(doc.departure), zone_label(doc.departure))
    _time_block(pdf, x + half, y, half, captions.arrival, doc.arrival_label
                or time_label(doc.arrival), zone_label(doc.arrival))

    # Passenger, seat, price, reference.
    y += 15
    pdf.set_draw_color(*MUTED)
    pdf.set_line_width(0.2)
    pdf.line(x, y - 1.5, x + WIDTH, y - 1.5)
    end = _field(pdf, x, y, WIDTH * 0.72, captions.passenger, doc.passenger, 11)
    _field(pdf, x + WIDTH * 0.74, y, WIDTH * 0.26, captions.seat, doc.seat, 14)
    y = max(end, y + 10) + 1
    end = _field(pdf, x, y, half - 2, captions.price, doc.price, 10)
    end = max(end, _field(pdf, x + half, y, half, captions.booking_reference,
                          doc.booking_reference, 10))

    # The QR code and the code in print, at the foot of the page; the QR code gives way
    # (down to QR_MIN_SIZE) when long names have taken more of the page.
    foot = PAGE[1] - MARGIN - FOOT_HEIGHT
    size = max(QR_MIN_SIZE, min(QR_SIZE, foot - (end + 2)))
    _qr(pdf, doc.code, (PAGE[0] - size) / 2, foot - size, size)
    pdf.set_xy(x, foot + 0.5)
    pdf.set_text_color(*MUTED)
    _font(pdf, "", 6.5)
    _fitted_line(pdf, captions.check_in)
    pdf.set_text_color(*INK)
    # The code is ASCII: Courier, one of the PDF's standard fonts, needs no embedding. It is
    # monospaced, so the lines are cut here (multi_cell would measure every character again
    # for each break).
    pdf.set_font("Courier", "", 7)
    per_line = max(1, int((WIDTH + pdf.get_string_width(" ")) // pdf.get_string_width("K1234 ")))
    groups = _grouped(doc.code).split(" ")
    for start in range(0, len(groups), per_line):
        pdf.cell(WIDTH, 3, " ".join(groups[start : start + per_line]), align="C",
                 new_x="LMARGIN", new_y="NEXT")


def _headline(pdf: FPDF, text: str) -> None:
    """A station name: one line at 15 pt, or at most two at 11 pt."""
    _font(pdf, "B", 15)
    if pdf.get_string_width(text) <= WIDTH - 2 * pdf.c_margin:
        pdf.cell(WIDTH, 6.5, text, new_x="LMARGIN", new_y="NEXT")
        return
    _font(pdf, "B", 11)
    _text(pdf, WIDTH, 5, text, max_lines=2)


def _fitted_line(pdf: FPDF, text: str) -> None:
    pdf.cell(WIDTH, 3, _fit(pdf, text, WIDTH), align="C", new_x="LMARGIN", new_y="NEXT")


def _time_block(
    pdf: FPDF, x: float, y: float, width: float, caption: str, when: str, zone: str
) -> None:
    pdf.set_xy(x, y)
    _font(pdf, "", 7)
    pdf.set_text_color(*MUTED)
    pdf.cell(width, 3.5, _fit(pdf, caption.upper(), width), new_x="LEFT", new_y="NEXT")
    _font(pdf, "B", 10.5)
    size = 10.5
    # A spelled-out local date ("25 дек. 2026 г., 06:00") is longer than the ISO one.
    while size > 7 and pdf.get_string_width(when) > width - 2 * pdf.c_margin:
        size -= 0.5
        _font(pdf, "B", size)
    pdf.set_text_color(*INK)
    pdf.cell(width, 5.5, _fit(pdf, when, width), new_x="LEFT", new_y="NEXT")
    _font(pdf, "", 6.5)
    pdf.set_text_color(*MUTED)
    pdf.cell(width, 3.5, _fit(pdf, zone, width))


def _field(pdf: FPDF, x: float, y: float, width: float, caption: str, value: str,
           size: float) -> float:
    """A caption over its value; returns where the value ends."""
    pdf.set_xy(x, y)
    _font(pdf, "", 7)
    pdf.set_text_color(*MUTED)
    pdf.cell(width, 3.5, _fit(pdf, caption.upper(), width), new_x="LEFT", new_y="NEXT")
    _font(pdf, "B", size)
    pdf.set_text_color(*INK)
    _text(pdf, width, size * 0.45, value)
    return pdf.get_y()


def _text(pdf: FPDF, width: float, height: float, text: str, max_lines: int = 3) -> None:
    """Text in the current font, wrapped when it does not fit, at most ``max_lines`` lines.

    The lines are drawn one cell each, selecting the font again before each: a line that
    multi_cell wrapped after Chinese (fallback) text was drawn with the fallback's font
    state and came out as other letters (the fpdf2 issue described at _font).
    """
    if pdf.get_string_width(text) <= width - 2 * pdf.c_margin:
        pdf.cell(width, height, text, new_x="LEFT", new_y="NEXT")
        return
    style, size = pdf.font_style, pdf.font_size_pt
    lines = cast(list[str], pdf.multi_cell(width, height, text, dry_run=True, output="LINES"))
    if len(lines) > max_lines:
        lines = [*lines[: max_lines - 1], _fit(pdf, " ".join(lines[max_lines - 1 :]), width)]
    for line in lines:
        _font(pdf, style, size)
        pdf.cell(width, height, line, new_x="LEFT", new_y="NEXT")


def _font(pdf: FPDF, style: str, size: float) -> None:
    """Select DejaVu Sans (style "" or "B") for the next text.

    fpdf2 2.8 skips the font switch when the font is unchanged, even when the last text drew
    fallback (Chinese) glyphs with Micro Hei: the next line's glyph codes were then read in
    Micro Hei. Marking the font as not yet set on the page makes it write the switch.
    """
    pdf.set_font("Sans", style, size)
    pdf.current_font_is_set_on_page = False


def _fit(pdf: FPDF, text: str, width: float) -> str:
    """The text, cut with an ellipsis where it would overrun a one-line cell."""
    if pdf.get_string_width(text) <= width - 1:
        return text
    while text and pdf.get_string_width(text + "…") > width - 1:
        text = text[:-1]
    return text + "…"


def _grouped(code: str) -> str:
    head, _, body = code.partition(".")
    groups = [body[i : i + CODE_GROUP] for i in range(0, len(body), CODE_GROUP)]
    return f"{head}. " + " ".join(groups)


def _qr(pdf: FPDF, text: str, x: float, y: float, size: float) -> None:
    """The QR code as filled rectangles: each run of dark modules in a row, carried down
    over the rows below that repeat it exactly (about half the rectangles of one per run)."""
    # A fixed mask: segno's search for the best of the eight took 8 ms, more than the rest
    # of the page; any mask is valid and decodes the same (tests decode many codes).
    qr = segno.make(text, error="m", mask=QR_MASK)
    rows = [_runs(row) for row in qr.matrix]
    unit = size / (len(rows) + 2 * QR_BORDER)
    pdf.set_fill_color(0, 0, 0)
    for r, runs in enumerate(rows):
        for run in runs:
            depth = 1
            while r + depth < len(rows) and run in rows[r + depth]:
                rows[r + depth].remove(run)
                depth += 1
            start, end = run
            # A hair larger, so neighbouring rectangles leave no seam when rasterised.
            pdf.rect(x + (start + QR_BORDER) * unit, y + (r + QR_BORDER) * unit,
                     (end - start) * unit + 0.01, depth * unit + 0.01, style="F")


def _runs(row: bytearray) -> list[tuple[int, int]]:
    """[start, end) of each run of dark modules."""
    runs = []
    start = None
    for c, dark in enumerate([*row, 0]):
        if dark and start is None:
            start = c
        elif not dark and start is not None:
            runs.append((start, c))
            start = None
    return runs
