"""Both parties apply for judicial confirmation on a phone (390x844), each by signing the
joint application with a key their browser makes at that moment (issue 9, point 5): every
request the browsers send is recorded and none carries a private key; a wrong password
keeps the drawn signature and says so at the field; the court sees the application only
once both signed; pyHanko finds in it each party's certificate holding the public key that
party's browser generated, at that party's own moment, intact and trusted against the
platform CA."""

from __future__ import annotations

import json
import os
from io import BytesIO
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from agreements.documents import pki
from agreements.models import ConfirmationConsent, ConfirmationRequest
from tests import factories
from tests.agreements.browser import assert_clean, watch
from tests.agreements.test_browser_signing import _draw_by_touch, _log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PARTIES = ("citizen1@demo.odr", "citizen2@demo.odr")
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def _spki_of_pem(pem: str) -> bytes:
    return serialization.load_pem_public_key(pem.encode()).public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def test_both_parties_sign_the_joint_application_on_a_phone_with_keys_that_never_leave_it(
    live_server, transactional_db, demo, media, chromium
):
    agreement = factories.agreement_in_force()
    base = live_server.url
    case_path = f"/disputes/{agreement.dispute_id}/"
    sign_path = f"/agreements/{agreement.pk}/confirmation/sign/"
    bodies: list[tuple[str, str]] = []
    public_keys: dict[str, str] = {}
    shots = os.environ.get("ODR_SCREENSHOTS_DIR")
    for n, email in enumerate(PARTIES):
        context = chromium.new_context(
            viewport=PHONE, is_mobile=True, has_touch=True, locale="zh-CN", device_scale_factor=2
        )
        page = context.new_page()
        problems = watch(page)
        page.on("request", lambda request: bodies.append((request.url, request.post_data or "")))
        _log_in(page, base, email, case_path)
        # The case page's button: the first party starts the application (the court of
        # the organisation's place), the second goes straight to sign it.
        page.click("#confirmation-apply")
        page.wait_for_url(f"{base}{sign_path}")
        assert "安吉县人民法院" in page.inner_text("#application")
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
        assert page.is_enabled("#sign-submit")  # the browser can make a key
        page.locator("#signature-pad").scroll_into_view_if_needed()
        _draw_by_touch(page, "#signature-pad")
        page.check('input[name="consent"]')
        if n == 0:
            # A wrong password: said at the field, in Chinese, the drawing kept.
            page.fill('input[name="password"]', "not-the-password")
            page.click("#sign-submit")
            page.wait_for_function(
                "() => document.getElementById('password-error').textContent.length > 0"
            )
            assert "密码" in page.inner_text("#password-error")
            assert page.url == f"{base}{sign_path}"
            assert not ConfirmationConsent.objects.exists()
            drawn = page.evaluate(
                "() => { const c = document.getElementById('signature-pad');"
                " const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
                " return d.some((v, i) => i % 4 === 3 && v > 0); }"
            )
            assert drawn, "the drawn signature was lost"
        page.fill('input[name="password"]', factories.PASSWORD)
        if shots:
            Path(shots).mkdir(parents=True, exist_ok=True)
            page.screenshot(
                path=str(Path(shots) / f"application-signing-{n + 1}.png"), full_page=True
            )
        page.click("#sign-submit")
        page.wait_for_url(f"{base}{case_path}?signed=application#confirmation", timeout=30000)
        assert ConfirmationConsent.objects.filter(user__email=email).count() == 1
        request = ConfirmationRequest.objects.get()
        if n == 0:
            # One party signed: the court has nothing yet.
            assert request.status == ConfirmationRequest.Status.AWAITING_CONSENT
            assert not request.application_pdf
        step1 = [
            json.loads(body)
            for url, body in bodies
            if url.endswith(f"/api/v1/agreements/{agreement.pk}/confirmation/sign") and body
        ]
        public_keys[email] = step1[-1]["public_key"]
        assert_clean(problems)
        context.close()

    # Nothing the browsers sent carries a private key.
    assert bodies
    for url, body in bodies:
        assert "PRIVATE KEY" not in body, url
        if body.startswith("{"):
            data = json.loads(body)
            assert "d" not in data and "private_key" not in data, url
            assert all(not (isinstance(v, dict) and "d" in v) for v in data.values()), url
    completes = [b for u, b in bodies if u.endswith("/confirmation/sign/complete")]
    assert len(completes) == 2 and all(
        set(json.loads(b)) == {"signing_id", "signature"} for b in completes
    )

    request = ConfirmationRequest.objects.get()
    assert request.status == ConfirmationRequest.Status.PENDING
    reader = PdfFileReader(BytesIO(request.application_pdf.open("rb").read()))
    context = ValidationContext(trust_roots=pki.trust_roots(), allow_fetching=False)
    signatures = list(reader.embedded_signatures)[:2]
    consents = list(ConfirmationConsent.objects.order_by("consented_at", "pk"))
    for sig, email, consent in zip(signatures, PARTIES, consents, strict=True):
        status = pki.off_loop(validate_pdf_signature, sig, context)
        assert status.intact and status.valid and status.trusted, sig.field_name
        assert sig.signer_cert.public_key.dump() == _spki_of_pem(public_keys[email])
        assert consent.user.email == email
        # The party's own moment, as their application records it.
        assert abs((sig.self_reported_timestamp - consent.consented_at).total_seconds()) < 1
    times = [sig.self_reported_timestamp for sig in signatures]
    assert times == sorted(times)
