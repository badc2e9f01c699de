"""The whole first slice in headless Chromium at phone size: a citizen files a dispute
with a PDF through the form (the upload progress bar shows), the respondent opens the
e-mailed invitation link, logs in and agrees, and the coordinator finds the case in the
intake queue and accepts it.

Every page runs under the platform's Content-Security-Policy (issue 11, L1): the test fails
on any violation the browser reports.

With ODR_SCREENSHOTS_DIR set (docs/screenshots/take.py does that) the filing page and the
case page are also saved as PNG files for the README."""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.core import mail

from odr.models import Dispute, Evidence
from tests import factories

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n" + b"%" + b"0" * 300_000 + b"\n"


def _shoot(page, name: str) -> None:
    folder = os.environ.get("ODR_SCREENSHOTS_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / name), full_page=True)


def _log_in(page, base: str, email: str, next_path: str) -> None:
    page.goto(f"{base}/accounts/login/?next={next_path}")
    page.fill('input[name="login"]', email)
    page.fill('input[name="password"]', factories.PASSWORD)
    page.click('main button[type="submit"]')
    page.wait_for_url(f"{base}{next_path}")


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


# How Chromium words a blocked script, style, eval or connection in the console.
CSP_MARKERS = ("Content Security Policy", "Refused to")


@pytest.fixture
def csp_violations(phone_context) -> list[str]:
    """What the browser reported as blocked by the Content-Security-Policy on any page of
    the context; the test asserts that it stays empty."""
    found: list[str] = []

    def on_console(message) -> None:
        if any(marker in message.text for marker in CSP_MARKERS):
            found.append(f"{message.type}: {message.text}")

    phone_context.on("console", on_console)
    return found


def test_a_citizen_files_on_a_phone_and_the_respondent_accepts_from_the_email(
    live_server, transactional_db, demo, media, phone_context, csp_violations, tmp_path
):
    base = live_server.url
    pdf = tmp_path / "借条.pdf"
    pdf.write_bytes(PDF)
    page = phone_context.new_page()

    # 1. The applicant logs in and fills the guided form, whose script is a static file
    # allowed by the policy.
    _log_in(page, base, "citizen1@demo.odr", "/disputes/new/")
    policy = page.request.get(f"{base}/disputes/new/").headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    page.select_option('select[name="category"]', "debt")
    assert "借钱不还" in page.inner_text("#category-hint")
    cascade = page.locator("#region-cascade select")
    cascade.nth(0).select_option("330000000000")
    cascade.nth(1).select_option("330500000000")
    cascade.nth(2).select_option("330523000000")
    assert page.locator('select[name="region"]').is_hidden()  # the plain list is the fallback
    page.fill('input[name="title"]', "借款一万元未还")
    page.fill('textarea[name="description"]', "2025年3月借给李四一万元，约定半年归还，至今未还。")
    page.fill('textarea[name="request"]', "归还借款一万元。")
    page.fill('input[name="claim_amount"]', "10000")
    page.fill('input[name="respondent_name"]', "李四")
    page.fill('input[name="respondent_email"]', "citizen2@demo.odr")
    page.set_input_files('input[name="evidence"]', str(pdf))

    # 2. It is sent by XMLHttpRequest; the request is held until the progress bar is seen.
    held = []

    def hold_post(route):
        if route.request.method == "POST":
            held.append(route)
        else:
            route.continue_()

    page.route("**/disputes/new/", hold_post)
    # The highest value the bar shows is kept in sessionStorage, which outlives the
    # navigation to the case page.
    page.evaluate(
        """() => {
          const bar = document.getElementById("upload-bar");
          new MutationObserver(() => sessionStorage.setItem("bar", String(bar.value)))
            .observe(bar, {attributes: true});
        }"""
    )
    page.click('#filing button[name="file"]')
    page.wait_for_selector("#upload-progress", state="visible")
    assert page.locator('#filing button[name="file"]').is_disabled()
    _shoot(page, "filing.png")
    for _ in range(250):  # Playwright delivers the held request while the page is polled
        if held:
            break
        page.wait_for_timeout(20)
    assert len(held) == 1
    held[0].continue_()
    page.wait_for_url(re.compile(r".*/disputes/\d+/$"))
    assert page.evaluate("sessionStorage.getItem('bar')") == "100"  # from progress events

    dispute = Dispute.objects.get()
    assert dispute.status == Dispute.Status.FILED
    assert list(Evidence.objects.values_list("filename", flat=True)) == ["借条.pdf"]
    assert dispute.case_number in page.inner_text("main")

    # 3. The respondent opens the link from the e-mail, logs in and comes back, agrees.
    invitation_mail = next(m for m in mail.outbox if m.to == ["citizen2@demo.odr"])
    link = re.search(r"https?://\S+/invitations/\S+/", invitation_mail.body).group(0)
    path = urlsplit(link).path
    phone_context.clear_cookies()
    page.goto(base + path)
    assert "借款一万元未还" in page.inner_text("main")
    page.click(f'a[href^="/accounts/login/?next={path}"]')
    page.fill('input[name="login"]', "citizen2@demo.odr")
    page.fill('input[name="password"]', factories.PASSWORD)
    page.click('main button[type="submit"]')
    page.wait_for_url(base + path)
    page.check('input[name="consent"]')
    page.click('button[value="accept"]')
    page.wait_for_url(f"{base}/disputes/{dispute.pk}/")
    dispute.refresh_from_db()
    assert dispute.status == Dispute.Status.AWAITING_INTAKE

    # 4. The coordinator sees it in the intake queue and accepts it with a mediator.
    phone_context.clear_cookies()
    _log_in(page, base, "coordinator@demo.odr", "/intake/")
    waiting = page.inner_text("#waiting")
    assert dispute.title in waiting and dispute.case_number in waiting
    page.goto(f"{base}/disputes/{dispute.pk}/")
    page.click("#action-accept summary")
    page.click("#action-accept button")
    page.wait_for_selector(".msg.success")
    dispute.refresh_from_db()
    assert dispute.status == Dispute.Status.IN_MEDIATION
    assert dispute.mediator.email == "mediator@demo.odr"
    assert page.locator("#mediation-deadline").is_visible()
    _shoot(page, "case.png")
    assert not csp_violations, csp_violations
