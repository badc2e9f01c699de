"""Issue 12 in headless Chromium at phone sizes (390×844 and 320×640): a villager signs up
with a mobile number and the code from the text; a respondent invited by text accepts
from the texted link; links in texts and e-mails point where the platform is served (a
live server on a free port, not 127.0.0.1:8000); a filing with every field wrong shows the
summary, moves the focus and keeps what was typed."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from django.core import mail

from odr import sms
from odr.models import Dispute, Party, Profile
from tests import factories

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SIZES = {"390x844": {"width": 390, "height": 844}, "320x640": {"width": 320, "height": 640}}
PASSWORD = "a-long-enough-passw0rd"


@pytest.fixture(params=list(SIZES))
def sized_context(chromium, request):
    context = chromium.new_context(
        viewport=SIZES[request.param], is_mobile=True, has_touch=True, locale="zh-CN"
    )
    yield context
    context.close()


def _shoot(page, name: str) -> None:
    """README screenshots at 390x844 when ODR_SCREENSHOTS_DIR is set (docs/screenshots/take.py)."""
    folder = os.environ.get("ODR_SCREENSHOTS_DIR")
    if folder and page.viewport_size["width"] == 390:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / name), full_page=True)


def fits_the_screen(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def texted_code() -> str:
    for text in reversed(sms.sent_texts()):
        match = re.search(r"验证码是 (\d{6})", text["text"])
        if match:
            return match.group(1)
    raise AssertionError(f"no code texted: {sms.sent_texts()}")


def test_a_villager_signs_up_with_a_mobile_number_and_the_texted_code(live_server, sized_context):
    base = live_server.url
    page = sized_context.new_page()
    page.goto(f"{base}/accounts/signup/")
    assert fits_the_screen(page)
    page.fill('input[name="phone"]', "139 1234 5678")
    page.fill('input[name="password1"]', PASSWORD)
    page.fill('input[name="password2"]', PASSWORD)
    page.click('main button[type="submit"]')
    page.wait_for_url(f"{base}/accounts/phone/verify/")
    assert fits_the_screen(page)
    page.fill('input[name="code"]', texted_code())
    _shoot(page, "signup-code.png")
    page.click('main button[type="submit"]')
    page.wait_for_url(f"{base}/")
    profile = Profile.objects.get(phone="13912345678")
    assert profile.phone_verified and profile.user.email == ""
    assert "退出登录" in page.inner_text("header")


def test_a_wrong_mobile_number_is_said_plainly_and_the_focus_goes_to_the_summary(
    live_server, sized_context
):
    page = sized_context.new_page()
    page.goto(f"{live_server.url}/accounts/signup/")
    page.fill('input[name="phone"]', "1234")
    page.fill('input[name="password1"]', PASSWORD)
    page.fill('input[name="password2"]', PASSWORD)
    page.click('main button[type="submit"]')
    page.wait_for_selector(".error-summary")
    assert page.evaluate("document.activeElement.classList.contains('error-summary')")
    assert "手机号应为11位数字" in page.inner_text(".error-summary")
    _shoot(page, "signup-errors.png")
    phone = page.locator('input[name="phone"]')
    assert phone.get_attribute("aria-invalid") == "true"
    assert "id_phone_error" in phone.get_attribute("aria-describedby")
    # What was typed is still there, the passwords too.
    assert phone.input_value() == "1234"
    assert page.locator('input[name="password1"]').input_value() == PASSWORD
    assert sms.sent_texts() == []
    assert fits_the_screen(page)


def test_links_in_texts_and_emails_follow_the_address_and_the_texted_respondent_accepts(
    live_server, demo, settings, phone_context
):
    # No ODR_SITE_URL: links come from the address the platform is served on, here a
    # live server on a free port, never the default 127.0.0.1:8000.
    settings.ODR_SITE_URL_FROM_REQUEST = True
    base = live_server.url
    assert not base.endswith(":8000")
    factories.with_identity(factories.demo_user("citizen1@demo.odr"))
    page = phone_context.new_page()
    login = page.request.post(
        f"{base}/_allauth/app/v1/auth/login",
        data=json.dumps({"email": "citizen1@demo.odr", "password": factories.PASSWORD}),
        headers={"Content-Type": "application/json"},
    )
    token = login.json()["meta"]["session_token"]
    filed = page.request.post(
        f"{base}/api/v1/disputes",
        data=json.dumps(
            {
                "category": "debt",
                "title": "借款一万元未还",
                "description": "2025年3月借给李四一万元，约定半年归还，至今未还。",
                "region": "330523000000",
                "respondents": [
                    {"kind": "person", "name": "李四", "phone": "13711112222"},
                    {"kind": "person", "name": "王五", "email": "wangwu@example.com"},
                ],
            },
            ensure_ascii=False,
        ),
        headers={"Content-Type": "application/json", "X-Session-Token": token},
    )
    assert filed.status == 201, filed.text()
    dispute = Dispute.objects.get()

    texted = re.search(r"https?://\S+/invitations/[\w-]+/", sms.sent_texts()[0]["text"]).group(0)
    emailed = next(m for m in mail.outbox if m.to == ["wangwu@example.com"])
    emailed_link = re.search(r"https?://\S+/invitations/[\w-]+/", emailed.body).group(0)
    for link in (texted, emailed_link):
        assert link.startswith(f"{base}/invitations/"), link
        assert page.request.get(link).status == 200

    # The texted respondent opens the link as sent, signs up with the number (the form
    # carries it), proves it with the code and agrees.
    page.goto(texted)
    page.click('main a[href*="invitation="]')
    assert page.locator('input[name="phone"]').input_value() == "13711112222"
    page.fill('input[name="password1"]', PASSWORD)
    page.fill('input[name="password2"]', PASSWORD)
    page.click('main button[type="submit"]')
    page.wait_for_url(f"{base}/accounts/phone/verify/")
    page.fill('input[name="code"]', texted_code())
    page.click('main button[type="submit"]')
    page.wait_for_url(texted)
    assert page.locator("#someone-else").count() == 0  # the proven number is the invited one
    page.fill('input[name="real_name"]', "李四")
    page.fill('input[name="id_number"]', factories.id_number_for(91))
    page.check('input[name="consent"]')
    page.click('#accept button[value="accept"]')
    page.wait_for_url(re.compile(rf"{re.escape(base)}/disputes/{dispute.pk}/$"))
    party = Party.objects.get(dispute=dispute, name="李四")
    assert party.accepted and party.user.profile.phone == "13711112222"
    assert fits_the_screen(page)


def test_a_filing_with_every_field_wrong_shows_the_summary_moves_focus_and_keeps_values(
    live_server, demo, sized_context
):
    base = live_server.url
    factories.with_identity(factories.demo_user("citizen1@demo.odr"))
    page = sized_context.new_page()
    page.goto(f"{base}/accounts/login/?next=/disputes/new/")
    page.fill('input[name="login"]', "citizen1@demo.odr")
    page.fill('input[name="password"]', factories.PASSWORD)
    page.click('main button[type="submit"]')
    page.wait_for_url(f"{base}/disputes/new/")
    # Everything wrong: no category, no place, no title, a negative amount, a bad e-mail.
    page.fill('input[name="claim_amount"]', "-5")
    page.fill('input[name="respondent_name"]', "李四")
    page.fill('input[name="respondent_email"]', "not-an-address")
    page.fill('textarea[name="description"]', "借钱不还。")
    page.evaluate("document.getElementById('filing').noValidate = true")
    page.click('#filing button[name="file"]')
    summary = page.wait_for_selector(".error-summary")
    assert page.evaluate("document.activeElement.classList.contains('error-summary')")
    text = summary.inner_text()
    assert "请选择纠纷类型" in text
    assert "请填写完整的电子邮箱" in text
    assert "这个字段是必填项" not in page.inner_text("main")
    _shoot(page, "filing-errors.png")
    # Each entry links to its field.
    links = page.locator(".error-summary a")
    assert links.count() >= 4
    first_target = links.first.get_attribute("href")
    links.first.click()
    assert page.evaluate("'#' + document.activeElement.id") == first_target
    # What was typed stays.
    assert page.locator('input[name="respondent_name"]').input_value() == "李四"
    assert page.locator('input[name="claim_amount"]').input_value() == "-5"
    invalid = page.locator('[aria-invalid="true"]')
    assert invalid.count() >= 4
    assert fits_the_screen(page)
    assert not Dispute.objects.exists()
