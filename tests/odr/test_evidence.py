"""Evidence is judged by its content, never its name (CONTRACT §3), and a refused filing
leaves nothing behind (issue 2 §4)."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from odr import services
from odr.errors import DomainError, Invalid
from odr.evidence import check_upload, clean_filename
from odr.models import AuditEvent, Dispute, Evidence
from odr.services import filing
from tests import factories

pytestmark = pytest.mark.django_db

# Minimal real headers of every kept type: what a phone or scanner would send first.
SAMPLES = {
    "pdf": (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n", ".pdf"),
    "jpeg": (
        b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
        + b"\x00" * 64
        + b"\xff\xd9",
        ".jpg",
    ),
    "png": (
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02"
        b"\x00\x00\x00\x90wS\xde" + b"\x00" * 32,
        ".png",
    ),
    "wav": (
        b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x40\x1f\x00\x00"
        b"\x80\x3e\x00\x00\x02\x00\x10\x00data\x00\x00\x00\x00",
        ".wav",
    ),
    "mp3": (b"ID3\x03\x00\x00\x00\x00\x00\x00\xff\xfb\x90\x00" + b"\x00" * 64, ".mp3"),
    "mp4": (
        b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom\x00\x00\x00\x08free",
        ".mp4",
    ),
    "m4a": (
        b"\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00M4A mp42isom\x00\x00\x00\x00\x00\x00\x00\x08free",
        ".m4a",
    ),
}
ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 56
PE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 48


@pytest.fixture(autouse=True)
def media(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def stored_files(media: Path) -> list[Path]:
    return [p for p in media.rglob("*") if p.is_file()] if media.exists() else []


def upload(content: bytes, name: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/octet-stream")


# --- the content check -------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(SAMPLES))
def test_each_allowed_type_is_kept_with_the_extension_of_its_content(kind):
    content, extension = SAMPLES[kind]
    checked = check_upload(io.BytesIO(content), name=f"证据{kind}.bin", size=len(content))
    assert checked.extension == extension
    assert checked.filename == f"证据{kind}{extension}"
    assert checked.size == len(content)
    assert checked.sha256 == hashlib.sha256(content).hexdigest()


@pytest.mark.parametrize(("content", "name"), [(ELF, "合同.pdf"), (PE, "photo.png")])
def test_a_renamed_executable_is_refused(content, name):
    with pytest.raises(Invalid) as info:
        check_upload(io.BytesIO(content), name=name, size=len(content))
    assert info.value.code == "file_type_not_allowed"


@pytest.mark.parametrize(
    "content",
    [b"<html><script>alert(1)</script></html>", b"PK\x03\x04" + b"\x00" * 30, b"plain text"],
)
def test_other_content_is_refused_whatever_its_name(content):
    with pytest.raises(Invalid) as info:
        check_upload(io.BytesIO(content), name="evidence.pdf", size=len(content))
    assert info.value.code == "file_type_not_allowed"


def test_an_empty_file_is_refused():
    with pytest.raises(Invalid) as info:
        check_upload(io.BytesIO(b""), name="a.pdf", size=0)
    assert info.value.code == "file_empty"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../etc/passwd.pdf", "passwd.pdf"),
        ("C:\\x\\y.png", "y.pdf"),
        ("/abs/path/借条.pdf", "借条.pdf"),
        ("..\\..\\boot.ini", "boot.pdf"),
        ("evil\x00name.pdf", "evilname.pdf"),
        ("....", "file.pdf"),
    ],
)
def test_a_path_in_the_file_name_is_dropped(name, expected):
    content = SAMPLES["pdf"][0]
    checked = check_upload(io.BytesIO(content), name=name, size=len(content))
    assert checked.filename == expected
    assert "/" not in checked.filename and "\\" not in checked.filename


def test_clean_filename_keeps_only_the_last_component():
    assert clean_filename("a/b/c/d.txt") == "d.txt"
    assert clean_filename("") == "file"


def test_an_oversized_file_is_refused_by_its_declared_size(settings):
    settings.ODR_EVIDENCE_MAX_BYTES = 100
    content = SAMPLES["pdf"][0] + b"0" * 200
    with pytest.raises(Invalid) as info:
        check_upload(io.BytesIO(content), name="big.pdf", size=len(content))
    assert info.value.code == "file_too_large"


def test_an_oversized_file_is_refused_by_its_real_size_when_none_is_declared(settings):
    settings.ODR_EVIDENCE_MAX_BYTES = 10_000
    content = SAMPLES["pdf"][0] + b"0" * 20_000
    with pytest.raises(Invalid) as info:
        check_upload(io.BytesIO(content), name="big.pdf", size=None)
    assert info.value.code == "file_too_large"


# --- filing with evidence ----------------------------------------------------------------


def file_with(evidence: list[tuple[bytes, str]]) -> Dispute:
    return services.dispute_file(
        applicant=factories.demo_user("citizen1@demo.odr"),
        category="debt",
        title="借款",
        description="未还",
        region_code="330523000000",
        respondent_name="李四",
        respondent_email="citizen2@demo.odr",
        evidence=[(io.BytesIO(c), name, len(c), "说明") for c, name in evidence],
    )


def test_filing_keeps_good_evidence_under_a_random_name_without_the_path(demo, media):
    dispute = file_with(
        [(SAMPLES["pdf"][0], "../../etc/passwd.pdf"), (SAMPLES["png"][0], "C:\\x\\y.png")]
    )
    items = list(dispute.evidence.order_by("pk"))
    assert [e.filename for e in items] == ["passwd.pdf", "y.png"]
    for item in items:
        assert ".." not in item.file.name
        assert item.file.name.startswith(f"evidence/{dispute.pk}/")
        assert Path(item.file.path).resolve().is_relative_to(media.resolve())
        assert Path(item.file.path).read_bytes()[:4] in (b"%PDF", b"\x89PNG")
    assert AuditEvent.objects.filter(dispute=dispute, action="evidence.add").count() == 2
    assert len(stored_files(media)) == 2


def test_a_bad_file_refuses_the_whole_filing_and_leaves_nothing(demo, media):
    with pytest.raises(Invalid):
        file_with([(SAMPLES["pdf"][0], "good.pdf"), (ELF, "bad.pdf")])
    assert Dispute.objects.count() == 0
    assert Evidence.objects.count() == 0
    assert AuditEvent.objects.count() == 0
    assert stored_files(media) == []


def test_a_failure_after_files_were_stored_removes_them_again(demo, media, monkeypatch):
    real = filing._store_evidence
    calls = []

    def store_then_fail(**kwargs):
        calls.append(kwargs["info"].filename)
        if len(calls) == 2:
            raise DomainError("storage_failed", "disk full")
        return real(**kwargs)

    monkeypatch.setattr(filing, "_store_evidence", store_then_fail)
    with pytest.raises(DomainError):
        file_with([(SAMPLES["pdf"][0], "one.pdf"), (SAMPLES["png"][0], "two.png")])
    assert calls == ["one.pdf", "two.png"]
    assert Dispute.objects.count() == 0
    assert stored_files(media) == []


# --- POST /api/v1/disputes/{id}/evidence --------------------------------------------------


def client_of(email: str | None) -> Client:
    client = Client()
    if email:
        client.force_login(factories.demo_user(email))
    return client


def post_evidence(client: Client, dispute: Dispute, content: bytes, name: str):
    return client.post(
        f"/api/v1/disputes/{dispute.pk}/evidence",
        {"file": upload(content, name), "description": "转账记录"},
    )


@pytest.mark.parametrize("email", ["citizen1@demo.odr", "citizen2@demo.odr"])
def test_a_party_uploads_evidence_through_the_api(demo, media, email):
    dispute = factories.dispute_in_mediation()
    content = SAMPLES["jpeg"][0]
    response = post_evidence(client_of(email), dispute, content, "../转账.jpeg")
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == {"id", "filename", "size", "sha256"}
    assert body["filename"] == "转账.jpg"
    assert body["size"] == len(content)
    assert body["sha256"] == hashlib.sha256(content).hexdigest()
    item = Evidence.objects.get(pk=body["id"])
    assert item.uploaded_by.email == email
    assert item.description == "转账记录"


def test_the_mediator_sees_the_case_but_cannot_add_evidence(demo, media):
    dispute = factories.dispute_in_mediation()
    response = post_evidence(client_of("mediator@demo.odr"), dispute, SAMPLES["pdf"][0], "a.pdf")
    assert response.status_code == 403
    assert response.json()["code"] == "not_a_party"
    assert stored_files(media) == []


@pytest.mark.parametrize("email", ["mediator.yucun@demo.odr", "clerk@demo.odr"])
def test_someone_who_cannot_see_the_case_gets_404(demo, media, email):
    dispute = factories.dispute_in_mediation()
    response = post_evidence(client_of(email), dispute, SAMPLES["pdf"][0], "a.pdf")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_anonymous_upload_is_401(demo, media):
    dispute = factories.dispute_in_mediation()
    response = post_evidence(client_of(None), dispute, SAMPLES["pdf"][0], "a.pdf")
    assert response.status_code == 401


def test_a_renamed_executable_is_refused_by_the_api_and_not_stored(demo, media):
    dispute = factories.dispute_in_mediation()
    response = post_evidence(client_of("citizen1@demo.odr"), dispute, ELF, "合同.pdf")
    assert response.status_code == 400
    assert response.json() == {
        "detail": response.json()["detail"],
        "code": "file_type_not_allowed",
    }
    assert Evidence.objects.count() == 0
    assert stored_files(media) == []


def test_an_oversized_upload_is_refused_by_the_api(demo, media, settings):
    settings.ODR_EVIDENCE_MAX_BYTES = 1024
    dispute = factories.dispute_in_mediation()
    content = SAMPLES["pdf"][0] + b"0" * 4096
    response = post_evidence(client_of("citizen1@demo.odr"), dispute, content, "big.pdf")
    assert response.status_code == 400
    assert response.json()["code"] == "file_too_large"
    assert stored_files(media) == []


def test_a_closed_case_takes_no_more_evidence(demo, media):
    dispute = factories.dispute_in_mediation()
    services.dispute_withdraw(dispute=dispute, actor=factories.demo_user("citizen1@demo.odr"))
    response = post_evidence(client_of("citizen1@demo.odr"), dispute, SAMPLES["pdf"][0], "a.pdf")
    assert response.status_code == 409
    assert response.json()["code"] == "case_closed"
    assert stored_files(media) == []


def test_an_upload_without_a_file_is_a_validation_error(demo, media):
    dispute = factories.dispute_in_mediation()
    response = client_of("citizen1@demo.odr").post(
        f"/api/v1/disputes/{dispute.pk}/evidence", {"description": "没有文件"}
    )
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"


@pytest.mark.parametrize(
    ("email", "status"),
    [
        ("citizen1@demo.odr", 201),
        ("citizen2@demo.odr", 201),
        ("bystander@example.com", 404),
        ("mediator@demo.odr", 403),
        ("mediator.yucun@demo.odr", 404),
        ("coordinator@demo.odr", 403),
        ("coordinator.yucun@demo.odr", 404),
        ("clerk@demo.odr", 404),
        (None, 401),
    ],
)
def test_evidence_upload_answers_each_role_as_the_contract_says(demo, media, email, status):
    factories.make_user("bystander@example.com")
    dispute = factories.dispute_in_mediation()
    response = post_evidence(client_of(email), dispute, SAMPLES["png"][0], "照片.png")
    assert response.status_code == status, response.content
    if status != 201:
        assert set(response.json()) == {"detail", "code"}
        assert stored_files(media) == []
    assert Evidence.objects.count() == (1 if status == 201 else 0)
