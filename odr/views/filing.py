"""The guided filing form."""

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


def _is_xhr(request: HttpRequest) -> bool:
    return request.headers.get("X-Requested-With") == "XMLHttpRequest"


@login_required
def dispute_new(request: HttpRequest) -> HttpResponse:
    """The guided filing form. With JavaScript the whole form (files included) is sent by
    XMLHttpRequest so that a progress bar can show the upload, and the answer is JSON;
    without it, a plain POST re-renders the form."""
    if request.method == "POST":
        form = DisputeForm(request.POST, request.FILES)
        if form.is_valid():
            data = form.cleaned_data
            try:
                dispute = services.dispute_file(
                    applicant=request.user,
                    category=data["category"],
                    title=data["title"],
                    description=data["description"],
                    region_code=data["region"],
                    respondent_name=data["respondent_name"],
                    respondent_email=data["respondent_email"],
                    respondent_phone=data["respondent_phone"],
                    request=data["request"],
                    claim_amount=data["claim_amount"],
                    evidence=[(f, f.name, f.size, "") for f in data["evidence"]],
                )
            except DomainError as exc:
                add_domain_error(form, exc)
            else:
                messages.success(
                    request,
                    _("Your dispute %(case)s is filed. We have invited %(name)s to mediation.")
                    % {"case": dispute.case_number, "name": data["respondent_name"]},
                )
                url = reverse("odr:dispute_detail", args=[dispute.pk])
                if _is_xhr(request):
                    return JsonResponse({"redirect": url}, status=201)
                return redirect(url)
        if _is_xhr(request):
            return JsonResponse(
                {
                    "errors": {
                        field: [e["message"] for e in errs]
                        for field, errs in form.errors.get_json_data().items()
                    }
                },
                status=400,
            )
    else:
        form = DisputeForm()
    profile_obj = selectors.profile_of(request.user)
    return render(
        request,
        "odr/dispute_new.html",
        {
            "form": form,
            "hints": DisputeForm.hints(),
            "max_bytes": settings.ODR_EVIDENCE_MAX_BYTES,
            "max_mb": settings.ODR_EVIDENCE_MAX_BYTES // (1024 * 1024),
            "profile_incomplete": not (profile_obj and profile_obj.real_name),
        },
        status=400 if request.method == "POST" else 200,
    )
