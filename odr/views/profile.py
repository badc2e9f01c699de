"""A person's own profile page."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext as _

from odr import selectors, services
from odr.errors import DomainError
from odr.forms import ProfileForm, add_domain_error
from odr.idnumber import mask_id_number
from odr.language import set_language_cookie


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    current = selectors.profile_of(request.user)
    initial = {
        "real_name": current.real_name if current else "",
        "phone": current.phone if current else "",
        "id_number": current.id_number if current else "",
        "language": current.language if current else translation.get_language(),
    }
    if request.method == "POST":
        form = ProfileForm(request.POST)
        if form.is_valid():
            try:
                saved = services.profile_update(user=request.user, **form.cleaned_data)
            except DomainError as exc:
                add_domain_error(form, exc)
            else:
                translation.activate(saved.language)
                messages.success(request, _("Your profile is saved."))
                response = redirect("odr:profile")
                # The chosen language applies at once, as the switcher in the header does.
                set_language_cookie(response, saved.language)
                return response
    else:
        form = ProfileForm(initial=initial)
    return render(
        request,
        "odr/profile.html",
        {
            "form": form,
            "profile": current,
            "masked_id": mask_id_number(current.id_number) if current else "",
            "roles": selectors.user_roles(request.user),
            "organisation": selectors.user_primary_organisation(request.user),
        },
        status=400 if request.method == "POST" else 200,
    )
