"""The dispute part of the JSON API (CONTRACT §3): thin, parse, authorise, one service."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.http import FileResponse, HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from ninja import File, Form, Query, Router, Schema, Status
from ninja.files import UploadedFile
from pydantic import EmailStr, Field, model_validator

from odr import composition, pagination, selectors, services, stats
from odr import filters as list_filters
from odr.categories import Category
from odr.errors import Invalid
from odr.identity import birth_date_from_id
from odr.models import Dispute, Invitation, Party
from odr.people import display_name
from odr.people import name_from as display_name_of
from odr.services import parties as parties_rules
from odr.services.party_input import PartyInput
from odr.transitions import Viewer, allowed_actions

router = Router(tags=["disputes"])


class NamedRef(Schema):
    id: int
    name: str


class PartyOut(Schema):
    id: int
    role: str
    kind: str
    position: int
    name: str
    accepted: bool | None
    # The filer only: the link of a party invited by phone alone, to pass on to them.
    invitation_url: str | None = None


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
    channel: str = Field(description="How it came in: online, walk_in, grid or hotline")
    created_at: datetime


class DisputeList(Schema):
    count: int = Field(description="How many disputes the caller may see (with the filter)")
    count_is_estimate: bool = Field(
        False,
        description="True when `count` is the database's estimate: above 1,000 rows it is not "
        "counted exactly (issue 14)",
    )
    items: list[DisputeOut]
    next: str | None = Field(description="The `cursor` of the next page; null on the last")


class PartyIn(Schema):
    """A party (CONTRACT §3): a natural person or an organisation, with an e-mail or a
    phone to invite them by."""

    kind: Literal["person", "organisation"] = "person"
    name: str = Field(min_length=1, max_length=100)
    email: EmailStr | None = None
    phone: str | None = Field(default="", max_length=30)
    id_number: str | None = Field(default="", max_length=30)
    credit_code: str | None = Field(default="", max_length=30)
    representative: str | None = Field(default="", max_length=100)
    representative_title: str | None = Field(default="", max_length=100)
    address: str | None = Field(default="", max_length=300)

    def as_input(self) -> PartyInput:
        return PartyInput.from_dict(self.dict())


class DisputeIn(Schema):
    category: str
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(min_length=1, max_length=20000)
    region: str
    claim_amount: Decimal | None = Field(default=None, ge=0, max_digits=14, decimal_places=2)
    request: str | None = Field(default="", max_length=5000)
    # One respondent, or several: `respondents` wins when both are given.
    respondent: PartyIn | None = None
    respondents: list[PartyIn] | None = Field(default=None, max_length=50)
    co_applicants: list[PartyIn] = Field(default_factory=list, max_length=50)
    # Staff filing for someone else (CONTRACT §3; issue 10): the applicant, how the case
    # came in, and at a window which of the centre's windows takes it and the visit.
    applicant: PartyIn | None = None
    channel: Literal["online", "walk_in", "grid"] = "online"
    window: int | None = None
    visit: int | None = None

    @model_validator(mode="after")
    def _someone_to_mediate_with(self) -> DisputeIn:
        if self.respondent is None and not self.respondents:
            raise ValueError("give `respondent` or `respondents`")
        return self


class ProfileOut(Schema):
    """The caller's own particulars (only ever shown to their owner)."""

    real_name: str
    phone: str
    id_number: str
    address: str
    sex: str
    birth_date: str
    ethnicity: str
    occupation: str
    language: str


class MeOut(Schema):
    id: int
    email: str
    name: str
    roles: list[str]
    organisation: NamedRef | None
    profile: ProfileOut


class MeIn(Schema):
    """Any of these; a field left out stays as it is (CONTRACT §3). `sex` is "M" or "F";
    left out, the ID number's is kept."""

    real_name: str | None = Field(default=None, max_length=100)
    phone: str | None = Field(default=None, max_length=30)
    id_number: str | None = Field(default=None, max_length=18)
    address: str | None = Field(default=None, max_length=300)
    sex: str | None = Field(default=None, max_length=1)
    ethnicity: str | None = Field(default=None, max_length=20)
    occupation: str | None = Field(default=None, max_length=100)
    language: str | None = Field(default=None, max_length=10)


class StatementIn(Schema):
    text: str = Field(min_length=1, max_length=20000)


class StatementOut(Schema):
    id: int
    party: int
    text: str
    created_at: datetime


class AgentOut(Schema):
    id: int
    party: int
    name: str
    relation: str
    scope: str
    powers: str
    phone: str
    id_number: str
    filename: str
    sha256: str
    created_at: datetime
    revoked_at: datetime | None
    document_url: str | None


