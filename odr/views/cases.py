"""The case page, its timeline, and what is done from it: the dispute's actions, messages
and evidence."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django.views.decorators.http import require_POST

from odr import composition, selectors, services
from odr.errors import DomainError
from odr.forms import EvidenceForm, MessageForm
from odr.idnumber import mask_id_number, mask_phone
from odr.lifecycle import words_for
from odr.models import Dispute, Membership, Party
from odr.people import display_name
from odr.transitions import PUBLIC_ACTIONS, allowed_actions

# services.REFERRAL_GUIDANCE is plain English; marked here so the catalogue carries it.
gettext_noop(
    "You may bring the dispute to the basic people's court (civil litigation), or, where a "
    "contract names arbitration or for labour matters, to the arbitration commission. "
    "What was said in mediation is not binding on them."
)

# --- the timeline ------------------------------------------------------------------------


def _timeline_words(action: str) -> str | None:
    words = words_for(action)
    return words.timeline if words else None


def case_timeline(dispute: Dispute) -> list[dict[str, Any]]:
    """The story of the case in words: each audit event whose action has timeline words in
    odr.lifecycle's registry (the apps above register theirs; moment-to-moment room events
    have none and stay out), translated into the reader's language."""
    events = [e for e in selectors.dispute_timeline(dispute) if _timeline_words(e.action)]
    mediators = selectors.users_by_id(
        {e.after["mediator"] for e in events if isinstance(e.after.get("mediator"), int)}
    )
    organisations = selectors.organisation_names(
        {e.after["organisation"] for e in events if isinstance(e.after.get("organisation"), int)}
    )
    out = []
    for event in events:
        mediator = mediators.get(event.after.get("mediator"))
        values = {
            "actor": display_name(event.actor) if event.actor else _("The platform"),
            "reason": event.after.get("reason", ""),
            "filename": event.after.get("filename", ""),
            "mediator": display_name(mediator) if mediator else "",
            "organisation": organisations.get(event.after.get("organisation"), ""),
        }
        out.append({"at": event.created_at, "text": _(_timeline_words(event.action)) % values})
    return out


# --- the case page -----------------------------------------------------------------------


def _party_view(party: Party, viewer: AbstractBaseUser, viewer_party: Party | None) -> dict:
    """What this viewer may read of a party: the person sees everything of their own;
    staff (anyone who sees the case without being a party) see the phone; the other
    party sees it masked. The ID number is masked for everyone but its owner."""
    is_self = party.user_id is not None and party.user_id == viewer.pk
    staff = viewer_party is None
    profile_obj = getattr(party.user, "profile", None) if party.user_id else None
    id_number = profile_obj.id_number if profile_obj else ""
    return {
        "party": party,
        "is_self": is_self,
        "phone": party.phone if (is_self or staff) else mask_phone(party.phone),
        "email": party.email if (is_self or staff) else "",
        "id_number": id_number if is_self else mask_id_number(id_number),
    }


@login_required
def dispute_detail(request: HttpRequest, dispute_id: int) -> HttpResponse:
    user = request.user
    dispute = selectors.dispute_get_for(user=user, dispute_id=dispute_id)
    viewer_party = selectors.party_of(dispute, user)
    actions = allowed_actions(dispute, user)
    mediators = selectors.mediator_choices(dispute) if {"accept", "assign"} & set(actions) else []
    filed = dispute.status == Dispute.Status.FILED
    invitation_obj = selectors.respondent_invitation(dispute) if filed else None
    return render(
        request,
        "odr/dispute_detail.html",
        {
            "dispute": dispute,
            "parties": [_party_view(p, user, viewer_party) for p in dispute.parties.all()],
            "viewer_party": viewer_party,
            "actions": actions,
            "mediators": mediators,
            "invitation": invitation_obj,
            "can_resend": bool(
                invitation_obj
                and invitation_obj.is_expired()
                and viewer_party is not None
                and viewer_party.role == Party.Role.APPLICANT
            ),
            "timeline": case_timeline(dispute),
            # The sessions and agreement panels, registered by their apps.
            "panels": composition.case_panels(),
            "evidence": dispute.evidence.select_related("uploaded_by"),
            "may_read_messages": selectors.may_read_messages(dispute, user),
            "thread": selectors.dispute_messages(dispute=dispute, user=user),
            "can_write": viewer_party is not None or selectors.is_mediator_of(dispute, user),
            "can_upload": viewer_party is not None and dispute.is_open,
            "message_form": MessageForm(),
            "evidence_form": EvidenceForm(),
            # Mediation failed: the parties are told where they may go next.
            "show_referral": dispute.status == Dispute.Status.FAILED,
            "referral_guidance": _(services.REFERRAL_GUIDANCE),
        },
    )


