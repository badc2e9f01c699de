"""The platform CA and the PAdES signatures: each signer signs with their own certificate,
in order, the platform seal last over the whole file; production never makes its own CA."""

from __future__ import annotations

import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BytesIO

import pytest
from asn1crypto import tsp
from cryptography.x509.oid import NameOID
from django.test import override_settings
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext

from agreements.documents import pki
from agreements.documents.finalize import seal_agreement
from agreements.documents.verify import check_signatures, verify_pdf
from odr.errors import DomainError
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def agreement(demo):
    dispute = factories.dispute_in_mediation()
    return factories.agreement_for(dispute, signers=("respondent", "applicant", "mediator"))


@pytest.fixture
def sealed(agreement):
    return seal_agreement(agreement)


def _validated(pdf: bytes):
    reader = PdfFileReader(BytesIO(pdf))
    context = ValidationContext(trust_roots=pki.trust_roots(), allow_fetching=False)
    # Signatures only: a document timestamp (ltv.py, with a TSA) is validated as such.
    return [
        (sig, validate_pdf_signature(sig, context))
        for sig in reader.embedded_signatures
        if sig.sig_object_type == "/Sig"
    ]


def test_every_signature_is_intact_valid_and_trusted_and_only_validation_data_follows_the_seal(
    sealed,
):
    pdf, digest = sealed
    results = _validated(pdf)
    assert [sig.field_name for sig, _ in results] == [
        "Signature1_respondent",
        "Signature2_applicant",
        "Signature3_mediator",
        "Seal3" if results[3][0].field_name == "Seal3" else results[3][0].field_name,
        "PlatformSeal",
    ]
    for _sig, status in results:
        assert status.intact and status.valid and status.trusted, status.pretty_print_details()
        assert status.bottom_line
    # The seal covers its whole revision; after it comes only the DSS (ltv.py), which
    # pyHanko's difference analysis files under long-term validation updates.
    assert results[-1][1].coverage == SignatureCoverageLevel.ENTIRE_REVISION
    assert results[-1][1].modification_level == ModificationLevel.LTA_UPDATES
    for _sig, status in results[:-1]:
        assert status.coverage == SignatureCoverageLevel.ENTIRE_REVISION
    assert digest == pki.sha256(pdf)


def test_each_signer_signs_with_the_certificate_issued_for_their_own_key(agreement, sealed):
    pdf, _ = sealed
    results = _validated(pdf)
    serials = [format(status.signing_cert.serial_number, "x") for _s, status in results[:3]]
    by_role = {s.role: s.certificate_serial for s in agreement.signatures.all()}
    assert serials == [by_role["respondent"], by_role["applicant"], by_role["mediator"]]
    # The verified real names, unmasked: masking belongs to the verification page.
    names = [status.signing_cert.subject.native["common_name"] for _s, status in results[:3]]
    assert names == ["李四", "张三", "李调解"]


def test_a_signer_certificate_names_the_signer_the_agreement_and_holds_the_key_given(agreement):
    from cryptography.hazmat.primitives import serialization

    from tests.signing import new_key

    user = agreement.dispute.applicant.user
    key = new_key()
    cert = pki.certify_signer_key(
        public_key=key.public_key(), user=user, agreement=agreement, role="applicant"
    )
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "张三"
    pseudonym = cert.subject.get_attributes_for_oid(NameOID.PSEUDONYM)[0].value
    assert pseudonym == f"{agreement.document_id}/applicant"
    der = serialization.Encoding.DER
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    assert cert.public_key().public_bytes(der, spki) == key.public_key().public_bytes(der, spki)
    # Short-lived, and issued by the platform CA.
    assert cert.not_valid_after_utc - cert.not_valid_before_utc <= timedelta(
        days=pki.SIGNER_CERT_DAYS, hours=1
    )
    assert cert.issuer == pki.ca().cert.subject


def test_sealing_refuses_an_agreement_missing_a_signature(demo):
    agreement = factories.agreement_for(
        factories.dispute_in_mediation(), signers=("applicant", "respondent")
    )
    with pytest.raises(DomainError) as err:
        seal_agreement(agreement)
    assert err.value.code == "agreement_not_fully_signed"


