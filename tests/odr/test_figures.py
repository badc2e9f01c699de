"""The county's figures (issue 10, point 5): the hotline's three rates and ranking, the
levels that settle cases, the dashboard and its `.xlsx`, and the public figures' small
counts suppressed."""

from __future__ import annotations

import uuid
from datetime import timedelta
from io import BytesIO

import pytest
from django.test import Client
from django.utils import timezone
from openpyxl import load_workbook

from odr import figures
from odr.models import (
    Dispute,
    Grid,
    GridReport,
    HotlineTicket,
    Organisation,
    Party,
    Region,
    Visit,
)
from tests import factories

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def make_case(org: Organisation, region: str, *, status: str, n: int, days: int = 4) -> Dispute:
    created = NOW - timedelta(days=40)
    dispute = Dispute.objects.create(
        case_number=f"F-{org.pk}-{n}",
        status=status,
        category="neighbour",
        title="测试",
        description="测试",
        region=Region.objects.get(code=region),
        organisation=org,
        filed_by=factories.demo_user("citizen1@demo.odr"),
        channel="hotline",
        created_at=created,
        closed_at=created + timedelta(days=days) if status in ("settled", "failed") else None,
    )
    Party.objects.create(dispute=dispute, role="applicant", name="来电人", phone="13800000000")
    return dispute


def make_ticket(
    dispute: Dispute,
    n: int,
    *,
    late: bool | None,
    status: str,
    score: int | None = None,
    received=None,
) -> HotlineTicket:
    received = received or NOW - timedelta(days=40)
    respond_by = received + timedelta(hours=24)
    responded = None if late is None else received + timedelta(hours=30 if late else 2)
    return HotlineTicket.objects.create(
        ticket_id=f"K-{n}",
        dispute=dispute,
        status=status,
        caller_name="来电人",
        caller_phone="13800000000",
        text="测试",
        received_at=received,
        respond_by=respond_by,
        responded_at=responded,
        closed_at=received + timedelta(days=3) if status in ("resolved", "unresolved") else None,
        satisfaction=score,
        surveyed_at=NOW if score else None,
    )


@pytest.fixture
def known(demo):
    """The village committee (余村, 天荒坪镇): 4 tickets, 3 answered on time and 1 late;
    3 closed, 2 of them resolved; 3 rated, 2 of them 4 or 5.
    The county centre (孝丰镇's village): 2 tickets, both on time, both resolved, rated 5
    and 5. Rates: village 0.75 / 0.6667 / 0.6667 → 20·0.75+40·0.6667+40·0.6667 = 68.3;
    centre 1/1/1 → 100."""
    village = Organisation.objects.get(name="余村人民调解委员会")
    centre = Organisation.objects.get(name="安吉县社会矛盾纠纷调处化解中心")
    rows = [
        (village, "330523101201", "settled", False, "resolved", 5),
        (village, "330523101201", "settled", False, "resolved", 4),
        (village, "330523101201", "failed", True, "unresolved", 2),
        (village, "330523101201", "in_mediation", False, "responded", None),
        (centre, "330523100201", "settled", False, "resolved", 5),
        (centre, "330523100201", "settled", False, "resolved", 5),
    ]
    for n, (org, region, case_status, late, status, score) in enumerate(rows):
        make_ticket(
            make_case(org, region, status=case_status, n=n),
            n,
            late=late,
            status=status,
            score=score,
        )
    return village, centre


def test_the_three_rates_count_on_time_over_due_resolved_over_closed_and_4_or_5_over_rated(known):
    rates = figures.hotline_rates(HotlineTicket.objects.all())
    assert (rates["tickets"], rates["due"], rates["on_time"], rates["late"]) == (6, 6, 5, 1)
    assert rates["response_rate"] == round(5 / 6, 4)
    assert rates["resolution_rate"] == round(4 / 5, 4)
    assert rates["satisfaction_rate"] == round(4 / 5, 4)
    # 0.2 · 5/6 + 0.4 · 4/5 + 0.4 · 4/5, out of 100.
    assert rates["score"] == round(100 * (0.2 * round(5 / 6, 4) + 0.4 * 0.8 + 0.4 * 0.8), 1)


