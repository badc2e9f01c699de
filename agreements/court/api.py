"""Judicial confirmation, the court's queue, the evidence package and performance in the
JSON API (CONTRACT §3). Thin: parse, find through a selector (404 for what the caller may
not see), call one service, answer."""

from __future__ import annotations

import base64
import functools
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import QuerySet
from django.http import FileResponse, HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.functional import LazyObject, empty
from django.utils.http import content_disposition_header
from ninja import File as FileParam
from ninja import Form, Query, Router, Schema, Status
from ninja.files import UploadedFile
from pydantic import Field

from agreements.court import package, services
from agreements.court import selectors as court_selectors
from agreements.court.performance_transitions import ObligationViewer, obligation_actions
from agreements.court.transitions import MACHINE, Viewer, allowed_actions
from agreements.models import (
    Agreement,
    ConfirmationRequest,
    Inquiry,
    Performance,
    SupplementRequest,
)
from odr import filters as list_filters
from odr import pagination, people
from odr import selectors as odr_selectors
from odr.api import json_response
from odr.errors import DomainError, Invalid, NotFound
from odr.models import Dispute, Party
from odr.request_context import client_ip_of

router = Router(tags=["court"])
# An optional multipart file: ninja's `File[...] | None` annotation does not read it.
_OPTIONAL_FILE = FileParam(None)
CR = ConfirmationRequest.Status


class Ref(Schema):
    id: int
    name: str


class DisputeRef(Schema):
    id: int
    case_number: str
    title: str


class ConsentOut(Schema):
    role: str
    name: str
    consented_at: datetime | None = Field(
        description="When this party signed the joint application (its application); null "
        "while its signature is still needed"
    )
    signed: bool = Field(description="This party signed the application with its own key")


class FileOut(Schema):
    name: str
    url: str
    sha256: str = ""
    size: int | None = None
    description: str = ""


class ConfirmationOut(Schema):
    id: int
    status: str
    court: Ref
    basis: str = Field(description="The ground of jurisdiction (CPL 2023 Art. 205)")
    basis_region: str | None = Field(description="The region code the ground names")
    case_number: str
    agreement: int
    dispute: DisputeRef
    parties: list[ConsentOut]
    created_at: datetime
    window_closes_at: datetime | None
    submitted_at: datetime | None
    accept_deadline: datetime | None
    accepted_at: datetime | None
    accepted_by: str = Field(description="The clerk (书记员) who docketed it")
    rule_deadline: datetime | None
    rule_extended_at: datetime | None
    extension_reason: str
    decided_at: datetime | None
    decided_by: str = Field(description="The judge (审判员) who ruled")
    reason: str
    overdue: str = Field(description='"accept" or "rule" when that deadline has passed')
    application_sha256: str
    ruling_sha256: str
    documents: list[FileOut]
    evidence: list[FileOut]
    actions: list[str]


class RequestList(Schema):
    count: int = Field(description="How many requests are before the caller's court")
    count_is_estimate: bool = Field(
        False,
        description="True when `count` is the database's estimate: above 1,000 rows it is not "
        "counted exactly (issue 14)",
    )
    items: list[ConfirmationOut]
    next: str | None = Field(description="The `cursor` of the next page; null on the last")


class ConsentIn(Schema):
    """All optional: `{}` applies to the court of the organisation's place (or the
    inviting court). The first party to apply chooses; the others join that choice."""

    basis: str | None = Field(
        default=None,
        description='"organisation" (default), "party_domicile" or "property" (CPL 2023 '
        'Art. 205); "inviting_court" when a court invited the mediation',
    )
    region: str | None = Field(
        default=None,
        max_length=12,
        description="The region code (GET /api/v1/regions) of the domicile or the property",
    )
    court: int | None = Field(
        default=None, description="The court the caller expects; refused unless competent"
    )


class ApplicationSignIn(ConsentIn):
    """Step 1 of a party's signature of the joint application (issue 9, point 5): as the
    agreement's `sign` (CONTRACT §3) without a version. The court choice fields apply
    when this signature starts the application."""

    password: str = Field(default="", max_length=4096)
    code: str | None = Field(default=None, max_length=20)
    consent: bool = False
    public_key: str | None = Field(
        default=None,
        max_length=4096,
        description="The party's own EC P-256 public key (PEM), made on their device for "
        "this signature; without it, 422 signer_key_required",
    )
    signature_png: str | None = Field(default=None, max_length=800_000)
    typed_name: str | None = Field(default=None, max_length=100)


class ApplicationSigningOut(Schema):
    signing_id: str
    to_sign: str = Field(
        description="Base64 of the DER CMS signed attributes: sign them with ECDSA-SHA256"
    )
    expires_at: datetime


class ApplicationSignCompleteIn(Schema):
    signing_id: str = Field(max_length=64)
    signature: str = Field(
        max_length=1024, description="Base64 of the DER ECDSA-SHA256 signature over to_sign"
    )


class AcceptIn(Schema):
    court_case_number: str = Field(
        max_length=60,
        description="The court's own case number from its case system, e.g. （2026）浙0523民特1号 "
        "(full-width brackets, no padding; half-width brackets are normalised)",
    )


class DecisionIn(Schema):
    decision: str = Field(
        description='"confirmed" or "rejected" on an accepted request (a judge); '
        '"not_accepted" (不予受理) on a pending one'
    )
    reason: str = Field(default="", max_length=5000)
    court_case_number: str = Field(
        default="",
        max_length=60,
        description='With "not_accepted" only, optional: the court\'s own number for the '
        "refusal, e.g. （2026）浙0523民特12号, checked as docketing checks it (400 "
        "invalid_court_case_number, 409 court_case_number_taken), kept on the request and "
        "printed on the ruling; without it the ruling prints none",
    )
    preview: str = Field(
        default="",
        description="The token (header X-Ruling-Preview) of a preview of this decision with "
        "these reasons (POST …/decision/preview): when given, the ruling is issued only if "
        "it matches (409 preview_required otherwise). The court's page always previews; an "
        "API client that shows its judge the preview passes it",
    )


class ExtensionIn(Schema):
    reason: str = Field(max_length=2000)


