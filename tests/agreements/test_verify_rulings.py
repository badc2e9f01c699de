"""Verification of court rulings and of files signed outside the platform's CA."""

from __future__ import annotations

import hashlib

import pytest
from django.core.files.base import ContentFile
from django.test import override_settings
from django.utils import timezone

from agreements.documents import pki
from agreements.documents.pdf import render_agreement_pdf
from agreements.documents.verify import verify_document, verify_hash, verify_pdf
from agreements.models import ConfirmationRequest
from odr.models import Organisation
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def ruling(demo):
    """A confirmed request whose ruling PDF the court sealed with its own key."""
    agreement = factories.agreement_for(
        factories.dispute_in_mediation(),
        status="signed",
        signers=("applicant", "respondent", "mediator"),
    )
    court = Organisation.objects.get(kind=Organisation.Kind.COURT)
    sealed = pki.seal_pdf(render_agreement_pdf(agreement), organisation=court, reason="民事裁定书")
    request = ConfirmationRequest.objects.create(
        agreement=agreement,
        court=court,
        status=ConfirmationRequest.Status.CONFIRMED,
        decided_at=timezone.now(),
        ruling_sha256=hashlib.sha256(sealed).hexdigest(),
    )
    request.ruling_pdf.save("ruling.pdf", ContentFile(sealed))
    return request, sealed


def test_a_courts_sealed_ruling_verifies_by_hash_and_names_the_court(ruling, client):
    request, sealed = ruling
    body = client.get(f"/api/v1/verify/{request.ruling_sha256}").json()
    assert body["valid"] is True and body["signers"][0]["name"] == request.court.name
    result = verify_hash(request.ruling_sha256)
    assert result is not None and result.valid, result.reason
    assert result.kind == "ruling" and result.status == "confirmed"
    assert result.signers[0]["name"] == request.court.name
    assert result.signatures[0].signer == request.court.name
    assert verify_pdf(sealed).valid


def test_the_qr_page_lists_the_ruling_after_the_agreement(ruling):
    request, _sealed = ruling
    results = verify_document(request.agreement.document_id)
    assert [r.kind for r in results] == ["agreement", "ruling"]
    # The agreement here was never sealed and stored: it says so instead of "valid".
    assert results[0].valid is False and results[1].valid is True


def test_a_pdf_signed_by_another_ca_is_not_trusted(demo, tmp_path):
    agreement = factories.agreement_for(factories.dispute_in_mediation())
    with override_settings(ODR_PKI_DIR=tmp_path / "elsewhere"):
        foreign = pki.seal_pdf(render_agreement_pdf(agreement), organisation=None, reason="x")
    result = verify_pdf(foreign)
    assert result.valid is False
    assert result.signatures[0].intact and not result.signatures[0].trusted
    assert "CA" in result.reason or "证书" in result.reason
