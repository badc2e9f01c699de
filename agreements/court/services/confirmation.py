"""Every write of judicial confirmation: the parties' joint application, the clerk's
docketing under the court's own number, the extension of the period to rule, and the
judge's ruling (confirmed, rejected, or not accepted before docketing), with the
application and the ruling PDFs they store.

A request moves only through `agreements.court.transitions.MACHINE.apply`, which locks
the row, checks the move and who makes it, saves and writes the audit event; e-mails go
after commit (DESIGN.md §2, §4). The law (DESIGN.md §3): every party applies, jointly,
within 30 days of the agreement taking effect, to the competent court of CPL 2023
Art. 205 (agreements.court.jurisdiction); the court decides on acceptance within 3 days
and rules within 15, extendable by 10; every period ends on the next working day when its
last day is a rest day or holiday (agreements.court.deadlines, odr.periods); the matters
of SPC interpretation of the CPL Art. 355 are refused at the door (agreements.content_check)."""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Callable
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

from cryptography.hazmat.primitives import serialization
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from agreements import pending_signing
from agreements.content_check import confirmation_bar
from agreements.court import case_numbers, deadlines, documents, jurisdiction
from agreements.court import selectors as court_selectors
from agreements.court.transitions import (
    CONSENT_FIELDS,
    DECISIONS,
    MACHINE,
    not_confirmable,
    window_closed,
)
from agreements.models import (
    Agreement,
    ConfirmationConsent,
    ConfirmationRequest,
    PendingSigning,
)
from agreements.selectors import party_key
from odr import people
from odr.audit import log_action
from odr.errors import DomainError, Forbidden, Invalid
from odr.links import site_url
from odr.models import Dispute, Membership, Organisation, Party
from odr.notifications import notify
from odr.text import clean_text

CR = ConfirmationRequest.Status


# --- notifications -----------------------------------------------------------------------


def court_staff(court: Organisation, *roles: str) -> list[AbstractBaseUser]:
    """Whom a court's new requests and deadlines are written to: its clerks, who docket
    (DESIGN.md §3), unless other court roles are named."""
    return people.organisation_staff(court, *(roles or (Membership.Role.CLERK,)))


def deadline_recipients(request: ConfirmationRequest, kind: str) -> list[AbstractBaseUser]:
    """Who is reminded of a court deadline: the clerks of docketing ("accept"); the
    judges, who rule, and the clerks, who keep the record, of the ruling ("rule")."""
    if kind == "accept":
        return court_staff(request.court)
    return court_staff(request.court, Membership.Role.JUDGE, Membership.Role.CLERK)


def _mediator(dispute: Dispute) -> list[AbstractBaseUser]:
    return [dispute.mediator] if dispute.mediator_id else []


def request_context(request: ConfirmationRequest) -> dict[str, Any]:
    """What every confirmation e-mail may say; JSON-serialisable (it crosses the queue)."""
    dispute = request.agreement.dispute
    return {
        "case_number": dispute.case_number,
        "title": dispute.title,
        "case_url": f"{site_url()}/disputes/{dispute.pk}/",
        "court": request.court.name,
        "court_case_number": request.case_number,
        # The number a ruling or an order goes by: the court's own once it gave one,
        # otherwise the mediation's.
        "ruling_number": request.case_number or dispute.case_number,
        "portal_url": f"{site_url()}/court/requests/{request.pk}/",
        "accept_deadline": _fmt(request.accept_deadline),
        "rule_deadline": _fmt(request.rule_deadline),
        "reason": request.reason,
        "decision": request.status,
        "confirmed": request.status == CR.CONFIRMED,
        "not_accepted": request.status == CR.NOT_ACCEPTED,
        "ruling_url": f"{site_url()}/api/v1/court/requests/{request.pk}/ruling.pdf",
        "ruling_sha256": request.ruling_sha256,
        "verify_url": f"{site_url()}/verify/",
    }


def _fmt(value: datetime | None) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else ""


# --- documents ---------------------------------------------------------------------------


def _as_it_will_be(request: ConfirmationRequest, **values: Any) -> ConfirmationRequest:
    """A copy of the locked request with the values the move is about to save: the
    documents print them, and the audit event's `before` must still read the row as it
    was (the kernel takes it after `prepare`)."""
    preview = copy.copy(request)
    for name, value in values.items():
        setattr(preview, name, value)
    return preview


