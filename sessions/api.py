"""The session part of the JSON API (CONTRACT §3): scheduling, the room ticket, minutes.
Thin: parse, find the object through a selector (404 when not visible), one service."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.http import HttpRequest
from ninja import Router, Schema, Status
from pydantic import Field

from odr import selectors as odr_selectors
from sessions import selectors, services
from sessions.models import MediationSession
from sessions.transitions import session_actions

router = Router(tags=["sessions"])


class SessionIn(Schema):
    scheduled_at: datetime | None = None
    proposed_times: list[datetime] | None = Field(default=None, max_length=5)
    duration_minutes: int = Field(default=60, ge=15, le=480)


class SessionOut(Schema):
    id: int
    dispute: int
    status: str
    scheduled_at: datetime | None
    proposed_times: list[datetime]
    duration_minutes: int
    room_url: str
    started_at: datetime | None
    ended_at: datetime | None
    minutes: str
    actions: list[str]


class TicketOut(Schema):
    ws_url: str
    ticket: str
    expires_at: datetime
    ice_servers: list[dict[str, Any]]


class RescheduleIn(Schema):
    scheduled_at: datetime
    duration_minutes: int | None = Field(default=None, ge=15, le=480)


class CancelIn(Schema):
    reason: str = Field(default="", max_length=2000)


class PickIn(Schema):
    time: datetime


class MinutesIn(Schema):
    minutes: str = Field(max_length=services.MAX_MINUTES_CHARS)


def session_out(session: MediationSession, user: AbstractBaseUser) -> dict[str, Any]:
    minutes_visible = selectors.room_role_of(session, user) is not None or (
        odr_selectors.user_is_staff_member(user)
    )
    return {
        "id": session.pk,
        "dispute": session.dispute_id,
        "status": session.status,
        "scheduled_at": session.scheduled_at,
        "proposed_times": [datetime.fromisoformat(t) for t in session.proposed_times or []],
        "duration_minutes": session.duration_minutes,
        "room_url": session.room_url,
        "started_at": session.started_at,
        "ended_at": session.ended_at,
        "minutes": session.minutes if minutes_visible else "",
        "actions": session_actions(session, user),
    }


def _ws_url(request: HttpRequest, session_id: int) -> str:
    scheme = "wss" if request.is_secure() else "ws"
    return f"{scheme}://{request.get_host()}/ws/sessions/{session_id}/"


@router.post("/disputes/{dispute_id}/sessions", response={201: SessionOut})
def session_create(
    request: HttpRequest, dispute_id: int, payload: SessionIn
) -> Status[dict[str, Any]]:
    dispute = odr_selectors.dispute_get_for(user=request.auth, dispute_id=dispute_id)
    session = services.session_schedule(
        dispute=dispute,
        actor=request.auth,
        scheduled_at=payload.scheduled_at,
        proposed_times=payload.proposed_times,
        duration_minutes=payload.duration_minutes,
    )
    return Status(201, session_out(session, request.auth))


@router.get("/sessions/{session_id}", response=SessionOut)
def session_detail(request: HttpRequest, session_id: int) -> dict[str, Any]:
    session = selectors.session_get_for(user=request.auth, session_id=session_id)
    return session_out(session, request.auth)


@router.post("/sessions/{session_id}/ticket", response=TicketOut)
def session_ticket(request: HttpRequest, session_id: int) -> dict[str, Any]:
    session = selectors.session_get_for(user=request.auth, session_id=session_id)
    ticket, expires_at = services.ticket_issue(session=session, user=request.auth)
    return {
        "ws_url": _ws_url(request, session.pk),
        "ticket": ticket,
        "expires_at": expires_at,
        "ice_servers": services.ice_servers_for(request.auth),
    }


@router.post("/sessions/{session_id}/reschedule", response=SessionOut)
def session_reschedule(request: HttpRequest, session_id: int, payload: RescheduleIn):
    session = selectors.session_get_for(user=request.auth, session_id=session_id)
    session = services.session_reschedule(
        session=session,
        actor=request.auth,
        scheduled_at=payload.scheduled_at,
        duration_minutes=payload.duration_minutes,
    )
    return session_out(session, request.auth)


@router.post("/sessions/{session_id}/cancel", response=SessionOut)
def session_cancel(request: HttpRequest, session_id: int, payload: CancelIn):
    session = selectors.session_get_for(user=request.auth, session_id=session_id)
    session = services.session_cancel(session=session, actor=request.auth, reason=payload.reason)
    return session_out(session, request.auth)


@router.post("/sessions/{session_id}/pick", response=SessionOut)
def session_pick(request: HttpRequest, session_id: int, payload: PickIn):
    session = selectors.session_get_for(user=request.auth, session_id=session_id)
    session = services.session_pick(session=session, actor=request.auth, time=payload.time)
    return session_out(session, request.auth)


@router.post("/sessions/{session_id}/end", response=SessionOut)
def session_end(request: HttpRequest, session_id: int):
    session = selectors.session_get_for(user=request.auth, session_id=session_id)
    session = services.session_end(session=session, actor=request.auth)
    return session_out(session, request.auth)


@router.put("/sessions/{session_id}/minutes", response=SessionOut)
def session_minutes(request: HttpRequest, session_id: int, payload: MinutesIn):
    session = selectors.session_get_for(user=request.auth, session_id=session_id)
    session = services.session_minutes_save(
        session=session, actor=request.auth, minutes=payload.minutes
    )
    return session_out(session, request.auth)
