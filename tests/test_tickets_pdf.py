"""The ticket PDF read back as a passenger's phone and a gate scanner would read it."""

from __future__ import annotations

import os
import re
import zlib
from dataclasses import replace
from datetime import datetime
from io import BytesIO
from pathlib import Path

import pypdfium2 as pdfium
import pytest
import zxingcpp
from fontTools.ttLib import TTFont

from booking.tickets.codes import PREFIX, TicketCodeError, TicketSigner
from booking.tickets.document import TicketCaptions, TicketDocument
from booking.tickets.fonts import (
    DEFAULT_FONTS,
    FontFile,
    MissingFontError,
    TicketFonts,
    font_source,
)
from booking.tickets.pdf import render_ticket_pdf, render_tickets_pdf
from booking.tickets.pdf_writer import FontPair, PdfCanvas
from handlers.documents import captions
from locales import texts
from tests.tickets_support import PASSENGERS, REFERENCE, RU_CAPTIONS, documents, signer

MAX_PDF_BYTES = 100 * 1024
SCALE = 4  # 288 dpi: a phone photo of a printed ticket is no sharper


def text_of(pdf: bytes) -> list[str]:
    document = pdfium.PdfDocument(pdf)
    return [page.get_textpage().get_text_range() for page in document]


def page_image(pdf: bytes, index: int = 0):
    return pdfium.PdfDocument(pdf)[index].render(scale=SCALE).to_pil()


def qr_text(image) -> str:
    barcodes = zxingcpp.read_barcodes(image)
    assert [b.format for b in barcodes] == [zxingcpp.BarcodeFormat.QRCode]
    return barcodes[0].text


@pytest.fixture(scope="module")
def sign() -> TicketSigner:
    """The service's signer."""
    return signer()


@pytest.fixture(scope="module")
def tickets(sign: TicketSigner) -> list[tuple[TicketDocument, bytes]]:
    """Each passenger's ticket and its PDF."""
    return [(doc, render_ticket_pdf(doc)) for doc in documents(sign)]


@pytest.mark.parametrize("index", range(len(PASSENGERS)))
def test_pdf_text_has_names_stations_and_reference(tickets, index: int) -> None:
    doc, pdf = tickets[index]
    (text,) = text_of(pdf)
    flat = " ".join(text.split())
    for expected in (doc.passenger, REFERENCE, "北京南站", "Москва, Ленинградский вокзал",
                     "Kassa Coach Lines", "12" + doc.seat[-1], "CN¥1,248.00",
                     "2026-12-25 06:00", "Asia/Shanghai", "2026-12-27 08:10", "Europe/Moscow"):
        assert expected in flat


@pytest.mark.parametrize("index", range(len(PASSENGERS)))
def test_qr_code_decodes_to_a_code_that_verifies(tickets, sign: TicketSigner, index: int) -> None:
    doc, pdf = tickets[index]
    text = qr_text(page_image(pdf))
    assert text == doc.code
    claims = sign.verifier().verify(text)
    assert (claims.order, claims.seat) == (REFERENCE, doc.seat)
    assert claims.ticket_id == str(1001 + index)


def test_a_decoded_code_with_one_byte_changed_is_refused(tickets, sign: TicketSigner) -> None:
    _, pdf = tickets[1]
    text = qr_text(page_image(pdf))
    verifier = sign.verifier()
    for index in range(len(PREFIX), len(text)):
        changed = text[:index] + ("B" if text[index] != "B" else "C") + text[index + 1 :]
        with pytest.raises(TicketCodeError):
            verifier.verify(changed)


def test_printed_code_under_the_qr_code_verifies(tickets, sign: TicketSigner) -> None:
    doc, pdf = tickets[0]
    (text,) = text_of(pdf)
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(PREFIX))
    typed = " ".join(lines[start:])  # what a person reads off the paper and types
    assert sign.verifier().verify(typed) == sign.verifier().verify(doc.code)


def test_pdf_is_small(tickets) -> None:
    for _, pdf in tickets:
        assert len(pdf) < MAX_PDF_BYTES
        assert pdf.startswith(b"%PDF-")


