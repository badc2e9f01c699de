"""A court ruling is verifiable by anyone, by its hash or by the file, through the
documents engineer's verification endpoints (the ruling's SHA-256 is stored on the
request)."""

from __future__ import annotations

import io

import pytest

from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def test_anyone_can_verify_the_ruling_by_its_hash_or_the_file(demo, client):
    request = factories.confirmation_pending()
    decided = factories.confirmation_decided(request)
    client.logout()
    by_hash = client.get(f"/api/v1/verify/{decided.ruling_sha256}")
    assert by_hash.status_code == 200, by_hash.content
    body = by_hash.json()
    assert body["valid"] is True and body["status"] == "confirmed"
    assert body["case_number"] == request.agreement.dispute.case_number
    with decided.ruling_pdf.open("rb") as f:
        data = f.read()
    uploaded = client.post("/api/v1/verify", {"file": io.BytesIO(data)})
    assert uploaded.json()["valid"] is True
    tampered = bytearray(data)
    tampered[len(tampered) // 3] ^= 0x01
    changed = client.post("/api/v1/verify", {"file": io.BytesIO(bytes(tampered))})
    assert changed.json()["valid"] is False