def test_a_ticket_not_yet_due_is_not_counted_and_an_overdue_unanswered_one_is_late(demo):
    village = Organisation.objects.get(name="余村人民调解委员会")
    fresh = make_case(village, "330523101201", status="awaiting_intake", n=1)
    make_ticket(fresh, 1, late=None, status="open", received=NOW - timedelta(hours=1))
    old = make_case(village, "330523101201", status="awaiting_intake", n=2)
    make_ticket(old, 2, late=None, status="open", received=NOW - timedelta(hours=25))
    rates = figures.hotline_rates(HotlineTicket.objects.all())
    assert (rates["due"], rates["on_time"], rates["late"]) == (1, 0, 1)
    assert rates["response_rate"] == 0.0


def test_the_ranking_orders_organisations_and_townships_by_weighted_score(known):
    village, centre = known
    by_org = figures.hotline_ranking(HotlineTicket.objects.all(), by="organisation")
    assert [(r["name"], r["rank"]) for r in by_org] == [(centre.name, 1), (village.name, 2)]
    assert by_org[0]["score"] == 100.0
    assert by_org[1]["score"] == round(100 * (0.2 * 0.75 + 0.4 * 0.6667 + 0.4 * 0.6667), 1)
    by_township = figures.hotline_ranking(HotlineTicket.objects.all(), by="township")
    assert [r["name"] for r in by_township] == ["孝丰镇", "天荒坪镇"]
    month = (NOW - timedelta(days=40)).date().replace(day=1)
    monthly = figures.monthly_ranking(HotlineTicket.objects.all(), by="township")
    assert [m["month"] for m in monthly] == [month]
    assert [r["rank"] for r in monthly[0]["rows"]] == [1, 2]
    # Another month has none of these tickets.
    other = (month - timedelta(days=1)).replace(day=1)
    assert figures.hotline_ranking(HotlineTicket.objects.all(), by="township", month=other) == []


def test_settled_cases_are_counted_by_the_level_that_settled_them(known):
    assert figures.resolved_by_level(Dispute.objects.all()) == {
        "village": 2,
        "township": 0,
        "county": 2,
    }


def coordinator_client() -> Client:
    client = Client()
    client.force_login(factories.demo_user("coordinator@demo.odr"))
    return client


