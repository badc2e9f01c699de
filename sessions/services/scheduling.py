"""Scheduling a mediation session and every move of its status: schedule, pick, reschedule,
cancel, start, end, minutes, and the platform's close when the case leaves mediation; the
e-mails and calendar files (RFC 5545) that tell people of it.

Each move goes through the session machine (sessions.transitions): it locks the row,
checks the table under the lock, saves and writes the audit event; the e-mails and the
room's `ended` leave after commit."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from odr.audit import log_action
from odr.errors import DomainError, Forbidden, Invalid
from odr.links import site_url
from odr.models import Dispute
from odr.notifications import Recipient, notify
from odr.people import case_people, display_name, party_recipients
from odr.text import clean_text
from sessions import ics
from sessions.models import MediationSession
from sessions.services.common import (
    apply_transition,
    close_room,
    future_time,
    local_time,
    valid_duration,
    void_tickets,
)
from sessions.transitions import MACHINE, OPEN, lock_session

S = MediationSession.Status

MAX_PROPOSED_TIMES = 5
MAX_MINUTES_CHARS = 100_000


# --- what people are told --------------------------------------------------------------


def session_mail_context(session: MediationSession, **extra: Any) -> dict[str, Any]:
    dispute = session.dispute
    return {
        "case_number": dispute.case_number,
        "title": dispute.title,
        "organisation": dispute.organisation.name if dispute.organisation else "",
        "mediator": display_name(dispute.mediator) if dispute.mediator else "",
        "when": local_time(session.scheduled_at),
        "duration_minutes": session.duration_minutes,
        "session_url": f"{site_url()}/sessions/{session.pk}/",
        "room_url": f"{site_url()}{session.room_url}",
        "proposed": [local_time(datetime.fromisoformat(t)) for t in session.proposed_times or []],
        **extra,
    }


def ics_attachment(session: MediationSession, *, cancel: bool = False) -> tuple[str, str, str]:
    """The calendar file of a session. What people typed (the case's title, the
    organisation's name) is cleaned here too, whatever was stored before the cleaner
    existed: no invisible or direction-changing character reaches a calendar, and
    `sessions.ics` escapes the rest (issue 11, L5 and L7)."""
    dispute = session.dispute
    case_number = clean_text(dispute.case_number)
    summary = _("Mediation session: %(case)s") % {"case": case_number}
    description = _("Online mediation session of case %(case)s (%(title)s). Join at %(url)s") % {
        "case": case_number,
        "title": clean_text(dispute.title),
        "url": f"{site_url()}{session.room_url}",
    }
    text = ics.session_ics(
        session,
        cancel=cancel,
        summary=summary,
        description=description,
        organizer_name=clean_text(dispute.organisation.name) if dispute.organisation else "",
    )
    return ("cancel.ics" if cancel else "invite.ics", text, "text/calendar")


def _tell_cancelled(
    session: MediationSession,
    recipients: list[Recipient | AbstractBaseUser],
    **context: Any,
) -> None:
    # A session whose time was never fixed is in nobody's calendar: no CANCEL to send.
    attachments = [ics_attachment(session, cancel=True)] if session.scheduled_at else []
    notify(
        recipients,
        "session_cancelled",
        session_mail_context(session, **context),
        attachments=attachments,
    )


# --- scheduling ---------------------------------------------------------------------------


@transaction.atomic
def session_schedule(
    *,
    dispute: Dispute,
    actor: AbstractBaseUser,
    scheduled_at: datetime | str | None = None,
    proposed_times: list[datetime | str] | None = None,
    duration_minutes: int = 60,
) -> MediationSession:
    """The mediator of a case in mediation fixes one time, or offers several for the
    parties to pick from. A new row, not a move of one: the case row is locked instead,
    so that a session cannot be made while the case leaves mediation (the close would
    miss it)."""
    dispute = Dispute.objects.select_for_update().get(pk=dispute.pk)
    if not actor.is_authenticated or dispute.mediator_id != actor.pk:
        raise Forbidden(_("Only the case's mediator can do this."), code="mediator_only")
    if dispute.status != Dispute.Status.IN_MEDIATION:
        raise DomainError(
            "invalid_status", _("Sessions can be scheduled only while the case is in mediation.")
        )
    duration = valid_duration(duration_minutes)
    now = timezone.now()
    if (scheduled_at is None) == (not proposed_times):
        raise Invalid(
            _("Give either one time or several times to choose from."), code="invalid_time"
        )
    session = MediationSession(dispute=dispute, created_by=actor, duration_minutes=duration)
    if scheduled_at is not None:
        session.scheduled_at = future_time(scheduled_at, now=now)
        session.status = S.SCHEDULED
    else:
        times = sorted({future_time(t, now=now) for t in proposed_times or []})
        if len(times) > MAX_PROPOSED_TIMES:
            raise Invalid(
                _("Offer at most %(n)d times.") % {"n": MAX_PROPOSED_TIMES},
                code="too_many_times",
            )
        session.proposed_times = [t.isoformat() for t in times]
        session.status = S.PROPOSED
    session.save()
    log_action(
        action="session.schedule",
        obj=session,
        actor=actor,
        dispute=dispute,
        after=MACHINE.snapshot(session),
    )
    if session.status == S.SCHEDULED:
        notify(
            case_people(dispute),
            "session_scheduled",
            session_mail_context(session),
            attachments=[ics_attachment(session)],
        )
    else:
        notify(party_recipients(dispute), "session_proposed", session_mail_context(session))
    return session


@transaction.atomic
def session_pick(
    *, session: MediationSession, actor: AbstractBaseUser, time: datetime | str
) -> MediationSession:
    """A party picks one of the offered times; the first pick fixes the session."""

    def prepare(locked: MediationSession) -> dict[str, Any]:
        chosen = future_time(time, now=timezone.now())
        offered = {datetime.fromisoformat(t) for t in locked.proposed_times}
        if chosen not in offered:
            raise Invalid(_("Pick one of the offered times."), code="time_not_offered")
        return {"scheduled_at": chosen}

    session = apply_transition("pick", session=session, actor=actor, prepare=prepare)
    notify(
        case_people(session.dispute),
        "session_scheduled",
        session_mail_context(session, picked_by=display_name(actor)),
        attachments=[ics_attachment(session)],
    )
    return session


@transaction.atomic
def session_reschedule(
    *,
    session: MediationSession,
    actor: AbstractBaseUser,
    scheduled_at: datetime | str,
    duration_minutes: int | None = None,
) -> MediationSession:
    previous: dict[str, datetime | None] = {}

    def prepare(locked: MediationSession) -> dict[str, Any]:
        changes: dict[str, Any] = {}
        if duration_minutes is not None:
            changes["duration_minutes"] = valid_duration(duration_minutes)
        previous["at"] = locked.scheduled_at
        return {
            **changes,
            "scheduled_at": future_time(scheduled_at, now=timezone.now()),
            "proposed_times": [],
            # Calendars replace an event only when its SEQUENCE grows (RFC 5545 §3.8.7.4).
            "ics_sequence": locked.ics_sequence + 1,
            # A new time is reminded of again.
            "reminded_day_before_at": None,
            "reminded_soon_at": None,
        }

    session = apply_transition("reschedule", session=session, actor=actor, prepare=prepare)
    notify(
        case_people(session.dispute),
        "session_rescheduled",
        session_mail_context(session, previous=local_time(previous["at"])),
        attachments=[ics_attachment(session)],
    )
    return session


@transaction.atomic
def session_cancel(
    *, session: MediationSession, actor: AbstractBaseUser, reason: str = ""
) -> MediationSession:
    # The reason goes into everyone's e-mail: cleaned like every message (issue 11, L7).
    reason = clean_text(reason, multiline=True)[:2000]
    session = lock_session(session)
    voided = void_tickets(session)
    session = apply_transition(
        "cancel",
        session=session,
        actor=actor,
        prepare=lambda locked: {"ics_sequence": locked.ics_sequence + 1, "caucus_peer_ids": []},
        extra={"reason": reason, "tickets_voided": voided},
    )
    close_room(session)
    _tell_cancelled(session, case_people(session.dispute), reason=reason)
    return session


@transaction.atomic
def session_start(*, session: MediationSession | int, actor: AbstractBaseUser) -> MediationSession:
    """The mediator entered the room of a scheduled session: it is live."""
    session = lock_session(session)
    return apply_transition(
        "start",
        session=session,
        actor=actor,
        changes={"started_at": session.started_at or timezone.now()},
    )


def sessions_start_locked(
    starts: list[tuple[MediationSession, AbstractBaseUser]],
) -> list[MediationSession | DomainError]:
    """`session_start` for sessions the caller has locked in its transaction (a batch of
    joins starts each scheduled room its mediator enters, issue 13): one machine
    transition each, checked, saved and audited together (`Machine.apply_many`), instead
    of a savepoint, two locking reads and an audit write each. Each answer is the
    session, live, or the refusal."""
    now = timezone.now()
    return MACHINE.apply_many(
        "start",
        moves=[(s, actor, {"started_at": s.started_at or now}) for s, actor in starts],
    )


@transaction.atomic
def session_end(*, session: MediationSession | int, actor: AbstractBaseUser) -> MediationSession:
    """The mediator ends the live session: everyone hears `ended`, nobody can join again."""
    session = lock_session(session)
    now = timezone.now()
    session = apply_transition(
        "end",
        session=session,
        actor=actor,
        changes={
            "ended_at": now,
            "started_at": session.started_at or now,
            "caucus_peer_ids": [],
        },
    )
    close_room(session)
    return session


def _digest(text: str) -> dict[str, Any]:
    return {"length": len(text), "sha256": hashlib.sha256(text.encode()).hexdigest()}


@transaction.atomic
def session_minutes_save(
    *, session: MediationSession, actor: AbstractBaseUser, minutes: str
) -> MediationSession:
    """The mediator's minutes (笔录), during or after the session. The audit event keeps
    their length and SHA-256, not the text. Invisible and direction-changing characters
    are removed, line breaks kept (issue 11, L7); empty minutes clear them, as before."""
    minutes = clean_text(minutes, multiline=True)

    def prepare(locked: MediationSession) -> dict[str, Any]:
        if len(minutes) > MAX_MINUTES_CHARS:
            raise Invalid(_("The minutes are too long."), code="minutes_too_long")
        return {"minutes": minutes}

    return apply_transition(
        "minutes", session=session, actor=actor, prepare=prepare, extra=_digest(minutes)
    )


# --- the case leaves mediation --------------------------------------------------------------


def _people_of_closed_session(session: MediationSession) -> list[Recipient | AbstractBaseUser]:
    """The case's parties and mediator, and the mediator who scheduled the session when
    the case no longer has them (an escalated case has no mediator): everyone who holds
    the session in a calendar."""
    people = case_people(session.dispute)
    scheduler = session.created_by
    if all(getattr(p, "pk", None) != scheduler.pk for p in people):
        people.append(scheduler)
    return people


def sessions_close_with_case(*, dispute: Dispute) -> list[MediationSession]:
    """The case left mediation (withdrawn, failed, settled, sent up): each of its open
    sessions is closed by the platform, in a transaction of its own. The session is
    cancelled, its unused tickets voided, whoever is in its room disconnected with `ended`,
    and everyone told with the calendar's CANCEL. A cancelled session is never reminded."""
    closed = []
    # A hearing room the court holds (its host a judge) is not the mediation's to close.
    ids = MediationSession.objects.filter(
        dispute_id=dispute.pk, status__in=OPEN, host__isnull=True
    ).values_list("pk", flat=True)
    for pk in list(ids):
        with transaction.atomic():
            session = lock_session(pk)
            # It may have ended or been cancelled since the list was read; the case may be
            # back in mediation (a worker ran the queued close late, after the case was
            # accepted again and a session scheduled): that session is the case's as it is now.
            if MACHINE.refusal("close", session, None) is not None:
                continue
            if session.dispute.status == Dispute.Status.IN_MEDIATION:
                continue
            voided = void_tickets(session)
            session = apply_transition(
                "close",
                session=session,
                actor=None,
                prepare=lambda locked: {
                    "ics_sequence": locked.ics_sequence + 1,
                    "caucus_peer_ids": [],
                },
                extra={"case_status": session.dispute.status, "tickets_voided": voided},
            )
            close_room(session)
            _tell_cancelled(session, _people_of_closed_session(session), case_closed=True)
            closed.append(session)
    return closed


def sessions_close_orphaned(*, now: datetime) -> int:
    """The backstop of `sessions_close_with_case`, run with the reminders: any open
    session whose case is no longer in mediation (its close was missed, say a worker
    stopped mid-way) is closed now. Returns how many were closed."""
    dispute_ids = (
        MediationSession.objects.filter(status__in=OPEN, host__isnull=True)
        .exclude(dispute__status=Dispute.Status.IN_MEDIATION)
        .values_list("dispute_id", flat=True)
        .distinct()
    )
    return sum(
        len(sessions_close_with_case(dispute=dispute))
        for dispute in Dispute.objects.filter(pk__in=list(dispute_ids))
    )