def test_one_page_per_passenger(sign: TicketSigner) -> None:
    pdf = render_tickets_pdf(documents(sign))
    pages = text_of(pdf)
    assert len(pages) == len(PASSENGERS)
    for page, (name, _) in zip(pages, PASSENGERS, strict=True):
        assert name in page
    assert len(pdf) < MAX_PDF_BYTES


def test_captions_in_the_passengers_language(tickets) -> None:
    doc, _ = tickets[2]
    (text,) = text_of(render_ticket_pdf(doc, RU_CAPTIONS))
    for caption in ("Электронный билет", "ПАССАЖИР", "МЕСТО", "НОМЕР БРОНИ", "ОТПРАВЛЕНИЕ"):
        assert caption in text


def test_chinese_captions(tickets, sign: TicketSigner) -> None:
    doc, _ = tickets[0]
    zh = TicketCaptions(title="电子客票", passenger="乘客", seat="座位", price="票价",
                        booking_reference="订单号", departure="出发", arrival="到达")
    pdf = render_ticket_pdf(doc, zh)
    (text,) = text_of(pdf)
    for caption in ("电子客票", "乘客", "座位", "订单号"):
        assert caption in text
    assert sign.verifier().verify(qr_text(page_image(pdf))).seat == doc.seat


def test_long_names_still_fit_one_page_with_a_readable_qr_code(
    tickets, sign: TicketSigner
) -> None:
    doc, _ = tickets[0]
    long = replace(
        doc,
        passenger="Maria del Carmen Fernández de la Torre y Villanueva-Hohenzollern Sr.",
        origin="Frankfurt (Main) Flughafen Fernbahnhof, Terminal 1, Bussteig 14–17",
        destination="Санкт-Петербург, Автовокзал «Обводный канал», платформа 12",
        route_name="Frankfurt – Berlin – Warszawa – Minsk – Moskva – Sankt-Peterburg",
    )
    pdf = render_ticket_pdf(long, captions(texts("zh")))
    (text,) = text_of(pdf)
    flat = " ".join(text.split())
    # Wrapped lines after Chinese text keep their own letters (each run names its font);
    # the caption's colon is Chinese, full-width.
    assert "车次：Frankfurt – Berlin" in flat
    assert "Sankt-Peterburg" in flat
    assert "Villanueva-Hohenzollern Sr." in flat
    assert "«Обводный канал», платформа 12" in flat
    assert qr_text(page_image(pdf)) == doc.code


def test_local_labels_replace_the_iso_times(tickets) -> None:
    doc, _ = tickets[2]
    labelled = replace(doc, departure_label="25 дек. 2026 г., 06:00",
                       arrival_label="27 дек. 2026 г., 08:10")
    (text,) = text_of(render_ticket_pdf(labelled))
    assert "25 дек. 2026 г., 06:00" in text
    assert "2026-12-25" not in text


def test_many_codes_decode_with_the_fixed_mask(sign: TicketSigner) -> None:
    # The QR mask is fixed for speed; codes of every shape must still scan.
    base = documents(sign)[0]
    for number in range(8):
        doc = replace(base, code=base.code[:-number - 1] + "A" * (number + 1))
        pdf = render_ticket_pdf(doc)
        assert qr_text(page_image(pdf)) == doc.code


def test_naive_times_are_refused(tickets) -> None:
    doc, _ = tickets[0]
    with pytest.raises(ValueError, match="timezone-aware"):
        replace(doc, departure=datetime(2026, 12, 25, 6, 0))  # noqa: DTZ001


def test_a_missing_font_names_its_package(tickets) -> None:
    doc = replace(tickets[0][0], origin="Berlin Hbf")  # no Chinese on this ticket
    fonts = TicketFonts(cjk=FontFile(Path("/nonexistent/wqy-microhei.ttc"), "fonts-wqy-microhei"))
    with pytest.raises(MissingFontError, match="fonts-wqy-microhei"):
        render_ticket_pdf(doc, fonts=fonts)


def test_characters_no_font_has_do_not_break_the_ticket(tickets) -> None:
    doc, _ = tickets[0]
    pdf = render_ticket_pdf(replace(doc, passenger="Anna Lee 🚌"))
    assert "Anna Lee" in text_of(pdf)[0]


