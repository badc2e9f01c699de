"""Filing reads less (issue 14, point 4): routing by the region's stored path gives the
organisation the walk up the region tree gives, and the answer to a filer who is a party
of the case does not read their roles, which give a party no action on it."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from odr import selectors, services
from odr.categories import Category
from odr.models import Dispute, Organisation, Region
from odr.services.party_input import PartyInput
from odr.transitions import Viewer, allowed_actions
from tests import factories

pytestmark = pytest.mark.django_db


def both_routes() -> list[tuple[str, str, int | None, int | None]]:
    out = []
    for region in Region.objects.all():
        for category in Category.values:
            # The walk up the tree, region by region, as routing was made before.
            walked = selectors._first_handler(
                Region.objects.get(code=region.code).ancestors_and_self(), category, exclude=None
            )
            by_path = selectors.route_dispute(
                region=selectors.region_of_code(region.code), category=category
            )
            out.append((region.code, category, walked and walked.pk, by_path and by_path.pk))
    return out


def test_routing_by_the_stored_path_matches_the_walk_up_the_tree(demo):
    routes = both_routes()
    assert len({r[3] for r in routes}) >= 3  # village, township and centre all get cases
    assert [r for r in routes if r[2] != r[3]] == []


def test_by_the_stored_path_an_inactive_or_narrower_organisation_is_passed_over(demo):
    village = Organisation.objects.get(kind=Organisation.Kind.VILLAGE_COMMITTEE)
    township = Organisation.objects.get(kind=Organisation.Kind.TOWNSHIP_COMMITTEE)
    place = selectors.region_of_code(village.region.code)
    assert selectors.route_dispute(region=place, category="neighbour") == village
    # The village does not take contracts: the township does.
    assert selectors.route_dispute(region=place, category="contract") == township
    village.is_active = False
    village.save()
    assert selectors.route_dispute(region=place, category="neighbour") == township
    routes = both_routes()
    assert [r for r in routes if r[2] != r[3]] == []


def test_the_filing_reads_the_region_alone(demo, django_assert_num_queries):
    with django_assert_num_queries(1) as captured:
        region = selectors.region_of_code("330523100201")
    assert "JOIN" not in captured.captured_queries[0]["sql"]
    assert region.full_name == "浙江省湖州市安吉县孝丰镇横溪坞村"
    with django_assert_num_queries(1):
        routed = selectors.route_dispute(region=region, category="debt")
    assert routed.case_code == "安吉矛调"


def test_a_coordinator_filing_their_own_case_gets_the_actions_their_roles_give(demo):
    """The centre's coordinator files a dispute of their own at home: routed to their own
    centre, they are its party, and the answer (no roles read) names exactly the actions
    the full reading of their roles gives."""
    coordinator = factories.with_identity(factories.demo_user("coordinator@demo.odr"))
    full = Viewer.of(coordinator)
    assert full.coordinator_orgs  # they have roles to read
    client = Client()
    client.force_login(coordinator)
    response = client.post(
        "/api/v1/disputes",
        json.dumps(
            {
                "category": "debt",
                "title": "借款未还",
                "description": "借给邻居一万元未还。",
                "region": "330523000000",
                "respondent": {"name": "李四", "email": "lisi@example.com"},
            }
        ),
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    dispute = Dispute.objects.get(pk=response.json()["id"])
    assert dispute.organisation_id in full.coordinator_orgs
    assert services.filer_viewer(dispute, coordinator) is not None
    assert response.json()["actions"] == allowed_actions(dispute, coordinator, viewer=full)
    assert "withdraw" in response.json()["actions"]


def test_staff_filing_for_a_visitor_are_no_party_and_their_roles_are_read(demo):
    reception = factories.demo_user("reception@demo.odr")
    dispute = services.walk_in_file(
        staff=reception,
        visit=None,
        applicant=PartyInput(
            name="王五", phone="13700000001", id_number=factories.id_number_for(7)
        ),
        window=None,
        category="debt",
        title="借款未还",
        description="借给邻居一万元未还。",
        region_code="330523000000",
        respondents=[PartyInput(name="李四", email="lisi@example.com")],
    )
    assert services.filer_viewer(dispute, reception) is None
