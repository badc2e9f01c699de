"""Signatures under each signer's own key, one incremental update per signer (issue 9,
points 1 to 4; CONTRACT §3): the key is made by the signer (here: in the test, with the
cryptography library), the platform CA certifies its public key under the signer's real
name, the server prepares the PDF signature and hands out the CMS signed attributes, the
signer signs them, the server embeds the signature. The server never holds a signer key."""

from __future__ import annotations

import base64
from datetime import timedelta
from io import BytesIO

import pytest
import time_machine
from cryptography.hazmat.primitives import serialization
from django.core.cache import cache
from django.test import override_settings
from django.utils import timezone, translation
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from agreements import services
from agreements.documents import pki
from agreements.models import Agreement, PendingSigning, Signature
from tests import factories
from tests.agreements.test_pki_signing import tsa_url  # noqa: F401 - the local TSA fixture
from tests.signing import api_sign, new_key, public_pem, sign_bytes

pytestmark = pytest.mark.django_db

SIGNERS = ("citizen1@demo.odr", "citizen2@demo.odr", "mediator@demo.odr")


@pytest.fixture(autouse=True)
def _english(client, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    cache.clear()
    with translation.override("en"):
        yield
    cache.clear()


@pytest.fixture
def signing(demo) -> Agreement:
    return factories.agreement_signing()


def _step1(client, agreement: Agreement, key=None, **body):
    payload = {
        "password": factories.PASSWORD,
        "consent": True,
        "signature_png": factories.signature_png_b64(),
        "version": agreement.version,
        **({"public_key": public_pem(key)} if key is not None else {}),
        **body,
    }
    return client.post(
        f"/api/v1/agreements/{agreement.pk}/sign", payload, content_type="application/json"
    )


def _step2(client, agreement: Agreement, signing_id: str, signature: bytes):
    return client.post(
        f"/api/v1/agreements/{agreement.pk}/sign/complete",
        {"signing_id": signing_id, "signature": base64.b64encode(signature).decode()},
        content_type="application/json",
    )


def _validated(pdf: bytes):
    reader = PdfFileReader(BytesIO(pdf))
    context = ValidationContext(trust_roots=pki.trust_roots(), allow_fetching=False)
    return [(sig, validate_pdf_signature(sig, context)) for sig in reader.embedded_signatures]


def _spki(public_key) -> bytes:
    return public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def test_each_signer_signs_with_their_own_key_at_their_own_moment_and_every_signature_validates(
    signing, client
):
    keys = {email: new_key() for email in SIGNERS}
    # In the past, so that every certificate made meanwhile (the seals' too, on first
    # use) is valid now.
    start = timezone.now().replace(microsecond=0) - timedelta(hours=4)
    moments = {}
    for n, email in enumerate(SIGNERS):
        # Each signer comes later: an hour apart, so the times cannot be confused.
        moments[email] = start + timedelta(hours=n)
        with time_machine.travel(moments[email].timestamp(), tick=False):
            client.force_login(factories.demo_user(email))
            first = _step1(client, signing, keys[email])
            assert first.status_code == 200, first.content
            body = first.json()
            assert set(body) >= {"signing_id", "to_sign"}
            # Nothing counts as signed before step 2.
            assert not Signature.objects.filter(signer__email=email).exists()
            to_sign = base64.b64decode(body["to_sign"])
            second = _step2(client, signing, body["signing_id"], sign_bytes(keys[email], to_sign))
            assert second.status_code == 200, second.content
    agreement = Agreement.objects.get(pk=signing.pk)
    assert agreement.status == Agreement.Status.SIGNED
    pdf = agreement.pdf.read()
    # The document rendered at opening is the first revision of the sealed file, unchanged.
    assert pdf.startswith(bytes(agreement.signing_pdf)[:1000])
    results = _validated(pdf)
    assert [sig.field_name for sig, _ in results] == [
        "Signature1_applicant",
        "Signature2_respondent",
        "Signature3_mediator",
        f"Seal{agreement.dispute.organisation_id}",
        "PlatformSeal",
    ]
    for (sig, status), email in zip(results[:3], SIGNERS, strict=True):
        assert status.intact and status.valid and status.trusted, (sig.field_name, status)
        # The certificate holds the key the signer made, and names them unmasked.
        cert_key = sig.signer_cert.public_key.dump()
        assert cert_key == _spki(keys[email].public_key())
        user = factories.demo_user(email)
        assert sig.signer_cert.subject.native["common_name"] == user.profile.real_name
        # Each signature carries its own signer's moment.
        assert sig.self_reported_timestamp == moments[email]
        # What the signer read is named in the signed dictionary.
        assert f"SHA-256 {agreement.unsigned_pdf_sha256}" in str(sig.sig_object["/Reason"])
    for _sig, status in results[3:]:
        assert status.bottom_line
    # Each signature is an incremental update: the earlier ones cover less of the file.
    ends = [
        int(sig.sig_object["/ByteRange"][2]) + int(sig.sig_object["/ByteRange"][3])
        for sig, _ in results
    ]
    assert ends == sorted(ends) and len(set(ends)) == len(ends)
    # The rows say the same moments.
    assert [s.signed_at for s in agreement.signatures.order_by("pk")] == [
        moments[e] for e in SIGNERS
    ]


def test_the_drawn_signature_is_the_appearance_of_the_signers_field(signing, client):
    client.force_login(factories.demo_user(SIGNERS[0]))
    assert (
        api_sign(
            client,
            signing.pk,
            password=factories.PASSWORD,
            signature_png=factories.signature_png_b64(),
            version=signing.version,
        ).status_code
        == 200
    )
    agreement = Agreement.objects.get(pk=signing.pk)
    reader = PdfFileReader(BytesIO(bytes(agreement.signing_pdf)))
    (sig,) = reader.embedded_signatures
    widget = sig.sig_field
    party = agreement.dispute.parties.get(role="applicant")
    page, x1, y1, x2, y2 = agreement.signature_boxes[f"party:{party.pk}"]
    rect = [float(v) for v in widget["/Rect"]]
    assert rect == pytest.approx([int(x1), int(y1), int(x2), int(y2)])
    assert "/N" in widget["/AP"]
    # The appearance draws an image, the signer's drawing: the update holds one.
    opened = bytes(agreement.signing_pdf)[: len(bytes(agreement.signing_pdf))]
    update = opened[opened.rindex(b"%%EOF", 0, opened.rindex(b"%%EOF")) :]
    assert b"/Image" in update
    assert reader.root["/Pages"]["/Kids"][page].get_object()["/Annots"]


def test_every_signers_signature_is_timestamped_when_a_tsa_is_configured(
    signing,
    client,
    tsa_url,  # noqa: F811
):
    with override_settings(ODR_TSA_URL=tsa_url):
        for email in SIGNERS[:2]:
            client.force_login(factories.demo_user(email))
            response = api_sign(
                client,
                signing.pk,
                password=factories.PASSWORD,
                signature_png=factories.signature_png_b64(),
                version=signing.version,
            )
            assert response.status_code == 200, response.content
    agreement = Agreement.objects.get(pk=signing.pk)
    for _sig, status in _validated(bytes(agreement.signing_pdf)):
        assert status.intact and status.trusted
        assert status.timestamp_validity is not None and status.timestamp_validity.trusted


def test_a_signature_over_other_bytes_is_refused_and_nothing_changes(signing, client):
    client.force_login(factories.demo_user(SIGNERS[0]))
    key = new_key()
    body = _step1(client, signing, key).json()
    before = bytes(Agreement.objects.get(pk=signing.pk).signing_pdf)
    wrong = [
        sign_bytes(key, b"not the signed attributes"),
        # The right bytes, another key.
        sign_bytes(new_key(), base64.b64decode(body["to_sign"])),
        b"\x30\x06\x02\x01\x01\x02\x01\x01",
    ]
    for signature in wrong:
        response = _step2(client, signing, body["signing_id"], signature)
        assert response.status_code == 422
        assert response.json()["code"] == "signature_invalid"
    agreement = Agreement.objects.get(pk=signing.pk)
    assert bytes(agreement.signing_pdf) == before
    assert not Signature.objects.exists()
    # The right signature still completes the same signing.
    right = sign_bytes(key, base64.b64decode(body["to_sign"]))
    assert _step2(client, signing, body["signing_id"], right).status_code == 200
    assert Signature.objects.count() == 1


def test_a_sign_without_a_public_key_answers_422_signer_key_required(signing, client):
    client.force_login(factories.demo_user(SIGNERS[0]))
    response = _step1(client, signing)
    assert response.status_code == 422
    assert response.json()["code"] == "signer_key_required"
    assert not PendingSigning.objects.exists() and not Signature.objects.exists()


def test_a_key_that_is_not_ec_p256_is_refused(signing, client):
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    client.force_login(factories.demo_user(SIGNERS[0]))
    for key in (
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
        ec.generate_private_key(ec.SECP384R1()),
    ):
        response = _step1(client, signing, public_key=public_pem(key))
        assert response.status_code == 422 and response.json()["code"] == "invalid_public_key"
    response = _step1(client, signing, public_key="-----BEGIN PUBLIC KEY-----\nxx\n")
    assert response.status_code == 422 and response.json()["code"] == "invalid_public_key"


def test_a_sign_without_a_version_is_refused_with_409(signing, client):
    client.force_login(factories.demo_user(SIGNERS[0]))
    payload = {
        "password": factories.PASSWORD,
        "consent": True,
        "signature_png": factories.signature_png_b64(),
        "public_key": public_pem(new_key()),
    }
    response = client.post(
        f"/api/v1/agreements/{signing.pk}/sign", payload, content_type="application/json"
    )
    assert response.status_code == 409 and response.json()["code"] == "version_changed"
    assert not PendingSigning.objects.exists()


def _revise_and_reopen(agreement: Agreement) -> Agreement:
    mediator = factories.demo_user("mediator@demo.odr")
    agreement = services.agreement_revise(agreement=agreement, actor=mediator, reason="改金额")
    agreement = services.agreement_save_draft(
        dispute=agreement.dispute, actor=mediator, data={"performance_method": "现金当面交付。"}
    )
    return services.agreement_open(agreement=agreement, actor=mediator)


def test_a_revision_between_the_two_steps_signs_nothing_and_answers_version_changed(
    signing, client
):
    client.force_login(factories.demo_user(SIGNERS[0]))
    key = new_key()
    body = _step1(client, signing, key).json()
    revised = _revise_and_reopen(signing)
    assert revised.version > signing.version
    response = _step2(
        client, signing, body["signing_id"], sign_bytes(key, base64.b64decode(body["to_sign"]))
    )
    assert response.status_code == 409 and response.json()["code"] == "version_changed"
    assert not Signature.objects.exists()
    # The reopened version's document has no signature in it.
    agreement = Agreement.objects.get(pk=signing.pk)
    assert not list(PdfFileReader(BytesIO(bytes(agreement.signing_pdf))).embedded_signatures)
    # The page the browser is sent to says what changed.
    page = client.get(f"/agreements/{signing.pk}/sign/?read={signing.version}")
    assert page.status_code == 409
    html = page.content.decode()
    assert 'id="version-changed"' in html and "nothing was signed" in html
    assert 'id="version-diff"' in html


def test_revise_voids_the_document_rendered_for_signing_and_reopening_renders_it_again(
    signing,
):
    factories.agreement_sign_as(signing, SIGNERS[0])
    mediator = factories.demo_user("mediator@demo.odr")
    revised = services.agreement_revise(agreement=signing, actor=mediator, reason="改")
    assert bytes(revised.signing_pdf) == b"" and revised.signature_boxes == {}
    reopened = services.agreement_open(agreement=revised, actor=mediator)
    assert reopened.signing_pdf and reopened.unsigned_pdf_sha256 != signing.unsigned_pdf_sha256


def test_a_pending_signing_expires(signing, client):
    client.force_login(factories.demo_user(SIGNERS[0]))
    key = new_key()
    body = _step1(client, signing, key).json()
    later = timezone.now() + timedelta(minutes=services.PENDING_SIGNING_MINUTES, seconds=5)
    with time_machine.travel(later.timestamp(), tick=False):
        response = _step2(
            client,
            signing,
            body["signing_id"],
            sign_bytes(key, base64.b64decode(body["to_sign"])),
        )
    assert response.status_code == 409 and response.json()["code"] == "signing_expired"
    assert not Signature.objects.exists()


def test_a_signature_that_went_in_between_the_steps_asks_the_other_signer_to_sign_again(
    signing, client
):
    from django.test import Client

    other = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(factories.demo_user(SIGNERS[0]))
    other.force_login(factories.demo_user(SIGNERS[1]))
    first_key, second_key = new_key(), new_key()
    first = _step1(client, signing, first_key).json()
    second = _step1(other, signing, second_key).json()
    done = _step2(
        other,
        signing,
        second["signing_id"],
        sign_bytes(second_key, base64.b64decode(second["to_sign"])),
    )
    assert done.status_code == 200
    late = _step2(
        client,
        signing,
        first["signing_id"],
        sign_bytes(first_key, base64.b64decode(first["to_sign"])),
    )
    assert late.status_code == 409 and late.json()["code"] == "signing_restart"
    assert Signature.objects.count() == 1
    # Starting again over the document as it stands now works.
    again = api_sign(
        client,
        signing.pk,
        password=factories.PASSWORD,
        signature_png=factories.signature_png_b64(),
        version=signing.version,
    )
    assert again.status_code == 200
    pdf = bytes(Agreement.objects.get(pk=signing.pk).signing_pdf)
    assert [s for s, st in _validated(pdf) if st.intact and st.trusted].__len__() == 2


def test_the_server_keeps_no_signer_key(signing, client, settings):
    def key_files() -> set:
        return {p for p in pki.pki_dir().rglob("*.key.pem")}

    before = key_files()
    for email in SIGNERS:
        factories.agreement_sign_as(Agreement.objects.get(pk=signing.pk), email)
    assert not hasattr(pki, "signer_key") and not hasattr(pki, "issue_signer_certificate")
    # Only the committee's seal key may have been made (on its first seal).
    assert {p.parent.name for p in key_files() - before} <= {"orgs"}
    for sig in Signature.objects.all():
        assert "PRIVATE KEY" not in sig.certificate_pem and sig.certificate_pem


def test_the_verification_masks_the_names_the_certificates_carry_in_full(signing):
    from agreements.documents.verify import verify_pdf

    for email in SIGNERS:
        factories.agreement_sign_as(Agreement.objects.get(pk=signing.pk), email)
    agreement = Agreement.objects.get(pk=signing.pk)
    result = verify_pdf(agreement.pdf.read())
    signers = [c.signer for c in result.signatures[:3]]
    assert signers == ["张*", "李*", "李**"]
    assert all(c.ok for c in result.signatures)
