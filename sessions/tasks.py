"""Background work of the sessions app (django-tasks: the database queue's worker in
production, at once in tests)."""

from __future__ import annotations

from django_tasks import task

from odr.models import Dispute
from sessions import services


@task()
def close_sessions_of_case(*, dispute_id: int) -> int:
    """Closes the open sessions of a case that left mediation (sessions.receivers hands
    this over after the case's transaction committed, so the request that closed the
    case never waits for, nor fails with, the rooms). Returns how many were closed."""
    dispute = Dispute.objects.filter(pk=dispute_id).first()
    if dispute is None:
        return 0
    return len(services.sessions_close_with_case(dispute=dispute))
