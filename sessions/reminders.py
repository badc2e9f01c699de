"""Session reminders, run by `manage.py send_reminders`: the day before and shortly
before, once each. The row is locked and its `reminded_*` stamp set in the same
transaction, so two schedulers running at once do not send a reminder twice."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction

from odr.notifications import notify
from sessions.models import MediationSession
from sessions.services import session_mail_context, session_people

DAY_BEFORE = timedelta(hours=24)
SOON = timedelta(minutes=30)


def send_due(*, now: datetime) -> int:
    """Sends the reminders due at `now` and returns how many sessions were reminded."""
    sent = 0
    due = MediationSession.objects.filter(
        status=MediationSession.Status.SCHEDULED,
        scheduled_at__gt=now,
        scheduled_at__lte=now + DAY_BEFORE,
    ).values_list("pk", flat=True)
    for pk in list(due):
        with transaction.atomic():
            session = (
                MediationSession.objects.select_for_update(of=("self",))
                .select_related("dispute", "dispute__mediator", "dispute__organisation")
                .get(pk=pk)
            )
            if session.status != MediationSession.Status.SCHEDULED or session.scheduled_at <= now:
                continue
            soon = session.scheduled_at - now <= SOON
            if soon and session.reminded_soon_at is None:
                session.reminded_soon_at = now
                # Scheduled at short notice: the "tomorrow" reminder would only be noise.
                session.reminded_day_before_at = session.reminded_day_before_at or now
            elif not soon and session.reminded_day_before_at is None:
                session.reminded_day_before_at = now
            else:
                continue
            session.save(update_fields=["reminded_soon_at", "reminded_day_before_at"])
            notify(
                session_people(session),
                "session_reminder",
                session_mail_context(session, soon=soon),
            )
            sent += 1
    return sent
