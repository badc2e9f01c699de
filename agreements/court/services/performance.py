"""Every write of the performance of an agreement in force: its obligations laid out (one
per term, or per instalment), an obligation marked performed with proof, and the
reminders' records of what they sent. Each writes its audit event.

The obligations are laid out once, when the agreement comes into force; an agreement
that came into force without them (before this existed, or when that step failed) gets
them from the reminders job (`manage.py send_reminders`), never from a page being
viewed."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import IO, Any

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _

from agreements.models import Agreement, Performance
from odr import people
from odr import selectors as odr_selectors
from odr.audit import log_action
from odr.errors import DomainError, Forbidden, Invalid
from odr.evidence import check_upload
from odr.models import Dispute, Party
from odr.notifications import notify

Role = Party.Role


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
    if value in Role.values:
        return value
    for party in dispute.parties.all():
        if value and value == party.name:
            return party.role
    return ""


def _other(role: str) -> str:
    return {Role.APPLICANT: Role.RESPONDENT, Role.RESPONDENT: Role.APPLICANT}.get(role, "")


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
    once the agreement is in force. Idempotent and cheap when there is nothing to do: the
    agreement row is locked only to make the rows, once."""
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


def agreements_needing_schedule() -> list[Agreement]:
    """Agreements in force whose obligations have not been laid out yet."""
    return list(
        Agreement.objects.filter(status=Agreement.Status.SIGNED, effective_at__isnull=False).filter(
            ~Q(pk__in=Performance.objects.values("agreement_id"))
        )
    )


def performance_schedule_missing() -> int:
    """The maintenance path: lays out the obligations of every agreement in force that
    has none yet. Returns how many agreements got obligations."""
    done = 0
    for agreement in agreements_needing_schedule():
        done += bool(performance_schedule(agreement=agreement))
    return done


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
            people.party_recipients(dispute, exclude=actor)
            + ([dispute.mediator] if dispute.mediator_id else []),
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


# --- the reminders' records --------------------------------------------------------------

# Which column records each reminder of an obligation, in the order they come.
REMINDER_FIELDS = {
    "before": "reminded_at",
    "today": "due_reminded_at",
    "default": "default_notified_at",
}


def performance_record_reminder(*, obligation: Performance, kind: str, now: datetime) -> None:
    """Records, on the obligation's row locked by the caller, that its `kind` reminder
    ("before", "today" or "default") is sent now. A later stage makes the earlier ones
    moot: no "due in 3 days" after a default."""
    sent = []
    for stage, field in REMINDER_FIELDS.items():
        if getattr(obligation, field) is None:
            setattr(obligation, field, now)
            sent.append(stage)
        if stage == kind:
            break
    obligation.save(update_fields=list(REMINDER_FIELDS.values()))
    log_action(
        action="performance.remind",
        obj=obligation,
        dispute=obligation.agreement.dispute,
        actor_label="reminders",
        after={
            "kind": kind,
            "recorded": sent,
            "term": obligation.term_index,
            "instalment": obligation.instalment_index,
            "due_date": obligation.due_date,
        },
    )
