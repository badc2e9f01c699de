"""The one-stop centre's and the grid's JSON API (issue 10): visits at the reception, the
hand-off between windows, grid reports (idempotent by the phone's UUID), and the staff's
decision on a possible duplicate. Thin: parse, authorise, one service."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from django.db.models import prefetch_related_objects
from django.http import HttpRequest
from ninja import File, Form, Router, Schema, Status
from ninja.files import UploadedFile
from pydantic import Field

from odr import selectors, services
from odr.models import DuplicateLink, GridReport, Visit, Window
from odr.services.party_input import PartyInput

router = Router(tags=["centre"])


class WindowOut(Schema):
    id: int
    kind: str
    name: str
    location: str
    bring: str


class VisitIn(Schema):
    name: str = Field(min_length=1, max_length=100)
    phone: str = Field(default="", max_length=30)
    id_number: str = Field(default="", max_length=30)
    purpose: str = Field(min_length=1, max_length=5000)


class VisitOut(Schema):
    id: int
    name: str
    phone: str
    purpose: str
    created_at: datetime
    dispute: int | None


class HandoffIn(Schema):
    window: int


class GridReportOut(Schema):
    id: int
    client_uuid: str
    outcome: str
    dispute: int | None
    case_number: str | None
    created_at: datetime


class DuplicateOut(Schema):
    id: int
    dispute: int
    dispute_case_number: str
    original: int
    original_case_number: str
    matched_on: list[str]
    decision: str


def _visit_out(visit: Visit) -> dict[str, Any]:
    return {
        "id": visit.pk,
        "name": visit.name,
        "phone": visit.phone,
        "purpose": visit.purpose,
        "created_at": visit.created_at,
        "dispute": visit.dispute_id,
    }


def _window_out(window: Window) -> dict[str, Any]:
    return {
        "id": window.pk,
        "kind": window.kind,
        "name": window.name,
        "location": window.location,
        "bring": window.bring,
    }


@router.get("/centre/windows", response=list[WindowOut])
def window_list(request: HttpRequest) -> list[dict[str, Any]]:
    """The windows of the caller's centres (reception staff; anyone else: an empty list)."""
    return [
        _window_out(w)
        for w in Window.objects.filter(
            organisation_id__in=selectors.reception_centre_ids(request.auth), is_active=True
        )
    ]


@router.post("/centre/visits", response={201: VisitOut})
def visit_create(request: HttpRequest, payload: VisitIn) -> Status[dict[str, Any]]:
    """Register a walk-in visitor (reception staff; others 403 `reception_only`)."""
    visit = services.visit_register(staff=request.auth, **payload.dict())
    return Status(201, _visit_out(visit))


@router.post("/disputes/{dispute_id}/handoff")
def dispute_handoff(request: HttpRequest, dispute_id: int, payload: HandoffIn) -> dict[str, Any]:
    """Hand the case to another window of its centre (its reception or coordinator)."""
    from odr.api import dispute_out

    dispute = selectors.dispute_get_for(user=request.auth, dispute_id=dispute_id)
    dispute = services.dispute_handoff(
        dispute=dispute, actor=request.auth, window_id=payload.window
    )
    prefetch_related_objects([dispute], "parties")
    return dispute_out(dispute, request.auth)


@router.post("/grid/reports", response={200: GridReportOut, 201: GridReportOut})
def grid_report_create(
    request: HttpRequest,
    client_uuid: Form[str],
    category: Form[str],
    place: Form[str],
    facts: Form[str],
    outcome: Form[Literal["not_tried", "settled", "not_settled"]],
    party_name: Form[list[str]],
    party_phone: Form[list[str]],
    party_id_number: Form[list[str]] = None,
    settlement: Form[str] = "",
    grid: Form[int | None] = None,
    photos: File[list[UploadedFile]] = None,
) -> Status[dict[str, Any]]:
    """A grid worker's report (multipart: one `party_name`/`party_phone` per party, the
    complainant first; `photos` as evidence files). The same `client_uuid` again answers
    200 with the same report: the phone's outbox may send it twice."""
    ids = list(party_id_number or [])
    parties = [
        PartyInput(name=name, phone=phone, id_number=ids[i] if i < len(ids) else "")
        for i, (name, phone) in enumerate(zip(party_name, party_phone, strict=False))
    ]
    done = services.grid_report_submit(
        worker=request.auth,
        client_uuid=client_uuid,
        grid_id=grid,
        category=category,
        place=place,
        facts=facts,
        parties=parties,
        outcome=outcome,
        settlement=settlement,
        photos=[(f, f.name or "", f.size) for f in photos or []],
    )
    return Status(201 if done.created else 200, _report_out(done.report))


def _report_out(report: GridReport) -> dict[str, Any]:
    return {
        "id": report.pk,
        "client_uuid": str(report.client_uuid),
        "outcome": report.outcome,
        "dispute": report.dispute_id,
        "case_number": report.dispute.case_number if report.dispute else None,
        "created_at": report.created_at,
    }


@router.get("/disputes/{dispute_id}/duplicates", response=list[DuplicateOut])
def duplicate_list(request: HttpRequest, dispute_id: int) -> list[dict[str, Any]]:
    dispute = selectors.dispute_get_for(user=request.auth, dispute_id=dispute_id)
    return [_duplicate_out(link) for link in selectors.duplicate_links_of(dispute)]


@router.post("/disputes/{dispute_id}/duplicates/{link_id}/{decision}", response=DuplicateOut)
def duplicate_decide(
    request: HttpRequest, dispute_id: int, link_id: int, decision: Literal["merge", "keep_apart"]
) -> dict[str, Any]:
    """Merge this case into the open one it repeats, or keep the two apart (the case's
    coordinator)."""
    dispute = selectors.dispute_get_for(user=request.auth, dispute_id=dispute_id)
    decide = services.duplicate_merge if decision == "merge" else services.duplicate_keep_apart
    link = decide(dispute=dispute, link_id=link_id, actor=request.auth)
    link = DuplicateLink.objects.select_related("dispute", "original").get(pk=link.pk)
    return _duplicate_out(link)


def _duplicate_out(link: DuplicateLink) -> dict[str, Any]:
    return {
        "id": link.pk,
        "dispute": link.dispute_id,
        "dispute_case_number": link.dispute.case_number,
        "original": link.original_id,
        "original_case_number": link.original.case_number,
        "matched_on": list(link.matched_on),
        "decision": link.decision,
    }