class ObligationOut(Schema):
    id: int
    term: int
    instalment: int | None
    description: str
    obligor: str
    obligee: str
    amount: Decimal | None
    due_date: date | None
    status: str = Field(
        description='"open", "reported" (by the obligor, waiting for the obligee) or "done"'
    )
    done_at: datetime | None
    reported_at: datetime | None
    disputed: bool = Field(description="open again: the obligee disputed the last report")
    disputed_at: datetime | None
    dispute_reason: str
    note: str
    proof: FileOut | None
    overdue: bool
    actions: list[str] = Field(description='what the caller may do now: "mark", "report", …')


class DisputeIn(Schema):
    reason: str = Field(max_length=2000)


class GuidanceOut(Schema):
    route: str = Field(description='"enforcement" (confirmed agreement) or "lawsuit"')
    court: Ref | None
    court_case_number: str
    enforcement_deadline: date | None
    overdue: list[int]


class ObligationList(Schema):
    count: int
    items: list[ObligationOut]
    default: GuidanceOut | None


def _document(name: str, base: str, sha256: str) -> dict[str, Any]:
    return {
        "name": name,
        "url": f"{base}/{name}",
        "sha256": sha256,
        "size": None,
        "description": "",
    }


def request_out(
    request: ConfirmationRequest, user: AbstractBaseUser, *, viewer: Viewer | None = None
) -> dict[str, Any]:
    """The request in ConfirmationOut's exact shape (every field, in its order, defaults
    included): the answer of one request. The queue answers the same shape from plain
    values (`queue_items`; test_court_list_shape and test_court_queue_queries compare
    each item with the request's own answer)."""
    agreement = request.agreement
    dispute = agreement.dispute
    try:
        window = court_selectors.confirmation_window(agreement)
    except DomainError:  # the calendar does not reach it: logged; the request still reads
        window = None
    consent = {c.party_id: c.consented_at for c in request.consents.all()}
    base = f"/api/v1/court/requests/{request.pk}"
    # Every FileOut field, its defaults included: the list answers these dicts without
    # the schema (`court_requests`).
    docs: list[dict[str, Any]] = []
    if request.application_pdf:
        docs.append(_document("application.pdf", base, request.application_sha256))
    if agreement.pdf:
        docs.append(_document("agreement.pdf", base, agreement.pdf_sha256))
    if request.ruling_pdf:
        docs.append(_document("ruling.pdf", base, request.ruling_sha256))
    evidence = []
    if request.status != CR.AWAITING_CONSENT:
        evidence = [
            {
                "name": e.filename,
                "url": f"{base}/evidence/{e.pk}",
                "sha256": e.sha256,
                "size": e.size,
                "description": e.description,
            }
            for e in court_selectors.evidence_list_of(dispute)
        ]
    return {
        "id": request.pk,
        "status": request.status,
        "court": {"id": request.court_id, "name": request.court.name},
        "basis": request.basis,
        "basis_region": request.basis_region.code if request.basis_region_id else None,
        "case_number": request.case_number,
        "agreement": agreement.pk,
        "dispute": {"id": dispute.pk, "case_number": dispute.case_number, "title": dispute.title},
        "parties": [
            {
                "role": p.role,
                "name": p.name,
                "consented_at": consent.get(p.pk),
                "signed": p.pk in consent,
            }
            for p in court_selectors.required_parties(agreement)
        ],
        "created_at": request.created_at,
        "window_closes_at": window.closes_at if window else None,
        "submitted_at": request.submitted_at,
        "accept_deadline": request.accept_deadline,
        "accepted_at": request.accepted_at,
        "accepted_by": people.display_name(request.accepted_by) if request.accepted_by else "",
        "rule_deadline": request.rule_deadline,
        "rule_extended_at": request.rule_extended_at,
        "extension_reason": request.extension_reason,
        "decided_at": request.decided_at,
        "decided_by": people.display_name(request.decided_by) if request.decided_by else "",
        "reason": request.reason,
        "overdue": court_selectors.overdue_kind(request),
        "application_sha256": request.application_sha256,
        "ruling_sha256": request.ruling_sha256,
        "documents": docs,
        "evidence": evidence,
        "actions": allowed_actions(request, user, viewer=viewer),
    }


def _instant(value: str | None) -> datetime | None:
    """An instant read inside a JSON array (court_selectors.queue_item_relations): ISO
    8601, with its offset on PostgreSQL, naive UTC on SQLite."""
    if value is None:
        return None
    at = datetime.fromisoformat(value)
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _json(value: Any) -> Any:
    """A JSON column read inside a JSON array: SQLite gives its text."""
    return json.loads(value) if isinstance(value, str) else value


@functools.cache
def _offered_in(status: str) -> tuple[str, ...]:
    """The public moves whose source is `status`, in the table's order: the only ones the
    machine may allow on a request in it (the others fail its status check, whoever
    asks), so a list asks it no others."""
    return tuple(n for n in MACHINE.public_names if status in MACHINE[n].sources)


# What the machine's checks (agreements.court.transitions) read of a queue item's
# request and of the related rows of its actions, built as instances from the item's
# values (odr.selectors.Partial): a column not read is deferred, and a check that asked
# one would read it (a query more, which the query-count tests would see), not be wrong.
_MACHINE_REQUEST = (
    "id",
    "status",
    "court_id",
    "agreement_id",
    "accept_deadline",
    "accepted_at",
    "rule_deadline",
    "rule_extended_at",
    "extension_requested_at",
    "extension_refused_at",
    "withdrawal_requested_at",
    "decided_at",
)
_MACHINE_AGREEMENT = ("id", "dispute_id", "status", "effective_at", "parties")
_MACHINE_DISPUTE = ("id", "case_number", "title")
# The related rows as the item's JSON arrays carry them (court_selectors.QUEUE_*: their
# own key first), with the key and the owner's id as the model names them.
_MACHINE_PARTY = ("id", "dispute_id", *court_selectors.QUEUE_PARTY[1:])
_MACHINE_SUPPLEMENT = ("id", "request_id", *court_selectors.QUEUE_SUPPLEMENT[1:])
_MACHINE_INQUIRY = ("id", "request_id", *court_selectors.QUEUE_INQUIRY[1:])


