"""The 12345 hotline bridge's API (CONTRACT §3): the hotline system files and reads tickets
with its Bearer token; the staff of the case's organisation record first contact and close
tickets; the caller answers the survey by its link."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema, Status
from ninja.security import HttpBearer

from odr import figures, selectors
from odr.errors import NotFound
from odr.models import HotlineTicket, HotlineToken
from odr.services import hotline
from odr.transitions import TICKET_MACHINE

router = Router(tags=["hotline"])


class HotlineBearer(HttpBearer):
    """`Authorization: Bearer <token>` of an active hotline token (CONTRACT §1)."""

    def authenticate(self, request: HttpRequest, token: str) -> HotlineToken | None:
        return hotline.token_authenticate(token)


class CallerIn(Schema):
    name: str
    phone: str


class TicketIn(Schema):
    ticket_id: str
    received_at: datetime
    caller: CallerIn
    text: str
    region: str
    category: str | None = None
    respond_by: datetime | None = None


class TicketCreated(Schema):
    id: int
    ticket_id: str
    dispute: int
    status: str


class TicketOut(Schema):
    ticket_id: str
    status: str
    responded_at: datetime | None
    resolved_at: datetime | None
    satisfaction: int | None


class TicketStaffOut(TicketOut):
    dispute: int
    received_at: datetime
    respond_by: datetime
    closed_at: datetime | None
    responded_late: bool | None
    actions: list[str]


class TicketActionIn(Schema):
    reason: str = ""


class SurveyIn(Schema):
    score: int
    comment: str = ""


def _created(ticket: HotlineTicket) -> dict[str, Any]:
    return {
        "id": ticket.pk,
        "ticket_id": ticket.ticket_id,
        "dispute": ticket.dispute_id,
        "status": ticket.status,
    }


def _out(ticket: HotlineTicket) -> dict[str, Any]:
    return {
        "ticket_id": ticket.ticket_id,
        "status": ticket.status,
        "responded_at": ticket.responded_at,
        "resolved_at": ticket.resolved_at,
        "satisfaction": ticket.satisfaction,
    }


@router.post(
    "/hotline/tickets", response={200: TicketCreated, 201: TicketCreated}, auth=HotlineBearer()
)
def ticket_create(request: HttpRequest, payload: TicketIn) -> Status[dict[str, Any]]:
    ticket, created = hotline.ticket_receive(
        token=request.auth,
        ticket_id=payload.ticket_id,
        received_at=payload.received_at,
        caller_name=payload.caller.name,
        caller_phone=payload.caller.phone,
        text=payload.text,
        region_code=payload.region,
        category=payload.category,
        respond_by=payload.respond_by,
    )
    return Status(201 if created else 200, _created(ticket))


@router.get("/hotline/tickets/{ticket_id}", response=TicketOut, auth=HotlineBearer())
def ticket_detail(request: HttpRequest, ticket_id: str) -> dict[str, Any]:
    return _out(hotline.ticket_get(ticket_id=ticket_id))


def _staff_ticket(request: HttpRequest, ticket_id: str) -> HotlineTicket:
    """The ticket of a case this user may see, else 404."""
    ticket = hotline.ticket_get(ticket_id=ticket_id)
    dispute = selectors.dispute_get_for(user=request.auth, dispute_id=ticket.dispute_id)
    ticket.dispute = dispute
    return ticket


def _staff_out(ticket: HotlineTicket, user: Any) -> dict[str, Any]:
    return {
        **_out(ticket),
        "dispute": ticket.dispute_id,
        "received_at": ticket.received_at,
        "respond_by": ticket.respond_by,
        "closed_at": ticket.closed_at,
        "responded_late": ticket.responded_late,
        "actions": TICKET_MACHINE.actions(ticket, user),
    }


@router.get("/hotline/tickets/{number}/case", response=TicketStaffOut)
def ticket_for_staff(request: HttpRequest, number: str) -> dict[str, Any]:
    """The ticket (by its `ticket_id`) as the case's people see it, with the actions they
    may take; 404 for anyone who does not see the case."""
    return _staff_out(_staff_ticket(request, number), request.auth)


@router.post("/hotline/tickets/{number}/actions/{action}", response=TicketStaffOut)
def ticket_action(
    request: HttpRequest, number: str, action: str, payload: TicketActionIn | None = None
) -> dict[str, Any]:
    """`respond` (first contact made now), `resolve`, `close_unresolved` (`{reason}`), by
    the staff of the case's organisation (its coordinators and mediators)."""
    ticket = _staff_ticket(request, number)
    if action not in TICKET_MACHINE:
        raise NotFound()
    hotline.ticket_action(
        ticket=ticket,
        actor=request.auth,
        action=action,
        data=payload.dict() if payload else {},
    )
    return _staff_out(_staff_ticket(request, number), request.auth)


@router.post("/hotline/surveys/{token}", response={204: None}, auth=None)
def survey_answer(request: HttpRequest, token: str, payload: SurveyIn) -> Status[None]:
    """The caller's answer (1–5 and a comment), once: a second answer is 410."""
    hotline.survey_submit(token=token, score=payload.score, comment=payload.comment)
    return Status(204, None)


@router.get("/dashboard", response=dict, tags=["statistics"])
def dashboard(request: HttpRequest) -> dict[str, Any]:
    """The county's figures for the centre's staff and intake coordinators (the dashboard
    page's, unsuppressed, for their organisation's area); anyone else 404."""
    return figures.dashboard(request.auth)
