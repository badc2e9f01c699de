"""The committee's seal shows where the law expects it (issue 9): the agreement's PDF is
fixed when it opens for signing, so its seal block can only print "（印）"; the committee's
seal signature, after the last signer, is a visible field at that place whose appearance
is the drawn round red seal."""

from __future__ import annotations

import subprocess
from io import BytesIO

import pytest
from django.core.files.base import ContentFile
from PIL import Image
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from agreements.documents import pki
from agreements.documents.finalize import seal_agreement
from agreements.documents.pdf import SEAL_BOX
from agreements.documents.verify import verify_pdf
from agreements.models import Agreement
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def sealed(demo):
    agreement = factories.agreement_for(
        factories.dispute_in_mediation(), signers=("applicant", "respondent", "mediator")
    )
    pdf, digest = seal_agreement(agreement)
    # Stored the way the signing service stores it, so that verification knows it.
    agreement.pdf.save(f"{agreement.document_id}.pdf", ContentFile(pdf), save=False)
    agreement.pdf_sha256 = digest
    agreement.status = Agreement.Status.SIGNED
    agreement.save()
    return agreement, pdf


def _red(image: Image.Image) -> int:
    """How many pixels are seal red."""
    return sum(1 for r, g, b in image.get_flattened_data() if r > 150 and g < 110 and b < 110)


def _seal_field(reader: PdfFileReader, agreement):
    name = f"Seal{agreement.dispute.organisation.pk}"
    return next(s for s in reader.embedded_signatures if s.field_name == name)


def test_the_document_fixed_for_signing_keeps_a_place_for_the_seal(sealed):
    agreement, _pdf = sealed
    page, x1, y1, x2, y2 = agreement.signature_boxes[SEAL_BOX]
    assert x2 - x1 == pytest.approx(112) and y2 - y1 == pytest.approx(112)
    # On the page of the signature table, not the audit page after it.
    party_page = agreement.signature_boxes[f"party:{agreement.dispute.parties.first().pk}"][0]
    assert page == party_page


def test_the_committee_seal_is_a_visible_field_at_the_seals_place_and_still_trusted(sealed):
    agreement, pdf = sealed
    reader = PdfFileReader(BytesIO(pdf))
    seal = _seal_field(reader, agreement)
    widget = seal.sig_field["/Kids"][0] if "/Kids" in seal.sig_field else seal.sig_field
    rect = [float(v) for v in widget["/Rect"]]
    _page, x1, y1, x2, y2 = agreement.signature_boxes[SEAL_BOX]
    assert rect == pytest.approx([int(x1), int(y1), int(x2), int(y2)])
    # Not an empty widget: its normal appearance draws the seal.
    appearance = widget["/AP"]["/N"]
    assert appearance["/Resources"]["/XObject"]
    status = validate_pdf_signature(
        seal, ValidationContext(trust_roots=[pki.ca().asn1_cert()], allow_fetching=False)
    )
    assert status.intact and status.valid
    verification = verify_pdf(pdf)
    assert verification.valid, verification.reason
    assert all(check.ok for check in verification.signatures)


def test_the_seal_is_drawn_red_over_its_place_on_the_page(sealed, tmp_path):
    agreement, pdf = sealed
    page, x1, y1, x2, y2 = agreement.signature_boxes[SEAL_BOX]
    path = tmp_path / "sealed.pdf"
    path.write_bytes(pdf)
    subprocess.run(
        [
            "pdftoppm",
            "-r",
            "72",
            "-png",
            "-f",
            str(page + 1),
            "-l",
            str(page + 1),
            str(path),
            str(tmp_path / "page"),
        ],
        check=True,
    )
    image = Image.open(next(tmp_path.glob("page*.png"))).convert("RGB")
    height = image.height
    # The seal's square, in pixels (72 dpi: one pixel a point; y from the top).
    crop = image.crop((int(x1), int(height - y2), int(x2), int(height - y1)))
    assert _red(crop) > 400
    # And no red anywhere on the page before sealing: the seal is the signature's.
    unsealed = tmp_path / "unsealed.pdf"
    unsealed.write_bytes(bytes(agreement.signing_pdf))
    subprocess.run(
        [
            "pdftoppm",
            "-r",
            "72",
            "-png",
            "-f",
            str(page + 1),
            "-l",
            str(page + 1),
            str(unsealed),
            str(tmp_path / "before"),
        ],
        check=True,
    )
    before = Image.open(next(tmp_path.glob("before*.png"))).convert("RGB")
    before_crop = before.crop((int(x1), int(height - y2), int(x2), int(height - y1)))
    assert _red(before_crop) < 20


