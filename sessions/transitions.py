"""The mediation session's state machine (DESIGN.md §2, §4.8), declared with the lifecycle
kernel: sessions.services moves a session only through `MACHINE.apply`; the API's and the
session page's `actions` come from the same table for each caller.

    proposed --pick (a party)--> scheduled --start (the mediator joins)--> live --end--> ended
    proposed, scheduled --reschedule--> scheduled
    proposed, scheduled, live --cancel (the mediator) | close (the platform)--> cancelled

`minutes` changes no status: the mediator writes them for a session that takes place.
`close` is the platform's: when the case leaves mediation, sessions.receivers closes its
open sessions. While the case is not in mediation nobody else moves a session at all."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop

from odr.errors import NotFound
from odr.lifecycle import Machine, Refusal, Transition, Words, register_events
from sessions import selectors
from sessions.models import MediationSession

S = MediationSession.Status
OPEN = frozenset(selectors.UPCOMING)


def lock_session(session: MediationSession | int) -> MediationSession:
    """The session row locked for this transaction, with its case (read, not locked), so
    that every change to one room is serialised across Daphne processes. Only the session
    row is locked (`of`): PostgreSQL refuses FOR UPDATE on the nullable side of the outer
    join to the mediator."""
    pk = session if isinstance(session, int) else session.pk
    locked = (
        MediationSession.objects.select_for_update(of=("self",))
        .select_related("dispute", "dispute__mediator", "dispute__organisation")
        .filter(pk=pk)
        .first()
    )
    if locked is None:
        raise NotFound()
    return locked


def lock_sessions(session_ids: Iterable[int]) -> dict[int, MediationSession]:
    """Several session rows locked for this transaction (a batch of joins, issue 13), with
    their cases as `lock_session` reads them, by id. The rows are locked in the order of
    their ids (PostgreSQL locks the rows of `ORDER BY ... FOR UPDATE` as the sort yields
    them), so two batches that share rooms wait for each other instead of deadlocking.
    A missing id is simply absent from the answer."""
    ids = sorted(set(session_ids))
    if not ids:
        return {}
    locked = (
        MediationSession.objects.select_for_update(of=("self",))
        .select_related("dispute", "dispute__mediator", "dispute__organisation")
        .filter(pk__in=ids)
        .order_by("pk")
    )
    return {s.pk: s for s in locked}


def _mediator(session: MediationSession, user: AbstractBaseUser) -> bool:
    return selectors.is_session_mediator(session, user)


def _party(session: MediationSession, user: AbstractBaseUser) -> bool:
    return selectors.is_session_party(session, user)


def _nobody(session: MediationSession, user: AbstractBaseUser) -> bool:
    return False


def _case_in_mediation(
    session: MediationSession, transition: Transition, viewer: Any, cache: dict
) -> Refusal | None:
    # The platform's close is what happens when the case leaves mediation.
    if transition.system:
        return None
    return selectors.case_refusal(session)


def _state_refusal(session: MediationSession) -> str:
    return _("This cannot be done while the session is “%(status)s”.") % {
        "status": session.get_status_display()
    }


def _snapshot(session: MediationSession) -> dict[str, Any]:
    return {
        "status": session.status,
        "scheduled_at": session.scheduled_at,
        "proposed_times": list(session.proposed_times or []),
        "duration_minutes": session.duration_minutes,
        "ics_sequence": session.ics_sequence,
    }


MACHINE: Machine[MediationSession] = Machine(
    name="session",
    model=MediationSession,
    snapshot=_snapshot,
    dispute_of=lambda session: session.dispute,
    state_refusal=_state_refusal,
    guard=_case_in_mediation,
    forbidden=("mediator_only", gettext_lazy("Only the case's mediator can do this.")),
    lock=lock_session,
    transitions=[
        Transition(
            "pick",
            frozenset({S.PROPOSED}),
            S.SCHEDULED,
            _party,
            wrong_status=gettext_lazy("The time of this session is already fixed."),
            forbidden=("party_only", gettext_lazy("Only the parties pick the time.")),
            action="session.pick",
            words=Words(
                "选定调解会议时间",
                gettext_noop("%(actor)s picked the time of a mediation session."),
            ),
        ),
        Transition(
            "reschedule",
            frozenset({S.PROPOSED, S.SCHEDULED}),
            S.SCHEDULED,
            _mediator,
            wrong_status=gettext_lazy("Only a session that has not started can be rescheduled."),
            action="session.reschedule",
            words=Words("调解会议改期", gettext_noop("%(actor)s moved a mediation session.")),
        ),
        Transition(
            "cancel",
            OPEN,
            S.CANCELLED,
            _mediator,
            wrong_status=gettext_lazy("This session is already over."),
            action="session.cancel",
            words=Words("取消调解会议", gettext_noop("%(actor)s cancelled a mediation session.")),
        ),
        # Taken by sessions.services.room_enter_many (a join) when the mediator enters the room.
        Transition(
            "start",
            frozenset({S.SCHEDULED}),
            S.LIVE,
            _mediator,
            wrong_status=gettext_lazy("This session's room is not open."),
            action="session.start",
            words=Words("调解会议开始", gettext_noop("A mediation session began.")),
            public=False,
        ),
        # Only a session that started ends; one that never did is cancelled.
        Transition(
            "end",
            frozenset({S.LIVE}),
            S.ENDED,
            _mediator,
            wrong_status=gettext_lazy("This session is not running."),
            action="session.end",
            words=Words("调解会议结束", gettext_noop("%(actor)s ended a mediation session.")),
        ),
        Transition(
            "minutes",
            frozenset({S.SCHEDULED, S.LIVE, S.ENDED}),
            None,
            _mediator,
            wrong_status=gettext_lazy("Minutes are written for a session that takes place."),
            action="session.minutes",
            words=Words("记录调解笔录", gettext_noop("%(actor)s wrote the minutes of a session.")),
        ),
        Transition(
            "close",
            OPEN,
            S.CANCELLED,
            _nobody,
            action="session.close",
            words=Words(
                "案件已不在调解中，调解会议取消",
                gettext_noop("A mediation session was cancelled: the case left mediation."),
            ),
            public=False,
            system=True,
        ),
    ],
)

# The session's audit actions that are not status changes.
register_events(
    {
        "session.schedule": Words(
            "安排调解会议", gettext_noop("%(actor)s scheduled a mediation session.")
        ),
        "session.remind": Words(
            "提醒参加调解会议", gettext_noop("A reminder of a mediation session was sent.")
        ),
        "session.ticket": Words("签发入场票据"),
        "session.ticket_use": Words("使用入场票据"),
        "session.join": Words("进入调解会议"),
        "session.leave": Words("离开调解会议"),
        "session.admit": Words("准许进入调解会议"),
        "session.remove": Words("请出调解会议"),
        "session.caucus": Words("开始背对背调解"),
        "session.caucus_end": Words("结束背对背调解"),
        "session.chat": Words("调解会议留言"),
        "session.consent": Words("同意在线调解"),
        "session.self_test": Words("设备自检"),
        "session.recording_started": Words(
            "开始录像", gettext_noop("Recording of the session began.")
        ),
        "session.recording_saved": Words(
            "录像已保存", gettext_noop("The session recording was saved.")
        ),
        "session.recording_abandoned": Words(
            "录像已放弃", gettext_noop("The session recording could not be kept.")
        ),
    }
)


def session_actions(
    session: MediationSession, user: AbstractBaseUser, *, cache: dict | None = None
) -> list[str]:
    """What the caller may do with the session now, so clients draw buttons from it (the
    API's `actions` and the session page's buttons): the machine's public moves that
    `apply` would accept, then `join` (not a move of the session: entering its room) when
    a ticket would be issued and the room would let this caller in."""
    actions = MACHINE.actions(session, user, cache=cache)
    if user.is_authenticated and selectors.room_refusal(session, user) is None:
        actions.append("join")
    return actions