class ParticularsOut(Schema):
    """A party's particulars: in full to the parties, the mediator, the organisation's
    staff and the court; masked (`masked` true) to anyone else. `lines` are what the
    documents print; `missing` what a court needs that is not given yet; `editable`
    whether the caller may change them now."""

    id: int
    role: str
    kind: str
    position: int
    name: str
    accepted: bool | None
    has_account: bool
    masked: bool
    phone: str
    address: str
    id_number: str
    sex: str
    birth_date: str
    ethnicity: str
    occupation: str
    credit_code: str
    representative: str
    representative_title: str
    missing: list[str]
    lines: list[str]
    editable: bool
    agents: list[AgentOut]


class ParticularsIn(Schema):
    """Any of these; a field left out stays as it is."""

    kind: str | None = Field(default=None, max_length=20)
    name: str | None = Field(default=None, max_length=100)
    phone: str | None = Field(default=None, max_length=30)
    address: str | None = Field(default=None, max_length=300)
    id_number: str | None = Field(default=None, max_length=18)
    sex: str | None = Field(default=None, max_length=1)
    ethnicity: str | None = Field(default=None, max_length=20)
    occupation: str | None = Field(default=None, max_length=100)
    credit_code: str | None = Field(default=None, max_length=18)
    representative: str | None = Field(default=None, max_length=100)
    representative_title: str | None = Field(default=None, max_length=100)


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
    # The accepting person's real name and resident ID number, saved to their profile
    # when it lacks them (without them: 422 identity_required).
    real_name: str = Field(default="", max_length=100)
    id_number: str = Field(default="", max_length=30)


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
        "parties": [_party_out(dispute, p, user) for p in dispute.parties.all()],
        **(composition.summaries_of(dispute) if summaries is None else summaries),
        "actions": allowed_actions(dispute, user, viewer=viewer, cache=cache),
        "mediation_deadline": dispute.mediation_deadline,
        "channel": dispute.channel,
        "created_at": dispute.created_at,
    }


def json_response(request: HttpRequest, data: dict[str, Any]) -> HttpResponse:
    """`data` answered as the API answers (its JSON renderer), without the response
    schema's validation: for a list whose items are already in the schema's shape."""
    from config.api import api

    return api.create_response(request, data, status=200)


def _party_out(dispute: Dispute, party: Party, user: AbstractBaseUser) -> dict[str, Any]:
    out = {
        "id": party.pk,
        "role": party.role,
        "kind": party.kind,
        "position": party.position,
        "name": party.name,
        "accepted": party.accepted,
        "invitation_url": None,
    }
    if (
        dispute.filed_by_id == user.pk
        and dispute.status == Dispute.Status.FILED
        and party.accepted is None
        and not party.email
    ):
        invitation = Invitation.objects.filter(party=party, used_at__isnull=True).first()
        if invitation is not None:
            out["invitation_url"] = services.invitation_url(invitation)
    return out


def _me(user: AbstractBaseUser) -> dict[str, Any]:
    org = selectors.user_primary_organisation(user)
    profile = selectors.profile_of(user)
    born = birth_date_from_id(profile.id_number) if profile else None
    return {
        "id": user.pk,
        "email": user.email,
        "name": display_name(user),
        "roles": selectors.user_roles(user),
        "organisation": {"id": org.pk, "name": org.name} if org else None,
        "profile": {
            "real_name": profile.real_name if profile else "",
            "phone": profile.phone if profile else "",
            "id_number": profile.id_number if profile else "",
            "address": profile.address if profile else "",
            "sex": profile.sex if profile else "",
            "birth_date": born.isoformat() if born else "",
            "ethnicity": profile.ethnicity if profile else "",
            "occupation": profile.occupation if profile else "",
            "language": profile.language if profile else "",
        },
    }


@router.get("/me", response=MeOut, tags=["accounts"])
def me(request: HttpRequest) -> dict[str, Any]:
    return _me(request.auth)


