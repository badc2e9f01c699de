"""A person's own profile page: the particulars every document names them by."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext as _

from odr import selectors, services
from odr.errors import DomainError
from odr.identity import birth_date_from_id
from odr.idnumber import mask_id_number
from odr.language import set_language_cookie
from odr.party_forms import ProfileForm, add_error

FIELDS = ("real_name", "phone", "id_number", "sex", "ethnicity", "occupation", "address")


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    current = selectors.profile_of(request.user)
    initial = {f: getattr(current, f) if current else "" for f in FIELDS}
    initial["language"] = current.language if current else translation.get_language()
    if request.method == "POST":
        form = ProfileForm(request.POST)
        if form.is_valid():
            try:
                saved = services.profile_update(user=request.user, **form.cleaned_data)
            except DomainError as exc:
                add_error(form, exc)
            else:
                translation.activate(saved.language)
                messages.success(request, _("Your profile is saved."))
                if saved.phone and not saved.phone_verified and saved.phone != initial["phone"]:
                    # A number typed here is not proven (odr.accounts): say how to prove it.
                    messages.warning(
                        request,
                        _(
                            "Your new mobile number is not verified yet: verify it with the "
                            "code we text to it (below, under the number)."
                        ),
                    )
                response = redirect("odr:profile")
                # The chosen language applies at once, as the switcher in the header does.
                set_language_cookie(response, saved.language)
                return response
    else:
        form = ProfileForm(initial=initial)
    born = birth_date_from_id(current.id_number) if current and current.id_number else None
    return render(
        request,
        "odr/profile.html",
        {
            "form": form,
            "profile": current,
            "masked_id": mask_id_number(current.id_number) if current else "",
            "birth_date": born,
            "roles": selectors.user_roles(request.user),
            "organisation": selectors.user_primary_organisation(request.user),
        },
        status=400 if request.method == "POST" else 200,
    )