class _QueuePage:
    """The model instances a page of the API's queue builds for its items' actions and
    parties, made by builders read once a page (odr.selectors.partial_of)."""

    def __init__(self) -> None:
        db = ConfirmationRequest.objects.db
        self.request = odr_selectors.partial_of(ConfirmationRequest, _MACHINE_REQUEST, db)
        self.agreement = odr_selectors.partial_of(Agreement, _MACHINE_AGREEMENT, db)
        self.dispute = odr_selectors.partial_of(Dispute, _MACHINE_DISPUTE, db)
        self.party = odr_selectors.partial_of(Party, _MACHINE_PARTY, db)
        self.supplement = odr_selectors.partial_of(SupplementRequest, _MACHINE_SUPPLEMENT, db)
        self.inquiry = odr_selectors.partial_of(Inquiry, _MACHINE_INQUIRY, db)
        # The empty querysets the prefetched rows answer for (never changed in place: a
        # queryset clones its query to filter), so that a filter of them finds nothing
        # rather than another row's; and the relations a row has none of, shared.
        self.no_parties = Party.objects.none()
        self.no_supplements = SupplementRequest.objects.none()
        self.no_inquiries = Inquiry.objects.none()
        self.none_supplied = self.prefetched(self.no_supplements, [])
        self.none_inquired = self.prefetched(self.no_inquiries, [])

    @staticmethod
    def prefetched(empty: QuerySet, rows: list) -> QuerySet:
        """`rows` as a prefetch leaves them for `<relation>.all()`."""
        cached = QuerySet(model=empty.model, query=empty.query)
        cached._result_cache, cached._prefetch_done = rows, True
        return cached

    def agreement_of(self, row: dict[str, Any]) -> Agreement:
        """The item's agreement and case, the case's parties prefetched in their order and
        the agreement's parties who apply worked out (court_selectors.required_parties)."""
        dispute_id = row["agreement__dispute_id"]
        # (pk, role, position, name, accepted, user_id): court_selectors.QUEUE_PARTY.
        found = sorted(row["party_rows"] or (), key=lambda p: (p[1], p[2], p[0]))
        parties = [
            self.party(
                id=pk,
                dispute_id=dispute_id,
                role=role,
                position=position,
                name=name,
                accepted=None if accepted is None else bool(accepted),
                user_id=user_id,
            )
            for pk, role, position, name, accepted, user_id in found
        ]
        dispute = self.dispute(
            id=dispute_id,
            case_number=row["agreement__dispute__case_number"],
            title=row["agreement__dispute__title"],
        )
        dispute._prefetched_objects_cache = {"parties": self.prefetched(self.no_parties, parties)}
        agreement = self.agreement(
            id=row["agreement_id"],
            dispute_id=dispute_id,
            status=row["agreement__status"],
            effective_at=row["agreement__effective_at"],
            parties=row["agreement__parties"],
        )
        Agreement.dispute.field.set_cached_value(agreement, dispute)
        agreement._required_parties = court_selectors.required_among(
            parties, row["agreement__parties"]
        )
        return agreement

    def request_of(self, row: dict[str, Any], agreement: Agreement) -> ConfirmationRequest:
        request = self.request(
            id=row["pk"],
            status=row["status"],
            court_id=row["court_id"],
            agreement_id=row["agreement_id"],
            accept_deadline=row["accept_deadline"],
            accepted_at=row["accepted_at"],
            rule_deadline=row["rule_deadline"],
            rule_extended_at=row["rule_extended_at"],
            extension_requested_at=row["extension_requested_at"],
            extension_refused_at=row["extension_refused_at"],
            withdrawal_requested_at=row["withdrawal_requested_at"],
            decided_at=row["decided_at"],
        )
        ConfirmationRequest.agreement.field.set_cached_value(request, agreement)
        return request

    def prefetch_acts(self, request: ConfirmationRequest, row: dict[str, Any]) -> None:
        """The request's supplements and inquiries, as its actions read them, in their
        models' order."""
        supplements = sorted(
            (
                self.supplement(
                    id=pk,
                    request_id=request.pk,
                    asked_at=_instant(asked_at),
                    deadline=_instant(deadline),
                    answered_at=_instant(answered_at),
                )
                for pk, asked_at, deadline, answered_at in row["supplement_rows"] or ()
            ),
            key=lambda s: (s.asked_at, s.pk),
        )
        inquiries = sorted(
            (
                self.inquiry(
                    id=pk,
                    request_id=request.pk,
                    scheduled_at=_instant(scheduled_at),
                    closed_at=_instant(closed_at),
                    record=record,
                    signed=_json(signed),
                    present=_json(present),
                    judge_id=judge_id,
                    clerk_id=clerk_id,
                )
                for pk, scheduled_at, closed_at, record, signed, present, judge_id, clerk_id in (
                    row["inquiry_rows"] or ()
                )
            ),
            key=lambda i: (i.scheduled_at, i.pk),
        )
        request._prefetched_objects_cache = {
            "supplements": self.prefetched(self.no_supplements, supplements)
            if supplements
            else self.none_supplied,
            "inquiries": self.prefetched(self.no_inquiries, inquiries)
            if inquiries
            else self.none_inquired,
        }


def _queue_evidence(row: dict[str, Any], base: str) -> list[dict[str, Any]]:
    """The case's evidence as `request_out` lists it, in its model's order."""
    if row["status"] == CR.AWAITING_CONSENT or not row["evidence_rows"]:
        return []
    # (pk, filename, sha256, size, description, created_at): QUEUE_EVIDENCE.
    found = sorted(row["evidence_rows"], key=lambda e: (_instant(e[5]), e[0]))
    return [
        {
            "name": filename,
            "url": f"{base}/evidence/{pk}",
            "sha256": sha256,
            "size": size,
            "description": description,
        }
        for pk, filename, sha256, size, description, _created in found
    ]


def _name(names: list[str | None] | None) -> str:
    """`people.display_name` of an item's clerk or judge, read as QUEUE_USER's values
    (court_selectors.queue_item_relations); "" for none."""
    return "" if names is None else people.name_from(*names)


