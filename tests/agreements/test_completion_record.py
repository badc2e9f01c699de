"""The completion record (issue 9, point 2): what is known only once everyone has signed
(each signer's signing time, certificate serial and address) is added after the
committee's seal as the platform seal's own signed incremental update, drawn in the place
the audit page kept for it when the document was fixed; nothing signed is re-rendered,
the DSS still comes last, and verification accepts the file."""

from __future__ import annotations

import subprocess
from io import BytesIO

import pytest
from django.core.files.base import ContentFile
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from agreements.documents import pki
from agreements.documents.finalize import completion_record, seal_agreement
from agreements.documents.pdf import RECORD_BOX, current_signatures, record_height
from agreements.documents.verify import verify_pdf
from agreements.models import Agreement
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def agreement(demo):
    agreement = factories.agreement_for(
        factories.dispute_in_mediation(), signers=("applicant", "respondent", "mediator")
    )
    for n, sig in enumerate(current_signatures(agreement)):
        sig.ip = f"203.0.113.{10 + n}"
        sig.save(update_fields=["ip"])
    return agreement


@pytest.fixture
def sealed(agreement):
    pdf, digest = seal_agreement(agreement)
    agreement.pdf.save(f"{agreement.document_id}.pdf", ContentFile(pdf), save=False)
    agreement.pdf_sha256 = digest
    agreement.status = Agreement.Status.SIGNED
    agreement.save()
    return agreement, pdf


def _text(pdf: bytes, tmp_path) -> str:
    path = tmp_path / "record.pdf"
    path.write_bytes(pdf)
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout


def test_the_audit_page_fixed_at_opening_keeps_a_place_sized_for_every_signer(agreement):
    page, _x1, y1, _x2, y2 = agreement.signature_boxes[RECORD_BOX]
    assert y2 - y1 == pytest.approx(record_height(3))
    # The last page: the audit page after the signatures.
    reader = PdfFileReader(BytesIO(bytes(agreement.signing_pdf)))
    assert page == len(reader.root["/Pages"]["/Kids"]) - 1


def test_the_record_names_each_signers_time_certificate_and_address(agreement, tmp_path):
    signatures = current_signatures(agreement)
    text = _text(completion_record(signatures, width=480, height=record_height(3)), tmp_path)
    assert "签署完成记录" in text
    for sig in signatures:
        assert sig.certificate_serial[:20] in text
        assert sig.ip in text
        assert sig.signer_name in text


def test_the_record_is_the_platform_seals_update_after_the_committee_seal_before_the_dss(
    sealed,
):
    agreement, pdf = sealed
    reader = PdfFileReader(BytesIO(pdf))
    signatures = [s for s in reader.embedded_signatures if s.sig_object_type == "/Sig"]
    names = [s.field_name for s in signatures]
    committee = f"Seal{agreement.dispute.organisation.pk}"
    assert names[-2:] == [committee, "PlatformSeal"]
    platform = signatures[-1]
    assert platform.signed_revision == signatures[-2].signed_revision + 1
    # The DSS (validation data) is the one update after it.
    assert platform.signed_revision == reader.xrefs.total_revisions - 2
    # Visible where the audit page kept the place, drawn (an appearance with content).
    widget = platform.sig_field
    rect = [float(v) for v in widget["/Rect"]]
    _page, x1, y1, x2, y2 = agreement.signature_boxes[RECORD_BOX]
    assert rect == pytest.approx([int(x1), int(y1), int(x2), int(y2)])
    assert widget["/AP"]["/N"]["/Resources"]["/XObject"]
    # Signed by the platform seal's certificate, trusted against the CA.
    assert platform.signer_cert.subject == pki.platform_seal().asn1_cert().subject
    status = validate_pdf_signature(
        platform, ValidationContext(trust_roots=[pki.ca().asn1_cert()], allow_fetching=False)
    )
    assert status.intact and status.valid and status.trusted


def test_every_signer_and_seal_still_verifies_with_the_record_added(sealed):
    _agreement, pdf = sealed
    verification = verify_pdf(pdf)
    assert verification.valid, verification.reason
    assert verification.signatures and all(c.ok for c in verification.signatures)


def test_the_signed_bytes_are_never_rendered_again(sealed):
    agreement, pdf = sealed
    # Every byte the signers signed is the start of the sealed file, unchanged.
    assert pdf.startswith(bytes(agreement.signing_pdf))
