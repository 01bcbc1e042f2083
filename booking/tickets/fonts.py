"""The fonts embedded in ticket PDFs, found where Debian's packages install them.

DejaVu Sans (fonts-dejavu-core) covers Latin, Cyrillic, Greek, the arrows and the currency
signs; WenQuanYi Micro Hei (fonts-wqy-microhei) covers Chinese and is the fallback for any
character DejaVu lacks. `make install` installs both packages (as root, when missing).

Each font file is read once per process, without decoding its outlines; for each document a
font program holding only the glyphs that document prints is assembled from the glyphs' raw
bytes (pdf_writer.py embeds it): well under a millisecond a font, where having a PDF library
parse and subset Micro Hei's 5 MB took over a second a ticket.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from fontTools.ttLib import TTFont

FONT_DIR = Path("/usr/share/fonts/truetype")
# Tables copied as they are: the metrics headers, and maxp, whose limits stay valid for any
# subset of the glyphs. Hinting (fpgm, prep, cvt, gasp and each glyph's instructions) is left
# out, as fontTools does for web fonts: PDF viewers scale outlines themselves. No cmap: the
# PDF draws glyph ids, and its ToUnicode map says which characters they are.
COPIED_TABLES = ("head", "hhea", "maxp", "OS/2")


class MissingFontError(RuntimeError):
    """A font the tickets need is not installed; the message names the package."""


@dataclass(frozen=True, slots=True)
class FontFile:
    path: Path
    package: str  # the Debian package that installs it
    number: int = 0  # the face in a collection (.ttc)

    def check(self) -> Path:
        if not self.path.is_file():
            raise MissingFontError(
                f"ticket font {self.path} is missing: install the Debian package "
                f"{self.package} (apt-get install -y {self.package}, or `make install` as root)"
            )
        return self.path


@dataclass(frozen=True, slots=True)
class TicketFonts:
    regular: FontFile = FontFile(FONT_DIR / "dejavu/DejaVuSans.ttf", "fonts-dejavu-core")
    bold: FontFile = FontFile(FONT_DIR / "dejavu/DejaVuSans-Bold.ttf", "fonts-dejavu-core")
    cjk: FontFile = FontFile(FONT_DIR / "wqy/wqy-microhei.ttc", "fonts-wqy-microhei")

    def check(self) -> None:
        """Raise MissingFontError naming the package of the first missing font."""
        for font in (self.regular, self.bold, self.cjk):
            font.check()


DEFAULT_FONTS = TicketFonts()


class FontSource:
    """One font file, read once; cuts per-document font programs out of it.

    The tables are kept as the file's raw bytes and each glyph as its raw bytes, copied into
    the small font unchanged: nothing is decoded or re-encoded (Micro Hei's 5 MB are read in
    about 0.1 s, and a document's font is assembled in well under a millisecond). Read-only
    once built, so threads may share it.
    """

    def __init__(self, font: FontFile) -> None:
        font.check()
        # Everything is read here, and the file closed: lazy loading reads only the tables
        # asked for, so Micro Hei's thousands of outlines are never decoded.
        with TTFont(str(font.path), fontNumber=font.number, lazy=True) as parsed:
            names = parsed["name"]
            # The PostScript name ("DejaVuSans-Bold"): what PDF calls a font by.
            self.name = (names.getDebugName(6) or names.getBestFamilyName()
                         or font.path.stem).replace(" ", "")
            head = parsed["head"]
            self.units_per_em: int = head.unitsPerEm
            self.bbox = (head.xMin, head.yMin, head.xMax, head.yMax)
            hhea = parsed["hhea"]
            self.ascent, self.descent = hhea.ascent, hhea.descent
            os2 = parsed.get("OS/2")
            self.cap_height: int = getattr(os2, "sCapHeight", 0) or hhea.ascent
            self.italic_angle: float = parsed["post"].italicAngle
            order = parsed.getGlyphOrder()
            ids = parsed.getReverseGlyphMap()
            self._glyph_of_char = {c: ids[name] for c, name in parsed.getBestCmap().items()}
            metrics = parsed["hmtx"].metrics
            self._metrics = [metrics[name] for name in order]  # (advance, left side bearing)
            raw = {tag: parsed.reader[tag] for tag in (*COPIED_TABLES, "post", "loca", "glyf")
                   if tag in parsed.reader}
            self._tables = {tag: raw[tag] for tag in COPIED_TABLES if tag in raw}
            self._post_head = raw["post"][:32]
            self._glyf = raw["glyf"]
            self._loca = _offsets(raw["loca"], long_format=head.indexToLocFormat == 1)

    def glyph(self, char: str) -> int | None:
        """The glyph id of ``char``, or None when this font has no glyph for it."""
        return self._glyph_of_char.get(ord(char))

    def advance(self, glyph: int) -> int:
        """The glyph's advance width in font units."""
        return int(self._metrics[glyph][0])

    def program(self, glyphs: Iterable[int]) -> tuple[bytes, list[int]]:
        """A TrueType font holding ``glyphs`` (with the parts of composite ones, and
        .notdef), and the original ids in the order of the new ones: the new font's glyph
        ``n`` is the original glyph ``order[n]``."""
        order = [0]
        known = {0}
        todo = sorted(set(glyphs) - known)
        data: dict[int, bytes] = {}
        while todo:
            glyph = todo.pop()
            if glyph in known:
                continue
            known.add(glyph)
            order.append(glyph)
            raw = self._raw_glyph(glyph)
            data[glyph] = raw
            todo.extend(_components(raw))
        order[1:] = sorted(order[1:])
        new_id = {old: new for new, old in enumerate(order)}
        data[0] = self._raw_glyph(0)
        glyf = bytearray()
        loca = [0]
        for old in order:
            glyf += _renumbered(data[old], new_id)
            glyf += b"\0" * (-len(glyf) % 4)
            loca.append(len(glyf))
        count = len(order)
        tables = dict(self._tables)
        head = bytearray(tables["head"])
        head[8:12] = b"\0\0\0\0"  # checkSumAdjustment: left at zero, as readers ignore it
        head[50:52] = struct.pack(">h", 1)  # long loca offsets
        tables["head"] = bytes(head)
        tables["hhea"] = tables["hhea"][:34] + struct.pack(">H", count)
        tables["maxp"] = tables["maxp"][:4] + struct.pack(">H", count) + tables["maxp"][6:]
        tables["hmtx"] = b"".join(struct.pack(">Hh", *self._metrics[old]) for old in order)
        tables["loca"] = struct.pack(f">{count + 1}I", *loca)
        tables["glyf"] = bytes(glyf)
        tables["post"] = struct.pack(">I", 0x00030000) + self._post_head[4:]  # no names
        return _sfnt(tables), order

    def _raw_glyph(self, glyph: int) -> bytes:
        return _without_instructions(self._glyf[self._loca[glyph] : self._loca[glyph + 1]])


def _offsets(loca: bytes, *, long_format: bool) -> list[int]:
    if long_format:
        return list(struct.unpack(f">{len(loca) // 4}I", loca))
    return [2 * o for o in struct.unpack(f">{len(loca) // 2}H", loca)]


# Composite glyph flags (the TrueType 'glyf' table).
ARG_1_AND_2_ARE_WORDS = 0x0001
WE_HAVE_A_SCALE = 0x0008
MORE_COMPONENTS = 0x0020
WE_HAVE_AN_X_AND_Y_SCALE = 0x0040
WE_HAVE_A_TWO_BY_TWO = 0x0080
WE_HAVE_INSTRUCTIONS = 0x0100


def _component_records(raw: bytes) -> Iterator[tuple[int, int, int]]:
    """(offset of the record, its flags, its glyph id) for each part of a composite glyph."""
    if len(raw) < 10 or struct.unpack(">h", raw[:2])[0] >= 0:
        return
    at = 10
    while True:
        flags, glyph = struct.unpack(">HH", raw[at : at + 4])
        yield at, flags, glyph
        at += 4 + (4 if flags & ARG_1_AND_2_ARE_WORDS else 2)
        if flags & WE_HAVE_A_SCALE:
            at += 2
        elif flags & WE_HAVE_AN_X_AND_Y_SCALE:
            at += 4
        elif flags & WE_HAVE_A_TWO_BY_TWO:
            at += 8
        if not flags & MORE_COMPONENTS:
            return


def _components(raw: bytes) -> list[int]:
    return [glyph for _, _, glyph in _component_records(raw)]


def _renumbered(raw: bytes, new_id: dict[int, int]) -> bytes:
    """A composite glyph's parts pointed at their ids in the new font."""
    records = list(_component_records(raw))
    if not records:
        return raw
    out = bytearray(raw)
    for at, _, glyph in records:
        out[at + 2 : at + 4] = struct.pack(">H", new_id[glyph])
    return bytes(out)


def _without_instructions(raw: bytes) -> bytes:
    """The glyph's raw bytes with its hinting instructions cut out (nothing decoded)."""
    if len(raw) < 12:  # empty
        return raw
    contours = struct.unpack(">h", raw[:2])[0]
    if contours < 0:  # composite: the instructions follow the last record
        records = list(_component_records(raw))
        at, flags, _ = records[-1]
        if not flags & WE_HAVE_INSTRUCTIONS:
            return raw
        end = at + 4 + (4 if flags & ARG_1_AND_2_ARE_WORDS else 2)
        end += (2 if flags & WE_HAVE_A_SCALE else 4 if flags & WE_HAVE_AN_X_AND_Y_SCALE
                else 8 if flags & WE_HAVE_A_TWO_BY_TWO else 0)
        out = bytearray(raw[:end])
        out[at : at + 2] = struct.pack(">H", flags & ~WE_HAVE_INSTRUCTIONS)
        return bytes(out)
    at = 10 + 2 * contours  # after the header and the contours' end points
    (length,) = struct.unpack(">H", raw[at : at + 2])
    if not length:
        return raw
    return raw[:at] + b"\0\0" + raw[at + 2 + length :]


def _sfnt(tables: dict[str, bytes]) -> bytes:
    """The TrueType file: the table directory, then the tables, each 4-byte aligned."""
    tags = sorted(tables)
    count = len(tags)
    power = 1 << (count.bit_length() - 1)
    header = struct.pack(">IHHHH", 0x00010000, count, power * 16, power.bit_length() - 1,
                         count * 16 - power * 16)
    directory = bytearray()
    body = bytearray()
    offset = 12 + 16 * count
    for tag in tags:
        data = tables[tag]
        directory += struct.pack(">4sIII", tag.encode("latin-1"), _checksum(data),
                                 offset + len(body), len(data))
        body += data + b"\0" * (-len(data) % 4)
    return header + bytes(directory) + bytes(body)


def _checksum(data: bytes) -> int:
    padded = data + b"\0" * (-len(data) % 4)
    return sum(struct.unpack(f">{len(padded) // 4}I", padded)) & 0xFFFFFFFF


@cache
def font_source(font: FontFile) -> FontSource:
    """The parsed font, once per process."""
    return FontSource(font)


def printable(char: str, fonts: TicketFonts = DEFAULT_FONTS) -> bool:
    """Whether a ticket prints ``char`` as itself: the text font or the CJK fallback has
    its glyph (Thai or Devanagari would be empty boxes). Without the fonts installed nothing
    can be judged, and the first ticket says which package is missing."""
    try:
        return any(font_source(font).glyph(char) is not None
                   for font in (fonts.regular, fonts.cjk))
    except MissingFontError:
        return True
