"""Every write of the performance of an agreement in force: its obligations laid out (one
per term, or per instalment), an obligation marked performed by the party owed, or
reported performed by the party owing and then confirmed or disputed (the obligation's
machine, agreements.court.performance_transitions), and the reminders' records of what
they sent. Each writes its audit event.

The obligations are laid out once, when the agreement comes into force; an agreement
that came into force without them (before this existed, or when that step failed) gets
them from the reminders job (`manage.py send_reminders`), never from a page being
viewed."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import IO, Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _

from agreements.court.performance_transitions import MACHINE, ObligationViewer
from agreements.models import Agreement, Performance
from odr import people
from odr.audit import log_action
from odr.errors import Invalid
from odr.evidence import check_upload
from odr.links import site_url
from odr.models import Dispute, Party
from odr.notifications import Recipient, notify
from odr.text import clean_text

Role = Party.Role
MAX_REASON = 2000


def _amount(value: Any) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        return Decimal(str(value)).quantize(Decimal("0.01"))
    except InvalidOperation:
        return None


def _party_of(value: Any, dispute: Dispute) -> tuple[str, Party | None]:
    """Who a term names: a side ("applicant"/"respondent"), one party of a side that has
    several ("party:<id>"), or a party by name. Returns the side and the party (None when
    the term names the side as a whole)."""
    value = str(value or "").strip()
    if not value:
        return "", None
    if value in Role.values:
        return value, None
    parties = list(dispute.parties.all())
    if value.startswith("party:"):
        pk = value.removeprefix("party:")
        party = next((p for p in parties if str(p.pk) == pk), None)
        return (party.role, party) if party is not None else ("", None)
    named = [p for p in parties if p.name == value]
    if len(named) == 1:
        return named[0].role, named[0]
    return "", None


def _other(role: str) -> str:
    return {Role.APPLICANT: Role.RESPONDENT, Role.RESPONDENT: Role.APPLICANT}.get(role, "")


def _obligations_from_terms(agreement: Agreement, dispute: Dispute) -> list[Performance]:
    rows: list[Performance] = []
    for index, term in enumerate(agreement.terms or [], 1):
        text = str(term.get("text") or "").strip()
        obligor, obligor_party = _party_of(term.get("obligor"), dispute)
        obligee, obligee_party = _party_of(term.get("obligee"), dispute)
        obligee = obligee or _other(obligor)
        who = {
            "obligor_role": obligor,
            "obligee_role": obligee,
            "obligor_party": obligor_party,
            "obligee_party": obligee_party,
        }
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
                        **who,
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
                    **who,
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


def _context(obligation: Performance, dispute: Dispute, **more: Any) -> dict[str, Any]:
    return {
        "case_number": dispute.case_number,
        "title": dispute.title,
        "case_url": f"{site_url()}/disputes/{dispute.pk}/#obligation-{obligation.pk}",
        "obligation": obligation.description,
        **more,
    }


def _mediator(dispute: Dispute) -> list[AbstractBaseUser]:
    return [dispute.mediator] if dispute.mediator_id else []


def _answerers(obligation: Performance, dispute: Dispute, actor: AbstractBaseUser) -> list:
    """Who is asked to confirm or dispute a report: the obligee (the party the term names,
    else every party of the obligee's side), or when the term names none, the parties on
    the other side of the report."""
    if obligation.obligee_party_id:
        party = Party.objects.select_related("user__profile").get(pk=obligation.obligee_party_id)
        if party.user_id == actor.pk:
            return []
        if party.user is not None:
            return [party.user]
        return (
            [Recipient(email=party.email, phone=party.phone)] if party.email or party.phone else []
        )
    if obligation.obligee_role:
        return people.party_recipients(dispute, obligation.obligee_role, exclude=actor)
    others = [r for r in Role.values if r != obligation.reported_role]
    return people.party_recipients(dispute, *others, exclude=actor)


def performance_mark_done(
    *,
    obligation: Performance,
    actor: AbstractBaseUser,
    note: str,
    proof: IO[bytes] | None = None,
    proof_name: str = "",
    proof_size: int | None = None,
) -> Performance:
    """A party says an obligation was performed, with proof (a file checked like
    evidence) and/or a note. The obligee's word closes it; the obligor's is a report that
    the obligee confirms or disputes (issue 11, L3), and the obligee is told at once. A
    file that is not acceptable is refused before anything is stored."""
    note = clean_text(note, multiline=True)
    checked = check_upload(proof, name=proof_name, size=proof_size) if proof is not None else None
    if checked is None and not note:
        raise Invalid(
            _("Attach proof (a receipt, transfer record or photo) or describe how it was done."),
            code="proof_required",
        )
    viewer = ObligationViewer(actor)
    name = "mark" if MACHINE["mark"].who(obligation, viewer) else "report"
    roles = viewer.roles(obligation)
    extra: dict[str, Any] = {"note": note}

    def prepare(locked: Performance) -> dict[str, Any]:
        now = timezone.now()
        values: dict[str, Any] = {"proof_note": note}
        if name == "mark":
            values.update(done_at=now, done_by=actor)
        else:
            # The obligor; when the term names none, the reporter's side (not the obligee's).
            role = locked.obligor_role or min(roles - {locked.obligee_role} or roles)
            values.update(reported_at=now, reported_by=actor, reported_role=role)
        if checked is not None:
            locked.proof.save("proof", proof, save=False)
            values.update(
                proof_filename=checked.filename,
                proof_content_type=checked.content_type,
                proof_sha256=checked.sha256,
            )
        extra.update(role=values.get("reported_role") or locked.obligee_role)
        extra["proof_sha256"] = values.get("proof_sha256", "")
        return values

    with transaction.atomic():
        done = MACHINE.apply(name, instance=obligation, actor=actor, prepare=prepare, extra=extra)
        dispute = Dispute.objects.select_related("mediator").get(pk=done.agreement.dispute_id)
        marked_by = people.display_name(actor)
        if name == "mark":
            notify(
                people.party_recipients(dispute, exclude=actor) + _mediator(dispute),
                "performance_done",
                _context(done, dispute, marked_by=marked_by, note=note),
            )
        else:
            notify(
                _answerers(done, dispute, actor) + _mediator(dispute),
                "performance_reported",
                _context(done, dispute, reported_by=marked_by, note=note),
            )
    return done


def performance_confirm(*, obligation: Performance, actor: AbstractBaseUser) -> Performance:
    """The obligee confirms the obligor's report: the obligation is performed."""
    extra: dict[str, Any] = {}

    def prepare(locked: Performance) -> dict[str, Any]:
        extra.update(reported_by=locked.reported_by_id, reported_at=locked.reported_at)
        return {"done_at": timezone.now(), "done_by": actor}

    with transaction.atomic():
        done = MACHINE.apply(
            "confirm", instance=obligation, actor=actor, prepare=prepare, extra=extra
        )
        dispute = Dispute.objects.select_related("mediator").get(pk=done.agreement.dispute_id)
        notify(
            people.party_recipients(dispute, exclude=actor) + _mediator(dispute),
            "performance_done",
            _context(done, dispute, marked_by=people.display_name(actor), note=""),
        )
    return done


def performance_dispute(
    *, obligation: Performance, actor: AbstractBaseUser, reason: str
) -> Performance:
    """The obligee disputes the obligor's report, saying why: the obligation is open
    again and shows as disputed until the next report; the obligor is told why."""
    reason = clean_text(reason, multiline=True)
    if not reason:
        raise Invalid(_("Say why the report is not right."), code="reason_required")
    if len(reason) > MAX_REASON:
        raise Invalid(
            _("The reason is too long (%(limit)s characters at most).") % {"limit": MAX_REASON},
            code="reason_too_long",
        )

    def prepare(locked: Performance) -> dict[str, Any]:
        return {"disputed_at": timezone.now(), "disputed_by": actor, "dispute_reason": reason}

    with transaction.atomic():
        done = MACHINE.apply(
            "dispute",
            instance=obligation,
            actor=actor,
            prepare=prepare,
            extra={"reason": reason},
        )
        dispute = Dispute.objects.select_related("mediator").get(pk=done.agreement.dispute_id)
        notify(
            people.party_recipients(dispute, exclude=actor) + _mediator(dispute),
            "performance_disputed",
            _context(done, dispute, disputed_by=people.display_name(actor), reason=reason),
        )
    return done


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