def _store(request: ConfirmationRequest, field_name: str, filename: str, data: bytes) -> str:
    """Writes a document to the field's storage and returns the name to save on the row."""
    field = ConfirmationRequest._meta.get_field(field_name)
    name = field.generate_filename(request, filename)
    return field.storage.save(name, ContentFile(data), max_length=field.max_length)


def _signing_document(request: ConfirmationRequest) -> dict[str, Any]:
    """The joint application as every party reads and signs it, rendered once (issue 9,
    point 5): with the evidence list as it stands and an empty box for each party's
    signature field. Nothing is rendered over it again; the fields to save."""
    evidence = list(court_selectors.evidence_of(request.agreement.dispute))
    boxes: dict = {}
    pdf = documents.render_application(request, evidence=evidence, boxes=boxes)
    return {
        "signing_pdf": pdf,
        "signature_boxes": boxes,
        "signing_sha256": hashlib.sha256(pdf).hexdigest(),
    }


def _record_rows(request: ConfirmationRequest) -> list[SimpleNamespace]:
    """The completion record's rows for the application: each party's signature in
    signing order (ConfirmationConsent keeps its signer, time, certificate and address);
    every party signs the application as 申请人."""
    return [
        SimpleNamespace(
            role="applicant",
            signer_name=consent.signer_name,
            signed_at=consent.consented_at,
            certificate_serial=consent.certificate_serial,
            ip=consent.ip,
        )
        for consent in request.consents.order_by("consented_at", "pk")
    ]


def _application(request: ConfirmationRequest) -> dict[str, Any]:
    """The application as it goes to the court: the document every party signed, each
    signature its own incremental update, then the platform's seal as its own update and
    the validation data (CA chain, CRL; a document timestamp with a TSA) last, as the
    agreement's (issue 9, points 2, 4 and 5). Stored; the fields to save."""
    from agreements.documents.finalize import completion_record_stamp
    from agreements.documents.ltv import embed_validation_data
    from agreements.documents.pdf import RECORD_BOX
    from agreements.documents.pki import seal_pdf

    signed = bytes(request.signing_pdf)
    if not signed:
        raise DomainError(
            "signing_document_missing", _("The application has no signed document to seal.")
        )
    # The platform seal shows the completion record in the place kept for it under the
    # attachments (documents._record_place), as the agreement's does; an application fixed
    # before that place existed gets the seal invisible, as before.
    record = (request.signature_boxes or {}).get(RECORD_BOX)
    stamp = completion_record_stamp(_record_rows(request), record) if record else None
    sealed = seal_pdf(
        signed,
        organisation=None,
        reason="平台电子印章（司法确认申请书）",
        box=record,
        stamp_style=stamp,
    )
    sealed = embed_validation_data(sealed)
    return {
        "application_sha256": hashlib.sha256(sealed).hexdigest(),
        "application_pdf": _store(
            request, "application_pdf", f"application-{request.pk}.pdf", sealed
        ),
    }


def _ruling(request: ConfirmationRequest, judge: AbstractBaseUser) -> dict[str, Any]:
    """The ruling's PDF sealed with the court's own seal, stored; the fields to save. It
    is signed off by the judge who ruled and the clerk who docketed it (DESIGN.md §3),
    each by their real name (documents.court_person_name)."""
    from agreements.documents.ltv import embed_validation_data
    from agreements.documents.pki import seal_pdf

    clerk = request.accepted_by
    unsigned = documents.render_ruling(
        request,
        judge_name=documents.court_person_name(judge),
        clerk_name=documents.court_person_name(clerk) if clerk is not None else "",
    )
    sealed = seal_pdf(unsigned, organisation=request.court, reason="民事裁定书")
    # The ruling's validation data (CA chain, CRL; a document timestamp with a TSA), so
    # that it validates as PAdES B-LT offline like the agreement (issue 9, point 4).
    sealed = embed_validation_data(sealed)
    return {
        "ruling_sha256": hashlib.sha256(sealed).hexdigest(),
        "ruling_pdf": _store(request, "ruling_pdf", f"ruling-{request.pk}.pdf", sealed),
    }


# --- the parties' joint application ------------------------------------------------------


