"""End to end in headless Chromium on a phone-sized screen: both parties apply for
judicial confirmation on their case page, the court clerk accepts and confirms in the
portal, and the parties find the sealed ruling on their case page."""

from __future__ import annotations

import pytest

from agreements.models import ConfirmationRequest
from tests import factories

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


def test_parties_apply_on_a_phone_and_the_clerk_confirms_in_the_portal(
    demo, live_server, phone_context
):
    agreement = factories.agreement_in_force()
    base = live_server.url
    case_url = f"{base}/disputes/{agreement.dispute_id}/"
    page = phone_context.new_page()

    for email in ("citizen1@demo.odr", "citizen2@demo.odr"):
        _login(page, base, email)
        page.goto(case_url)
        panel = page.locator("#confirmation")
        assert "30" in panel.locator("#confirmation-window").inner_text()
        page.check("#confirmation-consent")
        page.click("#confirmation-apply")
        page.wait_for_load_state()
    assert "安吉县人民法院" in page.locator(".messages").inner_text()
    request = ConfirmationRequest.objects.get()
    assert request.status == ConfirmationRequest.Status.PENDING

    _login(page, base, "clerk@demo.odr")
    page.goto(f"{base}/court/")
    page.click(f"li[data-request='{request.pk}'] a.title")
    page.click("#accept-button")
    page.wait_for_load_state()
    assert "(2026)浙0523民特0001号" in page.locator(".messages").inner_text()
    page.check("#decision-form input[value=confirmed]")
    page.click("#decision-form button")
    page.wait_for_load_state()
    request.refresh_from_db()
    assert request.status == ConfirmationRequest.Status.CONFIRMED

    _login(page, base, "citizen1@demo.odr")
    page.goto(case_url)
    link = page.locator("#confirmation a[href$='ruling.pdf']")
    assert link.count() == 1
    response = page.request.get(base + link.get_attribute("href"))
    assert response.ok and response.headers["content-type"] == "application/pdf"
    assert response.body()[:5] == b"%PDF-"
