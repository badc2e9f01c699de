"""End to end in headless Chromium on a phone-sized screen: both parties apply for
judicial confirmation on their case page, the court's clerk dockets it under the court's
number typed in the portal, its judge confirms it, and the parties find the sealed ruling
on their case page. Every page works under the Content-Security-Policy: a violation
reported in the console fails the test."""

from __future__ import annotations

import pytest
from django.utils import timezone

from agreements.court.selectors import confirmation_window
from agreements.models import ConfirmationRequest
from tests import factories
from tests.signing import sign_application

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def _login(page, base: str, email: str) -> None:
    page.context.clear_cookies()
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", factories.PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_load_state()


def _csp_violations(page) -> list[str]:
    """Collects what the browser refused under the page's Content-Security-Policy."""
    seen: list[str] = []

    def on_console(message) -> None:
        text = message.text
        if "Content Security Policy" in text or "Refused to" in text:
            seen.append(f"{page.url}: {text}")

    page.on("console", on_console)
    return seen


def test_parties_apply_on_a_phone_the_clerk_dockets_and_the_judge_confirms(
    demo, live_server, phone_context
):
    agreement = factories.agreement_in_force()
    window = confirmation_window(agreement)
    assert window is not None
    base = live_server.url
    case_url = f"{base}/disputes/{agreement.dispute_id}/"
    page = phone_context.new_page()
    violations = _csp_violations(page)

    for email in ("citizen1@demo.odr", "citizen2@demo.odr"):
        _login(page, base, email)
        page.goto(case_url)
        panel = page.locator("#confirmation")
        # 30 days (People's Mediation Law Art. 33), to the next working day when the
        # last one is a rest day or a holiday (e.g. from 2 December, 1 January → 4 January).
        text = panel.locator("#confirmation-window").inner_text()
        assert window.days_left >= 30
        assert timezone.localdate(window.closes_at).isoformat() in text
        assert f"还剩 {window.days_left} 天" in text
        page.click("#confirmation-apply")
        page.wait_for_load_state()
        # Applying leads to the application to sign (signed in the browser with a device
        # key in test_browser_joint_application; here with a key made in the test).
        assert "安吉县人民法院" in page.locator("#application").inner_text()
        sign_application(agreement=agreement, actor=factories.demo_user(email))
    page.goto(case_url)
    assert "安吉县人民法院" in page.locator("#confirmation").inner_text()
    request = ConfirmationRequest.objects.get()
    assert request.status == ConfirmationRequest.Status.PENDING

    _login(page, base, factories.CLERK)
    page.goto(f"{base}/court/")
    page.click(f"li[data-request='{request.pk}'] a.title")
    assert page.locator("#decision-form").count() == 0
    # A padded number, as the platform's own counter used to print it, is refused.
    page.fill("#accept-form input[name=court_case_number]", "（2026）浙0523民特0001号")
    page.click("#accept-button")
    page.wait_for_load_state()
    # Said in place, at the number, in the form's summary (issue 12).
    page.wait_for_selector("#accept-form > .error-summary")
    assert "序号前不加" in page.locator("#accept-court_case_number_error").inner_text()
    request.refresh_from_db()
    assert request.status == ConfirmationRequest.Status.PENDING
    # Half-width brackets from an ordinary keyboard are taken, stored full-width.
    page.fill("#accept-form input[name=court_case_number]", "(2026)浙0523民特1号")
    page.click("#accept-button")
    page.wait_for_load_state()
    assert "（2026）浙0523民特1号" in page.locator(".messages").inner_text()
    assert page.locator("#court-waiting").count() == 1
    assert page.locator("#decision-form").count() == 0

    _login(page, base, factories.JUDGE)
    page.goto(f"{base}/court/")
    page.click(f"li[data-request='{request.pk}'] a.title")
    assert page.locator("#accept-button").count() == 0
    page.check("#decision-form input[value=confirmed]")
    page.click("#decision-form button")
    # The preview first: nothing issued yet, the PDF one click away, then the issue.
    page.wait_for_selector("#ruling-preview")
    request.refresh_from_db()
    assert request.status == ConfirmationRequest.Status.ACCEPTED
    assert page.locator("#preview-pdf").count() == 1
    page.click("#issue-ruling")
    page.wait_for_load_state()
    request.refresh_from_db()
    assert request.status == ConfirmationRequest.Status.CONFIRMED
    assert request.decided_by.email == factories.JUDGE
    assert request.accepted_by.email == factories.CLERK

    _login(page, base, "citizen1@demo.odr")
    page.goto(case_url)
    link = page.locator("#confirmation a[href$='ruling.pdf']")
    assert link.count() == 1
    response = page.request.get(base + link.get_attribute("href"))
    assert response.ok and response.headers["content-type"] == "application/pdf"
    assert response.body()[:5] == b"%PDF-"
    assert violations == []


def test_the_judge_does_not_accept_a_pending_application_on_a_phone(
    demo, live_server, phone_context
):
    request = factories.confirmation_pending()
    base = live_server.url
    page = phone_context.new_page()
    violations = _csp_violations(page)
    _login(page, base, factories.JUDGE)
    page.goto(f"{base}/court/requests/{request.pk}/")
    assert page.locator("#decision-form").count() == 0
    page.click("#not-accept summary")
    page.fill(
        "#not-accept-form textarea[name=reason]", "本案涉及确认房屋所有权，不属于司法确认的范围。"
    )
    page.click("#not-accept-form button")
    page.wait_for_selector("#ruling-preview")
    assert "不属于司法确认的范围" in page.inner_text("#preview-reason")
    page.click("#issue-ruling")
    page.wait_for_load_state()
    request.refresh_from_db()
    assert request.status == ConfirmationRequest.Status.NOT_ACCEPTED
    assert request.ruling_sha256 in page.content()
    assert violations == []
