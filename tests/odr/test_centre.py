"""The one-stop centre (issue 10, point 1): the reception registers walk-in visitors, files
for them (channel walk_in) and hands the case between the centre's windows as one record;
a citizen cannot file as the reception does."""

from __future__ import annotations

import pytest

from odr import sms
from odr.models import AuditEvent, Dispute, Party, Visit, Window
from tests import factories
from tests.odr.api_support import NEW_DISPUTE, assert_error, post

pytestmark = pytest.mark.django_db

VISITOR = {"name": "王五", "phone": "13800000055", "id_number": factories.id_number_for(55)}


def _client(client, email: str):
    client.force_login(factories.demo_user(email))
    return client


def _window(kind: str) -> Window:
    return Window.objects.get(organisation__name="安吉县社会矛盾纠纷调处化解中心", kind=kind)


def _walk_in(client, **extra) -> dict:
    body = {
        **NEW_DISPUTE,
        "channel": "walk_in",
        "applicant": VISITOR,
        "window": _window("mediation_committee").pk,
        **extra,
    }
    response = post(client, "/api/v1/disputes", body)
    assert response.status_code == 201, response.content
    return response.json()


def test_reception_registers_a_visit_that_counts_without_a_dispute(demo, client):
    _client(client, "reception@demo.odr")
    response = post(
        client, "/api/v1/centre/visits", {"name": "赵六", "phone": "13800000066", "purpose": "咨询"}
    )
    assert response.status_code == 201, response.content
    visit = Visit.objects.get()
    assert (visit.name, visit.dispute, visit.staff.email) == ("赵六", None, "reception@demo.odr")
    assert visit.organisation.name == "安吉县社会矛盾纠纷调处化解中心"
    assert AuditEvent.objects.filter(action="visit.register").count() == 1


def test_reception_files_for_a_walk_in_visitor_with_their_real_name_id_and_phone(demo, client):
    _client(client, "reception@demo.odr")
    visit = post(client, "/api/v1/centre/visits", {**VISITOR, "purpose": "借款纠纷"}).json()
    body = _walk_in(client, visit=visit["id"])
    dispute = Dispute.objects.get(pk=body["id"])
    assert body["channel"] == "walk_in" and dispute.channel == Dispute.Channel.WALK_IN
    assert dispute.organisation.name == "安吉县社会矛盾纠纷调处化解中心"
    assert dispute.window == _window("mediation_committee")
    applicant = dispute.parties.get(role=Party.Role.APPLICANT)
    assert (applicant.name, applicant.phone, applicant.id_number) == (
        VISITOR["name"],
        VISITOR["phone"],
        VISITOR["id_number"],
    )
    assert applicant.user is None and applicant.accepted is True
    assert dispute.filed_by.email == "reception@demo.odr"
    assert Visit.objects.get(pk=visit["id"]).dispute == dispute


@pytest.mark.django_db(transaction=True)
def test_the_walk_in_receipt_is_texted_after_the_commit(demo, client):
    _client(client, "reception@demo.odr")
    body = _walk_in(client)
    # The receipt by text: case number, window, where to go, what to bring.
    texts = [t for t in sms.sent_texts() if t["to"] == "+8613800000055"]
    assert len(texts) == 1
    for expected in (body["case_number"], "人民调解委员会窗口", "一楼1号窗口", "居民身份证原件"):
        assert expected in texts[0]["text"]


def test_the_receipt_page_shows_case_number_window_place_and_what_to_bring(demo, client):
    _client(client, "reception@demo.odr")
    body = _walk_in(client)
    page = client.get(f"/reception/receipt/{body['id']}/")
    text = page.content.decode()
    assert page.status_code == 200
    for expected in (body["case_number"], "人民调解委员会窗口", "一楼1号窗口", "居民身份证原件"):
        assert expected in text


def test_reception_must_give_the_visitors_id_number(demo, client):
    _client(client, "reception@demo.odr")
    response = post(
        client,
        "/api/v1/disputes",
        {**NEW_DISPUTE, "channel": "walk_in", "applicant": {"name": "王五", "phone": "138"}},
    )
    assert_error(response, 400, "applicant_id_required")
    assert not Dispute.objects.exists()


def test_a_citizen_cannot_file_as_a_walk_in(demo, client):
    _client(client, "citizen1@demo.odr")
    response = post(
        client, "/api/v1/disputes", {**NEW_DISPUTE, "channel": "walk_in", "applicant": VISITOR}
    )
    assert_error(response, 403, "reception_only")
    assert not Dispute.objects.exists()


def test_a_citizen_cannot_file_for_someone_else(demo, client):
    _client(client, "citizen1@demo.odr")
    response = post(client, "/api/v1/disputes", {**NEW_DISPUTE, "applicant": VISITOR})
    assert_error(response, 403, "staff_only")
    assert not Dispute.objects.exists()


