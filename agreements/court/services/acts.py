"""The court's acts on an application before it, beside docketing and ruling (DESIGN.md
§3; the SPC interpretation of the Civil Procedure Law, Arts. 356–357, and the SPC's rules
on judicial confirmation, Art. 7):

- the president's answer to the judge's request to extend the period to rule;
- 补正: a clerk or the judge asks the parties for materials by a deadline; the court's
  period stands still until they answer (the days are added to it); unanswered in time,
  the judge may treat the application as withdrawn (按撤回处理);
- 撤回: before the ruling a party asks to withdraw; the judge's order allows it;
- 询问: the judge questions the parties, in person or in a hearing room; the record
  (询问笔录) is written by the judge or the clerk and signed by everyone present, and its
  PDF is kept with its SHA-256;
- the ruling's preview: issuing a ruling needs the token of a preview of that very
  decision and those reasons, so 作出裁定 is never one click.

Each is a transition of the confirmation machine (agreements.court.transitions): it locks
the request, checks who and when, saves, and writes the audit event."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import IO, Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.core import signing
from django.core.files import File
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _

from agreements.court import deadlines, orders
from agreements.court import selectors as court_selectors
from agreements.court.services.confirmation import (
    _as_it_will_be,
    _docket_number,
    confirmation_decide,
    court_staff,
    not_accepted_number,
    request_context,
)
from agreements.court.transitions import (
    DECISIONS,
    INQUIRY_NOT_STARTED,
    MACHINE,
    inquiries_to_sign,
    inquiry_signers,
    inquiry_started,
    open_supplement,
)
from agreements.models import ConfirmationRequest, Inquiry, SupplementRequest
from odr import people
from odr import selectors as odr_selectors
from odr.audit import log_action
from odr.errors import DomainError, Invalid
from odr.evidence import check_upload
from odr.identity import PartyIdentity
from odr.links import site_url
from odr.models import Evidence, Membership
from odr.notifications import notify
from odr.text import clean_text

CR = ConfirmationRequest.Status
MAX_TEXT = 20_000
# How long a preview of a ruling stays good for issuing it.
PREVIEW_MAX_AGE = 12 * 3600
PREVIEW_SALT = "agreements.court.ruling_preview"


def _acts_url(request: ConfirmationRequest) -> str:
    return f"{site_url()}/court/requests/{request.pk}/acts/"


def _context(request: ConfirmationRequest, **extra: Any) -> dict[str, Any]:
    return {**request_context(request), "acts_url": _acts_url(request), **extra}


def _text(value: str, *, required: str, code: str = "text_required") -> str:
    value = clean_text(value or "", multiline=True)
    if not value:
        raise Invalid(required, code=code)
    if len(value) > MAX_TEXT:
        raise Invalid(_("The text is too long."), code="text_too_long")
    return value


def _store(instance, field_name: str, filename: str, data: bytes) -> str:
    field = type(instance)._meta.get_field(field_name)
    name = field.generate_filename(instance, filename)
    return field.storage.save(name, ContentFile(data), max_length=field.max_length)


def _sealed(pdf: bytes, request: ConfirmationRequest, reason: str) -> bytes:
    """The court's seal over one of its documents, as on the ruling."""
    from agreements.documents.ltv import embed_validation_data
    from agreements.documents.pki import ca, seal_pdf

    ca()  # before organisation_key(): the PKI lock is not reentrant
    # With its validation data (CA chain, CRL), as the ruling (issue 9, point 4).
    return embed_validation_data(seal_pdf(pdf, organisation=request.court, reason=reason))


def _name(user: AbstractBaseUser | None) -> str:
    return people.display_name(user) if user is not None else ""


def _court_name(user: AbstractBaseUser | None) -> str:
    """A judge's or clerk's real name for the court's documents (never a login: 409
    real_name_required otherwise)."""
    from agreements.court import documents

    return documents.court_person_name(user) if user is not None else ""


# --- the extension of the period to rule -------------------------------------------------


