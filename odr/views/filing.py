"""The guided filing form: the dispute, the filer's own identity when their profile lacks
it, and the parties (several per side, persons and organisations)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _

from odr import selectors, services
from odr.errors import DomainError
from odr.forms import DisputeForm, add_domain_error
from odr.forms_render import plain_errors
from odr.idnumber import is_valid_id_number
from odr.services.party_input import CO_APPLICANT, MAX_PER_SIDE, RESPONDENT


def _is_xhr(request: HttpRequest) -> bool:
    return request.headers.get("X-Requested-With") == "XMLHttpRequest"


def _needs_identity(request: HttpRequest) -> bool:
    profile = selectors.profile_of(request.user)
    return not (profile and profile.real_name and is_valid_id_number(profile.id_number))


def _with_another_row(request: HttpRequest, ask_identity: bool) -> DisputeForm | None:
    """The "add another party" buttons (no JavaScript needed): the same page again with
    everything typed and one more row on that side, or None for a filing."""
    side = request.POST.get("add_party")
    if side not in (RESPONDENT, CO_APPLICANT):
        return None
    typed = DisputeForm(request.POST, ask_identity=ask_identity)
    respondents, co_applicants = typed.respondent_rows, typed.co_applicant_rows
    if side == RESPONDENT:
        respondents = min(respondents + 1, MAX_PER_SIDE)
    else:
        co_applicants = min(co_applicants + 1, MAX_PER_SIDE - 1)
    initial = {k: v for k, v in request.POST.items() if k not in ("csrfmiddlewaretoken",)}
    initial["respondent_count"], initial["co_applicant_count"] = respondents, co_applicants
    return DisputeForm(
        initial=initial,
        ask_identity=ask_identity,
        respondents=respondents,
        co_applicants=co_applicants,
    )


def _filed_message(dispute) -> str:
    invited = [p for p in dispute.parties.all() if p.accepted is None]
    names = "、".join(p.name for p in invited)
    return _("Your dispute %(case)s is filed. We have invited %(name)s to mediation.") % {
        "case": dispute.case_number,
        "name": names,
    }


@login_required
def dispute_new(request: HttpRequest) -> HttpResponse:
    """The guided filing form. With JavaScript the whole form (files included) is sent by
    XMLHttpRequest so that a progress bar can show the upload, and the answer is JSON;
    without it, a plain POST re-renders the form."""
    ask_identity = _needs_identity(request)
    status = 200
    if request.method == "POST":
        form = _with_another_row(request, ask_identity)
        if form is None:
            status = 400
            form = DisputeForm(request.POST, request.FILES, ask_identity=ask_identity)
            if form.is_valid():
                data = form.cleaned_data
                try:
                    dispute = services.dispute_file(
                        applicant=request.user,
                        category=data["category"],
                        title=data["title"],
                        description=data["description"],
                        region_code=data["region"],
                        respondents=form.parties(RESPONDENT),
                        co_applicants=form.parties(CO_APPLICANT),
                        real_name=data.get("real_name") or "",
                        id_number=data.get("id_number") or "",
                        request=data["request"],
                        claim_amount=data["claim_amount"],
                        evidence=[(f, f.name, f.size, "") for f in data["evidence"]],
                    )
                except DomainError as exc:
                    add_domain_error(form, exc)
                else:
                    messages.success(request, _filed_message(dispute))
                    url = reverse("odr:dispute_detail", args=[dispute.pk])
                    if _is_xhr(request):
                        return JsonResponse({"redirect": url}, status=201)
                    return redirect(url)
            if _is_xhr(request):
                return JsonResponse(
                    {"errors": plain_errors(form)},
                    status=400,
                )
    else:
        form = DisputeForm(ask_identity=ask_identity)
    return render(
        request,
        "odr/dispute_new.html",
        {
            "form": form,
            "hints": DisputeForm.hints(),
            "max_bytes": settings.ODR_EVIDENCE_MAX_BYTES,
            "max_mb": settings.ODR_EVIDENCE_MAX_BYTES // (1024 * 1024),
            "ask_identity": ask_identity,
            "max_per_side": MAX_PER_SIDE,
        },
        status=status,
    )