def test_the_dashboard_shows_the_centre_its_counties_figures_and_refuses_citizens(known):
    client = coordinator_client()
    page = client.get("/dashboard/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="kpi-received">6<' in html
    assert 'id="kpi-resolved">4<' in html
    assert 'id="level-village">2<' in html
    assert "<svg" in html and "ranking-township" in html
    assert 'id="kpi-visits">0<' in html
    # Walk-in visits count whether or not a case followed; a quarrel the grid worker
    # settled on the spot counts as settled in the village, with no case opened.
    centre = Organisation.objects.get(name="安吉县社会矛盾纠纷调处化解中心")
    reception = factories.demo_user("reception@demo.odr")
    for n in range(3):
        Visit.objects.create(organisation=centre, staff=reception, name=f"访客{n}", purpose="咨询")
    grid = Grid.objects.get(name="余村第一网格")
    GridReport.objects.create(
        client_uuid=uuid.uuid4(),
        grid=grid,
        worker=factories.demo_user("gridworker@demo.odr"),
        category="neighbour",
        place="余村",
        facts="邻里因晾晒争执",
        outcome=GridReport.Outcome.SETTLED,
        settlement="各让一步",
    )
    html = client.get("/dashboard/").content.decode()
    assert 'id="kpi-visits">3<' in html and 'id="kpi-spot">1<' in html
    citizen = Client()
    citizen.force_login(factories.demo_user("citizen1@demo.odr"))
    assert citizen.get("/dashboard/").status_code == 403
    assert citizen.get("/dashboard/export.xlsx").status_code == 403
    assert citizen.get("/api/v1/dashboard").status_code == 404
    api = client.get("/api/v1/dashboard").json()
    assert (api["received"], api["resolved"], api["by_level"]["county"]) == (6, 4, 2)


def test_a_village_coordinator_sees_only_the_village(known):
    client = Client()
    client.force_login(factories.demo_user("coordinator.yucun@demo.odr"))
    data = client.get("/api/v1/dashboard").json()
    assert data["received"] == 4 and data["hotline"]["tickets"] == 4


def test_the_xlsx_export_opens_with_openpyxl_and_holds_the_dashboards_figures(known):
    answer = coordinator_client().get("/dashboard/export.xlsx")
    assert answer.status_code == 200
    assert answer["Content-Type"].startswith("application/vnd.openxmlformats")
    wb = load_workbook(BytesIO(answer.content))
    summary = {row[0]: row[1] for row in wb.worksheets[0].iter_rows(values_only=True)}
    assert summary["受理纠纷"] == 6
    assert summary["调解成功"] == 4
    assert summary["村级化解"] == 2
    assert summary["热线响应率"] == round(5 / 6, 4)
    ranking = list(wb.worksheets[5].iter_rows(values_only=True))
    assert ranking[1][:3] == (1, "安吉县社会矛盾纠纷调处化解中心", 2)
    assert ranking[1][6] == 100.0
    assert len(wb.sheetnames) == 7


def test_public_stats_give_by_level_and_the_hotline_rates_suppressing_small_counts(known):
    data = Client().get("/api/v1/stats").json()
    # 2 settled in the village, 2 at county level: fewer than 5 each, so null.
    assert data["by_level"] == {"village": None, "township": 0, "county": None}
    # 6 tickets due and 5 closed and rated: enough to publish.
    assert data["hotline"]["response_rate"] == round(5 / 6, 4)
    assert data["hotline"]["resolution_rate"] == 0.8
    page = Client().get("/stats/").content.decode()
    assert 'id="level-village">&lt;5<' in page
    assert 'id="level-township">0<' in page


def test_public_hotline_rates_resting_on_fewer_than_5_tickets_are_not_shown(demo):
    village = Organisation.objects.get(name="余村人民调解委员会")
    for n in range(3):
        make_ticket(
            make_case(village, "330523101201", status="settled", n=n),
            n,
            late=False,
            status="resolved",
            score=5,
        )
    data = Client().get("/api/v1/stats").json()
    assert data["hotline"] == {
        "response_rate": None,
        "resolution_rate": None,
        "satisfaction_rate": None,
    }
    assert 'id="kpi-response">—<' in Client().get("/stats/").content.decode()


def test_only_coordinators_and_the_county_centres_staff_read_the_dashboard(demo):
    allowed = {
        "coordinator@demo.odr": "浙江省湖州市安吉县",
        "mediator@demo.odr": "浙江省湖州市安吉县",
        "reception@demo.odr": "浙江省湖州市安吉县",
        "coordinator.yucun@demo.odr": "浙江省湖州市安吉县天荒坪镇余村",
    }
    for email, area in allowed.items():
        assert figures.dashboard_area(factories.demo_user(email)).full_name == area, email
    for email in (
        "mediator.yucun@demo.odr",
        "gridworker@demo.odr",
        "citizen1@demo.odr",
        "clerk@demo.odr",
    ):
        assert figures.dashboard_area(factories.demo_user(email)) is False, email
    assert figures.dashboard_area(factories.demo_user("admin@demo.odr")) is True


def test_seed_demo_makes_the_hotline_token_and_a_year_of_history_once_and_fast(db):
    import os
    import time

    from django.core.management import call_command

    from odr.services.hotline import token_authenticate

    start = time.monotonic()
    call_command("seed_demo", "--history", stdout=open(os.devnull, "w"))  # noqa: SIM115
    took = time.monotonic() - start
    assert token_authenticate("odr-demo-hotline-2026").name == "演示12345热线"
    disputes, tickets = Dispute.objects.count(), HotlineTicket.objects.count()
    assert disputes >= 300 and tickets >= 40
    # The windows' visits (every walk-in case had one, and more only asked) and the grid
    # worker's settlements on the spot.
    visits, spot = Visit.objects.count(), GridReport.objects.count()
    walk_ins = Dispute.objects.filter(channel="walk_in").count()
    assert Visit.objects.filter(dispute__isnull=False).count() == walk_ins > 0
    assert visits > 2 * walk_ins and spot > 0
    call_command("seed_demo", "--history", stdout=open(os.devnull, "w"))  # noqa: SIM115
    assert (Dispute.objects.count(), HotlineTicket.objects.count()) == (disputes, tickets)
    assert (Visit.objects.count(), GridReport.objects.count()) == (visits, spot)
    months = {d.strftime("%Y-%m") for d in Dispute.objects.values_list("created_at", flat=True)}
    assert len(months) >= 12
    rates = figures.hotline_rates(HotlineTicket.objects.all())
    assert rates["late"] > 0 and rates["on_time"] > rates["late"] and rates["surveyed"] > 0
    levels = figures.resolved_by_level(Dispute.objects.all())
    assert all(levels[level] > 0 for level in ("village", "township", "county"))
    assert took < 60
