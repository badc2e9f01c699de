"""The invitations of a dispute: one per respondent and per co-applicant, made and sent
when the dispute is filed, answered (accept or decline) by the person invited, sent again
by the applicant when they expired unanswered.

The case leaves `filed` when the answers decide it: for intake once every party invited
has answered and at least one respondent agreed; `declined` once every respondent
declined. A party who declined is out of the case (accepted=False): the documents leave
them out (odr.identity.identities_of(accepted_only=True))."""

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
from odr.links import site_url
from odr.models import Dispute, Invitation, Membership, Party, Profile
from odr.notifications import Recipient, notify
from odr.people import display_name, organisation_staff, party_recipients
from odr.services.common import Statement, apply, case_context, insert_statement, lock
from odr.services.party_input import identity_require, particulars_of
from odr.text import clean_text

S = Dispute.Status


def invitation_create(*, party: Party, now: datetime) -> Invitation:
    """A fresh link for the party, valid for ODR_INVITATION_DAYS. Written inside the
    caller's audited write (the filing, the resend)."""
    return Invitation.objects.create(
        party=party, expires_at=now + timedelta(days=settings.ODR_INVITATION_DAYS)
    )


def invitations_create(
    *, parties: list[Party], now: datetime, along: list[Statement] | None = None
) -> list[Invitation]:
    """A fresh link for each party, as invitation_create makes one, in one statement
    (the filing invites every other party at once). With `along`, the statement is not
    sent but added to it, for the caller to send with its audit event (their ids are
    not read back: `inserted` once sent)."""
    expires_at = now + timedelta(days=settings.ODR_INVITATION_DAYS)
    invitations = [Invitation(party=party, expires_at=expires_at) for party in parties]
    if along is None:
        return Invitation.objects.bulk_create(invitations)
    if invitations:
        along.append(insert_statement(invitations))
    return invitations


def invitation_url(invitation: Invitation) -> str:
    return f"{site_url()}/invitations/{invitation.token}/"