def _require_confirmable(agreement: Agreement, now: datetime) -> None:
    """The agreement must be in force, of a matter a court accepts (SPC interpretation of
    the CPL Art. 355: refused at the door with the reason, 422 `not_confirmable`), and
    within its window (30 days; a last day on a rest day or holiday moves to the next
    working day)."""
    if agreement.status != Agreement.Status.SIGNED or agreement.effective_at is None:
        raise DomainError(
            "agreement_not_in_force",
            _("Only an agreement signed by everyone and in force can be confirmed by a court."),
        )
    bar = confirmation_bar(agreement)
    if bar:
        raise not_confirmable(bar).error()
    if now > deadlines.confirmation_window_closes(agreement.effective_at):
        raise window_closed(agreement).error()


def _submission(
    now: datetime, extra: dict[str, Any], names: list[str]
) -> Callable[[ConfirmationRequest], dict]:
    def prepare(locked: ConfirmationRequest) -> dict[str, Any]:
        values = {
            "status": CR.PENDING,
            "submitted_at": now,
            "accept_deadline": deadlines.accept_deadline(now),
        }
        stored = _application(_as_it_will_be(locked, **values))
        names.append(stored["application_pdf"])
        # Read by the kernel when it writes the audit event, after this returns.
        extra["application_sha256"] = stored["application_sha256"]
        del values["status"]  # the transition's target
        return {**values, **stored}

    return prepare


def _chosen(
    dispute: Dispute, basis: str | None, region: str | None, court: int | None
) -> jurisdiction.Competent:
    return jurisdiction.competent_court(dispute, basis=basis, region_code=region, court_id=court)


def confirmation_apply(
    *,
    agreement: Agreement,
    actor: AbstractBaseUser,
    basis: str | None = None,
    region: str | None = None,
    court: int | None = None,
) -> ConfirmationRequest:
    """A party starts the joint application for judicial confirmation (CONTRACT §3,
    `POST …/confirmation`), for themselves or as agent with special authorisation. The
    first to apply chooses the competent court (CPL 2023 Art. 205,
    agreements.court.jurisdiction: `basis` and, for a party's domicile or the property,
    the `region` code; default the organisation's place; the inviting court when a court
    invited the mediation); the others join that choice.

    Starting it renders the application once, with a box for each party's signature, and
    stores it: the request waits (awaiting_consent) for every party's signature. A party
    applies by signing it with a key of their own device (confirmation_sign, then
    confirmation_sign_complete): the signature IS the party's consent, because the law
    asks for the application signed by both (DESIGN.md §3). Starting again is harmless:
    the request is returned as it is."""
    with transaction.atomic():
        # Lock the agreement: two parties starting at the same instant make one request.
        locked = Agreement.objects.select_for_update().get(pk=agreement.pk)
        dispute = Dispute.objects.prefetch_related("parties").get(pk=locked.dispute_id)
        locked.dispute = dispute
        parties = court_selectors.parties_acting_for(locked, actor)
        if not parties:
            raise Forbidden(
                _("Only the parties to the agreement can apply for its confirmation."),
                code="not_a_party",
            )
        now = timezone.now()
        request = ConfirmationRequest.objects.filter(agreement=locked).first()
        if request is not None:
            chose = basis or region or court is not None
            if chose and request.status == CR.AWAITING_CONSENT:
                competent = _chosen(dispute, basis, region, court)
                if competent.court.pk != request.court_id:
                    raise DomainError(
                        "court_already_chosen",
                        _(
                            "The first party to apply chose %(court)s; every party applies "
                            "to the same court."
                        )
                        % {"court": request.court.name},
                    )
            if request.status == CR.AWAITING_CONSENT and not request.signing_pdf:
                # Started before applications were signed: its document is made now,
                # before anyone signs it.
                for name, value in _signing_document(request).items():
                    setattr(request, name, value)
                request.save(update_fields=["signing_pdf", "signature_boxes", "signing_sha256"])
            return request
        _require_confirmable(locked, now)
        competent = _chosen(dispute, basis, region, court)
        request = ConfirmationRequest.objects.create(
            agreement=locked,
            court=competent.court,
            basis=competent.basis,
            basis_region=competent.region,
            created_at=now,
        )
        for name, value in _signing_document(request).items():
            setattr(request, name, value)
        request.save(update_fields=["signing_pdf", "signature_boxes", "signing_sha256"])
        log_action(
            action="confirmation.apply",
            obj=request,
            actor=actor,
            dispute=dispute,
            after={
                "court": request.court_id,
                "basis": request.basis,
                "parties": [p.pk for p in parties],
                "signing_sha256": request.signing_sha256,
            },
        )
        notify(
            people.party_recipients(dispute, exclude=actor),
            "confirmation_consent_requested",
            {
                **request_context(request),
                "asked_by": "、".join(p.name for p in parties),
                "window_closes": _fmt(deadlines.confirmation_window_closes(locked.effective_at)),
            },
        )
    return request


