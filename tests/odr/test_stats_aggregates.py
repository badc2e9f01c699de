"""Public statistics are counted in the database (issue 14): they equal a slow count in
Python over every row (the way they were computed before), take the same few queries at
any caseload and keep the small-number rule (SMALLEST_SHOWN). The worker's snapshots of
these figures, which the requests read: test_stats_snapshots."""

from __future__ import annotations

import datetime as dt
from statistics import median

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation

from odr import stats
from odr.categories import Category
from odr.models import Dispute, HotlineTicket, Region
from tests import factories
from tests.odr.bulk_data import bulk_disputes

pytestmark = pytest.mark.django_db
S = Dispute.Status

# Every level: the province and the city (no area: only in the totals), the county, both
# townships and their villages (counted in their township).
REGIONS = [
    "330000000000",
    "330500000000",
    "330523000000",
    "330523100000",
    "330523100201",
    "330523100202",
    "330523101000",
    "330523101201",
    "330523101202",
]


def slow_reference() -> dict:
    """The figures as the platform computed them before issue 14: every row in Python."""
    rows = list(
        Dispute.objects.values_list("status", "created_at", "closed_at", "category", "region__code")
    )
    regions = {r.code: r for r in Region.objects.select_related("parent")}

    def area_of(code):
        region = regions.get(code)
        while region is not None and region.level not in ("township", "county"):
            region = regions.get(region.parent.code) if region.parent_id else None
        return region

    def count(n):
        return n if n == 0 or n >= 5 else None

    def summary(subset):
        settled = [r for r in subset if r[0] == S.SETTLED]
        failed = sum(1 for r in subset if r[0] == S.FAILED)
        days = [(c - f).total_seconds() / 86400 for _s, f, c in settled if c is not None]
        ended = len(settled) + failed
        return {
            "received": count(len(subset)),
            "resolved": count(len(settled)),
            "success_rate": round(len(settled) / ended, 4) if ended >= 5 else None,
            "median_days": round(median(days), 1) if len(days) >= 5 else None,
        }

    by_category = []
    for category in Category:
        subset = [r[:3] for r in rows if r[3] == category.value]
        if len(subset) >= 5:
            by_category.append(
                {"code": category.value, "name": str(category.label), **summary(subset)}
            )
    grouped: dict[str, list] = {}
    for row in rows:
        area = area_of(row[4])
        if area is not None:
            grouped.setdefault(area.code, []).append(row[:3])
    by_region = [
        {"code": code, "name": regions[code].name, **summary(subset)}
        for code, subset in sorted(grouped.items())
        if len(subset) >= 5
    ]
    # Issue 10: settled cases by the level of the organisation that settled them, and the
    # 12345 tickets' three rates, each withheld under five.
    level_of = {"village_committee": "village", "township_committee": "township"}
    levels = {"village": 0, "township": 0, "county": 0}
    for kind in Dispute.objects.filter(status=S.SETTLED).values_list(
        "organisation__kind", flat=True
    ):
        if kind is not None:
            levels[level_of.get(kind, "county")] += 1
    now = timezone.now()
    tickets = list(
        HotlineTicket.objects.values_list("respond_by", "responded_at", "status", "satisfaction")
    )
    due = [t for t in tickets if t[1] is not None or t[0] < now]
    closed = [t for t in tickets if t[2] in ("resolved", "unresolved")]
    rated = [t for t in tickets if t[3] is not None]

    def rate(part, whole):
        return round(len(part) / len(whole), 4) if len(whole) >= 5 else None

    return {
        **summary([r[:3] for r in rows]),
        "by_category": by_category,
        "by_region": by_region,
        "by_level": {level: count(n) for level, n in levels.items()},
        "hotline": {
            "response_rate": rate([t for t in due if t[1] is not None and t[1] <= t[0]], due),
            "resolution_rate": rate([t for t in closed if t[2] == "resolved"], closed),
            "satisfaction_rate": rate([t for t in rated if t[3] >= 4], rated),
        },
    }


