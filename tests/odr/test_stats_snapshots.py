"""Figures counted by the worker, read by the request (issue 14, point 2): the public
statistics and every dashboard are counted by `odr.stats.refresh_figures` (a job of the
reminders loop) into `FigureSnapshot`; `/api/v1/stats`, `/stats/`, `/dashboard/` and its
export read one row. The snapshot equals a slow count in Python over every row, a request
costs the same queries at 10 and at 5,000 cases and reads no case, and the pages say when
the figures were counted. Run on PostgreSQL too (test_stats_aggregates'
`test_lists_and_statistics_on_postgresql`)."""

from __future__ import annotations

import datetime as dt
import io
from statistics import median

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.db import DatabaseError, connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation

from odr import figures, stats
from odr.categories import Category
from odr.models import Dispute, FigureSnapshot, Membership, Organisation, Region
from tests import factories
from tests.odr.test_stats_aggregates import caseload, slow_reference

pytestmark = pytest.mark.django_db
S = Dispute.Status
# Snapshots are read (the tests' default, 0, makes every request count).
READ_SNAPSHOTS = override_settings(ODR_FIGURES_MAX_AGE=3600)


def coordinator() -> Client:
    client = Client()
    client.force_login(factories.demo_user("coordinator@demo.odr"))
    return client


def slow_dashboard(area: Region | bool) -> dict:
    """The dashboard's case figures counted in Python over every row of the area, the
    way a clerk would with the list in hand (unsuppressed: staff only)."""
    rows = list(
        Dispute.objects.values_list(
            "status", "created_at", "closed_at", "category", "region__code", "region__path"
        )
    )
    if isinstance(area, Region):
        rows = [r for r in rows if r[5].startswith(area.path)]
    regions = {r.code: r for r in Region.objects.select_related("parent")}

    def area_of(code):
        region = regions.get(code)
        while region is not None and region.level not in ("township", "county"):
            region = region.parent
        return region

    def summary(subset):
        settled = [r for r in subset if r[0] == S.SETTLED]
        failed = sum(1 for r in subset if r[0] == S.FAILED)
        days = [(r[2] - r[1]).total_seconds() / 86400 for r in settled if r[2] is not None]
        ended = len(settled) + failed
        return {
            "received": len(subset),
            "resolved": len(settled),
            "success_rate": round(len(settled) / ended, 4) if ended else None,
            "median_days": round(median(days), 1) if days else None,
        }

    months: dict[str, list] = {}
    for r in rows:
        months.setdefault(timezone.localtime(r[1]).strftime("%Y-%m"), []).append(r)
    townships: dict[str, list] = {}
    for r in rows:
        if (township := area_of(r[4])) is not None:
            townships.setdefault(township.code, []).append(r)
    return {
        **summary(rows),
        "by_month": [
            {"code": m, "name": m, **summary(subset)} for m, subset in sorted(months.items())
        ],
        "by_category": [
            {"code": c.value, "name": str(c.label), **summary(subset)}
            for c in Category
            if (subset := [r for r in rows if r[3] == c.value])
        ],
        "by_township": [
            {"code": code, "name": regions[code].name, **summary(subset)}
            for code, subset in sorted(townships.items())
        ],
    }


CASE_FIGURES = ("received", "resolved", "success_rate", "median_days")
CASE_LISTS = ("by_month", "by_category", "by_township")


@pytest.mark.parametrize(("n", "seed"), [(0, 0), (7, 1), (90, 2), (400, 3)])
def test_the_worker_counts_the_figures_a_slow_count_of_every_row_gives(demo, n, seed):
    caseload(n, seed)
    stats.refresh_figures(now=timezone.now())
    expected = slow_reference()
    with READ_SNAPSHOTS, CaptureQueriesContext(connection) as read:
        published = stats.public_stats()
    assert published == expected
    assert len(read) == 1 and '"odr_dispute"' not in read[0]["sql"]
    with translation.override("en"), READ_SNAPSHOTS:
        assert stats.public_stats() == slow_reference()  # the names in the reader's language
    # Every dashboard the worker counted: the county's (the coordinator's) and everything
    # (the superuser's), each equal to its slow count.
    scopes = figures.dashboard_scopes()
    county = Region.objects.get(code="330523000000")
    assert figures.dashboard_scope(county) in scopes and "all" in scopes
    for area in (county, True):
        with READ_SNAPSHOTS:
            snapshot = figures.dashboard_figures(area).data
        reference = slow_dashboard(area)
        assert {k: snapshot[k] for k in CASE_FIGURES} == {k: reference[k] for k in CASE_FIGURES}
        for key in CASE_LISTS:
            assert snapshot[key] == reference[key], key
        # The rest (levels, visits, hotline, rankings): what the live count gives.
        kept = FigureSnapshot.objects.get(kind="dashboard", scope=figures.dashboard_scope(area))
        assert kept.data == figures.count_dashboard(area)
    if n >= 90:
        assert published["by_region"] and published["median_days"] is not None


