"""Grid workers (issue 10, point 2): a report from rounds, settled on the spot (a counted
report row, no case) or not (a dispute of the village committee, channel grid, which may
escalate to the township); the phone's UUID makes a report sent twice one report."""

from __future__ import annotations

import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from odr import services
from odr.models import AuditEvent, Dispute, Evidence, GridReport, GridReportPhoto
from tests import factories
from tests.odr.api_support import assert_error

pytestmark = pytest.mark.django_db

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00"
    b"\x00\x90wS\xde\x00\x00\x00\x0cIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N"
    b"\x00\x00\x00\x00IEND\xaeB`\x82"
)


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def _report(client, **extra):
    data = {
        "client_uuid": str(uuid.uuid4()),
        "category": "neighbour",
        "place": "余村18号门前",
        "facts": "两家因排水沟堵塞争吵。",
        "outcome": "not_settled",
        "party_name": ["张三", "王五"],
        "party_phone": ["13800000001", "13800000055"],
        **extra,
    }
    return client.post("/api/v1/grid/reports", data), data


def _grid_client(client):
    client.force_login(factories.demo_user("gridworker@demo.odr"))
    return client


def test_an_unsettled_report_becomes_a_dispute_of_the_village_committee(demo, client, media):
    _grid_client(client)
    photo = SimpleUploadedFile("现场.png", PNG, content_type="image/png")
    response, _data = _report(client, photos=[photo])
    assert response.status_code == 201, response.content
    report = GridReport.objects.get()
    dispute = report.dispute
    assert dispute.channel == Dispute.Channel.GRID
    assert dispute.organisation.name == "余村人民调解委员会"
    assert dispute.region.code == "330523101201"
    assert dispute.filed_by.email == "gridworker@demo.odr"
    assert [p.name for p in dispute.parties.order_by("role", "position")] == ["张三", "王五"]
    assert Evidence.objects.filter(dispute=dispute).count() == 1
    assert response.json()["case_number"] == dispute.case_number


def test_the_village_committee_can_escalate_a_grid_case_to_the_township(demo, client, media):
    _grid_client(client)
    _report(client)
    dispute = GridReport.objects.get().dispute
    respondent = dispute.parties.get(role="respondent")
    dispute = services.invitation_accept(
        token=respondent.invitation.token,
        user=factories.demo_user("citizen2@demo.odr"),
        consent_online=True,
        confirm_identity=True,
    )
    escalated = services.dispute_escalate(
        dispute=dispute, actor=factories.demo_user("coordinator.yucun@demo.odr"), reason="涉及多户"
    )
    assert escalated.organisation.name == "天荒坪镇人民调解委员会"
    assert escalated.case_number == dispute.case_number


def test_a_report_settled_on_the_spot_is_recorded_and_counted_without_a_case(demo, client, media):
    _grid_client(client)
    photo = SimpleUploadedFile("和解.png", PNG, content_type="image/png")
    response, _data = _report(
        client, outcome="settled", settlement="王家三日内疏通水沟。", photos=[photo]
    )
    assert response.status_code == 201, response.content
    report = GridReport.objects.get()
    assert report.outcome == GridReport.Outcome.SETTLED and report.dispute is None
    assert report.settlement == "王家三日内疏通水沟。"
    assert GridReportPhoto.objects.filter(report=report).count() == 1
    assert not Dispute.objects.exists()
    assert GridReport.objects.filter(outcome="settled").count() == 1
    assert AuditEvent.objects.filter(action="grid_report.submit").count() == 1


def test_settled_on_the_spot_needs_what_was_agreed(demo, client, media):
    _grid_client(client)
    response, _data = _report(client, outcome="settled")
    assert_error(response, 400, "settlement_required")
    assert not GridReport.objects.exists()


def test_the_same_report_sent_twice_is_one_report(demo, client, media):
    _grid_client(client)
    first, data = _report(client)
    again = client.post("/api/v1/grid/reports", data)
    assert first.status_code == 201 and again.status_code == 200, again.content
    assert again.json() == first.json()
    assert GridReport.objects.count() == 1 and Dispute.objects.count() == 1


def test_a_photo_that_is_not_an_image_is_refused_and_nothing_is_kept(demo, client, media):
    _grid_client(client)
    bad = SimpleUploadedFile("a.png", b"not an image", content_type="image/png")
    response, _data = _report(client, photos=[bad])
    assert 400 <= response.status_code < 500
    assert not GridReport.objects.exists() and not Dispute.objects.exists()


def test_only_a_grid_worker_reports(demo, client, media):
    client.force_login(factories.demo_user("citizen1@demo.odr"))
    response, _data = _report(client)
    assert_error(response, 403, "grid_worker_only")
    assert not GridReport.objects.exists()
