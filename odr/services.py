"""Every write to disputes, parties, invitations, evidence and messages. Each status change
is one function that checks the move against odr.transitions, locks the row, saves,
writes an audit event and notifies after commit (DESIGN.md §2, §4)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal
from typing import IO, Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from odr import selectors
from odr.audit import log_action
from odr.categories import Category
from odr.errors import DomainError, Forbidden, Invalid, NotFound
from odr.evidence import CheckedFile, check_upload
from odr.idnumber import is_valid_id_number
from odr.models import (
    CaseCounter,
    Dispute,
    Evidence,
    Invitation,
    Membership,
    Message,
    Organisation,
    Party,
    Profile,
    Region,
)
from odr.notifications import Recipient, notify
from odr.transitions import MACHINE

User = get_user_model()
S = Dispute.Status


# --- helpers ---------------------------------------------------------------------------


def _clean(value: str | None) -> str:
    """Text as stored: trimmed and without NUL characters, which PostgreSQL refuses in
    text columns (a request carrying one would otherwise fail with a server error)."""
    return (value or "").replace("\x00", "").strip()


def _lock(dispute: Dispute) -> Dispute:
    # No select_related here: PostgreSQL refuses FOR UPDATE on the nullable side of an
    # outer join (the organisation and mediator are nullable).
    return Dispute.objects.select_for_update().get(pk=dispute.pk)


def _apply(
    name: str,
    *,
    dispute: Dispute,
    actor: AbstractBaseUser | None,
    changes: dict[str, Any] | None = None,
    prepare: Callable[[Dispute], dict[str, Any]] | None = None,
    extra: dict[str, Any] | None = None,
) -> Dispute:
    """The one path by which a dispute's status moves: the kernel's apply on the dispute
    machine (lock, check under the lock, save, audit, `transitioned` after commit)."""
    return MACHINE.apply(
        name, instance=dispute, actor=actor, changes=changes, prepare=prepare, extra=extra
    )


def _staff_of(organisation: Organisation | None, *roles: str) -> list[AbstractBaseUser]:
    if organisation is None:
        return []
    return [
        m.user
        for m in organisation.memberships.filter(role__in=roles, is_active=True).select_related(
            "user", "user__profile"
        )
    ]


def _party_recipients(dispute: Dispute, *roles: str) -> list[Recipient | AbstractBaseUser]:
    """The parties to write to (all, or those of the given roles): their account when
    they have one (its language), else the address they were invited at."""
    out: list[Recipient | AbstractBaseUser] = []
    parties = dispute.parties.select_related("user", "user__profile")
    if roles:
        parties = parties.filter(role__in=roles)
    for party in parties:
        if party.user is not None:
            out.append(party.user)
        elif party.email:
            out.append(Recipient(email=party.email))
    return out


def _case_context(dispute: Dispute) -> dict[str, Any]:
    return {
        "case_number": dispute.case_number,
        "title": dispute.title,
        "case_url": f"{settings.SITE_URL}/disputes/{dispute.pk}/",
        "organisation": dispute.organisation.name if dispute.organisation else "",
    }


def _next_case_number(organisation: Organisation, year: int) -> str:
    """Locks the organisation's counter for the year: two racing filings wait for each
    other rather than draw the same number (the unique constraint is the backstop)."""
    counter, _created = CaseCounter.objects.select_for_update().get_or_create(
        organisation=organisation, year=year
    )
    counter.last += 1
    counter.save(update_fields=["last"])
    return f"({year}){organisation.case_code}第{counter.last:04d}号"


# --- profile ---------------------------------------------------------------------------


def profile_update(
    *, user: AbstractBaseUser, real_name: str, phone: str, id_number: str, language: str
) -> Profile:
    id_number = _clean(id_number).upper()
    if id_number and not is_valid_id_number(id_number):
        raise Invalid(
            _("The resident ID number is not valid: check the 18 characters."),
            code="invalid_id_number",
        )
    if language not in dict(settings.LANGUAGES):
        raise Invalid(_("Unknown language."), code="invalid_language")
    with transaction.atomic():
        profile, _created = Profile.objects.select_for_update().get_or_create(user=user)
        before = {
            "real_name": profile.real_name,
            "phone": profile.phone,
            "id_number_set": bool(profile.id_number),
            "language": profile.language,
        }
        profile.real_name = _clean(real_name)
        profile.phone = _clean(phone)
        profile.id_number = id_number
        profile.language = language
        profile.full_clean()
        profile.save()
        log_action(
            action="profile.update",
            obj=profile,
            actor=user,
            before=before,
            after={
                "real_name": profile.real_name,
                "phone": profile.phone,
                "id_number_set": bool(profile.id_number),
                "language": profile.language,
            },
        )
    return profile


def display_name(user: AbstractBaseUser) -> str:
    profile = getattr(user, "profile", None)
    return (profile.real_name if profile and profile.real_name else "") or user.email


# --- filing ----------------------------------------------------------------------------


def dispute_file(
    *,
    applicant: AbstractBaseUser,
    category: str,
    title: str,
    description: str,
    region_code: str,
    respondent_name: str,
    respondent_email: str,
    respondent_phone: str = "",
    request: str = "",
    claim_amount: Decimal | None = None,
    evidence: list[tuple[IO[bytes], str, int | None, str]] | None = None,
) -> Dispute:
    """File a dispute, route it, number it and invite the respondent. Evidence files are
    (file, name, size, description); any bad one refuses the whole filing, so nothing is
    half-saved."""
    if category not in Category.values:
        raise Invalid(_("Choose a category from the list."), code="invalid_category")
    title, description, request = _clean(title), _clean(description), _clean(request)
    respondent_name, respondent_email = _clean(respondent_name), _clean(respondent_email)
    respondent_phone = _clean(respondent_phone)
    if not title:
        raise Invalid(_("Give the dispute a short title."), code="title_required")
    if not description:
        raise Invalid(_("Describe what happened."), code="description_required")
    if not respondent_name.strip():
        raise Invalid(_("Give the other side's name."), code="respondent_name_required")
    if not respondent_email.strip():
        raise Invalid(
            _("Give the other side's e-mail so they can be invited."),
            code="respondent_email_required",
        )
    try:
        validate_email(respondent_email.strip())
    except ValidationError as exc:
        raise Invalid(
            _("The other side's e-mail address is not valid."), code="invalid_email"
        ) from exc
    if respondent_email.strip().lower() == (applicant.email or "").lower():
        raise Invalid(_("You cannot file a dispute against yourself."), code="self_dispute")
    if claim_amount is not None and claim_amount < 0:
        raise Invalid(_("The claim amount cannot be negative."), code="invalid_amount")
    region = Region.objects.filter(code=region_code).first()
    if region is None:
        raise Invalid(_("Choose the place from the list."), code="invalid_region")
    organisation = selectors.route_dispute(region=region, category=category)
    if organisation is None:
        raise DomainError(
            "no_organisation",
            _("No mediation organisation covers this place and kind of dispute yet."),
            status=400,
        )
    checked = [
        (f, check_upload(f, name=name, size=size), desc) for f, name, size, desc in (evidence or [])
    ]

    with _files_removed_on_error() as stored, transaction.atomic():
        now = timezone.now()
        dispute = Dispute.objects.create(
            case_number=_next_case_number(organisation, timezone.localdate(now).year),
            category=category,
            title=title[:200],
            description=description,
            request=request,
            claim_amount=claim_amount,
            region=region,
            organisation=organisation,
            filed_by=applicant,
            created_at=now,
        )
        Party.objects.create(
            dispute=dispute,
            role=Party.Role.APPLICANT,
            user=applicant,
            name=display_name(applicant),
            email=applicant.email,
            phone=getattr(getattr(applicant, "profile", None), "phone", ""),
            accepted=True,
            consented_online_at=now,
        )
        respondent = Party.objects.create(
            dispute=dispute,
            role=Party.Role.RESPONDENT,
            name=respondent_name.strip()[:100],
            email=respondent_email.strip(),
            phone=respondent_phone.strip()[:30],
        )
        invitation = Invitation.objects.create(
            party=respondent, expires_at=now + timedelta(days=settings.ODR_INVITATION_DAYS)
        )
        log_action(
            action="dispute.file",
            obj=dispute,
            actor=applicant,
            dispute=dispute,
            after={
                "status": dispute.status,
                "case_number": dispute.case_number,
                "organisation": organisation.pk,
                "category": category,
                "region": region.code,
            },
        )
        for upload, info, desc in checked:
            stored.append(
                _store_evidence(
                    dispute=dispute, actor=applicant, upload=upload, info=info, description=desc
                )
            )
        notify(
            [Recipient(email=respondent.email)],
            "invitation",
            {
                **_case_context(dispute),
                "applicant": display_name(applicant),
                "respondent": respondent.name,
                "invitation_url": f"{settings.SITE_URL}/invitations/{invitation.token}/",
                "expires_at": timezone.localtime(invitation.expires_at).strftime("%Y-%m-%d"),
            },
        )
    return dispute


def _store_evidence(
    *,
    dispute: Dispute,
    actor: AbstractBaseUser,
    upload: IO[bytes],
    info: CheckedFile,
    description: str,
) -> Evidence:
    item = Evidence(
        dispute=dispute,
        uploaded_by=actor,
        filename=info.filename,
        extension=info.extension,
        content_type=info.content_type,
        size=info.size,
        sha256=info.sha256,
        description=_clean(description)[:500],
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


@contextmanager
def _files_removed_on_error() -> Iterator[list[Evidence]]:
    """Files reach storage before the transaction commits; when it rolls back, they are
    removed again so that a refused filing leaves nothing behind."""
    stored: list[Evidence] = []
    try:
        yield stored
    except BaseException:
        for item in stored:
            item.file.storage.delete(item.file.name)
        raise


def evidence_add(
    *,
    dispute: Dispute,
    actor: AbstractBaseUser,
    upload: IO[bytes],
    name: str,
    size: int | None,
    description: str = "",
) -> Evidence:
    """A party adds evidence while the case is open."""
    if selectors.party_of(dispute, actor) is None:
        raise Forbidden(_("Only the parties can add evidence."), code="not_a_party")
    info = check_upload(upload, name=name, size=size)
    with _files_removed_on_error() as stored, transaction.atomic():
        # Under the row lock: a case closed a moment ago takes no more evidence.
        if not _lock(dispute).is_open:
            raise DomainError(
                "case_closed", _("The case is closed: evidence can no longer be added.")
            )
        item = _store_evidence(
            dispute=dispute, actor=actor, upload=upload, info=info, description=description
        )
        stored.append(item)
    return item


# --- the respondent's answer -----------------------------------------------------------


def invitation_for_token(token: str) -> Invitation:
    invitation = (
        Invitation.objects.select_related("party", "party__dispute", "party__dispute__organisation")
        .filter(token=token)
        .first()
    )
    if invitation is None:
        raise NotFound(_("This invitation link is not valid."))
    return invitation


def _usable_invitation(token: str, user: AbstractBaseUser) -> Invitation:
    """The invitation, locked, if it may still be answered. The dispute is locked first,
    in the same order as every other write on a case (invitation_resend locks the dispute,
    then replaces the invitation): the other order could deadlock."""
    found = Invitation.objects.filter(token=token).values_list("party__dispute_id").first()
    if found is None:
        raise NotFound(_("This invitation link is not valid."))
    Dispute.objects.select_for_update().filter(pk=found[0]).first()
    # Re-read under the lock: a resend may have replaced it a moment ago.
    invitation = Invitation.objects.select_for_update().filter(token=token).first()
    if invitation is None:
        raise NotFound(_("This invitation link is not valid."))
    if invitation.is_used:
        raise DomainError(
            "invitation_used", _("This invitation has already been answered."), status=410
        )
    if invitation.is_expired():
        raise DomainError("invitation_expired", _("This invitation has expired."), status=410)
    dispute = invitation.party.dispute
    if dispute.filed_by_id == user.pk:
        raise Forbidden(_("You cannot answer your own dispute."), code="own_dispute")
    if dispute.organisation_id in selectors.user_org_ids(user):
        # Staff of the organisation that handles the case cannot also be a party to it
        # (a mediator must be impartial: People's Mediation Law Art. 22).
        raise Forbidden(
            _("Staff of the organisation handling this case cannot answer as a party."),
            code="conflict_of_interest",
        )
    return invitation


def invitation_accept(*, token: str, user: AbstractBaseUser, consent_online: bool) -> Dispute:
    """The respondent consents to online mediation and agrees to mediate: the dispute
    goes to intake (SPC online mediation rules Art. 4: every party's consent)."""
    if not consent_online:
        raise Invalid(_("Online mediation needs your consent."), code="consent_required")
    with transaction.atomic():
        invitation = _usable_invitation(token, user)
        party = Party.objects.select_for_update().get(pk=invitation.party_id)
        now = timezone.now()
        party.user = user
        party.accepted = True
        party.consented_online_at = now
        if not party.email:
            party.email = user.email
        party.save()
        invitation.used_at = now
        invitation.save(update_fields=["used_at"])
        dispute = _apply(
            "respond_accept",
            dispute=party.dispute,
            actor=user,
            changes={"intake_at": now},
            extra={"respondent": user.pk},
        )
        notify(
            _party_recipients(dispute, Party.Role.APPLICANT)
            + _staff_of(dispute.organisation, Membership.Role.COORDINATOR),
            "respondent_accepted",
            {**_case_context(dispute), "respondent": party.name},
        )
    return dispute


def invitation_decline(*, token: str, user: AbstractBaseUser, reason: str) -> Dispute:
    reason = _clean(reason)
    if not reason:
        raise Invalid(_("Say briefly why you decline."), code="reason_required")
    with transaction.atomic():
        invitation = _usable_invitation(token, user)
        party = Party.objects.select_for_update().get(pk=invitation.party_id)
        now = timezone.now()
        party.user = user
        party.accepted = False
        party.decline_reason = reason[:2000]
        party.save()
        invitation.used_at = now
        invitation.save(update_fields=["used_at"])
        dispute = _apply(
            "respond_decline",
            dispute=party.dispute,
            actor=user,
            changes={"closed_at": now, "closing_reason": reason[:2000]},
            extra={"reason": reason[:2000]},
        )
        notify(
            _party_recipients(dispute, Party.Role.APPLICANT),
            "respondent_declined",
            {**_case_context(dispute), "respondent": party.name, "reason": reason},
        )
    return dispute


def invitation_resend(*, dispute: Dispute, actor: AbstractBaseUser) -> Invitation:
    """The applicant sends a fresh link when the first one expired unanswered."""
    party = selectors.party_of(dispute, actor)
    if party is None or party.role != Party.Role.APPLICANT:
        raise Forbidden(_("Only the applicant can invite the other side again."))
    with transaction.atomic():
        # Under the lock: an answer arriving now must not be undone by a fresh link.
        if _lock(dispute).status != S.FILED:
            raise DomainError("invalid_status", _("The other side has already answered."))
        respondent = dispute.parties.get(role=Party.Role.RESPONDENT)
        old = Invitation.objects.filter(party=respondent).first()
        before = {"expires_at": old.expires_at} if old else {}
        Invitation.objects.filter(party=respondent).delete()
        invitation = Invitation.objects.create(
            party=respondent,
            expires_at=timezone.now() + timedelta(days=settings.ODR_INVITATION_DAYS),
        )
        log_action(
            action="invitation.resend",
            obj=invitation,
            actor=actor,
            dispute=dispute,
            before=before,
            after={"expires_at": invitation.expires_at},
        )
        notify(
            [Recipient(email=respondent.email)],
            "invitation",
            {
                **_case_context(dispute),
                "applicant": display_name(actor),
                "respondent": respondent.name,
                "invitation_url": f"{settings.SITE_URL}/invitations/{invitation.token}/",
                "expires_at": timezone.localtime(invitation.expires_at).strftime("%Y-%m-%d"),
            },
        )
    return invitation


# --- intake and mediation --------------------------------------------------------------


def _mediator_for(dispute: Dispute, mediator_id: int | None) -> AbstractBaseUser:
    mediator = User.objects.filter(pk=mediator_id, is_active=True).first() if mediator_id else None
    if mediator is None or not selectors.is_mediator_in(dispute.organisation, mediator):
        raise Invalid(
            _("Choose a mediator of %(org)s.") % {"org": dispute.organisation},
            code="invalid_mediator",
        )
    return mediator


def dispute_accept(*, dispute: Dispute, actor: AbstractBaseUser, mediator: int | None) -> Dispute:
    now = timezone.now()

    def prepare(locked: Dispute) -> dict[str, Any]:
        return {
            "mediator": _mediator_for(locked, mediator),
            "accepted_at": now,
            "mediation_deadline": now + timedelta(days=settings.ODR_MEDIATION_DAYS),
        }

    with transaction.atomic():
        dispute = _apply("accept", dispute=dispute, actor=actor, prepare=prepare)
        notify(
            [dispute.mediator, *_party_recipients(dispute)],
            "accepted",
            {
                **_case_context(dispute),
                "mediator": display_name(dispute.mediator),
                "deadline": timezone.localtime(dispute.mediation_deadline).strftime("%Y-%m-%d"),
            },
        )
    return dispute


def _close_with_reason(
    action: str, *, dispute: Dispute, actor: AbstractBaseUser, reason: str
) -> Dispute:
    """Refusing a case and ending a mediation without agreement close it the same way: a
    reason is required and kept on the case and in the audit event. Call inside the
    caller's transaction, which then tells the parties."""
    return _apply(
        action,
        dispute=dispute,
        actor=actor,
        prepare=lambda locked: {
            "closed_at": timezone.now(),
            "closing_reason": _required_reason(reason),
        },
        extra={"reason": _clean(reason)[:2000]},
    )


def dispute_reject(*, dispute: Dispute, actor: AbstractBaseUser, reason: str) -> Dispute:
    with transaction.atomic():
        dispute = _close_with_reason("reject", dispute=dispute, actor=actor, reason=reason)
        notify(
            _party_recipients(dispute),
            "rejected",
            {**_case_context(dispute), "reason": dispute.closing_reason},
        )
    return dispute


def dispute_assign(*, dispute: Dispute, actor: AbstractBaseUser, mediator: int | None) -> Dispute:
    def prepare(locked: Dispute) -> dict[str, Any]:
        chosen = _mediator_for(locked, mediator)
        if chosen.pk == locked.mediator_id:
            raise DomainError("same_mediator", _("This mediator already has the case."))
        return {"mediator": chosen}

    with transaction.atomic():
        dispute = _apply("assign", dispute=dispute, actor=actor, prepare=prepare)
        notify(
            [dispute.mediator],
            "assigned",
            {**_case_context(dispute), "mediator": display_name(dispute.mediator)},
        )
    return dispute


def dispute_escalate(*, dispute: Dispute, actor: AbstractBaseUser, reason: str) -> Dispute:
    """To the organisation one level up, back to intake there: its coordinator accepts
    and assigns afresh."""

    def prepare(locked: Dispute) -> dict[str, Any]:
        _required_reason(reason)
        above = selectors.organisation_above(locked.organisation, locked.category)
        if above is None:
            raise DomainError(
                "no_organisation_above",
                _("There is no organisation above this one to take the case."),
            )
        return {
            "organisation": above,
            "mediator": None,
            "accepted_at": None,
            "mediation_deadline": None,
        }

    with transaction.atomic():
        dispute = _apply(
            "escalate",
            dispute=dispute,
            actor=actor,
            prepare=prepare,
            extra={"reason": _clean(reason)[:2000]},
        )
        notify(
            _staff_of(dispute.organisation, Membership.Role.COORDINATOR)
            + _party_recipients(dispute),
            "escalated",
            {**_case_context(dispute), "reason": _clean(reason)},
        )
    return dispute


def dispute_withdraw(*, dispute: Dispute, actor: AbstractBaseUser, reason: str = "") -> Dispute:
    reason = _clean(reason)[:2000]
    with transaction.atomic():
        dispute = _apply(
            "withdraw",
            dispute=dispute,
            actor=actor,
            changes={"closed_at": timezone.now(), "closing_reason": reason},
            extra={"reason": reason},
        )
        recipients = _party_recipients(dispute) + _staff_of(
            dispute.organisation, Membership.Role.COORDINATOR
        )
        if dispute.mediator is not None:
            recipients.append(dispute.mediator)
        notify(
            [r for r in recipients if getattr(r, "pk", None) != actor.pk],
            "withdrawn",
            {**_case_context(dispute), "reason": reason},
        )
    return dispute


REFERRAL_GUIDANCE = (
    "You may bring the dispute to the basic people's court (civil litigation), or, where a "
    "contract names arbitration or for labour matters, to the arbitration commission. "
    "What was said in mediation is not binding on them."
)


def dispute_fail(*, dispute: Dispute, actor: AbstractBaseUser, reason: str) -> Dispute:
    with transaction.atomic():
        dispute = _close_with_reason("fail", dispute=dispute, actor=actor, reason=reason)
        notify(
            _party_recipients(dispute),
            "failed",
            {**_case_context(dispute), "reason": dispute.closing_reason},
        )
    return dispute


def dispute_settle(*, dispute: Dispute, agreement_id: int) -> Dispute:
    """Called by the agreements app, inside its transaction, when the agreement is in
    force. Not a public action: nobody presses a button for it."""
    with transaction.atomic():
        dispute = _apply(
            "settle",
            dispute=dispute,
            actor=None,
            changes={"closed_at": timezone.now()},
            extra={"agreement": agreement_id},
        )
        notify(_party_recipients(dispute), "settled", _case_context(dispute))
    return dispute


def _required_reason(reason: str) -> str:
    reason = _clean(reason)
    if not reason:
        raise Invalid(_("Give a reason."), code="reason_required")
    return reason[:2000]


def dispute_run_action(
    *, dispute: Dispute, actor: AbstractBaseUser, action: str, data: dict[str, Any]
) -> Dispute:
    """The API's `/actions/{action}`: one service per public action."""
    handlers = {
        "accept": lambda: dispute_accept(
            dispute=dispute, actor=actor, mediator=_int(data.get("mediator"))
        ),
        "reject": lambda: dispute_reject(
            dispute=dispute, actor=actor, reason=str(data.get("reason", ""))
        ),
        "assign": lambda: dispute_assign(
            dispute=dispute, actor=actor, mediator=_int(data.get("mediator"))
        ),
        "escalate": lambda: dispute_escalate(
            dispute=dispute, actor=actor, reason=str(data.get("reason", ""))
        ),
        "withdraw": lambda: dispute_withdraw(
            dispute=dispute, actor=actor, reason=str(data.get("reason", ""))
        ),
        "fail": lambda: dispute_fail(
            dispute=dispute, actor=actor, reason=str(data.get("reason", ""))
        ),
    }
    if action not in handlers:
        if action in MACHINE:
            # A transition that exists but is not a button (the respondent's answer goes
            # through the invitation; settling is the agreements app's).
            raise Forbidden(_("You may not do this on this case."), code="action_not_allowed")
        raise NotFound(_("Unknown action."))
    return handlers[action]()


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


# --- secure messages -------------------------------------------------------------------


def message_post(*, dispute: Dispute, actor: AbstractBaseUser, text: str) -> Message:
    """Parties and the mediator write to each other on the case."""
    if selectors.party_of(dispute, actor) is None and not selectors.is_mediator_of(dispute, actor):
        raise Forbidden(_("Only the parties and the mediator can write here."))
    text = _clean(text)
    if not text:
        raise Invalid(_("Write a message first."), code="empty_message")
    if len(text) > 5000:
        raise Invalid(
            _("The message is too long (5,000 characters at most)."), code="message_too_long"
        )
    with transaction.atomic():
        message = Message.objects.create(dispute=dispute, sender=actor, text=text)
        log_action(
            action="message.post",
            obj=message,
            actor=actor,
            dispute=dispute,
            after={"length": len(text)},
        )
        others = [r for r in _party_recipients(dispute) if getattr(r, "pk", None) != actor.pk]
        if dispute.mediator and dispute.mediator_id != actor.pk:
            others.append(dispute.mediator)
        notify(others, "message", {**_case_context(dispute), "sender": display_name(actor)})
    return message