def test_requests_read_the_snapshot_in_the_same_queries_at_10_and_5000_cases(demo):
    """/api/v1/stats, /stats/, /dashboard/, its export and /api/v1/dashboard: the same
    number of queries at 10 and at 5,000 cases, none on a case row."""
    urls = ["/api/v1/stats", "/stats/", "/dashboard/", "/dashboard/export.xlsx"]
    urls.append("/api/v1/dashboard")
    public, staff = Client(), coordinator()

    def costs() -> tuple[dict[str, int], dict[str, object]]:
        stats.refresh_figures(now=timezone.now())
        counted, bodies = {}, {}
        for url in urls:
            client = staff if "dashboard" in url else public
            client.get(url)  # warm: the session, the language
            with READ_SNAPSHOTS, CaptureQueriesContext(connection) as queries:
                response = client.get(url)
            assert response.status_code == 200, url
            for query in queries.captured_queries:
                assert '"odr_dispute"' not in query["sql"], (url, query["sql"])
                assert '"odr_hotlineticket"' not in query["sql"], (url, query["sql"])
            counted[url] = len(queries)
            bodies[url] = response.json() if "/api/" in url else None
        return counted, bodies

    caseload(10, 11)
    few, _ = costs()
    caseload(4990, 12)
    many, bodies = costs()
    assert few == many
    assert many["/api/v1/stats"] <= 2
    assert bodies["/api/v1/stats"] == stats.compute_public_stats()
    assert bodies["/api/v1/stats"]["received"] == Dispute.objects.count() >= 5000
    assert (
        bodies["/api/v1/dashboard"]["received"]
        == Dispute.objects.filter(
            region__path__startswith=Region.objects.get(code="330523000000").path
        ).count()
    )


