"""The dispute endpoints of CONTRACT §3 for every role: what each may see and do."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from odr.models import AuditEvent, Dispute, Membership, Organisation
from tests import factories
from tests.odr.api_support import (
    NEW_DISPUTE,
    ROLE_EMAILS,
    SEES_CASE,
    assert_error,
    post,
    role_clients,
)
from tests.signing import sign_application

pytestmark = pytest.mark.django_db
S = Dispute.Status
DISPUTE_KEYS = {
    "id",
    "case_number",
    "channel",
    "status",
    "category",
    "title",
    "description",
    "region",
    "organisation",
    "mediator",
    "parties",
    "sessions",
    "agreement",
    "actions",
    "created_at",
}


@pytest.fixture
def clients(demo):
    return role_clients()


# --- GET /disputes/{id} --------------------------------------------------------------------


@pytest.mark.parametrize("role", list(ROLE_EMAILS))
def test_dispute_detail_is_seen_only_by_who_may_see_it(clients, role):
    dispute = factories.dispute_in_mediation()
    response = clients[role].get(f"/api/v1/disputes/{dispute.pk}")
    if role == "anonymous":
        assert_error(response, 401, "unauthenticated")
    elif role in SEES_CASE:
        assert response.status_code == 200
        body = response.json()
        assert set(body) >= DISPUTE_KEYS
        assert body["case_number"] == dispute.case_number
        assert body["status"] == "in_mediation"
        assert body["mediator"]["name"] == "李调解"
        assert body["organisation"]["id"] == dispute.organisation_id
        assert [(p["role"], p["accepted"]) for p in body["parties"]] == [
            ("applicant", True),
            ("respondent", True),
        ]
        assert body["agreement"] is None
        assert body["sessions"] == []
    else:
        assert_error(response, 404, "not_found")


def test_a_dispute_that_does_not_exist_answers_like_one_not_seen(clients):
    assert_error(clients["applicant"].get("/api/v1/disputes/999999"), 404, "not_found")


EXPECTED_ACTIONS = {
    # (status) -> role -> the actions offered
    S.FILED: {"applicant": ["withdraw"], "respondent": [], "coordinator": []},
    S.AWAITING_INTAKE: {
        "applicant": ["withdraw"],
        "respondent": [],
        "coordinator": ["accept", "reject"],
    },
    # The county centre has nobody above it: no escalate; and its only mediator has the
    # case already: nobody to assign it to.
    S.IN_MEDIATION: {
        "applicant": ["withdraw"],
        "respondent": [],
        "case_mediator": ["fail"],
        "coordinator": [],
    },
}


@pytest.mark.parametrize(
    ("status", "role"),
    [(status, role) for status, roles in EXPECTED_ACTIONS.items() for role in roles],
)
def test_actions_list_exactly_what_the_caller_may_do(clients, status, role):
    dispute = {
        S.FILED: factories.file_dispute,
        S.AWAITING_INTAKE: factories.dispute_awaiting_intake,
        S.IN_MEDIATION: factories.dispute_in_mediation,
    }[status]()
    if role == "respondent" and status == S.FILED:
        # Before answering, the respondent is not yet linked to the case.
        assert_error(clients[role].get(f"/api/v1/disputes/{dispute.pk}"), 404, "not_found")
        return
    body = clients[role].get(f"/api/v1/disputes/{dispute.pk}").json()
    assert body["actions"] == EXPECTED_ACTIONS[status][role]


def test_a_village_coordinator_is_offered_escalation(clients):
    dispute = factories.dispute_awaiting_intake(region_code="330523101201")
    body = clients["other_coordinator"].get(f"/api/v1/disputes/{dispute.pk}").json()
    assert body["actions"] == ["accept", "reject", "escalate"]


def test_a_closed_case_offers_nothing_to_anyone(clients):
    dispute = factories.dispute_in_mediation()
    post(clients["applicant"], f"/api/v1/disputes/{dispute.pk}/actions/withdraw", {})
    for role in SEES_CASE:
        body = clients[role].get(f"/api/v1/disputes/{dispute.pk}").json()
        assert body["status"] == "withdrawn"
        assert body["actions"] == []


# --- GET /disputes -------------------------------------------------------------------------


def test_dispute_list_shows_each_role_only_what_it_may_see(clients):
    county = factories.dispute_in_mediation()
    village = factories.file_dispute(region_code="330523101201", title="宅基地")
    expected = {
        "applicant": {county.pk, village.pk},
        "respondent": {county.pk},  # not yet linked to the village case
        "other_citizen": set(),
        "case_mediator": {county.pk},
        "other_mediator": {village.pk},
        "coordinator": {county.pk},
        "other_coordinator": {village.pk},
        "clerk": set(),
    }
    for role, ids in expected.items():
        body = clients[role].get("/api/v1/disputes").json()
        assert body["count"] == len(ids), role
        assert {item["id"] for item in body["items"]} == ids, role
    assert_error(clients["anonymous"].get("/api/v1/disputes"), 401, "unauthenticated")


def test_dispute_list_filters_by_status_among_the_visible_ones(clients):
    filed = factories.file_dispute(title="一")
    mediating = factories.dispute_in_mediation()
    factories.file_dispute(
        applicant=factories.make_user("third@example.com"),
        respondent_email="fourth@example.com",
        title="别人的",
    )
    body = clients["applicant"].get("/api/v1/disputes?status=filed").json()
    assert [item["id"] for item in body["items"]] == [filed.pk]
    body = clients["applicant"].get("/api/v1/disputes?status=in_mediation").json()
    assert [item["id"] for item in body["items"]] == [mediating.pk]
    assert clients["applicant"].get("/api/v1/disputes?status=settled").json() == {
        "count": 0,
        "count_is_estimate": False,
        "items": [],
        "next": None,
    }
    # The coordinator sees all three at the centre, two of them filed.
    assert clients["coordinator"].get("/api/v1/disputes?status=filed").json()["count"] == 2


def test_dispute_list_refuses_an_unknown_status(clients):
    assert_error(
        clients["applicant"].get("/api/v1/disputes?status=nonsense"),
        400,
        "invalid_status_filter",
    )


def _list_queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/api/v1/disputes")
    assert response.status_code == 200
    return len(queries)


@pytest.mark.parametrize("role", ["applicant", "coordinator", "case_mediator"])
def test_dispute_list_runs_the_same_few_queries_however_many_disputes(clients, role):
    factories.dispute_in_mediation()
    one = _list_queries(clients[role])
    for n in range(5):
        factories.dispute_in_mediation(title=f"第{n}件")
    factories.dispute_awaiting_intake(title="待受理")
    assert _list_queries(clients[role]) == one


def test_dispute_list_stays_within_a_fixed_query_budget(clients, django_assert_max_num_queries):
    for n in range(8):
        factories.dispute_in_mediation(title=f"第{n}件")
    # 13: the session, the user, their roles (twice), the count, the page's keys, its rows,
    # their parties, sessions, agreements, the organisations' mediators and names, and the
    # chain of regions above the organisation (one query by the stored path, instead of
    # joining the region tree five times in every list query: issue 14).
    with django_assert_max_num_queries(13):
        response = clients["coordinator"].get("/api/v1/disputes")
    assert response.json()["count"] == 8


# --- POST /disputes ----------------------------------------------------------------------


def test_a_citizen_files_a_dispute_and_gets_201_with_the_dispute(clients):
    response = post(clients["applicant"], "/api/v1/disputes", NEW_DISPUTE)
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) >= DISPUTE_KEYS
    assert body["status"] == "filed"
    assert body["organisation"]["name"] == "安吉县社会矛盾纠纷调处化解中心"
    assert body["case_number"].startswith("(")
    assert body["claim_amount"] == "10000.00"
    assert body["actions"] == ["withdraw"]
    # A citizen's own filing came in online (CONTRACT §3 `channel`).
    assert body["channel"] == "online"
    assert Dispute.objects.get(pk=body["id"]).filed_by.email == "citizen1@demo.odr"


def test_filing_needs_a_login(clients):
    assert_error(post(clients["anonymous"], "/api/v1/disputes", NEW_DISPUTE), 401)
    assert Dispute.objects.count() == 0


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"category": "alien"}, 400, "invalid_category"),
        ({"region": "999999999999"}, 400, "invalid_region"),
        ({"title": ""}, 422, "validation_error"),
        # Invisible characters only (issue 11, L7): an empty title.
        ({"title": "\u200b\u200b"}, 400, "title_required"),
        ({"description": "\u202e\u2066\n\ufeff"}, 400, "description_required"),
        (
            {"respondent": {"name": "\u200d", "email": "citizen2@demo.odr"}},
            400,
            "respondent_name_required",
        ),
        ({"description": "   "}, 400, "description_required"),
        ({"claim_amount": "-5"}, 422, "validation_error"),
        ({"claim_amount": "abc"}, 422, "validation_error"),
        ({"respondent": {"name": "李四", "email": "not-an-email"}}, 422, "validation_error"),
        ({"respondent": {"name": "自己", "email": "citizen1@demo.odr"}}, 400, "self_dispute"),
        ({"respondent": None}, 422, "validation_error"),
    ],
)
def test_bad_filings_are_refused_with_a_json_error_and_nothing_saved(clients, change, status, code):
    response = post(clients["applicant"], "/api/v1/disputes", {**NEW_DISPUTE, **change})
    assert_error(response, status, code)
    assert Dispute.objects.count() == 0
    assert AuditEvent.objects.count() == 0


def test_a_body_that_is_not_json_is_a_json_error(clients):
    response = clients["applicant"].post(
        "/api/v1/disputes", "{not json", content_type="application/json"
    )
    assert 400 <= response.status_code < 500
    assert set(response.json()) == {"detail", "code"}


# --- POST /disputes/{id}/actions/{action} ------------------------------------------------


ACTIONS_ON_MEDIATION = {
    # action -> (body, role allowed); the county case in mediation
    "assign": ({"mediator": None}, "coordinator"),
    "withdraw": ({"reason": "和解了"}, "applicant"),
    "fail": ({"reason": "差距太大"}, "case_mediator"),
}


@pytest.mark.parametrize("action", ["accept", "reject", "assign", "escalate", "withdraw", "fail"])
@pytest.mark.parametrize("role", list(ROLE_EMAILS))
def test_an_action_answers_404_403_409_or_200_as_the_caller_and_status_require(
    clients, action, role
):
    dispute = factories.dispute_in_mediation()
    other = factories.make_user(
        "mediator2@demo.odr", org=Organisation.objects.get(kind="county_centre"), role="mediator"
    )
    body = {"reason": "理由", "mediator": other.pk}
    response = post(clients[role], f"/api/v1/disputes/{dispute.pk}/actions/{action}", body)
    status_before = S.IN_MEDIATION
    allowed = {
        "assign": "coordinator",
        "withdraw": "applicant",
        "fail": "case_mediator",
    }
    if role == "anonymous":
        assert_error(response, 401, "unauthenticated")
    elif role not in SEES_CASE:
        assert_error(response, 404, "not_found")
    elif allowed.get(action) == role:
        assert response.status_code == 200, response.content
        assert response.json()["status"] != status_before or action == "assign"
        return
    elif action in ("accept", "reject") and role == "coordinator":
        assert_error(response, 409, "invalid_status")
    elif action == "escalate" and role in ("coordinator", "case_mediator"):
        assert_error(response, 409, "no_organisation_above")
    else:
        assert_error(response, 403, "action_not_allowed")
    assert Dispute.objects.get(pk=dispute.pk).status == status_before


def test_accept_through_the_api_puts_the_case_in_mediation(clients):
    dispute = factories.dispute_awaiting_intake()
    mediator = factories.demo_user("mediator@demo.odr")
    response = post(
        clients["coordinator"],
        f"/api/v1/disputes/{dispute.pk}/actions/accept",
        {"mediator": mediator.pk},
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "in_mediation"
    assert body["mediator"] == {"id": mediator.pk, "name": "李调解"}
    assert body["actions"] == []


def test_assign_is_offered_once_the_organisation_has_another_mediator(clients):
    dispute = factories.dispute_in_mediation()
    path = f"/api/v1/disputes/{dispute.pk}"
    assert clients["coordinator"].get(path).json()["actions"] == []
    other = factories.make_user(
        "mediator2@demo.odr", org=Organisation.objects.get(kind="county_centre"), role="mediator"
    )
    assert clients["coordinator"].get(path).json()["actions"] == ["assign"]
    other.is_active = False
    other.save()
    assert clients["coordinator"].get(path).json()["actions"] == []


@pytest.mark.parametrize(
    ("action", "body", "status", "code"),
    [
        ("accept", {}, 400, "invalid_mediator"),
        ("accept", {"mediator": 999999}, 400, "invalid_mediator"),
        ("accept", {"mediator": "abc"}, 422, "validation_error"),
        ("reject", {}, 400, "reason_required"),
        ("reject", {"reason": "  "}, 400, "reason_required"),
        ("reject", {"reason": "x" * 2001}, 422, "validation_error"),
    ],
)
def test_an_action_with_bad_fields_is_a_4xx(clients, action, body, status, code):
    dispute = factories.dispute_awaiting_intake()
    response = post(clients["coordinator"], f"/api/v1/disputes/{dispute.pk}/actions/{action}", body)
    assert_error(response, status, code)
    assert Dispute.objects.get(pk=dispute.pk).status == S.AWAITING_INTAKE


def test_an_unknown_action_is_404(clients):
    dispute = factories.dispute_awaiting_intake()
    assert_error(
        post(clients["coordinator"], f"/api/v1/disputes/{dispute.pk}/actions/explode", {}),
        404,
        "not_found",
    )


def test_settle_cannot_be_pressed_through_the_api(clients):
    dispute = factories.dispute_in_mediation()
    for role in ("case_mediator", "coordinator", "applicant"):
        assert_error(
            post(clients[role], f"/api/v1/disputes/{dispute.pk}/actions/settle", {}),
            403,
            "action_not_allowed",
        )
    assert Dispute.objects.get(pk=dispute.pk).status == S.IN_MEDIATION


def test_a_coordinator_whose_membership_ended_no_longer_sees_the_case(clients):
    dispute = factories.dispute_awaiting_intake()
    Membership.objects.filter(user__email="coordinator@demo.odr").update(is_active=False)
    assert_error(clients["coordinator"].get(f"/api/v1/disputes/{dispute.pk}"), 404, "not_found")


def test_nul_characters_are_dropped_rather_than_failing_the_database(clients):
    body = {
        **NEW_DISPUTE,
        "title": "借款\u0000未还",
        "description": "事实\u0000经过",
        "respondent": {"name": "李\u0000四", "email": "citizen2@demo.odr"},
    }
    response = post(clients["applicant"], "/api/v1/disputes", body)
    assert response.status_code == 201, response.content
    dispute = Dispute.objects.get(pk=response.json()["id"])
    assert (dispute.title, dispute.description) == ("借款未还", "事实经过")
    assert dispute.parties.get(role="respondent").name == "李四"
    only_nul = post(clients["applicant"], "/api/v1/disputes", {**NEW_DISPUTE, "title": "\u0000"})
    assert_error(only_nul, 400, "title_required")


def test_an_action_without_any_body_still_works(clients):
    dispute = factories.dispute_awaiting_intake()
    # As `fetch(url, {method: "POST"})` or `curl -X POST` send it: nothing at all.
    response = clients["applicant"].generic(
        "POST", f"/api/v1/disputes/{dispute.pk}/actions/withdraw"
    )
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "withdrawn"


def test_the_court_sees_a_case_only_once_both_parties_have_applied(demo):
    from odr.selectors import disputes_visible_to

    agreement = factories.agreement_in_force()
    clerk = factories.demo_user("clerk@demo.odr")
    sign_application(agreement=agreement, actor=factories.demo_user("citizen1@demo.odr"))
    assert not disputes_visible_to(clerk).filter(pk=agreement.dispute_id).exists()
    sign_application(agreement=agreement, actor=factories.demo_user("citizen2@demo.odr"))
    assert disputes_visible_to(clerk).filter(pk=agreement.dispute_id).exists()


def test_direction_overrides_and_invisible_characters_are_removed_from_what_is_filed(clients):
    """Issue 11, L7: a right-to-left override would show 〈李四 owes 5,000〉 reversed on
    another person's screen; it is stored without it, and the line breaks of the long
    text are kept."""
    body = {
        **NEW_DISPUTE,
        "title": "借款\u202e0005\u202c未还\u200b",
        "description": "第一行\u2067\n第二行",
        "request": "归还\u200f借款",
        "respondent": {"name": "李\u200b四", "email": "citizen2@demo.odr"},
    }
    response = post(clients["applicant"], "/api/v1/disputes", body)
    assert response.status_code == 201, response.content
    assert response.json()["title"] == "借款0005未还"
    dispute = Dispute.objects.get(pk=response.json()["id"])
    assert (dispute.title, dispute.description, dispute.request) == (
        "借款0005未还",
        "第一行\n第二行",
        "归还借款",
    )
    assert dispute.parties.get(role="respondent").name == "李四"


def test_each_list_item_is_what_the_case_itself_answers(clients):
    """The list builds its items in the schema's shape and answers them without the
    response schema's check (issue 14): each item must be exactly the case's own answer,
    which the schema checks, for every role, with sessions, an agreement, a claim
    amount and a party invited by phone (whose link only the filer is given)."""
    mediating = factories.dispute_in_mediation()
    factories.session_in("scheduled", dispute=mediating)
    factories.agreement_draft()
    factories.file_dispute(title="仅邮箱")
    by_phone = {**NEW_DISPUTE, "respondent": {"name": "王五", "phone": "13800138000"}}
    assert post(clients["applicant"], "/api/v1/disputes", by_phone).status_code == 201
    seen: list[dict] = []
    for role in ("applicant", "respondent", "case_mediator", "coordinator"):
        body = clients[role].get("/api/v1/disputes").json()
        assert body["items"], role
        for item in body["items"]:
            assert item == clients[role].get(f"/api/v1/disputes/{item['id']}").json(), role
        seen += body["items"]
    assert any(item["sessions"] for item in seen) and any(item["agreement"] for item in seen)
    assert any(item["claim_amount"] is not None for item in seen)
    links = [p["invitation_url"] for item in seen for p in item["parties"]]
    assert any(links) and None in links
