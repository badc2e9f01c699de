"""The dispute's state machine (DESIGN.md §2, CONTRACT §3), declared with the lifecycle
kernel: odr.services moves a dispute only through `MACHINE.apply`; the API's `actions`
list is computed from the same table for each caller."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.contrib.auth.base_user import AbstractBaseUser
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from odr import selectors
from odr.lifecycle import Machine, Refusal, Transition, Words, register_events
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
    reception_orgs: frozenset[int] = frozenset()

    @classmethod
    def of(cls, user: AbstractBaseUser, by_role: dict[str, set[int]] | None = None) -> Viewer:
        """`by_role`: the user's organisations by role, when the caller read them."""
        if not user.is_authenticated:
            return cls(None, frozenset(), frozenset())
        if by_role is None:
            by_role = selectors.user_org_ids_by_role(user)
        return cls(
            user.pk,
            frozenset(by_role.get(Membership.Role.COORDINATOR, ())),
            frozenset(by_role.get(Membership.Role.MEDIATOR, ())),
            frozenset(by_role.get(Membership.Role.RECEPTION, ())),
        )


def _party_role(dispute: Dispute, viewer: Viewer) -> str | None:
    if viewer.user_id is None:
        return None
    return next((p.role for p in dispute.parties.all() if p.user_id == viewer.user_id), None)


def _applicant(dispute: Dispute, viewer: Viewer) -> bool:
    return _party_role(dispute, viewer) == Party.Role.APPLICANT


def _invited(dispute: Dispute, viewer: Viewer) -> bool:
    """An invited party answering: a party of the case who is not its filer (a
    respondent or a co-applicant)."""
    return _party_role(dispute, viewer) is not None and viewer.user_id != dispute.filed_by_id


# Conflict of interest (回避; People's Mediation Law Art. 22: the mediator helps the parties
# settle on an equal footing, so no one decides a case they are a party to). A member of
# the organisation that handles a case may still be a party to it: they may have filed it
# (the filing is kept: they have the same right as anyone to mediation), or the case may
# have been escalated to their organisation. Then they act on it as a party only: none of
# the organisation's moves (intake, assignment, escalation, closing) is theirs, and they
# are never its mediator (odr.services.intake refuses them as one).


def _coordinator(dispute: Dispute, viewer: Viewer) -> bool:
    return (
        dispute.organisation_id is not None
        and dispute.organisation_id in viewer.coordinator_orgs
        and _party_role(dispute, viewer) is None
    )


def _mediator(dispute: Dispute, viewer: Viewer) -> bool:
    return (
        viewer.user_id is not None
        and dispute.mediator_id == viewer.user_id
        and _party_role(dispute, viewer) is None
    )


def _window_staff(dispute: Dispute, viewer: Viewer) -> bool:
    """The centre's reception or its coordinator moves a case between its windows (issue
    10): never a party to it (回避, as above)."""
    return (
        dispute.organisation_id is not None
        and dispute.organisation_id in (viewer.reception_orgs | viewer.coordinator_orgs)
        and _party_role(dispute, viewer) is None
    )


def _coordinator_or_mediator(dispute: Dispute, viewer: Viewer) -> bool:
    return _coordinator(dispute, viewer) or _mediator(dispute, viewer)


def _nobody(dispute: Dispute, viewer: Viewer) -> bool:
    return False


def _escalation_possible(dispute: Dispute, viewer: Viewer, cache: dict) -> Refusal | None:
    if _has_organisation_above(dispute, cache):
        return None
    return Refusal(
        409,
        "no_organisation_above",
        _("There is no organisation above this one to take the case."),
    )


def _another_mediator(dispute: Dispute, cache: dict) -> bool:
    """Someone to give the case to: a mediator of the organisation other than the one who
    has it and not a party to it."""
    parties = {p.user_id for p in dispute.parties.all() if p.user_id is not None}
    return bool(_mediator_ids(dispute, cache) - {dispute.mediator_id} - parties)


def _state_refusal(dispute: Dispute) -> str:
    return _("This cannot be done while the case is “%(status)s”.") % {
        "status": dispute.get_status_display()
    }


def _snapshot(dispute: Dispute) -> dict:
    return {
        "status": dispute.status,
        "organisation": dispute.organisation_id,
        "mediator": dispute.mediator_id,
    }


OPEN = frozenset({S.FILED, S.AWAITING_INTAKE, S.IN_MEDIATION})

