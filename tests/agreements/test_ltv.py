"""Lasting signatures (issue 9, point 4): the sealed PDF carries its own validation data
(PAdES B-LT; B-LTA with a TSA) and validates offline with the platform CA as the only
trust root; the CA publishes a CRL and can revoke a certificate, after which verification
fails."""

from __future__ import annotations

import hashlib
import os
import socket
from datetime import timedelta
from io import BytesIO, StringIO

import pytest
from cryptography import x509
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtensionOID
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.core.management import CommandError, call_command
from django.test import override_settings
from django.utils import timezone
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import (
    DocumentSecurityStore,
    validate_pdf_signature,
    validate_pdf_timestamp,
)
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext

from agreements.documents import pki, revocation
from agreements.documents.finalize import seal_agreement
from agreements.documents.ltv import DOC_TIMESTAMP_FIELD, embed_validation_data
from agreements.documents.verify import verify_hash, verify_pdf
from agreements.models import Agreement, ConfirmationRequest, RevokedCertificate
from odr.errors import DomainError
from odr.models import AuditEvent, Organisation
from tests import factories
from tests.agreements.test_pki_signing import tsa_url  # noqa: F401  (the local TSA)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def agreement(demo):
    return factories.agreement_for(
        factories.dispute_in_mediation(), signers=("applicant", "respondent", "mediator")
    )


@pytest.fixture
def in_force(agreement) -> tuple[Agreement, bytes]:
    """A sealed agreement stored the way the signing service stores it."""
    pdf, digest = seal_agreement(agreement)
    agreement.pdf.save(f"{agreement.document_id}.pdf", ContentFile(pdf), save=False)
    agreement.pdf_sha256 = digest
    agreement.status = Agreement.Status.SIGNED
    agreement.save()
    return agreement, pdf


@pytest.fixture
def go_offline(monkeypatch):
    """Call it to make any later attempt to open a network connection fail the test; the
    attempts are recorded in the list it returns."""
    attempts: list[object] = []

    def refuse(self, address, *args, **kwargs):
        attempts.append(address)
        raise AssertionError(f"network access during offline validation: {address}")

    def start() -> list[object]:
        monkeypatch.setattr(socket.socket, "connect", refuse)
        monkeypatch.setattr(socket.socket, "connect_ex", refuse)
        return attempts

    return start


def _offline_context(reader: PdfFileReader, *, extra_crls=()) -> ValidationContext:
    """What a validator years from now has: the CA's certificate as its only trust root
    and what the file itself holds (its DSS); no network, and revocation information
    required for every certificate (hard-fail): that is B-LT."""
    dss = DocumentSecurityStore.read_dss(reader)
    return dss.as_validation_context(
        {
            "trust_roots": [pki.ca().asn1_cert()],
            "allow_fetching": False,
            "revocation_mode": "hard-fail",
            "crls": list(extra_crls),
        }
    )


def _signatures(reader: PdfFileReader):
    return [s for s in reader.embedded_signatures if s.sig_object_type == "/Sig"]


def test_the_sealed_agreement_validates_as_b_lt_offline_with_the_ca_as_only_root(
    agreement, go_offline
):
    pdf, _digest = seal_agreement(agreement)
    no_network = go_offline()
    reader = PdfFileReader(BytesIO(pdf))
    dss = DocumentSecurityStore.read_dss(reader)
    assert len(dss.crls) == 1 and dss.vri_entries is not None
    signatures = _signatures(reader)
    assert len(signatures) == 5 and len(dss.vri_entries) == 5
    for sig in signatures:
        status = validate_pdf_signature(sig, _offline_context(reader))
        assert status.intact and status.valid and status.trusted, status.pretty_print_details()
        assert status.bottom_line and not status.revoked
    assert no_network == []
    # The same hard-fail validation without the DSS fails: the file's own data is what
    # makes it validate.
    bare = ValidationContext(
        trust_roots=[pki.ca().asn1_cert()],
        allow_fetching=False,
        revocation_mode="hard-fail",
        crls=[],
    )
    assert not validate_pdf_signature(signatures[0], bare).bottom_line


