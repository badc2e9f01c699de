"""Scheduling through the API and the services: who may, the e-mails with their calendar
files, picking a proposed time, rescheduling and cancelling, minutes; each audited."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from odr.models import AuditEvent, Dispute
from sessions import services
from sessions.models import MediationSession
from tests import factories

pytestmark = pytest.mark.django_db
S = MediationSession.Status


def _client(email: str | None) -> Client:
    client = Client()
    if email:
        client.force_login(factories.demo_user(email))
    return client


def _post(client: Client, path: str, body: dict | None = None, method: str = "post"):
    return getattr(client, method)(
        path, data=json.dumps(body or {}), content_type="application/json"
    )


def _unfold(ics_text: str) -> list[str]:
    assert "\r\n" in ics_text
    return ics_text.replace("\r\n ", "").split("\r\n")


def _ics(message) -> str:
    ((name, content, _mimetype),) = [a for a in message.attachments if a[2] == "text/calendar"]
    assert name.endswith(".ics")
    return content


@pytest.fixture
def case(demo) -> Dispute:
    return factories.dispute_in_mediation()


def test_the_mediator_schedules_a_session_and_both_parties_get_a_calendar_file(
    case, django_capture_on_commit_callbacks
):
    when = (timezone.now() + timedelta(days=3)).replace(microsecond=0)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(
            _client("mediator@demo.odr"),
            f"/api/v1/disputes/{case.pk}/sessions",
            {"scheduled_at": when.isoformat()},
        )
    assert response.status_code == 201, response.content
    body = response.json()
    session = MediationSession.objects.get(pk=body["id"])
    assert body["status"] == "scheduled"
    assert body["room_url"] == f"/sessions/{session.pk}/room/"
    assert datetime.fromisoformat(body["scheduled_at"]) == when
    assert session.scheduled_at == when
    recipients = sorted(m.to[0] for m in mail.outbox)
    assert recipients == ["citizen1@demo.odr", "citizen2@demo.odr", "mediator@demo.odr"]
    lines = _unfold(_ics(mail.outbox[0]))
    assert "METHOD:REQUEST" in lines
    assert f"UID:{session.ics_uid}@127.0.0.1" in lines
    assert "SEQUENCE:0" in lines
    assert f"DTSTART:{when.astimezone(UTC).strftime('%Y%m%dT%H%M%SZ')}" in lines
    assert (
        f"DTEND:{(when + timedelta(minutes=60)).astimezone(UTC).strftime('%Y%m%dT%H%M%SZ')}"
        in lines
    )
    assert any(line.startswith("URL:") and line.endswith(session.room_url) for line in lines)
    assert lines[0] == "BEGIN:VCALENDAR" and lines[-2] == "END:VCALENDAR"
    assert AuditEvent.objects.filter(action="session.schedule", dispute=case).exists()


@pytest.mark.parametrize(
    ("email", "status", "code"),
    [
        ("citizen1@demo.odr", 403, "mediator_only"),
        ("coordinator@demo.odr", 403, "mediator_only"),
        ("mediator.yucun@demo.odr", 404, "not_found"),
        (None, 401, "unauthenticated"),
    ],
)
def test_only_the_cases_mediator_schedules(case, email, status, code):
    response = _post(
        _client(email),
        f"/api/v1/disputes/{case.pk}/sessions",
        {"scheduled_at": (timezone.now() + timedelta(days=1)).isoformat()},
    )
    assert response.status_code == status
    assert response.json()["code"] == code
    assert not MediationSession.objects.exists()


def test_a_case_not_in_mediation_cannot_have_a_session(demo):
    dispute = factories.dispute_awaiting_intake()
    Dispute.objects.filter(pk=dispute.pk).update(mediator=factories.demo_user("mediator@demo.odr"))
    response = _post(
        _client("mediator@demo.odr"),
        f"/api/v1/disputes/{dispute.pk}/sessions",
        {"scheduled_at": (timezone.now() + timedelta(days=1)).isoformat()},
    )
    assert response.status_code == 409
    assert response.json()["code"] == "invalid_status"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"scheduled_at": "2001-01-01T10:00:00+08:00"}, "time_in_past"),
        ({}, "invalid_time"),
        ({"scheduled_at": "tomorrow"}, "validation_error"),
    ],
)
def test_bad_times_are_refused(case, body, code):
    response = _post(_client("mediator@demo.odr"), f"/api/v1/disputes/{case.pk}/sessions", body)
    assert 400 <= response.status_code < 500
    assert response.json()["code"] == code
    assert not MediationSession.objects.exists()


def test_parties_pick_one_of_the_proposed_times(case, django_capture_on_commit_callbacks):
    times = [(timezone.now() + timedelta(days=d)).replace(microsecond=0) for d in (2, 3)]
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(
            _client("mediator@demo.odr"),
            f"/api/v1/disputes/{case.pk}/sessions",
            {"proposed_times": [t.isoformat() for t in times]},
        )
    assert response.status_code == 201
    session_id = response.json()["id"]
    assert response.json()["status"] == "proposed"
    # The parties are asked to choose, without a calendar file yet.
    assert sorted(m.to[0] for m in mail.outbox) == ["citizen1@demo.odr", "citizen2@demo.odr"]
    assert not mail.outbox[0].attachments
    party = _client("citizen2@demo.odr")
    assert "pick" in party.get(f"/api/v1/sessions/{session_id}").json()["actions"]
    refused = _post(
        party,
        f"/api/v1/sessions/{session_id}/pick",
        {"time": (times[0] + timedelta(hours=1)).isoformat()},
    )
    assert refused.status_code == 400 and refused.json()["code"] == "time_not_offered"
    mediator_pick = _post(
        _client("mediator@demo.odr"),
        f"/api/v1/sessions/{session_id}/pick",
        {"time": times[1].isoformat()},
    )
    assert mediator_pick.status_code == 403
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        picked = _post(party, f"/api/v1/sessions/{session_id}/pick", {"time": times[1].isoformat()})
    assert picked.status_code == 200, picked.content
    session = MediationSession.objects.get(pk=session_id)
    assert session.status == S.SCHEDULED and session.scheduled_at == times[1]
    assert len(mail.outbox) == 3 and all(_ics(m) for m in mail.outbox)
    again = _post(
        _client("citizen1@demo.odr"),
        f"/api/v1/sessions/{session_id}/pick",
        {"time": times[0].isoformat()},
    )
    assert again.status_code == 409
    assert AuditEvent.objects.filter(
        action="session.pick", actor__email="citizen2@demo.odr"
    ).exists()


def test_rescheduling_bumps_the_calendar_sequence(case, django_capture_on_commit_callbacks):
    session = services.session_schedule(
        dispute=case, actor=case.mediator, scheduled_at=timezone.now() + timedelta(days=2)
    )
    later = (timezone.now() + timedelta(days=4)).replace(microsecond=0)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(
            _client("mediator@demo.odr"),
            f"/api/v1/sessions/{session.pk}/reschedule",
            {"scheduled_at": later.isoformat()},
        )
    assert response.status_code == 200
    session.refresh_from_db()
    assert session.scheduled_at == later and session.ics_sequence == 1
    lines = _unfold(_ics(mail.outbox[0]))
    assert "SEQUENCE:1" in lines and f"UID:{session.ics_uid}@127.0.0.1" in lines
    assert "METHOD:REQUEST" in lines
    event = AuditEvent.objects.get(action="session.reschedule")
    assert event.before["ics_sequence"] == 0 and event.after["ics_sequence"] == 1
    refused = _post(
        _client("citizen1@demo.odr"),
        f"/api/v1/sessions/{session.pk}/reschedule",
        {"scheduled_at": later.isoformat()},
    )
    assert refused.status_code == 403


def test_cancelling_sends_a_calendar_cancellation(case, django_capture_on_commit_callbacks):
    session = services.session_schedule(
        dispute=case, actor=case.mediator, scheduled_at=timezone.now() + timedelta(days=2)
    )
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(
            _client("mediator@demo.odr"),
            f"/api/v1/sessions/{session.pk}/cancel",
            {"reason": "调解员生病"},
        )
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    lines = _unfold(_ics(mail.outbox[0]))
    assert "METHOD:CANCEL" in lines and "STATUS:CANCELLED" in lines and "SEQUENCE:1" in lines
    assert "调解员生病" in mail.outbox[0].body
    assert AuditEvent.objects.get(action="session.cancel").after["reason"] == "调解员生病"
    again = _post(_client("mediator@demo.odr"), f"/api/v1/sessions/{session.pk}/cancel", {})
    assert again.status_code == 409


def test_session_detail_is_404_for_who_cannot_see_the_case(case):
    session = services.session_schedule(
        dispute=case, actor=case.mediator, scheduled_at=timezone.now() + timedelta(days=2)
    )
    assert (
        _client("mediator.yucun@demo.odr").get(f"/api/v1/sessions/{session.pk}").status_code == 404
    )
    assert _client("citizen1@demo.odr").get("/api/v1/sessions/999999").status_code == 404
    seen = _client("coordinator@demo.odr").get(f"/api/v1/sessions/{session.pk}")
    assert seen.status_code == 200 and seen.json()["actions"] == []


def test_the_mediator_writes_minutes_during_and_after_the_session(case):
    session = services.session_schedule(
        dispute=case, actor=case.mediator, scheduled_at=timezone.now() + timedelta(days=2)
    )
    mediator = _client("mediator@demo.odr")
    response = _post(
        mediator, f"/api/v1/sessions/{session.pk}/minutes", {"minutes": "双方到场。"}, method="put"
    )
    assert response.status_code == 200 and response.json()["minutes"] == "双方到场。"
    services.session_start(session=session, actor=case.mediator)
    services.session_end(session=session, actor=case.mediator)
    response = _post(
        mediator,
        f"/api/v1/sessions/{session.pk}/minutes",
        {"minutes": "双方到场。\n达成一致。"},
        method="put",
    )
    assert response.status_code == 200
    session.refresh_from_db()
    assert session.minutes == "双方到场。\n达成一致。"
    events = AuditEvent.objects.filter(action="session.minutes").order_by("seq")
    assert [e.after["length"] for e in events] == [5, 11]
    refused = _post(
        _client("citizen1@demo.odr"),
        f"/api/v1/sessions/{session.pk}/minutes",
        {"minutes": "x"},
        method="put",
    )
    assert refused.status_code == 403 and refused.json()["code"] == "mediator_only"


def test_the_case_shows_its_sessions(case):
    session = services.session_schedule(
        dispute=case, actor=case.mediator, scheduled_at=timezone.now() + timedelta(days=2)
    )
    body = _client("citizen1@demo.odr").get(f"/api/v1/disputes/{case.pk}").json()
    assert [s["id"] for s in body["sessions"]] == [session.pk]
    assert body["sessions"][0]["room_url"] == session.room_url
