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
    assert set(body) == {"id", "email", "name", "roles", "organisation"}
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
    mediator, applicant = (
        factories.demo_user("mediator@demo.odr"),
        factories.demo_user("citizen1@demo.odr"),
    )
    start = dt.datetime(2026, 3, 1, 9, tzinfo=dt.UTC)
    with time_machine.travel(start, tick=False):
        settled = factories.dispute_in_mediation(title="秘密标题甲")
        failed = factories.dispute_in_mediation(title="秘密标题乙")
        factories.file_dispute(title="秘密标题丙", region_code="330523101201", category="land")
        withdrawn = factories.dispute_awaiting_intake(title="秘密标题丁")
    with time_machine.travel(start + dt.timedelta(days=10), tick=False):
        services.dispute_settle(dispute=settled, agreement_id=1)
        services.dispute_fail(dispute=failed, actor=mediator, reason="不成")
        services.dispute_withdraw(dispute=withdrawn, actor=applicant)

    response = clients["anonymous"].get("/api/v1/stats")
    assert response.status_code == 200
    body = response.json()
    assert (body["received"], body["resolved"]) == (4, 1)
    assert body["success_rate"] == 0.5  # settled over settled + failed
    assert body["median_days"] == 10.0
    debt = next(b for b in body["by_category"] if b["code"] == "debt")
    assert (debt["received"], debt["resolved"]) == (3, 1)
    land = next(b for b in body["by_category"] if b["code"] == "land")
    assert (land["received"], land["resolved"], land["success_rate"]) == (1, 0, None)
    regions = {b["code"]: b["received"] for b in body["by_region"]}
    assert regions == {"330523000000": 3, "330523101000": 1}
    text = response.content.decode()
    for secret in ("秘密标题", settled.case_number, "张三", "李四", "citizen"):
        assert secret not in text


def test_stats_of_an_empty_platform(clients):
    body = clients["anonymous"].get("/api/v1/stats").json()
    assert body == {
        "received": 0,
        "resolved": 0,
        "success_rate": None,
        "median_days": None,
        "by_category": [],
        "by_region": [],
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