def confirmation_extension_decide(
    *, request: ConfirmationRequest, actor: AbstractBaseUser, approve: bool
) -> ConfirmationRequest:
    """The president of the court approves the judge's request to extend the period to
    rule (the deadline moves by EXTENSION_DAYS, to a working day) or refuses it (the
    deadline stays). A clerk or a judge is refused (403)."""
    now = timezone.now()
    if approve:

        def prepare(locked: ConfirmationRequest) -> dict[str, Any]:
            return {
                "rule_deadline": deadlines.extended(locked.rule_deadline),
                "rule_extended_at": now,
                "extension_approved_by": actor,
                # A new deadline deserves a new reminder.
                "rule_reminded_at": None,
            }

        name = "extension_approve"
    else:

        def prepare(locked: ConfirmationRequest) -> dict[str, Any]:
            return {"extension_refused_at": now}

        name = "extension_refuse"
    with transaction.atomic():
        done = MACHINE.apply(name, instance=request, actor=actor, prepare=prepare)
        context = _context(done, extension_reason=done.extension_reason)
        if approve:
            notify(people.party_recipients(done.agreement.dispute), "court_extended", context)
        notify(
            [u for u in (done.extension_requested_by,) if u is not None],
            "court_extended" if approve else "court_extension_refused",
            context,
        )
    return done


# --- 补正 ------------------------------------------------------------------------------------


def _deadline(value: datetime | date | str) -> datetime:
    """A deadline given as a day ends at the end of that day (local time)."""
    if isinstance(value, str):
        parsed = parse_datetime(value) or parse_date(value)
        if parsed is None:
            raise Invalid(_("Give the deadline as a date."), code="invalid_deadline")
        value = parsed
    if isinstance(value, datetime):
        return value if timezone.is_aware(value) else timezone.make_aware(value)
    return timezone.make_aware(datetime.combine(value, time(23, 59, 59)))


def confirmation_supplement_ask(
    *,
    request: ConfirmationRequest,
    actor: AbstractBaseUser,
    what: str,
    deadline: datetime | date | str,
) -> SupplementRequest:
    """A clerk or the judge asks the parties for materials by `deadline`; the notice
    (补正通知书) is sealed, stored and served by e-mail."""
    what = _text(what, required=_("Say which materials the court needs."), code="what_required")
    due = _deadline(deadline)
    now = timezone.now()
    made: dict[str, SupplementRequest] = {}
    extra: dict[str, Any] = {}

    def prepare(locked: ConfirmationRequest) -> None:
        if due <= now:
            raise Invalid(_("The deadline must be in the future."), code="deadline_past")
        supplement = SupplementRequest.objects.create(
            request=locked, asked_by=actor, asked_at=now, what=what, deadline=due
        )
        pdf = _sealed(
            orders.render_supplement_notice(locked, supplement, asked_by=_court_name(actor)),
            locked,
            "补正通知书",
        )
        supplement.notice_sha256 = hashlib.sha256(pdf).hexdigest()
        supplement.notice_pdf = _store(
            supplement, "notice_pdf", f"supplement-{supplement.pk}.pdf", pdf
        )
        supplement.save(update_fields=["notice_sha256", "notice_pdf"])
        made["supplement"] = supplement
        extra.update(supplement=supplement.pk, deadline=due, notice_sha256=supplement.notice_sha256)

    with transaction.atomic():
        done = MACHINE.apply(
            "supplement_ask", instance=request, actor=actor, prepare=prepare, extra=extra
        )
        notify(
            people.party_recipients(done.agreement.dispute),
            "court_supplement",
            _context(
                done,
                supplement_what=what,
                supplement_deadline=timezone.localtime(due).strftime("%Y-%m-%d"),
            ),
        )
    return made["supplement"]


