"""The public verification API and pages (CONTRACT §3: /api/v1/verify)."""

from __future__ import annotations

import binascii
import hashlib
import re

import pytest
from asn1crypto import cms as cms_module
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile

from agreements.documents.finalize import seal_agreement
from agreements.models import Agreement
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def in_force(demo) -> tuple[Agreement, bytes]:
    """A sealed agreement stored the way the signing service stores it."""
    agreement = factories.agreement_for(
        factories.dispute_in_mediation(), signers=("applicant", "respondent", "mediator")
    )
    pdf, digest = seal_agreement(agreement)
    agreement.pdf.save(f"{agreement.document_id}.pdf", ContentFile(pdf), save=False)
    agreement.pdf_sha256 = digest
    agreement.status = Agreement.Status.SIGNED
    agreement.save()
    return agreement, pdf


def _upload(client, data: bytes, name: str = "agreement.pdf"):
    return client.post(
        "/api/v1/verify", {"file": SimpleUploadedFile(name, data, "application/pdf")}
    )


def test_an_issued_pdf_uploaded_by_anyone_is_valid_with_masked_names(client, in_force):
    agreement, pdf = in_force
    response = _upload(client, pdf)
    assert response.status_code == 200
    body = response.json()
    assert body["valid"] is True
    assert body["case_number"] == agreement.dispute.case_number
    assert body["status"] == "signed"
    assert body["document_id"] == str(agreement.document_id)
    assert body["signed_at"]
    assert {(s["role"], s["name"]) for s in body["signers"]} == {
        ("applicant", "张*"),
        ("respondent", "李*"),
        ("mediator", "李**"),
    }
    assert "张三" not in response.content.decode()
    assert len(body["signatures"]) == 5
    assert all(s["ok"] and s["intact"] and s["trusted"] for s in body["signatures"])
    # Only the DSS (ltv.py: CA chain and CRL) follows the platform seal: the seal is ok
    # though it no longer covers the file's last bytes.
    assert body["signatures"][-1]["ok"] and body["signatures"][-1]["covers_entire_file"] is False


def test_the_hash_endpoint_checks_the_stored_file(client, in_force):
    agreement, pdf = in_force
    response = client.get(f"/api/v1/verify/{hashlib.sha256(pdf).hexdigest()}")
    assert response.status_code == 200
    body = response.json()
    assert body["valid"] is True and body["case_number"] == agreement.dispute.case_number
    assert [s["name"] for s in body["signers"]] == ["张*", "李*", "李**"]


def test_an_upper_case_hash_is_the_same_hash(client, in_force):
    _agreement, pdf = in_force
    response = client.get(f"/api/v1/verify/{hashlib.sha256(pdf).hexdigest().upper()}")
    assert response.status_code == 200 and response.json()["valid"] is True


def test_a_changed_byte_in_an_upload_is_not_valid_and_says_why(client, in_force):
    _agreement, pdf = in_force
    tampered = bytearray(pdf)
    position = pdf.index(b"stream", pdf.index(b"/Contents")) + 300
    tampered[position] ^= 0x20
    body = _upload(client, bytes(tampered)).json()
    assert body["valid"] is False
    assert body["hash_known"] is False
    assert body["reason"]
    assert not all(s["ok"] for s in body["signatures"])


def test_a_changed_byte_inside_a_signature_is_not_valid_and_never_a_server_error(client, in_force):
    """A changed byte can fall inside a signature's own /Contents (the CMS), where reading
    even the signing time from the signed attributes fails; the answer is still "not
    valid", never a 500 (a byte flipped in the middle of a sealed file once landed there)."""
    _agreement, pdf = in_force
    match = re.search(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)", pdf)
    start, length, resume = (int(g) for g in match.groups())
    hex_start = start + length + 1  # past the "<"
    cms = binascii.unhexlify(pdf[hex_start : resume - 1])
    signed_attrs = cms_module.ContentInfo.load(cms)["content"]["signer_infos"][0]["signed_attrs"]
    # The first signed attribute's SEQUENCE tag, just after the [0] IMPLICIT SET header.
    attrs_at = cms.index(signed_attrs.contents)
    targets = [attrs_at, *range(2, len(cms.rstrip(b"\0")), 401)]
    for offset in targets:
        tampered = bytearray(pdf)
        tampered[hex_start + 2 * offset : hex_start + 2 * offset + 2] = b"00"
        response = _upload(client, bytes(tampered))
        assert response.status_code == 200, offset
        body = response.json()
        assert body["valid"] is False and body["reason"], offset
        checks = body["signatures"]
        assert not checks or not all(check["ok"] for check in checks), offset