@router.patch("/me", response=MeOut, tags=["accounts"])
def me_update(request: HttpRequest, payload: MeIn) -> dict[str, Any]:
    services.profile_update(user=request.auth, **payload.dict())
    # The profile's relation is cached on the user: read the new name afresh.
    return _me(get_user_model().objects.select_related("profile").get(pk=request.auth.pk))


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
def dispute_create(request: HttpRequest, payload: DisputeIn) -> HttpResponse:
    respondents = [p.as_input() for p in (payload.respondents or [payload.respondent])]
    if payload.channel == Dispute.Channel.WALK_IN:
        # A citizen is refused by the service (403 reception_only).
        dispute = services.walk_in_file(
            staff=request.auth,
            visit=selectors.visit_for(user=request.auth, visit_id=payload.visit)
            if payload.visit
            else None,
            applicant=payload.applicant.as_input() if payload.applicant else None,
            window=selectors.window_for(user=request.auth, window_id=payload.window)
            if payload.window
            else None,
            category=payload.category,
            title=payload.title,
            description=payload.description,
            region_code=payload.region,
            respondents=respondents,
            request=payload.request or "",
            claim_amount=payload.claim_amount,
        )
    else:
        dispute = services.dispute_file(
            applicant=request.auth,
            category=payload.category,
            title=payload.title,
            description=payload.description,
            region_code=payload.region,
            respondents=respondents,
            co_applicants=[p.as_input() for p in payload.co_applicants],
            request=payload.request or "",
            claim_amount=payload.claim_amount,
            on_behalf_of=payload.applicant.as_input() if payload.applicant else None,
            channel=payload.channel,
        )
    # The filer is its applicant: the dispute the service made (its region's chain, its
    # organisation, the parties it wrote) answers as it is, without reading it again
    # (issue 14); it has no session or agreement yet.
    # A filer who is its party: their roles add no action (services.filing.filer_viewer).
    viewer = services.filer_viewer(dispute, request.auth)
    data = dispute_out(
        dispute, request.auth, viewer=viewer, summaries=composition.summaries_of_new()
    )
    # Already in the schema's shape (dispute_out, as the case's own answer checks it):
    # answered without the response schema's second check, as the list answers its items
    # (issue 14, point 4; tests/odr/test_filing_queries.py compares it with the case's).
    from config.api import api

    return api.create_response(request, data, status=201)


@router.get("/disputes", response=DisputeList)
def dispute_list(
    request: HttpRequest,
    status: str | None = None,
    category: str | None = Query(None, description="A category code"),
    region: str | None = Query(None, description="A region code: its cases and those under it"),
    filed_from: str | None = Query(None, description="Filed on or after this day (YYYY-MM-DD)"),
    filed_to: str | None = Query(None, description="Filed on or before this day (YYYY-MM-DD)"),
    q: str | None = Query(None, description="The start of a case number or a party's name"),
    limit: int = pagination.limit_param(),
    cursor: str | None = pagination.cursor_param(),
) -> dict[str, Any]:
    """One page of the disputes the caller may see, newest first (CONTRACT §3): `next` is
    the `cursor` of the following page, null on the last. A `limit` outside 1–200 answers
    422 (validation_error); a cursor this list did not give out answers 422
    (invalid_cursor); a bad filter answers 422 with its code (invalid_category_filter,
    invalid_region_filter, invalid_date_filter, invalid_search)."""
    # Who asks is read once, for what they see and for the actions of each item.
    by_role = selectors.user_org_ids_by_role(request.auth)
    visible = selectors.disputes_visible_to(request.auth, by_role=by_role)
    if status:
        if status not in Dispute.Status.values:
            raise Invalid(
                _("Unknown status “%(status)s”; use one of: %(choices)s.")
                % {"status": status, "choices": ", ".join(Dispute.Status.values)},
                code="invalid_status_filter",
            )
        visible = visible.filter(status=status)
    given = {"category": category, "region": region, "filed_from": filed_from}
    given |= {"filed_to": filed_to, "q": q}
    asked = {k: v for k, v in given.items() if v is not None}
    # Without a filter, no form to check (issue 14: making one copies its six fields).
    filters = (
        list_filters.filters_or_422(list_filters.ListFilterForm(asked))
        if asked
        else list_filters.ListFilters()
    )
    visible = list_filters.filter_dates(
        list_filters.filter_disputes(visible, filters), filters, "created_at"
    )
    page = pagination.paginate_rows(
        visible,
        keys=pagination.NEWEST_FIRST,
        limit=limit,
        cursor=cursor,
        fields=selectors.LIST_COLUMNS,
        # The parties and the summaries the apps above register (sessions, agreement)
        # come with each row (issue 14: each query a list asks costs as much CPU as its
        # rows).
        expressions=selectors.precompiled(
            {**selectors.dispute_list_expressions(), **composition.summary_columns()},
            db=visible.db,
        ),
    )
    # Read once for the whole page: who asks, and which organisations have one above.
    viewer = Viewer.of(request.auth, by_role)
    # The items are built from the page's rows in the schema's exact shape (every field,
    # defaults included; test_api_disputes and test_api_pagination compare each with the
    # case's own answer, which the schema checks): no model per row, and no validation
    # of fifty items again, which cost as much as reading them (issue 14).
    return json_response(request, page.answer(_list_items(page.items, request.auth, viewer)))


