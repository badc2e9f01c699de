"""The 人民调解协议书 in the form a basic court accepts (issue 8, "Form"): Chinese only, set
in the embedded Song/Ming serif, every party's full particulars on the original (several
per side: two applicants, three respondents, one a company with its legal representative,
one with an agent), the issuing people's mediation committee, the copies counted, a
Chinese-numeral sign-off date and true creation dates; the English rendering is a
separate, non-binding file."""

from __future__ import annotations

import os
import re
import subprocess
from datetime import UTC, datetime, timedelta
from io import BytesIO

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import timezone
from pyhanko.pdf_utils.reader import PdfFileReader

from agreements.documents.finalize import seal_agreement
from agreements.documents.pdf import render_agreement_pdf, signing_state
from agreements.documents.pki import certify_signer_key
from agreements.documents.translation import render_agreement_translation_pdf
from agreements.models import Signature
from odr.identity import credit_check_char
from odr.idnumber import id_check_char
from odr.models import Agent, Party
from tests import factories

pytestmark = pytest.mark.django_db

COMMITTEE = "安吉县人民调解委员会"


def _id(birth: str, serial: str) -> str:
    first17 = f"330523{birth}{serial}"
    return first17 + id_check_char(first17)


def _credit(body: str = "91330523MA2B3C4D5") -> str:
    return body + credit_check_char(body)


