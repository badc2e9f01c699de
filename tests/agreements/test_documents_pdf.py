"""The agreement PDF: Chinese text in embedded fonts, the parties named in full on the
original (masking is for public verification), deterministic."""

from __future__ import annotations

import re
import subprocess

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from agreements.documents import fonts, pdf
from agreements.documents.pdf import render_agreement_pdf
from tests import factories

pytestmark = pytest.mark.django_db


def _run(tool: str, pdf: bytes, tmp_path, *args: str) -> str:
    path = tmp_path / "doc.pdf"
    path.write_bytes(pdf)
    return subprocess.run(
        [tool, *args, str(path), "-"] if tool == "pdftotext" else [tool, *args, str(path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout


@pytest.fixture
def signed(demo):
    dispute = factories.dispute_in_mediation()
    return factories.agreement_for(dispute, signers=("respondent", "applicant", "mediator"))


def test_every_font_in_the_agreement_is_embedded_and_subset(signed, tmp_path):
    listing = _run("pdffonts", render_agreement_pdf(signed), tmp_path)
    rows = listing.strip().splitlines()[2:]
    assert rows, listing
    for row in rows:
        name = row.split()[0]
        # pdffonts columns: name type encoding emb sub uni object ID
        emb, sub = row.split()[-5], row.split()[-4]
        assert emb == "yes", row
        assert sub == "yes", row
        assert re.match(r"^[A-Z]{6}\+", name), row
    assert "Helvetica" not in listing


def test_the_text_shows_the_case_number_terms_and_amount_in_capitals(signed, tmp_path):
    text = _run("pdftotext", render_agreement_pdf(signed), tmp_path)
    flat = re.sub(r"\s+", "", text)
    assert "人民调解协议书" in flat
    assert signed.dispute.case_number.replace("(", "（").replace(")", "）") in flat
    assert "被申请人向申请人归还借款人民币壹万元" in flat
    assert "壹万元整" in flat
    assert "伍仟元整" in flat
    assert "一式三份" in flat
    assert "三十日内" in flat
    assert str(signed.document_id) in flat
    assert f"/verify/{signed.document_id}/" in flat


def test_id_numbers_and_phones_are_printed_in_full_on_the_original(signed, tmp_path):
    applicant = signed.dispute.applicant
    applicant.id_number = signed.dispute.applicant.user.profile.id_number
    applicant.phone = "13800000001"
    applicant.save()
    text = re.sub(r"\s+", "", _run("pdftotext", render_agreement_pdf(signed), tmp_path))
    assert applicant.id_number and f"公民身份号码{applicant.id_number}" in text
    assert "联系电话13800000001" in text
    assert "*" not in text.split("签署与审计记录")[0]


def test_the_same_agreement_renders_to_the_same_bytes(signed):
    assert render_agreement_pdf(signed) == render_agreement_pdf(signed)


def test_a_changed_term_changes_the_bytes(signed):
    before = render_agreement_pdf(signed)
    signed.terms[0]["amount"] = "10001.00"
    assert render_agreement_pdf(signed) != before


def test_the_audit_page_lists_the_cases_events_with_hash_prefixes(signed, tmp_path):
    text = _run("pdftotext", render_agreement_pdf(signed), tmp_path, "-layout")
    assert "签署与审计记录" in text
    for event in signed.dispute.audit_events.all():
        assert event.hash[:16] in text


def test_a_missing_font_file_fails_with_a_clear_message(tmp_path):
    missing = tmp_path / "nope.ttc"
    with override_settings(ODR_PDF_FONT=str(missing)):
        fonts._registered = None
        try:
            with pytest.raises(ImproperlyConfigured, match=r"nope\.ttc") as missing_font:
                fonts.register_fonts()
            assert "fonts-arphic-uming" in str(missing_font.value)
        finally:
            fonts._registered = None
    assert fonts.register_fonts() == fonts.FONT


def test_fonts_registered_for_one_setting_are_checked_again_when_it_changes(tmp_path):
    """register_fonts() compares the settings before building any path (issue 9's
    speed-up): fonts registered once answer at once, and a changed ODR_PDF_FONT is
    checked anew, not taken for the registered one."""
    assert fonts.register_fonts() == fonts.FONT
    assert fonts.register_fonts() == fonts.FONT
    with (
        override_settings(ODR_PDF_FONT=str(tmp_path / "gone.ttc")),
        pytest.raises(ImproperlyConfigured, match=r"gone\.ttc"),
    ):
        fonts.register_fonts()
    assert fonts.register_fonts() == fonts.FONT


def test_addresses_disputed_matters_and_place_are_printed_in_full(signed, tmp_path):
    applicant = signed.dispute.applicant
    applicant.address = "安吉县递铺街道胜利西路1号"
    applicant.save()
    # A respondent without an address of their own (none in the profile either): the one
    # the draft stated for the side.
    signed.dispute.parties.filter(role="respondent").update(address="")
    text = re.sub(r"\s+", "", _run("pdftotext", render_agreement_pdf(signed), tmp_path))
    assert "住安吉县递铺街道胜利西路1号" in text
    assert "个体工商户，住安吉县孝丰镇三里村8号，公民身份号码" in text
    assert "争议事项：双方就借款的归还数额和期限发生争议。" in text
    assert "履行地点为安吉县递铺街道" in text


def test_a_draft_carries_a_draft_watermark_and_no_seal(demo, tmp_path):
    draft = factories.agreement_for(factories.dispute_in_mediation(), status="draft")
    text = _run("pdftotext", render_agreement_pdf(draft), tmp_path)
    assert "草" in text and "稿" in text  # the rotated watermark comes out per glyph
    # The signature table waits with an empty field box per signer (filled by each
    # signer's own signature appearance, issue 9).
    assert "当事人（签名或盖章）" in text
    assert "人民调解专用章" not in text


def test_the_audit_page_names_actions_by_their_declared_words_and_old_ones_by_their_code():
    # The binding document is Chinese only: the declared words, not the code.
    assert pdf._action_label("agreement.open") == "协议开放签署"
    assert pdf._action_label("confirmation.decide") == "法院作出裁定"
    assert pdf._action_label("dispute.file") == "提交调解申请"
    # A marker once written and declared no more is printed as it was written.
    assert pdf._action_label("confirmation.window_reminder.7") == "confirmation.window_reminder.7"


def test_the_audit_page_prints_the_declared_words_of_the_cases_events(signed, tmp_path):
    text = re.sub(r"\s+", "", _run("pdftotext", render_agreement_pdf(signed), tmp_path))
    assert "提交调解申请" in text and "dispute.file" not in text


def test_the_body_font_is_the_simplified_chinese_face_of_the_ming_collection(settings):
    # uming.ttc holds the CN, HK, TW and TW MBE faces: the documents use the CN one.
    index = fonts.cn_subfont_index(settings.ODR_PDF_FONT)
    from reportlab.pdfbase.ttfonts import TTFontFile

    assert b"CN" in TTFontFile(settings.ODR_PDF_FONT, subfontIndex=index).name


def test_bold_text_is_stroked_and_the_canvas_state_is_put_back():
    from io import BytesIO

    canvas = fonts.EmbeddedFontCanvas(BytesIO())
    canvas.setLineWidth(0.7)
    canvas.setFont(fonts.FONT_BOLD, 12)
    canvas.drawString(10, 10, "加粗")
    canvas.setFont(fonts.FONT, 12)
    canvas.drawString(10, 30, "正文")
    texts = re.findall(r"BT .*? ET", " ".join(canvas._code), re.S)
    assert len(texts) == 2, texts
    bold, plain = texts
    assert "2 Tr 0.360 w" in bold
    # The bold text object ends with fill only and the canvas's own line width again.
    assert re.search(r"0 Tr 0\.7 w .* ET$", bold), bold
    assert "2 Tr" not in plain
