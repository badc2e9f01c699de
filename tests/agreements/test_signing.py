"""Opening for signature, revising and signing: order, re-authentication (password or
TOTP), consent, the signature image, concurrency, and the sealed end of it all."""

from __future__ import annotations

import base64
import hashlib
import io
import shutil
import tempfile
from decimal import Decimal
from pathlib import Path

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, hotp_value
from django.core.cache import cache
from django.utils import translation
from PIL import Image

from agreements import services
from agreements.models import Agreement, Signature
from agreements.signature_image import decode_signature_png, render_typed_name
from agreements.transitions import MACHINE
from odr.errors import DomainError
from odr.models import AuditEvent, Dispute
from tests import factories
from tests.agreements.subprocess_race import run_race
from tests.postgres import scratch_database
from tests.signing import sign_agreement

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english(client):
    """Messages are asserted in their English source; Chinese is the default language."""
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    cache.clear()  # no wrong-password count left over from another test
    with translation.override("en"):
        yield


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def mediator(demo):
    return factories.demo_user("mediator@demo.odr")


@pytest.fixture
def signing(demo):
    return factories.agreement_signing()


def _sign(agreement, email, **overrides):
    kwargs = {
        "agreement": agreement,
        "actor": factories.demo_user(email),
        "password": factories.PASSWORD,
        "consent": True,
        "signature_png": factories.signature_png_b64(),
    }
    kwargs.update(overrides)
    return sign_agreement(**kwargs)


def test_open_freezes_the_terms_records_the_document_hash_and_tells_the_parties(
    demo, mediator, mailoutbox, django_capture_on_commit_callbacks
):
    agreement = factories.agreement_draft()
    with django_capture_on_commit_callbacks(execute=True):
        agreement = services.agreement_open(agreement=agreement, actor=mediator)
    assert agreement.status == Agreement.Status.SIGNING and agreement.opened_at
    assert len(agreement.unsigned_pdf_sha256) == 64
    event = AuditEvent.objects.get(action="agreement.open")
    assert event.after["document_sha256"] == agreement.unsigned_pdf_sha256
    assert {m.to[0] for m in mailoutbox} == {"citizen1@demo.odr", "citizen2@demo.odr"}
    assert all(f"/agreements/{agreement.pk}/sign/" in m.body for m in mailoutbox)
    with pytest.raises(DomainError) as refused:
        services.agreement_save_draft(
            dispute=agreement.dispute, actor=mediator, data={"facts": "改了"}
        )
    assert refused.value.code == "invalid_status" and refused.value.status == 409


def test_a_party_signs_and_the_signature_is_recorded_with_the_documents_hash(signing):
    before = hashlib.sha256(services.render_pdf(signing)).hexdigest()
    _sign(signing, "citizen2@demo.odr")
    signature = Signature.objects.get(agreement=signing)
    assert signature.role == "respondent" and signature.signer_name == "李四"
    assert signature.certificate_serial and signature.method == "drawn"
    assert signature.document_sha256 == before
    assert Image.open(io.BytesIO(bytes(signature.signature_png))).format == "PNG"
    event = AuditEvent.objects.get(action="agreement.sign")
    assert event.after["role"] == "respondent"
    assert event.after["document_sha256"] == before
    assert event.after["certificate_serial"] == signature.certificate_serial


