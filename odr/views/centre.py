"""The one-stop centre's reception pages and the grid worker's phone page (issue 10)."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from odr import selectors, services
from odr.case_forms import ButtonForm, HandoffForm
from odr.centre_forms import GridReportForm, VisitForm, WalkInForm
from odr.errors import DomainError
from odr.services.party_input import PartyInput
from odr.views.cases import case_page


def _reception_only(request: HttpRequest) -> None:
    if not selectors.reception_centre_ids(request.user):
        raise PermissionDenied


@login_required
def reception(request: HttpRequest) -> HttpResponse:
    """The reception desk: register a visitor (counted whether or not a dispute follows)
    and see today's visits, each with the way to file for it."""
    _reception_only(request)
    form = VisitForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            visit = services.visit_register(staff=request.user, **form.cleaned_data)
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(
                request, _("The visit of %(name)s is registered.") % {"name": visit.name}
            )
            return redirect("odr:reception")
    visits = selectors.visits_of(request.user)[:30]
    return render(
        request,
        "odr/reception.html",
        {"form": form, "visits": visits},
        status=400 if form.errors else 200,
    )


@login_required
def reception_file(request: HttpRequest, visit_id: int) -> HttpResponse:
    """File a dispute for a registered visitor and give the case to a window."""
    # Only the visits of the user's own centres exist for them (404 to anyone else).
    visit = selectors.visit_for(user=request.user, visit_id=visit_id)
    windows = list(selectors.windows_of(visit.organisation_id))
    initial = {
        "applicant_name": visit.name,
        "applicant_phone": visit.phone,
        "applicant_id_number": visit.id_number,
        "description": visit.purpose,
    }
    form = WalkInForm(request.POST or None, initial=initial, windows=windows)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            dispute = services.walk_in_file(
                staff=request.user,
                visit=visit,
                applicant=PartyInput(
                    name=data["applicant_name"],
                    phone=data["applicant_phone"],
                    id_number=data["applicant_id_number"],
                ),
                window=selectors.window_for(user=request.user, window_id=int(data["window"])),
                category=data["category"],
                title=data["title"],
                description=data["description"],
                region_code=data["region"],
                respondents=[
                    PartyInput(
                        name=data["respondent_name"],
                        phone=data["respondent_phone"],
                        email=data["respondent_email"],
                    )
                ],
            )
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            return redirect("odr:reception_receipt", dispute_id=dispute.pk)
    return render(
        request,
        "odr/reception_file.html",
        {"form": form, "visit": visit},
        status=400 if form.errors else 200,
    )


@login_required
def reception_receipt(request: HttpRequest, dispute_id: int) -> HttpResponse:
    """The visitor's printable receipt: case number, window, where to go, what to bring."""
    dispute = selectors.dispute_get_for(user=request.user, dispute_id=dispute_id)
    return render(
        request, "odr/reception_receipt.html", {"dispute": dispute, "window": dispute.window}
    )


@login_required
@require_POST
def dispute_handoff(request: HttpRequest, dispute_id: int) -> HttpResponse:
    dispute = selectors.dispute_get_for(user=request.user, dispute_id=dispute_id)
    windows = [
        w for w in selectors.windows_of(dispute.organisation_id) if w.pk != dispute.window_id
    ]
    form = HandoffForm(request.POST, windows=windows)
    if not form.is_valid():
        return case_page(request, dispute, {"handoff": form})
    try:
        dispute = services.dispute_handoff(
            dispute=dispute, actor=request.user, window_id=int(form.cleaned_data["window"])
        )
    except DomainError as exc:
        form.add_error("window" if exc.code in _WINDOW_ERRORS else None, exc.message)
        return case_page(request, dispute, {"handoff": form})
    messages.success(request, _("The case is handed to %(window)s.") % {"window": dispute.window})
    return redirect("odr:dispute_detail", dispute_id=dispute.pk)


# The hand-off's refusals about the window chosen, shown at its field.
_WINDOW_ERRORS = {"invalid_window", "same_window"}


@login_required
@require_POST
def duplicate_decide(
    request: HttpRequest, dispute_id: int, link_id: int, decision: str
) -> HttpResponse:
    dispute = selectors.dispute_get_for(user=request.user, dispute_id=dispute_id)
    decide = {"merge": services.duplicate_merge, "keep_apart": services.duplicate_keep_apart}
    if decision not in decide:
        raise Http404
    try:
        decide[decision](dispute=dispute, link_id=link_id, actor=request.user)
    except DomainError as exc:
        form = ButtonForm(request.POST, id_prefix=f"duplicate-{link_id}")
        form.add_error(None, exc.message)
        return case_page(request, dispute, {f"duplicate:{link_id}": form})
    messages.success(request, _("The decision is recorded."))
    return redirect("odr:dispute_detail", dispute_id=dispute.pk)


# --- the grid worker's phone page ----------------------------------------------------------


@login_required
def grid_report(request: HttpRequest) -> HttpResponse:
    """The report form. Its script (odr/grid_report.js) keeps each report in an outbox on
    the phone and sends it when the network is there; the service worker (grid_sw) keeps
    this page and its script for when it is not. Without the script the form posts here."""
    grids = list(selectors.grids_of(request.user))
    if not grids:
        raise PermissionDenied
    form = GridReportForm(request.POST or None, initial={"client_uuid": uuid.uuid4()})
    names, phones = request.POST.getlist("party_name"), request.POST.getlist("party_phone")
    if request.method == "POST" and form.is_valid():
        try:
            done = services.grid_report_submit(
                worker=request.user,
                client_uuid=str(form.cleaned_data["client_uuid"] or uuid.uuid4()),
                grid_id=grids[0].pk,
                category=form.cleaned_data["category"],
                place=form.cleaned_data["place"],
                facts=form.cleaned_data["facts"],
                outcome=form.cleaned_data["outcome"],
                settlement=form.cleaned_data["settlement"],
                parties=[
                    PartyInput(name=n, phone=p)
                    for n, p in zip(names, phones, strict=False)
                    if n.strip()
                ],
                photos=[(f, f.name or "", f.size) for f in request.FILES.getlist("photos")],
            )
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            report = done.report
            if report.dispute_id:
                messages.success(
                    request,
                    _("Reported: case %(number)s goes to the village committee.")
                    % {"number": report.dispute.case_number},
                )
            else:
                messages.success(request, _("Recorded as settled on the spot."))
            return redirect("odr:grid_report")
    # The two parties' rows, with what was typed when the form comes back with an error.
    party_rows = [
        (str(n), names[n - 1] if len(names) >= n else "", phones[n - 1] if len(phones) >= n else "")
        for n in (1, 2)
    ]
    return render(
        request,
        "odr/grid_report.html",
        {
            "form": form,
            "party_rows": party_rows,
            "grid": grids[0],
            "reports": selectors.grid_reports_of(request.user)[:20],
            "api_url": reverse("api:grid_report_create"),
        },
        status=400 if form.errors else 200,
    )


@never_cache
def grid_sw(request: HttpRequest) -> HttpResponse:
    """The service worker of the grid pages, served under /grid/ so that its scope covers
    the report page (a script under /static/ could only control /static/)."""
    body = render(
        request,
        "odr/grid_sw.js",
        {
            "page": reverse("odr:grid_report"),
            "script": static("frontend/grid-report.js"),
            "style": static("frontend/site.css"),
        },
        content_type="application/javascript",
    )
    return body