def _store_evidence(
    request: ConfirmationRequest, actor: AbstractBaseUser, upload, name: str, size
) -> Evidence:
    """A file supplied with the answer joins the case's evidence (the court's packet reads
    it there), checked by its content like every evidence upload."""
    info = check_upload(upload, name=name, size=size)
    dispute = request.agreement.dispute
    item = Evidence(
        dispute=dispute,
        uploaded_by=actor,
        filename=info.filename,
        extension=info.extension,
        content_type=info.content_type,
        size=info.size,
        sha256=info.sha256,
        description=_("Supplied to the court"),
    )
    item.file.save(info.filename, File(upload), save=False)
    item.save()
    log_action(
        action="evidence.add",
        obj=item,
        actor=actor,
        dispute=dispute,
        after={"filename": item.filename, "size": item.size, "sha256": item.sha256},
    )
    return item


def paused_days(supplement: SupplementRequest, answered_at: datetime) -> int:
    """The days the court's period stood still: from the day it asked to the day it was
    answered."""
    return max(0, (timezone.localdate(answered_at) - timezone.localdate(supplement.asked_at)).days)


def confirmation_supplement_answer(
    *,
    request: ConfirmationRequest,
    actor: AbstractBaseUser,
    answer: str,
    evidence_ids: list[int] | None = None,
    files: list[tuple[IO[bytes], str, int | None]] | None = None,
) -> SupplementRequest:
    """A party answers the court's request for materials with text and evidence (files
    uploaded now, or evidence of the case already filed). The court's pending period
    (to accept, or to rule) moves on by the days it stood still."""
    answer = _text(answer, required=_("Write your answer to the court."), code="answer_required")
    now = timezone.now()
    found: dict[str, SupplementRequest] = {}
    extra: dict[str, Any] = {}

    def prepare(locked: ConfirmationRequest) -> dict[str, Any]:
        supplement = open_supplement(locked)
        dispute = locked.agreement.dispute
        ids = sorted({int(i) for i in evidence_ids or []})
        known = set(
            Evidence.objects.filter(dispute=dispute, pk__in=ids).values_list("pk", flat=True)
        )
        if set(ids) - known:
            raise Invalid(_("Only evidence of this case can be supplied."), code="unknown_evidence")
        for upload, name, size in files or []:
            ids.append(_store_evidence(locked, actor, upload, name, size).pk)
        days = paused_days(supplement, now)
        field = "accept_deadline" if locked.status == CR.PENDING else "rule_deadline"
        reminded = "accept_reminded_at" if field == "accept_deadline" else "rule_reminded_at"
        deadline = getattr(locked, field)
        SupplementRequest.objects.filter(pk=supplement.pk).update(
            answered_at=now, answered_by=actor, answer=answer, evidence_ids=ids
        )
        supplement.refresh_from_db()
        found["supplement"] = supplement
        extra.update(supplement=supplement.pk, evidence=ids, paused_days=days)
        if not days or deadline is None:
            return {}
        moved = deadlines.extended(deadline, days)
        extra[field] = moved
        return {field: moved, reminded: None}

    with transaction.atomic():
        done = MACHINE.apply(
            "supplement_answer", instance=request, actor=actor, prepare=prepare, extra=extra
        )
        notify(
            court_staff(done.court, Membership.Role.CLERK, Membership.Role.JUDGE),
            "court_new_request",
            _context(done),
        )
    return found["supplement"]


# --- 撤回 and 按撤回处理 --------------------------------------------------------------------


def _withdrawal(
    locked: ConfirmationRequest,
    judge: AbstractBaseUser,
    now: datetime,
    extra: dict[str, Any],
    *,
    lapsed: SupplementRequest | None = None,
) -> dict[str, Any]:
    """The order ending the application (民事裁定书), sealed and stored; the fields to save."""
    asker = locked.withdrawal_requested_by
    party = court_selectors.party_of(locked.agreement, asker) if asker is not None else None
    unsigned = orders.render_withdrawal_order(
        locked,
        judge_name=_court_name(judge),
        clerk_name=_court_name(locked.accepted_by),
        decided_at=now,
        requested_by=party.name if party is not None else "",
        reason=locked.withdrawal_reason,
        lapsed=lapsed,
    )
    pdf = _sealed(unsigned, locked, "民事裁定书")
    sha = hashlib.sha256(pdf).hexdigest()
    extra["order_sha256"] = sha
    return {
        "withdrawn_at": now,
        "withdrawal_order_sha256": sha,
        "withdrawal_order_pdf": _store(
            locked, "withdrawal_order_pdf", f"withdrawal-{locked.pk}.pdf", pdf
        ),
    }


