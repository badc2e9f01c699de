"""What the agreement documents remember to save CPU (bench/agreements) changes nothing in
what they produce."""

from __future__ import annotations

import pytest

from agreements.documents import fonts
from agreements.documents.finalize import render_for_signing
from tests import factories

pytestmark = pytest.mark.django_db


def test_the_agreement_renders_to_the_same_bytes_when_each_paragraph_breaks_its_lines_anew(
    demo, monkeypatch
):
    agreement = factories.agreement_for(factories.dispute_in_mediation())
    remembered, boxes = render_for_signing(agreement)
    original = fonts.CJKParagraph.breakLinesCJK
    breaks: list[int] = []

    def anew(self, max_widths):
        # Forget the lines of earlier wraps: every wrap breaks the text again.
        self.__dict__.pop("_cjk_lines", None)
        breaks.append(1)
        return original(self, max_widths)

    monkeypatch.setattr(fonts.CJKParagraph, "breakLinesCJK", anew)
    fresh, fresh_boxes = render_for_signing(agreement)
    assert breaks, "the agreement's paragraphs wrap through CJKParagraph"
    assert fresh == remembered
    assert fresh_boxes == boxes


def test_the_fonts_subset_reads_the_same_glyphs_as_reportlabs_own_face():
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFontFace

    fonts.register_fonts()
    text = "人民调解协议书：甲方（申请人）张三，乙方；¥5,000元整。ABC xyz 123"
    for name in (fonts.FONT, fonts.FONT_BOLD, fonts.SANS_FONT):
        face = pdfmetrics.getFont(name).face
        assert isinstance(face, fonts._SubsettingFace)
        subset = sorted({ord(ch) for ch in text} | {0x20})
        ours = face.makeSubset(subset)
        face.__class__ = TTFontFace
        try:
            theirs = face.makeSubset(subset)
        finally:
            face.__class__ = fonts._SubsettingFace
        assert ours == theirs
        assert len(ours) > 1000
