"""The Chinese fonts, paragraph styles and the drawn round seal shared by every PDF the
platform makes (agreements here; applications and rulings in agreements.court).

The body of every document is set in a Song/Ming serif (宋体/明体), as committees and
courts print theirs: settings.ODR_PDF_FONT, by default AR PL UMing from Debian's
`fonts-arphic-uming` (its simplified-Chinese face, "AR PL UMing CN", is picked out of the
.ttc collection). Labels may use the sans settings.ODR_PDF_SANS_FONT (`fonts-wqy-microhei`,
黑体-like) as SANS_FONT. Every glyph is in an embedded, subset TrueType font (reportlab
subsets TTFs on its own), so no PDF leaves a font to the viewer: a court's reader without
Chinese fonts shows the same text as ours.

Neither face has a bold cut. FONT_BOLD (and SANS_FONT_BOLD) name the same face; text set
in them through an EmbeddedFontCanvas is filled and outlined with a thin stroke (text
render mode 2), the usual stand-in for 加粗 in a one-weight CJK font: in titles, headings
and `<b>` in paragraphs alike."""

from __future__ import annotations

import functools
import math
import threading
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_JUSTIFY, TA_LEFT, TA_RIGHT
from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont, TTFontFace
from reportlab.pdfgen.canvas import Canvas
from reportlab.pdfgen.textobject import PDFTextObject
from reportlab.platypus import Flowable, Paragraph, TableStyle
from reportlab.platypus.paragraph import (
    _FUZZ,
    FragLine,
    cjkU,
    getAscentDescent,
    imgNormV,
    imgVRange,
    sameFrag,
)

# The serif body face (宋体/明体) and its stroked bold.
FONT = "ODRSerif"
FONT_BOLD = "ODRSerif-Bold"
# The sans (黑体-like) face for labels, and its stroked bold.
SANS_FONT = "ODRSans"
SANS_FONT_BOLD = "ODRSans-Bold"
BOLD_FONTS = frozenset({FONT_BOLD, SANS_FONT_BOLD})
# The outline's width as a share of the font size: enough to read as 加粗, not to blot.
BOLD_STROKE = 0.03
SEAL_RED = colors.Color(0.80, 0.05, 0.05)

_lock = threading.Lock()
_registered: str | None = None


def font_path() -> Path:
    return Path(settings.ODR_PDF_FONT)


def sans_font_path() -> Path:
    return Path(settings.ODR_PDF_SANS_FONT)


# A .ttc holds several faces; the simplified-Chinese one is named so (uming.ttc: CN, HK,
# TW, TW MBE, in that order today, but the order is the package's business).
_CN_MARKS = (" CN", "CN ", " SC", "GB", "简")


@functools.lru_cache(maxsize=8)
def cn_subfont_index(path: str) -> int:
    """The index of the simplified-Chinese face in a TrueType collection (0 when none is
    named so, and for a single .ttf)."""
    if not path.lower().endswith((".ttc", ".otc")):
        return 0
    from reportlab.pdfbase.ttfonts import TTFontFile

    first = None
    for index in range(16):
        try:
            face = TTFontFile(path, subfontIndex=index, validate=0)
        except Exception:  # noqa: BLE001 - past the last face, or one reportlab can't read
            break
        names = " ".join(
            str(n, "utf-8", "replace") if isinstance(n, bytes) else str(n)
            for n in (face.familyName, face.name)
        )
        if first is None:
            first = index
        if any(mark in f" {names} " for mark in _CN_MARKS):
            return index
    return first or 0


class _GlyphTable:
    """A font's glyf table as a view on the font file's bytes, read a glyph at a time: a
    slice is a copy of that glyph only."""

    __slots__ = ("_view",)

    def __init__(self, view: memoryview) -> None:
        self._view = view

    def __getitem__(self, key: slice) -> bytes:
        return bytes(self._view[key])

    def __len__(self) -> int:
        return len(self._view)


class _SubsettingFace(TTFontFace):
    """reportlab's face, subsetting without copying the whole glyf table first: for each
    document and each font name it copied the table (about 15 MB of AR PL UMing) to read
    a few hundred glyphs out of it, a fifth of an agreement's rendering. makeSubset only
    slices the glyf table, so a view gives the same subset (tests/agreements/
    test_documents_caches.py)."""

    def get_table(self, tag):
        if tag != "glyf":
            return super().get_table(tag)
        pos, length = self.get_table_pos(tag)
        return _GlyphTable(memoryview(self._ttf_data)[pos : pos + length])


