"""The dispute part of the JSON API (CONTRACT §3): thin, parse, authorise, one service."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import File, Form, Router, Schema, Status
from ninja.files import UploadedFile
from pydantic import EmailStr, Field

from odr import composition, pagination, selectors, services, stats
from odr.categories import Category
from odr.errors import Invalid
from odr.models import Dispute
from odr.people import display_name
from odr.transitions import Viewer, allowed_actions

router = Router(tags=["disputes"])


class NamedRef(Schema):
    id: int
    name: str


class PartyOut(Schema):
    role: str
    name: str
    accepted: bool | None


class SessionSummary(Schema):
    id: int
    status: str
    scheduled_at: datetime | None
    room_url: str


class AgreementRef(Schema):
    id: int
    status: str


class DisputeOut(Schema):
    id: int
    case_number: str
    status: str
    category: str
    title: str
    description: str
    request: str
    claim_amount: Decimal | None
    region: str
    region_name: str
    organisation: NamedRef | None
    mediator: NamedRef | None
    parties: list[PartyOut]
    sessions: list[SessionSummary]
    agreement: AgreementRef | None
    actions: list[str]
    mediation_deadline: datetime | None
    created_at: datetime


class DisputeList(Schema):
    count: int = Field(description="How many disputes the caller may see (with the filter)")
    items: list[DisputeOut]
    next: str | None = Field(description="The `cursor` of the next page; null on the last")


class RespondentIn(Schema):
    name: str = Field(min_length=1, max_length=100)
    email: EmailStr
    phone: str | None = Field(default="", max_length=30)


class DisputeIn(Schema):
    category: str
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(min_length=1, max_length=20000)
    region: str
    claim_amount: Decimal | None = Field(default=None, ge=0, max_digits=14, decimal_places=2)
    request: str | None = Field(default="", max_length=5000)
    respondent: RespondentIn


class MeOut(Schema):
    id: int
    email: str
    name: str
    roles: list[str]
    organisation: NamedRef | None


class CategoryOut(Schema):
    code: str
    name: str
    hint: str


class RegionOut(Schema):
    code: str
    name: str
    level: str


class EvidenceOut(Schema):
    id: int
    filename: str
    size: int
    sha256: str


class DeclineIn(Schema):
    reason: str = Field(min_length=1, max_length=2000)
    # Sent by an account other than the one invited to say that it is the person invited
    # (issue 11, L2); the audit event records it.
    confirm_identity: bool = False


class ActionIn(Schema):
    """The fields of every action (CONTRACT §3): `mediator` for accept and assign,
    `reason` for reject, escalate, withdraw and fail."""

    mediator: int | None = None
    reason: str = Field(default="", max_length=2000)


class AcceptIn(Schema):
    consent: bool = True
    # As in DeclineIn.
    confirm_identity: bool = False


def dispute_out(
    dispute: Dispute,
    user: AbstractBaseUser,
    *,
    viewer: Viewer | None = None,
    cache: dict | None = None,
    summaries: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One dispute as the contract shapes it. A list passes what it read in bulk
    (`viewer`, `summaries`) so that no query runs per dispute. `sessions` and
    `agreement` are summaries the apps above register (odr.composition)."""

    def ref(obj: Any, name: str) -> dict | None:
        return {"id": obj.pk, "name": name} if obj is not None else None

    return {
        "id": dispute.pk,
        "case_number": dispute.case_number,
        "status": dispute.status,
        "category": dispute.category,
        "title": dispute.title,
        "description": dispute.description,
        "request": dispute.request,
        "claim_amount": dispute.claim_amount,
        "region": dispute.region.code,
        "region_name": dispute.region.full_name,
        "organisation": ref(dispute.organisation, str(dispute.organisation or "")),
        "mediator": ref(
            dispute.mediator, display_name(dispute.mediator) if dispute.mediator else ""
        ),
        "parties": [
            {"role": p.role, "name": p.name, "accepted": p.accepted} for p in dispute.parties.all()
        ],
        **(composition.summaries_of(dispute) if summaries is None else summaries),
        "actions": allowed_actions(dispute, user, viewer=viewer, cache=cache),
        "mediation_deadline": dispute.mediation_deadline,
        "created_at": dispute.created_at,
    }


@router.get("/me", response=MeOut, tags=["accounts"])
def me(request: HttpRequest) -> dict[str, Any]:
    user = request.auth
    org = selectors.user_primary_organisation(user)
    return {
        "id": user.pk,
        "email": user.email,
        "name": display_name(user),
        "roles": selectors.user_roles(user),
        "organisation": {"id": org.pk, "name": org.name} if org else None,
    }


@router.get("/categories", response=list[CategoryOut], auth=None, tags=["reference"])
def categories(request: HttpRequest) -> list[dict[str, str]]:
    from odr.categories import CATEGORY_HINTS

    return [
        {"code": c.value, "name": str(c.label), "hint": str(CATEGORY_HINTS[c])} for c in Category
    ]


