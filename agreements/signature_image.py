"""Handwritten-signature images: a drawn PNG from the signing canvas is checked to be a
real, sane, non-blank PNG and re-encoded (nothing but pixels is kept); a typed name is
set in the Chinese font and rendered to a PNG on the server, so the PDF shows the same
kind of image either way."""

from __future__ import annotations

import base64
import binascii
import io
from functools import lru_cache

from django.utils.translation import gettext as _
from PIL import Image, ImageDraw, ImageFont, UnidentifiedImageError

from odr.errors import Invalid

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
MAX_BYTES = 512 * 1024
MIN_SIDE, MAX_WIDTH, MAX_HEIGHT = 40, 3000, 1500
FONT_PATH = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"
# A pixel darker than this on white counts as ink.
INK_LEVEL = 200
MIN_INK_PIXELS = 30


def _bad(message: str) -> Invalid:
    return Invalid(message, code="invalid_signature_image")


def decode_signature_png(data: str) -> bytes:
    """The canvas's base64 PNG (a `data:image/png;base64,` prefix is allowed) checked and
    re-encoded, or Invalid with a message saying what is wrong."""
    text = (data or "").strip()
    if text.startswith("data:"):
        header, _sep, text = text.partition(",")
        if header.lower() != "data:image/png;base64":
            raise _bad(_("The signature must be a PNG image."))
    if not text:
        raise _bad(_("Draw your signature first."))
    if len(text) > MAX_BYTES * 4 // 3 + 8:
        raise _bad(_("The signature image is too large (512 KB at most)."))
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise _bad(_("The signature is not valid base64.")) from None
    if not raw.startswith(PNG_MAGIC):
        raise _bad(_("The signature must be a PNG image."))
    try:
        with Image.open(io.BytesIO(raw)) as probe:
            probe.verify()
        image = Image.open(io.BytesIO(raw))
        if image.format != "PNG":
            raise _bad(_("The signature must be a PNG image."))
        width, height = image.size
        if width < MIN_SIDE or height < MIN_SIDE // 2 or width > MAX_WIDTH or height > MAX_HEIGHT:
            raise _bad(
                _("The signature image must be between %(min)s and %(w)s×%(h)s pixels.")
                % {"min": MIN_SIDE, "w": MAX_WIDTH, "h": MAX_HEIGHT}
            )
        image.load()
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError):
        raise _bad(_("The signature image is damaged or not a PNG.")) from None
    rgba = image.convert("RGBA")
    if _ink_pixels(rgba) < MIN_INK_PIXELS:
        raise _bad(_("The signature is empty: draw your signature in the box."))
    return _encode(rgba)


def _ink_pixels(rgba: Image.Image) -> int:
    """Pixels that show as ink on white paper (transparent canvas background is paper)."""
    paper = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    grey = Image.alpha_composite(paper, rgba).convert("L")
    histogram = grey.histogram()
    return sum(histogram[:INK_LEVEL])


def _encode(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


@lru_cache(maxsize=4)
def _font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(FONT_PATH, size=size)


def render_typed_name(name: str) -> bytes:
    """The typed name as a signature image: dark ink on a transparent background."""
    name = " ".join(name.split())
    if not name:
        raise _bad(_("Type your name to sign."))
    font = _font(96)
    left, top, right, bottom = font.getbbox(name)
    pad = 24
    width = max(right - left + 2 * pad, 200)
    height = bottom - top + 2 * pad
    image = Image.new("RGBA", (min(width, MAX_WIDTH), height), (255, 255, 255, 0))
    ImageDraw.Draw(image).text((pad - left, pad - top), name, font=font, fill=(20, 30, 90, 255))
    return _encode(image)
