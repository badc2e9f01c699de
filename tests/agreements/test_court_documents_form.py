"""The court's documents in the form a basic court issues and accepts (issue 8 points 2
and 3): the 司法确认申请书 and the 民事裁定书 in Chinese only, in the serif face, every
party with full particulars (several per side, a company with its legal representative
and agent), no e-mail as a name, the court's own case number, 审判员 and 书记员 by name,
Chinese-numeral sign-off dates, true creation dates, （此页无正文） when the sign-off
would stand alone; the preview; the court's own seal (configured in production, a 样章
specimen in development)."""

from __future__ import annotations

import json
import os
import re
import subprocess
from datetime import datetime
from io import BytesIO
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import ContentFile
from django.test import override_settings
from django.utils import timezone
from pyhanko.pdf_utils.reader import PdfFileReader

from agreements.court import documents, services
from agreements.documents import pki
from agreements.documents.verify import verify_pdf
from agreements.models import ConfirmationRequest
from odr.errors import DomainError
from odr.identity import credit_check_char, identities_of
from odr.models import Agent, Organisation, Party
from tests import factories

pytestmark = pytest.mark.django_db
CR = ConfirmationRequest.Status
# Set ODR_DOC_DUMP=/some/dir to keep every PDF these tests make, to look at its pages.
DUMP = os.environ.get("ODR_DOC_DUMP")
SUBMITTED = datetime(2026, 5, 4, 9, 0, tzinfo=timezone.get_fixed_timezone(8 * 60))


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def _id(birth: str, serial: str) -> str:
    from odr.idnumber import id_check_char

    first17 = f"330523{birth}{serial}"
    return first17 + id_check_char(first17)


CREDIT = "91330523MA2B3C4D5" + credit_check_char("91330523MA2B3C4D5")


def _full_parties(request: ConfirmationRequest) -> None:
    """Two applicants (张三, 王五) and two respondents (李四, a company with its legal
    representative and an agent with special authority), every particular filled in,
    frozen into the agreement as the signing step does."""
    dispute = request.agreement.dispute
    Party.objects.filter(dispute=dispute, role="applicant").update(
        id_number=_id("19800101", "123"),
        ethnicity="汉族",
        occupation="农民",
        address="浙江省安吉县递铺街道胜利西路1号",
        phone="13800000001",
    )
    Party.objects.filter(dispute=dispute, role="respondent").update(
        id_number=_id("19850505", "456"),
        ethnicity="汉族",
        occupation="个体工商户",
        address="浙江省安吉县孝丰镇三里村8号",
        phone="13800000002",
    )
    Party.objects.create(
        dispute=dispute,
        role="applicant",
        position=1,
        name="王五",
        email="wangwu@example.org",
        id_number=_id("19900303", "235"),
        ethnicity="畲族",
        occupation="教师",
        address="浙江省安吉县天子湖镇高禹村3号",
        phone="13800000005",
        accepted=True,
    )
    company = Party.objects.create(
        dispute=dispute,
        role="respondent",
        position=1,
        kind="organisation",
        name="安吉青山竹木制品有限公司",
        email="legal@qingshan.example.org",
        credit_code=CREDIT,
        address="浙江省安吉县递铺街道竹海路88号",
        representative="陈青山",
        representative_title="执行董事",
        phone="0572-5123456",
        accepted=True,
    )
    Agent.objects.create(
        party=company,
        name="刘律",
        relation="浙江安吉天平律师事务所律师",
        scope="special",
        power_of_attorney=ContentFile(b"%PDF-1.4 power of attorney", name="poa.pdf"),
        filename="授权委托书.pdf",
        extension="pdf",
        content_type="application/pdf",
        sha256="0" * 64,
        added_by=dispute.mediator,
    )
    agreement = request.agreement
    agreement.parties = [i.as_dict() for i in identities_of(dispute, accepted_only=True)]
    agreement.save(update_fields=["parties"])


def _text(pdf: bytes, tmp_path, *, raw: bool = True) -> str:
    path = tmp_path / "doc.pdf"
    path.write_bytes(pdf)
    args = ["pdftotext", *(["-raw"] if raw else ["-layout"]), str(path), "-"]
    return subprocess.run(args, capture_output=True, text=True, check=True).stdout


