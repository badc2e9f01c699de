"""The Chinese font, paragraph styles and the drawn round seal shared by every PDF the
platform makes (agreements here; applications and rulings in agreements.court).

Every glyph is set in one embedded, subset TrueType font (reportlab subsets TTFs on its
own), so no PDF leaves a font to the viewer: a court's reader without Chinese fonts shows
the same text as ours."""

from __future__ import annotations

import math
import threading
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_JUSTIFY, TA_LEFT, TA_RIGHT
from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable

FONT = "ODRSans"
# The same face under a second name: the bold of the family, drawn with a thin stroke
# (wqy-microhei has no bold cut) so titles and labels still stand out.
FONT_BOLD = "ODRSans-Bold"
DEFAULT_FONT_PATH = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"
SEAL_RED = colors.Color(0.80, 0.05, 0.05)

_lock = threading.Lock()
_registered: str | None = None


def font_path() -> Path:
    return Path(getattr(settings, "ODR_PDF_FONT", "") or DEFAULT_FONT_PATH)


def register_fonts() -> str:
    """Registers the font once per process (idempotent, thread-safe) and returns its
    name. Fails with ImproperlyConfigured naming the missing file: a PDF in a fallback
    base-14 font would show no Chinese at all."""
    global _registered
    path = font_path()
    if _registered == str(path):
        return FONT
    with _lock:
        if _registered == str(path):
            return FONT
        if not path.is_file():
            raise ImproperlyConfigured(
                f"The PDF font {path} does not exist. Install Debian's fonts-wqy-microhei "
                "or set ODR_PDF_FONT to a TrueType (.ttf/.ttc) font with Chinese glyphs."
            )
        subfont = {"subfontIndex": 0} if path.suffix.lower() == ".ttc" else {}
        pdfmetrics.registerFont(TTFont(FONT, str(path), **subfont))
        pdfmetrics.registerFont(TTFont(FONT_BOLD, str(path), **subfont))
        pdfmetrics.registerFontFamily(
            FONT, normal=FONT, bold=FONT_BOLD, italic=FONT, boldItalic=FONT_BOLD
        )
        _registered = str(path)
    return FONT


def styles() -> dict[str, ParagraphStyle]:
    """Paragraph styles for official documents: CJK line breaking everywhere, the body
    in 12 pt (小四) as committees and courts print it."""
    register_fonts()
    base = ParagraphStyle(
        "body",
        fontName=FONT,
        fontSize=11.5,
        leading=19,
        wordWrap="CJK",
        alignment=TA_JUSTIFY,
        firstLineIndent=0,
        spaceAfter=3,
    )

    def derive(name: str, **kw) -> ParagraphStyle:
        return ParagraphStyle(name, parent=base, **kw)

    return {
        "body": base,
        "indent": derive("indent", firstLineIndent=23),
        "title": derive(
            "title",
            fontName=FONT_BOLD,
            fontSize=20,
            leading=28,
            alignment=TA_CENTER,
            spaceAfter=2,
        ),
        "subtitle": derive(
            "subtitle",
            fontSize=10,
            leading=14,
            alignment=TA_CENTER,
            textColor=colors.grey,
            spaceAfter=6,
        ),
        "case_number": derive("case_number", fontSize=11, alignment=TA_RIGHT, spaceAfter=8),
        "heading": derive(
            "heading",
            fontName=FONT_BOLD,
            fontSize=12.5,
            leading=20,
            spaceBefore=8,
            spaceAfter=3,
            alignment=TA_LEFT,
        ),
        "small": derive("small", fontSize=8.5, leading=12, alignment=TA_LEFT),
        "small_center": derive("small_center", fontSize=8.5, leading=12, alignment=TA_CENTER),
        "cell": derive("cell", fontSize=9.5, leading=13, alignment=TA_LEFT, spaceAfter=0),
        "cell_mono": derive("cell_mono", fontSize=8, leading=11, alignment=TA_LEFT),
        "right": derive("right", alignment=TA_RIGHT),
        "org": derive("org", fontSize=13, leading=18, alignment=TA_CENTER, spaceAfter=2),
        "english": derive(
            "english",
            fontSize=8.5,
            leading=12,
            textColor=colors.Color(0.35, 0.35, 0.35),
            leftIndent=12,
            spaceAfter=4,
        ),
        "center": derive("center", alignment=TA_CENTER),
    }