@router.get("/regions", response=list[RegionOut], auth=None, tags=["reference"])
def regions(request: HttpRequest, parent: str | None = None) -> list[dict[str, str]]:
    return [
        {"code": r.code, "name": r.name, "level": r.level} for r in selectors.regions_under(parent)
    ]


@router.post("/disputes", response={201: DisputeOut})
def dispute_create(request: HttpRequest, payload: DisputeIn) -> Status[dict[str, Any]]:
    dispute = services.dispute_file(
        applicant=request.auth,
        category=payload.category,
        title=payload.title,
        description=payload.description,
        region_code=payload.region,
        respondent_name=payload.respondent.name,
        respondent_email=str(payload.respondent.email),
        respondent_phone=payload.respondent.phone or "",
        request=payload.request or "",
        claim_amount=payload.claim_amount,
    )
    return Status(
        201,
        dispute_out(
            selectors.dispute_get_for(user=request.auth, dispute_id=dispute.pk), request.auth
        ),
    )


@router.get("/disputes", response=DisputeList)
def dispute_list(
    request: HttpRequest,
    status: str | None = None,
    limit: int = pagination.limit_param(),
    cursor: str | None = pagination.cursor_param(),
) -> dict[str, Any]:
    """One page of the disputes the caller may see, newest first (CONTRACT §3): `next` is
    the `cursor` of the following page, null on the last. A `limit` outside 1–200 answers
    422 (validation_error); a cursor this list did not give out answers 422
    (invalid_cursor)."""
    visible = selectors.disputes_visible_to(request.auth)
    if status:
        if status not in Dispute.Status.values:
            raise Invalid(
                _("Unknown status “%(status)s”; use one of: %(choices)s.")
                % {"status": status, "choices": ", ".join(Dispute.Status.values)},
                code="invalid_status_filter",
            )
        visible = visible.filter(status=status)
    page = pagination.paginate(
        visible,
        keys=pagination.NEWEST_FIRST,
        limit=limit,
        cursor=cursor,
        load=lambda ids: visible.filter(pk__in=ids).prefetch_related("parties"),
    )
    disputes = page.items
    summaries = composition.summaries_of_many([d.pk for d in disputes])
    # Read once for the whole page: who asks, and which organisations have one above.
    viewer, cache = Viewer.of(request.auth), {}
    items = [
        dispute_out(
            d,
            request.auth,
            viewer=viewer,
            cache=cache,
            summaries=summaries[d.pk],
        )
        for d in disputes
    ]
    return {"count": page.count, "items": items, "next": page.next}


@router.get("/disputes/{dispute_id}", response=DisputeOut)
def dispute_detail(request: HttpRequest, dispute_id: int) -> dict[str, Any]:
    dispute = selectors.dispute_get_for(user=request.auth, dispute_id=dispute_id)
    return dispute_out(dispute, request.auth)


@router.post("/disputes/{dispute_id}/actions/{action}", response=DisputeOut)
def dispute_action(
    request: HttpRequest, dispute_id: int, action: str, payload: ActionIn | None = None
) -> dict[str, Any]:
    dispute = selectors.dispute_get_for(user=request.auth, dispute_id=dispute_id)
    services.dispute_run_action(
        dispute=dispute,
        actor=request.auth,
        action=action,
        data=payload.dict() if payload is not None else {},
    )
    return dispute_out(
        selectors.dispute_get_for(user=request.auth, dispute_id=dispute_id), request.auth
    )


@router.post("/disputes/{dispute_id}/evidence", response={201: EvidenceOut})
def evidence_upload(
    request: HttpRequest,
    dispute_id: int,
    file: File[UploadedFile],
    description: Form[str] = "",
) -> Status[dict[str, Any]]:
    dispute = selectors.dispute_get_for(user=request.auth, dispute_id=dispute_id)
    item = services.evidence_add(
        dispute=dispute,
        actor=request.auth,
        upload=file,
        name=file.name or "",
        size=file.size,
        description=description,
    )
    return Status(
        201, {"id": item.pk, "filename": item.filename, "size": item.size, "sha256": item.sha256}
    )


@router.post("/invitations/{token}/accept", response=DisputeOut, tags=["invitations"])
def invitation_accept(
    request: HttpRequest, token: str, payload: AcceptIn | None = None
) -> dict[str, Any]:
    payload = payload or AcceptIn()
    dispute = services.invitation_accept(
        token=token,
        user=request.auth,
        consent_online=payload.consent,
        confirm_identity=payload.confirm_identity,
    )
    return dispute_out(
        selectors.dispute_get_for(user=request.auth, dispute_id=dispute.pk), request.auth
    )


@router.post("/invitations/{token}/decline", response={204: None}, tags=["invitations"])
def invitation_decline(request: HttpRequest, token: str, payload: DeclineIn) -> Status[None]:
    services.invitation_decline(
        token=token,
        user=request.auth,
        reason=payload.reason,
        confirm_identity=payload.confirm_identity,
    )
    return Status(204, None)


@router.get("/stats", response=stats.StatsOut, auth=None, tags=["statistics"])
def public_stats(request: HttpRequest) -> dict[str, Any]:
    return stats.public_stats()
