"""The invitation page of an invited party (a respondent or a co-applicant) and their
answer, and the applicant's request to invite again those who have not answered."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from odr import selectors, services
from odr.case_forms import ButtonForm
from odr.errors import DomainError
from odr.forms import InvitationAcceptForm, InvitationDeclineForm, add_domain_error
from odr.idnumber import is_valid_id_number
from odr.models import Dispute, Invitation, Party
from odr.views.cases import case_page


def _needs_identity(user) -> bool:
    profile = selectors.profile_of(user)
    return not (profile and profile.real_name and is_valid_id_number(profile.id_number))


def _invitation_or_page(request: HttpRequest, token: str) -> Invitation | HttpResponse:
    """The invitation if it may still be answered, else the page that says why not: an
    unknown link (404), or one already answered or expired (410)."""
    invitation = selectors.invitation_by_token(token)
    if invitation is None:
        return render(request, "odr/invitation_closed.html", {"reason": "invalid"}, status=404)
    party = invitation.party
    if invitation.is_used or invitation.is_expired():
        mine = request.user.is_authenticated and party.user_id == request.user.pk
        return render(
            request,
            "odr/invitation_closed.html",
            {
                "reason": "used" if invitation.is_used else "expired",
                "dispute": party.dispute,
                "mine": mine,
            },
            status=410,
        )
    return invitation


def _invitation_page(
    request: HttpRequest,
    invitation: Invitation,
    *,
    accept_form: InvitationAcceptForm | None = None,
    decline_form: InvitationDeclineForm | None = None,
    status: int = 200,
) -> HttpResponse:
    dispute = invitation.party.dispute
    applicant = dispute.parties.filter(role=Party.Role.APPLICANT).order_by("position").first()
    here = reverse("odr:invitation", args=[invitation.token])
    user = request.user
    own = user.is_authenticated and dispute.filed_by_id == user.pk
    for_someone_else = (
        user.is_authenticated
        and not own
        and not selectors.invitation_is_addressed_to(invitation, user)
    )
    return render(
        request,
        "odr/invitation.html",
        {
            "invitation": invitation,
            "dispute": dispute,
            "applicant": applicant,
            "respondent": invitation.party,
            "invited": invitation.party,
            "as_co_applicant": invitation.party.role == Party.Role.APPLICANT,
            "others": [p for p in dispute.parties.all() if p.pk != invitation.party_id],
            "ask_identity": user.is_authenticated and _needs_identity(user),
            "own": own,
            "accept_form": accept_form or InvitationAcceptForm(),
            "decline_form": decline_form or InvitationDeclineForm(),
            # Another account than the one invited: it may answer only by confirming that
            # it is the person invited, and sees the invited address masked (issue 11, L2).
            "for_someone_else": for_someone_else,
            "invited_address": (
                selectors.invitation_masked_address(invitation) if for_someone_else else ""
            ),
            "here": here,
        },
        status=status,
    )


def invitation(request: HttpRequest, token: str) -> HttpResponse:
    found = _invitation_or_page(request, token)
    if isinstance(found, HttpResponse):
        return found
    return _invitation_page(request, found)


def _invitation_reply(
    request: HttpRequest,
    token: str,
    *,
    form_class: type[InvitationAcceptForm] | type[InvitationDeclineForm],
    form_name: str,
    reply: Callable[[dict[str, Any]], Dispute],
    level: int,
    done: str,
) -> HttpResponse:
    """The respondent's answer to an invitation (accept or decline): one form, one
    service; on success the case page, on a refusal the invitation again with the error."""
    found = _invitation_or_page(request, token)
    if isinstance(found, HttpResponse):
        return found
    if request.method != "POST":
        return redirect("odr:invitation", token=token)
    form = form_class(request.POST)
    status = 400
    if form.is_valid():
        try:
            dispute = reply(form.cleaned_data)
        except DomainError as exc:
            add_domain_error(form, exc)
            # A refusal of who answers (own dispute, conflict of interest, someone else's
            # invitation) is a 403, as in the API.
            status = exc.status
        else:
            messages.add_message(request, level, done)
            return redirect("odr:dispute_detail", dispute_id=dispute.pk)
    return _invitation_page(request, found, status=status, **{form_name: form})


@login_required
def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    return _invitation_reply(
        request,
        token,
        form_class=InvitationAcceptForm,
        form_name="accept_form",
        reply=lambda data: services.invitation_accept(
            token=token,
            user=request.user,
            consent_online=data["consent"],
            confirm_identity=data["confirm_identity"],
            real_name=data.get("real_name") or "",
            id_number=data.get("id_number") or "",
        ),
        level=messages.SUCCESS,
        done=_("Thank you. The mediation organisation will now take up the case."),
    )


@login_required
def invitation_decline(request: HttpRequest, token: str) -> HttpResponse:
    return _invitation_reply(
        request,
        token,
        form_class=InvitationDeclineForm,
        form_name="decline_form",
        reply=lambda data: services.invitation_decline(
            token=token,
            user=request.user,
            reason=data["reason"],
            confirm_identity=data["confirm_identity"],
        ),
        level=messages.INFO,
        done=_("You declined mediation. The applicant has been told."),
    )


@login_required
@require_POST
def invitation_resend(request: HttpRequest, dispute_id: int) -> HttpResponse:
    dispute = selectors.dispute_get_for(user=request.user, dispute_id=dispute_id)
    try:
        services.invitation_resend(dispute=dispute, actor=request.user)
    except DomainError as exc:
        form = ButtonForm(request.POST, id_prefix="resend")
        form.add_error(None, exc.message)
        return case_page(request, dispute, {"resend": form})
    messages.success(request, _("A new invitation is on its way to the other side."))
    return redirect("odr:dispute_detail", dispute_id=dispute.pk)
