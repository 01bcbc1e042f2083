"""A small PDF writer: pages of text in embedded TrueType fonts, filled rectangles and lines.

Why not a PDF library: tickets are rendered at payment time, one per passenger, and with
fpdf2 most of a ticket's 20-40 ms went to fonts (fontTools parsing each document's font
again, subsetting it a second time, writing it). A ticket needs very little of PDF: one
page layout, three fonts, text, boxes and the QR code's squares. Here each font file is read
once per process (fonts.py), the glyphs a document uses are copied into a small font program
from their raw bytes, and the PDF around them is a dozen objects.

Text is drawn with CID-keyed fonts (Type0, Identity-H): the codes in the page are the glyph
ids of the embedded font program, so no character encoding has to fit; a ToUnicode map per
font keeps the text searchable and copyable. A character the primary font lacks is drawn
with the fallback font (Chinese with Micro Hei); one no font has, with the primary's
.notdef box. Coordinates are in millimetres from the top-left corner, as on paper.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from booking.tickets.fonts import FontSource

POINTS_PER_MM = 72 / 25.4
# The code printed under the QR code is ASCII: Courier, one of PDF's standard fonts, needs
# no embedding, and every character is 600/1000 em wide.
COURIER_ADVANCE = 0.6
Colour = tuple[int, int, int]


@dataclass(frozen=True, slots=True)
class FontPair:
    """A text style: the font that draws what it has, and the one that draws the rest.

    ``fallback_bold``: the style is bold but the fallback has no bold face (the Chinese
    font has one weight), so its glyphs are drawn heavier, stroked as well as filled, and a
    bold Chinese name does not look lighter than the Latin and Cyrillic ones.
    """

    primary: FontSource
    fallback: FontSource | None = None
    fallback_bold: bool = False


# A stroked glyph's outline, as a share of the font size: the width a bold face adds.
# 0.035 left a bold Chinese name's stems at 60% of the bold Latin and Cyrillic beside it
# (measured on a rendered ticket); 0.06 matches them.
EMBOLDEN_STROKE = 0.06


@dataclass(slots=True)
class _UsedFont:
    """A font as one document uses it: its PDF resource name and the glyphs drawn."""

    source: FontSource
    resource: str
    glyphs: dict[int, str] = field(default_factory=dict)  # glyph id -> the text it draws
    new_ids: dict[int, int] = field(default_factory=dict)  # glyph id -> id in the subset


class PdfCanvas:
    """Pages of one size; draw on the last one, then output() the whole document."""

    def __init__(self, width_mm: float, height_mm: float) -> None:
        self.width = width_mm
        self.height = height_mm
        self._pages: list[list[str | _TextRuns]] = []
        self._fonts: dict[int, _UsedFont] = {}  # by id() of the FontSource
        self._courier_used = False

    # -- measuring -------------------------------------------------------------------

    def text_width(self, text: str, style: FontPair, size_pt: float) -> float:
        """The width of ``text`` in millimetres, as text() will draw it."""
        units = 0.0
        for source, glyph, _ in _glyph_runs(text, style):
            units += source.advance(glyph) / source.units_per_em
        return units * size_pt / POINTS_PER_MM

    @staticmethod
    def courier_width(text: str, size_pt: float) -> float:
        return len(text) * COURIER_ADVANCE * size_pt / POINTS_PER_MM

    # -- drawing ---------------------------------------------------------------------

    def add_page(self) -> None:
        self._pages.append([])

    def rect(self, x: float, y: float, w: float, h: float, colour: Colour) -> None:
        self._draw(f"{_rgb(colour)} rg {_pt(x)} {_pt(self.height - y - h)} {_pt(w)} {_pt(h)} "
                   "re f")

    def rects(self, boxes: Iterable[tuple[float, float, float, float]], colour: Colour) -> None:
        """Many filled rectangles as one path (the QR code's squares)."""
        path = [f"{_pt(x)} {_pt(self.height - y - h)} {_pt(w)} {_pt(h)} re"
                for x, y, w, h in boxes]
        self._draw(f"{_rgb(colour)} rg\n" + "\n".join(path) + "\nf")

    def line(self, x1: float, y1: float, x2: float, y2: float, width: float,
             colour: Colour) -> None:
        self._draw(f"{_rgb(colour)} RG {_pt(width)} w {_pt(x1)} {_pt(self.height - y1)} m "
                   f"{_pt(x2)} {_pt(self.height - y2)} l S")

    def text(self, x: float, baseline: float, text: str, style: FontPair, size_pt: float,
             colour: Colour) -> None:
        """``text`` from ``x`` on the given baseline, each run in the font that has it."""
        if not text:
            return
        runs: list[tuple[_UsedFont, list[int]]] = []
        for source, glyph, char in _glyph_runs(text, style):
            used = self._use(source)
            used.glyphs.setdefault(glyph, char)
            if runs and runs[-1][0] is used:
                runs[-1][1].append(glyph)
            else:
                runs.append((used, [glyph]))
        start = f"BT {_rgb(colour)} rg {_pt(x)} {_pt(self.height - baseline)} Td"
        emboldened = style.fallback if style.fallback_bold else None
        if emboldened is not None:  # the outline in the text's colour, this wide
            start += f" {_rgb(colour)} RG {size_pt * EMBOLDEN_STROKE:.2f} w"
        self._draw(_TextRuns(start, size_pt, runs, emboldened))

    def courier(self, x: float, baseline: float, text: str, size_pt: float,
                colour: Colour) -> None:
        """ASCII text in Courier."""
        self._courier_used = True
        escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        self._draw(f"BT {_rgb(colour)} rg /Courier {size_pt:g} Tf {_pt(x)} "
                   f"{_pt(self.height - baseline)} Td ({escaped}) Tj ET")

    def _draw(self, operators: str | _TextRuns) -> None:
        if not self._pages:
            raise RuntimeError("add_page() before drawing")
        self._pages[-1].append(operators)

    def _use(self, source: FontSource) -> _UsedFont:
        used = self._fonts.get(id(source))
        if used is None:
            used = _UsedFont(source, f"F{len(self._fonts) + 1}")
            self._fonts[id(source)] = used
        return used

    # -- the file --------------------------------------------------------------------

    def output(self, title: str = "", creator: str = "Kassa") -> bytes:
        """The whole document as a PDF file."""
        writer = _ObjectWriter()
        catalog, pages_id, info = writer.reserve(), writer.reserve(), writer.reserve()
        font_refs = {used.resource: self._embed(writer, used) for used in self._fonts.values()}
        if self._courier_used:
            font_refs["Courier"] = writer.add(
                b"<< /Type /Font /Subtype /Type1 /BaseFont /Courier "
                b"/Encoding /WinAnsiEncoding >>")
        resources = " ".join(f"/{name} {ref} 0 R" for name, ref in font_refs.items())
        page_ids = []
        for operators in self._pages:
            content = "\n".join(op if isinstance(op, str) else op.operators()
                                for op in operators)
            stream = writer.add_stream(content.encode("latin-1"))
            page_ids.append(writer.add(
                f"<< /Type /Page /Parent {pages_id} 0 R /MediaBox [0 0 {_pt(self.width)} "
                f"{_pt(self.height)}] /Resources << /Font << {resources} >> >> "
                f"/Contents {stream} 0 R >>".encode("latin-1")))
        kids = " ".join(f"{p} 0 R" for p in page_ids)
        writer.set(pages_id, f"<< /Type /Pages /Kids [{kids}] /Count {len(page_ids)} >>"
                   .encode("latin-1"))
        writer.set(catalog, f"<< /Type /Catalog /Pages {pages_id} 0 R >>".encode("latin-1"))
        writer.set(info, f"<< /Title {_text_string(title)} /Creator {_text_string(creator)} "
                   f"/Producer {_text_string(creator)} >>".encode("latin-1"))
        return writer.output(catalog, info)

    def _embed(self, writer: _ObjectWriter, used: _UsedFont) -> int:
        """The font program with the glyphs drawn, and the four objects that present it."""
        source = used.source
        program, order = source.program(used.glyphs)
        used.new_ids = {old: new for new, old in enumerate(order)}
        scale = 1000 / source.units_per_em
        # A subset's name starts with six capital letters of its own (PDF 32000, 9.6.4).
        tag = "".join(chr(65 + (hash((used.resource, len(order))) >> (5 * i)) % 26)
                      for i in range(6))
        name = f"{tag}+{source.name}"
        file_ref = writer.add_stream(program, extra=f"/Length1 {len(program)}")
        bbox = " ".join(str(round(v * scale)) for v in source.bbox)
        descriptor = writer.add(
            f"<< /Type /FontDescriptor /FontName /{name} /Flags 4 /FontBBox [{bbox}] "
            f"/ItalicAngle {source.italic_angle:g} /Ascent {round(source.ascent * scale)} "
            f"/Descent {round(source.descent * scale)} /CapHeight "
            f"{round(source.cap_height * scale)} /StemV 80 /FontFile2 {file_ref} 0 R >>"
            .encode("latin-1"))
        widths = " ".join(str(round(source.advance(old) * scale)) for old in order)
        cid_font = writer.add(
            f"<< /Type /Font /Subtype /CIDFontType2 /BaseFont /{name} /CIDSystemInfo "
            f"<< /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> /FontDescriptor "
            f"{descriptor} 0 R /W [0 [{widths}]] /CIDToGIDMap /Identity >>".encode("latin-1"))
        to_unicode = writer.add_stream(_to_unicode([used.glyphs.get(old, "") for old in order]))
        return writer.add(
            f"<< /Type /Font /Subtype /Type0 /BaseFont /{name} /Encoding /Identity-H "
            f"/DescendantFonts [{cid_font} 0 R] /ToUnicode {to_unicode} 0 R >>"
            .encode("latin-1"))


def _glyph_runs(text: str, style: FontPair) -> Iterable[tuple[FontSource, int, str]]:
    """(font, glyph id, character) for each character of ``text``."""
    primary, fallback = style.primary, style.fallback
    for char in text:
        glyph = primary.glyph(char)
        if glyph is not None:
            yield primary, glyph, char
            continue
        if fallback is not None:
            glyph = fallback.glyph(char)
            if glyph is not None:
                yield fallback, glyph, char
                continue
        yield primary, 0, char  # .notdef: a box, and the character for copy and search


@dataclass(slots=True)
class _TextRuns:
    """A line of text, kept as glyph ids of the original fonts until output: the subsets,
    and so the ids in them, are known only once every page is drawn."""

    start: str  # BT, the colour and the position (and the outline's, when emboldened)
    size_pt: float
    runs: list[tuple[_UsedFont, list[int]]]
    emboldened: FontSource | None = None  # whose runs are filled and stroked (2 Tr)

    def operators(self) -> str:
        parts = [self.start]
        for used, glyphs in self.runs:
            new_id = used.new_ids
            codes = "".join(f"{new_id[glyph]:04X}" for glyph in glyphs)
            shown = f"/{used.resource} {self.size_pt:g} Tf <{codes}> Tj"
            if used.source is self.emboldened:
                shown = f"2 Tr {shown} 0 Tr"
            parts.append(shown)
        parts.append("ET")
        return " ".join(parts)


def _to_unicode(texts: Sequence[str]) -> bytes:
    """The CMap from each new glyph id to the text it draws (PDF 32000, 9.10.3)."""
    entries = [f"<{cid:04X}> <{text.encode('utf-16-be').hex().upper()}>"
               for cid, text in enumerate(texts) if text]
    blocks = []
    for start in range(0, len(entries), 100):  # at most 100 entries a block
        chunk = entries[start : start + 100]
        blocks.append(f"{len(chunk)} beginbfchar\n" + "\n".join(chunk) + "\nendbfchar")
    return (
        "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n"
        "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
        "/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n"
        "1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n"
        + "\n".join(blocks)
        + "\nendcmap\nCMapName currentdict /CMap defineresource pop\nend\nend"
    ).encode("ascii")


class _ObjectWriter:
    """Numbered objects, then the cross-reference table and the trailer."""

    def __init__(self) -> None:
        self._objects: list[bytes | None] = []

    def reserve(self) -> int:
        self._objects.append(None)
        return len(self._objects)

    def set(self, number: int, body: bytes) -> None:
        self._objects[number - 1] = body

    def add(self, body: bytes) -> int:
        self._objects.append(body)
        return len(self._objects)

    def add_stream(self, data: bytes, extra: str = "") -> int:
        packed = zlib.compress(data, 6)
        head = f"<< /Length {len(packed)} /Filter /FlateDecode {extra}>>\nstream\n"
        return self.add(head.encode("latin-1") + packed + b"\nendstream")

    def output(self, root: int, info: int) -> bytes:
        out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
        offsets = []
        for number, body in enumerate(self._objects, start=1):
            if body is None:
                raise RuntimeError(f"object {number} reserved but never written")
            offsets.append(len(out))
            out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
        xref = len(out)
        count = len(self._objects) + 1
        out += b"xref\n0 %d\n0000000000 65535 f \n" % count
        out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
        out += (b"trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n"
                % (count, root, info, xref))
        return bytes(out)


def _pt(mm: float) -> str:
    return f"{mm * POINTS_PER_MM:.2f}"


def _rgb(colour: Colour) -> str:
    return " ".join(f"{c / 255:.3g}" for c in colour)


def _text_string(text: str) -> str:
    """A PDF text string: UTF-16 with its byte order mark, in hex (any script, no escaping)."""
    return "<FEFF" + text.encode("utf-16-be").hex().upper() + ">"
