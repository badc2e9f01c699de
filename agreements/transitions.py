"""The agreement's state machine (CONTRACT §3), declared with the lifecycle kernel
(odr.lifecycle): agreements.services moves an agreement only through `MACHINE.apply`;
the API's and the pages' `actions` are computed from the same table for each caller.

draft → signing (`open`, the mediator: the terms and every party's identity record are
frozen), signing → draft (`revise`,
the mediator: the signatures given so far are voided), and signing → signed when the last
signature is in (`in_force`, taken by the platform). `edit` and `sign` change no status
but are checked, locked and audited the same way. Nothing about an agreement may change
once its case has left mediation."""

from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from agreements import selectors
from agreements.models import Agreement, Signature
from odr.lifecycle import Machine, Refusal, Transition, Words, register_events
from odr.models import Dispute

S = Agreement.Status


def _mediator(agreement: Agreement, user: AbstractBaseUser) -> bool:
    return user.is_authenticated and agreement.dispute.mediator_id == user.pk


def _signer(agreement: Agreement, user: AbstractBaseUser) -> bool:
    return selectors.signer_role(agreement, user) is not None


def _nobody(agreement: Agreement, user: AbstractBaseUser) -> bool:
    return False


def sign_refusal(
    agreement: Agreement, user: AbstractBaseUser, cache: dict | None = None
) -> Refusal | None:
    """Why this signer cannot sign now, or None. Checked again with the row locked at
    signing time, so that two racing signers see each other. Every party who has not
    declined to mediate signs (each applicant and each respondent), the mediator last."""
    key = selectors.signer_key(agreement, user)
    everyone = selectors.signers(agreement)
    if any(s.key == key and s.signed for s in everyone):
        return Refusal(
            409, "already_signed", _("You have already signed this version of the agreement.")
        )
    if key == Signature.Role.MEDIATOR:
        waiting = [s.name for s in everyone if s.role != Signature.Role.MEDIATOR and not s.signed]
        if waiting:
            return Refusal(
                409,
                "parties_sign_first",
                _("Every party must sign first: the mediator signs last. Still to sign: %(names)s.")
                % {"names": "、".join(waiting)},
            )
    return None


def _every_signature_in(agreement: Agreement, viewer: object, cache: dict) -> Refusal | None:
    # The platform puts the agreement in force only once every party and the mediator
    # have signed this version (People's Mediation Law Art. 29).
    if selectors.everyone_signed(agreement):
        return None
    return Refusal(409, "signatures_missing", _("Not everyone has signed the agreement yet."))


def _case_in_mediation(
    agreement: Agreement, transition: Transition, viewer: object, cache: dict
) -> Refusal | None:
    if agreement.dispute.status == Dispute.Status.IN_MEDIATION:
        return None
    return Refusal(
        409,
        "case_not_in_mediation",
        _("The case is no longer in mediation: the agreement cannot change."),
    )


def _state_refusal(agreement: Agreement) -> str:
    return _("This cannot be done while the agreement is “%(status)s”.") % {
        "status": agreement.get_status_display()
    }


def _snapshot(agreement: Agreement) -> dict:
    return {"status": agreement.status, "version": agreement.version}


def _lock(agreement: Agreement) -> Agreement:
    # The dispute comes with the row: every check reads its status and mediator. `of`
    # locks the agreement only (PostgreSQL refuses FOR UPDATE on the nullable side of the
    # organisation's outer join).
    return (
        Agreement.objects.select_related("dispute", "dispute__organisation")
        .select_for_update(of=("self",))
        .get(pk=agreement.pk)
    )


MACHINE: Machine[Agreement] = Machine(
    name="agreement",
    model=Agreement,
    snapshot=_snapshot,
    dispute_of=lambda agreement: agreement.dispute,
    state_refusal=_state_refusal,
    guard=_case_in_mediation,
    lock=_lock,
    transitions=[
        Transition(
            "edit",
            frozenset({S.DRAFT}),
            None,
            _mediator,
            action="agreement.save",
            words=Words("保存协议草稿"),
        ),
        Transition(
            "open",
            frozenset({S.DRAFT}),
            S.SIGNING,
            _mediator,
            action="agreement.open",
            words=Words(
                "协议开放签署", gettext_noop("%(actor)s opened the agreement for signing.")
            ),
        ),
        Transition(
            "revise",
            frozenset({S.SIGNING}),
            S.DRAFT,
            _mediator,
            action="agreement.revise",
            words=Words(
                "修改协议（已有签名作废）",
                gettext_noop("%(actor)s took the agreement back for changes."),
            ),
        ),
        # Each party, then the mediator last; offered in `actions` (the page's button),
        # taken at its own endpoint.
        Transition(
            "sign",
            frozenset({S.SIGNING}),
            None,
            _signer,
            action="agreement.sign",
            words=Words("签署协议", gettext_noop("%(actor)s signed the settlement agreement.")),
            guard=sign_refusal,
        ),
        # The last signature (the mediator's) is in: the platform seals the PDF and puts
        # the agreement in force in the same transaction.
        Transition(
            "in_force",
            frozenset({S.SIGNING}),
            S.SIGNED,
            _nobody,
            action="agreement.in_force",
            words=Words(
                "协议签署完成并生效", gettext_noop("The settlement agreement is in force.")
            ),
            public=False,
            system=True,
            guard=_every_signature_in,
        ),
    ],
)

# The agreements app's audit actions that are not status changes of an agreement.
register_events(
    {
        "agreement.create": Words(
            "起草调解协议", gettext_noop("%(actor)s drafted the settlement agreement.")
        ),
    }
)


def refusal(name: str, agreement: Agreement, user: AbstractBaseUser) -> Refusal | None:
    """Why the table refuses this move to this user now (403 when they may never take
    it, 409 when the agreement's or the case's state forbids it), or None."""
    return MACHINE.refusal(name, agreement, user)


def allowed_actions(agreement: Agreement, user: AbstractBaseUser) -> list[str]:
    """Every move this user may make on this agreement now, in table order: exactly what
    the services accept."""
    return MACHINE.actions(agreement, user)
