"""Reads for the media side of the rooms, filtered by who is asking."""

from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser

from odr.errors import NotFound
from sessions.models import MediationSession, Recording, RoomParticipant

# Who takes part in a room is the signaling side's rule; the media side uses the same one.
from sessions.selectors import room_role_of


def session_for_participant(*, user: AbstractBaseUser, session_id: int) -> MediationSession:
    """The session if the user takes part in it, else NotFound (never 403: ids cannot be
    probed)."""
    session = (
        MediationSession.objects.select_related("dispute", "dispute__mediator")
        .filter(pk=session_id)
        .first()
    )
    if session is None or room_role_of(session, user) is None:
        raise NotFound()
    return session


def expected_participant_ids(session: MediationSession) -> set[int]:
    """Everyone whose consent a recording needs: the mediator and every party with an
    account (DESIGN.md §3: recording needs every participant's consent)."""
    dispute = session.dispute
    ids = {pk for pk in dispute.parties.values_list("user_id", flat=True) if pk is not None}
    if dispute.mediator_id is not None:
        ids.add(dispute.mediator_id)
    return ids


def recording_consent_complete(session: MediationSession) -> bool:
    """True only when recording was asked for and every expected participant consented."""
    if not session.recording_requested:
        return False
    expected = expected_participant_ids(session)
    consented = set(
        RoomParticipant.objects.filter(
            session=session, consented_recording_at__isnull=False
        ).values_list("user_id", flat=True)
    )
    return bool(expected) and expected <= consented


def consent_of(session: MediationSession, user: AbstractBaseUser) -> RoomParticipant | None:
    return RoomParticipant.objects.filter(session=session, user=user).first()


def latest_recording(session: MediationSession) -> Recording | None:
    return session.recordings.order_by("-started_at", "-pk").first()
