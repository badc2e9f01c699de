"""The one transition table of a dispute (DESIGN.md §2, CONTRACT §3). Services check every
move against it; the API's `actions` list is computed from it for each caller."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.contrib.auth.base_user import AbstractBaseUser

from odr import selectors
from odr.models import Dispute, Party

S = Dispute.Status
Who = Callable[[Dispute, AbstractBaseUser], bool]


def _applicant(dispute: Dispute, user: AbstractBaseUser) -> bool:
    party = selectors.party_of(dispute, user)
    return party is not None and party.role == Party.Role.APPLICANT


def _respondent(dispute: Dispute, user: AbstractBaseUser) -> bool:
    party = selectors.party_of(dispute, user)
    return party is not None and party.role == Party.Role.RESPONDENT


def _coordinator(dispute: Dispute, user: AbstractBaseUser) -> bool:
    return selectors.is_coordinator_of(dispute, user)


def _mediator(dispute: Dispute, user: AbstractBaseUser) -> bool:
    return selectors.is_mediator_of(dispute, user)


def _coordinator_or_mediator(dispute: Dispute, user: AbstractBaseUser) -> bool:
    return _coordinator(dispute, user) or _mediator(dispute, user)


def _system(dispute: Dispute, user: AbstractBaseUser) -> bool:
    return False


@dataclass(frozen=True)
class Transition:
    name: str
    sources: frozenset[str]
    target: str | None  # None: the status does not change (assign)
    who: Who
    public: bool = True  # offered in `actions` and at /actions/{name}


TRANSITIONS: dict[str, Transition] = {
    t.name: t
    for t in [
        Transition(
            "respond_accept", frozenset({S.FILED}), S.AWAITING_INTAKE, _respondent, public=False
        ),
        Transition("respond_decline", frozenset({S.FILED}), S.DECLINED, _respondent, public=False),
        Transition("accept", frozenset({S.AWAITING_INTAKE}), S.IN_MEDIATION, _coordinator),
        Transition("reject", frozenset({S.AWAITING_INTAKE}), S.REJECTED, _coordinator),
        Transition("assign", frozenset({S.IN_MEDIATION}), None, _coordinator),
        Transition(
            "escalate",
            frozenset({S.AWAITING_INTAKE, S.IN_MEDIATION}),
            S.AWAITING_INTAKE,
            _coordinator_or_mediator,
        ),
        Transition(
            "withdraw",
            frozenset({S.FILED, S.AWAITING_INTAKE, S.IN_MEDIATION}),
            S.WITHDRAWN,
            _applicant,
        ),
        Transition("fail", frozenset({S.IN_MEDIATION}), S.FAILED, _mediator),
        # Taken by the agreements app when every signature is on the agreement.
        Transition("settle", frozenset({S.IN_MEDIATION}), S.SETTLED, _system, public=False),
    ]
}

PUBLIC_ACTIONS = tuple(name for name, t in TRANSITIONS.items() if t.public)


def allowed_actions(dispute: Dispute, user: AbstractBaseUser) -> list[str]:
    """The public actions this user may take on this dispute now."""
    if not user.is_authenticated:
        return []
    return [
        name
        for name in PUBLIC_ACTIONS
        if dispute.status in TRANSITIONS[name].sources and TRANSITIONS[name].who(dispute, user)
    ]
