"""Pages of the 12345 hotline bridge and the county's figures: the staff's ticket actions
on the case page, the caller's survey (public, by its link), the dashboard and its
`.xlsx` export."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django.views.decorators.http import require_POST

from odr import figures, selectors
from odr.case_forms import ticket_form
from odr.errors import DomainError, NotFound
from odr.forms import add_domain_error
from odr.models import HotlineTicket
from odr.services import hotline
from odr.transitions import TICKET_MACHINE
from odr.views.cases import case_page
from odr.views.public import _chart
from odr.xlsx import dashboard_workbook

_DONE = {
    "respond": gettext_noop("First contact with the caller is recorded."),
    "resolve": gettext_noop("The ticket is closed as resolved; the caller is sent the survey."),
    "close_unresolved": gettext_noop(
        "The ticket is closed as not resolved; the caller is sent the survey."
    ),
}


@login_required
@require_POST
def ticket_action(request: HttpRequest, dispute_id: int, action: str) -> HttpResponse:
    dispute = selectors.dispute_get_for(user=request.user, dispute_id=dispute_id)
    ticket = HotlineTicket.objects.filter(dispute=dispute).first()
    if ticket is None or action not in TICKET_MACHINE:
        raise Http404
    ticket.dispute = dispute
    form = ticket_form(action, request.POST)
    if not form.is_valid():
        return case_page(request, dispute, {f"hotline:{action}": form})
    try:
        hotline.ticket_action(
            ticket=ticket,
            actor=request.user,
            action=action,
            data={"reason": form.cleaned_data.get("reason", "")},
        )
    except DomainError as exc:
        add_domain_error(form, exc)
        return case_page(request, dispute, {f"hotline:{action}": form})
    messages.success(request, _(_DONE[action]))
    return redirect(reverse("odr:dispute_detail", args=[dispute.pk]) + "#hotline")


def survey(request: HttpRequest, token: str) -> HttpResponse:
    """The caller's survey: 1–5 and a comment, no login; answered once."""
    try:
        ticket = hotline.survey_ticket(token=token)
    except NotFound as exc:
        raise Http404 from exc
    error = None
    if request.method == "POST":
        try:
            hotline.survey_submit(
                token=token,
                score=request.POST.get("score"),
                comment=request.POST.get("comment", ""),
            )
        except DomainError as exc:
            if exc.code != "survey_answered":
                error = exc.message
            ticket.refresh_from_db()
        else:
            ticket.refresh_from_db()
            return render(request, "odr/survey.html", {"ticket": ticket, "thanks": True})
    status = 400 if error else 200
    # Sent back with an error, the form keeps what was given (issue 12).
    return render(
        request,
        "odr/survey.html",
        {
            "ticket": ticket,
            "error": error,
            "scores": [str(n) for n in range(1, 6)],
            "score": request.POST.get("score", ""),
            "comment": request.POST.get("comment", ""),
        },
        status=status,
    )


def _pct(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%"


def _with_pct(row: dict[str, Any]) -> dict[str, Any]:
    return {
        **row,
        "response_pct": _pct(row["response_rate"]),
        "resolution_pct": _pct(row["resolution_rate"]),
        "satisfaction_pct": _pct(row["satisfaction_rate"]),
    }


def _dashboard_for(request: HttpRequest) -> dict[str, Any]:
    area = figures.dashboard_area(request.user)
    if area is False:
        raise PermissionDenied
    return {**figures.dashboard_figures(area).data, "scope": figures.dashboard_scope(area)}


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    data = _dashboard_for(request)
    return render(
        request,
        "odr/dashboard.html",
        {
            "d": data,
            # The rendered figures are kept per area and count (the template's cache).
            "figures_key": f"{data['scope']}:{data['computed_at'].isoformat()}",
            "success_pct": _pct(data["success_rate"]),
            "share_pct": _pct(data["share_village_township"]),
            "hotline": _with_pct(data["hotline"]),
            "by_month": _chart(data["by_month"]),
            "by_category": _chart(data["by_category"]),
            "by_township": _chart(data["by_township"]),
            "hotline_by_township": [_with_pct(r) for r in data["hotline_by_township"]],
            "hotline_by_organisation": [_with_pct(r) for r in data["hotline_by_organisation"]],
            "monthly_ranking": [
                {"month": m["month"], "rows": [_with_pct(r) for r in m["rows"]]}
                for m in data["monthly_ranking"]
            ],
            "weights": [round(w * 100) for w in data["weights"]],
        },
    )


@login_required
def dashboard_export(request: HttpRequest) -> HttpResponse:
    data = _dashboard_for(request)
    content = dashboard_workbook(data)
    name = f"odr-figures-{timezone.localdate():%Y%m%d}.xlsx"
    response = HttpResponse(
        content,
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
