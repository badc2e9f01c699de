"""Chinese line breaking (禁则) in every PDF the platform makes: no line of the agreement,
the application for judicial confirmation or the ruling starts with closing or pausing
punctuation (，。、；：？！）」』》), and none ends with an opening bracket."""

from __future__ import annotations

import subprocess

import pytest

from agreements.court.documents import render_application, render_ruling
from agreements.documents.fonts import CJKParagraph, styles
from agreements.documents.pdf import render_agreement_pdf
from tests import factories

pytestmark = pytest.mark.django_db

CANNOT_START = "，。、；：？！）」』》"
CANNOT_END = "（「『《"


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def _lines(pdf: bytes, tmp_path, name: str) -> list[str]:
    path = tmp_path / f"{name}.pdf"
    path.write_bytes(pdf)
    lines = []
    # Both reading order (each table cell's lines on their own) and the page layout.
    for args in ([], ["-layout"]):
        out = subprocess.run(
            ["pdftotext", *args, str(path), "-"], check=True, capture_output=True, text=True
        ).stdout
        lines += [line.strip() for line in out.splitlines() if line.strip()]
    return lines


def _long_case():
    """A decided request whose parties have long names, phone numbers and long addresses
    with brackets and quotes, on an agreement with long facts."""
    request = factories.confirmation_pending()
    agreement = request.agreement
    for party in agreement.dispute.parties.all():
        party.name += "欧阳司马"
        party.phone = "13800000001"
        party.save()
    agreement.facts = (
        "2025年3月申请人借给被申请人人民币一万元（借条一份，见证人：王五），约定半年归还，"
        "至今未还；申请人多次催讨（电话、短信、微信），被申请人均称“资金紧张”。"
    ) * 4
    agreement.disputed_matters = "双方就借款的归还数额、期限和利息（年利率：3.85%）发生争议。"
    agreement.party_details = {
        "applicant": {"address": "浙江省湖州市安吉县递铺街道胜利西路1号（原县人民医院东侧）三单元"},
        "respondent": {"address": "浙江省湖州市安吉县孝丰镇三里村8号「老屋」，邮编：313300"},
    }
    agreement.save()
    return factories.confirmation_decided(request)


def test_no_line_of_the_agreement_application_or_ruling_breaks_chinese_punctuation_rules(
    demo, tmp_path
):
    decided = _long_case()
    documents = {
        "agreement": render_agreement_pdf(decided.agreement),
        "application": render_application(decided, evidence=[]),
        "ruling": render_ruling(decided, judge_name="赵敏"),
    }
    for name, pdf in documents.items():
        lines = _lines(pdf, tmp_path, name)
        # The long content is really in the document (the agreement names the parties
        # from their profiles, masked, so look for its facts there).
        marker = "借条一份" if name == "agreement" else "欧阳司马"
        assert any(marker in line for line in lines), name
        bad_start = [line for line in lines if line[0] in CANNOT_START]
        bad_end = [line for line in lines if line[-1] in CANNOT_END]
        assert bad_start == [], (name, bad_start)
        assert bad_end == [], (name, bad_end)


def test_a_narrow_paragraph_keeps_a_label_with_its_colon_and_a_phone_number_whole():
    text = "申请人：张三欧阳，联系电话：13800000001，住址（原县人民医院东侧）三单元。"
    para = CJKParagraph(text, styles()["cell"])
    for width in range(60, 200, 7):
        para.wrap(width, 1000)
        lines = ["".join(frag.text for frag in line.words) for line in para.blPara.lines]
        assert "".join(lines) == text, width
        assert all(line[0] not in CANNOT_START for line in lines[1:]), (width, lines)
        assert all(line[-1] not in CANNOT_END for line in lines), (width, lines)
        if width >= 150:
            assert any("13800000001" in line for line in lines), (width, lines)


@pytest.mark.parametrize(
    "markup",
    [
        "双方当事人自愿达成如下协议，并保证按期履行；如有违约，守约方可申请司法确认。" * 6,
        "<b>经某某人民调解委员会调解，</b>双方当事人自愿达成如下协议："
        "<font size=9>（一）</font>被申请人于2026年1月1日前向申请人支付人民币5,000元。"
        "<br/>联系电话：13800138000，电子邮箱 someone@example.com。" * 3,
        "<b>甲</b>乙<b>丙</b>丁<font color='red'>戊</font>己<b>庚辛</b><b>壬癸</b>" * 20,
    ],
)
def test_lines_by_runs_of_a_fragment_are_reportlabs_character_by_character(markup):
    """make_cjk_para_line (runs of one fragment) and the cached widths give the lines
    reportlab's makeCJKParaLine and cjkU give, fragment for fragment: the same words,
    texts, fonts, sizes, widths and bounds (issue 9's speed-up changes no layout)."""
    from reportlab.platypus.paragraph import cjkU, makeCJKParaLine

    from agreements.documents import fonts

    def lines(paragraph_markup: str) -> list:
        para = CJKParagraph(paragraph_markup, styles()["body"])
        para.wrap(140, 10_000)
        return [
            (
                line.fontSize,
                line.ascent,
                line.descent,
                round(line.currentWidth, 6),
                line.lineBreak,
                [
                    (w.text, w.fontName, w.fontSize, str(getattr(w, "textColor", "")))
                    for w in line.words
                ],
            )
            for line in para.blPara.lines
        ]

    fast = lines(markup)
    original = (fonts.make_cjk_para_line, fonts._frag_chars)
    try:
        fonts.make_cjk_para_line = makeCJKParaLine
        fonts._frag_chars = lambda text, frag: [cjkU(ch, frag, "utf8") for ch in text]
        slow = lines(markup)
    finally:
        fonts.make_cjk_para_line, fonts._frag_chars = original
    assert len(fast) > 3
    assert any(len(words) > 1 for *_, words in fast) or "<" not in markup
    assert fast == slow