def _tell_withdrawn(request: ConfirmationRequest) -> None:
    dispute = request.agreement.dispute
    notify(
        people.party_recipients(dispute) + ([dispute.mediator] if dispute.mediator_id else []),
        "court_withdrawn",
        _context(
            request,
            order_url=f"{site_url()}/api/v1/court/requests/{request.pk}/withdrawal.pdf",
        ),
    )


def confirmation_withdraw(
    *, request: ConfirmationRequest, actor: AbstractBaseUser, reason: str
) -> ConfirmationRequest:
    """A party asks, before the ruling, to withdraw the application; the judge decides by
    an order. Any party may ask."""
    reason = clean_text(reason or "", multiline=True)[:2000]
    with transaction.atomic():
        done = MACHINE.apply(
            "withdraw",
            instance=request,
            actor=actor,
            changes={
                "withdrawal_requested_at": timezone.now(),
                "withdrawal_requested_by": actor,
                "withdrawal_reason": reason,
            },
            extra={"reason": reason},
        )
        party = court_selectors.party_of(done.agreement, actor)
        notify(
            court_staff(done.court, Membership.Role.JUDGE)
            + people.party_recipients(done.agreement.dispute, exclude=actor),
            "court_withdrawal_requested",
            _context(done, asked_by=party.name if party else _name(actor), reason=reason),
        )
    return done


def confirmation_withdraw_allow(
    *, request: ConfirmationRequest, actor: AbstractBaseUser
) -> ConfirmationRequest:
    """The judge's order allowing the withdrawal (准许撤回): the request is withdrawn."""
    now = timezone.now()
    extra: dict[str, Any] = {}
    with transaction.atomic():
        done = MACHINE.apply(
            "withdraw_allow",
            instance=request,
            actor=actor,
            prepare=lambda locked: _withdrawal(locked, actor, now, extra),
            extra=extra,
        )
        _tell_withdrawn(done)
    return done


def confirmation_supplement_lapse(
    *, request: ConfirmationRequest, actor: AbstractBaseUser
) -> ConfirmationRequest:
    """The materials were not supplied by their deadline: the judge treats the
    application as withdrawn (按撤回处理), by an order."""
    now = timezone.now()
    extra: dict[str, Any] = {}

    def prepare(locked: ConfirmationRequest) -> dict[str, Any]:
        supplement = open_supplement(locked)
        extra["supplement"] = supplement.pk
        return _withdrawal(locked, actor, now, extra, lapsed=supplement)

    with transaction.atomic():
        done = MACHINE.apply(
            "supplement_lapse", instance=request, actor=actor, prepare=prepare, extra=extra
        )
        _tell_withdrawn(done)
    return done


# --- 询问 ------------------------------------------------------------------------------------