def test_a_request_reads_the_last_count_and_says_when_it_was_made(demo):
    caseload(30, 21)
    counted_at = timezone.now()
    stats.refresh_figures(now=counted_at)
    county = Region.objects.get(code="330523000000")
    in_county = Dispute.objects.filter(region__path__startswith=county.path).count()
    caseload(30, 22)  # after the count: not in the figures until the next one
    with READ_SNAPSHOTS:
        assert stats.public_stats()["received"] == 30
        page = Client().get("/stats/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
        english = Client().get("/stats/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
        dashboard = coordinator().get("/dashboard/").content.decode()
    at = timezone.localtime(FigureSnapshot.objects.get(kind="public").computed_at)
    assert counted_at <= at <= timezone.now()
    assert f"数据更新于 {at:%Y-%m-%d %H:%M}" in page
    assert f"Figures as of {at:%Y-%m-%d %H:%M}" in english
    assert f'id="kpi-received">{in_county}<' in dashboard and 'id="figures-age"' in dashboard
    stats.refresh_figures(now=timezone.now())
    with READ_SNAPSHOTS:
        assert stats.public_stats()["received"] == 60
        # The page drawn for the last count is kept (the template's cache), not shown again.
        page = Client().get("/stats/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
        assert 'id="kpi-received">60<' in page
        now_in_county = Dispute.objects.filter(region__path__startswith=county.path).count()
        assert now_in_county > in_county
        html = coordinator().get("/dashboard/").content.decode()
        assert f'id="kpi-received">{now_in_county}<' in html


def test_without_a_snapshot_or_with_a_stale_one_the_request_counts_and_writes_nothing(demo):
    caseload(12, 31)
    with READ_SNAPSHOTS, CaptureQueriesContext(connection) as queries:
        assert stats.public_stats() == slow_reference()  # none yet: counted now
    assert not FigureSnapshot.objects.exists()
    assert not [q for q in queries.captured_queries if q["sql"].startswith(("INSERT", "UPDATE"))]
    stats.refresh_figures(now=timezone.now())
    caseload(12, 32)
    hour_ago = timezone.now() - dt.timedelta(hours=1)
    FigureSnapshot.objects.update(computed_at=hour_ago)
    with override_settings(ODR_FIGURES_MAX_AGE=7200):
        assert stats.public_stats()["received"] == 12  # the worker's count, an hour old
    with override_settings(ODR_FIGURES_MAX_AGE=1800):
        assert stats.public_stats()["received"] == 24  # too old: the worker stopped
        assert figures.dashboard_figures(True).data["received"] == 24


@override_settings(ODR_STATS_CACHE_SECONDS=60)
def test_a_count_made_by_a_request_is_kept_in_the_cache_a_short_time(demo):
    cache.clear()
    caseload(10, 41)
    first = stats.public_figures()
    caseload(10, 42)
    with CaptureQueriesContext(connection) as queries:
        again = stats.public_figures()
    assert again == first and len(queries) == 1  # the snapshot looked for, not there
    # The names follow the reader's language, the count does not.
    with translation.override("en"):
        assert stats.public_stats()["by_category"][0]["name"] == "Private loans and debts"
    with translation.override("zh-hans"):
        assert stats.public_stats()["by_category"][0]["name"] == str(Category.DEBT.label)
    cache.clear()
    assert stats.public_stats()["received"] == 20
    cache.clear()


def test_the_worker_counts_each_readers_area_and_forgets_areas_nobody_reads(demo):
    township = Region.objects.get(code="330523100000")
    org = Organisation.objects.create(
        name="测试镇调委会", kind=Organisation.Kind.TOWNSHIP_COMMITTEE, region=township
    )
    person = factories.make_user("township-coordinator@example.com")
    membership = Membership.objects.create(
        user=person, organisation=org, role=Membership.Role.COORDINATOR
    )
    caseload(40, 51)
    out = io.StringIO()
    call_command("send_reminders", stdout=out)  # the loop's job: the figures counted too
    assert "refresh_figures" not in out.getvalue()  # it sends no reminder
    scopes = set(FigureSnapshot.objects.filter(kind="dashboard").values_list("scope", flat=True))
    assert str(township.pk) in scopes
    client = Client()
    client.force_login(person)
    with READ_SNAPSHOTS:
        body = client.get("/api/v1/dashboard").json()
    assert (
        body["received"] == Dispute.objects.filter(region__path__startswith=township.path).count()
    )
    assert body["received"] < Dispute.objects.count()
    membership.is_active = False
    membership.save()
    stats.refresh_figures(now=timezone.now())
    scopes = set(FigureSnapshot.objects.filter(kind="dashboard").values_list("scope", flat=True))
    assert str(township.pk) not in scopes and FigureSnapshot.objects.filter(kind="public").exists()


def test_an_area_whose_count_fails_keeps_its_old_figures_and_the_others_are_counted(
    demo, monkeypatch, caplog
):
    caseload(20, 61)
    stats.refresh_figures(now=timezone.now())
    before = {f.scope: f.computed_at for f in FigureSnapshot.objects.all()}
    county = Region.objects.get(code="330523000000")
    count = figures.count_dashboard

    def failing(area):
        if area == county:
            raise DatabaseError("canceling statement due to statement timeout")
        return count(area)

    monkeypatch.setattr(figures, "count_dashboard", failing)
    caseload(20, 62)
    assert stats.refresh_figures(now=timezone.now()) == 0  # the reminders loop goes on
    after = {f.scope: f for f in FigureSnapshot.objects.all()}
    failed = figures.dashboard_scope(county)
    assert after[failed].computed_at == before[failed]
    assert all(after[s].computed_at > before[s] for s in before if s != failed)
    assert after[""].data["received"] == 40
    assert "not counted" in caplog.text