def _next_party(request: ConfirmationRequest, actor: AbstractBaseUser) -> Party | None:
    """The party this actor signs for now: their own, or the next of those they are
    agent for whose signature the application still lacks (one signature per party,
    each in its own box)."""
    done = court_selectors.consents_of(request)
    for party in court_selectors.parties_acting_for(request.agreement, actor):
        if party.pk not in done:
            return party
    return None


def application_signature_reason(*, role: str, document_sha256: str) -> str:
    """The application signature's /Reason: who signs and the SHA-256 of the application
    as rendered for every party to read, so that what the signature binds is named in
    the signed file itself (issue 9, point 3)."""
    return f"申请人签署司法确认申请书 SHA-256 {document_sha256}"


def confirmation_sign(
    *,
    agreement: Agreement,
    actor: AbstractBaseUser,
    password: str = "",
    code: str = "",
    consent: bool,
    public_key: str | None,
    signature_png: str | None = None,
    typed_name: str | None = None,
    ip: str | None = None,
    basis: str | None = None,
    region: str | None = None,
    court: int | None = None,
) -> PendingSigning:
    """Step 1 of a party's signature of the joint application (issue 9, point 5), as the
    agreement is signed (CONTRACT §3): `public_key` is the key the party made on their
    own device (422 `signer_key_required` without it), they re-authenticate (password or
    authenticator code) and consent; the platform CA certifies the key under their real
    name and the signature is prepared over the stored application (their field, in
    their box, with the drawn signature as its appearance). Starts the application when
    no party has yet (confirmation_apply). Returns the pending signing: its `signing_id`
    and the `signed_attrs` the party signs for confirmation_sign_complete."""
    from agreements.documents.finalize import (
        prepare_signature,
        signature_field_name,
    )
    from agreements.documents.pki import certify_signer_key, load_signer_public_key

    # The agreement's own re-authentication and signature image: one way to sign.
    from agreements.services import PENDING_SIGNING_MINUTES, reauthenticate
    from agreements.services import _signature_image as signature_image

    if not court_selectors.parties_acting_for(agreement, actor):
        raise Forbidden(
            _("Only the parties to the agreement can apply for its confirmation."),
            code="not_a_party",
        )
    existing = court_selectors.confirmation_of(agreement)
    if existing is not None:
        # The request's own refusals (already applied, window closed, not confirmable,
        # before the court) come before the password is spent.
        MACHINE.check("consent", existing, actor)
    if not (public_key or "").strip():
        raise DomainError(
            "signer_key_required",
            _(
                "Signing needs a key made on your own device: send your EC P-256 public key "
                "(PEM) as public_key. A current browser makes one for you."
            ),
            status=422,
        )
    key = load_signer_public_key(public_key)
    reauthenticate(user=actor, password=password, code=code)
    if consent is not True:
        raise Invalid(
            _(
                "Tick the box to confirm that you apply, jointly with the other parties, for "
                "judicial confirmation and sign the application."
            ),
            code="consent_required",
        )
    image, method = signature_image(actor=actor, signature_png=signature_png, typed_name=typed_name)
    request = confirmation_apply(
        agreement=agreement, actor=actor, basis=basis, region=region, court=court
    )
    with transaction.atomic():
        locked = MACHINE.lock(request)
        MACHINE.check("consent", locked, actor)
        party = _next_party(locked, actor)
        if party is None:  # the machine's own refusal already says so; defensive
            raise DomainError("already_applied", _("You have already signed the application."))
        base = bytes(locked.signing_pdf)
        if not base:
            raise DomainError(
                "signing_document_missing", _("The application has no document to sign.")
            )
        reason = application_signature_reason(
            role=party.role, document_sha256=locked.signing_sha256
        )
        cert = certify_signer_key(
            public_key=key,
            user=actor,
            agreement=locked.agreement,
            role=party.role,
            party_id=party.pk,
            document=reason,
        )
        now = timezone.now()
        index = len(court_selectors.consents_of(locked)) + 1
        field = signature_field_name(index, party.role)
        box = (locked.signature_boxes or {}).get(party_key(party.pk))
        prepared = prepare_signature(
            base,
            cert=cert,
            field_name=field,
            box=box,
            image_png=image,
            when=timezone.localtime(now),
            reason=reason,
        )
        # One pending signing per signer: starting again replaces the last; expired
        # ones can never complete.
        PendingSigning.objects.filter(confirmation=locked).filter(
            Q(signer=actor) | Q(expires_at__lte=now)
        ).delete()
        pending = PendingSigning.objects.create(
            agreement=locked.agreement,
            confirmation=locked,
            signer=actor,
            role=party.role,
            party=party,
            signer_name=people.display_name(actor)[:100],
            version=locked.agreement.version,
            document_sha256=locked.signing_sha256,
            base_sha256=hashlib.sha256(base).hexdigest(),
            signature_png=image,
            method=method,
            ip=ip,
            certificate_pem=cert.public_bytes(serialization.Encoding.PEM).decode(),
            field_name=field,
            prepared_pdf=prepared.pdf,
            document_digest=prepared.digest,
            reserved_start=prepared.reserved_start,
            reserved_end=prepared.reserved_end,
            signed_attrs=prepared.signed_attrs,
            created_at=now,
            expires_at=now + timedelta(minutes=PENDING_SIGNING_MINUTES),
        )
    return pending


