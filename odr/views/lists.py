"""Lists: the cases a person may see, and the coordinator's intake queue. Each is read a
page at a time (DESIGN.md §4.9, issue 14) and narrowed by the filters of odr.filters."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from odr import filters as list_filters
from odr import selectors
from odr.models import Dispute, Membership
from odr.transitions import MACHINE, Viewer

# Rows per page of a list (20–50 on a phone).
PAGE_SIZE = 20
INTAKE_STATUSES = [
    Dispute.Status.AWAITING_INTAKE,
    Dispute.Status.IN_MEDIATION,
    Dispute.Status.FILED,
]


def page_of(qs: QuerySet, request: HttpRequest, param: str = "page") -> Page:
    """One page of `qs`: a count and a slice, the same two queries at any size. The order
    ends on the id, so pages neither repeat nor skip cases filed at the same instant."""
    return Paginator(qs, PAGE_SIZE).get_page(request.GET.get(param))


def _narrowed(qs: QuerySet[Dispute], filters: list_filters.ListFilters) -> QuerySet[Dispute]:
    qs = list_filters.filter_disputes(qs, filters)
    return list_filters.filter_dates(qs, filters, "created_at")


@login_required
def dispute_list(request: HttpRequest) -> HttpResponse:
    form = list_filters.ListFilterForm(request.GET)
    filters = form.filters()
    qs = _narrowed(selectors.disputes_visible_to(request.user), filters)
    if filters.status:
        qs = qs.filter(status=filters.status)
    page = page_of(qs.order_by("-created_at", "-pk"), request)
    return render(
        request,
        "odr/dispute_list.html",
        {
            "page": page,
            "form": form,
            "filters": filters,
            "status": filters.status,
            "statuses": Dispute.Status.choices,
            "query": form.query_string(),
        },
    )


@login_required
def intake(request: HttpRequest) -> HttpResponse:
    """The coordinator's queue, a section per status (waiting for intake first, with each
    mediator's load), each section paged on its own."""
    organisations = selectors.organisations_of(request.user, Membership.Role.COORDINATOR)
    if not organisations:
        raise PermissionDenied
    statuses = [(s, label) for s, label in Dispute.Status.choices if s in INTAKE_STATUSES]
    form = list_filters.ListFilterForm(request.GET, statuses=statuses)
    filters = form.filters()
    queue = _narrowed(selectors.intake_queue_for(request.user), filters)
    pages: dict[str, Page | None] = {}
    for status, param in (
        (Dispute.Status.AWAITING_INTAKE, "waiting_page"),
        (Dispute.Status.IN_MEDIATION, "mediation_page"),
        (Dispute.Status.FILED, "filed_page"),
    ):
        shown = not filters.status or filters.status == status
        pages[status] = (
            page_of(queue.filter(status=status).order_by("created_at", "pk"), request, param)
            if shown
            else None
        )
    mediators = {org.pk: selectors.mediators_with_load(org) for org in organisations}
    viewer, cache = Viewer.of(request.user), {}
    waiting_page = pages[Dispute.Status.AWAITING_INTAKE]
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
        for d in (waiting_page.object_list if waiting_page is not None else [])
    ]
    return render(
        request,
        "odr/intake.html",
        {
            "form": form,
            "filters": filters,
            "query": form.query_string(),
            "waiting": waiting,
            "waiting_page": waiting_page,
            "mediation_page": pages[Dispute.Status.IN_MEDIATION],
            "filed_page": pages[Dispute.Status.FILED],
            "mediators": mediators,
            "organisations": organisations,
        },
    )
