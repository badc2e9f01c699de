"""The one transition table of an agreement (CONTRACT §3). Services check every move
against it; the API's and the pages' `actions` are computed from it for each caller."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.contrib.auth.base_user import AbstractBaseUser
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from agreements import selectors
from agreements.models import Agreement, Signature
from odr.lifecycle import Words, register_events
from odr.models import Dispute

S = Agreement.Status
Who = Callable[[Agreement, AbstractBaseUser], bool]


def _mediator(agreement: Agreement, user: AbstractBaseUser) -> bool:
    return user.is_authenticated and agreement.dispute.mediator_id == user.pk


def _signer(agreement: Agreement, user: AbstractBaseUser) -> bool:
    return selectors.signer_role(agreement, user) is not None


@dataclass(frozen=True)
class Transition:
    name: str
    sources: frozenset[str]
    target: str | None  # None: the status does not change by itself (edit, sign)
    who: Who
    via_actions: bool = True  # reachable at /actions/{name} (sign has its own endpoint)


TRANSITIONS: dict[str, Transition] = {
    t.name: t
    for t in [
        Transition("edit", frozenset({S.DRAFT}), None, _mediator, via_actions=False),
        Transition("open", frozenset({S.DRAFT}), S.SIGNING, _mediator),
        Transition("revise", frozenset({S.SIGNING}), S.DRAFT, _mediator),
        # The last signature (the mediator's) takes the agreement to `signed`.
        Transition("sign", frozenset({S.SIGNING}), None, _signer, via_actions=False),
    ]
}
ACTION_NAMES = tuple(name for name, t in TRANSITIONS.items() if t.via_actions)


def sign_refusal(agreement: Agreement, user: AbstractBaseUser) -> tuple[str, str] | None:
    """Why this signer cannot sign now (code, message), or None. Called with the row
    locked at signing time, so that two racing signers see each other."""
    role = selectors.signer_role(agreement, user)
    done = selectors.signed_roles(agreement)
    if role in done:
        return "already_signed", _("You have already signed this version of the agreement.")
    if role == Signature.Role.MEDIATOR and not set(selectors.PARTY_ROLES) <= done:
        return "parties_sign_first", _(
            "Both parties must sign before the mediator: the mediator signs last."
        )
    return None


def refusal(name: str, agreement: Agreement, user: AbstractBaseUser) -> tuple[int, str, str] | None:
    """(HTTP status, code, message) when the table refuses this move now: 403 when the
    user may never take it, 409 when the agreement's or the case's state forbids it."""
    transition = TRANSITIONS[name]
    if not transition.who(agreement, user):
        return 403, "action_not_allowed", _("You may not do this on this agreement.")
    if agreement.status not in transition.sources:
        return (
            409,
            "invalid_status",
            _("This cannot be done while the agreement is “%(status)s”.")
            % {"status": agreement.get_status_display()},
        )
    if agreement.dispute.status != Dispute.Status.IN_MEDIATION:
        return (
            409,
            "case_not_in_mediation",
            _("The case is no longer in mediation: the agreement cannot change."),
        )
    if name == "sign":
        why = sign_refusal(agreement, user)
        if why:
            return 409, *why
    return None


def allowed_actions(agreement: Agreement, user: AbstractBaseUser) -> list[str]:
    """Every move this user may make on this agreement now, in table order."""
    if not user.is_authenticated:
        return []
    return [name for name in TRANSITIONS if refusal(name, agreement, user) is None]


# The audit actions of agreements, judicial confirmation and performance, and their words.
register_events(
    {
        "agreement.create": Words(
            "起草调解协议", gettext_noop("%(actor)s drafted the settlement agreement.")
        ),
        "agreement.save": Words("保存协议草稿"),
        "agreement.open": Words(
            "协议开放签署", gettext_noop("%(actor)s opened the agreement for signing.")
        ),
        "agreement.revise": Words(
            "修改协议（已有签名作废）",
            gettext_noop("%(actor)s took the agreement back for changes."),
        ),
        "agreement.sign": Words(
            "签署协议", gettext_noop("%(actor)s signed the settlement agreement.")
        ),
        "agreement.in_force": Words(
            "协议签署完成并生效", gettext_noop("The settlement agreement is in force.")
        ),
        "confirmation.consent": Words(
            "同意申请司法确认", gettext_noop("%(actor)s asked for judicial confirmation.")
        ),
        "confirmation.submit": Words(
            "提交司法确认申请",
            gettext_noop("The request for judicial confirmation went to the court."),
        ),
        "confirmation.accept": Words(
            "法院受理", gettext_noop("The court accepted the request for confirmation.")
        ),
        "confirmation.extend": Words(
            "延长审查期限", gettext_noop("The court extended its review period.")
        ),
        "confirmation.decide": Words(
            "法院作出裁定", gettext_noop("The court decided on the judicial confirmation.")
        ),
        "performance.schedule": Words(
            "登记履行事项", gettext_noop("The platform listed the obligations to perform.")
        ),
        # Until the reminders keep what they sent in columns of their own.
        "confirmation.window_reminder.7": Words("提醒申请司法确认期限"),
        "confirmation.window_reminder.1": Words("提醒申请司法确认期限"),
        "performance.done": Words(
            "确认已履行", gettext_noop("%(actor)s confirmed that an obligation was performed.")
        ),
    }
)
