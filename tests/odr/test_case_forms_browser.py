"""Issue 12, in headless Chromium at phone size (390×844): a case page form sent back with
its errors comes back open, with the error summary at its top holding the focus, the
field marked and described, and what was typed still there."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client

from tests import factories
from tests.test_form_errors_in_the_browser import _assert_summarised, _send_unchecked

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}


def _page(chromium, base: str, email: str):
    context = chromium.new_context(viewport=PHONE, is_mobile=True, locale="zh-CN")
    client = Client()
    client.force_login(factories.demo_user(email))
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": base}])
    return context, context.new_page()


def test_refusing_a_case_without_a_reason_comes_back_with_focus_on_the_summary(
    live_server, demo, chromium
):
    dispute = factories.dispute_awaiting_intake()
    context, page = _page(chromium, live_server.url, "coordinator@demo.odr")
    page.goto(f"{live_server.url}/disputes/{dispute.pk}/")
    page.click("#action-reject > summary")
    page.fill("#action-reject-reason", "   ")
    _send_unchecked(page, "#action-reject form")
    found = _assert_summarised(page, "#action-reject form", {"reason"})
    assert any("请填写不予受理的理由" in link for link in found["links"]), found
    # The section is open and the summary is on the screen, not below the fold.
    assert page.evaluate("document.querySelector('#action-reject').open")
    top = page.evaluate(
        "document.querySelector('#action-reject form > .error-summary').getBoundingClientRect().top"
    )
    assert -1 < top < PHONE["height"], top
    # Its link takes the focus to the field.
    page.click("#action-reject form > .error-summary a")
    assert page.evaluate("document.activeElement.id") == "action-reject-reason"
    # No wider than the phone.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    context.close()


def test_withdrawing_without_the_box_keeps_the_reason_typed(live_server, demo, chromium):
    dispute = factories.file_dispute()
    context, page = _page(chromium, live_server.url, "citizen1@demo.odr")
    page.goto(f"{live_server.url}/disputes/{dispute.pk}/")
    page.click("#action-withdraw > summary")
    page.fill("#action-withdraw-reason", "已经私下和解")
    _send_unchecked(page, "#action-withdraw form")
    _assert_summarised(page, "#action-withdraw form", {"confirm"})
    assert page.input_value("#action-withdraw-reason") == "已经私下和解"
    context.close()


def test_the_case_page_sent_back_fits_320px_and_axe_finds_nothing_serious(
    live_server, demo, chromium
):
    from axe_playwright_python.sync_playwright import Axe

    from tests.test_pages_accessible import SMALL, _problems

    dispute = factories.dispute_in_mediation()
    context = chromium.new_context(viewport=SMALL, is_mobile=True, locale="zh-CN")
    client = Client()
    client.force_login(factories.demo_user("mediator@demo.odr"))
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}]
    )
    page = context.new_page()
    page.goto(f"{live_server.url}/disputes/{dispute.pk}/")
    page.click("#action-fail > summary")
    _send_unchecked(page, "#action-fail form")
    _assert_summarised(page, "#action-fail form", {"reason"})
    assert _problems(page, Axe()) == []
    context.close()
