"""The 12345 ticket of a case, for the case page's hotline panel."""

from __future__ import annotations

from typing import Any

from django import template

from odr import selectors
from odr.models import HotlineTicket
from odr.transitions import TICKET_MACHINE

register = template.Library()


@register.simple_tag
def hotline_ticket(dispute: Any, user: Any) -> dict[str, Any] | None:
    """The case's ticket and the ticket actions this user may take now, or None (no
    query for a case that did not come from the hotline)."""
    if dispute.channel != "hotline":
        return None
    ticket = HotlineTicket.objects.filter(dispute=dispute).first()
    if ticket is None:
        return None
    ticket.dispute = dispute
    return {
        "ticket": ticket,
        "actions": TICKET_MACHINE.actions(ticket, user),
        # The staff who call the caller back read the number in full (as a party's).
        "full_phone": selectors.may_see_particulars(dispute, user),
    }
