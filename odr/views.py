"""Pages for people. Thin: parse, authorise through odr.selectors, call one service from
odr.services, render. A DomainError becomes a message next to the field it is about."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django.views.decorators.http import require_POST

from odr import composition, selectors, services, stats
from odr.errors import DomainError, NotFound
from odr.forms import (
    DisputeForm,
    EvidenceForm,
    InvitationAcceptForm,
    MessageForm,
    ProfileForm,
    ReasonForm,
    add_domain_error,
)
from odr.idnumber import mask_id_number, mask_phone
from odr.lifecycle import words_for
from odr.models import Dispute, Invitation, Membership, Organisation, Party, Profile
from odr.transitions import PUBLIC_ACTIONS, allowed_actions

User = get_user_model()

# services.REFERRAL_GUIDANCE is plain English; marked here so the catalogue carries it.
gettext_noop(
    "You may bring the dispute to the basic people's court (civil litigation), or, where a "
    "contract names arbitration or for labour matters, to the arbitration commission. "
    "What was said in mediation is not binding on them."
)


def _is_xhr(request: HttpRequest) -> bool:
    return request.headers.get("X-Requested-With") == "XMLHttpRequest"


def _get_dispute(request: HttpRequest, dispute_id: int) -> Dispute:
    """404 for anything the user may not see, exactly as for what does not exist."""
    try:
        return selectors.dispute_get_for(user=request.user, dispute_id=dispute_id)
    except NotFound as exc:
        raise Http404 from exc


# --- home, profile ---------------------------------------------------------------------


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "odr/home.html")


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    current = Profile.objects.filter(user=request.user).first()
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
                response.set_cookie(settings.LANGUAGE_COOKIE_NAME, saved.language)
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


# --- filing ----------------------------------------------------------------------------


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
    profile_obj = Profile.objects.filter(user=request.user).first()
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


# --- the respondent's invitation -------------------------------------------------------


def _invitation_or_page(request: HttpRequest, token: str) -> Invitation | HttpResponse:
    try:
        invitation = services.invitation_for_token(token)
    except NotFound:
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
    decline_form: ReasonForm | None = None,
    status: int = 200,
) -> HttpResponse:
    dispute = invitation.party.dispute
    applicant = dispute.parties.filter(role=Party.Role.APPLICANT).first()
    here = reverse("odr:invitation", args=[invitation.token])
    return render(
        request,
        "odr/invitation.html",
        {
            "invitation": invitation,
            "dispute": dispute,
            "applicant": applicant,
            "respondent": invitation.party,
            "own": request.user.is_authenticated and dispute.filed_by_id == request.user.pk,
            "accept_form": accept_form or InvitationAcceptForm(),
            "decline_form": decline_form or ReasonForm(),
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
    form_class: type[InvitationAcceptForm] | type[ReasonForm],
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
    if form.is_valid():
        try:
            dispute = reply(form.cleaned_data)
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.add_message(request, level, done)
            return redirect("odr:dispute_detail", dispute_id=dispute.pk)
    return _invitation_page(request, found, status=400, **{form_name: form})


@login_required
def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    return _invitation_reply(
        request,
        token,
        form_class=InvitationAcceptForm,
        form_name="accept_form",
        reply=lambda data: services.invitation_accept(
            token=token, user=request.user, consent_online=data["consent"]
        ),
        level=messages.SUCCESS,
        done=_("Thank you. The mediation organisation will now take up the case."),
    )


@login_required
def invitation_decline(request: HttpRequest, token: str) -> HttpResponse:
    return _invitation_reply(
        request,
        token,
        form_class=ReasonForm,
        form_name="decline_form",
        reply=lambda data: services.invitation_decline(
            token=token, user=request.user, reason=data["reason"]
        ),
        level=messages.INFO,
        done=_("You declined mediation. The applicant has been told."),
    )


# --- lists -----------------------------------------------------------------------------


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
    org_ids = selectors.user_org_ids(request.user, Membership.Role.COORDINATOR)
    if not org_ids:
        raise PermissionDenied
    queue = list(selectors.intake_queue_for(request.user))
    organisations = list(Organisation.objects.filter(pk__in=org_ids))
    mediators = {org.pk: selectors.mediators_with_load(org) for org in organisations}
    return render(
        request,
        "odr/intake.html",
        {
            "waiting": [d for d in queue if d.status == Dispute.Status.AWAITING_INTAKE],
            "in_mediation": [d for d in queue if d.status == Dispute.Status.IN_MEDIATION],
            "filed": [d for d in queue if d.status == Dispute.Status.FILED],
            "mediators": mediators,
            "organisations": organisations,
        },
    )


# --- the case page ---------------------------------------------------------------------


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


def _timeline(dispute: Dispute) -> list[dict[str, Any]]:
    """The story of the case in words: each audit event whose action has timeline words
    (odr.lifecycle's registry; moment-to-moment room events have none)."""
    events = [e for e in selectors.dispute_timeline(dispute) if _timeline_words(e.action)]
    user_ids = {e.after.get("mediator") for e in events if isinstance(e.after.get("mediator"), int)}
    org_ids = {e.after.get("organisation") for e in events}
    users = {u.pk: u for u in User.objects.filter(pk__in=user_ids).select_related("profile")}
    orgs = dict(Organisation.objects.filter(pk__in=org_ids).values_list("pk", "name"))
    out = []
    for event in events:
        actor = services.display_name(event.actor) if event.actor else _("The platform")
        mediator = users.get(event.after.get("mediator"))
        values = {
            "actor": actor,
            "reason": event.after.get("reason", ""),
            "filename": event.after.get("filename", ""),
            "mediator": services.display_name(mediator) if mediator else "",
            "organisation": orgs.get(event.after.get("organisation"), ""),
        }
        out.append({"at": event.created_at, "text": _(_timeline_words(event.action)) % values})
    return out


def _timeline_words(action: str) -> str | None:
    words = words_for(action)
    return words.timeline if words else None


@login_required
def dispute_detail(request: HttpRequest, dispute_id: int) -> HttpResponse:
    dispute = _get_dispute(request, dispute_id)
    user = request.user
    viewer_party = selectors.party_of(dispute, user)
    actions = allowed_actions(dispute, user)
    mediators = (
        selectors.mediators_with_load(dispute.organisation)
        if dispute.organisation and {"accept", "assign"} & set(actions)
        else []
    )
    invitation_obj = (
        selectors.respondent_invitation(dispute) if dispute.status == Dispute.Status.FILED else None
    )
    can_write = viewer_party is not None or selectors.is_mediator_of(dispute, user)
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
            "timeline": _timeline(dispute),
            # The sessions and agreement panels, registered by their apps.
            "panels": composition.case_panels(),
            "evidence": dispute.evidence.select_related("uploaded_by"),
            "thread": selectors.dispute_messages(dispute),
            "can_write": can_write,
            "can_upload": viewer_party is not None and dispute.is_open,
            "message_form": MessageForm(),
            "evidence_form": EvidenceForm(),
            "referral_guidance": _(services.REFERRAL_GUIDANCE),
        },
    )


