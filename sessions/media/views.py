"""The room page (/sessions/<id>/room/): pre-join check, consent, lobby and the room,
all driven by frontend/static/frontend/room.js."""

from __future__ import annotations

from pathlib import Path

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.i18n import JavaScriptCatalog

from odr import selectors as odr_selectors
from odr.people import display_name
from sessions.media.recording import recording_active
from sessions.media.selectors import consent_of, session_for_participant
from sessions.models import MediationSession
from sessions.selectors import MEDIATOR, room_role_of

LOCALE_DIR = Path(__file__).resolve().parent / "locale"


@login_required
@ensure_csrf_cookie
def room(request: HttpRequest, session_id: int) -> HttpResponse:
    # A NotFound (not a participant) answers 404 (odr.middleware.NotFoundMiddleware).
    session = session_for_participant(user=request.user, session_id=session_id)
    role = room_role_of(session, request.user)
    participant = consent_of(session, request.user)
    config = {
        "sessionId": session.pk,
        "role": role,
        "isMediator": role == MEDIATOR,
        # Network figures (ms, %, kbit/s) are for staff; parties read words (issue 13).
        "staff": role == MEDIATOR or odr_selectors.user_is_staff_member(request.user),
        "name": display_name(request.user),
        "wsPath": f"/ws/sessions/{session.pk}/",
        "api": f"/api/v1/sessions/{session.pk}",
        "recordingRequested": session.recording_requested,
        "recordingActive": recording_active(session),
        "consentedOnline": bool(participant and participant.consented_online_at),
        "consentedRecording": bool(participant and participant.consented_recording_at),
        "over": session.status
        in (MediationSession.Status.ENDED, MediationSession.Status.CANCELLED),
    }
    return render(
        request,
        "mediation/room.html",
        {
            "session": session,
            "dispute": session.dispute,
            "config": config,
            "role": role,
            "is_mediator": role == MEDIATOR,
        },
    )


class MediaJavaScriptCatalog(JavaScriptCatalog):
    """The room's JS strings come from this package's own djangojs catalogue, which is
    not an installed app's and so needs its path given."""

    domain = "djangojs"
    packages = ["sessions.media"]

    def get_paths(self, packages: list[str]) -> list[str]:
        return [str(LOCALE_DIR)]
