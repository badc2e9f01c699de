"""/me, /categories, /regions, /stats and the OpenAPI document (CONTRACT §3)."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.test import Client

from odr import services
from odr.categories import Category
from tests import factories
from tests.odr.api_support import assert_error, role_clients

pytestmark = pytest.mark.django_db


@pytest.fixture
def clients(demo):
    return role_clients()


@pytest.mark.parametrize(
    ("role", "roles", "organisation"),
    [
        ("applicant", ["citizen"], None),
        ("other_citizen", ["citizen"], None),
        ("case_mediator", ["citizen", "mediator"], "安吉县社会矛盾纠纷调处化解中心"),
        ("coordinator", ["citizen", "coordinator"], "安吉县社会矛盾纠纷调处化解中心"),
        ("other_coordinator", ["citizen", "coordinator"], "余村人民调解委员会"),
        ("clerk", ["citizen", "clerk"], "安吉县人民法院"),
    ],
)
def test_me_tells_who_i_am_my_roles_and_organisation(clients, role, roles, organisation):
    body = clients[role].get("/api/v1/me").json()
    # The contract's fields, and the caller's own particulars (PATCH /me sets them).
    assert set(body) == {"id", "email", "name", "roles", "organisation", "profile"}
    assert body["roles"] == roles
    assert (body["organisation"] or {}).get("name") == organisation


def test_me_of_the_demo_citizen_carries_the_real_name(clients):
    body = clients["applicant"].get("/api/v1/me").json()
    assert (body["email"], body["name"]) == ("citizen1@demo.odr", "张三")


def test_me_of_the_superuser_includes_admin(demo):
    client = Client()
    client.force_login(factories.demo_user("admin@demo.odr"))
    assert client.get("/api/v1/me").json()["roles"] == ["citizen", "admin"]


def test_me_needs_a_login(clients):
    assert_error(clients["anonymous"].get("/api/v1/me"), 401, "unauthenticated")


def test_categories_are_public_and_complete(clients):
    response = clients["anonymous"].get("/api/v1/categories")
    assert response.status_code == 200
    body = response.json()
    assert [c["code"] for c in body] == list(Category.values)
    assert all(c["name"] and c["hint"] for c in body)


def test_categories_follow_the_requested_language(clients):
    zh = clients["anonymous"].get("/api/v1/categories", HTTP_ACCEPT_LANGUAGE="zh-hans").json()
    en = clients["anonymous"].get("/api/v1/categories", HTTP_ACCEPT_LANGUAGE="en").json()
    assert en[0]["name"] == "Neighbour dispute"
    assert zh[0]["name"] != en[0]["name"]


def test_regions_without_parent_are_the_top_level(clients):
    body = clients["anonymous"].get("/api/v1/regions").json()
    assert body == [{"code": "330000000000", "name": "浙江省", "level": "province"}]


def test_regions_walk_down_the_tree(clients):
    get = clients["anonymous"].get
    assert get("/api/v1/regions?parent=330000000000").json() == [
        {"code": "330500000000", "name": "湖州市", "level": "city"}
    ]
    townships = get("/api/v1/regions?parent=330523000000").json()
    assert [(r["name"], r["level"]) for r in townships] == [
        ("孝丰镇", "township"),
        ("天荒坪镇", "township"),
    ]
    villages = get("/api/v1/regions?parent=330523101000").json()
    assert {r["level"] for r in villages} == {"village"}
    assert get("/api/v1/regions?parent=330523101201").json() == []


def test_regions_of_an_unknown_parent_are_empty(clients):
    assert clients["anonymous"].get("/api/v1/regions?parent=000").json() == []


def test_stats_aggregate_without_any_case_data(clients):
    """Six debt cases at the county (five settled after 10 days, one failed), one land
    case in a township and one withdrawn: the figures resting on five or more cases are
    published; the township and the land category, with one case each, are not listed."""
    mediator, applicant = (
        factories.demo_user("mediator@demo.odr"),
        factories.demo_user("citizen1@demo.odr"),
    )
    start = dt.datetime(2026, 3, 1, 9, tzinfo=dt.UTC)
    with time_machine.travel(start, tick=False):
        settled = [factories.dispute_in_mediation(title=f"秘密标题甲{n}") for n in range(5)]
        failed = factories.dispute_in_mediation(title="秘密标题乙")
        factories.file_dispute(title="秘密标题丙", region_code="330523101201", category="land")
        withdrawn = factories.dispute_awaiting_intake(title="秘密标题丁")
    with time_machine.travel(start + dt.timedelta(days=10), tick=False):
        for dispute in settled:
            services.dispute_settle(dispute=dispute, agreement_id=1)
        services.dispute_fail(dispute=failed, actor=mediator, reason="不成")
        services.dispute_withdraw(dispute=withdrawn, actor=applicant)

    response = clients["anonymous"].get("/api/v1/stats")
    assert response.status_code == 200
    body = response.json()
    assert (body["received"], body["resolved"]) == (8, 5)
    assert body["success_rate"] == round(5 / 6, 4)  # settled over settled + failed
    assert body["median_days"] == 10.0
    assert [b["code"] for b in body["by_category"]] == ["debt"]
    debt = body["by_category"][0]
    assert (debt["received"], debt["resolved"]) == (7, 5)
    assert {b["code"]: b["received"] for b in body["by_region"]} == {"330523000000": 7}
    text = response.content.decode()
    for secret in ("秘密标题", settled[0].case_number, "张三", "李四", "citizen"):
        assert secret not in text


def test_stats_never_publish_a_count_of_fewer_than_five(clients):
    """Issue 11, row I: public statistics showed counts of 1."""
    factories.dispute_in_mediation()
    factories.file_dispute(region_code="330523101201", category="land")
    body = clients["anonymous"].get("/api/v1/stats").json()
    assert (body["received"], body["resolved"]) == (None, 0)
    assert body["success_rate"] is None and body["median_days"] is None
    assert body["by_category"] == [] and body["by_region"] == []
    page = clients["anonymous"].get("/stats/").content.decode()
    assert '<strong id="kpi-received">&lt;5</strong>' in page


def test_stats_of_an_empty_platform(clients):
    body = clients["anonymous"].get("/api/v1/stats").json()
    assert body == {
        "received": 0,
        "resolved": 0,
        "success_rate": None,
        "median_days": None,
        "by_category": [],
        "by_region": [],
        "by_level": {"village": 0, "township": 0, "county": 0},
        "hotline": {"response_rate": None, "resolution_rate": None, "satisfaction_rate": None},
    }


def test_openapi_document_lists_the_contract_paths(clients):
    response = clients["anonymous"].get("/api/v1/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in (
        "/api/v1/me",
        "/api/v1/categories",
        "/api/v1/regions",
        "/api/v1/disputes",
        "/api/v1/disputes/{dispute_id}",
        "/api/v1/disputes/{dispute_id}/actions/{action}",
        "/api/v1/disputes/{dispute_id}/evidence",
        "/api/v1/invitations/{token}/accept",
        "/api/v1/invitations/{token}/decline",
        "/api/v1/stats",
        "/api/v1/hotline/tickets",
        "/api/v1/hotline/tickets/{ticket_id}",
    ):
        assert path in paths, path
    action = paths["/api/v1/disputes/{dispute_id}/actions/{action}"]["post"]
    # The action's fields travel in the JSON body, not the query string.
    assert "requestBody" in action
    assert all(p["in"] == "path" for p in action["parameters"])


def test_interactive_docs_answer(clients):
    response = clients["anonymous"].get("/api/v1/docs")
    assert response.status_code == 200
    assert b"openapi.json" in response.content