def _signed_consent(
    pending: PendingSigning, actor: AbstractBaseUser, signed_pdf: bytes, extra: dict[str, Any]
) -> Callable[[ConfirmationRequest], dict]:
    """Under the request's lock: the party's application, which is their signature, and
    the application with that signature embedded."""

    def prepare(locked: ConfirmationRequest) -> dict[str, Any]:
        try:
            with transaction.atomic():
                consent = ConfirmationConsent.objects.create(
                    request=locked,
                    party=pending.party,
                    user=actor,
                    consented_at=pending.created_at,
                    signer_name=pending.signer_name,
                    certificate_serial=pending.certificate_serial,
                    certificate_pem=pending.certificate_pem,
                    ip=pending.ip,
                )
        except IntegrityError:
            raise DomainError(
                "already_applied", _("You have already signed the application.")
            ) from None
        values: dict[str, Any] = {"signing_pdf": signed_pdf}
        field = CONSENT_FIELDS.get(pending.role)
        if field and getattr(locked, field) is None:
            values[field] = pending.created_at
        extra.update(
            role=pending.role,
            parties=[pending.party_id],
            basis=locked.basis,
            certificate_serial=consent.certificate_serial,
            document_sha256=pending.document_sha256,
            signed_pdf_sha256=hashlib.sha256(signed_pdf).hexdigest(),
        )
        return values

    return prepare


def confirmation_sign_complete(
    *, agreement: Agreement, actor: AbstractBaseUser, signing_id: Any, signature: str | bytes
) -> ConfirmationRequest:
    """Step 2: `signature` is the party's ECDSA-SHA256 signature (DER; base64 from the
    API) over the signed attributes of their pending signing. It must verify against the
    key the CA certified in step 1 (422 `signature_invalid`, nothing changes); it is
    embedded as that party's incremental update of the application and their application
    (ConfirmationConsent, with the certificate) is recorded through the machine. When
    another party signed since step 1: 409 `signing_restart`, sign again. After the last
    party's signature the platform seals the application, its validation data follow,
    and it goes to the court (pending) in the same transaction."""
    signature = pending_signing.decoded_signature(signature)
    wanted = pending_signing.signing_uuid(signing_id)
    request = court_selectors.confirmation_of(agreement)
    if request is None:
        raise pending_signing.signing_gone()
    stored: list[str] = []
    try:
        with transaction.atomic():
            locked = MACHINE.lock(request)
            pending = (
                PendingSigning.objects.select_for_update()
                # No join: PostgreSQL locks no row on the nullable side of an outer join.
                .filter(signing_id=wanted, confirmation=locked, signer=actor)
                .first()
            )
            if pending is None or pending.expires_at <= timezone.now():
                raise pending_signing.signing_gone()
            signed_pdf = pending_signing.embed(
                pending,
                document=bytes(locked.signing_pdf),
                signature=signature,
                restart=_(
                    "Another party signed while you were signing: nothing was signed. Sign again."
                ),
            )
            extra: dict[str, Any] = {}
            request = MACHINE.apply(
                "consent",
                instance=locked,
                actor=actor,
                prepare=_signed_consent(pending, actor, signed_pdf, extra),
                extra=extra,
            )
            pending.delete()
            dispute = request.agreement.dispute
            if MACHINE.refusal("submit", request, actor) is None:
                submitted: dict[str, Any] = {}
                request = MACHINE.apply(
                    "submit",
                    instance=request,
                    actor=actor,
                    prepare=_submission(timezone.now(), submitted, stored),
                    extra=submitted,
                )
                context = request_context(request)
                notify(
                    people.party_recipients(dispute) + _mediator(dispute),
                    "confirmation_submitted",
                    context,
                )
                notify(court_staff(request.court), "court_new_request", context)
    except BaseException:
        # The sealed application reached storage before the rollback: remove it again.
        for name in stored:
            ConfirmationRequest._meta.get_field("application_pdf").storage.delete(name)
        raise
    return request


