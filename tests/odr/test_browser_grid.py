"""The grid worker's phone form works offline (issue 10, point 2): headless Chromium at a
phone's size loads the page once, loses the network, fills in a report and saves it; the
page opens again from the service worker without network; when the network is back the
outbox sends the report, and it arrives exactly once (the rows are counted).

With ODR_SCREENSHOTS_DIR set the form is saved as a PNG for the README."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from odr.models import Dispute, GridReport
from tests import factories

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def _shoot(page, name: str) -> None:
    folder = os.environ.get("ODR_SCREENSHOTS_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / name), full_page=True)


def test_a_grid_report_made_offline_arrives_exactly_once_when_the_network_returns(
    live_server, transactional_db, demo, media, phone_context
):
    base = live_server.url.replace("127.0.0.1", "localhost")  # a secure context for the worker
    page = phone_context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{base}/accounts/login/?next=/grid/report/")
    page.fill('input[name="login"]', "gridworker@demo.odr")
    page.fill('input[name="password"]', factories.PASSWORD)
    page.click('main button[type="submit"]')
    page.wait_for_url(f"{base}/grid/report/")
    # The service worker installs and takes the page over (it claims its clients).
    # (Polled from here: wait_for_function evaluates a string, which the page's CSP forbids.)
    for _attempt in range(100):
        if page.evaluate("() => navigator.serviceWorker.controller !== null"):
            break
        page.wait_for_timeout(100)
    else:
        pytest.fail("the service worker never took the page over")

    phone_context.set_offline(True)
    page.reload()  # served by the service worker: there is no network
    page.wait_for_selector("#grid-report")
    page.fill("#party-name-1", "张三")
    page.fill("#party-phone-1", "13800000001")
    page.fill("#party-name-2", "王五")
    page.fill("#party-phone-2", "13800000055")
    page.select_option("#id_category", "neighbour")
    page.fill("#id_place", "余村18号门前")
    page.fill("#id_facts", "两家因排水沟堵塞争吵，现场劝解未果。")
    page.check('input[name="outcome"][value="not_settled"]')
    _shoot(page, "grid-report-phone.png")
    page.click("#grid-submit")
    page.wait_for_selector('#outbox-status[data-pending="1"]')
    assert GridReport.objects.count() == 0

    phone_context.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    page.wait_for_selector('#outbox-status[data-pending="0"]', state="attached", timeout=15000)
    assert GridReport.objects.count() == 1
    report = GridReport.objects.get()
    assert report.dispute.channel == Dispute.Channel.GRID
    assert report.dispute.organisation.name == "余村人民调解委员会"

    # Sent again after a reload (nothing is left in the outbox): still one report.
    page.reload()
    page.wait_for_selector('#outbox-status[data-pending="0"]', state="attached")
    assert GridReport.objects.count() == 1 and Dispute.objects.count() == 1
    assert not [e for e in errors if "Content Security Policy" in e]
