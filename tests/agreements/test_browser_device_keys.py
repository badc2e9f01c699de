"""Each party and the mediator sign in the browser on a phone (390x844), each with a key
their browser makes at the signing moment (issue 9, point 1): every request the browser
sends is recorded, and none carries a private key (no PEM private key, no JWK "d"); the
sealed PDF holds, for each signer, a certificate with the public key that signer's
browser generated, at that signer's own moment, intact and trusted against the platform
CA."""

from __future__ import annotations

import json
import os
from datetime import timedelta
from io import BytesIO
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from agreements.documents import pki
from agreements.models import Agreement, Signature
from tests import factories
from tests.agreements.browser import assert_clean, watch
from tests.agreements.test_browser_signing import _draw_by_touch, _log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SIGNERS = ("citizen1@demo.odr", "citizen2@demo.odr", "mediator@demo.odr")
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def _spki_of_pem(pem: str) -> bytes:
    return serialization.load_pem_public_key(pem.encode()).public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def test_each_signer_signs_in_the_browser_with_a_key_that_never_leaves_it(
    live_server, transactional_db, demo, media, chromium
):
    agreement = factories.agreement_signing()
    base = live_server.url
    bodies: list[tuple[str, str]] = []
    public_keys: dict[str, str] = {}
    shots = os.environ.get("ODR_SCREENSHOTS_DIR")
    for n, email in enumerate(SIGNERS):
        context = chromium.new_context(
            viewport=PHONE, is_mobile=True, has_touch=True, locale="zh-CN", device_scale_factor=2
        )
        page = context.new_page()
        problems = watch(page)
        page.on("request", lambda request: bodies.append((request.url, request.post_data or "")))
        _log_in(page, base, email, f"/agreements/{agreement.pk}/sign/")
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
        assert page.is_enabled("#sign-submit")  # the browser can make a key
        page.fill('input[name="password"]', factories.PASSWORD)
        page.locator("#signature-pad").scroll_into_view_if_needed()
        _draw_by_touch(page, "#signature-pad")
        if n == 0:
            # Without the tick the page asks for it at the box, and keeps the drawing.
            page.click("#sign-submit")
            assert "请勾选" in page.inner_text("#consent-error")
            assert not Signature.objects.exists()
        page.check('input[name="consent"]')
        if shots and n == 0:
            Path(shots).mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(Path(shots) / "signing-device-key.png"), full_page=True)
        page.click("#sign-submit")
        page.wait_for_url(f"{base}/agreements/{agreement.pk}/?signed=1", timeout=30000)
        assert Signature.objects.filter(signer__email=email).count() == 1
        step1 = [
            json.loads(body)
            for url, body in bodies
            if url.endswith(f"/api/v1/agreements/{agreement.pk}/sign") and body
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
    completes = [b for u, b in bodies if u.endswith("/sign/complete")]
    assert len(completes) == 3 and all(
        set(json.loads(b)) == {"signing_id", "signature"} for b in completes
    )

    agreement = Agreement.objects.get(pk=agreement.pk)
    assert agreement.status == Agreement.Status.SIGNED
    reader = PdfFileReader(BytesIO(agreement.pdf.read()))
    context = ValidationContext(trust_roots=pki.trust_roots(), allow_fetching=False)
    signatures = list(reader.embedded_signatures)[:3]
    rows = list(agreement.signatures.order_by("signed_at", "pk"))
    for sig, email, row in zip(signatures, SIGNERS, rows, strict=True):
        status = pki.off_loop(validate_pdf_signature, sig, context)
        assert status.intact and status.valid and status.trusted, sig.field_name
        assert sig.signer_cert.public_key.dump() == _spki_of_pem(public_keys[email])
        # The signer's own moment: when that signer signed, not when the mediator did.
        assert abs(sig.self_reported_timestamp - row.signed_at) < timedelta(seconds=1)
    times = [sig.self_reported_timestamp for sig in signatures]
    assert times == sorted(times)