# --- the joint application's platform seal (issue 9, point 5) --------------------------------


@pytest.fixture
def sealed_application(demo):
    from datetime import timedelta

    from django.utils import timezone

    from tests.signing import sign_application

    agreement = factories.agreement_in_force(effective_at=timezone.now() - timedelta(hours=5))
    for email in ("citizen1@demo.odr", "citizen2@demo.odr"):
        request = sign_application(agreement=agreement, actor=factories.demo_user(email))
    request.refresh_from_db()
    return request, request.application_pdf.open("rb").read()


def test_the_applications_platform_seal_is_visible_with_the_completion_record(
    sealed_application, tmp_path
):
    """The platform seal of the 司法确认申请书 is no longer an invisible field: its widget
    sits in the place kept under the attachments' "5. 签署完成记录" item, non-empty, with an
    appearance stream drawing the completion record, and the seal stays trusted."""
    from agreements.documents.pdf import RECORD_BOX

    request, pdf = sealed_application
    page, x1, y1, x2, y2 = request.signature_boxes[RECORD_BOX]
    reader = PdfFileReader(BytesIO(pdf))
    seal = next(s for s in reader.embedded_signatures if s.field_name == "PlatformSeal")
    widget = seal.sig_field["/Kids"][0] if "/Kids" in seal.sig_field else seal.sig_field
    rect = [float(v) for v in widget["/Rect"]]
    assert rect == pytest.approx([int(x1), int(y1), int(x2), int(y2)])
    assert rect[2] - rect[0] > 100 and rect[3] - rect[1] > 40
    # On the page the place was kept on, with a normal appearance that draws something.
    assert widget["/P"].get_object() == reader.root["/Pages"]["/Kids"][page].get_object()
    appearance = widget["/AP"]["/N"]
    assert appearance["/Resources"]["/XObject"]
    assert len(appearance.data) > 0
    status = validate_pdf_signature(
        seal, ValidationContext(trust_roots=[pki.ca().asn1_cert()], allow_fetching=False)
    )
    assert status.intact and status.valid and status.trusted
    # The reader sees the record there: the signers' names under the "附：" line.
    path = tmp_path / "application.pdf"
    path.write_bytes(pdf)
    text = subprocess.run(
        ["pdftotext", "-f", str(page + 1), "-l", str(page + 1), "-layout", str(path), "-"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert "5. 签署完成记录" in text and "签署完成记录（平台电子印章签署）" in text
    for consent in request.consents.all():
        assert consent.signer_name in text
        assert consent.certificate_serial[:20] in text
    # Nothing of the record in the document the parties signed: the seal brought it.
    signed = tmp_path / "signed.pdf"
    signed.write_bytes(bytes(request.signing_pdf))
    before = subprocess.run(
        ["pdftotext", "-layout", str(signed), "-"], check=True, capture_output=True, text=True
    ).stdout
    # One list of attachments, the signing record its fifth item (not a second "附：").
    assert before.count("附：") == 1 and "4. 当事人送达地址确认书；" in before
    assert "5. 签署完成记录" in before and "签署完成记录（平台电子印章签署）" not in before


@pytest.mark.parametrize("which", ["agreement", "application"])
def test_every_font_of_the_signed_and_sealed_document_is_embedded_and_poppler_reads_it_clean(
    which, request, tmp_path
):
    """What the court receives, signatures and seals included, embeds every font it uses:
    each signer's field draws its signing time in the documents' own face (pyHanko's text
    stamp added an unembedded Courier as a direct font dictionary, which poppler reported
    as "Internal Error: xref num … not found")."""
    if which == "agreement":
        _agreement, pdf = request.getfixturevalue("sealed")
    else:
        _request, pdf = request.getfixturevalue("sealed_application")
    path = tmp_path / f"{which}.pdf"
    path.write_bytes(pdf)
    listing = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True)
    assert listing.stderr == ""
    rows = listing.stdout.strip().splitlines()[2:]
    assert rows
    for row in rows:
        # pdffonts columns: name type encoding emb sub uni object ID
        assert row.split()[-5:-3] == ["yes", "yes"], row
    assert "Courier" not in listing.stdout
