"""The agreement part of the JSON API (CONTRACT §3): thin: parse, find what the caller may
see (404 otherwise), call one service, answer the agreement."""

from __future__ import annotations

import base64
from datetime import date, datetime
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.http import HttpRequest, HttpResponse
from ninja import Router, Schema
from pydantic import Field

from agreements import selectors, services
from agreements.content_check import confirmation_bar, missing_elements, non_mediable_reason
from agreements.models import Agreement, Signature
from agreements.transitions import allowed_actions
from odr import selectors as odr_selectors
from odr.request_context import client_ip_of

router = Router(tags=["agreements"])


class InstalmentIn(Schema):
    amount: str | float | int | None = None
    due_date: date | None = None


class TermIn(Schema):
    text: str = Field(default="", max_length=2000)
    kind: str | None = None
    obligor: str | None = None
    obligee: str | None = None
    amount: str | float | int | None = None
    due_date: date | None = None
    place: str | None = Field(default=None, max_length=300)
    instalments: list[InstalmentIn] | None = None


class PartyDetailIn(Schema):
    """The particulars a mediator may fill in on a party's identity record."""

    address: str | None = Field(default=None, max_length=300)
    ethnicity: str | None = Field(default=None, max_length=20)
    occupation: str | None = Field(default=None, max_length=100)
    representative: str | None = Field(default=None, max_length=100)
    representative_title: str | None = Field(default=None, max_length=100)


class AgreementIn(Schema):
    facts: str | None = Field(default=None, max_length=20000)
    terms: list[TermIn] | None = None
    disputed_matters: str | None = Field(default=None, max_length=20000)
    matter: str | None = None
    performance_method: str | None = Field(default=None, max_length=20000)
    performance_place: str | None = Field(default=None, max_length=300)
    # By side ("applicant", "respondent": the side's first party) or by party
    # ("party:<id>"): particulars written onto the party's identity record.
    party_details: dict[str, PartyDetailIn] | None = None


class ActionIn(Schema):
    # `revise` may say why the agreement goes back to draft; `open` takes nothing.
    reason: str = Field(default="", max_length=2000)


class SignIn(Schema):
    password: str = Field(default="", max_length=4096)
    consent: bool = False
    signature_png: str | None = Field(default=None, max_length=800_000)
    # Instead of a drawn image: the signer's name, rendered to an image on the server.
    typed_name: str | None = Field(default=None, max_length=100)
    # The authenticator code of a user with two-factor authentication on.
    code: str | None = Field(default=None, max_length=20)
    # The signer's own EC P-256 public key (PEM), made on their device for this
    # signature (CONTRACT §3): without it, 422 `signer_key_required`.
    public_key: str | None = Field(default=None, max_length=4096)
    # The agreement version the signer read (CONTRACT §3): another, or none, answers 409
    # `version_changed`.
    version: int | None = Field(default=None, ge=1)


class SigningOut(Schema):
    signing_id: str
    # Base64 of the DER CMS signed attributes: sign them with ECDSA-SHA256.
    to_sign: str
    expires_at: datetime


class SignCompleteIn(Schema):
    signing_id: str = Field(max_length=64)
    # Base64 of the DER ECDSA-SHA256 signature over the bytes of `to_sign`.
    signature: str = Field(max_length=1024)


class TermOut(Schema):
    text: str
    kind: str
    obligor: str
    obligee: str
    amount: str | None
    due_date: str | None
    place: str
    instalments: list[dict[str, Any]]


class PartyOut(Schema):
    id: int | None
    role: str
    kind: str
    name: str
    id_number: str
    address: str
    missing: list[str]


class SignatureOut(Schema):
    role: str
    party: int | None
    name: str
    signed_at: datetime
    method: str


class SignerOut(Schema):
    role: str
    party: int | None
    name: str
    signed: bool
    signed_at: datetime | None


