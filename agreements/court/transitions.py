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
from agreements.models import Agreement, ConfirmationRequest, Inquiry, SupplementRequest
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
    president_of: frozenset[int] = frozenset()

    @classmethod
    def of(cls, user: AbstractBaseUser, roles: dict[str, set[int]] | None = None) -> Viewer:
        """`roles`: the user's courts by role (court_roles_of), when the caller read them."""
        if not user.is_authenticated:
            return cls(user, frozenset(), frozenset())
        if roles is None:
            roles = court_selectors.court_roles_of(user)
        return cls(
            user,
            frozenset(roles.get(Membership.Role.CLERK, ())),
            frozenset(roles.get(Membership.Role.JUDGE, ())),
            frozenset(roles.get(Membership.Role.PRESIDENT, ())),
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


def _president(request: ConfirmationRequest, viewer: Viewer) -> bool:
    """The president of the court the request was sent to: approves an extension."""
    return request.court_id in viewer.president_of


def _court_staff(request: ConfirmationRequest, viewer: Viewer) -> bool:
    """A clerk or a judge of that court: either may ask for materials (补正) and keep the
    record of an inquiry."""
    return _clerk(request, viewer) or _judge(request, viewer)


def _signer(request: ConfirmationRequest, viewer: Viewer) -> bool:
    """Who signs an inquiry's record: the parties present, the judge and the clerk."""
    return _party(request, viewer) or _court_staff(request, viewer)


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
    # The period to rule may be extended once, with the president's approval (DESIGN.md
    # §3); it runs from acceptance, which the transition's source (accepted) already asks.
    if request.rule_extended_at is not None:
        return Refusal(409, "already_extended", _("The period to rule can be extended only once."))
    if request.extension_requested_at is not None:
        return Refusal(
            409,
            "extension_already_requested",
            _("An extension of this period was already asked for."),
        )
    return None


def _extension_waiting(request: ConfirmationRequest, viewer: object, cache: dict) -> Refusal | None:
    if (
        request.extension_requested_at is None
        or request.rule_extended_at is not None
        or request.extension_refused_at is not None
    ):
        return Refusal(
            409, "no_extension_requested", _("No extension is waiting for the president.")
        )
    return None


def open_supplement(request: ConfirmationRequest) -> SupplementRequest | None:
    """The materials the court asked for and has not received (one at a time). Read from
    the rows prefetched with the queue when there are any."""
    return next((s for s in request.supplements.all() if s.is_open), None)


def _no_open_supplement(
    request: ConfirmationRequest, viewer: object, cache: dict
) -> Refusal | None:
    if open_supplement(request) is not None:
        return Refusal(
            409,
            "supplement_open",
            _("The court is still waiting for the materials it asked for."),
        )
    return None


def _supplement_open(request: ConfirmationRequest, viewer: object, cache: dict) -> Refusal | None:
    if open_supplement(request) is None:
        return Refusal(409, "no_supplement", _("The court has asked for no materials."))
    return None


def _supplement_lapsed(request: ConfirmationRequest, viewer: object, cache: dict) -> Refusal | None:
    # 按撤回处理: only once the parties let the deadline pass without the materials.
    supplement = open_supplement(request)
    if supplement is None or timezone.now() <= supplement.deadline:
        return Refusal(
            409,
            "supplement_not_lapsed",
            _(
                "Only materials not supplied by their deadline let the court treat the "
                "application as withdrawn."
            ),
        )
    return None


def _withdrawal_not_asked(
    request: ConfirmationRequest, viewer: object, cache: dict
) -> Refusal | None:
    if request.withdrawal_requested_at is not None:
        return Refusal(
            409, "withdrawal_requested", _("The withdrawal of this application is already asked.")
        )
    return None


def _withdrawal_asked(request: ConfirmationRequest, viewer: object, cache: dict) -> Refusal | None:
    if request.withdrawal_requested_at is None:
        return Refusal(409, "no_withdrawal", _("No party has asked to withdraw the application."))
    return None


def unsigned_inquiries(request: ConfirmationRequest) -> list[Inquiry]:
    """Inquiries whose record is written and still lacks a signature."""
    return [i for i in request.inquiries.all() if i.record and i.closed_at is None]


def inquiry_signers(inquiry: Inquiry, parties: list[Party]) -> list[tuple[int, str]]:
    """Who signs an inquiry's record, as (user id, role): each party present, the judge
    and the clerk who kept it."""
    out = [(p.user_id, "party") for p in parties if p.pk in inquiry.present and p.user_id]
    out.append((inquiry.judge_id, "judge"))
    if inquiry.clerk_id and inquiry.clerk_id != inquiry.judge_id:
        out.append((inquiry.clerk_id, "clerk"))
    return out


def _has_signed(inquiry: Inquiry, user_id: int) -> bool:
    return any(entry.get("user") == user_id for entry in inquiry.signed or [])


def inquiries_to_sign(request: ConfirmationRequest, user: AbstractBaseUser) -> list[Inquiry]:
    parties = list(request.agreement.dispute.parties.all())
    return [
        i
        for i in unsigned_inquiries(request)
        if any(uid == user.pk for uid, _role in inquiry_signers(i, parties))
        and not _has_signed(i, user.pk)
    ]


def inquiry_started(inquiry: Inquiry) -> bool:
    """An inquiry's record is written once it has begun, never before its time."""
    return inquiry.scheduled_at <= timezone.now()


def _inquiry_to_record(request: ConfirmationRequest, viewer: object, cache: dict) -> Refusal | None:
    open_ = [i for i in request.inquiries.all() if i.closed_at is None and not i.signed]
    if not open_:
        return Refusal(
            409, "no_inquiry", _("There is no inquiry whose record can still be written.")
        )
    # Never before its time (the service checks the very inquiry too).
    if not any(inquiry_started(i) for i in open_):
        return Refusal(409, "inquiry_not_started", str(INQUIRY_NOT_STARTED))
    return None


def _inquiry_to_sign(request: ConfirmationRequest, viewer: Viewer, cache: dict) -> Refusal | None:
    if not inquiries_to_sign(request, viewer.user):
        return Refusal(
            409, "nothing_to_sign", _("No record of an inquiry waits for your signature.")
        )
    return None


INQUIRY_NOT_STARTED = gettext_lazy(
    "The inquiry has not begun: its record can be written from its scheduled time."
)

# A clerk asking to rule answers 403 (CONTRACT §3).
JUDGE_ONLY = ("judge_only", gettext_lazy("Only a judge of this court rules on an application."))
PRESIDENT_ONLY = (
    "president_only",
    gettext_lazy("Only the president of this court approves an extension of the period to rule."),
)
PARTY_ONLY = ("party_only", gettext_lazy("Only the parties to the application can do this."))
COURT_ONLY = ("court_only", gettext_lazy("Only a clerk or a judge of this court can do this."))


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
        "extension_requested_at": request.extension_requested_at,
        "withdrawal_requested_at": request.withdrawal_requested_at,
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
        # The period to rule, once: the judge asks, with the reason; only the president
        # of the court approves it or refuses (DESIGN.md §3; the SPC's rules on judicial
        # confirmation: 经本院院长批准). The deadline moves only on approval.
        Transition(
            "extension_request",
            frozenset({CR.ACCEPTED}),
            None,
            _judge,
            action="confirmation.extension_request",
            words=Words(
                "申请延长审查期限",
                gettext_noop("%(actor)s asked the court president to extend the period to rule."),
            ),
            guard=_accepted_not_extended,
            forbidden=(
                "judge_only",
                gettext_lazy("Only the judge of this court asks to extend the period to rule."),
            ),
        ),
        Transition(
            "extension_approve",
            frozenset({CR.ACCEPTED}),
            None,
            _president,
            action="confirmation.extension_approve",
            words=Words(
                "院长批准延长审查期限",
                gettext_noop("The court president extended the period to rule."),
            ),
            guard=_extension_waiting,
            forbidden=PRESIDENT_ONLY,
        ),
        Transition(
            "extension_refuse",
            frozenset({CR.ACCEPTED}),
            None,
            _president,
            action="confirmation.extension_refuse",
            words=Words(
                "院长不批准延长审查期限",
                gettext_noop("The court president did not extend the period to rule."),
            ),
            guard=_extension_waiting,
            forbidden=PRESIDENT_ONLY,
        ),
        # 补正: the court asks the parties for materials by a deadline; the clock stops
        # until they answer (the days it stood still are added to the period).
        Transition(
            "supplement_ask",
            frozenset({CR.PENDING, CR.ACCEPTED}),
            None,
            _court_staff,
            action="confirmation.supplement_ask",
            words=Words(
                "法院通知补正材料",
                gettext_noop("The court asked the parties for further materials."),
            ),
            guard=_no_open_supplement,
            forbidden=COURT_ONLY,
        ),
        Transition(
            "supplement_answer",
            frozenset({CR.PENDING, CR.ACCEPTED}),
            None,
            _party,
            action="confirmation.supplement_answer",
            words=Words(
                "当事人补正材料",
                gettext_noop("%(actor)s supplied the materials the court asked for."),
            ),
            guard=_supplement_open,
            forbidden=PARTY_ONLY,
        ),
        # Materials not supplied in time: the judge treats the application as withdrawn
        # (按撤回处理), by an order; not accepting it (不予受理) stays open before docketing.
        Transition(
            "supplement_lapse",
            frozenset({CR.PENDING, CR.ACCEPTED}),
            CR.WITHDRAWN,
            _judge,
            action="confirmation.supplement_lapse",
            words=Words(
                "未按期补正，按撤回处理",
                gettext_noop(
                    "The materials were not supplied in time: the court treated the "
                    "application as withdrawn."
                ),
            ),
            guard=_supplement_lapsed,
            forbidden=JUDGE_ONLY,
        ),
        # 撤回: before a ruling any party may ask; the judge's order allowing it ends it.
        Transition(
            "withdraw",
            frozenset({CR.PENDING, CR.ACCEPTED}),
            None,
            _party,
            action="confirmation.withdraw_request",
            words=Words(
                "申请撤回司法确认申请",
                gettext_noop("%(actor)s asked to withdraw the application: %(reason)s"),
            ),
            guard=_withdrawal_not_asked,
            forbidden=PARTY_ONLY,
            wrong_status=gettext_lazy("An application can be withdrawn only before the ruling."),
        ),
        Transition(
            "withdraw_allow",
            frozenset({CR.PENDING, CR.ACCEPTED}),
            CR.WITHDRAWN,
            _judge,
            action="confirmation.withdraw_allow",
            words=Words(
                "法院裁定准许撤回",
                gettext_noop("The court allowed the application to be withdrawn."),
            ),
            guard=_withdrawal_asked,
            forbidden=JUDGE_ONLY,
        ),
        # 询问: the judge questions the parties (in person or in a hearing room); the
        # record is written by the judge or the clerk and signed by everyone present.
        Transition(
            "inquiry_schedule",
            frozenset({CR.ACCEPTED}),
            None,
            _judge,
            action="confirmation.inquiry_schedule",
            words=Words(
                "法院安排询问", gettext_noop("The court scheduled an inquiry of the parties.")
            ),
            forbidden=JUDGE_ONLY,
        ),
        Transition(
            "inquiry_record",
            frozenset({CR.ACCEPTED}),
            None,
            _court_staff,
            action="confirmation.inquiry_record",
            words=Words("制作询问笔录", gettext_noop("%(actor)s wrote the record of an inquiry.")),
            guard=_inquiry_to_record,
            forbidden=COURT_ONLY,
        ),
        Transition(
            "inquiry_sign",
            frozenset({CR.ACCEPTED, CR.CONFIRMED, CR.REJECTED, CR.WITHDRAWN}),
            None,
            _signer,
            action="confirmation.inquiry_sign",
            words=Words(
                "签名确认询问笔录", gettext_noop("%(actor)s signed the record of an inquiry.")
            ),
            guard=_inquiry_to_sign,
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
        # The first party started the joint application: its document is rendered for
        # every party to sign; the court sees nothing until all have (issue 9, point 5).
        "confirmation.apply": Words(
            "发起司法确认申请",
            gettext_noop("%(actor)s started the joint application for judicial confirmation."),
        ),
    }
)


def allowed_actions(
    request: ConfirmationRequest, user: AbstractBaseUser, *, viewer: Viewer | None = None
) -> list[str]:
    """The moves this user may make on this request now, for buttons and the API:
    exactly what the services accept."""
    return MACHINE.actions(request, user, viewer=viewer)
