"""The evidence package: one ZIP for the court with the PDFs, the evidence files and the
case's audit trail, whose hash chain anyone can re-verify with the script inside."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from odr import services as odr_services
from tests import factories
from tests.signing import sign_application

pytestmark = pytest.mark.django_db
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x35\x81\x84"
    b"\x00\x00\x00\x00IEND\xaeB`\x82"
)


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def decided(demo):
    """A confirmed agreement whose case has evidence, with another case's events written
    in between (the audit chain is platform-wide)."""
    agreement = factories.agreement_in_force()
    dispute = agreement.dispute
    odr_services.evidence_add(
        dispute=dispute,
        actor=factories.demo_user("citizen1@demo.odr"),
        upload=SimpleUploadedFile("借条.png", PNG),
        name="借条.png",
        size=len(PNG),
        description="借条照片",
    )
    sign_application(agreement=agreement, actor=factories.demo_user("citizen1@demo.odr"))
    factories.file_dispute(title="另一个案件的秘密标题")
    request = sign_application(agreement=agreement, actor=factories.demo_user("citizen2@demo.odr"))
    # The clerk dockets it, the judge confirms it.
    return factories.confirmation_decided(request)


def _zip(client, agreement_id: int) -> zipfile.ZipFile:
    response = client.get(f"/api/v1/agreements/{agreement_id}/evidence-package.zip")
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/zip"
    assert "attachment" in response["Content-Disposition"]
    return zipfile.ZipFile(io.BytesIO(response.content))


def test_the_package_holds_the_documents_the_evidence_and_the_audit_trail(decided, client):
    client.force_login(factories.demo_user("clerk@demo.odr"))
    archive = _zip(client, decided.agreement_id)
    names = set(archive.namelist())
    assert {
        "documents/agreement.pdf",
        "documents/application.pdf",
        "documents/ruling.pdf",
        "evidence/01_借条.png",
        "audit/audit.json",
        "audit/verify_audit.py",
        "README.txt",
        "manifest.json",
    } <= names
    assert archive.read("evidence/01_借条.png") == PNG
    decided.refresh_from_db()
    assert hashlib.sha256(archive.read("documents/ruling.pdf")).hexdigest() == (
        decided.ruling_sha256
    )
    manifest = json.loads(archive.read("manifest.json"))
    for name, digest in manifest["files"].items():
        assert hashlib.sha256(archive.read(name)).hexdigest() == digest, name
    assert manifest["evidence"][0]["description"] == "借条照片"
    readme = archive.read("README.txt").decode()
    assert "verify_audit.py" in readme and "sha-256" in readme.lower()


def test_the_audit_chain_in_the_package_reverifies_and_hides_other_cases(decided, client, tmp_path):
    client.force_login(factories.demo_user("mediator@demo.odr"))
    archive = _zip(client, decided.agreement_id)
    archive.extractall(tmp_path)
    trail = json.loads(archive.read("audit/audit.json"))
    events = trail["events"]
    seqs = [e["seq"] for e in events]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    own = [e for e in events if "payload" in e]
    actions = [e["payload"]["action"] for e in own]
    for expected in (
        "confirmation.consent",
        "confirmation.submit",
        "confirmation.accept",
        "confirmation.decide",
    ):
        assert expected in actions
    # Another case's events in between are links only: nothing of their content.
    assert any("payload" not in e for e in events)
    assert "另一个案件的秘密标题" not in archive.read("audit/audit.json").decode()

    script = tmp_path / "audit" / "verify_audit.py"
    path = tmp_path / "audit" / "audit.json"
    ok = subprocess.run([sys.executable, str(script), str(path)], capture_output=True, text=True)
    assert ok.returncode == 0 and "chain OK" in ok.stdout

    # One changed value in one event breaks its hash.
    own[1]["payload"]["after"]["status"] = "confirmed"
    path.write_text(json.dumps(trail, ensure_ascii=False))
    bad = subprocess.run([sys.executable, str(script), str(path)], capture_output=True, text=True)
    assert bad.returncode == 1 and "does not match its hash" in bad.stdout

    # A removed event breaks the chain.
    trail = json.loads(archive.read("audit/audit.json"))
    del trail["events"][len(trail["events"]) // 2]
    path.write_text(json.dumps(trail, ensure_ascii=False))
    gap = subprocess.run([sys.executable, str(script), str(path)], capture_output=True, text=True)
    assert gap.returncode == 1 and "missing" in gap.stdout


def test_only_the_competent_courts_staff_and_the_mediator_get_the_package(decided, client):
    path = f"/api/v1/agreements/{decided.agreement_id}/evidence-package.zip"
    for email in ("citizen1@demo.odr", "citizen2@demo.odr", "coordinator@demo.odr"):
        client.force_login(factories.demo_user(email))
        assert client.get(path).status_code == 404, email
    client.force_login(factories.make_user())
    assert client.get(path).status_code == 404


def test_the_court_gets_no_package_before_both_parties_applied(demo, client):
    agreement = factories.agreement_in_force()
    sign_application(agreement=agreement, actor=factories.demo_user("citizen1@demo.odr"))
    client.force_login(factories.demo_user("clerk@demo.odr"))
    path = f"/api/v1/agreements/{agreement.pk}/evidence-package.zip"
    assert client.get(path).status_code == 404
    client.force_login(factories.demo_user("mediator@demo.odr"))
    archive = _zip(client, agreement.pk)
    assert "documents/ruling.pdf" not in archive.namelist()
    assert "documents/agreement.pdf" in archive.namelist()


def test_the_packets_evidence_files_are_served_to_the_court_and_the_parties_only(decided, client):
    client.force_login(factories.demo_user("clerk@demo.odr"))
    body = client.get(f"/api/v1/court/requests/{decided.pk}").json()
    url = body["evidence"][0]["url"]
    assert b"".join(client.get(url).streaming_content) == PNG
    client.force_login(factories.demo_user("citizen2@demo.odr"))
    assert client.get(url).status_code == 200
    client.force_login(factories.make_user())
    assert client.get(url).status_code == 404
