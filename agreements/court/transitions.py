"""The judicial confirmation request's state machine (CONTRACT §3, DESIGN.md §3), declared
with the lifecycle kernel: agreements.court.services moves a request only through
`MACHINE.apply`; the API's and the portal's `actions` are computed from the same table.

awaiting_consent: a party applied (`consent`, one ConfirmationConsent per party); when
every party who signed the agreement has applied it is their joint application and goes
to the court (`submit`, pending). In the court each person has
their act (DESIGN.md §3): a clerk (书记员) of that court dockets it under the court's own
case number (`accept`, accepted: the period to rule starts) and may extend that period
once (`extend`); a judge (审判员) of that court rules on an accepted request (`decide`:
confirmed or rejected) or, before it is docketed, refuses it (`not_accept`, not_accepted,
不予受理, with its own ruling). A clerk does not rule and a judge does not docket.

Also declared here: the audit actions of performance and of the reminders, which change
no status."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop

from agreements.content_check import confirmation_bar
from agreements.court import deadlines
from agreements.court import selectors as court_selectors
from agreements.models import Agreement, ConfirmationRequest
from odr.errors import DomainError
from odr.lifecycle import Machine, Refusal, Transition, Words, register_events
from odr.models import Dispute, Membership, Party

CR = ConfirmationRequest.Status
# The first applicant's and the first respondent's application also fill these columns (kept
# for what still reads them); every party's is a ConfirmationConsent.
CONSENT_FIELDS = {
    Party.Role.APPLICANT: "applicant_consented_at",
    Party.Role.RESPONDENT: "respondent_consented_at",
}


@dataclass(frozen=True)
class Viewer:
    """Who is asking, read once: the court's queue asks `who` of every action for every
    request, and must not read the caller's courts each time. The courts where the user
    is a clerk and those where they are a judge are apart: each role has its own acts."""

    user: AbstractBaseUser
    clerk_of: frozenset[int]
    judge_of: frozenset[int]

    @classmethod
    def of(cls, user: AbstractBaseUser) -> Viewer:
        if not user.is_authenticated:
            return cls(user, frozenset(), frozenset())
        roles = court_selectors.court_roles_of(user)
        return cls(
            user,
            frozenset(roles.get(Membership.Role.CLERK, ())),
            frozenset(roles.get(Membership.Role.JUDGE, ())),
        )


def _party(request: ConfirmationRequest, viewer: Viewer) -> bool:
    """A party to the agreement, or the agent with special authorisation of one."""
    return bool(court_selectors.parties_acting_for(request.agreement, viewer.user))


def _clerk(request: ConfirmationRequest, viewer: Viewer) -> bool:
    """A clerk of the court the request was sent to: dockets and keeps the record."""
    return request.court_id in viewer.clerk_of


def _judge(request: ConfirmationRequest, viewer: Viewer) -> bool:
    """A judge of the court the request was sent to: one judge sits alone and rules."""
    return request.court_id in viewer.judge_of


def consent_missing(request: ConfirmationRequest, user: AbstractBaseUser) -> bool:
    """True when `user` applies for a party (their own, or as special agent) whose
    application this request still lacks."""
    parties = court_selectors.parties_acting_for(request.agreement, user)
    if not parties:
        return False
    done = court_selectors.consents_of(request)
    return any(p.pk not in done for p in parties)


def window_closed(agreement: Agreement) -> Refusal:
    """The 30 days to apply have passed (People's Mediation Law Art. 33)."""
    closes = deadlines.confirmation_window_closes(agreement.effective_at)
    return Refusal(
        409,
        "confirmation_window_closed",
        _(
            "Judicial confirmation had to be applied for within %(days)d days of the "
            "agreement taking effect (a last day on a rest day or holiday moves to the next "
            "working day); that period ended on %(date)s. The agreement stays binding: if "
            "it is not performed, you can sue on it at the people's court."
        )
        % {
            "days": settings.ODR_CONFIRMATION_WINDOW_DAYS,
            "date": timezone.localtime(closes).strftime("%Y-%m-%d"),
        },
    )


def not_confirmable(reason: str) -> Refusal:
    """A matter of SPC interpretation of the CPL Art. 355: no court accepts it."""
    return Refusal(422, "not_confirmable", reason)


def _may_consent(request: ConfirmationRequest, viewer: Viewer, cache: dict) -> Refusal | None:
    bar = confirmation_bar(request.agreement)
    if bar:
        return not_confirmable(bar)
    try:
        window = court_selectors.confirmation_window(request.agreement)
        if window is None or not window.is_open:
            return window_closed(request.agreement)
    except DomainError as exc:  # the calendar does not reach the window's end (503)
        return Refusal(exc.status, exc.code, exc.message)
    if not consent_missing(request, viewer.user):
        return Refusal(
            409, "already_applied", _("You have already applied for judicial confirmation.")
        )
    return None


def _both_consented(request: ConfirmationRequest, viewer: object, cache: dict) -> Refusal | None:
    """Every party who signed the agreement has applied (each with their own act)."""
    if not court_selectors.missing_parties(request):
        return None
    return Refusal(
        409,
        "consent_missing",
        _("Every party must apply before the application goes to the court."),
    )


def _accepted_not_extended(
    request: ConfirmationRequest, viewer: object, cache: dict
) -> Refusal | None:
    # The period to rule may be extended once, by 10 days (DESIGN.md §3); it runs from
    # acceptance, which the transition's source (accepted) already asks.
    if request.rule_extended_at is not None:
        return Refusal(409, "already_extended", _("The period to rule can be extended only once."))
    return None


# A clerk asking to rule answers 403 (CONTRACT §3).
JUDGE_ONLY = ("judge_only", gettext_lazy("Only a judge of this court rules on an application."))


def _state_refusal(request: ConfirmationRequest) -> str:
    return _("This cannot be done while the request is “%(status)s”.") % {
        "status": request.get_status_display()
    }


def _snapshot(request: ConfirmationRequest) -> dict:
    return {
        "status": request.status,
        "court": request.court_id,
        "case_number": request.case_number,
        "accept_deadline": request.accept_deadline,
        "accepted_at": request.accepted_at,
        "accepted_by": request.accepted_by_id,
        "rule_deadline": request.rule_deadline,
        "decided_by": request.decided_by_id,
    }


def _lock(request: ConfirmationRequest) -> ConfirmationRequest:
    locked = (
        ConfirmationRequest.objects.select_for_update()
        .select_related("court", "agreement", "agreement__dispute")
        .get(pk=request.pk)
    )
    # The parties are read by every check (who is a party, whose consent is missing).
    locked.agreement.dispute = (
        Dispute.objects.prefetch_related("parties")
        .select_related("organisation")
        .get(pk=locked.agreement.dispute_id)
    )
    return locked


MACHINE: Machine[ConfirmationRequest] = Machine(
    name="confirmation",
    model=ConfirmationRequest,
    snapshot=_snapshot,
    dispute_of=lambda request: request.agreement.dispute,
    state_refusal=_state_refusal,
    viewer_of=Viewer.of,
    lock=_lock,
    transitions=[
        # Each party applies (the first makes the request); the last one's submits it.
        Transition(
            "consent",
            frozenset({CR.AWAITING_CONSENT}),
            None,
            _party,
            action="confirmation.consent",
            words=Words(
                "同意申请司法确认", gettext_noop("%(actor)s asked for judicial confirmation.")
            ),
            guard=_may_consent,
        ),
        Transition(
            "submit",
            frozenset({CR.AWAITING_CONSENT}),
            CR.PENDING,
            _party,
            action="confirmation.submit",
            words=Words(
                "提交司法确认申请",
                gettext_noop("The request for judicial confirmation went to the court."),
            ),
            public=False,
            guard=_both_consented,
        ),
        # The clerk dockets it under the court's own number (CONTRACT §3).
        Transition(
            "accept",
            frozenset({CR.PENDING}),
            CR.ACCEPTED,
            _clerk,
            action="confirmation.accept",
            words=Words(
                "法院受理", gettext_noop("The court accepted the request for confirmation.")
            ),
            forbidden=(
                "clerk_only",
                gettext_lazy("Only a clerk of this court dockets an application."),
            ),
        ),
        # The period to rule, once. The court president's approval of an extension
        # (DESIGN.md §3) is issue 8; until then the clerk who keeps the record extends.
        Transition(
            "extend",
            frozenset({CR.ACCEPTED}),
            None,
            _clerk,
            action="confirmation.extend",
            words=Words("延长审查期限", gettext_noop("The court extended its review period.")),
            guard=_accepted_not_extended,
            forbidden=(
                "clerk_only",
                gettext_lazy("Only a clerk of this court extends the period to rule."),
            ),
        ),
        # The ruling chooses the target (confirmed or rejected): the service sets it.
        Transition(
            "decide",
            frozenset({CR.ACCEPTED}),
            None,
            _judge,
            action="confirmation.decide",
            words=Words(
                "法院作出裁定", gettext_noop("The court decided on the judicial confirmation.")
            ),
            forbidden=JUDGE_ONLY,
            wrong_status=gettext_lazy(
                "The court rules once, on an application a clerk has docketed; before "
                "docketing a judge may only refuse to accept it."
            ),
        ),
        # 不予受理 (SPC interpretation of the CPL, Art. 355): before docketing, with its own
        # ruling; not "accept, then reject".
        Transition(
            "not_accept",
            frozenset({CR.PENDING}),
            CR.NOT_ACCEPTED,
            _judge,
            action="confirmation.not_accept",
            words=Words(
                "法院裁定不予受理",
                gettext_noop("The court did not accept the request for confirmation: %(reason)s"),
            ),
            forbidden=JUDGE_ONLY,
            wrong_status=gettext_lazy(
                "Only an application still waiting to be docketed can be refused; a docketed "
                "one is confirmed or rejected."
            ),
        ),
    ],
)

# What the judge's decision may be, and the transition each takes.
DECISIONS = {CR.CONFIRMED: "decide", CR.REJECTED: "decide", CR.NOT_ACCEPTED: "not_accept"}

# Audit actions of performance and of the reminders: writes that change no status.
register_events(
    {
        "performance.schedule": Words(
            "登记履行事项", gettext_noop("The platform listed the obligations to perform.")
        ),
        "performance.done": Words(
            "确认已履行", gettext_noop("%(actor)s confirmed that an obligation was performed.")
        ),
        "performance.remind": Words(
            "提醒履行义务", gettext_noop("The parties were reminded of an obligation.")
        ),
        "confirmation.window_remind": Words(
            "提醒申请司法确认期限",
            gettext_noop("The parties were reminded of the deadline to apply for confirmation."),
        ),
        # The court's own deadlines concern the court: kept off the parties' timeline.
        "confirmation.deadline_remind": Words("提醒法院审查期限"),
    }
)


def allowed_actions(
    request: ConfirmationRequest, user: AbstractBaseUser, *, viewer: Viewer | None = None
) -> list[str]:
    """The moves this user may make on this request now, for buttons and the API:
    exactly what the services accept."""
    return MACHINE.actions(request, user, viewer=viewer)
