"""Every page people use, at 320×640 in headless Chromium (issue 12): nothing wider than
the screen, and axe-core (bundled by axe-playwright-python) finds nothing serious or
critical. The video room has its own test (tests/sessions)."""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe

from odr.models import Dispute
from tests import factories

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SMALL = {"width": 320, "height": 640}


def _log_in(page, base: str, email: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill('input[name="login"]', email)
    page.fill('input[name="password"]', factories.PASSWORD)
    page.click('main button[type="submit"]')
    page.wait_for_load_state()


def _problems(page, axe: Axe) -> list[str]:
    found = []
    width = page.evaluate("document.documentElement.scrollWidth")
    if width > SMALL["width"]:
        found.append(f"{page.url}: {width}px wide at 320px")
    for violation in axe.run(page).response["violations"]:
        if violation["impact"] in ("serious", "critical"):
            targets = [n["target"] for n in violation["nodes"]][:3]
            found.append(f"{page.url}: {violation['id']} ({violation['impact']}) {targets}")
    return found


def test_every_page_fits_320px_and_axe_finds_nothing_serious(live_server, demo, chromium):
    base = live_server.url
    dispute: Dispute = factories.dispute_in_mediation()
    # A case whose agreement is in force: its page shows the signed PDF's fingerprint,
    # which once made the case page 581 px wide at 320.
    signed = factories.agreement_in_force(title="已签协议")
    axe = Axe()
    problems: list[str] = []
    pages = {
        None: ["/", "/accounts/login/", "/accounts/signup/", "/accounts/login/code/", "/stats/"],
        "citizen1@demo.odr": [
            "/disputes/new/",
            "/disputes/",
            "/profile/",
            f"/disputes/{dispute.pk}/",
            f"/disputes/{signed.dispute_id}/",
            f"/agreements/{signed.pk}/",
        ],
        "coordinator@demo.odr": ["/intake/", f"/disputes/{dispute.pk}/"],
        "mediator@demo.odr": ["/disputes/", f"/disputes/{dispute.pk}/"],
    }
    for who, paths in pages.items():
        context = chromium.new_context(viewport=SMALL, is_mobile=True, locale="zh-CN")
        page = context.new_page()
        if who:
            factories.with_identity(factories.demo_user(who))
            _log_in(page, base, who)
        for path in paths:
            page.goto(base + path)
            problems += _problems(page, axe)
        context.close()
    # A form sent back with its errors (the summary, the marked fields) too.
    context = chromium.new_context(viewport=SMALL, is_mobile=True, locale="zh-CN")
    page = context.new_page()
    page.goto(f"{base}/accounts/signup/")
    page.fill('input[name="phone"]', "12")
    page.fill('input[name="password1"]', "a-long-enough-passw0rd")
    page.fill('input[name="password2"]', "a-long-enough-passw0rd")
    page.click('main button[type="submit"]')
    page.wait_for_selector(".error-summary")
    problems += _problems(page, axe)
    context.close()
    assert problems == [], "\n".join(problems)


def test_staff_land_on_their_queue_after_logging_in(live_server, demo, chromium):
    base = live_server.url
    for email, landing in [
        ("coordinator@demo.odr", "/intake/"),
        ("mediator@demo.odr", "/disputes/"),
        ("citizen1@demo.odr", "/"),
    ]:
        context = chromium.new_context(viewport=SMALL, is_mobile=True, locale="zh-CN")
        page = context.new_page()
        _log_in(page, base, email)
        assert page.url == base + landing, email
        context.close()


def test_header_controls_are_at_least_44px_tall(live_server, demo, chromium):
    context = chromium.new_context(viewport=SMALL, is_mobile=True, locale="zh-CN")
    page = context.new_page()
    _log_in(page, live_server.url, "citizen1@demo.odr")
    page.goto(live_server.url + "/")
    heights = page.evaluate(
        """() => [...document.querySelectorAll('.site-header a, .site-header button')]
             .map((e) => [e.textContent.trim(), e.getBoundingClientRect().height])"""
    )
    context.close()
    assert heights and all(h >= 44 for _, h in heights), heights
