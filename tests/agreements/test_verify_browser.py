"""Someone holding the sealed PDF checks it on a phone: opens the QR address, then uploads
the file on the public verification page (headless Chromium, no login), under the strict
Content-Security-Policy: a violation fails the test.

With ODR_SCREENSHOTS_DIR set, the result page is saved as a PNG file too."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.core.files.base import ContentFile

from agreements.documents.finalize import seal_agreement
from agreements.models import Agreement
from tests import factories
from tests.agreements.browser import assert_clean, watch

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_anyone_verifies_a_sealed_agreement_from_the_qr_page_and_by_upload(
    settings, tmp_path, live_server, phone_context
):
    settings.MEDIA_ROOT = tmp_path / "media"
    factories.seed_demo()
    agreement = factories.agreement_for(
        factories.dispute_in_mediation(), signers=("applicant", "respondent", "mediator")
    )
    pdf, digest = seal_agreement(agreement)
    agreement.pdf.save(f"{agreement.document_id}.pdf", ContentFile(pdf), save=False)
    agreement.pdf_sha256 = digest
    agreement.status = Agreement.Status.SIGNED
    agreement.save()
    path = tmp_path / "agreement.pdf"
    path.write_bytes(pdf)
    tampered = bytearray(pdf)
    tampered[len(pdf) // 3] ^= 0x01
    (tmp_path / "tampered.pdf").write_bytes(bytes(tampered))

    page = phone_context.new_page()
    problems = watch(page)
    page.goto(f"{live_server.url}/verify/{agreement.document_id}/")
    # The verdict's look comes from the app's stylesheet, not an inline <style>.
    assert (
        page.locator("section.verdict").first.evaluate(
            "(el) => getComputedStyle(el).borderLeftStyle"
        )
        == "solid"
    )
    verdict = page.locator("section.verdict").first
    assert "有效" in verdict.inner_text()
    assert agreement.dispute.case_number in page.content()
    assert "张*" in page.content() and "张三" not in page.content()

    page.set_input_files("#verify-file", str(path))
    page.click("form[enctype] button")
    page.wait_for_selector("section.verdict.valid")
    assert "所有签名均有效" in page.locator("section.verdict").inner_text()
    if os.environ.get("ODR_SCREENSHOTS_DIR"):
        shots = Path(os.environ["ODR_SCREENSHOTS_DIR"])
        shots.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shots / "verify.png"), full_page=True)

    page.set_input_files("#verify-file", str(tmp_path / "tampered.pdf"))
    page.click("form[enctype] button")
    page.wait_for_selector("section.verdict.invalid")
    assert "无效" in page.locator("section.verdict").inner_text()

    # A file built to exhaust the PDF reader is refused with a message, not an error page.
    hostile = tmp_path / "hostile.pdf"
    hostile.write_bytes(b"%PDF-1.7\n1 0 obj\n" + b"[" * 100_000 + b"]" * 100_000 + b"\nendobj\n")
    page.set_input_files("#verify-file", str(hostile))
    page.click("form[enctype] button")
    page.wait_for_selector(".msg.error")
    assert "PDF" in page.locator(".msg.error").inner_text()
    assert_clean(problems)