def caseload(n: int, seed: int, *, created_at: dt.datetime | None = None) -> None:
    bulk_disputes(
        n,
        applicant=factories.demo_user("citizen1@demo.odr"),
        statuses=list(S.values),
        # Categories weighted unevenly: some reach five cases, some stay under.
        categories=["debt"] * 6 + ["family"] * 3 + ["land", "labour", "medical"],
        region_codes=REGIONS,
        seed=seed,
        created_at=created_at,
    )


@pytest.mark.parametrize(("n", "seed"), [(0, 0), (3, 1), (12, 2), (60, 3), (400, 4)])
def test_the_figures_equal_a_slow_count_of_every_row(demo, n, seed):
    caseload(n, seed)
    figures = stats.compute_public_stats()
    assert figures == slow_reference()
    if n >= 60:
        # The data reach every part of the answer: several categories and areas shown,
        # medians and rates computed, and something held back for being under five.
        assert len(figures["by_category"]) >= 3 and len(figures["by_region"]) >= 3
        assert figures["median_days"] is not None and figures["success_rate"] is not None
        shown = {b["code"] for b in figures["by_category"]}
        assert shown < {c.value for c in Category}


def test_the_median_of_an_even_and_an_odd_count_of_settlements(demo):
    """Exact cases: the middle one of five, the mean of the middle two of six."""
    applicant = factories.demo_user("citizen1@demo.odr")
    start = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    disputes = bulk_disputes(6, applicant=applicant, statuses=[S.SETTLED])
    for dispute, days in zip(disputes, [1, 2, 4, 8, 16, 40], strict=True):
        dispute.created_at, dispute.closed_at = start, start + dt.timedelta(days=days)
    Dispute.objects.bulk_update(disputes, ["created_at", "closed_at"])
    assert stats.compute_public_stats()["median_days"] == 6.0  # (4 + 8) / 2
    Dispute.objects.filter(pk=disputes[-1].pk).update(closed_at=None)  # not timed
    assert stats.compute_public_stats()["median_days"] == 4.0
    assert stats.compute_public_stats() == slow_reference()


def test_the_figures_take_the_same_queries_at_anycaseload(demo):
    caseload(20, 5)
    with CaptureQueriesContext(connection) as few:
        stats.compute_public_stats()
    caseload(3000, 6)
    with CaptureQueriesContext(connection) as many:
        figures = stats.compute_public_stats()
    # Two more since issue 10: the levels that settled the cases, the hotline's three rates.
    assert len(few) == len(many) <= 10
    assert figures["received"] == 3020
    # No query reads the rows one by one: every query on disputes groups or aggregates.
    for query in many.captured_queries:
        sql = query["sql"]
        if '"odr_dispute"' in sql:
            assert "COUNT(" in sql or "percentile_cont" in sql or "ROW_NUMBER" in sql, sql


def test_the_api_and_the_page_show_the_database_figures(demo, client):
    caseload(80, 7)
    expected = stats.compute_public_stats()
    with translation.override("en"):
        expected_en = stats.compute_public_stats()
    body = client.get("/api/v1/stats", HTTP_ACCEPT_LANGUAGE="en").json()
    assert body == expected_en
    page = client.get("/stats/").content.decode()
    assert f'<strong id="kpi-received">{expected["received"]}</strong>' in page


def test_without_a_cache_setting_tests_count_every_time(demo):
    caseload(5, 10)
    assert stats.public_stats()["received"] == 5
    caseload(5, 11)
    assert stats.public_stats()["received"] == 10


@pytest.mark.scaleout
def test_lists_and_statistics_on_postgresql():
    """The same tests against PostgreSQL (percentile_cont for the medians, its planner for
    the pages), in a process of their own on a scratch database."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from tests.postgres import scratch_database

    root = Path(__file__).resolve().parents[2]
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "DATABASE_URL", "ODR_", "REDIS_URL"))
    }
    here = Path(__file__)
    with scratch_database("odr_lists") as url:
        env["DATABASE_URL"] = url
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                "-m",
                "not scaleout",
                # The query counts at 5,000 rows do not depend on the database (and take long).
                "-k",
                "not 5000 and not any_caseload",
                "--create-db",
                str(here),
                str(here.with_name("test_stats_snapshots.py")),
                str(here.with_name("test_api_pagination.py")),
            ],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
    assert result.returncode == 0, result.stdout[-4000:]
    assert " passed" in result.stdout and "failed" not in result.stdout