def _ttfont(name: str, path: Path, index: int) -> TTFont:
    font = TTFont(name, str(path), subfontIndex=index)
    if type(font.face) is TTFontFace:
        font.face.__class__ = _SubsettingFace
    return font


def _register_face(name: str, bold: str, path: Path) -> None:
    index = cn_subfont_index(str(path))
    pdfmetrics.registerFont(_ttfont(name, path, index))
    # The bold is the same face under a second name (a second subset of it is embedded
    # when a document uses it): the canvas strokes whatever is set in it (BoldTextObject).
    pdfmetrics.registerFont(_ttfont(bold, path, index))
    pdfmetrics.registerFontFamily(name, normal=name, bold=bold, italic=name, boldItalic=bold)


def _missing(path: Path, setting: str, package: str) -> ImproperlyConfigured:
    return ImproperlyConfigured(
        f"The PDF font {path} does not exist. Install Debian's {package} or set {setting} "
        "to a TrueType (.ttf/.ttc) font with Chinese glyphs."
    )


def register_fonts() -> str:
    """Registers the fonts once per process (idempotent, thread-safe) and returns the
    body font's name. Fails with ImproperlyConfigured naming the missing file: a PDF in a
    fallback base-14 font would show no Chinese at all."""
    global _registered
    # Asked for by every canvas and style: the settings' strings are compared before any
    # path is built (Path objects for each call were a millisecond of every agreement).
    key = f"{settings.ODR_PDF_FONT}|{settings.ODR_PDF_SANS_FONT}"
    if _registered == key:
        return FONT
    path, sans = font_path(), sans_font_path()
    with _lock:
        if _registered == key:
            return FONT
        if not path.is_file():
            raise _missing(path, "ODR_PDF_FONT", "fonts-arphic-uming (a Song/Ming serif)")
        if not sans.is_file():
            raise _missing(sans, "ODR_PDF_SANS_FONT", "fonts-wqy-microhei")
        _register_face(FONT, FONT_BOLD, path)
        _register_face(SANS_FONT, SANS_FONT_BOLD, sans)
        _registered = key
    return FONT


class BoldTextObject(PDFTextObject):
    """A text object that outlines what is set in a bold name (FONT_BOLD, SANS_FONT_BOLD)
    with a thin stroke in the text's own colour, and leaves the render mode and line
    width as it found them when it ends."""

    _bold = False

    def __init__(self, canvas, x=0, y=0, direction=None) -> None:
        super().__init__(canvas, x, y, direction=direction)
        self._stroked = False
        self._fill = getattr(canvas, "_fillColorObj", colors.black)
        self._bold_mode(self._fontname, self._fontsize)

    def _bold_mode(self, name: str, size: float) -> None:
        bold = name in BOLD_FONTS
        if bold:
            self._code.append(f"2 Tr {size * BOLD_STROKE:.3f} w")
            super().setStrokeColor(_opaque(self._fill))
            self._stroked = True
        elif self._bold:
            self._code.append("0 Tr")
        self._bold = bold
        self._textRenderMode = 2 if bold else 0

    def _setFont(self, psfontname, size):
        super()._setFont(psfontname, size)
        self._bold_mode(psfontname, size)

    def setFont(self, psfontname, size, leading=None):
        super().setFont(psfontname, size, leading)
        self._bold_mode(psfontname, size)

    def setFillColor(self, aColor, alpha=None):
        super().setFillColor(aColor, alpha)
        self._fill = aColor
        if self._bold:
            super().setStrokeColor(_opaque(aColor))

    def getCode(self):
        if self._stroked:
            # Render mode, line width and stroke colour outlive ET: put back what the
            # canvas expects.
            self._code.append(f"0 Tr {self._canvas._lineWidth} w")
            super().setStrokeColor(_opaque(self._canvas._strokeColorObj))
            self._bold = False
        return super().getCode()


def _opaque(color):
    # The outline's colour without an alpha of its own (the canvas's stroke alpha, as
    # the seal sets it, still applies): a text object's alpha would outlive it.
    if isinstance(color, colors.Color) and not isinstance(color, colors.CMYKColor):
        return colors.Color(color.red, color.green, color.blue)
    return color if color is not None else colors.black


def pdf_date(value: datetime) -> str:
    """A PDF date string (ISO 32000 7.9.4), in UTC."""
    utc = value.astimezone(UTC) if value.tzinfo is not None else value
    return f"D:{utc:%Y%m%d%H%M%S}+00'00'"


