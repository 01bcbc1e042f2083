"""The fonts embedded in ticket PDFs, found where Debian's packages install them.

DejaVu Sans (fonts-dejavu-core) covers Latin, Cyrillic, Greek, the arrows and the currency
signs; WenQuanYi Micro Hei (fonts-wqy-microhei) covers Chinese and is the fallback for any
character DejaVu lacks. `make install` installs both packages (as root, when missing).

Why the fonts are cut down here before fpdf2 sees them: fpdf2 parses a whole font file for
every document and subsets it again on output, which took about 1.2 s a ticket with Micro
Hei's 5 MB (fontTools' own subsetter is 100-450 ms a font). Instead each font file is parsed
once per process, and for each document a font holding only the glyphs of that document's
characters is assembled from the glyphs' raw bytes (no outline is decoded or re-encoded):
about 2 ms a font, and fpdf2's own work on it is then a few milliseconds.
"""

from __future__ import annotations

import copy
import struct
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from io import BytesIO
from pathlib import Path

from fontTools.fontBuilder import FontBuilder
from fontTools.ttLib import TTFont, newTable
from fontTools.ttLib.tables._g_l_y_f import Glyph

FONT_DIR = Path("/usr/share/fonts/truetype")
# Tables copied as they are: the metrics headers, and maxp, whose limits stay valid for any
# subset of the glyphs. Hinting (fpgm, prep, cvt, gasp and each glyph's instructions) is left
# out, as fontTools does for web fonts: PDF viewers scale outlines themselves, and every table
# kept costs fpdf2 a parse and a write per document.
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
    """One font file, parsed once; cuts per-document fonts out of it.

    Only the tables are read; each glyph stays as its raw bytes, copied into the small font
    unchanged. Safe to share between threads: the lock covers fontTools' lazy loading.
    """

    def __init__(self, font: FontFile) -> None:
        font.check()
        self._lock = threading.Lock()
        self._font = TTFont(str(font.path), fontNumber=font.number, recalcBBoxes=False)
        with self._lock:
            self.cmap: dict[int, str] = self._font.getBestCmap()
            self._glyf = self._font["glyf"]
            self._metrics = self._font["hmtx"].metrics
            self._post = self._font["post"]
            names = self._font["name"]
            self._family = names.getBestFamilyName() or font.path.stem
            self._style = names.getBestSubFamilyName() or "Regular"
            self._tables = {tag: self._font[tag] for tag in COPIED_TABLES if tag in self._font}

    def covers(self, char: str) -> bool:
        return ord(char) in self.cmap

    def subset(self, chars: Iterable[str]) -> bytes:
        """A TrueType font with the glyphs of ``chars`` this font has (and .notdef)."""
        cmap = {ord(c): self.cmap[ord(c)] for c in set(chars) if ord(c) in self.cmap}
        with self._lock:
            glyphs = self._glyphs({".notdef", *cmap.values()})
        order = [".notdef", *sorted(set(glyphs) - {".notdef"})]
        builder = FontBuilder(self._tables["head"].unitsPerEm, isTTF=True)
        builder.setupGlyphOrder(order)
        builder.setupCharacterMap(cmap)
        builder.setupHorizontalMetrics({name: self._metrics[name] for name in order})
        builder.setupNameTable({"familyName": self._family, "styleName": self._style})
        builder.setupPost(
            isFixedPitch=self._post.isFixedPitch,
            italicAngle=self._post.italicAngle,
            underlinePosition=self._post.underlinePosition,
            underlineThickness=self._post.underlineThickness,
        )
        font = builder.font
        for tag, table in self._tables.items():
            # Compiling sets a few fields (numGlyphs, loca format): a copy keeps ours intact.
            font[tag] = copy.copy(table)
        font["loca"] = newTable("loca")
        glyf = font["glyf"] = newTable("glyf")
        glyf.glyphs = glyphs
        glyf.glyphOrder = order
        # The glyphs keep the bounds in their raw bytes; recomputing them would decode each one.
        font.recalcBBoxes = False
        out = BytesIO()
        font.save(out)
        return out.getvalue()

    def _glyphs(self, names: set[str]) -> dict[str, Glyph]:
        glyphs: dict[str, Glyph] = {}
        todo = list(names)
        while todo:
            name = todo.pop()
            if name in glyphs:
                continue
            glyph = self._glyf.glyphs[name]
            if glyph.isComposite():
                glyph.expand(self._glyf)  # a composite's parts are named only once expanded
                if hasattr(glyph, "program"):
                    del glyph.program
                todo.extend(c.glyphName for c in glyph.components)
                glyphs[name] = glyph
            else:
                glyphs[name] = _without_instructions(glyph)
        return glyphs


def _without_instructions(glyph: Glyph) -> Glyph:
    """A simple glyph's raw bytes with its hinting instructions cut out (nothing decoded)."""
    data: bytes = getattr(glyph, "data", b"")
    if len(data) < 12:  # empty, or already expanded (then compiled as it is)
        return glyph
    contours = struct.unpack(">h", data[:2])[0]
    at = 10 + 2 * contours  # after the header and the contours' end points
    (length,) = struct.unpack(">H", data[at : at + 2])
    if not length:
        return glyph
    return Glyph(data[:at] + b"\0\0" + data[at + 2 + length :])


@cache
def font_source(font: FontFile) -> FontSource:
    """The parsed font, once per process."""
    return FontSource(font)