class AgreementOut(Schema):
    id: int
    dispute: int
    case_number: str
    status: str
    version: int
    document_id: str
    template: str
    matter: str
    facts: str
    disputed_matters: str
    terms: list[TermOut]
    performance_method: str
    performance_place: str
    parties: list[PartyOut]
    signatures: list[SignatureOut]
    signers: list[SignerOut]
    awaiting_signatures: list[str]
    missing: list[str]
    not_mediable: str | None
    confirmation_bar: str | None
    unsigned_pdf_sha256: str
    pdf_sha256: str
    opened_at: datetime | None
    effective_at: datetime | None
    updated_at: datetime
    actions: list[str]


def _term_out(term: dict[str, Any]) -> dict[str, Any]:
    """Every key present, whatever wrote the term (the services always store them all;
    rows written by other means may lack some)."""
    return {
        "text": str(term.get("text") or ""),
        "kind": str(term.get("kind") or "other"),
        "obligor": str(term.get("obligor") or ""),
        "obligee": str(term.get("obligee") or ""),
        "amount": str(term["amount"]) if term.get("amount") not in (None, "") else None,
        "due_date": str(term["due_date"]) if term.get("due_date") else None,
        "place": str(term.get("place") or ""),
        "instalments": list(term.get("instalments") or []),
    }


def _awaiting(agreement: Agreement, signers: list[selectors.Signer]) -> list[str]:
    """The roles of which someone has still to sign (a side with several parties once)."""
    if agreement.status != Agreement.Status.SIGNING:
        return []
    waiting = {s.role for s in signers if not s.signed}
    return [r for r in Signature.Role.values if r in waiting]


def agreement_out(agreement: Agreement, user: AbstractBaseUser) -> dict[str, Any]:
    signatures = selectors.current_signatures(agreement)
    signers = selectors.signers(agreement)
    is_draft = agreement.status == Agreement.Status.DRAFT
    return {
        "id": agreement.pk,
        "dispute": agreement.dispute_id,
        "case_number": agreement.dispute.case_number,
        "status": agreement.status,
        "version": agreement.version,
        "document_id": str(agreement.document_id),
        "template": agreement.template,
        "matter": agreement.matter,
        "facts": agreement.facts,
        "disputed_matters": agreement.disputed_matters,
        "terms": [_term_out(t) for t in agreement.terms or []],
        "performance_method": agreement.performance_method,
        "performance_place": agreement.performance_place,
        # The identity records the agreement names (frozen once opened for signing); ID
        # numbers are masked: the full number is on the original PDF.
        "parties": [
            {
                "id": p["party_id"],
                "role": p["role"],
                "kind": p["kind"],
                "name": p["name"],
                "id_number": p["id_number_masked"] or p["credit_code"],
                "address": p["address"],
                "missing": p["missing"] if is_draft else [],
            }
            for p in selectors.agreement_parties(agreement)
        ],
        "signatures": [
            {
                "role": s.role,
                "party": s.party_id,
                "name": s.signer_name,
                "signed_at": s.signed_at,
                "method": s.method,
            }
            for s in signatures
        ],
        # Every party who takes part and the mediator, each with where they stand.
        "signers": [
            {
                "role": s.role,
                "party": s.party_id,
                "name": s.name,
                "signed": s.signed,
                "signed_at": s.signature.signed_at if s.signature else None,
            }
            for s in signers
        ],
        # The roles of which someone has still to sign (a side counts once).
        "awaiting_signatures": _awaiting(agreement, signers),
        "missing": [m.label for m in missing_elements(agreement)] if is_draft else [],
        "not_mediable": non_mediable_reason(agreement) if is_draft else None,
        "confirmation_bar": confirmation_bar(agreement),
        "unsigned_pdf_sha256": agreement.unsigned_pdf_sha256,
        "pdf_sha256": agreement.pdf_sha256,
        "opened_at": agreement.opened_at,
        "effective_at": agreement.effective_at,
        "updated_at": agreement.updated_at,
        "actions": allowed_actions(agreement, user),
    }


def _fresh(request: HttpRequest, agreement_id: int) -> dict[str, Any]:
    agreement = selectors.agreement_get_for(user=request.auth, agreement_id=agreement_id)
    return agreement_out(agreement, request.auth)