class EmbeddedFontCanvas(Canvas):
    """A canvas whose initial font is ours: reportlab's default canvas starts every page
    in base-14 Helvetica and lists it, unembedded, in the PDF even if no glyph uses it.
    Its text objects stroke the bold names (BoldTextObject). Pass it as `canvasmaker=` to
    `doc.build()` (or subclass it); `dated_canvas(when)` also dates the file.

    `issued_at`: the document's own time, written as the PDF's /CreationDate and
    /ModDate. Documents are rendered in reportlab's invariant mode (the same input gives
    the same bytes, so a document's hash can be recomputed), which otherwise dates every
    file 2000-01-01."""

    def __init__(self, *args, issued_at: datetime | None = None, **kwargs) -> None:
        register_fonts()
        # platypus passes its own initialFontName (Helvetica) explicitly: override it.
        kwargs["initialFontName"] = FONT
        super().__init__(*args, **kwargs)
        if issued_at is not None:
            stamp = pdf_date(issued_at)
            self.setDateFormatter(lambda *_: stamp)

    def beginText(self, x=0, y=0, direction=None):
        return BoldTextObject(self, x, y, direction=direction)


def dated_canvas(issued_at: datetime, canvas_class: type = EmbeddedFontCanvas):
    """A `canvasmaker=` for `doc.build()` that dates the PDF with the document's own time
    (its issue or decision time), e.g. `canvasmaker=dated_canvas(request.decided_at)`."""
    return functools.partial(canvas_class, issued_at=issued_at)


def table_style(commands: list | tuple = ()) -> TableStyle:
    """A TableStyle whose plain-string cells are set in our font too (reportlab's tables
    otherwise fall back to Helvetica for them)."""
    register_fonts()
    return TableStyle([("FONTNAME", (0, 0), (-1, -1), FONT), *commands])


# Chinese line-breaking rules (禁则, as in W3C "Requirements for Chinese Text Layout"):
# closing and pausing punctuation never starts a line, opening punctuation never ends
# one. reportlab's own CJK wrap knows only the Japanese/ASCII subset of the first list
# (no full-width ，：；？！ or 》) and none of the second, so lines began with "：".
CANNOT_START = (
    "，。、；：？！）」』》〉】〕］｝〗〙〛…‥’”·・％‰℃々ー"  # full-width
    "!,.:;?)]}%"  # ASCII
)
CANNOT_END = "（「『《〈【〔［｛〖〘〚‘“([{"


def _is_latin(ch: str) -> bool:
    # A character of a word that must not be cut: letters, digits and the marks inside
    # e-mail addresses, numbers and hashes (ASCII and Latin-1 only: CJK breaks anywhere).
    return bool(ch) and ord(ch) < 0x3000 and not ch.isspace()