def _list_items(
    rows: list[dict[str, Any]], user: AbstractBaseUser, viewer: Viewer
) -> list[dict[str, Any]]:
    """`dispute_out` of each row of a list page (selectors.LIST_COLUMNS, read with the
    summaries' columns), in a fixed number of queries: the filer's invitation links at
    once."""
    summaries = composition.summaries_of_rows(rows)
    parties = {row["pk"]: selectors.list_parties(row) for row in rows}
    # As _party_out: the filer sees the link of a party invited by phone alone.
    linked = [
        p["pk"]
        for row in rows
        if row["filed_by_id"] == user.pk and row["status"] == Dispute.Status.FILED
        for p in parties[row["pk"]]
        if p["accepted"] is None and not p["email"]
    ]
    invitations = selectors.open_invitations_by_party(linked)
    cache: dict = {}
    organisations: dict = {}
    no_parties = Party.objects.none()
    items = []
    for row in rows:
        pk = row["pk"]
        dispute = selectors.dispute_of_row(row, parties[pk], organisations, no_parties)
        mediator = None
        if row["mediator_id"] is not None:
            name = display_name_of(
                row["mediator__profile__real_name"],
                row["mediator__email"],
                row["mediator__username"],
            )
            mediator = {"id": row["mediator_id"], "name": name}
        organisation = None
        if row["organisation_id"] is not None:
            organisation = {"id": row["organisation_id"], "name": row["organisation__name"]}
        items.append(
            {
                "id": pk,
                "case_number": row["case_number"],
                "status": row["status"],
                "category": row["category"],
                "title": row["title"],
                "description": row["description"],
                "request": row["request"],
                "claim_amount": row["claim_amount"],
                "region": row["region__code"],
                "region_name": row["region__full_name"],
                "organisation": organisation,
                "mediator": mediator,
                "parties": [
                    {
                        "id": p["pk"],
                        "role": p["role"],
                        "kind": p["kind"],
                        "position": p["position"],
                        "name": p["name"],
                        "accepted": p["accepted"],
                        "invitation_url": services.invitation_url(invitations[p["pk"]])
                        if p["pk"] in invitations
                        else None,
                    }
                    for p in parties[pk]
                ],
                **summaries[pk],
                "actions": allowed_actions(dispute, user, viewer=viewer, cache=cache),
                "mediation_deadline": row["mediation_deadline"],
                "channel": row["channel"],
                "created_at": row["created_at"],
            }
        )
    return items


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


# --- the respondent's statement, the parties' particulars and their agents ----------------


@router.post("/disputes/{dispute_id}/statement", response={201: StatementOut}, tags=["parties"])
def statement_add(
    request: HttpRequest, dispute_id: int, payload: StatementIn
) -> Status[dict[str, Any]]:
    dispute = selectors.dispute_get_for(user=request.auth, dispute_id=dispute_id)
    item = services.statement_add(actor=request.auth, dispute=dispute, text=payload.text)
    return Status(
        201,
        {"id": item.pk, "party": item.party_id, "text": item.text, "created_at": item.created_at},
    )


@router.get("/disputes/{dispute_id}/statements", response=list[StatementOut], tags=["parties"])
def statement_list(request: HttpRequest, dispute_id: int) -> list[dict[str, Any]]:
    dispute = selectors.dispute_get_for(user=request.auth, dispute_id=dispute_id)
    return [
        {"id": s.pk, "party": s.party_id, "text": s.text, "created_at": s.created_at}
        for s in selectors.statements_of(dispute)
    ]


def _agent_out(request: HttpRequest, dispute: Dispute, agent: Any, full: bool) -> dict[str, Any]:
    url = (
        request.build_absolute_uri(
            reverse(
                "api:agent_document",
                kwargs={"dispute_id": dispute.pk, "party_id": agent.party_id, "agent_id": agent.pk},
            )
        )
        if full
        else None
    )
    return {**selectors.agent_record(agent, masked=not full), "document_url": url}


def _particulars_out(request: HttpRequest, dispute: Dispute, party: Any) -> dict[str, Any]:
    full = selectors.may_see_particulars(dispute, request.auth)
    agents = [a for a in selectors.agents_of(dispute) if a.party_id == party.pk]
    return {
        **selectors.party_record(party, masked=not full),
        "editable": services.particulars_editable(dispute)
        and parties_rules.may_edit_party(dispute, party, request.auth),
        "agents": [_agent_out(request, dispute, a, full) for a in agents],
    }