def test_parties_sign_in_any_order_and_the_mediator_is_told_when_both_did(
    signing, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        _sign(signing, "citizen2@demo.odr")
        _sign(signing, "citizen1@demo.odr")
    assert [s.role for s in Signature.objects.filter(agreement=signing)] == [
        "respondent",
        "applicant",
    ]
    told = [m for m in mailoutbox if m.to == ["mediator@demo.odr"]]
    assert len(told) == 1 and f"/agreements/{signing.pk}/sign/" in told[0].body


def test_the_mediator_cannot_sign_before_both_parties(signing):
    _sign(signing, "citizen1@demo.odr")
    with pytest.raises(DomainError) as refused:
        _sign(signing, "mediator@demo.odr")
    assert refused.value.code == "parties_sign_first" and refused.value.status == 409
    assert "mediator signs last" in refused.value.message
    assert not Signature.objects.filter(role="mediator").exists()


def test_the_same_role_cannot_sign_twice(signing):
    _sign(signing, "citizen1@demo.odr")
    with pytest.raises(DomainError) as refused:
        _sign(signing, "citizen1@demo.odr")
    assert refused.value.code == "already_signed"
    assert Signature.objects.filter(role="applicant").count() == 1


def test_wrong_password_records_nothing(signing):
    with pytest.raises(DomainError) as refused:
        _sign(signing, "citizen1@demo.odr", password="not-my-password")
    assert refused.value.code == "wrong_password" and refused.value.status == 403
    assert not Signature.objects.exists()
    assert not AuditEvent.objects.filter(action="agreement.sign").exists()


def test_consent_must_be_given(signing):
    with pytest.raises(DomainError) as refused:
        _sign(signing, "citizen1@demo.odr", consent=False)
    assert refused.value.code == "consent_required"
    assert not Signature.objects.exists()


@pytest.mark.parametrize(
    "png",
    [
        "",
        "not base64 at all!",
        base64.b64encode(b"GIF89a" + b"\0" * 100).decode(),
        base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 100).decode(),  # a PNG header only
        "data:image/jpeg;base64," + factories.signature_png_b64(),
        factories.signature_png_b64(width=10, height=10),  # too small
        factories.signature_png_b64(width=5000, height=200),  # too large
    ],
    ids=["empty", "garbage", "gif", "truncated", "jpeg-data-url", "tiny", "huge"],
)
def test_a_bad_signature_image_is_refused(signing, png):
    with pytest.raises(DomainError) as refused:
        _sign(signing, "citizen1@demo.odr", signature_png=png)
    assert refused.value.code == "invalid_signature_image" and refused.value.status == 400
    assert not Signature.objects.exists()


def test_a_blank_canvas_is_not_a_signature(signing):
    blank = io.BytesIO()
    Image.new("RGBA", (300, 120), (255, 255, 255, 0)).save(blank, format="PNG")
    with pytest.raises(DomainError) as refused:
        _sign(
            signing, "citizen1@demo.odr", signature_png=base64.b64encode(blank.getvalue()).decode()
        )
    assert "empty" in refused.value.message


def test_a_data_url_png_is_accepted_and_reencoded():
    data = "data:image/png;base64," + factories.signature_png_b64()
    out = decode_signature_png(data)
    assert out.startswith(b"\x89PNG") and Image.open(io.BytesIO(out)).size == (300, 120)


def test_a_typed_name_is_rendered_to_a_png_in_the_chinese_font(signing):
    _sign(signing, "citizen1@demo.odr", signature_png=None, typed_name="张三")
    signature = Signature.objects.get(role="applicant")
    assert signature.method == "typed"
    image = Image.open(io.BytesIO(bytes(signature.signature_png)))
    assert image.format == "PNG" and image.size[0] > 100
    assert bytes(signature.signature_png) == render_typed_name("张三")


def test_a_typed_name_must_be_the_signers_own(signing):
    with pytest.raises(DomainError) as refused:
        _sign(signing, "citizen1@demo.odr", signature_png=None, typed_name="李四")
    assert refused.value.code == "typed_name_mismatch" and "张三" in refused.value.message