def queue_items(
    rows: list[dict[str, Any]], user: AbstractBaseUser, viewer: Viewer
) -> list[dict[str, Any]]:
    """`request_out` of each row of an API queue page (court_selectors.queue_items_by_ids),
    without a query: the same fields in the same order (test_court_list_shape compares
    each item with the request's own answer)."""
    page = _QueuePage()
    now, cache = timezone.now(), {}
    items = []
    for row in rows:
        pk, status = row["pk"], row["status"]
        agreement = page.agreement_of(row)
        request = page.request_of(row, agreement)
        offered = _offered_in(status)
        actions: list[str] = []
        if offered:
            page.prefetch_acts(request, row)
            actions = MACHINE.actions(request, user, viewer=viewer, cache=cache, names=offered)
        try:
            window = court_selectors.confirmation_window(agreement, now)
        except DomainError:  # the calendar does not reach it: logged; the request still reads
            window = None
        # (party_id, consented_at): QUEUE_CONSENT.
        consent = {party: _instant(at) for party, at in row["consent_rows"] or ()}
        base = f"/api/v1/court/requests/{pk}"
        docs: list[dict[str, Any]] = []
        if row["application_pdf"]:
            docs.append(_document("application.pdf", base, row["application_sha256"]))
        if row["agreement__pdf"]:
            docs.append(_document("agreement.pdf", base, row["agreement__pdf_sha256"]))
        if row["ruling_pdf"]:
            docs.append(_document("ruling.pdf", base, row["ruling_sha256"]))
        items.append(
            {
                "id": pk,
                "status": status,
                "court": {"id": row["court_id"], "name": row["court_name"]},
                "basis": row["basis"],
                "basis_region": row["basis_region_code"],
                "case_number": row["case_number"],
                "agreement": row["agreement_id"],
                "dispute": {
                    "id": row["agreement__dispute_id"],
                    "case_number": row["agreement__dispute__case_number"],
                    "title": row["agreement__dispute__title"],
                },
                "parties": [
                    {
                        "role": p.role,
                        "name": p.name,
                        "consented_at": consent.get(p.id),
                        "signed": p.id in consent,
                    }
                    for p in agreement._required_parties
                ],
                "created_at": row["created_at"],
                "window_closes_at": window.closes_at if window else None,
                "submitted_at": row["submitted_at"],
                "accept_deadline": row["accept_deadline"],
                "accepted_at": row["accepted_at"],
                "accepted_by": _name(row["accepted_by_names"]),
                "rule_deadline": row["rule_deadline"],
                "rule_extended_at": row["rule_extended_at"],
                "extension_reason": row["extension_reason"],
                "decided_at": row["decided_at"],
                "decided_by": _name(row["decided_by_names"]),
                "reason": row["reason"],
                "overdue": court_selectors.overdue_kind(request, now),
                "application_sha256": row["application_sha256"],
                "ruling_sha256": row["ruling_sha256"],
                "documents": docs,
                "evidence": _queue_evidence(row, base),
                "actions": actions,
            }
        )
    return items


def _pdf(field, filename: str) -> FileResponse:
    if not field:
        raise NotFound()
    return FileResponse(
        field.open("rb"), content_type="application/pdf", filename=filename, as_attachment=False
    )


# --- the parties' joint application ------------------------------------------------------


@router.post("/agreements/{agreement_id}/confirmation", response=ConfirmationOut)
def confirmation_apply(
    request: HttpRequest, agreement_id: int, payload: ConsentIn | None = None
) -> dict[str, Any]:
    agreement = court_selectors.agreement_get_for(user=request.auth, agreement_id=agreement_id)
    body = payload or ConsentIn()
    """Starts the joint application (the first party chooses the court) or returns it as
    it is. A party applies by signing it (`…/confirmation/sign`, then `…/sign/complete`):
    until every party has, the request stays `awaiting_consent` and `parties` says who
    has signed."""
    confirmation = services.confirmation_apply(
        agreement=agreement,
        actor=request.auth,
        basis=body.basis,
        region=body.region,
        court=body.court,
    )
    return request_out(court_selectors.confirmation_of(confirmation.agreement), request.auth)


@router.post("/agreements/{agreement_id}/confirmation/sign", response=ApplicationSigningOut)
def confirmation_sign(
    request: HttpRequest, agreement_id: int, payload: ApplicationSignIn
) -> dict[str, Any]:
    """Step 1 of 2: re-authenticate, consent, certify the party's public key and get the
    bytes to sign."""
    agreement = court_selectors.agreement_get_for(user=request.auth, agreement_id=agreement_id)
    pending = services.confirmation_sign(
        agreement=agreement,
        actor=request.auth,
        password=payload.password,
        code=payload.code or "",
        consent=payload.consent,
        public_key=payload.public_key,
        signature_png=payload.signature_png,
        typed_name=payload.typed_name,
        ip=client_ip_of(request),
        basis=payload.basis,
        region=payload.region,
        court=payload.court,
    )
    return {
        "signing_id": str(pending.signing_id),
        "to_sign": base64.b64encode(bytes(pending.signed_attrs)).decode(),
        "expires_at": pending.expires_at,
    }


@router.post("/agreements/{agreement_id}/confirmation/sign/complete", response=ConfirmationOut)
def confirmation_sign_complete(
    request: HttpRequest, agreement_id: int, payload: ApplicationSignCompleteIn
) -> dict[str, Any]:
    """Step 2 of 2: the party's signature over `to_sign`, embedded in the application;
    the last party's sends it to the court."""
    agreement = court_selectors.agreement_get_for(user=request.auth, agreement_id=agreement_id)
    services.confirmation_sign_complete(
        agreement=agreement,
        actor=request.auth,
        signing_id=payload.signing_id,
        signature=payload.signature,
    )
    return request_out(court_selectors.confirmation_of(agreement), request.auth)


@router.get("/agreements/{agreement_id}/confirmation/application.pdf")
def confirmation_application_pdf(request: HttpRequest, agreement_id: int) -> HttpResponse:
    """The joint application as the parties read and sign it: the document rendered when
    the first party applied, with the signatures made so far (the parties and the
    mediator; the court reads the sealed one in its portal)."""
    agreement = court_selectors.agreement_get_for(user=request.auth, agreement_id=agreement_id)
    confirmation = court_selectors.confirmation_of(agreement)
    if confirmation is None or not confirmation.signing_pdf:
        raise NotFound()
    if not court_selectors.reads_application_being_signed(agreement, request.auth):
        raise NotFound()
    response = HttpResponse(bytes(confirmation.signing_pdf), content_type="application/pdf")
    response["Content-Disposition"] = content_disposition_header(
        False, f"application-{confirmation.pk}.pdf"
    )
    return response