# --- the court ---------------------------------------------------------------------------


def _docket_number(
    locked: ConfirmationRequest, raw: str, now: datetime, *, lock: bool = True
) -> str:
    """The court's number for the case, checked for form (agreements.court.case_numbers)
    and unique in the court: the clerk's at docketing, or the judge's on a ruling not to
    accept (不予受理), which the court registers under a number of its own too. The court's
    row is locked while it is checked, so that two typing the same number at once do not
    both have it; a preview (`lock=False`) checks without locking and writes nothing."""
    courts = Organisation.objects.select_for_update() if lock else Organisation.objects
    court = courts.get(pk=locked.court_id)
    submitted = locked.submitted_at or now
    number = case_numbers.parse(
        raw,
        court=court,
        earliest_year=timezone.localdate(submitted).year,
        year=timezone.localdate(now).year,
    )
    taken = ConfirmationRequest.objects.filter(court=court, case_number=number.text)
    if taken.exclude(pk=locked.pk).exists():
        raise DomainError(
            "court_case_number_taken",
            _("The court's case %(number)s is another application's already.")
            % {"number": number.text},
        )
    return number.text


def confirmation_accept(
    *, request: ConfirmationRequest, actor: AbstractBaseUser, court_case_number: str
) -> ConfirmationRequest:
    """A clerk of the court dockets the application (立案) under the court's own case
    number, typed from the court's system (CONTRACT §3); the 15 days to rule start."""
    now = timezone.now()

    def prepare(locked: ConfirmationRequest) -> dict[str, Any]:
        # The table's refusals (403 for a judge, 409 once docketed) come first.
        return {
            "accepted_at": now,
            "accepted_by": actor,
            "case_number": _docket_number(locked, court_case_number, now),
            "rule_deadline": deadlines.rule_deadline(now),
        }

    with transaction.atomic():
        accepted = MACHINE.apply("accept", instance=request, actor=actor, prepare=prepare)
        notify(
            people.party_recipients(accepted.agreement.dispute),
            "court_accepted",
            request_context(accepted),
        )
    return accepted


def confirmation_extend(
    *, request: ConfirmationRequest, actor: AbstractBaseUser, reason: str
) -> ConfirmationRequest:
    """The judge asks the president of the court to extend the period to rule, once, for
    a stated reason (SPC rules on judicial confirmation, Art. 7: 经本院院长批准，可以延长十日).
    The deadline moves only when the president approves (services.acts)."""
    reason = clean_text(reason, multiline=True)

    def prepare(locked: ConfirmationRequest) -> dict[str, Any]:
        # The table's refusals (403, 409) come before this one, as they always did.
        if not reason:
            raise Invalid(_("Give the reason for extending the period."), code="reason_required")
        return {
            "extension_requested_at": timezone.now(),
            "extension_requested_by": actor,
            "extension_reason": reason,
        }

    with transaction.atomic():
        asked = MACHINE.apply(
            "extension_request",
            instance=request,
            actor=actor,
            prepare=prepare,
            extra={"reason": reason},
        )
        notify(
            court_staff(asked.court, Membership.Role.PRESIDENT),
            "court_extension_requested",
            {
                **request_context(asked),
                "extension_reason": reason,
                "judge": people.display_name(actor),
            },
        )
    return asked


