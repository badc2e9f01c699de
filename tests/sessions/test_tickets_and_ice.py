"""Room tickets (single use, short-lived, only their hash stored) and ICE servers with
coturn REST credentials."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from sessions import services
from sessions.models import MediationSession, RoomTicket
from tests import factories
from tests.sessions.conftest import schedule

pytestmark = pytest.mark.django_db


@pytest.fixture
def session(demo) -> MediationSession:
    return schedule()


def _client(email: str) -> Client:
    client = Client()
    client.force_login(factories.demo_user(email))
    return client


def test_a_participant_gets_a_ticket_with_the_socket_address_and_ice_servers(session, settings):
    settings.ODR_STUN_URLS = ["stun:stun.example.org:3478"]
    response = _client("citizen1@demo.odr").post(f"/api/v1/sessions/{session.pk}/ticket")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["ws_url"] == f"ws://testserver/ws/sessions/{session.pk}/"
    assert len(body["ticket"]) >= 40
    assert body["ice_servers"] == [{"urls": ["stun:stun.example.org:3478"]}]
    stored = RoomTicket.objects.get()
    # Only the SHA-256 is kept: the database alone opens no room.
    assert stored.token_hash == hashlib.sha256(body["ticket"].encode()).hexdigest()
    assert body["ticket"] not in stored.token_hash
    ttl = stored.expires_at - timezone.now()
    assert timedelta(seconds=50) < ttl <= timedelta(seconds=60)


def test_staff_who_see_the_case_get_no_ticket_and_strangers_get_404(session):
    response = _client("coordinator@demo.odr").post(f"/api/v1/sessions/{session.pk}/ticket")
    assert response.status_code == 403
    assert response.json()["code"] == "not_participant"
    response = _client("mediator.yucun@demo.odr").post(f"/api/v1/sessions/{session.pk}/ticket")
    assert response.status_code == 404
    assert not RoomTicket.objects.exists()


def test_no_ticket_for_a_cancelled_session(session):
    services.session_cancel(session=session, actor=session.dispute.mediator)
    response = _client("citizen1@demo.odr").post(f"/api/v1/sessions/{session.pk}/ticket")
    assert response.status_code == 409
    assert response.json()["code"] == "session_closed"


def test_a_ticket_is_redeemed_once_and_only_for_its_session(session):
    user = factories.demo_user("citizen1@demo.odr")
    token, _ = services.ticket_issue(session=session, user=user)
    assert services.ticket_redeem(session_id=session.pk + 1, token=token) is None
    assert services.ticket_redeem(session_id=session.pk, token=token) == user
    assert services.ticket_redeem(session_id=session.pk, token=token) is None
    assert services.ticket_redeem(session_id=session.pk, token="") is None


def test_a_ticket_expires(session):
    user = factories.demo_user("citizen1@demo.odr")
    token, expires_at = services.ticket_issue(session=session, user=user)
    with time_machine.travel(expires_at + timedelta(seconds=1)):
        assert services.ticket_redeem(session_id=session.pk, token=token) is None


def test_turn_credentials_follow_coturns_rest_scheme(session, settings):
    settings.ODR_TURN_URLS = ["turn:turn.example.org:3478?transport=udp"]
    settings.ODR_TURN_SECRET = "s3cret"
    user = factories.demo_user("citizen1@demo.odr")
    with time_machine.travel("2026-12-01 08:00:00+00:00", tick=False):
        servers = services.ice_servers_for(user)
        now = timezone.now()
    (turn,) = servers
    assert turn["urls"] == ["turn:turn.example.org:3478?transport=udp"]
    expiry, user_id = turn["username"].split(":")
    assert int(user_id) == user.pk
    assert int(expiry) == int(now.timestamp()) + 3600
    expected = base64.b64encode(
        hmac.new(b"s3cret", turn["username"].encode(), hashlib.sha1).digest()
    ).decode()
    assert turn["credential"] == expected


def test_without_a_secret_turn_urls_are_given_without_credentials(settings, db):
    settings.ODR_TURN_URLS = ["turn:turn.example.org:3478"]
    settings.ODR_TURN_SECRET = ""
    user = factories.make_user()
    assert services.ice_servers_for(user) == [{"urls": ["turn:turn.example.org:3478"]}]


def test_consent_and_self_test_are_kept_with_the_participant(session):
    user = factories.demo_user("citizen2@demo.odr")
    participant = services.room_record_consent(
        session=session, user=user, online=True, recording=True
    )
    assert participant.consented_online_at and participant.consented_recording_at
    participant = services.room_record_consent(
        session=session, user=user, online=True, recording=False
    )
    assert participant.consented_recording_at is None
    participant = services.room_record_self_test(
        session=session,
        user=user,
        result={"rtt_ms": 80.5, "loss_pct": 2, "bitrate_kbps": 900, "grade": "fair"},
    )
    assert participant.self_test["grade"] == "fair" and participant.role == "respondent"
    from odr.errors import DomainError

    for bad in (
        {"grade": "great"},
        {"rtt_ms": -1, "loss_pct": 0, "bitrate_kbps": 1, "grade": "good"},
    ):
        with pytest.raises(DomainError):
            services.room_record_self_test(session=session, user=user, result=bad)
    with pytest.raises(DomainError) as refused:
        services.room_record_consent(session=session, user=user, online=False, recording=False)
    assert refused.value.code == "consent_required"
    stranger = factories.make_user()
    with pytest.raises(DomainError) as not_found:
        services.room_record_consent(session=session, user=stranger, online=True, recording=False)
    assert not_found.value.status == 404
    from odr.models import AuditEvent

    assert AuditEvent.objects.filter(action="session.consent").count() == 2
    assert json.dumps(AuditEvent.objects.get(action="session.self_test").after)