@router.get("/agreements/{agreement_id}/confirmation", response=ConfirmationOut)
def confirmation_detail(request: HttpRequest, agreement_id: int) -> dict[str, Any]:
    agreement = court_selectors.agreement_get_for(user=request.auth, agreement_id=agreement_id)
    confirmation = court_selectors.confirmation_of(agreement)
    if confirmation is None:
        raise NotFound()
    return request_out(confirmation, request.auth)


@router.get("/agreements/{agreement_id}/evidence-package.zip")
def evidence_package(request: HttpRequest, agreement_id: int) -> HttpResponse:
    agreement = court_selectors.package_agreement_for(user=request.auth, agreement_id=agreement_id)
    filename, data = package.build_evidence_package(agreement)
    response = HttpResponse(data, content_type="application/zip")
    response["Content-Disposition"] = content_disposition_header(True, filename)
    return response


# --- the court ---------------------------------------------------------------------------


# The court queue's order (court_selectors.QUEUE_ORDER): open requests first, the
# nearest deadline on top; decided ones after, newest decision first; the id breaks ties.
@router.get("/court/requests", response=RequestList)
def court_requests(
    request: HttpRequest,
    status: str | None = None,
    category: str | None = Query(None, description="The case's category code"),
    region: str | None = Query(None, description="A region code: its cases and those under it"),
    submitted_from: str | None = Query(None, description="Submitted on or after (YYYY-MM-DD)"),
    submitted_to: str | None = Query(None, description="Submitted on or before (YYYY-MM-DD)"),
    q: str | None = Query(None, description="The start of a case number or a party's name"),
    limit: int = pagination.limit_param(),
    cursor: str | None = pagination.cursor_param(),
) -> HttpResponse:
    """One page of the court's queue, paged like the disputes (CONTRACT §3) and filtered
    as the court's page is (issue 14): a bad filter answers 422 with its code
    (invalid_status_filter, invalid_category_filter, invalid_region_filter,
    invalid_date_filter, invalid_search)."""
    if status and status not in CR.values:
        raise Invalid(
            f"Unknown status {status!r}; use one of {', '.join(CR.values)}.",
            code="invalid_status_filter",
        )
    given = {"category": category, "region": region, "q": q}
    given |= {"filed_from": submitted_from, "filed_to": submitted_to}
    filters = list_filters.filters_or_422(
        list_filters.ListFilterForm({k: v for k, v in given.items() if v is not None})
    )
    # Who asks is read once, for the queue's court and for the actions of each request.
    roles = court_selectors.court_roles_of(request.auth)
    page = pagination.paginate_rows(
        court_selectors.court_queue_keys(request.auth, filters, status=status, roles=roles),
        keys=court_selectors.QUEUE_ORDER,
        limit=limit,
        cursor=cursor,
        fields=("pk",),
    )
    rows = court_selectors.queue_items_by_ids([row["pk"] for row in page.items])
    user = _user_itself(request.auth)
    items = queue_items(rows, user, Viewer.of(user, roles))
    # The items are in the schema's exact shape (request_out's): validating fifty of them
    # again through the schemas cost a third of the page's CPU (issue 14).
    return json_response(request, page.answer(items))


def _user_itself(user: AbstractBaseUser) -> AbstractBaseUser:
    """The signed-in user, not the lazy object the session's authentication answers
    (Django's `request.user`): the actions of each row of a list ask it some ten times,
    and each read through the lazy object is a call more (issue 14)."""
    if isinstance(user, LazyObject) and user._wrapped is not empty:
        return user._wrapped
    return user


def _court_out(request: HttpRequest, request_id: int) -> dict[str, Any]:
    """The request as the caller sees it now, read afresh after an act."""
    return request_out(
        court_selectors.court_request_get_for(user=request.auth, request_id=request_id),
        request.auth,
    )


@router.get("/court/requests/{request_id}", response=ConfirmationOut)
def court_request_detail(request: HttpRequest, request_id: int) -> dict[str, Any]:
    found = court_selectors.court_request_get_for(user=request.auth, request_id=request_id)
    return request_out(found, request.auth)


@router.post("/court/requests/{request_id}/accept", response=ConfirmationOut)
def court_request_accept(
    request: HttpRequest, request_id: int, payload: AcceptIn
) -> dict[str, Any]:
    found = court_selectors.court_request_get_for(user=request.auth, request_id=request_id)
    services.confirmation_accept(
        request=found, actor=request.auth, court_case_number=payload.court_case_number
    )
    return _court_out(request, request_id)


@router.post("/court/requests/{request_id}/extension", response=ConfirmationOut)
def court_request_extend(
    request: HttpRequest, request_id: int, payload: ExtensionIn
) -> dict[str, Any]:
    found = court_selectors.court_request_get_for(user=request.auth, request_id=request_id)
    services.confirmation_extend(request=found, actor=request.auth, reason=payload.reason)
    return _court_out(request, request_id)


@router.post("/court/requests/{request_id}/decision", response=ConfirmationOut)
def court_request_decide(
    request: HttpRequest, request_id: int, payload: DecisionIn
) -> dict[str, Any]:
    found = court_selectors.court_request_get_for(user=request.auth, request_id=request_id)
    if payload.preview:
        services.confirmation_ruling_issue(
            request=found,
            actor=request.auth,
            decision=payload.decision,
            reason=payload.reason,
            preview=payload.preview,
            court_case_number=payload.court_case_number,
        )
    else:
        # CONTRACT §3: `{decision, reason}` alone rules (the court's own system previews).
        services.confirmation_decide(
            request=found,
            actor=request.auth,
            decision=payload.decision,
            reason=payload.reason,
            court_case_number=payload.court_case_number,
        )
    return _court_out(request, request_id)


@router.get("/court/requests/{request_id}/ruling.pdf")
def court_ruling_pdf(request: HttpRequest, request_id: int) -> FileResponse:
    found = court_selectors.request_for_ruling(user=request.auth, request_id=request_id)
    return _pdf(found.ruling_pdf, f"ruling-{found.pk}.pdf")


