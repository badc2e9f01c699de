"""The respondent's invitation: made and sent when a dispute is filed, answered (accept or
decline) by the person invited, sent again by the applicant when it expired unanswered."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from odr import selectors
from odr.audit import log_action
from odr.errors import DomainError, Forbidden, Invalid, NotFound
from odr.models import Dispute, Invitation, Membership, Party
from odr.notifications import Recipient, notify
from odr.people import display_name, organisation_staff, party_recipients
from odr.services.common import apply, case_context, lock
from odr.text import clean_text

S = Dispute.Status


def invitation_create(*, party: Party, now: datetime) -> Invitation:
    """A fresh link for the party, valid for ODR_INVITATION_DAYS. Written inside the
    caller's audited write (the filing, the resend)."""
    return Invitation.objects.create(
        party=party, expires_at=now + timedelta(days=settings.ODR_INVITATION_DAYS)
    )


def invitation_send(*, invitation: Invitation, dispute: Dispute, sender: AbstractBaseUser) -> None:
    """The e-mail with the link, to the address the respondent was named with (they may
    have no account yet)."""
    respondent = invitation.party
    notify(
        [Recipient(email=respondent.email)],
        "invitation",
        {
            **case_context(dispute),
            "applicant": display_name(sender),
            "respondent": respondent.name,
            "invitation_url": f"{settings.SITE_URL}/invitations/{invitation.token}/",
            "expires_at": timezone.localtime(invitation.expires_at).strftime("%Y-%m-%d"),
        },
    )


def _usable_invitation(token: str, user: AbstractBaseUser, *, confirm_identity: bool) -> Invitation:
    """The invitation, locked, if this user may still answer it. The dispute is locked
    first, in the same order as every other write on a case (invitation_resend locks the
    dispute, then replaces the invitation): the other order could deadlock."""
    found = Invitation.objects.filter(token=token).values_list("party__dispute_id").first()
    if found is None:
        raise NotFound(_("This invitation link is not valid."))
    Dispute.objects.select_for_update().filter(pk=found[0]).first()
    # Re-read under the lock: a resend may have replaced it a moment ago.
    invitation = (
        Invitation.objects.select_for_update().select_related("party").filter(token=token).first()
    )
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
    if not confirm_identity and not selectors.invitation_is_addressed_to(invitation, user):
        # The link is not a bearer token (issue 11, L2): it answers for the person it was
        # sent to. Another account may answer only by saying that it is that person (the
        # invited may have signed up with another address), which the audit trail keeps.
        raise Forbidden(
            _(
                "This invitation was sent to someone else. If you are the person invited, "
                "confirm it and answer again."
            ),
            code="invitation_for_someone_else",
        )
    return invitation


def _answered_by(invitation: Invitation, user: AbstractBaseUser) -> dict[str, Any]:
    """What the audit event says of who answered: nothing more when it was the invited
    account; `other_account` and the address invited, masked, when another account said
    it was the person invited."""
    if selectors.invitation_is_addressed_to(invitation, user):
        return {}
    return {"other_account": True, "invited": selectors.invitation_masked_address(invitation)}


def _answer(
    token: str,
    user: AbstractBaseUser,
    *,
    confirm_identity: bool,
    fill: Callable[[Party], None],
    transition: str,
    changes: dict[str, Any],
    extra: dict[str, Any],
) -> tuple[Party, Dispute]:
    """The respondent's answer, either way: the invitation checked and used, the party
    bound to the account that answered and filled in by `fill`, and the dispute moved by
    `transition`, whose audit event says who answered. Call inside a transaction."""
    invitation = _usable_invitation(token, user, confirm_identity=confirm_identity)
    party = Party.objects.select_for_update().get(pk=invitation.party_id)
    answered_by = _answered_by(invitation, user)
    party.user = user
    fill(party)
    party.save()
    invitation.used_at = timezone.now()
    invitation.save(update_fields=["used_at"])
    dispute = apply(
        transition,
        dispute=party.dispute,
        actor=user,
        changes=changes,
        extra={**extra, **answered_by},
    )
    return party, dispute


def invitation_accept(
    *,
    token: str,
    user: AbstractBaseUser,
    consent_online: bool,
    confirm_identity: bool = False,
) -> Dispute:
    """The respondent consents to online mediation and agrees to mediate: the dispute
    goes to intake (SPC online mediation rules Art. 4: every party's consent)."""
    if not consent_online:
        raise Invalid(_("Online mediation needs your consent."), code="consent_required")
    with transaction.atomic():
        now = timezone.now()

        def agree(party: Party) -> None:
            party.accepted = True
            party.consented_online_at = now
            if not party.email:
                party.email = user.email

        party, dispute = _answer(
            token,
            user,
            confirm_identity=confirm_identity,
            fill=agree,
            transition="respond_accept",
            changes={"intake_at": now},
            extra={"respondent": user.pk},
        )
        notify(
            party_recipients(dispute, Party.Role.APPLICANT)
            + organisation_staff(dispute.organisation, Membership.Role.COORDINATOR),
            "respondent_accepted",
            {**case_context(dispute), "respondent": party.name},
        )
    return dispute


def invitation_decline(
    *, token: str, user: AbstractBaseUser, reason: str, confirm_identity: bool = False
) -> Dispute:
    reason = clean_text(reason, multiline=True)
    if not reason:
        raise Invalid(_("Say briefly why you decline."), code="reason_required")
    with transaction.atomic():

        def refuse(party: Party) -> None:
            party.accepted = False
            party.decline_reason = reason[:2000]

        party, dispute = _answer(
            token,
            user,
            confirm_identity=confirm_identity,
            fill=refuse,
            transition="respond_decline",
            changes={"closed_at": timezone.now(), "closing_reason": reason[:2000]},
            extra={"reason": reason[:2000]},
        )
        notify(
            party_recipients(dispute, Party.Role.APPLICANT),
            "respondent_declined",
            {**case_context(dispute), "respondent": party.name, "reason": reason},
        )
    return dispute


def invitation_resend(*, dispute: Dispute, actor: AbstractBaseUser) -> Invitation:
    """The applicant sends a fresh link when the first one expired unanswered."""
    party = selectors.party_of(dispute, actor)
    if party is None or party.role != Party.Role.APPLICANT:
        raise Forbidden(_("Only the applicant can invite the other side again."))
    with transaction.atomic():
        # Under the lock: an answer arriving now must not be undone by a fresh link.
        if lock(dispute).status != S.FILED:
            raise DomainError("invalid_status", _("The other side has already answered."))
        respondent = dispute.parties.get(role=Party.Role.RESPONDENT)
        old = Invitation.objects.filter(party=respondent).first()
        before = {"expires_at": old.expires_at} if old else {}
        Invitation.objects.filter(party=respondent).delete()
        invitation = invitation_create(party=respondent, now=timezone.now())
        log_action(
            action="invitation.resend",
            obj=invitation,
            actor=actor,
            dispute=dispute,
            before=before,
            after={"expires_at": invitation.expires_at},
        )
        invitation_send(invitation=invitation, dispute=dispute, sender=actor)
    return invitation
