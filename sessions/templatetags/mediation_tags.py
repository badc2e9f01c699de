"""The case page's sessions panel: the next session, the list, the mediator's button."""

from __future__ import annotations

from typing import Any

from django import template

from odr.models import Dispute
from sessions import selectors
from sessions.models import MediationSession

register = template.Library()
S = MediationSession.Status


@register.inclusion_tag("mediation/_sessions_panel.html", takes_context=True)
def case_sessions_panel(context: dict, dispute: Dispute) -> dict[str, Any]:
    """Reads only: the page may be opened any number of times."""
    user = context["request"].user
    upcoming = selectors.next_session_for(dispute)
    return {
        "dispute": dispute,
        "sessions": selectors.sessions_of(dispute),
        "next": upcoming,
        "next_live": upcoming is not None and upcoming.status == S.LIVE,
        "next_proposed": upcoming is not None and upcoming.status == S.PROPOSED,
        # The same rule as the room's own door (a ticket, the WebSocket).
        "can_enter": upcoming is not None and selectors.room_refusal(upcoming, user) is None,
        "can_schedule": dispute.mediator_id == user.pk
        and dispute.status == Dispute.Status.IN_MEDIATION,
    }