def test_a_byte_changed_anywhere_fails_verification(sealed):
    pdf, _ = sealed
    assert verify_pdf(pdf).signatures[-1].ok
    for where in (0.0, 0.02, 0.3, 0.6, 0.97, 1.0):
        position = min(int(len(pdf) * where), len(pdf) - 1)
        tampered = bytearray(pdf)
        tampered[position] = (tampered[position] + 1) % 256
        assert verify_pdf(bytes(tampered)).valid is False, position


def test_a_change_inside_the_signed_text_breaks_the_signatures_themselves(sealed):
    pdf, _ = sealed
    # A byte of the first page's content stream, well inside every signed range.
    position = pdf.index(b"stream", pdf.index(b"/Contents")) + 200
    tampered = bytearray(pdf)
    tampered[position] ^= 0x01
    checks, problem = check_signatures(bytes(tampered))
    assert problem
    assert not any(check.ok for check in checks[:1])


def test_an_update_appended_after_the_seal_is_caught(sealed):
    pdf, _ = sealed
    writer = IncrementalPdfFileWriter(BytesIO(pdf))
    from pyhanko.pdf_utils import generic

    info = writer.trailer["/Info"]
    info["/Title"] = generic.TextStringObject("Forged")
    writer.update_container(info)
    out = BytesIO()
    writer.write(out)
    checks, problem = check_signatures(out.getvalue())
    assert problem
    assert checks[-1].covers_entire_file is False and checks[-1].ok is False
    assert verify_pdf(out.getvalue()).valid is False


def test_production_refuses_to_generate_a_ca(tmp_path):
    with override_settings(DEBUG=False, TESTING=False, ODR_PKI_DIR=tmp_path / "prod"):
        with pytest.raises(pki.PkiError, match="ODR_CA_CERT"):
            pki.ca()
        with pytest.raises(pki.PkiError, match="ODR_SEAL_CERT"):
            pki.platform_seal()
    assert not (tmp_path / "prod" / "ca").exists()


def test_production_loads_the_configured_ca_and_seal_files(tmp_path):
    with override_settings(ODR_PKI_DIR=tmp_path / "made"):
        root, seal = pki.ca(), pki.platform_seal()
    made = tmp_path / "made" / "ca"
    with override_settings(
        DEBUG=False,
        TESTING=False,
        ODR_PKI_DIR=tmp_path / "prod",
        ODR_CA_CERT=str(made / "root.cert.pem"),
        ODR_CA_KEY=str(made / "root.key.pem"),
        ODR_SEAL_CERT=str(made / "seal.cert.pem"),
        ODR_SEAL_KEY=str(made / "seal.key.pem"),
    ):
        assert pki.ca().cert == root.cert
        assert pki.platform_seal().cert == seal.cert
    assert not (tmp_path / "prod" / "ca").exists()


