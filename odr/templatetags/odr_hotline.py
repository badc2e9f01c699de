"""The 12345 ticket of a case, for the case page's hotline panel."""

from __future__ import annotations

from typing import Any

from django import template

from odr import selectors
from odr.case_forms import ticket_form
from odr.models import HotlineTicket
from odr.transitions import TICKET_MACHINE

register = template.Library()


@register.simple_tag(takes_context=True)
def hotline_ticket(context: Any, dispute: Any, user: Any) -> dict[str, Any] | None:
    """The case's ticket and the ticket actions this user may take now, each with its
    form (the one sent back with its errors, `case_sent`, in place: issue 12), or None
    (no query for a case that did not come from the hotline)."""
    if dispute.channel != "hotline":
        return None
    ticket = HotlineTicket.objects.filter(dispute=dispute).first()
    if ticket is None:
        return None
    ticket.dispute = dispute
    sent = context.get("case_sent") or {}
    actions = list(TICKET_MACHINE.actions(ticket, user))
    # An action sent back that the ticket no longer offers still shows, with the refusal.
    actions += [
        key.split(":", 1)[1]
        for key in sent
        if key.startswith("hotline:") and key.split(":", 1)[1] not in actions
    ]
    return {
        "ticket": ticket,
        "actions": actions,
        "forms": [(a, sent.get(f"hotline:{a}") or ticket_form(a)) for a in actions],
        # The staff who call the caller back read the number in full (as a party's).
        "full_phone": selectors.may_see_particulars(dispute, user),
    }
