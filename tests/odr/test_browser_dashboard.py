"""The county's figures on a phone (issue 10, point 5): the centre's coordinator opens the
dashboard of the demo's twelve months at 390×844 and at 320 px; it fits the width (the
tables scroll inside their cards) and breaks no Content-Security-Policy rule (no script,
the charts are server-drawn SVG).

With ODR_SCREENSHOTS_DIR set (docs/screenshots/take.py does that) the page is saved as
dashboard.png for the README."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.core.management import call_command

from tests import factories

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_coordinator_reads_the_county_figures_on_a_phone(live_server, phone_context):
    call_command("seed_demo", "--history", stdout=open(os.devnull, "w"))  # noqa: SIM115
    blocked: list[str] = []
    phone_context.on(
        "console",
        lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None,
    )
    base = live_server.url
    page = phone_context.new_page()
    page.goto(f"{base}/accounts/login/?next=/dashboard/")
    page.fill('input[name="login"]', "coordinator@demo.odr")
    page.fill('input[name="password"]', factories.PASSWORD)
    page.click('main button[type="submit"]')
    page.wait_for_url(f"{base}/dashboard/")
    assert int(page.inner_text("#kpi-received")) >= 300
    assert page.locator("#by-month svg rect.resolved").count() >= 12
    assert page.locator("#ranking-township tbody tr").count() >= 2
    for width in (390, 320):
        page.set_viewport_size({"width": width, "height": 844})
        assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.set_viewport_size({"width": 390, "height": 844})
    folder = os.environ.get("ODR_SCREENSHOTS_DIR")
    if folder:
        page.screenshot(path=str(Path(folder) / "dashboard.png"), full_page=True)
    assert blocked == []


def test_staff_answer_a_12345_ticket_and_the_caller_rates_it_on_a_phone(
    live_server, phone_context, demo
):
    import json
    import urllib.request

    from odr import sms
    from odr.models import HotlineTicket

    base = live_server.url
    body = {
        "ticket_id": "AJ-PHONE-1",
        "received_at": "2026-12-01T08:00:00+08:00",
        "caller": {"name": "王五", "phone": "13812345678"},
        "text": "邻居家装修噪音扰民",
        "region": "330523101201",
        "category": "neighbour",
    }
    request = urllib.request.Request(
        f"{base}/api/v1/hotline/tickets",
        data=json.dumps(body).encode(),
        headers={
            "Content-Type": "application/json",
            "Authorization": "Bearer odr-demo-hotline-2026",
        },
        method="POST",
    )
    with urllib.request.urlopen(request) as answer:
        dispute_id = json.loads(answer.read())["dispute"]
    page = phone_context.new_page()
    path = f"/disputes/{dispute_id}/"
    page.goto(f"{base}/accounts/login/?next={path}")
    page.fill('input[name="login"]', "coordinator.yucun@demo.odr")
    page.fill('input[name="password"]', factories.PASSWORD)
    page.click('main button[type="submit"]')
    page.wait_for_url(f"{base}{path}")
    page.click("#hotline-respond")
    page.wait_for_selector("#hotline-resolve")
    assert page.inner_text("#hotline-status") == "已响应"
    assert page.inner_text("#hotline-phone") == "13812345678"  # staff call the caller back
    folder = os.environ.get("ODR_SCREENSHOTS_DIR")
    if folder:
        page.locator("#hotline").screenshot(path=str(Path(folder) / "hotline-panel.png"))
    page.click("#hotline-resolve")
    page.wait_for_selector("#hotline-status")
    assert page.inner_text("#hotline-status") == "已解决"
    ticket = HotlineTicket.objects.get()
    assert f"/survey/{ticket.survey_token}/" in sms.sent_texts()[-1]["text"]
    caller = phone_context.new_page()
    caller.goto(f"{base}/survey/{ticket.survey_token}/")
    assert caller.evaluate("document.documentElement.scrollWidth") <= 390
    caller.check('input[name="score"][value="5"]')
    caller.fill("#survey-comment", "处理很及时")
    caller.click("#survey button.primary")
    caller.wait_for_selector("#survey-thanks")
    ticket.refresh_from_db()
    assert (ticket.satisfaction, ticket.survey_comment) == (5, "处理很及时")
