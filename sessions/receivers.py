"""What the sessions app does when another app's state machine moves (DESIGN.md §4.8:
apps listen to `odr.lifecycle.transitioned` instead of being called)."""

from __future__ import annotations

from typing import Any

from odr.models import Dispute
from sessions.tasks import close_sessions_of_case


def close_sessions_when_case_leaves_mediation(
    sender: type[Dispute], instance: Dispute, target: str, **kwargs: Any
) -> None:
    """A case that is no longer in mediation (withdrawn, failed, settled, sent up to
    another organisation) holds no session: its open ones are closed by the platform.
    Sent after the case's transaction committed; the closing is handed to the task queue,
    so the request that closed the case neither waits for the rooms nor fails with them,
    and `sessions_close_orphaned` (run with the reminders) catches any close missed."""
    if target == Dispute.Status.IN_MEDIATION:
        return
    close_sessions_of_case.enqueue(dispute_id=instance.pk)
