"""Media endpoints of the rooms (extra to CONTRACT §3): the network self-test against the
server's echo peer, the pre-join consent, and the recorder."""

from __future__ import annotations

from typing import Literal

from aiortc import RTCSessionDescription
from asgiref.sync import sync_to_async
from django.http import HttpRequest
from ninja import Field, Router, Schema

from sessions.media import recording, selftest
from sessions.media.selectors import (
    latest_recording,
    recording_consent_complete,
    session_for_participant,
)
from sessions.models import MediationSession

router = Router(tags=["media"])


class SdpIn(Schema):
    sdp: str = Field(max_length=selftest.MAX_SDP)
    type: Literal["offer"]


class SdpOut(Schema):
    sdp: str
    type: str


class SelfTestIn(Schema):
    rtt_ms: float = Field(ge=0, le=60_000)
    loss_pct: float = Field(ge=0, le=100)
    bitrate_kbps: float = Field(ge=0, le=10_000_000)
    jitter_ms: float | None = Field(default=None, ge=0, le=60_000)


class SelfTestOut(Schema):
    grade: Literal["good", "fair", "poor"]
    words: str
    rtt_ms: float
    loss_pct: float
    bitrate_kbps: float


class ConsentIn(Schema):
    online: bool
    recording: bool = False


class RecordingOut(Schema):
    active: bool
    requested: bool
    consents_complete: bool
    recording_id: int | None = None
    sha256: str = ""


def _session(request: HttpRequest, session_id: int) -> MediationSession:
    return session_for_participant(user=request.auth, session_id=session_id)


def _recording_state(session: MediationSession) -> dict:
    last = latest_recording(session)
    return {
        "active": recording.recording_active(session),
        "requested": session.recording_requested,
        "consents_complete": recording_consent_complete(session),
        "recording_id": last.pk if last else None,
        "sha256": last.sha256 if last else "",
    }


@router.post("/sessions/{session_id}/selftest", response=SdpOut)
async def selftest_offer(request: HttpRequest, session_id: int, payload: SdpIn) -> dict:
    """Answer the browser's offer with a fresh echo peer (all candidates in the answer)."""
    await sync_to_async(_session)(request, session_id)
    offer = selftest.parse_offer(sdp=payload.sdp, type_=payload.type)
    answer = await selftest.answer_with_echo(offer, user_id=request.auth.pk)
    return {"sdp": answer.sdp, "type": answer.type}


@router.post("/sessions/{session_id}/selftest/result", response=SelfTestOut)
def selftest_result(request: HttpRequest, session_id: int, payload: SelfTestIn) -> dict:
    """Grade the browser's figures and keep them with the attendance record."""
    from sessions.services import room_record_self_test

    session = _session(request, session_id)
    grade = selftest.grade_network(
        rtt_ms=payload.rtt_ms, loss_pct=payload.loss_pct, bitrate_kbps=payload.bitrate_kbps
    )
    result = {
        "rtt_ms": round(payload.rtt_ms, 1),
        "loss_pct": round(payload.loss_pct, 2),
        "bitrate_kbps": round(payload.bitrate_kbps),
        "grade": grade,
    }
    if payload.jitter_ms is not None:
        result["jitter_ms"] = round(payload.jitter_ms, 1)
    room_record_self_test(session=session, user=request.auth, result=result)
    return {**result, "words": selftest.grade_words(grade)}


@router.post("/sessions/{session_id}/consent", response=RecordingOut)
def consent(request: HttpRequest, session_id: int, payload: ConsentIn) -> dict:
    """The pre-join consent to online mediation and, when asked, to recording."""
    from sessions.services import room_record_consent

    session = _session(request, session_id)
    room_record_consent(
        session=session, user=request.auth, online=payload.online, recording=payload.recording
    )
    return _recording_state(session)


@router.get("/sessions/{session_id}/recording", response=RecordingOut)
def recording_state(request: HttpRequest, session_id: int) -> dict:
    return _recording_state(_session(request, session_id))


@router.post("/sessions/{session_id}/recording/start", response=RecordingOut)
async def recording_start(request: HttpRequest, session_id: int) -> dict:
    session = await sync_to_async(_session)(request, session_id)
    await recording.start_recording(session=session, actor=request.auth)
    return await sync_to_async(_recording_state)(session)


@router.post("/sessions/{session_id}/recording/stop", response=RecordingOut)
async def recording_stop(request: HttpRequest, session_id: int) -> dict:
    session = await sync_to_async(_session)(request, session_id)
    await sync_to_async(recording.ensure_mediator)(session=session, user=request.auth)
    await recording.finish_recording(session.pk, actor=request.auth)
    return await sync_to_async(_recording_state)(session)


@router.post("/sessions/{session_id}/recording/offer", response=SdpOut)
async def recording_offer(request: HttpRequest, session_id: int, payload: SdpIn) -> dict:
    """A client in the room sends its own media to the recorder over one extra peer
    connection."""
    session = await sync_to_async(_session)(request, session_id)
    offer = selftest.parse_offer(sdp=payload.sdp, type_=payload.type)
    answer = await recording.recorder_answer(
        session=session, user=request.auth, offer=RTCSessionDescription(offer.sdp, "offer")
    )
    return {"sdp": answer.sdp, "type": answer.type}