def test_the_dss_is_one_update_after_the_last_seal_and_verification_accepts_it(in_force):
    _agreement, pdf = in_force
    reader = PdfFileReader(BytesIO(pdf))
    seal = _signatures(reader)[-1]
    assert seal.field_name == "PlatformSeal"
    assert seal.signed_revision == reader.xrefs.total_revisions - 2
    result = verify_pdf(pdf)
    assert result.valid, result.reason
    assert all(check.ok for check in result.signatures)


def test_with_a_tsa_a_document_timestamp_covers_the_dss_b_lta(agreement, tsa_url, go_offline):  # noqa: F811
    with override_settings(ODR_TSA_URL=tsa_url):
        pdf, _ = seal_agreement(agreement)
    no_network = go_offline()  # sealing spoke to the TSA; validating speaks to no one
    reader = PdfFileReader(BytesIO(pdf))
    last = reader.embedded_signatures[-1]
    assert last.sig_object_type == "/DocTimeStamp" and last.field_name == DOC_TIMESTAMP_FIELD
    ts_status = validate_pdf_timestamp(last, _offline_context(reader))
    assert ts_status.intact and ts_status.valid and ts_status.trusted
    assert ts_status.coverage == SignatureCoverageLevel.ENTIRE_FILE
    # The platform seal's own timestamp and its TSA chain validate from the DSS too.
    seal_status = validate_pdf_signature(_signatures(reader)[-1], _offline_context(reader))
    assert seal_status.bottom_line, seal_status.pretty_print_details()
    assert seal_status.timestamp_validity is not None and seal_status.timestamp_validity.trusted
    assert no_network == []
    checks = verify_pdf(pdf).signatures
    assert [c.ok for c in checks] == [True] * 6 and checks[-1].timestamp is not None


def test_revoking_a_signer_certificate_makes_validation_fail(in_force, client):
    agreement, pdf = in_force
    serial = agreement.signatures.get(role="respondent").certificate_serial
    before = revocation.current_crl()
    revocation.certificate_revoke(serial=serial, reason="key_compromise", actor=None)
    after = revocation.current_crl()
    assert after.der != before.der and after.issued_at >= before.issued_at
    revoked = x509.load_der_x509_crl(after.der)
    entry = revoked.get_revoked_certificate_by_serial_number(int(serial, 16))
    assert entry is not None and entry.revocation_date_utc <= after.issued_at
    # Offline, with the CRL issued after the revocation: the respondent's signature fails.
    reader = PdfFileReader(BytesIO(pdf))
    context = _offline_context(reader, extra_crls=[after.parsed])
    by_field = {s.field_name: s for s in _signatures(reader)}
    status = validate_pdf_signature(by_field["Signature2_respondent"], context)
    assert status.revoked and not status.bottom_line
    # The platform's own verification (file and hash; page and API) says so.
    result = verify_pdf(pdf)
    assert not result.valid and "吊销" in result.reason
    check = next(c for c in result.signatures if c.field == "Signature2_respondent")
    assert not check.ok and check.trusted is False
    assert verify_hash(agreement.pdf_sha256).valid is False
    body = client.get(f"/api/v1/verify/{agreement.pdf_sha256}").json()
    assert body["valid"] is False
    page = client.get(f"/verify/?sha256={agreement.pdf_sha256}")
    assert "吊销" in page.content.decode()


def test_an_agreement_still_verifies_long_after_its_signers_certificates_expired(in_force):
    """Signer certificates live 30 days; each is judged at its signature's moment, so the
    court can check the file years later (and revocation still counts: the test above)."""
    import time_machine

    _agreement, pdf = in_force
    signers = [
        s for s in PdfFileReader(BytesIO(pdf)).embedded_signatures if "_" in (s.field_name or "")
    ]
    later = timezone.now() + timedelta(days=400)
    assert signers
    for sig in signers:
        assert sig.signer_cert["tbs_certificate"]["validity"]["not_after"].native < later
    with time_machine.travel(later, tick=False):
        result = verify_pdf(pdf)
    assert result.valid, result.reason
    assert all(check.ok for check in result.signatures)