def test_save_page_for_a_look(tickets, tmp_path: Path) -> None:
    """Writes the rendered page to $KASSA_TEST_ARTIFACTS (or a temporary folder)."""
    folder = Path(os.environ.get("KASSA_TEST_ARTIFACTS", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    for index, (_, pdf) in enumerate(tickets):
        page_image(pdf).save(folder / f"ticket-{index}.png")
        (folder / f"ticket-{index}.pdf").write_bytes(pdf)
    assert (folder / "ticket-0.png").stat().st_size > 0


def test_accented_letters_from_composite_glyphs_render_and_read_back(tickets) -> None:
    # DejaVu draws many accented letters as a base glyph plus an accent: both parts must be
    # in the embedded font, under their new ids.
    doc, _ = tickets[0]
    name = "María José García-Núñez Ёлка Çağ"
    pdf = render_ticket_pdf(replace(doc, passenger=name))
    assert name in " ".join(text_of(pdf)[0].split())
    plain = render_ticket_pdf(replace(doc, passenger="Maria Jose Garcia-Nunez Елка Cag"))
    # The accents are drawn: the page differs from the one without them where the name is.
    assert page_image(pdf).tobytes() != page_image(plain).tobytes()


def test_embedded_font_programs_are_valid_truetype(tickets) -> None:
    _, pdf = tickets[1]  # Latin, Cyrillic and Chinese: three fonts
    programs = [
        zlib.decompress(match.group(2))
        for match in re.finditer(rb"/Length (\d+) /Filter /FlateDecode /Length1 \d+ ?>>\n"
                                 rb"stream\n(.*?)\nendstream", pdf, re.S)
    ]
    assert len(programs) == 3
    for program in programs:
        font = TTFont(BytesIO(program))
        glyf = font["glyf"]
        for name in font.getGlyphOrder():
            glyf[name].expand(glyf)  # every glyph, composite parts included, decodes
        assert font["maxp"].numGlyphs == len(font.getGlyphOrder()) < 200


def _ink(text: str, style: FontPair) -> int:
    """How many pixels ``text`` darkens, drawn alone at 15 pt."""
    canvas = PdfCanvas(80, 20)
    canvas.add_page()
    canvas.text(5, 12, text, style, 15, (0, 0, 0))
    image = pdfium.PdfDocument(canvas.output())[0].render(scale=SCALE).to_pil().convert("L")
    return sum(image.histogram()[:128])  # pixels darker than mid-grey


def test_bold_chinese_is_drawn_heavier_than_regular_and_latin_is_left_alone() -> None:
    # The Chinese font has one weight: a bold name in it is stroked as well as filled, so
    # 王小明 is not lighter than Anna Lee beside it on the same ticket.
    bold, cjk = font_source(DEFAULT_FONTS.bold), font_source(DEFAULT_FONTS.cjk)
    plain = FontPair(bold, cjk)
    emboldened = FontPair(bold, cjk, fallback_bold=True)
    assert _ink("王小明", emboldened) > 1.15 * _ink("王小明", plain)
    assert _ink("Anna Lee", emboldened) == _ink("Anna Lee", plain)
    # Still one text: it reads back as it was written.
    canvas = PdfCanvas(80, 20)
    canvas.add_page()
    canvas.text(5, 12, "Anna 王小明", emboldened, 15, (0, 0, 0))
    assert text_of(canvas.output()) == ["Anna 王小明"]


@pytest.mark.parametrize("passenger", [
    "Maximilian Alexander Wolfeschlegelsteinhausenbergerdorff-Montgomery O'Brien-Smythe "
    "de la Vega",
    "Александра Константиновна Преображенская-Рождественская Волконская-Трубецкая "
    "Оболенская Шереметева",
])
def test_a_hundred_character_name_is_printed_whole(tickets, passenger: str) -> None:
    """The name is what the ticket is checked against: the longest a booking takes is set
    smaller, never cut."""
    doc, _ = tickets[0]
    assert len(passenger) <= 100
    pdf = render_ticket_pdf(replace(doc, passenger=passenger), TicketCaptions())
    (text,) = text_of(pdf)
    flat = "".join(text.split())
    assert "".join(passenger.split()) in flat and "…" not in text
    assert qr_text(page_image(pdf)) == doc.code
