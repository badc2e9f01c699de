"""The room page: only the session's participants see it; everyone else gets 404."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import resolve
from django.utils import timezone

from sessions.models import MediationSession
from tests import factories


@pytest.fixture
def session(demo) -> MediationSession:
    dispute = factories.dispute_in_mediation()
    return MediationSession.objects.create(
        dispute=dispute,
        created_by=dispute.mediator,
        scheduled_at=timezone.now() + timedelta(hours=1),
        recording_requested=True,
    )


def test_room_url_of_a_session_resolves_to_the_media_room_page(session):
    assert resolve(session.room_url).view_name == "media:room"


@pytest.mark.parametrize("email", ["mediator@demo.odr", "citizen1@demo.odr", "citizen2@demo.odr"])
def test_participants_get_the_room_page_with_its_client(client, session, email):
    client.force_login(factories.demo_user(email))
    page = client.get(session.room_url)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="room-config"' in html and "frontend/room.js" in html
    assert 'id="consent-recording"' in html  # the mediator asked to record
    assert page.context["config"]["wsPath"] == f"/ws/sessions/{session.pk}/"


@pytest.mark.parametrize("email", ["coordinator@demo.odr", "clerk@demo.odr", "admin@demo.odr"])
def test_people_outside_the_session_get_404_on_the_room_page(client, session, email):
    client.force_login(factories.demo_user(email))
    assert client.get(session.room_url).status_code == 404


def test_anonymous_visitors_are_sent_to_log_in(client, session):
    answer = client.get(session.room_url)
    assert answer.status_code == 302 and "/accounts/login/" in answer["Location"]


def test_the_room_scripts_translation_catalogue_is_served(client, demo):
    answer = client.get("/jsi18n/media/")
    assert answer.status_code == 200 and b"gettext" in answer.content


def test_the_room_page_leads_back_to_its_case(client, session):
    client.force_login(factories.demo_user("citizen1@demo.odr"))
    html = client.get(session.room_url).content.decode()
    assert f'href="/disputes/{session.dispute_id}/"' in html
