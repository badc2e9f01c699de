"""Lists: the cases a person may see, and the coordinator's intake queue."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from odr import selectors
from odr.models import Dispute, Membership
from odr.transitions import MACHINE, Viewer


@login_required
def dispute_list(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    qs = selectors.disputes_visible_to(request.user)
    if status in Dispute.Status.values:
        qs = qs.filter(status=status)
    else:
        status = ""
    page = Paginator(qs, 20).get_page(request.GET.get("page"))
    return render(
        request,
        "odr/dispute_list.html",
        {"page": page, "status": status, "statuses": Dispute.Status.choices},
    )


@login_required
def intake(request: HttpRequest) -> HttpResponse:
    """The coordinator's queue: cases waiting for intake first, with each mediator's load."""
    organisations = selectors.organisations_of(request.user, Membership.Role.COORDINATOR)
    if not organisations:
        raise PermissionDenied
    queue = list(selectors.intake_queue_for(request.user))
    mediators = {org.pk: selectors.mediators_with_load(org) for org in organisations}
    viewer, cache = Viewer.of(request.user), {}
    waiting = [
        {
            "dispute": d,
            # A coordinator who is a party to a case does not take it in, and a party is
            # never offered as its mediator (conflict of interest, odr.transitions).
            "can_accept": bool(
                MACHINE.actions(d, request.user, viewer=viewer, cache=cache, names=["accept"])
            ),
            "mediators": [
                (m, load)
                for m, load in mediators.get(d.organisation_id, [])
                if m.pk not in selectors.party_user_ids(d)
            ],
        }
        for d in queue
        if d.status == Dispute.Status.AWAITING_INTAKE
    ]
    return render(
        request,
        "odr/intake.html",
        {
            "waiting": waiting,
            "in_mediation": [d for d in queue if d.status == Dispute.Status.IN_MEDIATION],
            "filed": [d for d in queue if d.status == Dispute.Status.FILED],
            "mediators": mediators,
            "organisations": organisations,
        },
    )
