"""The API's dispute list reads each page in one query of plain rows (issue 14): the
parties as one JSON array, the case the state machine asks built from the row without a
query. These pin what that read promises the list; test_api_pagination and
test_api_disputes compare the answers with the case's own."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from odr import pagination, selectors
from odr.models import Dispute, Membership, Party
from odr.people import display_name, name_from
from odr.transitions import Viewer, allowed_actions
from tests import factories

pytestmark = pytest.mark.django_db


def _rows(user) -> list[dict]:
    page = pagination.paginate_rows(
        selectors.disputes_visible_to(user),
        keys=pagination.NEWEST_FIRST,
        limit=50,
        fields=selectors.LIST_COLUMNS,
        expressions=selectors.dispute_list_expressions(),
    )
    return page.items


def test_the_parties_of_a_row_are_in_their_order_with_their_answers_as_booleans(demo):
    dispute = factories.dispute_in_mediation()
    second = Party.objects.create(
        dispute=dispute, role=Party.Role.RESPONDENT, position=1, name="第二被申请人"
    )
    Party.objects.filter(pk=second.pk).update(accepted=False)
    mediator = factories.demo_user("mediator@demo.odr")
    (row,) = [r for r in _rows(mediator) if r["pk"] == dispute.pk]
    listed = selectors.list_parties(row)
    expected = list(dispute.parties.order_by("role", "position", "pk"))
    assert [p["pk"] for p in listed] == [p.pk for p in expected]
    assert [p["accepted"] for p in listed] == [p.accepted for p in expected]
    assert {type(p["accepted"]) for p in listed} <= {bool, type(None)}
    assert False in [p["accepted"] for p in listed]
    assert [(p["role"], p["name"], p["user_id"]) for p in listed] == [
        (p.role, p.name, p.user_id) for p in expected
    ]


def test_a_case_without_parties_lists_none(demo):
    dispute = factories.dispute_in_mediation()
    dispute.parties.all().delete()
    mediator = factories.demo_user("mediator@demo.odr")
    (row,) = [r for r in _rows(mediator) if r["pk"] == dispute.pk]
    assert selectors.list_parties(row) == []


@pytest.mark.parametrize(
    "email", ["citizen1@demo.odr", "mediator@demo.odr", "coordinator@demo.odr"]
)
def test_the_case_built_from_a_row_answers_the_machine_as_the_case_itself(demo, email):
    factories.dispute_in_mediation()
    factories.dispute_awaiting_intake()
    factories.file_dispute(title="刚提交")
    user = factories.demo_user(email)
    by_role = selectors.user_org_ids_by_role(user)
    viewer = Viewer.of(user, by_role)
    rows = _rows(user)
    assert rows
    organisations: dict = {}
    no_parties = Party.objects.none()
    with CaptureQueriesContext(connection) as built:
        cases = [
            selectors.dispute_of_row(r, selectors.list_parties(r), organisations, no_parties)
            for r in rows
        ]
        for case in cases:
            assert [p.user_id for p in case.parties.all()]
            # Not a query of the case's parties: a filter finds nothing, never another's.
            assert list(case.parties.filter(role=Party.Role.APPLICANT)) == []
    assert len(built) == 0
    for case in cases:
        full = Dispute.objects.get(pk=case.pk)
        assert allowed_actions(case, user, viewer=viewer, cache={}) == allowed_actions(
            full, user
        ), (email, full.status)


def test_a_row_case_shares_one_organisation_per_page_and_reads_nothing_more(demo):
    factories.dispute_in_mediation()
    factories.dispute_awaiting_intake()
    coordinator = factories.demo_user("coordinator@demo.odr")
    assert Membership.objects.filter(user=coordinator, role="coordinator").exists()
    rows = _rows(coordinator)
    organisations: dict = {}
    cases = [
        selectors.dispute_of_row(r, selectors.list_parties(r), organisations, Party.objects.none())
        for r in rows
    ]
    assert len({id(c.organisation) for c in cases}) == len(organisations) == 1
    case = cases[0]
    assert case.organisation.name == Dispute.objects.get(pk=case.pk).organisation.name
    # The columns not read are deferred, as a read of some columns leaves them.
    assert {"title", "description", "region_id"} <= case.get_deferred_fields()
    assert case._state.adding is False


def test_a_name_from_its_columns_is_the_display_name(demo):
    mediator = factories.demo_user("mediator@demo.odr")
    profile = getattr(mediator, "profile", None)
    assert name_from(profile.real_name if profile else "", mediator.email, "x") == display_name(
        mediator
    )
    assert name_from("  ", "a@example.com", "a") == "a@example.com"
    assert name_from(None, "", "login") == "login"
    assert name_from(" 张三 ", "a@example.com", "a") == "张三"