@router.get("/court/requests/{request_id}/application.pdf")
def court_application_pdf(request: HttpRequest, request_id: int) -> FileResponse:
    found = court_selectors.request_for_documents(user=request.auth, request_id=request_id)
    return _pdf(found.application_pdf, f"application-{found.pk}.pdf")


@router.get("/court/requests/{request_id}/agreement.pdf")
def court_agreement_pdf(request: HttpRequest, request_id: int) -> FileResponse:
    found = court_selectors.request_for_documents(user=request.auth, request_id=request_id)
    return _pdf(found.agreement.pdf, f"agreement-{found.agreement_id}.pdf")


@router.get("/court/requests/{request_id}/evidence/{evidence_id}")
def court_evidence_file(request: HttpRequest, request_id: int, evidence_id: int) -> FileResponse:
    # The packet's evidence: for the court, and for the parties and mediator whose case it is.
    found = court_selectors.request_for_documents(user=request.auth, request_id=request_id)
    item = court_selectors.court_evidence_get(request=found, evidence_id=evidence_id)
    return FileResponse(
        item.file.open("rb"),
        content_type=item.content_type,
        filename=item.filename,
        as_attachment=True,
    )


# --- performance -------------------------------------------------------------------------


def obligation_out(
    obligation: Performance,
    user: AbstractBaseUser,
    *,
    today: date | None = None,
    viewer: ObligationViewer | None = None,
) -> dict[str, Any]:
    proof = None
    if obligation.proof:
        proof = {
            "name": obligation.proof_filename,
            "url": f"/api/v1/obligations/{obligation.pk}/proof",
            "sha256": obligation.proof_sha256,
        }
    return {
        "id": obligation.pk,
        "term": obligation.term_index,
        "instalment": obligation.instalment_index,
        "description": obligation.description,
        "obligor": obligation.obligor_role,
        "obligee": obligation.obligee_role,
        "amount": obligation.amount,
        "due_date": obligation.due_date,
        "status": obligation.status,
        "done_at": obligation.done_at,
        "reported_at": obligation.reported_at,
        "disputed": obligation.is_disputed,
        "disputed_at": obligation.disputed_at if obligation.is_disputed else None,
        "dispute_reason": obligation.dispute_reason if obligation.is_disputed else "",
        "note": obligation.proof_note,
        "proof": proof,
        "overdue": obligation.is_overdue(today),
        "actions": obligation_actions(obligation, user, viewer=viewer),
    }


@router.get("/agreements/{agreement_id}/obligations", response=ObligationList, tags=["performance"])
def obligations(request: HttpRequest, agreement_id: int) -> dict[str, Any]:
    # Reads only: the obligations were laid out when the agreement came into force (or by
    # the reminders job for one that came into force without them).
    agreement = court_selectors.agreement_get_for(user=request.auth, agreement_id=agreement_id)
    viewer = ObligationViewer(request.auth)
    items = [
        obligation_out(o, request.auth, viewer=viewer)
        for o in court_selectors.obligations_of(agreement)
    ]
    guidance = court_selectors.default_guidance(agreement)
    return {
        "count": len(items),
        "items": items,
        "default": None
        if guidance is None
        else {
            "route": guidance.route,
            "court": {"id": guidance.court.pk, "name": guidance.court.name}
            if guidance.court
            else None,
            "court_case_number": guidance.court_case_number,
            "enforcement_deadline": guidance.enforcement_deadline,
            "overdue": [o.pk for o in guidance.overdue],
        },
    }


@router.post("/obligations/{obligation_id}/done", response=ObligationOut, tags=["performance"])
def obligation_done(
    request: HttpRequest,
    obligation_id: int,
    note: Form[str] = "",
    file: UploadedFile | None = _OPTIONAL_FILE,
) -> dict[str, Any]:
    obligation = court_selectors.obligation_get_for(user=request.auth, obligation_id=obligation_id)
    done = services.performance_mark_done(
        obligation=obligation,
        actor=request.auth,
        note=note,
        proof=file,
        proof_name=file.name if file else "",
        proof_size=file.size if file else None,
    )
    return obligation_out(done, request.auth)


@router.post("/obligations/{obligation_id}/confirm", response=ObligationOut, tags=["performance"])
def obligation_confirm(request: HttpRequest, obligation_id: int) -> dict[str, Any]:
    """The obligee confirms the obligor's report: the obligation is performed."""
    obligation = court_selectors.obligation_get_for(user=request.auth, obligation_id=obligation_id)
    done = services.performance_confirm(obligation=obligation, actor=request.auth)
    return obligation_out(done, request.auth)


@router.post("/obligations/{obligation_id}/dispute", response=ObligationOut, tags=["performance"])
def obligation_dispute(
    request: HttpRequest, obligation_id: int, payload: DisputeIn
) -> dict[str, Any]:
    """The obligee disputes the obligor's report, with a reason: open again, disputed."""
    obligation = court_selectors.obligation_get_for(user=request.auth, obligation_id=obligation_id)
    done = services.performance_dispute(
        obligation=obligation, actor=request.auth, reason=payload.reason
    )
    return obligation_out(done, request.auth)


@router.get("/obligations/{obligation_id}/proof", tags=["performance"])
def obligation_proof(request: HttpRequest, obligation_id: int) -> FileResponse:
    obligation = court_selectors.obligation_proof_for(
        user=request.auth, obligation_id=obligation_id
    )
    return FileResponse(
        obligation.proof.open("rb"),
        content_type=obligation.proof_content_type,
        filename=obligation.proof_filename or "proof",
        as_attachment=True,
    )


# --- the court's acts: extension, 补正, 撤回, 询问, the ruling's preview ------------------------


class ExtensionDecisionIn(Schema):
    approve: bool = Field(description="true: the president approves; false: refuses")


class SupplementIn(Schema):
    what: str = Field(max_length=5000, description="The materials the court needs")
    deadline: str = Field(description="The day by which to supply them (YYYY-MM-DD)")


class SupplementOut(Schema):
    id: int
    what: str
    deadline: datetime
    asked_at: datetime
    asked_by: str
    open: bool
    answered_at: datetime | None
    answered_by: str
    answer: str
    evidence: list[int]
    notice_url: str
    notice_sha256: str