def _flat(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _pages(text: str) -> list[str]:
    return [_flat(p) for p in text.split("\f") if p.strip()]


def _fonts(pdf: bytes, tmp_path) -> list[str]:
    path = tmp_path / "fonts.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True)
    return out.stdout.strip().splitlines()[2:]


def _dump(name: str, pdf: bytes) -> None:
    if DUMP:
        Path(DUMP).mkdir(parents=True, exist_ok=True)
        (Path(DUMP) / name).write_bytes(pdf)


def _assert_form(pdf: bytes, tmp_path) -> str:
    """What every court document must be: Chinese only, the serif face embedded, no
    e-mail as a name, a true creation date."""
    fonts = _fonts(pdf, tmp_path)
    assert fonts and all(row.split()[-5] == "yes" for row in fonts), fonts
    assert any("AR-PL-UMing" in row or "UMing" in row for row in fonts), fonts
    text = _text(pdf, tmp_path)
    assert not re.search(r"(申请人|审判员|书记员)[：:　 ]*\S*@", text)
    info = PdfFileReader(BytesIO(pdf)).trailer["/Info"]
    assert not str(info["/CreationDate"]).startswith("D:2000"), info["/CreationDate"]
    return text


PARTICULARS = [
    "申请人：张三，男，1980年1月1日出生，汉族，农民，住浙江省安吉县递铺街道胜利西路1号，"
    f"公民身份号码{_id('19800101', '123')}",
    "申请人：王五，男，1990年3月3日出生，畲族，教师，住浙江省安吉县天子湖镇高禹村3号",
    "申请人：李四，女，1985年5月5日出生，汉族，个体工商户，住浙江省安吉县孝丰镇三里村8号",
    f"申请人：安吉青山竹木制品有限公司，住所地浙江省安吉县递铺街道竹海路88号，统一社会信用代码{CREDIT}",
    "法定代表人：陈青山，执行董事。",
    "委托代理人：刘律，浙江安吉天平律师事务所律师，特别授权。",
]


def _decided(decision: str, reason: str = "", *, full: bool = True, number: str = ""):
    request = factories.confirmation_pending()
    if full:
        _full_parties(request)
    if decision == "not_accepted":
        return factories.confirmation_decided(request, decision=decision, reason=reason)
    request = factories.confirmation_accepted(request, number=number or None)
    return factories.confirmation_decided(request, decision=decision, reason=reason)


def _ruling_pdf(request: ConfirmationRequest) -> bytes:
    with request.ruling_pdf.open("rb") as f:
        return f.read()


def test_a_confirmed_ruling_names_every_party_the_court_number_judge_and_clerk(demo, tmp_path):
    request = _decided("confirmed", number="（2026）浙0523民特7号")
    pdf = _ruling_pdf(request)
    _dump("ruling-confirmed.pdf", pdf)
    text = _assert_form(pdf, tmp_path)
    flat = _flat(text)
    assert flat.startswith("安吉县人民法院民事裁定书（2026）浙0523民特7号")
    for line in PARTICULARS:
        assert _flat(line) in flat, line
    # Agents follow their party; the company's representative too.
    assert flat.index("安吉青山竹木制品有限公司，住所地") < flat.index("法定代表人：陈青山")
    assert flat.index("法定代表人：陈青山") < flat.index("委托代理人：刘律")
    names = "张三、王五与李四、安吉青山竹木制品有限公司"
    assert f"申请人{names}申请司法确认调解协议一案" in flat
    assert "受理后，依法指定审判员周明进行了审查。现已审查终结。" in flat
    assert "经安吉县人民调解委员会主持调解" in flat or "主持调解" in flat
    assert f"申请人{names}于" in flat and "主持调解达成的调解协议有效。" in flat
    assert "一方当事人拒绝履行或者未全部履行的，对方当事人可以向人民法院申请执行。" in flat
    assert "《中华人民共和国民事诉讼法》第二百零六条" in flat
    assert "审　判　员" in text or "审判员" in flat
    assert "审判员周明" in flat and "书记员赵敏" in flat
    decided = timezone.localdate(request.decided_at)
    from agreements.documents.chinese import cn_numeral_date

    assert _flat(cn_numeral_date(decided)) in flat
    # Chinese only: no Latin letter anywhere in the ruling.
    assert not re.search(r"[A-Za-z]", text.replace(CREDIT, "")), re.findall(r"[A-Za-z]+", text)
    assert "@" not in text
    # A ruling prints no telephone numbers (the application does).
    assert "联系电话" not in flat and "13800000001" not in flat
    # The development seal says it is a specimen, on its face and in its certificate.
    assert "样章" in flat
    signature = PdfFileReader(BytesIO(pdf)).embedded_signatures[0]
    subject = signature.signer_cert.subject.human_friendly
    assert "安吉县人民法院" in subject and "specimen" in subject
    assert verify_pdf(pdf).valid


def test_a_rejected_ruling_states_art_358_and_the_parties_remedies(demo, tmp_path):
    reason = "调解协议第二项内容不明确，无法执行"
    request = _decided("rejected", reason)
    pdf = _ruling_pdf(request)
    _dump("ruling-rejected.pdf", pdf)
    flat = _flat(_assert_form(pdf, tmp_path))
    assert request.case_number in flat
    assert f"本院经审查认为，{reason}。" in flat
    assert "第三百五十八条" in flat and "裁定如下：驳回申请人" in flat
    assert "可以通过调解方式变更原调解协议或者达成新的调解协议，也可以向人民法院提起诉讼" in flat
    assert "调解协议有效。" not in flat and "不予受理" not in flat
    assert "审判员周明" in flat and "书记员赵敏" in flat


def test_a_ruling_not_accepting_has_no_docket_number_and_no_examination(demo, tmp_path):
    reason = "调解协议内容涉及房屋所有权的确认，不属于司法确认的范围"
    request = _decided("not_accepted", reason)
    assert request.case_number == "" and request.accepted_by is None
    pdf = _ruling_pdf(request)
    _dump("ruling-not-accepted.pdf", pdf)
    flat = _flat(_assert_form(pdf, tmp_path))
    assert flat.startswith("安吉县人民法院民事裁定书申请人：张三")
    assert "民特" not in flat
    assert "2026年5月" in flat or "本院收到申请人" in flat
    assert "本院收到申请人张三、王五与李四、安吉青山竹木制品有限公司的司法确认申请书" in flat
    assert "第一百五十七条第一款第一项" in flat and "第三百五十五条" in flat
    assert "本院不予受理。" in flat
    assert "驳回" not in flat and "受理后" not in flat and "调解协议有效。" not in flat
    # No clerk docketed it: the judge alone signs it off.
    assert "审判员周明" in flat and "书记员" not in flat


def test_the_sign_off_never_stands_alone_on_a_page(demo, tmp_path):
    """A short ruling fits one page; a long one carries its last paragraph to the last
    page with the sign-off; when the sign-off does fall alone (the layout without that
    rule), the page opens with （此页无正文）."""
    request = factories.confirmation_pending()
    request.agreement.terms = [
        {"text": "被申请人于2026年12月31日前向申请人归还借款人民币5,000.00元。"}
    ]
    request.agreement.save(update_fields=["terms"])
    short = factories.confirmation_decided(request, decision="confirmed")
    short_pages = _pages(_text(_ruling_pdf(short), tmp_path))
    assert len(short_pages) == 1 and documents.NO_TEXT not in short_pages[0]

    request = factories.confirmation_pending()
    _full_parties(request)
    agreement = request.agreement
    base = list(agreement.terms)
    agreement.terms = base + [
        {"text": f"第{n}项：被申请人于约定期限内向申请人交付竹木制品一批，规格、数量按附表执行。"}
        for n in range(1, 16)
    ]
    agreement.save(update_fields=["terms"])
    request = factories.confirmation_decided(
        factories.confirmation_accepted(request), decision="confirmed"
    )
    pdf = _ruling_pdf(request)
    _dump("ruling-long.pdf", pdf)
    pages = _pages(_text(pdf, tmp_path))
    assert len(pages) >= 2
    last = pages[-1]
    assert "审判员周明" in last and "书记员赵敏" in last
    # The last page holds body text before the sign-off, so no （此页无正文）.
    assert not last.startswith("审判员") and documents.NO_TEXT not in last
    assert "本裁定书自即日起发生法律效力。" in last

    # Find a length of ruling whose sign-off, left to itself, falls onto a page alone.
    for extra in range(0, 20):
        request.agreement.terms = base + [
            {"text": f"第{n}项：被申请人于约定期限内向申请人交付竹木制品一批，规格按附表执行。"}
            for n in range(1, 8 + extra)
        ]
        loose = documents.render_ruling(
            request, judge_name="周明", clerk_name="赵敏", _keep_sign_off_with_text=False
        )
        pages = _pages(_text(loose, tmp_path))
        if pages[-1].startswith(_flat(documents.NO_TEXT)):
            break
    else:
        pytest.fail("no length put the sign-off alone on a page")
    _dump("ruling-no-text-page.pdf", loose)
    assert pages[-1].startswith("（此页无正文）审判员周明")
    assert "本裁定书自即日起发生法律效力。" in pages[-2]


def test_the_preview_is_marked_unsealed_and_stores_nothing(demo, tmp_path):
    request = factories.confirmation_accepted(number="（2026）浙0523民特9号")
    before = ConfirmationRequest.objects.get(pk=request.pk)
    pdf = documents.render_ruling(
        request, judge_name="周明", clerk_name="赵敏", preview=True, decision="confirmed"
    )
    _dump("ruling-preview.pdf", pdf)
    pages = _pages(_text(pdf, tmp_path))
    for page in pages:
        assert "预览" in page and "草稿" in page
    flat = "".join(pages)
    assert "（2026）浙0523民特9号" in flat and "调解协议有效。" in flat
    assert "样章" not in flat  # no seal drawn
    assert PdfFileReader(BytesIO(pdf)).embedded_signatures == []
    after = ConfirmationRequest.objects.get(pk=request.pk)
    assert after.status == CR.ACCEPTED and not after.ruling_pdf and after.ruling_sha256 == ""
    assert (after.decided_at, after.reason) == (before.decided_at, before.reason)
    # A rejection and a refusal preview too, with the reason the judge is typing.
    rejected = documents.render_ruling(
        request, judge_name="周明", preview=True, decision="rejected", reason="内容不明确"
    )
    assert "驳回申请人" in _flat(_text(rejected, tmp_path))
    pending = factories.confirmation_pending()
    refused = documents.render_ruling(
        pending, judge_name="周明", preview=True, decision="not_accepted", reason="不属本院管辖"
    )
    assert "本院不予受理" in _flat(_text(refused, tmp_path))


def test_the_application_names_every_party_in_full_in_chinese(demo, tmp_path):
    request = factories.confirmation_pending()
    _full_parties(request)
    request.submitted_at = SUBMITTED
    pdf = documents.render_application(request, evidence=[])
    _dump("application.pdf", pdf)
    text = _assert_form(pdf, tmp_path)
    flat = _flat(text)
    assert flat.startswith("司法确认申请书申请人：张三")
    for line in PARTICULARS:
        assert _flat(line) in flat, line
    assert "请求事项确认申请人张三、王五与李四、安吉青山竹木制品有限公司于" in flat
    assert "此致安吉县人民法院" in flat
    assert "二〇二六年五月四日" in flat
    # The service addresses (e-mail as an address, never as a name).
    assert "wangwu@example.org" in flat and "legal@qingshan.example.org" in flat
    assert "申请人：wangwu" not in flat
    # Chinese only: Latin only in e-mail addresses, codes and hashes.
    emails = "wangwu@example.org legal@qingshan.example.org citizen1@demo.odr citizen2@demo.odr"
    latin = [w for w in re.findall(r"[A-Za-z]{2,}", text) if w not in emails + CREDIT]
    assert not latin, latin


def test_an_e_mail_is_never_printed_as_a_partys_name(demo, tmp_path):
    request = factories.confirmation_pending()
    Party.objects.filter(dispute=request.agreement.dispute, role="respondent").update(
        name="someone@example.org"
    )
    request = factories.confirmation_decided(request, decision="confirmed")
    flat = _flat(_text(_ruling_pdf(request), tmp_path))
    assert "someone@example.org" not in flat and documents.UNNAMED in flat


def test_a_judge_without_a_real_name_cannot_issue_a_ruling(demo):
    request = factories.confirmation_accepted()
    judge = factories.make_user(name="", org=request.court, role="judge")
    with pytest.raises(DomainError) as refused:
        services.confirmation_decide(request=request, actor=judge, decision="confirmed", reason="")
    assert refused.value.code == "real_name_required"
    assert ConfirmationRequest.objects.get(pk=request.pk).status == CR.ACCEPTED


# --- the court's seal -------------------------------------------------------------------


def _court_files(tmp_path: Path, court: Organisation) -> dict:
    """A court's own key and certificate from a CA that is not the platform's, and its
    seal image (a red disc PNG)."""
    from PIL import Image, ImageDraw

    root_key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(tz=timezone.get_fixed_timezone(0))
    from datetime import timedelta

    def name(cn):
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    root = (
        x509.CertificateBuilder()
        .subject_name(name("Court CA"))
        .issuer_name(name("Court CA"))
        .public_key(root_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .sign(root_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, court.name),
                    x509.NameAttribute(NameOID.COMMON_NAME, court.name),
                ]
            )
        )
        .issuer_name(root.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, True, False, False, False, False, False, False, False),
            critical=True,
        )
        .sign(root_key, hashes.SHA256())
    )
    files = {
        "cert": tmp_path / "court.cert.pem",
        "key": tmp_path / "court.key.pem",
        "chain": tmp_path / "court.chain.pem",
        "image": tmp_path / "court.png",
    }
    files["cert"].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files["key"].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    files["chain"].write_bytes(root.public_bytes(serialization.Encoding.PEM))
    image = Image.new("RGBA", (200, 200), (0, 0, 0, 0))
    ImageDraw.Draw(image).ellipse((4, 4, 196, 196), outline=(200, 0, 0, 255), width=8)
    buffer = BytesIO()
    image.save(buffer, "PNG")
    files["image"].write_bytes(buffer.getvalue())
    return {k: str(v) for k, v in files.items()}


