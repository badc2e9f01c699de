"""What the sessions app does when another app's state machine moves (DESIGN.md §4.8:
apps listen to `odr.lifecycle.transitioned` instead of being called)."""

from __future__ import annotations

from typing import Any

from odr.models import Dispute
from sessions import services


def close_sessions_when_case_leaves_mediation(
    sender: type[Dispute], instance: Dispute, target: str, **kwargs: Any
) -> None:
    """A case that is no longer in mediation (withdrawn, failed, settled, sent up to
    another organisation) holds no session: its open ones are closed by the platform.
    Sent after the case's transaction committed; each close commits on its own."""
    if target == Dispute.Status.IN_MEDIATION:
        return
    services.sessions_close_with_case(dispute=instance)