class WithdrawIn(Schema):
    reason: str = Field(default="", max_length=2000)


class InquiryIn(Schema):
    scheduled_at: datetime
    place: str = Field(default="", max_length=200)
    online: bool = Field(default=False, description="held in a hearing room the judge hosts")


class RecordIn(Schema):
    record: str = Field(max_length=20000, description="questions and answers")
    present: list[int] = Field(description="ids of the parties present")


class SignIn(Schema):
    password: str = ""
    code: str = Field(default="", description="the authenticator's code, with two-factor on")


class SignedOut(Schema):
    name: str
    role: str
    at: datetime


class InquiryOut(Schema):
    id: int
    scheduled_at: datetime
    place: str
    online: bool
    room_url: str
    judge: str
    clerk: str
    record: str
    present: list[int]
    recorded_at: datetime | None = Field(
        default=None, description="when the record was written: the inquiry's end"
    )
    signed: list[SignedOut]
    closed_at: datetime | None
    record_url: str
    record_sha256: str


class WithdrawalOut(Schema):
    requested_at: datetime | None
    reason: str
    withdrawn_at: datetime | None
    order_url: str
    order_sha256: str


class ExtensionOut(Schema):
    requested_at: datetime | None
    reason: str
    approved_at: datetime | None
    refused_at: datetime | None


class ActsOut(Schema):
    id: int
    status: str
    case_number: str
    accept_deadline: datetime | None
    rule_deadline: datetime | None
    extension: ExtensionOut
    supplements: list[SupplementOut]
    inquiries: list[InquiryOut]
    withdrawal: WithdrawalOut
    actions: list[str]


def supplement_out(s: SupplementRequest) -> dict[str, Any]:
    base = f"/api/v1/court/requests/{s.request_id}/supplements/{s.pk}"
    return {
        "id": s.pk,
        "what": s.what,
        "deadline": s.deadline,
        "asked_at": s.asked_at,
        "asked_by": people.display_name(s.asked_by),
        "open": s.is_open,
        "answered_at": s.answered_at,
        "answered_by": people.display_name(s.answered_by) if s.answered_by_id else "",
        "answer": s.answer,
        "evidence": list(s.evidence_ids or []),
        "notice_url": f"{base}/notice.pdf" if s.notice_pdf else "",
        "notice_sha256": s.notice_sha256,
    }


def inquiry_out(i: Inquiry) -> dict[str, Any]:
    base = f"/api/v1/court/requests/{i.request_id}/inquiries/{i.pk}"
    return {
        "id": i.pk,
        "scheduled_at": i.scheduled_at,
        "place": i.place,
        "online": i.online,
        "room_url": f"/sessions/{i.session_id}/room/" if i.session_id else "",
        "judge": people.display_name(i.judge),
        "clerk": people.display_name(i.clerk) if i.clerk_id else "",
        "record": i.record,
        "present": list(i.present or []),
        "recorded_at": i.recorded_at,
        "signed": [
            {"name": e.get("name", ""), "role": e.get("role", ""), "at": e.get("at")}
            for e in i.signed or []
        ],
        "closed_at": i.closed_at,
        "record_url": f"{base}/record.pdf" if i.record_pdf else "",
        "record_sha256": i.record_sha256,
    }


def acts_out(request: ConfirmationRequest, user: AbstractBaseUser) -> dict[str, Any]:
    base = f"/api/v1/court/requests/{request.pk}"
    return {
        "id": request.pk,
        "status": request.status,
        "case_number": request.case_number,
        "accept_deadline": request.accept_deadline,
        "rule_deadline": request.rule_deadline,
        "extension": {
            "requested_at": request.extension_requested_at,
            "reason": request.extension_reason,
            "approved_at": request.rule_extended_at,
            "refused_at": request.extension_refused_at,
        },
        "supplements": [supplement_out(s) for s in request.supplements.all()],
        "inquiries": [inquiry_out(i) for i in request.inquiries.all()],
        "withdrawal": {
            "requested_at": request.withdrawal_requested_at,
            "reason": request.withdrawal_reason,
            "withdrawn_at": request.withdrawn_at,
            "order_url": f"{base}/withdrawal.pdf" if request.withdrawal_order_pdf else "",
            "order_sha256": request.withdrawal_order_sha256,
        },
        "actions": allowed_actions(request, user),
    }


def _acts(request: HttpRequest, request_id: int) -> dict[str, Any]:
    found = court_selectors.request_for_acts(user=request.auth, request_id=request_id)
    return acts_out(found, request.auth)


@router.post("/court/requests/{request_id}/extension/decision", response=ConfirmationOut)
def court_request_extension_decide(
    request: HttpRequest, request_id: int, payload: ExtensionDecisionIn
) -> dict[str, Any]:
    """The court president approves or refuses the judge's request to extend the period."""
    found = court_selectors.court_request_get_for(user=request.auth, request_id=request_id)
    services.confirmation_extension_decide(
        request=found, actor=request.auth, approve=payload.approve
    )
    return _court_out(request, request_id)


@router.get("/court/requests/{request_id}/acts", response=ActsOut)
def court_request_acts(request: HttpRequest, request_id: int) -> dict[str, Any]:
    """The court's acts on the request, for its court and its parties: the supplements
    asked for, the inquiries and their records, the withdrawal, the extension."""
    return _acts(request, request_id)


@router.post("/court/requests/{request_id}/supplements", response={201: SupplementOut})
def court_supplement_ask(
    request: HttpRequest, request_id: int, payload: SupplementIn
) -> Status[dict[str, Any]]:
    found = court_selectors.court_request_get_for(user=request.auth, request_id=request_id)
    made = services.confirmation_supplement_ask(
        request=found, actor=request.auth, what=payload.what, deadline=payload.deadline
    )
    return Status(201, supplement_out(made))