def invitation_send(*, invitation: Invitation, dispute: Dispute, sender: AbstractBaseUser) -> None:
    """The link, to the address and the mobile number the party was named with (they may
    have no account yet): an e-mail, a text (odr/sms/invitation.txt). A party named with
    neither (a landline only) gets nothing: the filer sees the link on the case page and
    passes it on (selectors.invitations_to_pass_on)."""
    invited = invitation.party
    notify(
        [Recipient(email=invited.email, phone=invited.phone)],
        "invitation",
        {
            **case_context(dispute),
            "applicant": display_name(sender),
            "respondent": invited.name,
            "co_applicant": invited.role == Party.Role.APPLICANT,
            "invitation_url": invitation_url(invitation),
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
    if dispute.parties.filter(user=user).exclude(pk=invitation.party_id).exists():
        # No one is two parties of one case (each invitation is one party's).
        raise Forbidden(
            _("You are already a party to this case: this invitation is someone else's."),
            code="already_a_party",
        )
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


def _outcome(dispute: Dispute) -> str:
    """What the answers given so far decide, read under the dispute's lock: `declined`
    when every respondent declined, `intake` when every party invited answered (and so,
    not all respondents having declined, one agreed), else `waiting`."""
    # Everyone but the filer (the first applicant, who agreed by filing).
    invited = list(dispute.parties.exclude(role=Party.Role.APPLICANT, position=0))
    respondents = [p for p in invited if p.role == Party.Role.RESPONDENT]
    if respondents and all(p.accepted is False for p in respondents):
        return "declined"
    if all(p.accepted is not None for p in invited):
        return "intake"
    return "waiting"


def _answer(
    token: str,
    user: AbstractBaseUser,
    *,
    confirm_identity: bool,
    fill: Callable[[Party], None],
    transitions: dict[str, str],
    changes: Callable[[str], dict[str, Any]],
    extra: dict[str, Any],
    before_fill: Callable[[], None] | None = None,
) -> tuple[Party, Dispute, str]:
    """One invited party's answer, either way: the invitation checked and used, the party
    bound to the account that answered and filled in by `fill`, and the dispute moved by
    the transition of `transitions` that the answers now decide (`_outcome`), whose audit
    event says who answered. Call inside a transaction."""
    invitation = _usable_invitation(token, user, confirm_identity=confirm_identity)
    if before_fill is not None:
        before_fill()
    party = Party.objects.select_for_update().get(pk=invitation.party_id)
    answered_by = _answered_by(invitation, user)
    party.user = user
    fill(party)
    party.save()
    invitation.used_at = timezone.now()
    invitation.save(update_fields=["used_at"])
    outcome = _outcome(party.dispute)
    dispute = apply(
        transitions[outcome],
        dispute=party.dispute,
        actor=user,
        changes=changes(outcome),
        extra={**extra, "party": party.pk, "role": party.role, **answered_by},
    )
    return party, dispute, outcome


def invitation_accept(
    *,
    token: str,
    user: AbstractBaseUser,
    consent_online: bool,
    confirm_identity: bool = False,
    real_name: str = "",
    id_number: str = "",
) -> Dispute:
    """The invited party consents to online mediation and agrees to mediate (SPC online
    mediation rules Art. 4: every party's consent). They give their real name and
    resident ID number first (`real_name`, `id_number` are saved to their profile); the
    party they were invited as takes their profile's particulars. The case goes to
    intake once every party invited has answered."""
    if not consent_online:
        raise Invalid(_("Online mediation needs your consent."), code="consent_required")
    with transaction.atomic():
        now = timezone.now()
        found: dict[str, Profile] = {}

        def identify() -> None:
            found["profile"] = identity_require(user=user, real_name=real_name, id_number=id_number)

        def agree(party: Party) -> None:
            party.accepted = True
            party.consented_online_at = now
            if not party.email:
                party.email = user.email
            if party.kind == Party.Kind.PERSON:
                for field, value in particulars_of(user, found["profile"]).items():
                    setattr(party, field, value)
            elif not party.phone and found["profile"].phone:
                party.phone = found["profile"].phone

        party, dispute, outcome = _answer(
            token,
            user,
            confirm_identity=confirm_identity,
            fill=agree,
            before_fill=identify,
            transitions={
                "intake": "respond_accept",
                "waiting": "party_accept",
                # Not reached: the case closes on the last respondent's refusal.
                "declined": "party_accept",
            },
            changes=lambda outcome: {"intake_at": now} if outcome == "intake" else {},
            extra={"respondent": user.pk},
        )
        notify(
            party_recipients(dispute, Party.Role.APPLICANT, exclude=user)
            + (
                organisation_staff(dispute.organisation, Membership.Role.COORDINATOR)
                if outcome == "intake"
                else []
            ),
            "respondent_accepted",
            {**case_context(dispute), "respondent": party.name},
        )
    return dispute


def invitation_decline(
    *, token: str, user: AbstractBaseUser, reason: str, confirm_identity: bool = False
) -> Dispute:
    """The invited party declines: they are out of the case. The case closes as
    `declined` when every respondent declined; it goes to intake when this was the last
    answer and a respondent agreed."""
    reason = clean_text(reason, multiline=True)
    if not reason:
        raise Invalid(_("Say briefly why you decline."), code="reason_required")
    with transaction.atomic():
        now = timezone.now()

        def refuse(party: Party) -> None:
            party.accepted = False
            party.decline_reason = reason[:2000]

        def changes(outcome: str) -> dict[str, Any]:
            if outcome == "declined":
                return {"closed_at": now, "closing_reason": reason[:2000]}
            if outcome == "intake":
                return {"intake_at": now}
            return {}

        party, dispute, outcome = _answer(
            token,
            user,
            confirm_identity=confirm_identity,
            fill=refuse,
            transitions={
                "declined": "respond_decline",
                "intake": "party_decline_last",
                "waiting": "party_decline",
            },
            changes=changes,
            extra={"reason": reason[:2000]},
        )
        notify(
            party_recipients(dispute, Party.Role.APPLICANT, exclude=user),
            "respondent_declined",
            {**case_context(dispute), "respondent": party.name, "reason": reason},
        )
        if outcome == "intake":
            notify(
                organisation_staff(dispute.organisation, Membership.Role.COORDINATOR),
                "respondent_accepted",
                {**case_context(dispute), "respondent": party.name},
            )
    return dispute


def invitation_resend(*, dispute: Dispute, actor: AbstractBaseUser) -> list[Invitation]:
    """The applicant sends a fresh link to every party invited who has not answered yet
    (when the first ones expired unanswered)."""
    party = selectors.party_of(dispute, actor)
    if party is None or party.role != Party.Role.APPLICANT:
        raise Forbidden(_("Only the applicant can invite the other side again."))
    with transaction.atomic():
        # Under the lock: an answer arriving now must not be undone by a fresh link.
        if lock(dispute).status != S.FILED:
            raise DomainError("invalid_status", _("The other side has already answered."))
        waiting = list(
            dispute.parties.filter(accepted__isnull=True)
            .exclude(role=Party.Role.APPLICANT, position=0)
            .order_by("role", "position", "pk")
        )
        invitations = []
        for invited in waiting:
            old = Invitation.objects.filter(party=invited).first()
            before = {"expires_at": old.expires_at} if old else {}
            Invitation.objects.filter(party=invited).delete()
            invitation = invitation_create(party=invited, now=timezone.now())
            log_action(
                action="invitation.resend",
                obj=invitation,
                actor=actor,
                dispute=dispute,
                before=before,
                after={"expires_at": invitation.expires_at, "party": invited.pk},
            )
            invitation_send(invitation=invitation, dispute=dispute, sender=actor)
            invitations.append(invitation)
    return invitations