def draw_bold_text(canvas: Canvas, x: float, y: float, text: str, size: float) -> None:
    """Text with a thin outline stroke: the usual stand-in for bold in a one-weight CJK
    font. Text render mode 2 fills and strokes."""
    register_fonts()
    t = canvas.beginText(x, y)
    t.setFont(FONT_BOLD, size)
    t.setTextRenderMode(2)
    canvas.setLineWidth(size * 0.03)
    t.textLine(text)
    canvas.drawText(t)


def _star(canvas: Canvas, cx: float, cy: float, r: float) -> None:
    path = canvas.beginPath()
    for i in range(10):
        radius = r if i % 2 == 0 else r * 0.382
        angle = math.pi / 2 + i * math.pi / 5
        px, py = cx + radius * math.cos(angle), cy + radius * math.sin(angle)
        if i == 0:
            path.moveTo(px, py)
        else:
            path.lineTo(px, py)
    path.close()
    canvas.drawPath(path, stroke=0, fill=1)


def draw_seal(
    canvas: Canvas,
    *,
    name: str,
    x: float,
    y: float,
    radius: float = 42,
    label: str = "",
    color: colors.Color = SEAL_RED,
) -> None:
    """Draws an official round seal centred on (x, y): a double-weight ring, a
    five-pointed star in the middle, the organisation's name along the upper arc and an
    optional label (e.g. 人民调解专用章) straight under the star — the layout of the
    seals Chinese committees and courts stamp. Slightly translucent, as ink over text."""
    register_fonts()
    canvas.saveState()
    canvas.setStrokeColor(color)
    canvas.setFillColor(color)
    if hasattr(canvas, "setFillAlpha"):
        canvas.setFillAlpha(0.85)
        canvas.setStrokeAlpha(0.85)
    canvas.setLineWidth(radius * 0.055)
    canvas.circle(x, y, radius * 0.96, stroke=1, fill=0)
    _star(canvas, x, y, radius * 0.27)

    chars = list(name.strip()) or ["?"]
    size = radius * (0.30 if len(chars) <= 12 else 0.24 if len(chars) <= 18 else 0.19)
    arc_radius = radius * 0.96 - radius * 0.08 - size * 0.9
    # The name runs clockwise over the top, centred on 12 o'clock, spread over at most
    # 240 degrees so that it never closes the circle.
    span = min(math.radians(240), len(chars) * (size * 1.08) / arc_radius)
    step = span / max(len(chars) - 1, 1) if len(chars) > 1 else 0
    start = math.pi / 2 + span / 2
    for i, ch in enumerate(chars):
        angle = start - i * step
        canvas.saveState()
        canvas.translate(x + arc_radius * math.cos(angle), y + arc_radius * math.sin(angle))
        canvas.rotate(math.degrees(angle) - 90)
        canvas.setFont(FONT_BOLD, size)
        canvas.drawCentredString(0, 0, ch)
        canvas.restoreState()
    if label:
        label_size = min(radius * 0.17, 1.6 * radius / max(len(label), 1))
        canvas.setFont(FONT, label_size)
        canvas.drawCentredString(x, y - radius * 0.55, label)
    canvas.restoreState()


class Seal(Flowable):
    """The drawn seal as a flowable, for layouts built with platypus."""

    def __init__(self, name: str, *, radius: float = 42, label: str = "") -> None:
        super().__init__()
        self.name = name
        self.radius = radius
        self.label = label
        self.width = self.height = 2 * radius

    def draw(self) -> None:
        draw_seal(
            self.canv,
            name=self.name,
            x=self.radius,
            y=self.radius,
            radius=self.radius,
            label=self.label,
        )
