"""Every write of judicial confirmation and of the performance of an agreement.

A confirmation request moves only through the one TRANSITIONS table below: each service
locks the row, checks the move and who makes it, saves, writes an audit event and sends
its e-mails after commit (DESIGN.md §2, §4). The law (DESIGN.md §3): both parties apply
jointly to the basic court where the mediation organisation sits, within 30 days of the
agreement taking effect; the court decides on acceptance within 3 days and rules within
15, extendable once by 10; personal status, adoption and marriage validity cannot be
confirmed."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import IO, Any

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _

from agreements.court import deadlines, documents
from agreements.court import selectors as court_selectors
from agreements.models import Agreement, ConfirmationRequest, Performance
from odr import selectors as odr_selectors
from odr.audit import log_action
from odr.errors import DomainError, Forbidden, Invalid
from odr.evidence import check_upload
from odr.models import Dispute, Membership, Organisation, Party
from odr.notifications import Recipient, notify

CR = ConfirmationRequest.Status
Who = Callable[[ConfirmationRequest, AbstractBaseUser], bool]


# --- the transition table ----------------------------------------------------------------


def _party(request: ConfirmationRequest, user: AbstractBaseUser) -> bool:
    return court_selectors.party_of(request.agreement, user) is not None


def _court_staff(request: ConfirmationRequest, user: AbstractBaseUser) -> bool:
    return court_selectors.is_staff_of_court(request, user)


def _not_accepted(request: ConfirmationRequest) -> bool:
    return request.accepted_at is None


def _window_open(request: ConfirmationRequest) -> bool:
    window = court_selectors.confirmation_window(request.agreement)
    return window is not None and window.is_open


def _accepted_not_extended(request: ConfirmationRequest) -> bool:
    return request.accepted_at is not None and request.rule_extended_at is None


@dataclass(frozen=True)
class Transition:
    name: str
    sources: frozenset[str]
    targets: frozenset[str]
    who: Who
    # A further condition on the request, beyond its status (e.g. not yet accepted).
    when: Callable[[ConfirmationRequest], bool] = lambda request: True


TRANSITIONS: dict[str, Transition] = {
    t.name: t
    for t in [
        # The first party's consent creates the request; the second submits it.
        Transition(
            "consent",
            frozenset({CR.AWAITING_CONSENT}),
            frozenset({CR.AWAITING_CONSENT, CR.PENDING}),
            _party,
            _window_open,
        ),
        Transition(
            "accept", frozenset({CR.PENDING}), frozenset({CR.PENDING}), _court_staff, _not_accepted
        ),
        Transition(
            "extend",
            frozenset({CR.PENDING}),
            frozenset({CR.PENDING}),
            _court_staff,
            _accepted_not_extended,
        ),
        Transition(
            "decide", frozenset({CR.PENDING}), frozenset({CR.CONFIRMED, CR.REJECTED}), _court_staff
        ),
    ]
}


def allowed_actions(request: ConfirmationRequest, user: AbstractBaseUser) -> list[str]:
    """The moves this user may make on this request now, for buttons and the API."""
    if not user.is_authenticated:
        return []
    out = []
    for name, t in TRANSITIONS.items():
        if name == "consent" and not _consent_missing(request, user):
            continue
        if request.status in t.sources and t.when(request) and t.who(request, user):
            out.append(name)
    return out


def _check(name: str, request: ConfirmationRequest, actor: AbstractBaseUser, target: str) -> None:
    """403 when the actor may never make the move, 409 when the request's state does not
    allow it now."""
    t = TRANSITIONS[name]
    if not t.who(request, actor):
        raise Forbidden(_("You may not do this on this request."), code="action_not_allowed")
    if name == "accept" and request.accepted_at is not None:
        raise DomainError(
            "already_accepted",
            _("The court accepted this application already (%(number)s).")
            % {"number": request.case_number},
        )
    if name == "extend" and request.rule_extended_at is not None:
        raise DomainError("already_extended", _("The period to rule can be extended only once."))
    if request.status not in t.sources or not t.when(request):
        raise DomainError(
            "invalid_status",
            _("This cannot be done while the request is “%(status)s”.")
            % {"status": request.get_status_display()},
        )
    assert target in t.targets, f"{name} cannot lead to {target}"


def _snapshot(request: ConfirmationRequest) -> dict[str, Any]:
    return {
        "status": request.status,
        "court": request.court_id,
        "case_number": request.case_number,
        "accept_deadline": request.accept_deadline,
        "accepted_at": request.accepted_at,
        "rule_deadline": request.rule_deadline,
    }


def _consent_missing(request: ConfirmationRequest, user: AbstractBaseUser) -> bool:
    party = court_selectors.party_of(request.agreement, user)
    if party is None:
        return False
    return (
        _consent_field(party.role) is not None
        and getattr(request, _consent_field(party.role)) is None
    )


def _consent_field(role: str) -> str | None:
    return {
        Party.Role.APPLICANT: "applicant_consented_at",
        Party.Role.RESPONDENT: "respondent_consented_at",
    }.get(role)


# --- notifications -----------------------------------------------------------------------


def _party_recipients(dispute: Dispute, *, except_user: AbstractBaseUser | None = None):
    out: list[Recipient | AbstractBaseUser] = []
    for party in dispute.parties.select_related("user", "user__profile"):
        if except_user is not None and party.user_id == except_user.pk:
            continue
        if party.user is not None:
            out.append(party.user)
        elif party.email:
            out.append(Recipient(email=party.email))
    return out


def court_staff(court: Organisation) -> list[AbstractBaseUser]:
    return [
        m.user
        for m in court.memberships.filter(
            role=Membership.Role.CLERK, is_active=True
        ).select_related("user", "user__profile")
        if m.user.is_active
    ]


def _mediator(dispute: Dispute) -> list[AbstractBaseUser]:
    return [dispute.mediator] if dispute.mediator_id else []


def request_context(request: ConfirmationRequest) -> dict[str, Any]:
    """What every confirmation e-mail may say; JSON-serialisable (it crosses the queue)."""
    dispute = request.agreement.dispute
    return {
        "case_number": dispute.case_number,
        "title": dispute.title,
        "case_url": f"{settings.SITE_URL}/disputes/{dispute.pk}/",
        "court": request.court.name,
        "court_case_number": request.case_number,
        "portal_url": f"{settings.SITE_URL}/court/requests/{request.pk}/",
        "accept_deadline": _fmt(request.accept_deadline),
        "rule_deadline": _fmt(request.rule_deadline),
        "reason": request.reason,
        "decision": request.status,
        "ruling_url": f"{settings.SITE_URL}/api/v1/court/requests/{request.pk}/ruling.pdf",
        "ruling_sha256": request.ruling_sha256,
        "verify_url": f"{settings.SITE_URL}/verify/",
    }


def _fmt(value: datetime | None) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else ""


# --- judicial confirmation: the parties' joint application -------------------------------


def _require_confirmable(agreement: Agreement, now: datetime) -> Organisation:
    """The agreement must be in force, of a confirmable matter, within its window, and
    there must be a competent court. Returns that court."""
    if agreement.status != Agreement.Status.SIGNED or agreement.effective_at is None:
        raise DomainError(
            "agreement_not_in_force",
            _("Only an agreement signed by everyone and in force can be confirmed by a court."),
        )
    if agreement.matter != Agreement.Matter.CIVIL:
        raise DomainError(
            "matter_not_confirmable",
            _(
                "A court cannot confirm an agreement about personal status, adoption or the "
                "validity of a marriage (%(matter)s)."
            )
            % {"matter": agreement.get_matter_display()},
        )
    closes = deadlines.confirmation_window_closes(agreement.effective_at)
    if now > closes:
        raise DomainError(
            "confirmation_window_closed",
            _(
                "Judicial confirmation had to be applied for within %(days)d days of the "
                "agreement taking effect; that period ended on %(date)s. The agreement stays "
                "binding: if it is not performed, you can sue on it at the people's court."
            )
            % {
                "days": settings.ODR_CONFIRMATION_WINDOW_DAYS,
                "date": timezone.localtime(closes).strftime("%Y-%m-%d"),
            },
        )
    organisation = agreement.dispute.organisation
    court = odr_selectors.court_for_organisation(organisation) if organisation else None
    if court is None:
        raise DomainError(
            "no_competent_court",
            _("No basic people's court covers where the mediation organisation sits."),
        )
    return court


def confirmation_consent(*, agreement: Agreement, actor: AbstractBaseUser) -> ConfirmationRequest:
    """A party asks for judicial confirmation. The first party's request waits for the
    other's consent; with both it is a joint application and goes to the court. Asking
    again is harmless: the request is returned as it is."""
    with transaction.atomic():
        # Lock the agreement: two parties consenting at the same instant serialize here,
        # so the second always sees the first's consent and submits.
        locked = Agreement.objects.select_for_update().get(pk=agreement.pk)
        dispute = Dispute.objects.prefetch_related("parties").get(pk=locked.dispute_id)
        locked.dispute = dispute
        party = odr_selectors.party_of(dispute, actor)
        if party is None or _consent_field(party.role) is None:
            raise Forbidden(
                _("Only the parties to the agreement can apply for its confirmation."),
                code="not_a_party",
            )
        now = timezone.now()
        request = ConfirmationRequest.objects.select_for_update().filter(agreement=locked).first()
        field = _consent_field(party.role)
        if request is not None and getattr(request, field) is not None:
            return request
        court = _require_confirmable(locked, now)
        created = request is None
        if created:
            request = ConfirmationRequest(agreement=locked, court=court, created_at=now)
        request.agreement = locked
        before = {} if created else _snapshot(request)
        submit = all(
            getattr(request, _consent_field(role)) is not None
            for role in (Party.Role.APPLICANT, Party.Role.RESPONDENT)
            if _consent_field(role) != field
        )
        _check("consent", request, actor, CR.PENDING if submit else CR.AWAITING_CONSENT)
        setattr(request, field, now)
        if submit:
            request.status = CR.PENDING
            request.submitted_at = now
            request.accept_deadline = deadlines.end_of_period(now, deadlines.ACCEPT_DAYS)
        request.save()
        log_action(
            action="confirmation.consent",
            obj=request,
            actor=actor,
            dispute=dispute,
            before=before,
            after={**_snapshot(request), "role": party.role},
        )
        if submit:
            _store_application(request)
            log_action(
                action="confirmation.submit",
                obj=request,
                actor=actor,
                dispute=dispute,
                before={"status": CR.AWAITING_CONSENT},
                after={**_snapshot(request), "application_sha256": request.application_sha256},
            )
            context = request_context(request)
            notify(
                _party_recipients(dispute) + _mediator(dispute), "confirmation_submitted", context
            )
            notify(court_staff(request.court), "court_new_request", context)
        else:
            notify(
                _party_recipients(dispute, except_user=actor),
                "confirmation_consent_requested",
                {
                    **request_context(request),
                    "asked_by": party.name,
                    "window_closes": _fmt(
                        deadlines.confirmation_window_closes(locked.effective_at)
                    ),
                },
            )
    return request


def _store_application(request: ConfirmationRequest) -> None:
    evidence = list(court_selectors.evidence_of(request.agreement.dispute))
    pdf = documents.render_application(request, evidence=evidence)
    request.application_sha256 = hashlib.sha256(pdf).hexdigest()
    request.application_pdf.save(f"application-{request.pk}.pdf", ContentFile(pdf), save=False)
    request.save(update_fields=["application_pdf", "application_sha256"])


# --- the court ---------------------------------------------------------------------------


def _lock_request(request: ConfirmationRequest) -> ConfirmationRequest:
    locked = (
        ConfirmationRequest.objects.select_for_update()
        .select_related("court", "agreement", "agreement__dispute")
        .get(pk=request.pk)
    )
    locked.agreement.dispute = (
        Dispute.objects.prefetch_related("parties")
        .select_related("organisation")
        .get(pk=locked.agreement.dispute_id)
    )
    return locked


def _next_court_case_number(court: Organisation, year: int) -> str:
    """The court's special-procedure case number, e.g. (2026)浙0523民特0001号. The court's
    row is locked while the number is drawn so that two acceptances never share one."""
    Organisation.objects.select_for_update().filter(pk=court.pk).first()
    prefix = f"({year}){court.case_code}"
    taken = ConfirmationRequest.objects.filter(court=court, case_number__startswith=prefix).count()
    return f"{prefix}{taken + 1:04d}号"


def _accept(locked: ConfirmationRequest, actor: AbstractBaseUser, now: datetime) -> None:
    _check("accept", locked, actor, CR.PENDING)
    before = _snapshot(locked)
    locked.accepted_at = now
    locked.case_number = _next_court_case_number(locked.court, timezone.localdate(now).year)
    locked.rule_deadline = deadlines.end_of_period(now, deadlines.RULE_DAYS)
    locked.save()
    log_action(
        action="confirmation.accept",
        obj=locked,
        actor=actor,
        dispute=locked.agreement.dispute,
        before=before,
        after=_snapshot(locked),
    )


def confirmation_accept(
    *, request: ConfirmationRequest, actor: AbstractBaseUser
) -> ConfirmationRequest:
    """The court accepts the application (立案): its case number is drawn and the 15 days
    to rule start."""
    with transaction.atomic():
        locked = _lock_request(request)
        _accept(locked, actor, timezone.now())
        notify(
            _party_recipients(locked.agreement.dispute), "court_accepted", request_context(locked)
        )
    return locked


def confirmation_extend(
    *, request: ConfirmationRequest, actor: AbstractBaseUser, reason: str
) -> ConfirmationRequest:
    """Extends the period to rule by 10 days, once, for a stated reason."""
    reason = (reason or "").strip()
    with transaction.atomic():
        locked = _lock_request(request)
        _check("extend", locked, actor, CR.PENDING)
        if not reason:
            raise Invalid(_("Give the reason for extending the period."), code="reason_required")
        before = _snapshot(locked)
        locked.rule_deadline = locked.rule_deadline + timedelta(days=deadlines.EXTENSION_DAYS)
        locked.rule_extended_at = timezone.now()
        locked.extension_reason = reason
        # A new deadline deserves a new reminder.
        locked.rule_reminded_at = None
        locked.save()
        log_action(
            action="confirmation.extend",
            obj=locked,
            actor=actor,
            dispute=locked.agreement.dispute,
            before=before,
            after={**_snapshot(locked), "reason": reason},
        )
        notify(
            _party_recipients(locked.agreement.dispute),
            "court_extended",
            {**request_context(locked), "extension_reason": reason},
        )
    return locked


def confirmation_decide(
    *, request: ConfirmationRequest, actor: AbstractBaseUser, decision: str, reason: str
) -> ConfirmationRequest:
    """The court's ruling: the agreement is confirmed as valid, or the application is
    rejected with reasons. Deciding an application not yet formally accepted accepts it
    first (two audit events), so a court system that only calls `decision` still keeps
    the record complete. The ruling PDF is sealed with the court's key, its hash stored
    for verification, and it is served on the parties."""
    reason = (reason or "").strip()
    if decision not in (CR.CONFIRMED, CR.REJECTED):
        raise Invalid(_("The decision is “confirmed” or “rejected”."), code="invalid_decision")
    with transaction.atomic():
        locked = _lock_request(request)
        _check("decide", locked, actor, decision)
        if decision == CR.REJECTED and not reason:
            raise Invalid(_("A rejection must give its reasons."), code="reason_required")
        now = timezone.now()
        if locked.accepted_at is None:
            _accept(locked, actor, now)
        before = _snapshot(locked)
        locked.status = decision
        locked.decided_at = now
        locked.decided_by = actor
        locked.reason = reason
        _store_ruling(locked, actor)
        locked.save()
        log_action(
            action="confirmation.decide",
            obj=locked,
            actor=actor,
            dispute=locked.agreement.dispute,
            before=before,
            after={
                **_snapshot(locked),
                "decision": decision,
                "reason": reason,
                "ruling_sha256": locked.ruling_sha256,
            },
        )
        dispute = locked.agreement.dispute
        notify(
            _party_recipients(dispute) + _mediator(dispute), "court_ruling", request_context(locked)
        )
    return locked


def _store_ruling(request: ConfirmationRequest, actor: AbstractBaseUser) -> None:
    from agreements.documents.pki import ca, seal_pdf

    # The CA first: organisation_key() issues the court's key under the PKI directory
    # lock and would otherwise create the CA under that same lock (it is not reentrant).
    ca()
    judge = getattr(getattr(actor, "profile", None), "real_name", "") or actor.get_username()
    unsigned = documents.render_ruling(request, judge_name=judge)
    sealed = seal_pdf(unsigned, organisation=request.court, reason="民事裁定书")
    request.ruling_sha256 = hashlib.sha256(sealed).hexdigest()
    request.ruling_pdf.save(f"ruling-{request.pk}.pdf", ContentFile(sealed), save=False)


# --- performance of the agreement --------------------------------------------------------


def _amount(value: Any) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        return Decimal(str(value)).quantize(Decimal("0.01"))
    except InvalidOperation:
        return None


def _role(value: Any, dispute: Dispute) -> str:
    """A term names its obligor by role or by name; we keep the role."""
    value = str(value or "").strip()
    if value in (Party.Role.APPLICANT, Party.Role.RESPONDENT):
        return value
    for party in dispute.parties.all():
        if value and value == party.name:
            return party.role
    return ""


def _other(role: str) -> str:
    return {
        Party.Role.APPLICANT: Party.Role.RESPONDENT,
        Party.Role.RESPONDENT: Party.Role.APPLICANT,
    }.get(role, "")


def _obligations_from_terms(agreement: Agreement, dispute: Dispute) -> list[Performance]:
    rows: list[Performance] = []
    for index, term in enumerate(agreement.terms or [], 1):
        text = str(term.get("text") or "").strip()
        obligor = _role(term.get("obligor"), dispute)
        obligee = _role(term.get("obligee"), dispute) or _other(obligor)
        instalments = term.get("instalments") or []
        if not (obligor or instalments or term.get("due_date") or term.get("amount")):
            # A clause binding no one to anything ("no further claims") is no obligation.
            continue
        if instalments:
            for n, inst in enumerate(instalments, 1):
                rows.append(
                    Performance(
                        agreement=agreement,
                        term_index=index,
                        instalment_index=n,
                        description=f"{text}（第{n}期，共{len(instalments)}期）",
                        obligor_role=obligor,
                        obligee_role=obligee,
                        amount=_amount(inst.get("amount")),
                        due_date=parse_date(str(inst.get("due_date") or "")) or None,
                    )
                )
        else:
            rows.append(
                Performance(
                    agreement=agreement,
                    term_index=index,
                    description=text,
                    obligor_role=obligor,
                    obligee_role=obligee,
                    amount=_amount(term.get("amount")),
                    due_date=parse_date(str(term.get("due_date") or "")) or None,
                )
            )
    return rows


def performance_schedule(*, agreement: Agreement) -> list[Performance]:
    """Makes one obligation row per term (per instalment when a term is paid in parts)
    once the agreement is in force. Idempotent and cheap when there is nothing to do (it
    is also called when a case page is shown): the agreement row is locked only to make
    the rows, once."""
    existing = list(Performance.objects.filter(agreement_id=agreement.pk))
    if existing or agreement.status != Agreement.Status.SIGNED or agreement.effective_at is None:
        return existing
    dispute = Dispute.objects.prefetch_related("parties").get(pk=agreement.dispute_id)
    if not _obligations_from_terms(agreement, dispute):
        return []
    with transaction.atomic():
        locked = Agreement.objects.select_for_update().get(pk=agreement.pk)
        existing = list(Performance.objects.filter(agreement=locked))
        if existing or locked.status != Agreement.Status.SIGNED or locked.effective_at is None:
            return existing
        rows = _obligations_from_terms(locked, dispute)
        Performance.objects.bulk_create(rows)
        log_action(
            action="performance.schedule",
            obj=locked,
            dispute=dispute,
            actor_label="system",
            after={
                "obligations": [
                    {
                        "term": r.term_index,
                        "instalment": r.instalment_index,
                        "due_date": r.due_date,
                        "amount": r.amount,
                    }
                    for r in rows
                ]
            },
        )
        return list(Performance.objects.filter(agreement=locked))


def performance_mark_done(
    *,
    obligation: Performance,
    actor: AbstractBaseUser,
    note: str,
    proof: IO[bytes] | None = None,
    proof_name: str = "",
    proof_size: int | None = None,
) -> Performance:
    """The obligor or the obligee records that an obligation was performed, with proof
    (a file checked like evidence) and/or a note. A file that is not acceptable is
    refused before anything is stored."""
    note = (note or "").strip()
    checked = check_upload(proof, name=proof_name, size=proof_size) if proof is not None else None
    if checked is None and not note:
        raise Invalid(
            _("Attach proof (a receipt, transfer record or photo) or describe how it was done."),
            code="proof_required",
        )
    with transaction.atomic():
        locked = (
            Performance.objects.select_for_update()
            .select_related("agreement")
            .get(pk=obligation.pk)
        )
        dispute = Dispute.objects.prefetch_related("parties").get(pk=locked.agreement.dispute_id)
        party = odr_selectors.party_of(dispute, actor)
        roles = {locked.obligor_role, locked.obligee_role} - {""}
        if party is None or (roles and party.role not in roles):
            raise Forbidden(
                _("Only the parties bound by this obligation can mark it performed."),
                code="not_a_party",
            )
        if locked.done_at is not None:
            raise DomainError("already_done", _("This obligation was already marked performed."))
        now = timezone.now()
        locked.done_at = now
        locked.done_by = actor
        locked.proof_note = note
        if checked is not None:
            locked.proof.save("proof", proof, save=False)
            locked.proof_filename = checked.filename
            locked.proof_content_type = checked.content_type
            locked.proof_sha256 = checked.sha256
        locked.save()
        log_action(
            action="performance.done",
            obj=locked,
            actor=actor,
            dispute=dispute,
            before={"done_at": None},
            after={
                "done_at": now,
                "role": party.role,
                "note": note,
                "proof_sha256": locked.proof_sha256,
            },
        )
        notify(
            _party_recipients(dispute, except_user=actor) + _mediator(dispute),
            "performance_done",
            {
                "case_number": dispute.case_number,
                "title": dispute.title,
                "case_url": f"{settings.SITE_URL}/disputes/{dispute.pk}/",
                "obligation": locked.description,
                "marked_by": party.name,
                "note": note,
            },
        )
    return locked


def agreements_needing_schedule() -> list[Agreement]:
    """Agreements in force whose obligations have not been laid out yet."""
    return list(
        Agreement.objects.filter(status=Agreement.Status.SIGNED, effective_at__isnull=False).filter(
            ~Q(pk__in=Performance.objects.values("agreement_id"))
        )
    )
