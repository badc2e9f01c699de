"""Session reminders, run by `manage.py send_reminders`: the day before and shortly
before, once each. The row is locked and its `reminded_*` column set in the same
transaction as the audit event that records the reminder, so two schedulers running at
once do not send a reminder twice. Only a scheduled session of a case in mediation is
reminded: a cancelled one never, nor one whose case left mediation (its close may still
be on its way)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction

from odr.audit import log_action
from odr.models import Dispute
from odr.notifications import Recipient, notify
from odr.people import case_people, display_name
from sessions.models import MediationSession
from sessions.services import session_mail_context
from sessions.transitions import lock_session

DAY_BEFORE = timedelta(hours=24)
SOON = timedelta(minutes=30)


def _due(session: MediationSession, now: datetime) -> bool:
    return (
        session.status == MediationSession.Status.SCHEDULED
        and session.dispute.status == Dispute.Status.IN_MEDIATION
        and session.scheduled_at > now
    )


def _remind(session_id: int, now: datetime) -> bool:
    with transaction.atomic():
        session = lock_session(session_id)
        if not _due(session, now):
            return False
        soon = session.scheduled_at - now <= SOON
        if soon and session.reminded_soon_at is None:
            session.reminded_soon_at = now
            # Scheduled at short notice: the "tomorrow" reminder would only be noise.
            session.reminded_day_before_at = session.reminded_day_before_at or now
        elif not soon and session.reminded_day_before_at is None:
            session.reminded_day_before_at = now
        else:
            return False
        session.save(update_fields=["reminded_soon_at", "reminded_day_before_at"])
        recipients = case_people(session.dispute)
        names = [r.email if isinstance(r, Recipient) else display_name(r) for r in recipients]
        log_action(
            action="session.remind",
            obj=session,
            dispute=session.dispute,
            actor_label="reminders",
            after={
                "reminder": "soon" if soon else "day_before",
                "scheduled_at": session.scheduled_at,
                "to": names,
            },
        )
        notify(recipients, "session_reminder", session_mail_context(session, soon=soon))
    return True


def send_due(*, now: datetime) -> int:
    """Sends the reminders due at `now` and returns how many sessions were reminded."""
    due = MediationSession.objects.filter(
        status=MediationSession.Status.SCHEDULED,
        dispute__status=Dispute.Status.IN_MEDIATION,
        scheduled_at__gt=now,
        scheduled_at__lte=now + DAY_BEFORE,
    ).values_list("pk", flat=True)
    return sum(_remind(pk, now) for pk in list(due))