MACHINE: Machine[Dispute] = Machine(
    name="dispute",
    model=Dispute,
    snapshot=_snapshot,
    dispute_of=lambda dispute: dispute,
    state_refusal=_state_refusal,
    viewer_of=Viewer.of,
    transitions=[
        # The invited parties' answers (each respondent and each co-applicant has its own
        # invitation; odr.services.invitations). One audit event per answer; which move it
        # is depends on what the answer leaves: the last answer, with a respondent who
        # agreed, sends the case to intake; the refusal of the last respondent who had not
        # refused closes it; any other answer leaves it waiting for the rest.
        Transition(
            "respond_accept",
            frozenset({S.FILED}),
            S.AWAITING_INTAKE,
            _invited,
            action="dispute.respond_accept",
            words=Words("当事人同意调解", gettext_noop("%(actor)s agreed to online mediation.")),
            public=False,
        ),
        Transition(
            "respond_decline",
            frozenset({S.FILED}),
            S.DECLINED,
            _invited,
            action="dispute.respond_decline",
            words=Words(
                "被申请人拒绝调解", gettext_noop("%(actor)s declined mediation: %(reason)s")
            ),
            public=False,
        ),
        Transition(
            "party_accept",
            frozenset({S.FILED}),
            None,
            _invited,
            action="dispute.party_accept",
            words=Words(
                "当事人同意调解",
                gettext_noop(
                    "%(actor)s agreed to online mediation; the other parties invited have yet "
                    "to answer."
                ),
            ),
            public=False,
        ),
        Transition(
            "party_decline",
            frozenset({S.FILED}),
            None,
            _invited,
            action="dispute.party_decline",
            words=Words(
                "当事人拒绝调解",
                gettext_noop(
                    "%(actor)s declined mediation and is no longer a party to it: %(reason)s"
                ),
            ),
            public=False,
        ),
        Transition(
            "party_decline_last",
            frozenset({S.FILED}),
            S.AWAITING_INTAKE,
            _invited,
            action="dispute.party_decline_last",
            words=Words(
                "当事人拒绝调解，其余当事人同意调解",
                gettext_noop(
                    "%(actor)s declined mediation: %(reason)s The case goes on between the "
                    "parties who agreed."
                ),
            ),
            public=False,
        ),
        Transition(
            "accept",
            frozenset({S.AWAITING_INTAKE}),
            S.IN_MEDIATION,
            _coordinator,
            action="dispute.accept",
            words=Words(
                "受理并指派调解员",
                gettext_noop("%(actor)s accepted the case for mediator %(mediator)s."),
            ),
        ),
        Transition(
            "reject",
            frozenset({S.AWAITING_INTAKE}),
            S.REJECTED,
            _coordinator,
            action="dispute.reject",
            words=Words("不予受理", gettext_noop("%(actor)s refused the case: %(reason)s")),
        ),
        Transition(
            "assign",
            frozenset({S.IN_MEDIATION}),
            None,
            _coordinator,
            action="dispute.assign",
            words=Words(
                "指派调解员", gettext_noop("%(actor)s gave the case to mediator %(mediator)s.")
            ),
            offer_if=_another_mediator,
        ),
        Transition(
            "escalate",
            frozenset({S.AWAITING_INTAKE, S.IN_MEDIATION}),
            S.AWAITING_INTAKE,
            _coordinator_or_mediator,
            action="dispute.escalate",
            words=Words(
                "移交上级调解组织",
                gettext_noop("%(actor)s sent the case up to %(organisation)s: %(reason)s"),
            ),
            guard=_escalation_possible,
        ),
        Transition(
            "withdraw",
            OPEN,
            S.WITHDRAWN,
            _applicant,
            action="dispute.withdraw",
            words=Words("撤回申请", gettext_noop("%(actor)s withdrew the dispute.")),
        ),
        Transition(
            "fail",
            frozenset({S.IN_MEDIATION}),
            S.FAILED,
            _mediator,
            action="dispute.fail",
            words=Words(
                "调解终结",
                gettext_noop("%(actor)s ended the mediation without agreement: %(reason)s"),
            ),
        ),
        # A one-stop centre's case moves between its stationed bodies (窗口) as one record:
        # the same number and timeline, never re-filed (issue 10). Its own endpoint (it
        # needs the window), so not in `actions`.
        Transition(
            "handoff",
            OPEN,
            None,
            _window_staff,
            action="dispute.handoff",
            words=Words(
                "移交窗口", gettext_noop("%(actor)s handed the case to the window %(window)s.")
            ),
            public=False,
        ),
        # A possible duplicate (odr.services.duplicates) merged into the open case it
        # repeats: this record closes, pointing to the one that goes on.
        Transition(
            "merge",
            OPEN,
            S.WITHDRAWN,
            _coordinator,
            action="dispute.merge",
            words=Words(
                "并案处理",
                gettext_noop("%(actor)s merged this case into %(original)s."),
            ),
            public=False,
        ),
        # Taken by the platform when every signature is on the agreement (the agreements
        # app listens to its own agreement's transition and settles the case).
        Transition(
            "settle",
            frozenset({S.IN_MEDIATION}),
            S.SETTLED,
            _nobody,
            action="dispute.settle",
            words=Words(
                "达成调解协议",
                gettext_noop("The settlement agreement took effect: the case is settled."),
            ),
            public=False,
            system=True,
        ),
    ],
)

PUBLIC_ACTIONS = MACHINE.public_names