def confirmation_inquiry_schedule(
    *,
    request: ConfirmationRequest,
    actor: AbstractBaseUser,
    scheduled_at: datetime | str,
    place: str = "",
    online: bool = False,
) -> Inquiry:
    """The judge schedules an inquiry of the parties: at a place, or online in a hearing
    room the judge hosts (sessions opens it when this move is made)."""
    if isinstance(scheduled_at, str):
        parsed = parse_datetime(scheduled_at)
        if parsed is None:
            raise Invalid(_("Give the time of the inquiry."), code="invalid_time")
        scheduled_at = parsed
    if timezone.is_naive(scheduled_at):
        scheduled_at = timezone.make_aware(scheduled_at)
    place = clean_text(place or "")[:200]
    if not place and not online:
        raise Invalid(_("Give the place of the inquiry, or hold it online."), code="place_required")
    made: dict[str, Inquiry] = {}
    extra: dict[str, Any] = {}

    def prepare(locked: ConfirmationRequest) -> None:
        if scheduled_at <= timezone.now():
            raise Invalid(_("The inquiry must be in the future."), code="time_past")
        inquiry = Inquiry.objects.create(
            request=locked,
            judge=actor,
            clerk=locked.accepted_by,
            scheduled_at=scheduled_at,
            place=place,
            online=online,
        )
        made["inquiry"] = inquiry
        extra.update(inquiry=inquiry.pk, scheduled_at=scheduled_at, place=place, online=online)

    with transaction.atomic():
        done = MACHINE.apply(
            "inquiry_schedule", instance=request, actor=actor, prepare=prepare, extra=extra
        )
        notify(
            people.party_recipients(done.agreement.dispute),
            "court_inquiry",
            _context(
                done,
                inquiry_when=timezone.localtime(scheduled_at).strftime("%Y-%m-%d %H:%M"),
                inquiry_place=place or _("online, in the hearing room"),
            ),
        )
    return made["inquiry"]


def confirmation_inquiry_record(
    *,
    request: ConfirmationRequest,
    actor: AbstractBaseUser,
    inquiry: Inquiry | int,
    record: str,
    present: list[int],
) -> Inquiry:
    """The judge or the clerk writes the record (questions and answers) and who of the
    parties was present. It can be rewritten until the first signature."""
    record = _text(record, required=_("Write the record of the inquiry."), code="record_required")
    inquiry_id = inquiry.pk if isinstance(inquiry, Inquiry) else int(inquiry)
    extra: dict[str, Any] = {}

    def prepare(locked: ConfirmationRequest) -> None:
        found = locked.inquiries.select_for_update().filter(pk=inquiry_id).first()
        if found is None or found.closed_at is not None or found.signed:
            raise DomainError("inquiry_closed", _("This record can no longer be changed."))
        # Never before its time: the signatures would precede the time the record prints.
        if not inquiry_started(found):
            raise DomainError("inquiry_not_started", str(INQUIRY_NOT_STARTED))
        parties = {p.pk for p in locked.agreement.dispute.parties.all() if p.user_id}
        chosen = sorted({int(p) for p in present or []})
        if not chosen or set(chosen) - parties:
            raise Invalid(_("Tick the parties who were present."), code="present_required")
        changes = {"record": record, "present": chosen, "recorded_at": timezone.now()}
        if locked.court_id in odr_selectors.user_org_ids(actor, Membership.Role.CLERK):
            changes["clerk"] = actor
        for attr, value in changes.items():
            setattr(found, attr, value)
        found.save(update_fields=list(changes))
        extra.update(
            inquiry=found.pk,
            present=chosen,
            record_sha256=hashlib.sha256(record.encode()).hexdigest(),
        )

    MACHINE.apply("inquiry_record", instance=request, actor=actor, prepare=prepare, extra=extra)
    return Inquiry.objects.get(pk=inquiry_id)


_SIGNER_LABELS = {"party": "申请人", "judge": "审判员", "clerk": "书记员"}


def _signed_for(identity: PartyIdentity, user_id: int, entry: dict, agents: dict[int, str]) -> str:
    """Who signed for an organisation, as the record names them: its agent (委托代理人),
    by the account the agent was given or by the signer's real name, or else its legal
    representative (法定代表人), whose account the organisation's own is; a signer who is
    neither is named by their real name alone."""
    signer = (entry.get("name") or "").strip()
    if "@" in signer:
        signer = ""  # no real name given: an e-mail address names no one
    if user_id in agents:
        return f"（委托代理人{agents[user_id]}）"
    for agent in identity.agents:
        if signer and agent.name == signer:
            return f"（委托代理人{agent.name}）"
    if identity.representative and (not signer or signer == identity.representative):
        return f"（法定代表人{identity.representative}）"
    return f"（{signer}）" if signer else ""


