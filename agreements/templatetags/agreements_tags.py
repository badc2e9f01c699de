"""The case page's agreement panel: status, who has signed, and the viewer's next step."""

from __future__ import annotations

from typing import Any

from django import template

from agreements import selectors
from agreements.models import Agreement
from agreements.transitions import allowed_actions
from odr import selectors as odr_selectors
from odr.models import Dispute

register = template.Library()


@register.inclusion_tag("agreements/_agreement_panel.html", takes_context=True)
def case_agreement_panel(context: dict, dispute: Dispute) -> dict[str, Any]:
    user = context["request"].user
    agreement = selectors.agreement_of_dispute(dispute)
    return {
        "dispute": dispute,
        "agreement": agreement,
        "is_draft": agreement is not None and agreement.status == Agreement.Status.DRAFT,
        "is_signed": agreement is not None and agreement.status == Agreement.Status.SIGNED,
        "actions": allowed_actions(agreement, user) if agreement else [],
        "can_draft": agreement is None
        and odr_selectors.is_mediator_of(dispute, user)
        and dispute.status == Dispute.Status.IN_MEDIATION,
        # Every party who takes part, the mediator last: the order in which they sign.
        "progress": [(f"{s.label} {s.name}", s.signed) for s in selectors.signers(agreement)]
        if agreement
        else [],
    }