# odr's audit actions that are not status changes.
register_events(
    {
        "dispute.file": Words("提交调解申请", gettext_noop("%(actor)s filed the dispute.")),
        "evidence.add": Words("提交证据", gettext_noop("%(actor)s added evidence “%(filename)s”.")),
        "message.post": Words("发送留言", gettext_noop("%(actor)s wrote a message.")),
        "invitation.resend": Words(
            "重新发送邀请", gettext_noop("%(actor)s sent the other side a new invitation.")
        ),
        "invitation.remind": Words(
            "提醒被申请人答复", gettext_noop("A reminder was sent to the other side.")
        ),
        "dispute.deadline_remind": Words(
            "提醒调解期限", gettext_noop("The mediator was reminded of the deadline.")
        ),
        "profile.update": Words("更新个人信息"),
        "visit.register": Words("来访登记"),
        "grid_report.submit": Words("网格员上报"),
        "duplicate.link": Words(
            "疑似重复案件", gettext_noop("Possibly the same matter as case %(original)s.")
        ),
        "duplicate.keep_apart": Words(
            "确认非重复案件",
            gettext_noop("%(actor)s kept this case apart from case %(original)s."),
        ),
    }
)


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
    return MACHINE.actions(dispute, user, viewer=viewer, cache=cache)


def _has_organisation_above(dispute: Dispute, cache: dict) -> bool:
    if dispute.organisation_id is None:
        return False
    key = ("above", dispute.organisation_id, dispute.category)
    if key not in cache:
        # The organisation's chain of regions is read once, whatever the categories.
        # The organisation's chain of regions and the handlers along it are read once,
        # whatever the categories: a page costs the same queries however many it shows.
        chain_key = ("region_chain", dispute.organisation_id)
        if chain_key not in cache:
            chain = selectors.region_chain(dispute.organisation.region_id)
            cache[chain_key] = (chain, selectors.handlers_in(chain))
        chain, candidates = cache[chain_key]
        above = selectors.organisation_above(
            dispute.organisation, dispute.category, chain=chain, candidates=candidates
        )
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


# --- the 12345 hotline ticket (issue 10) ---------------------------------------------------

from odr.models import HotlineTicket  # noqa: E402

T = HotlineTicket.Status


def _ticket_staff(ticket: HotlineTicket, viewer: Viewer) -> bool:
    """The staff of the organisation that has the ticket's case (its coordinators and
    mediators), unless they are a party to it."""
    dispute = ticket.dispute
    org = dispute.organisation_id
    return (
        org is not None
        and (org in viewer.coordinator_orgs or org in viewer.mediator_orgs)
        and _party_role(dispute, viewer) is None
    )


def _ticket_snapshot(ticket: HotlineTicket) -> dict:
    return {
        "status": ticket.status,
        "ticket_id": ticket.ticket_id,
        "responded_at": ticket.responded_at.isoformat() if ticket.responded_at else None,
        "closed_at": ticket.closed_at.isoformat() if ticket.closed_at else None,
    }


def _ticket_state_refusal(ticket: HotlineTicket) -> str:
    return _("This cannot be done while the hotline ticket is “%(status)s”.") % {
        "status": ticket.get_status_display()
    }


TICKET_MACHINE: Machine[HotlineTicket] = Machine(
    name="hotline_ticket",
    model=HotlineTicket,
    snapshot=_ticket_snapshot,
    dispute_of=lambda ticket: ticket.dispute,
    state_refusal=_ticket_state_refusal,
    viewer_of=Viewer.of,
    forbidden=(
        "not_ticket_staff",
        gettext_noop("Only the staff of the organisation handling the case can do this."),
    ),
    transitions=[
        # First contact with the caller (响应): what the response rate counts.
        Transition(
            "respond",
            frozenset({T.OPEN}),
            T.RESPONDED,
            _ticket_staff,
            action="hotline.respond",
            words=Words(
                "热线工单首次联系来电人",
                gettext_noop("%(actor)s made first contact with the 12345 caller."),
            ),
        ),
        # Closed by staff, or by the platform when the case ends (settled: resolved; any
        # other end: not resolved).
        Transition(
            "resolve",
            frozenset({T.OPEN, T.RESPONDED}),
            T.RESOLVED,
            _ticket_staff,
            action="hotline.resolve",
            words=Words(
                "热线工单办结（已解决）",
                gettext_noop("The 12345 ticket was closed as resolved."),
            ),
            system=True,
        ),
        Transition(
            "close_unresolved",
            frozenset({T.OPEN, T.RESPONDED}),
            T.UNRESOLVED,
            _ticket_staff,
            action="hotline.close_unresolved",
            words=Words(
                "热线工单办结（未解决）",
                gettext_noop("The 12345 ticket was closed as not resolved: %(reason)s"),
            ),
            system=True,
        ),
    ],
)

register_events(
    {
        "hotline.receive": Words(
            "12345热线工单转入", gettext_noop("The case came in as 12345 hotline ticket.")
        ),
        "hotline.survey": Words("来电人评价", gettext_noop("The caller answered the survey.")),
    }
)