def _record_pdf(locked: ConfirmationRequest, inquiry: Inquiry, now: datetime) -> bytes:
    from agreements.court import documents

    parties = list(locked.agreement.dispute.parties.all())
    # Those present, named in full as the agreement's documents name them (no e-mail
    # address for a name).
    identities = {i.party_id: i for i in documents.parties_of(locked.agreement)}
    present = [identities[pk] for pk in identities if pk in inquiry.present]
    party_of_user = {p.user_id: p.pk for p in parties if p.user_id}
    court_people = {inquiry.judge_id: inquiry.judge, inquiry.clerk_id: inquiry.clerk}
    signed = {entry["user"]: entry for entry in inquiry.signed}
    # The accounts of the organisations' agents, by party: whose signature is an agent's.
    agent_users: dict[int, dict[int, str]] = {}
    for p in parties:
        for agent in p.agents.all():
            if agent.user_id and agent.revoked_at is None:
                agent_users.setdefault(p.pk, {})[agent.user_id] = agent.name
    lines = []
    attended_by: dict[int, str] = {}
    for user_id, role in inquiry_signers(inquiry, parties):
        entry = signed.get(user_id, {})
        if role == "party":
            party_id = party_of_user.get(user_id)
            identity = identities.get(party_id)
            name = identity.name if identity is not None else entry.get("name", "")
            if identity is not None and not identity.is_person:
                signer = _signed_for(identity, user_id, entry, agent_users.get(party_id, {}))
                attended_by[party_id] = signer
                name += signer
        else:
            # The judge and the clerk sign by their real names, as on the court's orders.
            name = _court_name(court_people.get(user_id))
        at = entry.get("at")
        lines.append(
            orders.SignatureLine(
                label=_SIGNER_LABELS[role],
                name=name,
                signed_at=datetime.fromisoformat(at) if at else None,
            )
        )
    unsigned = orders.render_inquiry_record(
        locked,
        inquiry,
        judge_name=_court_name(inquiry.judge),
        clerk_name=_court_name(inquiry.clerk),
        present=present,
        signatures=lines,
        closed_at=now,
        attended_by=attended_by,
    )
    return _sealed(unsigned, locked, "询问笔录")


def confirmation_inquiry_sign(
    *,
    request: ConfirmationRequest,
    actor: AbstractBaseUser,
    inquiry: Inquiry | int,
    password: str = "",
    code: str = "",
) -> Inquiry:
    """One of those who must sign the record signs it, after proving again who they are
    (password, or the authenticator's code), as agreements are signed. With the last
    signature the record's PDF is made, sealed by the court, stored with its SHA-256."""
    from agreements.services import reauthenticate

    inquiry_id = inquiry.pk if isinstance(inquiry, Inquiry) else int(inquiry)
    MACHINE.check("inquiry_sign", request, actor)
    reauthenticate(user=actor, password=password, code=code)
    now = timezone.now()
    extra: dict[str, Any] = {}

    def prepare(locked: ConfirmationRequest) -> None:
        mine = [i for i in inquiries_to_sign(locked, actor) if i.pk == inquiry_id]
        if not mine:
            raise DomainError("nothing_to_sign", _("This record does not wait for your signature."))
        found = Inquiry.objects.select_for_update().get(pk=inquiry_id)
        role = next(
            r
            for uid, r in inquiry_signers(found, list(locked.agreement.dispute.parties.all()))
            if uid == actor.pk
        )
        found.signed = [
            *found.signed,
            {"user": actor.pk, "role": role, "name": _name(actor), "at": now.isoformat()},
        ]
        parties = list(locked.agreement.dispute.parties.all())
        everyone = {uid for uid, _r in inquiry_signers(found, parties)}
        fields = ["signed"]
        if everyone <= {e["user"] for e in found.signed}:
            pdf = _record_pdf(locked, found, now)
            found.record_sha256 = hashlib.sha256(pdf).hexdigest()
            found.record_pdf = _store(found, "record_pdf", f"inquiry-{found.pk}.pdf", pdf)
            found.closed_at = now
            fields += ["record_sha256", "record_pdf", "closed_at"]
            extra["record_sha256"] = found.record_sha256
        found.save(update_fields=fields)
        extra.update(inquiry=found.pk, role=role, complete=found.closed_at is not None)

    MACHINE.apply("inquiry_sign", instance=request, actor=actor, prepare=prepare, extra=extra)
    return Inquiry.objects.get(pk=inquiry_id)


