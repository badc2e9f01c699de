"""The one transition table of a dispute (DESIGN.md §2, CONTRACT §3). Services check every
move against it; the API's `actions` list is computed from it for each caller."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.contrib.auth.base_user import AbstractBaseUser

from odr import selectors
from odr.models import Dispute, Membership, Party

S = Dispute.Status
Who = Callable[[Dispute, "Viewer"], bool]


@dataclass(frozen=True)
class Viewer:
    """Who is asking, read once: the list endpoint asks `who` of every action for every
    dispute, and must not query the memberships each time."""

    user_id: int | None
    coordinator_orgs: frozenset[int]
    mediator_orgs: frozenset[int]

    @classmethod
    def of(cls, user: AbstractBaseUser) -> Viewer:
        if not user.is_authenticated:
            return cls(None, frozenset(), frozenset())
        by_role = selectors.user_org_ids_by_role(user)
        return cls(
            user.pk,
            frozenset(by_role.get(Membership.Role.COORDINATOR, ())),
            frozenset(by_role.get(Membership.Role.MEDIATOR, ())),
        )


def _party_role(dispute: Dispute, viewer: Viewer) -> str | None:
    if viewer.user_id is None:
        return None
    return next((p.role for p in dispute.parties.all() if p.user_id == viewer.user_id), None)


def _applicant(dispute: Dispute, viewer: Viewer) -> bool:
    return _party_role(dispute, viewer) == Party.Role.APPLICANT


def _respondent(dispute: Dispute, viewer: Viewer) -> bool:
    return _party_role(dispute, viewer) == Party.Role.RESPONDENT


def _coordinator(dispute: Dispute, viewer: Viewer) -> bool:
    return (
        dispute.organisation_id is not None and dispute.organisation_id in viewer.coordinator_orgs
    )


def _mediator(dispute: Dispute, viewer: Viewer) -> bool:
    return viewer.user_id is not None and dispute.mediator_id == viewer.user_id


def _coordinator_or_mediator(dispute: Dispute, viewer: Viewer) -> bool:
    return _coordinator(dispute, viewer) or _mediator(dispute, viewer)


def _system(dispute: Dispute, viewer: Viewer) -> bool:
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


def allowed_actions(
    dispute: Dispute,
    user: AbstractBaseUser,
    *,
    viewer: Viewer | None = None,
    cache: dict | None = None,
) -> list[str]:
    """The public actions this user may take on this dispute now: exactly what the
    services would allow, so a client never draws a button that can only fail
    (escalate needs an organisation above; assign needs another mediator to give the
    case to). `viewer` and `cache` let a list compute this without a query per dispute."""
    if not user.is_authenticated:
        return []
    viewer = viewer or Viewer.of(user)
    cache = {} if cache is None else cache
    names = [
        name
        for name in PUBLIC_ACTIONS
        if dispute.status in TRANSITIONS[name].sources and TRANSITIONS[name].who(dispute, viewer)
    ]
    if "escalate" in names and not _has_organisation_above(dispute, cache):
        names.remove("escalate")
    if "assign" in names and not _mediator_ids(dispute, cache) - {dispute.mediator_id}:
        names.remove("assign")
    return names


def _has_organisation_above(dispute: Dispute, cache: dict) -> bool:
    if dispute.organisation_id is None:
        return False
    key = ("above", dispute.organisation_id, dispute.category)
    if key not in cache:
        above = selectors.organisation_above(dispute.organisation, dispute.category)
        cache[key] = above is not None
    return cache[key]


def _mediator_ids(dispute: Dispute, cache: dict) -> set[int]:
    """The active mediators of the dispute's organisation (who `assign` may choose)."""
    if dispute.organisation_id is None:
        return set()
    key = ("mediators", dispute.organisation_id)
    if key not in cache:
        cache[key] = set(
            Membership.objects.filter(
                organisation_id=dispute.organisation_id,
                role=Membership.Role.MEDIATOR,
                is_active=True,
                user__is_active=True,
            ).values_list("user_id", flat=True)
        )
    return cache[key]
