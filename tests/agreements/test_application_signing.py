"""The joint application (司法确认申请书) signed by every party with a key of their own
device (issue 9, point 5; DESIGN.md §3: "the application signed by both"): rendered once
when the first party applies, each party's signature an incremental update at that
party's moment, in signing order; the platform's seal and the validation data follow the
last; only then does the court receive it. The keys are made here, in the test; the
server never holds one."""

from __future__ import annotations

import base64
from datetime import timedelta
from io import BytesIO

import pytest
import time_machine
from cryptography.hazmat.primitives import serialization
from django.core.cache import cache
from django.test import Client
from django.utils import timezone, translation
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from agreements import services as agreement_services
from agreements.documents import pki
from agreements.models import ConfirmationConsent, ConfirmationRequest, PendingSigning
from odr.models import AuditEvent
from tests import factories
from tests.signing import api_sign_application, new_key, public_pem, sign_bytes

pytestmark = pytest.mark.django_db

PARTIES = ("citizen1@demo.odr", "citizen2@demo.odr")
CR = ConfirmationRequest.Status


@pytest.fixture(autouse=True)
def _english(client, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    cache.clear()
    with translation.override("en"):
        yield
    cache.clear()


@pytest.fixture
def in_force(demo):
    # In force a few hours ago, so that every certificate made meanwhile is valid now.
    return factories.agreement_in_force(effective_at=timezone.now() - timedelta(hours=5))


def _step1(client, agreement, key=None, **body):
    payload = {
        "password": factories.PASSWORD,
        "consent": True,
        "signature_png": factories.signature_png_b64(),
        **({"public_key": public_pem(key)} if key is not None else {}),
        **body,
    }
    return client.post(
        f"/api/v1/agreements/{agreement.pk}/confirmation/sign",
        payload,
        content_type="application/json",
    )


def _step2(client, agreement, signing_id: str, signature: bytes):
    return client.post(
        f"/api/v1/agreements/{agreement.pk}/confirmation/sign/complete",
        {"signing_id": signing_id, "signature": base64.b64encode(signature).decode()},
        content_type="application/json",
    )


def _validated(pdf: bytes):
    reader = PdfFileReader(BytesIO(pdf))
    context = ValidationContext(trust_roots=pki.trust_roots(), allow_fetching=False)
    return [
        (sig, pki.off_loop(validate_pdf_signature, sig, context))
        for sig in reader.embedded_signatures
    ]


def _spki(key) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def test_each_party_signs_the_application_with_their_own_key_and_the_court_receives_it_after_both(
    in_force, client
):
    keys = {email: new_key() for email in PARTIES}
    start = timezone.now().replace(microsecond=0) - timedelta(hours=3)
    moments = {}
    # The contract's `{}` starts the application; nobody has signed it yet.
    client.force_login(factories.demo_user(PARTIES[0]))
    started = client.post(
        f"/api/v1/agreements/{in_force.pk}/confirmation", {}, content_type="application/json"
    ).json()
    assert started["status"] == "awaiting_consent"
    assert [p["signed"] for p in started["parties"]] == [False, False]
    request = ConfirmationRequest.objects.get()
    rendered = bytes(request.signing_pdf)
    assert rendered.startswith(b"%PDF") and request.signing_sha256
    assert set(request.signature_boxes) == {
        f"party:{p.pk}" for p in in_force.dispute.parties.all()
    } | {"record"}
    clerk = Client(HTTP_ACCEPT_LANGUAGE="en")
    clerk.force_login(factories.demo_user(factories.CLERK))
    for n, email in enumerate(PARTIES):
        moments[email] = start + timedelta(hours=n)
        with time_machine.travel(moments[email].timestamp(), tick=False):
            client.force_login(factories.demo_user(email))
            first = _step1(client, in_force, keys[email])
            assert first.status_code == 200, first.content
            body = first.json()
            assert set(body) == {"signing_id", "to_sign", "expires_at"}
            # Nothing counts as signed before step 2.
            assert not ConfirmationConsent.objects.filter(user__email=email).exists()
            to_sign = base64.b64decode(body["to_sign"])
            second = _step2(client, in_force, body["signing_id"], sign_bytes(keys[email], to_sign))
            assert second.status_code == 200, second.content
            answer = second.json()
        if n == 0:
            # One of two: the request waits, says who signed, and the court sees nothing.
            assert answer["status"] == "awaiting_consent"
            assert [p["signed"] for p in answer["parties"]] == [True, False]
            assert clerk.get("/api/v1/court/requests").json()["count"] == 0
            assert clerk.get(f"/api/v1/court/requests/{request.pk}").status_code == 404
    assert answer["status"] == "pending"
    assert [p["signed"] for p in answer["parties"]] == [True, True]
    request.refresh_from_db()
    assert request.status == CR.PENDING and request.submitted_at is not None
    # The court receives the signed application, and its hash.
    assert clerk.get("/api/v1/court/requests").json()["count"] == 1
    served = clerk.get(f"/api/v1/court/requests/{request.pk}/application.pdf")
    pdf = b"".join(served.streaming_content)
    assert pdf == request.application_pdf.open("rb").read()
    assert answer["application_sha256"] == request.application_sha256
    # Rendered once: the document every party read is the first revision, unchanged.
    assert pdf.startswith(rendered)
    results = _validated(pdf)
    assert [sig.field_name for sig, _ in results][:3] == [
        "Signature1_applicant",
        "Signature2_respondent",
        "PlatformSeal",
    ]
    for (sig, status), email in zip(results[:2], PARTIES, strict=True):
        assert status.intact and status.valid and status.trusted, (sig.field_name, status)
        # The certificate holds the key this party made, under their real name.
        assert sig.signer_cert.public_key.dump() == _spki(keys[email])
        user = factories.demo_user(email)
        assert sig.signer_cert.subject.native["common_name"] == user.profile.real_name
        # Each signature at its own party's moment, naming what they read.
        assert sig.self_reported_timestamp == moments[email]
        assert f"SHA-256 {request.signing_sha256}" in str(sig.sig_object["/Reason"])
        assert sig.signer_cert.subject.native[pki.DESCRIPTION_OID.dotted_string] == str(
            sig.sig_object["/Reason"]
        )
    assert results[2][1].bottom_line
    ends = [
        int(sig.sig_object["/ByteRange"][2]) + int(sig.sig_object["/ByteRange"][3])
        for sig, _ in results
    ]
    assert ends == sorted(ends) and len(set(ends)) == len(ends)
    # Each party's application keeps the certificate of their signature.
    for consent, (sig, _status) in zip(
        ConfirmationConsent.objects.order_by("consented_at"), results[:2], strict=True
    ):
        assert consent.certificate_serial == format(sig.signer_cert.serial_number, "x")
        assert "PRIVATE KEY" not in consent.certificate_pem
    assert not PendingSigning.objects.exists()
    events = AuditEvent.objects.filter(object_type="agreements.confirmationrequest")
    assert list(events.order_by("seq").values_list("action", flat=True)) == [
        "confirmation.apply",
        "confirmation.consent",
        "confirmation.consent",
        "confirmation.submit",
    ]
    consent_event = events.filter(action="confirmation.consent").order_by("seq").first()
    assert consent_event.after["certificate_serial"] == format(
        results[0][0].signer_cert.serial_number, "x"
    )


def test_the_application_validates_offline_as_b_lt(in_force):
    from tests.signing import sign_application

    for email in PARTIES:
        request = sign_application(agreement=in_force, actor=factories.demo_user(email))
    pdf = request.application_pdf.open("rb").read()
    reader = PdfFileReader(BytesIO(pdf))
    # The validation data (CA chain and CRL) travel in the file: the DSS.
    assert "/DSS" in reader.root


def test_a_sign_without_a_public_key_answers_422_signer_key_required(in_force, client):
    client.force_login(factories.demo_user(PARTIES[0]))
    response = _step1(client, in_force)
    assert response.status_code == 422 and response.json()["code"] == "signer_key_required"
    assert not ConfirmationRequest.objects.exists()


def test_a_key_that_is_not_ec_p256_is_refused(in_force, client):
    client.force_login(factories.demo_user(PARTIES[0]))
    response = _step1(client, in_force, public_key="-----BEGIN PUBLIC KEY-----\nxx\n")
    assert response.status_code == 422 and response.json()["code"] == "invalid_public_key"


def test_a_signature_over_other_bytes_is_refused_and_nothing_changes(in_force, client):
    client.force_login(factories.demo_user(PARTIES[0]))
    key = new_key()
    body = _step1(client, in_force, key).json()
    before = bytes(ConfirmationRequest.objects.get().signing_pdf)
    wrong = _step2(client, in_force, body["signing_id"], sign_bytes(key, b"other bytes"))
    assert wrong.status_code == 422 and wrong.json()["code"] == "signature_invalid"
    # Another key over the right bytes is refused as well.
    stranger = _step2(
        client,
        in_force,
        body["signing_id"],
        sign_bytes(new_key(), base64.b64decode(body["to_sign"])),
    )
    assert stranger.status_code == 422 and stranger.json()["code"] == "signature_invalid"
    request = ConfirmationRequest.objects.get()
    assert bytes(request.signing_pdf) == before
    assert not ConfirmationConsent.objects.exists()
    assert request.status == CR.AWAITING_CONSENT


def test_a_pending_signing_expires(in_force, client):
    client.force_login(factories.demo_user(PARTIES[0]))
    key = new_key()
    body = _step1(client, in_force, key).json()
    later = timezone.now() + timedelta(
        minutes=agreement_services.PENDING_SIGNING_MINUTES, seconds=5
    )
    with time_machine.travel(later.timestamp(), tick=False):
        response = _step2(
            client, in_force, body["signing_id"], sign_bytes(key, base64.b64decode(body["to_sign"]))
        )
    assert response.status_code == 409 and response.json()["code"] == "signing_expired"
    assert not ConfirmationConsent.objects.exists()


def test_a_signature_that_went_in_between_the_steps_asks_the_other_party_to_sign_again(
    in_force, client
):
    other = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(factories.demo_user(PARTIES[0]))
    other.force_login(factories.demo_user(PARTIES[1]))
    first_key, second_key = new_key(), new_key()
    first = _step1(client, in_force, first_key).json()
    second = _step1(other, in_force, second_key).json()
    done = _step2(
        other,
        in_force,
        second["signing_id"],
        sign_bytes(second_key, base64.b64decode(second["to_sign"])),
    )
    assert done.status_code == 200 and done.json()["status"] == "awaiting_consent"
    late = _step2(
        client,
        in_force,
        first["signing_id"],
        sign_bytes(first_key, base64.b64decode(first["to_sign"])),
    )
    assert late.status_code == 409 and late.json()["code"] == "signing_restart"
    assert ConfirmationConsent.objects.count() == 1
    # Starting again over the application as it stands now sends it to the court.
    again = api_sign_application(client, in_force.pk)
    assert again.status_code == 200 and again.json()["status"] == "pending"


def test_an_agreement_signing_id_does_not_complete_the_application_and_the_reverse(
    in_force, client
):
    client.force_login(factories.demo_user(PARTIES[0]))
    key = new_key()
    body = _step1(client, in_force, key).json()
    # The agreement's own step 2 does not know the application's signing.
    crossed = client.post(
        f"/api/v1/agreements/{in_force.pk}/sign/complete",
        {
            "signing_id": body["signing_id"],
            "signature": base64.b64encode(
                sign_bytes(key, base64.b64decode(body["to_sign"]))
            ).decode(),
        },
        content_type="application/json",
    )
    assert crossed.status_code == 409 and crossed.json()["code"] == "signing_expired"
    assert not ConfirmationConsent.objects.exists()


def test_the_mediator_does_not_sign_the_application(in_force, client):
    client.force_login(factories.demo_user("mediator@demo.odr"))
    response = _step1(client, in_force, new_key())
    assert response.status_code == 403 and response.json()["code"] == "not_a_party"


def test_the_server_keeps_no_signer_key(in_force):
    from tests.signing import sign_application

    def key_files() -> set:
        return set(pki.pki_dir().rglob("*.key.pem"))

    before = key_files()
    for email in PARTIES:
        sign_application(agreement=in_force, actor=factories.demo_user(email))
    # Only a seal key may have been made (the platform's, on its first use).
    assert all("orgs" in p.parts or "platform" in p.name for p in key_files() - before)
    for consent in ConfirmationConsent.objects.all():
        assert consent.certificate_pem and "PRIVATE KEY" not in consent.certificate_pem


def test_the_signed_application_is_verified_with_its_signers_masked(in_force, client):
    from tests.signing import sign_application

    for email in PARTIES:
        request = sign_application(agreement=in_force, actor=factories.demo_user(email))
    pdf = request.application_pdf.open("rb").read()
    anonymous = Client(HTTP_ACCEPT_LANGUAGE="en")
    by_hash = anonymous.get(f"/api/v1/verify/{request.application_sha256}").json()
    uploaded = anonymous.post("/api/v1/verify", {"file": BytesIO(pdf)}).json()
    for answer in (by_hash, uploaded):
        assert answer["valid"] is True, answer
        assert answer["kind"] == "application"
        assert answer["case_number"] == in_force.dispute.case_number
        names = [s["name"] for s in answer["signers"]]
        assert len(names) == 2 and all("*" in name for name in names)
        assert "张三" not in str(answer) and "李四" not in str(answer)
    # The verification page lists it under the agreement's document id.
    page = anonymous.get(f"/verify/{in_force.document_id}/").content.decode()
    assert "Joint application for judicial confirmation" in page