def not_accepted_number(decision: str, court_case_number: str | None) -> str:
    """The court's number typed for a ruling not to accept, cleaned; "" when none was
    typed. Only that ruling takes one: a docketed application already has its number,
    so a number with another decision is refused (400 court_case_number_not_expected)."""
    number = clean_text(court_case_number or "")
    if number and decision != CR.NOT_ACCEPTED:
        raise Invalid(
            _(
                "Only a ruling not to accept takes the court's case number: a docketed "
                "application has its number already."
            ),
            code="court_case_number_not_expected",
        )
    return number


def confirmation_decide(
    *,
    request: ConfirmationRequest,
    actor: AbstractBaseUser,
    decision: str,
    reason: str,
    court_case_number: str = "",
) -> ConfirmationRequest:
    """A judge of the court rules (CONTRACT §3): on a docketed application, the agreement
    is confirmed as valid or the application rejected with reasons (驳回); before
    docketing, the application is not accepted (不予受理), with reasons, by its own ruling,
    under the court's own case number when the judge gives it (`court_case_number`,
    checked as docketing checks it: form, this court's code, not another case's), which
    the ruling prints and the request keeps. The ruling PDF is sealed with the court's
    key, its hash stored for verification, and it is served on the parties. A clerk is
    refused (403) before anything is written."""
    reason = clean_text(reason, multiline=True)
    transition = DECISIONS.get(decision)
    if transition is None:
        raise Invalid(
            _("The decision is “confirmed”, “rejected” or “not_accepted”."),
            code="invalid_decision",
        )
    number = not_accepted_number(decision, court_case_number)
    now = timezone.now()
    extra: dict[str, Any] = {"decision": decision, "reason": reason}

    def prepare(locked: ConfirmationRequest) -> dict[str, Any]:
        # The table's refusals (403 for a clerk, 409 for the wrong status) come first.
        if decision != CR.CONFIRMED and not reason:
            raise Invalid(
                _("A ruling against the application must give its reasons."), code="reason_required"
            )
        values = {"status": decision, "decided_at": now, "decided_by": actor, "reason": reason}
        if number:
            values["case_number"] = _docket_number(locked, number, now)
            extra["court_case_number"] = values["case_number"]
        stored = _ruling(_as_it_will_be(locked, **values), actor)
        # Read by the kernel when it writes the audit event, after this returns.
        extra["ruling_sha256"] = stored["ruling_sha256"]
        if transition != "decide":
            del values["status"]  # the transition's own target
        return {**values, **stored}

    with transaction.atomic():
        decided = MACHINE.apply(
            transition, instance=request, actor=actor, prepare=prepare, extra=extra
        )
        dispute = decided.agreement.dispute
        notify(
            people.party_recipients(dispute) + _mediator(dispute),
            "court_ruling",
            request_context(decided),
        )
    return decided


# --- the reminders' records --------------------------------------------------------------


def confirmation_record_window_reminder(
    *, agreement: Agreement, stage: int, days_left: int, now: datetime
) -> None:
    """Records, on the agreement's row locked by the caller, that the parties were
    reminded of the window to apply (`stage`: 7, then 1 day before it closes), so that
    the reminder is sent once per stage."""
    agreement.window_reminded_days = stage
    agreement.window_reminded_at = now
    agreement.save(update_fields=["window_reminded_days", "window_reminded_at"])
    log_action(
        action="confirmation.window_remind",
        obj=agreement,
        dispute=agreement.dispute,
        actor_label="reminders",
        after={
            "days_left": days_left,
            "stage": stage,
            "closes_at": deadlines.confirmation_window_closes(agreement.effective_at),
        },
    )


# Which column records the court's reminder of each deadline.
DEADLINE_REMINDER_FIELDS = {"accept": "accept_reminded_at", "rule": "rule_reminded_at"}


def confirmation_record_deadline_reminder(
    *, request: ConfirmationRequest, kind: str, now: datetime
) -> None:
    """Records, on the request's row locked by the caller, that the court's clerks were
    reminded of its `kind` deadline ("accept" or "rule")."""
    field = DEADLINE_REMINDER_FIELDS[kind]
    setattr(request, field, now)
    request.save(update_fields=[field])
    log_action(
        action="confirmation.deadline_remind",
        obj=request,
        dispute=request.agreement.dispute,
        actor_label="reminders",
        after={
            "kind": kind,
            "deadline": request.accept_deadline if kind == "accept" else request.rule_deadline,
        },
    )