def test_the_crl_url_serves_der_that_lists_the_revoked_serial(agreement, client):
    response = client.get("/pki/ca.crl")
    assert response.status_code == 200 and response["Content-Type"] == "application/pkix-crl"
    crl = x509.load_der_x509_crl(response.content)
    assert crl.issuer == pki.ca().cert.subject
    assert crl.is_signature_valid(pki.ca().cert.public_key())
    assert list(crl) == []
    assert timedelta(days=6) < crl.next_update_utc - crl.last_update_utc <= timedelta(days=7)
    serial = agreement.signatures.get(role="applicant").certificate_serial
    revocation.certificate_revoke(serial=serial, reason="superseded", actor=None)
    crl = x509.load_der_x509_crl(client.get("/pki/ca.crl").content)
    assert [format(r.serial_number, "x") for r in crl] == [serial]
    assert (
        crl.get_revoked_certificate_by_serial_number(int(serial, 16))
        .extensions.get_extension_for_class(x509.CRLReason)
        .value.reason
        == x509.ReasonFlags.superseded
    )


def test_every_issued_certificate_names_the_crl_and_the_ca_certificate(agreement, client, settings):
    signature = agreement.signatures.get(role="mediator")
    cert = x509.load_pem_x509_certificate(signature.certificate_pem.encode())
    assert format(cert.serial_number, "x") == signature.certificate_serial
    points = cert.extensions.get_extension_for_oid(ExtensionOID.CRL_DISTRIBUTION_POINTS).value
    assert [p.full_name[0].value for p in points] == [f"{settings.SITE_URL}/pki/ca.crl"]
    access = cert.extensions.get_extension_for_oid(ExtensionOID.AUTHORITY_INFORMATION_ACCESS)
    (issuers,) = [
        a for a in access.value if a.access_method == AuthorityInformationAccessOID.CA_ISSUERS
    ]
    assert issuers.access_location.value == f"{settings.SITE_URL}/pki/ca.cer"
    response = client.get("/pki/ca.cer")
    assert response["Content-Type"] == "application/pkix-cert"
    assert x509.load_der_x509_certificate(response.content) == pki.ca().cert


def test_the_revoke_command_revokes_and_audits_on_the_case(agreement):
    sig = agreement.signatures.get(role="respondent")
    admin = get_user_model().objects.get(email="admin@demo.odr")
    call_command(
        "revoke_certificate",
        sig.certificate_serial.upper(),
        "--reason",
        "key_compromise",
        "--by",
        "admin@demo.odr",
        stdout=StringIO(),
    )
    row = RevokedCertificate.objects.get(serial=sig.certificate_serial)
    assert row.reason == "key_compromise" and row.revoked_by == admin
    event = AuditEvent.objects.get(action="certificate.revoke")
    assert event.dispute_id == agreement.dispute_id and event.actor == admin
    assert event.after["serial"] == sig.certificate_serial and event.after["signature"] == sig.pk
    with pytest.raises(CommandError, match="already_revoked"):
        call_command("revoke_certificate", sig.certificate_serial, "--reason", "superseded")
    with pytest.raises(CommandError, match="unknown_certificate"):
        call_command("revoke_certificate", "abc123", "--reason", "superseded")
    with pytest.raises(CommandError, match="invalid_serial"):
        call_command("revoke_certificate", "not-hex", "--reason", "superseded")
    assert RevokedCertificate.objects.count() == 1


def test_the_service_refuses_bad_reasons_the_root_and_records_the_actor(agreement):
    sig = agreement.signatures.get(role="applicant")
    mediator = agreement.dispute.mediator
    with pytest.raises(DomainError) as err:
        revocation.certificate_revoke(serial=sig.certificate_serial, reason="bored", actor=mediator)
    assert err.value.code == "invalid_reason" and err.value.status == 400
    with pytest.raises(DomainError) as err:
        revocation.certificate_revoke(serial=pki.ca().serial, reason="superseded", actor=mediator)
    assert err.value.code == "cannot_revoke_root"
    assert (
        not RevokedCertificate.objects.exists()
        and not AuditEvent.objects.filter(action="certificate.revoke").exists()
    )
    # An organisation's seal certificate (not a signature's) can be revoked too.
    organisation = agreement.dispute.organisation
    row = revocation.certificate_revoke(
        serial=pki.organisation_key(organisation).serial, reason="superseded", actor=mediator
    )
    event = AuditEvent.objects.get(action="certificate.revoke")
    assert event.actor == mediator and event.dispute_id is None and event.object_id == str(row.pk)