@router.get("/disputes/{dispute_id}/parties/{party_id}", response=ParticularsOut, tags=["parties"])
def party_detail(request: HttpRequest, dispute_id: int, party_id: int) -> dict[str, Any]:
    dispute, party = selectors.party_get_for(
        user=request.auth, dispute_id=dispute_id, party_id=party_id
    )
    return _particulars_out(request, dispute, party)


@router.patch(
    "/disputes/{dispute_id}/parties/{party_id}", response=ParticularsOut, tags=["parties"]
)
def party_update(
    request: HttpRequest, dispute_id: int, party_id: int, payload: ParticularsIn
) -> dict[str, Any]:
    dispute, party = selectors.party_get_for(
        user=request.auth, dispute_id=dispute_id, party_id=party_id
    )
    values = {k: v for k, v in payload.dict().items() if v is not None}
    services.party_update(actor=request.auth, dispute=dispute, party=party, **values)
    dispute, party = selectors.party_get_for(
        user=request.auth, dispute_id=dispute_id, party_id=party_id
    )
    return _particulars_out(request, dispute, party)


@router.get(
    "/disputes/{dispute_id}/parties/{party_id}/agents",
    response=list[AgentOut],
    tags=["parties"],
)
def agent_list(request: HttpRequest, dispute_id: int, party_id: int) -> list[dict[str, Any]]:
    dispute, party = selectors.party_get_for(
        user=request.auth, dispute_id=dispute_id, party_id=party_id
    )
    full = selectors.may_see_particulars(dispute, request.auth)
    return [
        _agent_out(request, dispute, a, full)
        for a in selectors.agents_of(dispute)
        if a.party_id == party.pk
    ]


@router.post(
    "/disputes/{dispute_id}/parties/{party_id}/agents",
    response={201: AgentOut},
    tags=["parties"],
)
def agent_add(
    request: HttpRequest,
    dispute_id: int,
    party_id: int,
    file: File[UploadedFile],
    name: Form[str],
    scope: Form[str],
    relation: Form[str] = "",
    id_number: Form[str] = "",
    phone: Form[str] = "",
    powers: Form[str] = "",
) -> Status[dict[str, Any]]:
    """Multipart: the signed power of attorney as `file` (PDF, JPEG or PNG), `name`,
    `scope` (`general` 一般授权 | `special` 特别授权, which names its `powers`), and
    optionally `relation` (律师 and the firm, 近亲属, 工作人员 ...), `id_number`, `phone`."""
    dispute, party = selectors.party_get_for(
        user=request.auth, dispute_id=dispute_id, party_id=party_id
    )
    agent = services.agent_add(
        actor=request.auth,
        dispute=dispute,
        party=party,
        name=name,
        scope=scope,
        relation=relation,
        id_number=id_number,
        phone=phone,
        powers=powers,
        upload=file,
        filename=file.name or "",
        size=file.size,
    )
    return Status(201, _agent_out(request, dispute, agent, True))


@router.delete(
    "/disputes/{dispute_id}/parties/{party_id}/agents/{agent_id}",
    response={204: None},
    tags=["parties"],
)
def agent_revoke(
    request: HttpRequest, dispute_id: int, party_id: int, agent_id: int
) -> Status[None]:
    dispute, agent = selectors.agent_get_for(
        user=request.auth, dispute_id=dispute_id, party_id=party_id, agent_id=agent_id
    )
    services.agent_revoke(actor=request.auth, dispute=dispute, agent=agent)
    return Status(204, None)


@router.get(
    "/disputes/{dispute_id}/parties/{party_id}/agents/{agent_id}/power-of-attorney",
    tags=["parties"],
)
def agent_document(
    request: HttpRequest, dispute_id: int, party_id: int, agent_id: int
) -> FileResponse:
    """The signed power of attorney, for the parties, the mediator, the organisation's
    staff and the court."""
    agent = selectors.attorney_document_for(
        user=request.auth, dispute_id=dispute_id, party_id=party_id, agent_id=agent_id
    )
    return FileResponse(
        agent.power_of_attorney.open("rb"),
        as_attachment=True,
        filename=agent.filename,
        content_type=agent.content_type,
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
        real_name=payload.real_name,
        id_number=payload.id_number,
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


# The one-stop centre's and the grid's endpoints (issue 10) hang on this router.
from odr.api_centre import router as centre_router  # noqa: E402

router.add_router("", centre_router)
