"""Reading ticket codes from a picture: a staff member's photo of a passenger's QR code."""

from __future__ import annotations

import io

import zxingcpp
from PIL import Image, UnidentifiedImageError

# A phone photo is larger than a QR code needs; decoding a smaller copy is faster and
# reads just as well.
MAX_SIDE = 1600


def read_codes(image: bytes) -> list[str]:
    """The texts of the QR codes in the image (none if it is no image or holds none)."""
    try:
        picture = Image.open(io.BytesIO(image))
        picture.load()
    except (UnidentifiedImageError, OSError, ValueError):
        return []
    picture.thumbnail((MAX_SIDE, MAX_SIDE))
    found = zxingcpp.read_barcodes(picture.convert("L"))
    return [result.text for result in found if result.text]