def test_a_stored_file_changed_on_disk_is_reported_not_valid(client, in_force):
    agreement, pdf = in_force
    path = agreement.pdf.path
    with open(path, "r+b") as handle:
        handle.seek(len(pdf) // 2)
        byte = handle.read(1)
        handle.seek(len(pdf) // 2)
        handle.write(bytes([byte[0] ^ 0x01]))
    body = client.get(f"/api/v1/verify/{agreement.pdf_sha256}").json()
    assert body["valid"] is False
    assert "hash" in body["reason"] or "哈希" in body["reason"]


def test_an_unknown_hash_answers_404_not_valid(client, db):
    response = client.get(f"/api/v1/verify/{'ab' * 32}")
    assert response.status_code == 404
    assert response.json()["valid"] is False
    assert response.json()["code"] == "unknown_document"


def test_a_malformed_hash_answers_400(client, db):
    response = client.get("/api/v1/verify/not-a-hash")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_hash"


def test_a_file_that_is_not_a_pdf_is_not_valid(client, db):
    body = _upload(client, b"hello, this is not a PDF", "x.pdf").json()
    assert body["valid"] is False and body["signatures"] == [] and body["reason"]


def test_an_unsigned_rendering_is_not_valid(client, in_force):
    from agreements.documents.pdf import render_agreement_pdf

    agreement, _pdf = in_force
    body = _upload(client, render_agreement_pdf(agreement)).json()
    assert body["valid"] is False and body["signatures"] == []


def test_the_verify_page_takes_an_upload_and_says_valid_in_chinese(client, in_force):
    _agreement, pdf = in_force
    response = client.post(
        "/verify/",
        {"file": SimpleUploadedFile("a.pdf", pdf, "application/pdf")},
        HTTP_ACCEPT_LANGUAGE="zh-hans",
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "有效" in html and "张*" in html and "张三" not in html


def test_the_qr_page_shows_the_agreement_by_document_id(client, in_force):
    agreement, _pdf = in_force
    response = client.get(f"/verify/{agreement.document_id}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert agreement.dispute.case_number in html
    assert agreement.pdf_sha256 in html
    assert "verdict valid" in html


def test_the_qr_page_of_an_unknown_document_is_404(client, db):
    response = client.get("/verify/00000000-0000-4000-8000-000000000000/")
    assert response.status_code == 404


def test_the_verify_page_by_hash_says_not_valid_for_an_unknown_hash(client, db):
    response = client.get("/verify/", {"sha256": "cd" * 32})
    assert response.status_code == 404


def test_the_ca_certificate_is_published_for_other_validators(client, in_force):
    from cryptography import x509

    from agreements.documents import pki

    response = client.get("/verify/ca.pem")
    assert response.status_code == 200
    cert = x509.load_pem_x509_certificate(response.content)
    assert cert == pki.ca().cert


def test_the_verify_page_names_the_platform_seal_in_chinese_first(client, in_force):
    _agreement, pdf = in_force
    response = client.post(
        "/verify/",
        {"file": SimpleUploadedFile("a.pdf", pdf, "application/pdf")},
        HTTP_ACCEPT_LANGUAGE="zh-hans",
    )
    html = response.content.decode()
    # The certificate keeps its bilingual subject (on hover); the cell reads in Chinese.
    assert ">ODR 平台电子印章</span>" in html
    assert ">ODR 平台电子印章 Platform Seal<" not in html
    assert 'title="ODR 平台电子印章 Platform Seal"' in html