@router.post(
    "/court/requests/{request_id}/supplements/{supplement_id}/answer", response=SupplementOut
)
def court_supplement_answer(
    request: HttpRequest,
    request_id: int,
    supplement_id: int,
    answer: Form[str],
    evidence: Form[list[int]] = None,  # type: ignore[assignment]
    files: list[UploadedFile] = _OPTIONAL_FILE,  # type: ignore[assignment]
) -> dict[str, Any]:
    """A party answers (multipart: `answer`, `evidence` ids of the case's evidence, and
    `files` to add to it)."""
    found = court_selectors.request_for_party(user=request.auth, request_id=request_id)
    if not found.supplements.filter(pk=supplement_id, answered_at__isnull=True).exists():
        raise NotFound()
    done = services.confirmation_supplement_answer(
        request=found,
        actor=request.auth,
        answer=answer,
        evidence_ids=evidence or [],
        files=[(f, f.name, f.size) for f in files or []],
    )
    return supplement_out(done)


@router.get("/court/requests/{request_id}/supplements/{supplement_id}/notice.pdf")
def court_supplement_notice(request: HttpRequest, request_id: int, supplement_id: int):
    found = court_selectors.request_for_acts(user=request.auth, request_id=request_id)
    supplement = found.supplements.filter(pk=supplement_id).first()
    if supplement is None:
        raise NotFound()
    return _pdf(supplement.notice_pdf, f"supplement-{supplement.pk}.pdf")


@router.post("/court/requests/{request_id}/withdraw", response=ActsOut)
def court_request_withdraw(
    request: HttpRequest, request_id: int, payload: WithdrawIn | None = None
) -> dict[str, Any]:
    """A party asks to withdraw the application before the ruling (撤回)."""
    found = court_selectors.request_for_acts(user=request.auth, request_id=request_id)
    services.confirmation_withdraw(
        request=found, actor=request.auth, reason=payload.reason if payload else ""
    )
    return _acts(request, request_id)


@router.post("/court/requests/{request_id}/withdrawal", response=ConfirmationOut)
def court_request_withdrawal_allow(request: HttpRequest, request_id: int) -> dict[str, Any]:
    """The judge's order allowing the withdrawal (准许撤回): the request is withdrawn."""
    found = court_selectors.court_request_get_for(user=request.auth, request_id=request_id)
    services.confirmation_withdraw_allow(request=found, actor=request.auth)
    return _court_out(request, request_id)


@router.post("/court/requests/{request_id}/supplements/lapse", response=ConfirmationOut)
def court_supplement_lapse(request: HttpRequest, request_id: int) -> dict[str, Any]:
    """The materials were not supplied in time: the judge treats the application as
    withdrawn (按撤回处理)."""
    found = court_selectors.court_request_get_for(user=request.auth, request_id=request_id)
    services.confirmation_supplement_lapse(request=found, actor=request.auth)
    return _court_out(request, request_id)


@router.get("/court/requests/{request_id}/withdrawal.pdf")
def court_withdrawal_pdf(request: HttpRequest, request_id: int) -> FileResponse:
    found = court_selectors.request_for_acts(user=request.auth, request_id=request_id)
    return _pdf(found.withdrawal_order_pdf, f"withdrawal-{found.pk}.pdf")


@router.post("/court/requests/{request_id}/inquiries", response={201: InquiryOut})
def court_inquiry_schedule(
    request: HttpRequest, request_id: int, payload: InquiryIn
) -> Status[dict[str, Any]]:
    found = court_selectors.court_request_get_for(user=request.auth, request_id=request_id)
    made = services.confirmation_inquiry_schedule(
        request=found,
        actor=request.auth,
        scheduled_at=payload.scheduled_at,
        place=payload.place,
        online=payload.online,
    )
    return Status(201, inquiry_out(made))


def _inquiry(request: HttpRequest, request_id: int, inquiry_id: int) -> tuple:
    found = court_selectors.request_for_acts(user=request.auth, request_id=request_id)
    inquiry = found.inquiries.filter(pk=inquiry_id).first()
    if inquiry is None:
        raise NotFound()
    return found, inquiry


@router.post("/court/requests/{request_id}/inquiries/{inquiry_id}/record", response=InquiryOut)
def court_inquiry_record(
    request: HttpRequest, request_id: int, inquiry_id: int, payload: RecordIn
) -> dict[str, Any]:
    """Write (or rewrite, until the first signature) an inquiry's record. Not before the
    inquiry's scheduled time: 409 `inquiry_not_started`."""
    found, inquiry = _inquiry(request, request_id, inquiry_id)
    done = services.confirmation_inquiry_record(
        request=found,
        actor=request.auth,
        inquiry=inquiry,
        record=payload.record,
        present=payload.present,
    )
    return inquiry_out(done)


@router.post("/court/requests/{request_id}/inquiries/{inquiry_id}/sign", response=InquiryOut)
def court_inquiry_sign(
    request: HttpRequest, request_id: int, inquiry_id: int, payload: SignIn
) -> dict[str, Any]:
    found, inquiry = _inquiry(request, request_id, inquiry_id)
    done = services.confirmation_inquiry_sign(
        request=found,
        actor=request.auth,
        inquiry=inquiry,
        password=payload.password,
        code=payload.code,
    )
    return inquiry_out(done)


@router.get("/court/requests/{request_id}/inquiries/{inquiry_id}/record.pdf")
def court_inquiry_record_pdf(request: HttpRequest, request_id: int, inquiry_id: int):
    _found, inquiry = _inquiry(request, request_id, inquiry_id)
    return _pdf(inquiry.record_pdf, f"inquiry-{inquiry.pk}.pdf")


@router.post("/court/requests/{request_id}/decision/preview")
def court_request_decision_preview(
    request: HttpRequest, request_id: int, payload: DecisionIn
) -> HttpResponse:
    """The ruling as it would be issued, marked 预览 and stored nowhere. The header
    `X-Ruling-Preview` carries the token the decision needs (`preview`)."""
    found = court_selectors.court_request_get_for(user=request.auth, request_id=request_id)
    preview = services.confirmation_ruling_preview(
        request=found,
        actor=request.auth,
        decision=payload.decision,
        reason=payload.reason,
        court_case_number=payload.court_case_number,
    )
    response = HttpResponse(preview.pdf, content_type="application/pdf")
    response["Content-Disposition"] = content_disposition_header(
        False, f"ruling-preview-{found.pk}.pdf"
    )
    response["X-Ruling-Preview"] = preview.token
    response["Cache-Control"] = "no-store"
    return response
