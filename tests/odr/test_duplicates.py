"""Possible duplicates (issue 10, point 4): a filing that names a party of an open case
of the same place within 30 days (by phone or ID number) is linked to it, for the
coordinator to merge or keep apart, both audited."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from odr.models import AuditEvent, Dispute, DuplicateLink
from tests import factories
from tests.odr.api_support import NEW_DISPUTE, assert_error, post

pytestmark = pytest.mark.django_db


def _file(client, email: str = "citizen1@demo.odr", **extra) -> dict:
    client.force_login(factories.demo_user(email))
    response = post(client, "/api/v1/disputes", {**NEW_DISPUTE, **extra})
    assert response.status_code == 201, response.content
    return response.json()


def test_a_second_filing_between_the_same_people_is_linked_to_the_open_case(demo, client):
    first = _file(client)
    second = _file(client, title="又一次借款纠纷")
    link = DuplicateLink.objects.get()
    assert (link.dispute_id, link.original_id) == (second["id"], first["id"])
    assert "phone" in link.matched_on and "id_number" in link.matched_on
    assert AuditEvent.objects.filter(action="duplicate.link", dispute_id=second["id"]).exists()
    listed = client.get(f"/api/v1/disputes/{second['id']}/duplicates").json()
    assert [d["original_case_number"] for d in listed] == [first["case_number"]]


def test_a_walk_in_for_the_same_respondent_phone_is_linked_too(demo, client):
    first = _file(client)
    client.force_login(factories.demo_user("reception@demo.odr"))
    body = {
        **NEW_DISPUTE,
        "channel": "walk_in",
        "applicant": {
            "name": "王五",
            "phone": "13800000055",
            "id_number": factories.id_number_for(55),
        },
        "respondent": {"name": "李四", "phone": "+86 138 0000 0002"},
    }
    response = post(client, "/api/v1/disputes", body)
    assert response.status_code == 201, response.content
    link = DuplicateLink.objects.get()
    assert link.original_id == first["id"] and link.matched_on == ["phone"]


def test_other_places_closed_cases_and_old_cases_are_not_duplicates(demo, client):
    first = _file(client)
    _file(client, region="330523101201", category="neighbour")  # another place
    Dispute.objects.filter(pk=first["id"]).update(created_at=timezone.now() - timedelta(days=31))
    _file(client)  # the first is older than 30 days
    assert not DuplicateLink.objects.exists()


def test_the_coordinator_merges_a_duplicate_into_the_open_case(demo, client):
    first = _file(client)
    second = _file(client)
    link = DuplicateLink.objects.get()
    client.force_login(factories.demo_user("coordinator@demo.odr"))
    response = post(client, f"/api/v1/disputes/{second['id']}/duplicates/{link.pk}/merge")
    assert response.status_code == 200, response.content
    assert response.json()["decision"] == "merged"
    merged = Dispute.objects.get(pk=second["id"])
    assert merged.status == Dispute.Status.WITHDRAWN
    assert first["case_number"] in merged.closing_reason
    assert Dispute.objects.get(pk=first["id"]).status == Dispute.Status.FILED
    event = AuditEvent.objects.filter(dispute=merged).order_by("seq").last()
    assert event.action == "dispute.merge" and event.after["original"] == first["case_number"]
    again = post(client, f"/api/v1/disputes/{second['id']}/duplicates/{link.pk}/keep_apart")
    assert_error(again, 409, "already_decided")


def test_the_coordinator_keeps_two_matters_apart(demo, client):
    _file(client)
    second = _file(client)
    link = DuplicateLink.objects.get()
    client.force_login(factories.demo_user("coordinator@demo.odr"))
    page = client.post(f"/disputes/{second['id']}/duplicates/{link.pk}/keep_apart/")
    assert page.status_code == 302
    link.refresh_from_db()
    assert link.decision == DuplicateLink.Decision.KEPT_APART
    assert link.decided_by.email == "coordinator@demo.odr"
    assert Dispute.objects.get(pk=second["id"]).status == Dispute.Status.FILED
    assert AuditEvent.objects.filter(action="duplicate.keep_apart").count() == 1


def test_a_party_cannot_decide_about_a_duplicate(demo, client):
    _file(client)
    second = _file(client)
    link = DuplicateLink.objects.get()
    response = post(client, f"/api/v1/disputes/{second['id']}/duplicates/{link.pk}/merge")
    assert_error(response, 403, "action_not_allowed")
    assert DuplicateLink.objects.get().decision == DuplicateLink.Decision.OPEN
    assert Dispute.objects.get(pk=second["id"]).status == Dispute.Status.FILED


def test_the_case_page_offers_merge_and_keep_apart_to_the_coordinator(demo, client):
    first = _file(client)
    second = _file(client)
    client.force_login(factories.demo_user("coordinator@demo.odr"))
    page = client.get(f"/disputes/{second['id']}/").content.decode()
    assert first["case_number"] in page
    assert "keep_apart" in page and "/merge/" in page


def test_a_partys_phone_key_follows_its_phone_on_every_kind_of_write(demo, client):
    """The duplicate check looks numbers up by `phone_key` (issue 14): it must be right
    after a filing (bulk insert), a save and a save of named fields."""
    from odr.models import Party

    filed = _file(client, respondent={"name": "李四", "phone": "+86 138-0000-0077"})
    party = Party.objects.get(dispute_id=filed["id"], role=Party.Role.RESPONDENT)
    assert party.phone_key == "13800000077"
    party.phone = "(0572) 555 1234"
    party.save(update_fields=["phone"])
    assert Party.objects.get(pk=party.pk).phone_key == "05725551234"
    party.phone = ""
    party.save()
    assert Party.objects.get(pk=party.pk).phone_key == ""


def test_the_check_asks_the_database_for_the_matching_numbers_only(demo, client):
    """Many open cases of the same village with other people's numbers: the check's one
    query looks the filing's numbers up by index (issue 14: it read every party with a
    phone of the place's open cases of the last 30 days and compared them in Python)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from odr.models import Party
    from odr.services.duplicates import duplicates_link

    first = _file(client)
    for n in range(20):
        _file(
            client,
            "citizen2@demo.odr",
            title=f"邻里纠纷{n}",
            respondent={"name": f"王{n}", "phone": f"1390000{n:04d}"},
        )
    DuplicateLink.objects.all().delete()
    later = Dispute.objects.exclude(pk=first["id"]).order_by("-pk").first()
    probe = Party(dispute=later, name="新", phone="+86 139 0000 0007")
    with CaptureQueriesContext(connection) as captured:
        links = duplicates_link(dispute=later, parties=[probe])
    check = next(q["sql"] for q in captured.captured_queries if 'FROM "odr_party"' in q["sql"])
    assert '"odr_party"."phone_key" IN (\'13900000007\')' in check
    original = Party.objects.get(phone_key="13900000007").dispute_id
    assert [(link.original_id, link.matched_on) for link in links] == [(original, ["phone"])]
