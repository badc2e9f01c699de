"""The agreements app keeps the house rules of issue 7: templates compare no raw status
string, settings are read as settings, views let NotFound rise to the middleware, and the
court's services are one import for their callers."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from agreements.court import services

APP = Path(__file__).resolve().parents[2] / "agreements"
# A status (or a decision, a route) compared with a string literal in a template.
RAW_COMPARISON = re.compile(r"""\b(status|decision|route)\s*[!=]=\s*["']""")


def _files(pattern: str) -> list[Path]:
    return sorted(p for p in APP.rglob(pattern) if "locale" not in p.parts)


@pytest.mark.parametrize(
    "path", _files("*.html") + _files("*.txt"), ids=lambda p: str(p.relative_to(APP))
)
def test_templates_compare_no_raw_status_string(path):
    assert not RAW_COMPARISON.search(path.read_text(encoding="utf-8"))


def test_the_app_reads_settings_directly_without_defaults():
    offenders = [
        str(p.relative_to(APP)) for p in _files("*.py") if "getattr(settings" in p.read_text()
    ]
    assert offenders == []


def test_views_let_not_found_rise_to_the_middleware():
    for path in (APP / "views.py", APP / "court" / "views.py"):
        assert "except NotFound" not in path.read_text(), path


def test_the_court_services_package_offers_every_public_service():
    for name in (
        "confirmation_apply",
        "confirmation_sign",
        "confirmation_sign_complete",
        "confirmation_accept",
        "confirmation_extend",
        "confirmation_decide",
        "performance_schedule",
        "performance_mark_done",
        "agreements_needing_schedule",
        "request_context",
    ):
        assert callable(getattr(services, name)), name