def _break_point(chars: list[str], start: int, end: int) -> int:
    """Where the line that begins at `start` and overflows at `end` (the first character
    that does not fit) should end. The break only moves back (a mark hanging in the
    margin would stick out of a table cell), by at most half the line: first to a place
    that breaks no punctuation rule and cuts no Latin word or number (a phone number or
    an e-mail address stays whole), else to one that breaks no punctuation rule, else it
    stays at `end` (a cell too narrow for any rule)."""

    def bad_punctuation(b: int) -> bool:
        return bool(
            (chars[b] and chars[b] in CANNOT_START) or (chars[b - 1] and chars[b - 1] in CANNOT_END)
        )

    def cuts_word(b: int) -> bool:
        return _is_latin(chars[b]) and _is_latin(chars[b - 1])

    floor = start + max(1, (end - start) // 2)
    for rule in (lambda b: bad_punctuation(b) or cuts_word(b), bad_punctuation):
        for b in range(end, floor - 1, -1):
            if not rule(b):
                return b
    return end


# Character widths by font and size: reportlab's cjkU measures every character of every
# paragraph with stringWidth, each time a paragraph is wrapped. The width of a character in
# a face at a size never changes, so it is measured once per process.
_widths: dict[tuple[str, float], dict[str, float]] = {}


def _frag_chars(text: str, frag) -> list:
    """reportlab's [cjkU(ch, frag, "utf8") for ch in text], the same objects (a str per
    character holding its fragment and width), with the widths from _widths."""
    if hasattr(frag, "cbDefn"):
        return [cjkU(ch, frag, "utf8") for ch in text]
    widths = _widths.setdefault((frag.fontName, frag.fontSize), {})
    out = []
    new = str.__new__
    for ch in text:
        u = new(cjkU, ch)
        u._frag = frag
        w = widths.get(ch)
        if w is None:
            w = widths[ch] = pdfmetrics.stringWidth(ch, frag.fontName, frag.fontSize)
        u._width = w
        out.append(u)
    return out


def make_cjk_para_line(chars, max_width, width_used, extra_space, line_break, calc_bounds):
    """reportlab's makeCJKParaLine, giving the same line, by runs of characters of one
    fragment instead of character by character: it compared every character's fragment
    with the previous one's (sameFrag) and looked its font's ascent up again, a third of
    the wrapping's time. Within a run of one plain fragment (no inline image, no line
    break) the comparison can only say "the same"; anything else goes character by
    character as reportlab does."""
    words = []
    pending: list = []
    f0 = FragLine()
    max_size = max_ascent = min_descent = 0
    n = len(chars)
    i = 0
    while i < n:
        f = chars[i]._frag
        j = i + 1
        plain = not (hasattr(f, "cbDefn") or hasattr(f, "lineBreak"))
        if plain:
            while j < n and chars[j]._frag is f:
                j += 1
        font_size = f.fontSize
        cb = getattr(f, "cbDefn", None) if calc_bounds else None
        if getattr(cb, "width", 0):
            descent, ascent = imgVRange(imgNormV(cb.height, font_size), cb.valign, font_size)
        else:
            ascent, descent = getAscentDescent(f.fontName, font_size)
        max_size = max(max_size, font_size)
        max_ascent = max(max_ascent, ascent)
        min_descent = min(min_descent, descent)
        if not sameFrag(f0, f):
            f0 = f0.clone()
            f0.text = "".join(pending)
            words.append(f0)
            pending = []
            f0 = f
        pending.extend(chars[i:j])
        i = j
    if pending:
        f0 = f0.clone()
        f0.text = "".join(pending)
        words.append(f0)
    return FragLine(
        kind=1,
        extraSpace=extra_space,
        wordCount=1,
        words=words[1:],
        fontSize=max_size,
        ascent=max_ascent,
        descent=min_descent,
        maxWidth=max_width,
        currentWidth=width_used,
        lineBreak=line_break,
    )


def cjk_frag_split(frags: list, max_widths: list[float], calc_bounds: bool):
    """reportlab's cjkFragSplit (character-by-character CJK wrapping) with the 禁则 rules
    above. Deterministic: the same text and widths always give the same lines."""
    from reportlab.platypus.paragraph import ParaLines

    chars: list = []
    for f in frags:
        text = f.text.decode("utf8") if isinstance(f.text, bytes) else f.text
        if text:
            chars.extend(_frag_chars(text, f))
        else:
            chars.append(cjkU(text, f, "utf8"))  # a <br/> or an inline image
    lines: list = []
    start, n = 0, len(chars)

    def width_of(u, max_width: float) -> float:
        w = u.width
        if hasattr(w, "normalizedValue"):
            w._normalizer = max_width
            w = w.normalizedValue(max_width)
        return w

    while start < n:
        max_width = max_widths[min(len(lines), len(max_widths) - 1)]
        used, i, line_break = 0.0, start, False
        while i < n:
            u = chars[i]
            w = width_of(u, max_width)
            if hasattr(u.frag, "lineBreak"):
                used += w
                i += 1
                line_break = True
                break
            if used + w > max_width + _FUZZ and i > start:
                break
            used += w
            i += 1
        if i >= n and not line_break:
            if used > 0:
                lines.append(
                    make_cjk_para_line(
                        chars[start:], max_width, used, max_width - used, False, calc_bounds
                    )
                )
            break
        end = i if line_break else _break_point(chars, start, i)
        if end != i:
            used = sum(width_of(u, max_width) for u in chars[start:end])
        lines.append(
            make_cjk_para_line(
                chars[start:end], max_width, used, max_width - used, line_break, calc_bounds
            )
        )
        start = end
    return ParaLines(kind=1, lines=lines)


class CJKParagraph(Paragraph):
    """A Paragraph that wraps Chinese by the 禁则 rules (no line starts with "，" or "："
    nor ends with "（"). Use it for every paragraph in a styles() style."""

    def breakLinesCJK(self, maxWidths):
        if not isinstance(maxWidths, (list, tuple)):
            maxWidths = [maxWidths]
        if self.bulletText or self.style.endDots:
            # Rare layouts our documents don't use: reportlab's own wrap handles them.
            return super().breakLinesCJK(maxWidths)
        self.height = 0
        if hasattr(self, "blPara") and getattr(self, "_splitpara", 0):
            return self.blPara
        if not self.frags:
            return super().breakLinesCJK(maxWidths)
        auto_leading = getattr(self, "autoLeading", getattr(self.style, "autoLeading", ""))
        calc_bounds = auto_leading not in ("", "off")
        # platypus wraps most paragraphs two or three times at the same widths (KeepTogether
        # and tables measure before the frame places them): the same text in the same
        # widths breaks into the same lines, so each paragraph breaks once per width (a
        # fifth of an agreement's rendering otherwise). Nothing downstream changes them.
        key = (tuple(maxWidths), calc_bounds)
        lines = self.__dict__.setdefault("_cjk_lines", {})
        if key not in lines:
            lines[key] = cjk_frag_split(self.frags, maxWidths, calc_bounds)
        return lines[key]


def styles() -> dict[str, ParagraphStyle]:
    """Paragraph styles for official documents: CJK line breaking everywhere, the body
    in 12 pt (小四) as committees and courts print it."""
    register_fonts()
    base = ParagraphStyle(
        "body",
        fontName=FONT,
        fontSize=11.5,
        leading=18,
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


def draw_bold_text(
    canvas: Canvas, x: float, y: float, text: str, size: float, font: str = FONT_BOLD
) -> None:
    """Text with a thin outline stroke: the usual stand-in for bold in a one-weight CJK
    font. Text render mode 2 fills and strokes."""
    register_fonts()
    t = canvas.beginText(x, y)
    t.setFont(font, size)
    if not isinstance(t, BoldTextObject):
        # A plain reportlab canvas: stroke by hand.
        t.setTextRenderMode(2)
        canvas.setLineWidth(size * BOLD_STROKE)
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
    ring = radius * 0.96 - radius * 0.055
    # The name runs clockwise over the top, centred on 12 o'clock, over at most 250
    # degrees; long names get smaller characters rather than a closed circle.
    max_span = math.radians(250)
    size = radius * 0.30
    for _ in range(3):
        arc_radius = ring - radius * 0.06 - size * 0.88
        size = min(radius * 0.30, arc_radius * max_span / (len(chars) * 1.12))
    arc_radius = ring - radius * 0.06 - size * 0.88
    pitch = size * 1.12 / arc_radius
    span = pitch * (len(chars) - 1)
    start = math.pi / 2 + span / 2
    for i, ch in enumerate(chars):
        angle = start - i * pitch
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


@functools.lru_cache(maxsize=512)
def _qr_matrix(value: str) -> tuple[tuple[bool, ...], ...]:
    # Choosing the best mask costs more than drawing the code: remember it per value.
    import qrcode

    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=0)
    qr.add_data(value)
    qr.make(fit=True)
    return tuple(tuple(row) for row in qr.get_matrix())


def draw_qr(canvas: Canvas, value: str, *, x: float, y: float, size: float) -> None:
    """A QR code (error correction M) as filled squares with (x, y) its lower-left corner.
    Drawn directly rather than through reportlab.graphics, whose Drawing state would pull
    an unembedded Helvetica into the PDF."""
    matrix = _qr_matrix(value)
    cell = size / len(matrix)
    canvas.saveState()
    canvas.setFillColor(colors.black)
    path = canvas.beginPath()
    for row, line in enumerate(matrix):
        for col, dark in enumerate(line):
            if dark:
                path.rect(x + col * cell, y + size - (row + 1) * cell, cell, cell)
    canvas.drawPath(path, stroke=0, fill=1)
    canvas.restoreState()


class QrCode(Flowable):
    def __init__(self, value: str, *, size: float) -> None:
        super().__init__()
        self.value = value
        self.width = self.height = size

    def draw(self) -> None:
        draw_qr(self.canv, self.value, x=0, y=0, size=self.width)


class BoldLine(Flowable):
    """One line of bold-looking text (fill and a thin stroke: the font has one weight), for
    titles and headings. Kept with the paragraph after it, as a heading should be."""

    def __init__(
        self,
        text: str,
        *,
        size: float = 12.5,
        align: str = "left",
        space_before: float = 8,
        space_after: float = 3,
        color: colors.Color = colors.black,
        font: str = FONT_BOLD,
    ) -> None:
        super().__init__()
        self.text, self.size, self.align, self.color = text, size, align, color
        self.font = font
        self.spaceBefore, self.spaceAfter = space_before, space_after
        self.keepWithNext = True
        self.height = size * 1.45

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        self.width = available_width
        return available_width, self.height

    def draw(self) -> None:
        register_fonts()
        c = self.canv
        c.saveState()
        c.setFillColor(self.color)
        c.setStrokeColor(self.color)
        text_width = c.stringWidth(self.text, self.font, self.size)
        x = {"left": 0, "center": (self.width - text_width) / 2, "right": self.width - text_width}[
            self.align
        ]
        draw_bold_text(c, x, self.size * 0.3, self.text, self.size, self.font)
        c.restoreState()