def test_production_seals_with_the_courts_own_configured_key_and_image(demo, tmp_path):
    court = Organisation.objects.get(kind=Organisation.Kind.COURT)
    files = _court_files(tmp_path, court)
    with override_settings(
        DEBUG=False, TESTING=False, ODR_COURT_SEALS=json.dumps({"浙0523": files})
    ):
        seal = pki.court_seal(court)
        assert not seal.specimen and seal.image.startswith(b"\x89PNG")
        request = _decided("confirmed", full=False)
        pdf = _ruling_pdf(request)
        _dump("ruling-configured-seal.pdf", pdf)
        signature = PdfFileReader(BytesIO(pdf)).embedded_signatures[0]
        assert signature.signer_cert.serial_number == seal.pair.cert.serial_number
        assert "specimen" not in signature.signer_cert.subject.human_friendly
        # The court's CA is trusted for its rulings: they verify.
        assert verify_pdf(pdf).valid, verify_pdf(pdf).reason
        assert "样章" not in _flat(_text(pdf, tmp_path))
    # The platform made no key of its own for the court.
    assert not list((Path(pki.pki_dir()) / "orgs").glob(f"{court.pk}.*"))


def test_production_without_the_courts_seal_refuses_naming_the_setting(demo, tmp_path):
    court = Organisation.objects.get(kind=Organisation.Kind.COURT)
    request = factories.confirmation_accepted()
    with override_settings(DEBUG=False, TESTING=False, ODR_COURT_SEALS=""):
        with pytest.raises(ImproperlyConfigured, match="ODR_COURT_SEALS") as refused:
            pki.court_seal(court)
        assert "浙0523" in str(refused.value)
        with pytest.raises(ImproperlyConfigured, match="ODR_COURT_SEALS"):
            services.confirmation_decide(
                request=request,
                actor=factories.demo_user(factories.JUDGE),
                decision="confirmed",
                reason="",
            )
        with pytest.raises(ImproperlyConfigured, match="image"):
            incomplete = {"浙0523": {"cert": "/x.pem", "key": "/y.pem"}}
            with override_settings(ODR_COURT_SEALS=incomplete):
                pki.court_seal(court)
    assert ConfirmationRequest.objects.get(pk=request.pk).status == CR.ACCEPTED


def test_the_organisation_key_of_a_court_is_the_courts_seal_never_a_minted_one(demo):
    court = Organisation.objects.get(kind=Organisation.Kind.COURT)
    assert pki.organisation_key(court).serial == pki.court_seal(court).pair.serial
    assert pki.court_seal(court).specimen
    subject = pki.court_seal(court).pair.cert.subject
    units = subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)
    assert "specimen" in units[0].value and "样章" in units[0].value