# --- evidence and messages ---------------------------------------------------------------


@login_required
def evidence_download(request: HttpRequest, dispute_id: int, evidence_id: int) -> FileResponse:
    item = selectors.evidence_get_for(
        user=request.user, dispute_id=dispute_id, evidence_id=evidence_id
    )
    return FileResponse(
        item.file.open("rb"),
        as_attachment=True,
        filename=item.filename,
        content_type=item.content_type,
    )


@login_required
@require_POST
def evidence_upload(request: HttpRequest, dispute_id: int) -> HttpResponse:
    dispute = selectors.dispute_get_for(user=request.user, dispute_id=dispute_id)
    form = EvidenceForm(request.POST, request.FILES)
    if form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            item = services.evidence_add(
                dispute=dispute,
                actor=request.user,
                upload=upload,
                name=upload.name or "",
                size=upload.size,
                description=form.cleaned_data["description"],
            )
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("“%(name)s” is added.") % {"name": item.filename})
    else:
        messages.error(request, _("Choose a file to upload."))
    return redirect(reverse("odr:dispute_detail", args=[dispute.pk]) + "#evidence")


@login_required
@require_POST
def message_post(request: HttpRequest, dispute_id: int) -> HttpResponse:
    dispute = selectors.dispute_get_for(user=request.user, dispute_id=dispute_id)
    try:
        services.message_post(
            dispute=dispute, actor=request.user, text=request.POST.get("text", "")
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect(reverse("odr:dispute_detail", args=[dispute.pk]) + "#messages")


# --- the dispute's actions ---------------------------------------------------------------

_ACTION_DONE: dict[str, str] = {
    "accept": gettext_noop("The case is accepted and given to the mediator."),
    "reject": gettext_noop("The case is refused; the parties are told."),
    "assign": gettext_noop("The case is given to the new mediator."),
    "escalate": gettext_noop("The case is sent to the organisation one level up."),
    "withdraw": gettext_noop("You withdrew the dispute."),
    "fail": gettext_noop("The mediation is closed without agreement; the parties are told."),
}


@login_required
@require_POST
def dispute_action(request: HttpRequest, dispute_id: int, action: str) -> HttpResponse:
    dispute = selectors.dispute_get_for(user=request.user, dispute_id=dispute_id)
    back = reverse("odr:dispute_detail", args=[dispute.pk])
    if action not in PUBLIC_ACTIONS:
        raise Http404
    if action == "withdraw" and not request.POST.get("confirm"):
        messages.error(request, _("Tick the box to confirm that you withdraw the dispute."))
        return redirect(back + "#actions")
    data = {"mediator": request.POST.get("mediator"), "reason": request.POST.get("reason", "")}
    try:
        services.dispute_run_action(dispute=dispute, actor=request.user, action=action, data=data)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect(back + "#actions")
    messages.success(request, _(_ACTION_DONE[action]))
    # After an escalation the old organisation's staff no longer see the case.
    if not selectors.disputes_visible_to(request.user).filter(pk=dispute.pk).exists():
        coordinator = selectors.user_org_ids(request.user, Membership.Role.COORDINATOR)
        return redirect("odr:intake" if coordinator else "odr:dispute_list")
    return redirect(back)
