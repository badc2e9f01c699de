"""The case page's sessions panel: the next session, the list, the mediator's button."""

from __future__ import annotations

from typing import Any

from django import template

from odr.models import Dispute
from sessions import selectors

register = template.Library()


@register.inclusion_tag("mediation/_sessions_panel.html", takes_context=True)
def case_sessions_panel(context: dict, dispute: Dispute) -> dict[str, Any]:
    user = context["request"].user
    return {
        "dispute": dispute,
        "sessions": selectors.sessions_of(dispute),
        "next": selectors.next_session_for(dispute),
        "can_schedule": dispute.mediator_id == user.pk
        and dispute.status == Dispute.Status.IN_MEDIATION,
        "is_participant": dispute.mediator_id == user.pk
        or dispute.parties.filter(user=user).exists(),
    }