@login_required
def evidence_download(request: HttpRequest, dispute_id: int, evidence_id: int) -> FileResponse:
    try:
        item = selectors.evidence_get_for(
            user=request.user, dispute_id=dispute_id, evidence_id=evidence_id
        )
    except NotFound as exc:
        raise Http404 from exc
    return FileResponse(
        item.file.open("rb"),
        as_attachment=True,
        filename=item.filename,
        content_type=item.content_type,
    )


@login_required
@require_POST
def evidence_upload(request: HttpRequest, dispute_id: int) -> HttpResponse:
    dispute = _get_dispute(request, dispute_id)
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
    dispute = _get_dispute(request, dispute_id)
    try:
        services.message_post(
            dispute=dispute, actor=request.user, text=request.POST.get("text", "")
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect(reverse("odr:dispute_detail", args=[dispute.pk]) + "#messages")


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
    dispute = _get_dispute(request, dispute_id)
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


@login_required
@require_POST
def invitation_resend(request: HttpRequest, dispute_id: int) -> HttpResponse:
    dispute = _get_dispute(request, dispute_id)
    try:
        services.invitation_resend(dispute=dispute, actor=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("A new invitation is on its way to the other side."))
    return redirect("odr:dispute_detail", dispute_id=dispute.pk)


# --- public statistics -----------------------------------------------------------------


def _chart(buckets: list[dict[str, Any]]) -> dict[str, Any]:
    """Rows of a horizontal bar chart: each row a label line, then a bar for received with
    the resolved part drawn over it. Drawn on the server as inline SVG (no script); bar
    widths are percentages, so the chart fills a phone or a desk screen and the text keeps
    its size."""
    top = max((b["received"] for b in buckets), default=0) or 1
    rows = []
    y = 0
    for bucket in buckets:
        rows.append(
            {
                **bucket,
                "label_y": y + 14,
                "bar_y": y + 20,
                "received_pct": round(bucket["received"] / top * 100, 1),
                "resolved_pct": round(bucket["resolved"] / top * 100, 1),
                "rate": None
                if bucket["success_rate"] is None
                else round(bucket["success_rate"] * 100),
            }
        )
        y += 46
    return {"rows": rows, "height": max(y, 20)}


def stats_page(request: HttpRequest) -> HttpResponse:
    data = stats.public_stats()
    return render(
        request,
        "odr/stats.html",
        {
            "stats": data,
            "success_pct": None
            if data["success_rate"] is None
            else round(data["success_rate"] * 100),
            "by_category": _chart(data["by_category"]),
            "by_region": _chart(data["by_region"]),
        },
    )