def _run(tool: str, pdf: bytes, tmp_path, *args: str, name: str = "doc") -> str:
    path = tmp_path / f"{name}.pdf"
    path.write_bytes(pdf)
    cmd = [tool, *args, str(path), "-"] if tool == "pdftotext" else [tool, *args, str(path)]
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def _flat(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _pdf_time(value: str) -> datetime:
    # D:YYYYMMDDHHmmSS+HH'mm' (ISO 32000 7.9.4): ours in UTC, pyHanko's local.
    match = re.match(r"D:(\d{14})([+-]\d\d)'(\d\d)'", value)
    assert match, value
    hours, minutes = int(match.group(2)), int(match.group(3))
    offset = timedelta(hours=hours, minutes=minutes if hours >= 0 else -minutes)
    local = datetime.strptime(match.group(1), "%Y%m%d%H%M%S")
    return local.replace(tzinfo=UTC) - offset


def _dump(name: str, pdf: bytes) -> None:
    # DOCAGR_DUMP=/some/dir keeps the PDFs to look at (pdftoppm) by hand.
    where = os.environ.get("DOCAGR_DUMP")
    if where:
        with open(os.path.join(where, f"{name}.pdf"), "wb") as fh:
            fh.write(pdf)


PERSONS = {
    ("applicant", 0): dict(
        name="张三",
        id_number=_id("19800101", "123"),
        ethnicity="汉族",
        occupation="农民",
        address="浙江省湖州市安吉县递铺街道胜利西路1号",
        phone="13800000001",
    ),
    ("applicant", 1): dict(
        name="王芳",
        id_number=_id("19850612", "246"),
        ethnicity="畲族",
        occupation="个体工商户",
        address="浙江省湖州市安吉县孝丰镇横溪坞村12号",
        phone="13800000002",
    ),
    ("respondent", 0): dict(
        name="李四",
        id_number=_id("19790315", "135"),
        ethnicity="汉族",
        occupation="司机",
        address="浙江省湖州市安吉县孝丰镇三里村8号",
        phone="13800000003",
    ),
    ("respondent", 2): dict(
        name="赵六",
        id_number=_id("19920830", "357"),
        ethnicity="汉族",
        occupation="无业",
        address="浙江省杭州市余杭区五常街道文一西路998号",
        phone="13800000005",
    ),
}
COMPANY = dict(
    kind=Party.Kind.ORGANISATION,
    name="安吉竹海建材有限公司",
    credit_code=_credit(),
    address="浙江省湖州市安吉县经济开发区天荒坪北路88号",
    representative="钱七",
    representative_title="总经理",
    phone="0572-5123456",
)


def _agent(party: Party, **kw) -> Agent:
    return Agent.objects.create(
        party=party,
        power_of_attorney=ContentFile(b"%PDF-1.4 power of attorney", name="poa.pdf"),
        filename="授权委托书.pdf",
        extension=".pdf",
        content_type="application/pdf",
        sha256="0" * 64,
        added_by=party.dispute.mediator,
        **kw,
    )


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def crowded(demo):
    """Two applicants and three respondents (the second a company with its legal
    representative and an agent with special authority), every one of them and the
    mediator signed, the county centre issuing under the committee it hosts."""
    dispute = factories.dispute_in_mediation()
    organisation = dispute.organisation
    organisation.committee_name = COMMITTEE
    organisation.save(update_fields=["committee_name"])
    Party.objects.filter(dispute=dispute, role="respondent").update(position=0)
    first_applicant = dispute.parties.get(role="applicant")
    first_respondent = dispute.parties.get(role="respondent")
    for key, values in PERSONS.items():
        role, position = key
        if (role, position) == ("applicant", 0):
            party = first_applicant
        elif (role, position) == ("respondent", 0):
            party = first_respondent
        else:
            party = Party(dispute=dispute, role=role, position=position, accepted=True)
        for attr, value in values.items():
            setattr(party, attr, value)
        party.save()
    company = Party.objects.create(
        dispute=dispute, role="respondent", position=1, accepted=True, **COMPANY
    )
    _agent(
        company,
        name="孙律",
        relation="浙江安吉天平律师事务所律师",
        scope=Agent.Scope.SPECIAL,
        id_number=_id("19880808", "468"),
    )
    _agent(
        dispute.parties.get(role="applicant", position=1),
        name="王大明",
        relation="近亲属（兄弟）",
        scope=Agent.Scope.GENERAL,
    )
    agreement = factories.agreement_for(dispute, signers=())
    agreement.terms = [
        {
            "text": "被申请人安吉竹海建材有限公司向申请人张三、王芳支付货款人民币叁万元。",
            "kind": "money",
            "obligor": "respondent",
            "obligee": "applicant",
            "amount": "30000.00",
            "due_date": "2026-12-31",
            "place": "浙江省湖州市安吉县递铺街道",
        },
        {"text": "各方就本纠纷再无其他争议。", "kind": "other"},
    ]
    agreement.save()
    start = timezone.now().replace(microsecond=0) - timedelta(seconds=30)
    for n, party in enumerate(dispute.parties.order_by("role", "position")):
        # Parties without an account here sign through one made for them (the company's
        # through its representative's): what counts is the party signed for.
        _sign(agreement, party=party, user=_user_for(party), at=start + timedelta(seconds=n))
    _sign(agreement, party=None, user=dispute.mediator, at=start + timedelta(seconds=20))
    return agreement


def _user_for(party: Party):
    return party.user or factories.make_user(name=party.representative or party.name)


def _sign(agreement, *, party, user, at):
    role = party.role if party is not None else "mediator"
    from tests.signing import new_key

    cert = certify_signer_key(
        public_key=new_key().public_key(), user=user, agreement=agreement, role=role
    )
    serial = format(cert.serial_number, "x")
    Signature.objects.create(
        agreement=agreement,
        signer=user,
        role=role,
        party=party,
        version=agreement.version,
        signed_at=at,
        signature_png=factories.signature_png(at.second),
        certificate_serial=serial,
        signer_name=(party.representative or party.name) if party else "李调解",
    )


def test_every_party_is_matched_to_its_signature_and_the_agreement_is_complete(crowded):
    state = signing_state(crowded)
    assert [i.name for i in state.parties] == [
        "张三",
        "王芳",
        "李四",
        "安吉竹海建材有限公司",
        "赵六",
    ]
    assert all(sig is not None for _i, sig in state.party_signatures)
    assert state.mediator is not None and state.complete and state.missing == []


def test_the_original_prints_each_partys_full_particulars(crowded, tmp_path):
    pdf = render_agreement_pdf(crowded)
    _dump("crowded", pdf)
    text = _flat(_run("pdftotext", pdf, tmp_path))
    for (role, _pos), person in PERSONS.items():
        label = "申请人" if role == "applicant" else "被申请人"
        assert f"{label}：{person['name']}" in text
        for key in ("id_number", "ethnicity", "occupation", "address", "phone"):
            assert person[key] in text, (person["name"], key)
    assert "张三，男，1980年1月1日出生，汉族，农民，住浙江省湖州市安吉县递铺街道胜利西路1号" in text
    assert "王芳，女，1985年6月12日出生，畲族，个体工商户" in text
    assert (
        f"被申请人：安吉竹海建材有限公司，住所地浙江省湖州市安吉县经济开发区天荒坪北路88号，"
        f"统一社会信用代码{COMPANY['credit_code']}" in text
    )
    assert "法定代表人：钱七，总经理。" in text
    assert "委托代理人：孙律，浙江安吉天平律师事务所律师，特别授权。" in text
    assert "委托代理人：王大明，近亲属（兄弟），一般授权。" in text
    # No masking on the original, and no e-mail address stands for a name.
    assert "*" not in text.split("签署与审计记录")[0]
    assert not re.search(r"[\w.+-]+@[\w-]+\.[\w.]+", text)


def test_the_form_names_the_committee_the_copies_and_signs_off_in_chinese_numerals(
    crowded, tmp_path
):
    pdf = render_agreement_pdf(crowded)
    text = _flat(_run("pdftotext", pdf, tmp_path))
    body = text.split("签署与审计记录")[0]
    assert body.startswith(COMMITTEE + "人民调解协议书")
    case_number = crowded.dispute.case_number.replace("(", "（").replace(")", "）")
    assert f"编号：{case_number}" in body
    assert "纠纷主要事实、争议事项" in body
    assert f"经{COMMITTEE}调解，各方当事人自愿达成如下协议" in body
    assert "履行方式、时限、地点" in body
    # Five parties: six copies, one each and one for the committee.
    assert "本协议一式六份，当事人各执一份，人民调解委员会留存一份" in body
    assert crowded.dispute.organisation.name not in body  # the centre hosts; it does not issue
    signed_off = timezone.localdate(max(s.signed_at for s in crowded.signatures.all()))
    from agreements.documents.chinese import cn_numeral_date

    assert cn_numeral_date(signed_off) in body
    digits, numbers = "〇一二三四五六七八九", "一二三四五六七八九十"
    assert re.search(f"二〇[{digits}]{{2}}年[{numbers}]+月[{numbers}]+日", body)
    # Every party and the mediator in the signature block; the company signed by its
    # representative.
    for name in ("张三", "王芳", "李四", "安吉竹海建材有限公司", "赵六"):
        assert re.search(f"(申请人|被申请人)：{name}", body.split("当事人（签名或盖章）")[1])
    assert "签名人：钱七" in body
    assert "人民调解员：李调解" in body
    assert "人民调解专用章" in body
    assert f"/verify/{crowded.document_id}/" in body


def test_the_binding_document_carries_no_english(crowded, tmp_path):
    text = _run("pdftotext", render_agreement_pdf(crowded), tmp_path)
    # What may be Latin: the verification address, hexadecimal hashes and serials, ids.
    stripped = re.sub(r"https?://\S+", "", text)
    stripped = re.sub(r"\b[0-9a-fA-F-]{8,}\b", "", stripped)
    words = re.findall(r"[A-Za-z]{3,}", stripped)
    assert words == [], words


def test_the_serif_is_embedded_and_subset_and_no_other_font_is_used(crowded, tmp_path):
    listing = _run("pdffonts", render_agreement_pdf(crowded), tmp_path)
    rows = listing.strip().splitlines()[2:]
    assert rows, listing
    assert any("UMingCN" in row for row in rows), listing
    for row in rows:
        cols = row.split()
        assert re.match(r"^[A-Z]{6}\+", cols[0]), row
        assert cols[-5:-3] == ["yes", "yes"], row  # emb, sub
    assert "Helvetica" not in listing


def test_the_creation_and_modification_dates_are_the_documents_own_recent_time(crowded, tmp_path):
    unsigned = render_agreement_pdf(crowded)
    # Sealed as the service seals: the document fixed at opening, with every signature.
    sealed, _digest = seal_agreement(crowded)
    _dump("crowded-sealed", sealed)
    now = timezone.now()
    last_signature = max(s.signed_at for s in crowded.signatures.all())
    for pdf in (unsigned, sealed):
        info = PdfFileReader(BytesIO(pdf)).trailer["/Info"]
        for key in ("/CreationDate", "/ModDate"):
            when = _pdf_time(str(info[key]))
            assert not str(info[key]).startswith("D:2000"), (key, info[key])
            assert timedelta(0) <= now - when < timedelta(minutes=1), (key, info[key])
    # The unsigned rendering is dated with the document's own time: the last signature.
    info = PdfFileReader(BytesIO(unsigned)).trailer["/Info"]
    assert _pdf_time(str(info["/CreationDate"])) == last_signature
    # Rendering again gives the same bytes: the date is the document's, not the clock's.
    assert render_agreement_pdf(crowded) == render_agreement_pdf(crowded)


def test_sealing_waits_for_every_party_of_a_side(crowded):
    crowded.signatures.filter(party__name="赵六").delete()
    state = signing_state(crowded)
    assert state.missing == ["被申请人 赵六"] and not state.complete
    from odr.errors import DomainError

    with pytest.raises(DomainError) as refused:
        seal_agreement(crowded)
    assert refused.value.code == "agreement_not_fully_signed"
    assert "赵六" in refused.value.message


def test_the_english_rendering_is_a_separate_non_binding_file(crowded, tmp_path):
    pdf = render_agreement_translation_pdf(crowded)
    _dump("crowded-translation", pdf)
    text = _flat(_run("pdftotext", pdf, tmp_path))
    assert "NON-BINDINGTRANSLATION" in text
    assert "nolegaleffect" in text and "onlybindingtext" in text
    assert str(crowded.document_id) in text
    assert "People'sMediationAgreement" in text
    assert "Respondent:安吉竹海建材有限公司" in text and "Legalrepresentative:钱七" in text
    assert "Madein6copies" in text
    assert PdfFileReader(BytesIO(pdf)).embedded_signatures == []  # nothing signed
    # Not the binding document's bytes.
    assert pdf != render_agreement_pdf(crowded)


def test_a_party_reads_the_translation_on_the_page_and_through_the_api(demo, client):
    agreement = factories.agreement_for(factories.dispute_in_mediation())
    client.force_login(factories.demo_user("citizen1@demo.odr"))
    link = reverse("documents:agreement_translation", args=[agreement.pk])
    detail = client.get(reverse("agreements:detail", args=[agreement.pk]))
    assert f'href="{link}"' in detail.content.decode()
    page = client.get(link)
    assert page.status_code == 200 and page["Content-Type"] == "application/pdf"
    assert "translation" in page["Content-Disposition"]
    api = client.get(f"/api/v1/agreements/{agreement.pk}/translation.pdf")
    assert api.status_code == 200 and api.content[:5] == b"%PDF-"


def test_someone_outside_the_case_gets_404_for_the_translation(demo, client):
    agreement = factories.agreement_for(factories.dispute_in_mediation())
    client.force_login(factories.make_user())
    assert client.get(f"/api/v1/agreements/{agreement.pk}/translation.pdf").status_code == 404
    page = client.get(reverse("documents:agreement_translation", args=[agreement.pk]))
    assert page.status_code == 404
