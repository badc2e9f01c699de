"""Issue 13: people read their network quality in words (良好/一般/较差); the figures
behind a grade (ms, %, kbit/s) are for the mediator and staff only, on the session page
and in the room (the room page tells its script whether to show them)."""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client

from sessions.models import Attendance

pytestmark = pytest.mark.django_db

FIGURES = {"rtt_ms": 37, "loss_pct": 0.5, "bitrate_kbps": 3049.0, "grade": "good"}


def _page(user, url: str) -> str:
    client = Client()
    client.force_login(user)
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def test_the_session_page_shows_network_figures_to_the_mediator_and_words_to_the_parties(room):
    for user in (room.mediator, room.applicant):
        Attendance.objects.create(session=room.session, user=user, self_test=FIGURES)
    url = f"/sessions/{room.session.pk}/"

    mediator = _page(room.mediator, url)
    assert "3049.0 kbit/s" in mediator and "37 ms" in mediator

    party = _page(room.applicant, url)
    assert "良好" in party
    assert "kbit/s" not in party and "37 ms" not in party


def _room_config(html: str) -> dict:
    found = re.search(r'<script id="room-config" type="application/json">(.*?)</script>', html)
    assert found
    return json.loads(found.group(1))


def test_the_room_page_gives_figures_to_staff_only_and_has_no_site_chrome(room):
    url = f"/sessions/{room.session.pk}/room/"
    mediator = _page(room.mediator, url)
    party = _page(room.applicant, url)
    assert _room_config(mediator)["staff"] is True
    assert _room_config(party)["staff"] is False
    for html in (mediator, party):
        # In a call the room is the whole screen: no site header, menu or footer.
        assert 'class="site-header"' not in html and 'class="site-footer"' not in html
        # The way back leads to the case, not to the home page.
        assert f'id="back-to-case" href="/disputes/{room.session.dispute_id}/"' in html