def test_a_totp_user_signs_with_a_current_code(signing):
    user = factories.demo_user("citizen1@demo.odr")
    secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
    TOTP.activate(user, secret)
    import time

    from allauth.mfa import app_settings

    code = format_hotp_value(hotp_value(secret, int(time.time()) // app_settings.TOTP_PERIOD))
    with pytest.raises(DomainError) as refused:
        _sign(signing, "citizen1@demo.odr")  # the password alone is not enough now
    assert refused.value.code == "code_required"
    with pytest.raises(DomainError) as refused:
        _sign(signing, "citizen1@demo.odr", code="000000" if code != "000000" else "111111")
    assert refused.value.code == "wrong_code"
    _sign(signing, "citizen1@demo.odr", password="", code=code)
    assert Signature.objects.filter(role="applicant").exists()
    assert Authenticator.objects.filter(user=user).count() == 1


def test_nobody_else_signs(signing):
    for email in ("coordinator@demo.odr", "clerk@demo.odr"):
        with pytest.raises(DomainError) as refused:
            _sign(signing, email)
        assert refused.value.status == 403
    assert not Signature.objects.exists()


def test_a_draft_cannot_be_signed(demo):
    agreement = factories.agreement_draft()
    with pytest.raises(DomainError) as refused:
        _sign(agreement, "citizen1@demo.odr")
    # The signer names the version they read, which is not open for signing: nothing
    # to sign until the mediator opens it.
    assert refused.value.code == "version_changed" and refused.value.status == 409


def test_revise_voids_every_signature_and_moves_the_version_on(
    signing, mediator, mailoutbox, django_capture_on_commit_callbacks
):
    _sign(signing, "citizen1@demo.odr")
    _sign(signing, "citizen2@demo.odr")
    with django_capture_on_commit_callbacks(execute=True):
        agreement = services.agreement_revise(agreement=signing, actor=mediator, reason="金额有误")
    assert agreement.status == Agreement.Status.DRAFT and agreement.version == 2
    assert Signature.objects.filter(voided_at__isnull=True).count() == 0
    assert Signature.objects.filter(voided_at__isnull=False).count() == 2
    event = AuditEvent.objects.get(action="agreement.revise")
    assert sorted(event.after["voided_signatures"]) == ["applicant", "respondent"]
    assert {m.to[0] for m in mailoutbox} == {"citizen1@demo.odr", "citizen2@demo.odr"}
    assert all("金额有误" in m.body for m in mailoutbox)
    # The revised draft goes out again and both parties sign the new version afresh.
    services.agreement_save_draft(
        dispute=agreement.dispute, actor=mediator, data={"performance_method": "现金支付。"}
    )
    agreement = services.agreement_open(agreement=agreement, actor=mediator)
    _sign(agreement, "citizen1@demo.odr")
    assert Signature.objects.filter(role="applicant", voided_at__isnull=True).count() == 1


def test_everyone_signing_puts_the_agreement_in_force_and_settles_the_case(
    signing, mailoutbox, django_capture_on_commit_callbacks
):
    _sign(signing, "citizen1@demo.odr")
    _sign(signing, "citizen2@demo.odr")
    with django_capture_on_commit_callbacks(execute=True):
        _sign(signing, "mediator@demo.odr")
    agreement = Agreement.objects.get(pk=signing.pk)
    assert agreement.status == Agreement.Status.SIGNED and agreement.effective_at
    data = agreement.pdf.read()
    assert hashlib.sha256(data).hexdigest() == agreement.pdf_sha256
    assert data.startswith(b"%PDF") and data.count(b"/ByteRange") >= 3
    assert agreement.dispute.status == Dispute.Status.SETTLED
    in_force = AuditEvent.objects.get(action="agreement.in_force")
    assert in_force.after["pdf_sha256"] == agreement.pdf_sha256
    assert AuditEvent.objects.filter(action="dispute.settle").exists()
    told = {m.to[0] for m in mailoutbox if agreement.pdf_sha256 in m.body}
    assert told == {"citizen1@demo.odr", "citizen2@demo.odr", "mediator@demo.odr"}
    # The obligations are laid out at once, for their due dates and reminders.
    obligations = list(agreement.obligations.values_list("term_index", "amount"))
    assert len(obligations) == 1 and obligations[0][1] == Decimal("10000.00")


def _race(tmp_path: Path, data_dir: Path, database_url: str | None) -> dict:
    return run_race(
        "tests.agreements.race_signing",
        tmp_path=tmp_path,
        data_dir=data_dir,
        database_url=database_url,
    )


def _assert_both_counted(result: dict) -> None:
    assert result["errors"] == []
    assert result["roles"] == ["applicant", "respondent"]
    assert result["events"] == 2
    assert result["final"] == "signed"


def test_two_parties_signing_at_the_same_instant_both_count(tmp_path):
    """Each party in its own thread and connection on the default file database (SQLite,
    WAL, immediate transactions); the row lock makes the second wait for the first, and
    both signatures count."""
    # The database file in memory-backed /dev/shm when there is one: migrating a fresh
    # file database on a real disk costs seconds of fsync.
    shm = Path("/dev/shm")
    data_dir = Path(tempfile.mkdtemp(dir=shm if shm.is_dir() else tmp_path))
    try:
        _assert_both_counted(_race(tmp_path, data_dir, None))
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.mark.scaleout
def test_two_parties_signing_at_the_same_instant_both_count_on_postgresql(tmp_path):
    """The same race on PostgreSQL, where SELECT ... FOR UPDATE is a real row lock. Needs
    PostgreSQL on 127.0.0.1 (it runs in CI); unreachable, the test fails, not skips."""
    with scratch_database("odr_sign_race") as url:
        _assert_both_counted(_race(tmp_path, tmp_path / "data", url))


def test_the_unique_constraint_backs_up_the_lock(signing, monkeypatch):
    """Should a second writer ever get past the checks, the database still refuses a
    second signature of the same role and version, with the same clear answer."""
    _sign(signing, "citizen1@demo.odr")
    monkeypatch.setattr(MACHINE, "refusal", lambda *args, **kwargs: None)
    with pytest.raises(DomainError) as refused:
        _sign(signing, "citizen1@demo.odr")
    assert refused.value.code == "already_signed"
    assert Signature.objects.filter(role="applicant").count() == 1
    assert AuditEvent.objects.filter(action="agreement.sign").count() == 1