class _TsaHandler(BaseHTTPRequestHandler):
    stamper: DummyTimeStamper

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        response = self.stamper.request_tsa_response(tsp.TimeStampReq.load(body))
        data = response.dump()
        self.send_response(200)
        self.send_header("Content-Type", "application/timestamp-reply")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def tsa_url():
    """A local RFC 3161 timestamp authority certified by the test CA."""
    tsa = pki._issue(
        subject=pki._name("Test TSA"), issuer=pki.ca(), time_stamping=True, rsa_key=True
    )
    handler = type(
        "Handler",
        (_TsaHandler,),
        {
            "stamper": DummyTimeStamper(
                tsa_cert=tsa.asn1_cert(),
                tsa_key=tsa.asn1_key(),
                certs_to_embed=[pki.ca().asn1_cert()],
            )
        },
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_the_platform_seal_carries_a_trusted_timestamp_when_a_tsa_is_configured(agreement, tsa_url):
    with override_settings(ODR_TSA_URL=tsa_url):
        pdf, _ = seal_agreement(agreement)
    sig, status = _validated(pdf)[-1]
    assert sig.field_name == "PlatformSeal"
    assert status.timestamp_validity is not None
    assert status.timestamp_validity.intact and status.timestamp_validity.trusted
    assert status.bottom_line
    assert verify_pdf(pdf).signatures[-1].timestamp is not None


@pytest.mark.timeout(60)
def test_a_fresh_pki_directory_creates_the_ca_on_the_way_to_a_seal(agreement, tmp_path):
    # The seal's and an organisation's certificate need the CA, which is created under the
    # same directory lock: this must not wait on itself.
    from agreements.documents.pdf import render_agreement_pdf

    with override_settings(ODR_PKI_DIR=tmp_path / "fresh"):
        sealed = pki.seal_pdf(render_agreement_pdf(agreement), organisation=None, reason="t")
        org_sealed = pki.seal_pdf(
            sealed, organisation=agreement.dispute.organisation, reason="committee"
        )
        checks, problem = check_signatures(org_sealed)
    assert (tmp_path / "fresh" / "ca" / "root.cert.pem").is_file()
    assert len(checks) == 2 and problem == "" and all(c.ok for c in checks)
    # Against this session's CA, the same file is signed by a stranger.
    checks, problem = check_signatures(org_sealed)
    assert problem and not checks[0].trusted


def test_keys_are_never_kept_inside_the_repository(settings):
    with (
        override_settings(ODR_PKI_DIR=settings.BASE_DIR / "var" / "pki"),
        pytest.raises(pki.PkiError, match="outside the repository"),
    ):
        pki.ca()
    assert not (settings.BASE_DIR / "var" / "pki" / "ca").exists()


def test_the_pki_directory_is_resolved_once_per_setting_and_refused_every_time(settings, tmp_path):
    """pki_dir() resolves the path once per value of the settings (issue 9's speed-up):
    a changed ODR_PKI_DIR is followed at once, and a directory inside the repository is
    refused at every call, not only the first."""
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    with override_settings(ODR_PKI_DIR=tmp_path / "link"):
        assert pki.pki_dir() == (tmp_path / "real").resolve()
    with override_settings(ODR_PKI_DIR=tmp_path / "other"):
        assert pki.pki_dir() == (tmp_path / "other").resolve()
    for _ in range(2):
        with (
            override_settings(ODR_PKI_DIR=settings.BASE_DIR / "var" / "pki"),
            pytest.raises(pki.PkiError, match="outside the repository"),
        ):
            pki.pki_dir()


def test_issued_keys_are_encrypted_at_rest_when_a_key_password_is_set(agreement, tmp_path):
    organisation = agreement.dispute.organisation
    with override_settings(ODR_PKI_DIR=tmp_path / "enc", ODR_PKI_KEY_PASSWORD="s3cret-pass"):
        pair = pki.organisation_key(organisation)
        key_file = tmp_path / "enc" / "orgs" / f"{organisation.pk}.key.pem"
        assert key_file.read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
        assert key_file.stat().st_mode & 0o077 == 0
        assert (
            (tmp_path / "enc" / "ca" / "root.key.pem")
            .read_bytes()
            .startswith(b"-----BEGIN ENCRYPTED")
        )
        assert pki.organisation_key(organisation).serial == pair.serial
    with (
        override_settings(ODR_PKI_DIR=tmp_path / "enc", ODR_PKI_KEY_PASSWORD=""),
        pytest.raises(pki.PkiError, match="ODR_PKI_KEY_PASSWORD"),
    ):
        pki.organisation_key(organisation)


def test_a_second_validator_poppler_finds_every_signature_valid(sealed, tmp_path):
    """Poppler's pdfsig (NSS, not pyHanko) checks the same file: each signature's
    value matches; after the last one comes only the DSS update (ltv.py), so none covers
    the whole file. (Trust in our CA is a local setting there: /verify/ca.pem is what a
    reader would import.)"""
    import subprocess

    pdf, _ = sealed
    path = tmp_path / "sealed.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdfsig", str(path)], capture_output=True, text=True, check=False).stdout
    assert out.count("Signature Validation: Signature is Valid.") == 5, out
    assert out.count("Not total document signed") == 5
    assert b"/DSS" in pdf[pdf.rindex(b"/ByteRange") :]


def test_a_timestamp_authority_that_does_not_answer_refuses_the_seal_cleanly(agreement):
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    with (
        override_settings(ODR_TSA_URL=f"http://127.0.0.1:{closed_port}/"),
        pytest.raises(DomainError) as err,
    ):
        seal_agreement(agreement)
    assert err.value.code == "timestamp_unavailable" and err.value.status == 503


def test_sealing_twice_by_the_same_organisation_adds_a_second_field(sealed, agreement):
    pdf, _ = sealed
    organisation = agreement.dispute.organisation
    again = pki.seal_pdf(pdf, organisation=organisation, reason="again")
    fields = [s.field_name for s in PdfFileReader(BytesIO(again)).embedded_signatures]
    assert fields[-2:] == ["PlatformSeal", f"Seal{organisation.pk}_2"]
    assert check_signatures(again)[1] == ""