@router.put("/disputes/{dispute_id}/agreement", response=AgreementOut)
def agreement_put(request: HttpRequest, dispute_id: int, payload: AgreementIn) -> dict[str, Any]:
    dispute = odr_selectors.dispute_get_for(user=request.auth, dispute_id=dispute_id)
    agreement = services.agreement_save_draft(
        dispute=dispute, actor=request.auth, data=payload.dict(exclude_unset=True)
    )
    return _fresh(request, agreement.pk)


@router.get("/disputes/{dispute_id}/agreement", response=AgreementOut)
def agreement_of_dispute(request: HttpRequest, dispute_id: int) -> dict[str, Any]:
    from odr.errors import NotFound

    dispute = odr_selectors.dispute_get_for(user=request.auth, dispute_id=dispute_id)
    agreement = selectors.agreement_of_dispute(dispute)
    if agreement is None:
        raise NotFound("This case has no agreement yet.")
    return _fresh(request, agreement.pk)


@router.get("/agreements/{agreement_id}", response=AgreementOut)
def agreement_detail(request: HttpRequest, agreement_id: int) -> dict[str, Any]:
    return _fresh(request, agreement_id)


@router.post("/agreements/{agreement_id}/actions/{action}", response=AgreementOut)
def agreement_action(
    request: HttpRequest, agreement_id: int, action: str, payload: ActionIn | None = None
) -> dict[str, Any]:
    agreement = selectors.agreement_get_for(user=request.auth, agreement_id=agreement_id)
    services.agreement_run_action(
        agreement=agreement,
        actor=request.auth,
        action=action,
        data=payload.dict() if payload else {},
    )
    return _fresh(request, agreement_id)


@router.post("/agreements/{agreement_id}/sign", response=SigningOut)
def agreement_sign(request: HttpRequest, agreement_id: int, payload: SignIn) -> dict[str, Any]:
    """Step 1 of 2: re-authenticate, consent, certify the signer's public key and get the
    bytes to sign."""
    agreement = selectors.agreement_get_for(user=request.auth, agreement_id=agreement_id)
    pending = services.agreement_sign(
        agreement=agreement,
        actor=request.auth,
        password=payload.password,
        code=payload.code or "",
        consent=payload.consent,
        public_key=payload.public_key,
        signature_png=payload.signature_png,
        typed_name=payload.typed_name,
        ip=client_ip_of(request),
        version=payload.version,
    )
    return {
        "signing_id": str(pending.signing_id),
        "to_sign": base64.b64encode(bytes(pending.signed_attrs)).decode(),
        "expires_at": pending.expires_at,
    }


@router.post("/agreements/{agreement_id}/sign/complete", response=AgreementOut)
def agreement_sign_complete(
    request: HttpRequest, agreement_id: int, payload: SignCompleteIn
) -> dict[str, Any]:
    """Step 2 of 2: the signer's signature over `to_sign`, embedded in the document."""
    agreement = selectors.agreement_get_for(user=request.auth, agreement_id=agreement_id)
    services.agreement_sign_complete(
        agreement=agreement,
        actor=request.auth,
        signing_id=payload.signing_id,
        signature=payload.signature,
    )
    return _fresh(request, agreement_id)


@router.get("/agreements/{agreement_id}/pdf", response={200: None})
def agreement_pdf(request: HttpRequest, agreement_id: int) -> HttpResponse:
    agreement = selectors.agreement_get_for(user=request.auth, agreement_id=agreement_id)
    return pdf_response(agreement)


def pdf_response(agreement: Agreement) -> HttpResponse:
    """The sealed PDF once the agreement is in force; before that, the current rendering,
    which the document itself marks as not yet signed."""
    if agreement.status == Agreement.Status.SIGNED and agreement.pdf:
        with agreement.pdf.open("rb") as fh:
            body = fh.read()
        name = f"agreement-{agreement.dispute_id}-signed.pdf"
    else:
        body = services.render_pdf(agreement)
        name = f"agreement-{agreement.dispute_id}-v{agreement.version}-unsigned.pdf"
    response = HttpResponse(body, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{name}"'
    response["Cache-Control"] = "private, no-store"
    return response
