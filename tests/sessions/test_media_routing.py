"""Issue 13, point 6: the recorder runs in the process that started it; an offer or the
stop that reaches another Daphne process is routed to it over the channel layer (the
route kept in the cache with an expiry). The self-test's echo peer needs no routing: its
offer and answer are one HTTP exchange answered by the process that holds the peer."""

from __future__ import annotations

import asyncio

import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from channels.db import database_sync_to_async
from django.utils import timezone

from odr.errors import DomainError
from odr.models import AuditEvent
from sessions.media import recording
from sessions.models import Recording, RoomParticipant
from tests import factories
from tests.sessions.support.scripted_peer import ToneAudio

pytestmark = pytest.mark.django_db(transaction=True)
LOCAL_ONLY = RTCConfiguration(iceServers=[])


def _recordable(room) -> None:
    room.session.recording_requested = True
    room.session.save(update_fields=["recording_requested"])
    factories.room_in_session(room.session)
    now = timezone.now()
    RoomParticipant.objects.filter(session=room.session).update(
        consented_online_at=now, consented_recording_at=now
    )


async def test_an_offer_and_the_stop_from_another_process_reach_the_recorder(room):
    await database_sync_to_async(_recordable)(room)
    sid = room.session.pk
    await recording.start_recording(session=room.session, actor=room.mediator)
    assert await database_sync_to_async(recording.recorder_route)(sid)
    # What another process does with an offer it receives: it holds no recorder, so it
    # asks the one that does, over the channel layer.
    pc = RTCPeerConnection(LOCAL_ONLY)
    pc.addTrack(ToneAudio())
    try:
        await pc.setLocalDescription(await pc.createOffer())
        answer = await recording._ask_recorder(
            sid,
            {
                "type": "recorder.offer",
                "sdp": pc.localDescription.sdp,
                "user_id": room.applicant.pk,
            },
        )
        assert answer["type"] == "recorder.answer" and answer["sdp"].startswith("v=0")
        await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))
        assert room.applicant.pk in recording._recorders[sid].peers
        await asyncio.sleep(1)
        # ... and the stop, by the mediator, from another process.
        stopped = await recording._ask_recorder(
            sid, {"type": "recorder.stop", "actor_id": room.mediator.pk}
        )
        assert stopped == {"type": "recorder.stopped"}
    finally:
        await pc.close()
    assert sid not in recording._recorders
    await asyncio.sleep(0.2)
    assert await database_sync_to_async(recording.recorder_route)(sid) is None

    def saved() -> tuple[bool, int]:
        row = Recording.objects.get(session_id=sid)
        return row.ended_at is not None, AuditEvent.objects.filter(
            action="session.recording_saved", actor_id=room.mediator.pk
        ).count()

    assert await database_sync_to_async(saved)() == (True, 1)


async def test_without_a_recorder_in_any_process_an_offer_is_refused(room):
    await database_sync_to_async(_recordable)(room)
    assert await recording._ask_recorder(room.session.pk, {"type": "recorder.stop"}) is None
    with pytest.raises(DomainError) as refused:
        await recording.recorder_answer(
            session=room.session,
            user=room.applicant,
            offer=RTCSessionDescription("v=0\r\n", "offer"),
        )
    assert refused.value.code == "not_recording"


async def test_a_running_recording_elsewhere_is_not_abandoned_by_a_second_start(room):
    await database_sync_to_async(_recordable)(room)
    await recording.start_recording(session=room.session, actor=room.mediator)
    # Another process (it does not hold the recorder) is asked to start one.
    held = recording._recorders.pop(room.session.pk)
    try:
        with pytest.raises(DomainError) as refused:
            await database_sync_to_async(recording.recording_begin)(
                session=room.session, actor=room.mediator
            )
        assert refused.value.code == "recording_running"
    finally:
        recording._recorders[room.session.pk] = held
    await recording.finish_recording(room.session.pk, actor=room.mediator)