# --- the ruling's preview --------------------------------------------------------------------


@dataclass(frozen=True)
class RulingPreview:
    pdf: bytes
    token: str
    # The court's number the ruling not to accept prints, normalised; "" otherwise.
    court_case_number: str = ""


def _digest(
    request: ConfirmationRequest,
    actor: AbstractBaseUser,
    decision: str,
    reason: str,
    number: str = "",
) -> dict:
    digest = {
        "r": request.pk,
        "u": actor.pk,
        "d": decision,
        "h": hashlib.sha256(reason.encode()).hexdigest(),
    }
    # The number a ruling not to accept prints is part of what the judge saw.
    if number:
        digest["n"] = number
    return digest


def _checked_decision(
    request: ConfirmationRequest, actor: AbstractBaseUser, decision: str, reason: str
) -> str:
    transition = DECISIONS.get(decision)
    if transition is None:
        raise Invalid(
            _("The decision is “confirmed”, “rejected” or “not_accepted”."), code="invalid_decision"
        )
    MACHINE.check(transition, request, actor)
    if decision != CR.CONFIRMED and not reason:
        raise Invalid(
            _("A ruling against the application must give its reasons."), code="reason_required"
        )
    return transition


def confirmation_ruling_preview(
    *,
    request: ConfirmationRequest,
    actor: AbstractBaseUser,
    decision: str,
    reason: str,
    court_case_number: str = "",
) -> RulingPreview:
    """The ruling as it would be issued, marked as a preview and stored nowhere, with the
    token that lets this judge issue this decision with these reasons (and, not accepting,
    under this court's number, checked as the ruling will check it). Writes nothing."""
    from agreements.court import documents

    reason = clean_text(reason or "", multiline=True)
    _checked_decision(request, actor, decision, reason)
    number = not_accepted_number(decision, court_case_number)
    now = timezone.now()
    values = {"decided_at": now, "decided_by": actor, "reason": reason, "status": decision}
    if number:
        number = values["case_number"] = _docket_number(request, number, now, lock=False)
    draft = _as_it_will_be(request, **values)
    clerk = request.accepted_by
    pdf = documents.render_ruling(
        draft,
        judge_name=_court_name(actor),
        clerk_name=_court_name(clerk),
        preview=True,
        decision=decision,
        reason=reason,
    )
    token = signing.dumps(_digest(request, actor, decision, reason, number), salt=PREVIEW_SALT)
    return RulingPreview(pdf=pdf, token=token, court_case_number=number)


def confirmation_ruling_issue(
    *,
    request: ConfirmationRequest,
    actor: AbstractBaseUser,
    decision: str,
    reason: str,
    preview: str,
    court_case_number: str = "",
) -> ConfirmationRequest:
    """Issues the ruling only with the token of a preview of this very decision and
    these reasons (and number), by this judge: 作出裁定 is never one click."""
    from agreements.court import case_numbers

    reason = clean_text(reason or "", multiline=True)
    _checked_decision(request, actor, decision, reason)
    number = not_accepted_number(decision, court_case_number)
    # Half-width brackets typed again compare as the preview's normalised number.
    number = case_numbers.normalised(number)
    try:
        seen = signing.loads(preview or "", salt=PREVIEW_SALT, max_age=PREVIEW_MAX_AGE)
    except signing.BadSignature:
        seen = None
    if seen != _digest(request, actor, decision, reason, number):
        raise DomainError(
            "preview_required",
            _("Preview the ruling with this decision and these reasons before issuing it."),
            status=409,
        )
    return confirmation_decide(
        request=request,
        actor=actor,
        decision=decision,
        reason=reason,
        court_case_number=number,
    )
