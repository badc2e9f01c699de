"""The dispute's moves after the respondent agreed: intake (accept, reject), the mediator
(assign, escalate), and the ends (withdraw, fail, settle). Each is one service that goes
through the dispute machine (odr.transitions) and tells the people concerned after commit."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from odr import selectors
from odr.errors import DomainError, Forbidden, Invalid, NotFound
from odr.models import Dispute, Membership
from odr.notifications import notify
from odr.people import case_people, display_name, organisation_staff, party_recipients
from odr.services.common import apply, case_context
from odr.text import clean_text
from odr.transitions import MACHINE

User = get_user_model()

# Plain English here; odr.views.cases marks it for the catalogue and translates it.
REFERRAL_GUIDANCE = (
    "You may bring the dispute to the basic people's court (civil litigation), or, where a "
    "contract names arbitration or for labour matters, to the arbitration commission. "
    "What was said in mediation is not binding on them."
)


def _required_reason(reason: str) -> str:
    reason = clean_text(reason, multiline=True)
    if not reason:
        raise Invalid(_("Give a reason."), code="reason_required")
    return reason[:2000]


def _mediator_for(dispute: Dispute, mediator_id: int | None) -> AbstractBaseUser:
    mediator = User.objects.filter(pk=mediator_id, is_active=True).first() if mediator_id else None
    if mediator is None or not selectors.is_mediator_in(dispute.organisation, mediator):
        raise Invalid(
            _("Choose a mediator of %(org)s.") % {"org": dispute.organisation},
            code="invalid_mediator",
        )
    if mediator.pk in selectors.party_user_ids(dispute):
        # A party is never the mediator of their own case (回避; People's Mediation Law
        # Art. 22), whoever proposes them: accept and assign both come through here.
        raise Invalid(
            _("%(name)s is a party to this case and cannot mediate it.")
            % {"name": display_name(mediator)},
            code="conflict_of_interest",
        )
    return mediator


def _coordinators(dispute: Dispute) -> list[AbstractBaseUser]:
    return organisation_staff(dispute.organisation, Membership.Role.COORDINATOR)


def dispute_accept(*, dispute: Dispute, actor: AbstractBaseUser, mediator: int | None) -> Dispute:
    now = timezone.now()

    def prepare(locked: Dispute) -> dict[str, Any]:
        return {
            "mediator": _mediator_for(locked, mediator),
            "accepted_at": now,
            "mediation_deadline": now + timedelta(days=settings.ODR_MEDIATION_DAYS),
            # A new deadline gets its own reminder: a case escalated and accepted again
            # must not stay silent because the old deadline was reminded.
            "deadline_reminded_at": None,
        }

    with transaction.atomic():
        dispute = apply("accept", dispute=dispute, actor=actor, prepare=prepare)
        notify(
            [dispute.mediator, *party_recipients(dispute)],
            "accepted",
            {
                **case_context(dispute),
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
    return apply(
        action,
        dispute=dispute,
        actor=actor,
        prepare=lambda locked: {
            "closed_at": timezone.now(),
            "closing_reason": _required_reason(reason),
        },
        extra={"reason": clean_text(reason, multiline=True)[:2000]},
    )


def dispute_reject(*, dispute: Dispute, actor: AbstractBaseUser, reason: str) -> Dispute:
    with transaction.atomic():
        dispute = _close_with_reason("reject", dispute=dispute, actor=actor, reason=reason)
        notify(
            party_recipients(dispute),
            "rejected",
            {**case_context(dispute), "reason": dispute.closing_reason},
        )
    return dispute


def dispute_assign(*, dispute: Dispute, actor: AbstractBaseUser, mediator: int | None) -> Dispute:
    def prepare(locked: Dispute) -> dict[str, Any]:
        chosen = _mediator_for(locked, mediator)
        if chosen.pk == locked.mediator_id:
            raise DomainError("same_mediator", _("This mediator already has the case."))
        return {"mediator": chosen}

    with transaction.atomic():
        dispute = apply("assign", dispute=dispute, actor=actor, prepare=prepare)
        notify(
            [dispute.mediator],
            "assigned",
            {**case_context(dispute), "mediator": display_name(dispute.mediator)},
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
        dispute = apply(
            "escalate",
            dispute=dispute,
            actor=actor,
            prepare=prepare,
            extra={"reason": clean_text(reason, multiline=True)[:2000]},
        )
        notify(
            _coordinators(dispute) + party_recipients(dispute),
            "escalated",
            {**case_context(dispute), "reason": clean_text(reason, multiline=True)},
        )
    return dispute


def dispute_withdraw(*, dispute: Dispute, actor: AbstractBaseUser, reason: str = "") -> Dispute:
    reason = clean_text(reason, multiline=True)[:2000]
    with transaction.atomic():
        dispute = apply(
            "withdraw",
            dispute=dispute,
            actor=actor,
            changes={"closed_at": timezone.now(), "closing_reason": reason},
            extra={"reason": reason},
        )
        # Everyone on the case and the organisation's coordinators, but the applicant who
        # withdrew.
        recipients = case_people(dispute, exclude=actor) + [
            c for c in _coordinators(dispute) if c.pk != actor.pk
        ]
        notify(recipients, "withdrawn", {**case_context(dispute), "reason": reason})
    return dispute


def dispute_fail(*, dispute: Dispute, actor: AbstractBaseUser, reason: str) -> Dispute:
    with transaction.atomic():
        dispute = _close_with_reason("fail", dispute=dispute, actor=actor, reason=reason)
        notify(
            party_recipients(dispute),
            "failed",
            {**case_context(dispute), "reason": dispute.closing_reason},
        )
    return dispute


def dispute_settle(*, dispute: Dispute, agreement_id: int) -> Dispute:
    """Called by the agreements app, inside its transaction, when the agreement is in
    force. Not a public action: nobody presses a button for it."""
    with transaction.atomic():
        dispute = apply(
            "settle",
            dispute=dispute,
            actor=None,
            changes={"closed_at": timezone.now()},
            extra={"agreement": agreement_id},
        )
        notify(party_recipients(dispute), "settled", case_context(dispute))
    return dispute


def dispute_run_action(
    *, dispute: Dispute, actor: AbstractBaseUser, action: str, data: dict[str, Any]
) -> Dispute:
    """The API's and the case page's `/actions/{action}`: one service per public action."""
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