def test_a_citizen_cannot_register_visits(demo, client):
    _client(client, "citizen1@demo.odr")
    response = post(client, "/api/v1/centre/visits", {"name": "赵六", "purpose": "咨询"})
    assert_error(response, 403, "reception_only")


def test_a_hand_off_between_windows_keeps_one_case_number_and_one_timeline(demo, client):
    _client(client, "reception@demo.odr")
    body = _walk_in(client)
    dispute = Dispute.objects.get(pk=body["id"])
    before = list(AuditEvent.objects.filter(dispute=dispute).values_list("pk", flat=True))
    labour = _window("labour")
    response = post(client, f"/api/v1/disputes/{dispute.pk}/handoff", {"window": labour.pk})
    assert response.status_code == 200, response.content
    assert response.json()["case_number"] == body["case_number"]
    dispute.refresh_from_db()
    assert dispute.window == labour
    assert Dispute.objects.count() == 1
    events = list(AuditEvent.objects.filter(dispute=dispute).order_by("seq"))
    assert [e.pk for e in events[: len(before)]] == before
    handoff = events[-1]
    assert handoff.action == "dispute.handoff"
    assert handoff.after["window_name"] == "劳动争议调解窗口"
    assert handoff.actor.email == "reception@demo.odr"
    # The case page tells it on the one timeline.
    page = client.get(f"/disputes/{dispute.pk}/").content.decode()
    assert "劳动争议调解窗口" in page


def test_a_hand_off_to_the_same_window_or_anothers_is_refused(demo, client):
    _client(client, "reception@demo.odr")
    body = _walk_in(client)
    same = post(
        client,
        f"/api/v1/disputes/{body['id']}/handoff",
        {"window": _window("mediation_committee").pk},
    )
    assert_error(same, 400, "same_window")
    assert_error(
        post(client, f"/api/v1/disputes/{body['id']}/handoff", {"window": 999999}),
        400,
        "invalid_window",
    )


def test_a_party_cannot_hand_the_case_off(demo, client):
    dispute = factories.file_dispute()
    _client(client, "citizen1@demo.odr")
    response = post(
        client, f"/api/v1/disputes/{dispute.pk}/handoff", {"window": _window("labour").pk}
    )
    assert_error(response, 403, "action_not_allowed")
    assert not AuditEvent.objects.filter(action="dispute.handoff").exists()


def test_the_reception_pages_register_a_visit_file_for_it_and_print_the_receipt(demo, client):
    _client(client, "reception@demo.odr")
    assert client.get("/reception/").status_code == 200
    response = client.post("/reception/", {**VISITOR, "purpose": "邻居借款不还"})
    assert response.status_code == 302
    visit = Visit.objects.get()
    form = client.get(f"/reception/visits/{visit.pk}/file/").content.decode()
    assert VISITOR["id_number"] in form  # the visit's particulars are carried over
    response = client.post(
        f"/reception/visits/{visit.pk}/file/",
        {
            "applicant_name": VISITOR["name"],
            "applicant_id_number": VISITOR["id_number"],
            "applicant_phone": VISITOR["phone"],
            "window": _window("family").pk,
            "category": "debt",
            "region": "330523101201",
            "title": "借款未还",
            "description": "2025年借给李四一万元未还。",
            "respondent_name": "李四",
            "respondent_phone": "13800000002",
        },
    )
    dispute = Dispute.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/reception/receipt/{dispute.pk}/"
    assert dispute.channel == Dispute.Channel.WALK_IN and dispute.window == _window("family")
    assert Visit.objects.get().dispute == dispute
    receipt = client.get(response["Location"]).content.decode()
    assert dispute.case_number in receipt and "二楼8号窗口" in receipt


def test_the_reception_pages_are_the_receptions_only(demo, client):
    _client(client, "citizen1@demo.odr")
    assert client.get("/reception/").status_code == 403
    assert client.get("/grid/report/").status_code == 403


def test_the_case_page_hands_the_case_to_another_window(demo, client):
    _client(client, "reception@demo.odr")
    body = _walk_in(client)
    page = client.get(f"/disputes/{body['id']}/").content.decode()
    assert 'id="handoff-window"' in page and "劳动争议调解窗口" in page
    response = client.post(f"/disputes/{body['id']}/handoff/", {"window": _window("labour").pk})
    assert response.status_code == 302
    dispute = Dispute.objects.get(pk=body["id"])
    assert dispute.window == _window("labour") and dispute.case_number == body["case_number"]
    assert AuditEvent.objects.filter(dispute=dispute, action="dispute.handoff").count() == 1
