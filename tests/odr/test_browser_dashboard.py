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
