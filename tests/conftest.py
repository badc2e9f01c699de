"""Fixtures every test package shares: demo data and a headless Chromium.

Browser tests never skip: when Chromium cannot start, the fixture fails, so CI fails
(a browser test that did not run is not a pass)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import factories

# Playwright's sync API runs an event loop in the test's thread; Django's ORM must still
# be usable from the test body there.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
]
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def demo(db) -> None:
    """The demo regions, organisations and accounts of CONTRACT §1."""
    factories.seed_demo()


@pytest.fixture(scope="session")
def chromium() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    executable = os.environ.get("ODR_CHROMIUM") or shutil.which("chromium")
    if not executable:
        pytest.fail(
            "Chromium is not installed (Debian package `chromium`): browser tests "
            "must run, so this is a failure, not a skip."
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def phone_context(chromium) -> Iterator[object]:
    """A phone-sized page context (390×844, touch, zh-CN)."""
    context = chromium.new_context(
        viewport=PHONE, is_mobile=True, has_touch=True, locale="zh-CN", device_scale_factor=2
    )
    yield context
    context.close()


@pytest.fixture(scope="session", autouse=True)
def _pki_dir(tmp_path_factory) -> Iterator[None]:
    """A fresh platform CA per test session, outside the repository and the user's own
    ODR_PKI_DIR (agreements.documents.pki generates it on first use)."""
    from django.test import override_settings

    with override_settings(ODR_PKI_DIR=tmp_path_factory.mktemp("pki")):
        yield


@pytest.fixture(autouse=True)
def sms_dir(tmp_path_factory, settings) -> Path:
    """Every test's texts go to its own folder (odr.sms file backend), never to var/sms;
    `odr.sms.sent_texts()` reads them."""
    folder = tmp_path_factory.mktemp("sms")
    settings.ODR_SMS_DIR = str(folder)
    settings.ODR_SMS_GATEWAY_URL = ""
    return folder


def pytest_collection_modifyitems(items: list) -> None:
    """Browser tests run last: Playwright's sync API leaves an event loop running in the
    main thread for the rest of the session, and pytest-asyncio cannot start an async
    test's loop after that ("Runner.run() cannot be called from a running event loop")."""
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)