def test_the_courts_ruling_carries_its_validation_data(demo):
    from agreements.court.services.confirmation import _ruling

    agreement = factories.agreement_for(
        factories.dispute_in_mediation(),
        status="signed",
        signers=("applicant", "respondent", "mediator"),
    )
    court = Organisation.objects.get(kind=Organisation.Kind.COURT)
    judge = get_user_model().objects.get(email="judge@demo.odr")
    request = ConfirmationRequest.objects.create(
        agreement=agreement,
        court=court,
        status=ConfirmationRequest.Status.CONFIRMED,
        accepted_by=get_user_model().objects.get(email="clerk@demo.odr"),
        decided_at=timezone.now(),
    )
    fields = _ruling(request, judge)
    with request.ruling_pdf.storage.open(fields["ruling_pdf"], "rb") as handle:
        sealed = handle.read()
    assert hashlib.sha256(sealed).hexdigest() == fields["ruling_sha256"]
    reader = PdfFileReader(BytesIO(sealed))
    (seal,) = _signatures(reader)
    status = validate_pdf_signature(seal, _offline_context(reader))
    assert status.bottom_line, status.pretty_print_details()
    assert verify_pdf(sealed).signatures[0].ok


def test_a_pdf_without_signatures_comes_back_unchanged(agreement):
    from agreements.documents.pdf import render_agreement_pdf

    pdf = render_agreement_pdf(agreement)
    assert embed_validation_data(pdf) == pdf


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_on_a_phone_the_verify_page_says_a_revoked_signature_is_not_valid(
    settings, tmp_path, live_server, phone_context
):
    settings.MEDIA_ROOT = tmp_path / "media"
    factories.seed_demo()
    agreement = factories.agreement_for(
        factories.dispute_in_mediation(), signers=("applicant", "respondent", "mediator")
    )
    pdf, digest = seal_agreement(agreement)
    agreement.pdf.save(f"{agreement.document_id}.pdf", ContentFile(pdf), save=False)
    agreement.pdf_sha256 = digest
    agreement.status = Agreement.Status.SIGNED
    agreement.save()
    page = phone_context.new_page()
    page.goto(f"{live_server.url}/verify/{agreement.document_id}/")
    assert page.locator("section.verdict.valid").count() == 1
    crl_link = page.locator("a[href='/pki/ca.crl']")
    assert crl_link.count() == 1 and "吊销列表" in page.content()

    serial = agreement.signatures.get(role="respondent").certificate_serial
    revocation.certificate_revoke(serial=serial, reason="key_compromise", actor=None)
    page.goto(f"{live_server.url}/verify/{agreement.document_id}/")
    verdict = page.locator("section.verdict").first
    assert page.locator("section.verdict.valid").count() == 0
    assert "证书已被平台 CA 吊销" in verdict.inner_text()
    # Nothing wider than the phone.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(tmp_path / "revoked.png"), full_page=True)
    if shot := os.environ.get("ODR_SCREENSHOT_DIR"):
        page.screenshot(path=f"{shot}/verify-revoked.png", full_page=True)


def test_the_dss_reads_each_signatures_cms_exactly_as_pyhanko_does(in_force):
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    from agreements.documents.ltv import _signature_contents

    _agreement, pdf = in_force
    expected = [s.pkcs7_content for s in PdfFileReader(BytesIO(pdf)).embedded_signatures]
    writer = IncrementalPdfFileWriter(BytesIO(pdf))
    assert _signature_contents(pdf, writer) == expected and len(expected) == 5


def test_validation_data_added_again_later_extends_the_same_dss(in_force):
    _agreement, pdf = in_force
    revocation.certificate_revoke(
        serial=pki.platform_seal().serial, reason="superseded", actor=None
    )
    again = embed_validation_data(pdf)
    assert again.startswith(pdf) and len(again) > len(pdf)
    reader = PdfFileReader(BytesIO(again))
    dss = DocumentSecurityStore.read_dss(reader)
    # The newer CRL joins the first; the certificates are not repeated.
    assert len(dss.crls) == 2 and len(dss.certs) == len(
        DocumentSecurityStore.read_dss(PdfFileReader(BytesIO(pdf))).certs
    )
