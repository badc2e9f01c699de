"""A party signs the settlement agreement on a phone-sized screen in headless Chromium:
reads the full text, re-authenticates with the password, ticks the consent, DRAWS a
signature on the canvas (mouse moves for a first try, real touch events for the one that
counts), submits, and the signature is recorded with the drawn ink. All of it under the
strict Content-Security-Policy: the pad is a static module, and a violation fails the test.

With ODR_SCREENSHOTS_DIR set, the signing page is saved as a PNG file too."""

from __future__ import annotations

import io
import os
from itertools import pairwise
from pathlib import Path

import pytest
from PIL import Image

from agreements.models import Agreement, Signature
from tests import factories
from tests.agreements.browser import assert_clean, watch

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def _log_in(page, base: str, email: str, next_path: str) -> None:
    page.goto(f"{base}/accounts/login/?next={next_path}")
    page.fill('input[name="login"]', email)
    page.fill('input[name="password"]', factories.PASSWORD)
    page.click('main button[type="submit"]')
    page.wait_for_url(f"{base}{next_path}")


def _draw(page, selector: str) -> None:
    """A two-stroke signature drawn with pointer moves inside the canvas."""
    box = page.locator(selector).bounding_box()
    x0, y0, w, h = box["x"], box["y"], box["width"], box["height"]
    strokes = [
        [(0.1, 0.7), (0.2, 0.3), (0.3, 0.75), (0.42, 0.35), (0.5, 0.7)],
        [(0.55, 0.5), (0.7, 0.3), (0.8, 0.65), (0.92, 0.4)],
    ]
    for stroke in strokes:
        page.mouse.move(x0 + stroke[0][0] * w, y0 + stroke[0][1] * h)
        page.mouse.down()
        for fx, fy in stroke[1:]:
            page.mouse.move(x0 + fx * w, y0 + fy * h, steps=6)
        page.mouse.up()


def _draw_by_touch(page, selector: str) -> None:
    """The same kind of signature drawn with a finger: real touch events through the
    DevTools protocol, as a phone's touch screen sends them."""
    box = page.locator(selector).bounding_box()
    x0, y0, w, h = box["x"], box["y"], box["width"], box["height"]
    cdp = page.context.new_cdp_session(page)
    strokes = [
        [(0.1, 0.6), (0.18, 0.25), (0.26, 0.7), (0.34, 0.3), (0.45, 0.65)],
        [(0.5, 0.4), (0.62, 0.7), (0.75, 0.3), (0.9, 0.6)],
    ]
    for stroke in strokes:
        points = []
        for (ax, ay), (bx, by) in pairwise(stroke):
            points += [(ax + (bx - ax) * t / 6, ay + (by - ay) * t / 6) for t in range(6)]
        points.append(stroke[-1])
        first = points[0]
        cdp.send(
            "Input.dispatchTouchEvent",
            {
                "type": "touchStart",
                "touchPoints": [{"x": x0 + first[0] * w, "y": y0 + first[1] * h}],
            },
        )
        for fx, fy in points[1:]:
            cdp.send(
                "Input.dispatchTouchEvent",
                {"type": "touchMove", "touchPoints": [{"x": x0 + fx * w, "y": y0 + fy * h}]},
            )
        cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    cdp.detach()


def test_a_party_signs_on_a_phone_with_a_drawn_signature(
    live_server, transactional_db, demo, media, phone_context
):
    agreement = factories.agreement_signing()
    base = live_server.url
    page = phone_context.new_page()
    problems = watch(page)
    _log_in(page, base, "citizen2@demo.odr", f"/agreements/{agreement.pk}/sign/")
    csp = page.context.request.get(f"{base}/agreements/{agreement.pk}/sign/").headers
    assert "script-src 'self'" in csp["content-security-policy"]

    # The whole text is on the page before the form.
    text = page.inner_text("#agreement-text")
    assert "被申请人向申请人归还借款人民币10,000.00元。" in text
    assert "2025年3月申请人借给被申请人人民币一万元" in text
    # Phone layout: nothing wider than the screen, the pad spans the form.
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    pad = page.locator("#signature-pad").bounding_box()
    assert pad["width"] > 300 and pad["height"] >= 150

    # Submitting without drawing is stopped in the page, with a message.
    page.fill('input[name="password"]', factories.PASSWORD)
    page.check('input[name="consent"]')
    page.click("#sign-submit")
    assert page.inner_text("#signature-error").strip()
    assert not Signature.objects.exists()

    # A wrong password comes back with a clear message and nothing recorded.
    page.locator("#signature-pad").scroll_into_view_if_needed()
    _draw(page, "#signature-pad")
    page.fill('input[name="password"]', "wrong-password")
    page.click("#sign-submit")
    # The error shows at the password field; the page is not reloaded, so the drawn
    # signature and the tick stay (issue 12).
    page.wait_for_function("() => document.getElementById('password-error').textContent.trim()")
    assert page.locator(".msg.error").count() == 0
    assert page.is_checked('input[name="consent"]')
    ink = page.evaluate(
        """() => { const c = document.getElementById('signature-pad');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 128) n++; return n; }"""
    )
    assert ink > 300
    assert not Signature.objects.exists()

    # Now for real.
    page.fill('input[name="password"]', factories.PASSWORD)
    page.check('input[name="consent"]')
    page.locator("#signature-pad").scroll_into_view_if_needed()
    _draw_by_touch(page, "#signature-pad")
    shots = os.environ.get("ODR_SCREENSHOTS_DIR")
    if shots:
        Path(shots).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(shots) / "signing.png"), full_page=True)
    page.click("#sign-submit")
    page.wait_for_url(f"{base}/agreements/{agreement.pk}/?signed=1")

    signature = Signature.objects.get()
    assert (signature.role, signature.method, signature.signer_name) == (
        "respondent",
        "drawn",
        "李四",
    )
    image = Image.open(io.BytesIO(bytes(signature.signature_png))).convert("RGBA")
    # The drawn strokes reached the server: many ink pixels, the canvas at device scale.
    ink = sum(image.getchannel("A").histogram()[129:])
    assert ink > 300
    assert image.size[0] >= 600  # 2x device pixels on this phone
    assert Agreement.objects.get(pk=agreement.pk).status == Agreement.Status.SIGNING
    assert "✔" in page.inner_text("main") or "李四" in page.inner_text("#agreement-text")
    assert_clean(problems)
