"""The case page, its timeline, and what is done from it: the dispute's actions, messages
and evidence."""

from __future__ import annotations

from typing import Any

from django import forms
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
from odr.case_forms import ButtonForm, HandoffForm, action_form
from odr.errors import DomainError
from odr.forms import EvidenceForm, MessageForm, add_domain_error
from odr.lifecycle import words_for
from odr.models import Dispute, Membership, Party
from odr.party_forms import AgentForm, PartyForm, StatementForm
from odr.party_forms import add_error as add_party_error
from odr.people import display_name
from odr.services import parties as parties_rules
from odr.transitions import MACHINE, PUBLIC_ACTIONS, allowed_actions

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
            # Issue 10: the window a case was handed to, the case it may repeat (names
            # recorded in the event, so the timeline reads no more rows).
            "window": event.after.get("window_name", ""),
            "original": event.after.get("original", ""),
        }
        out.append({"at": event.created_at, "text": _(_timeline_words(event.action)) % values})
    return out


# --- the case page -----------------------------------------------------------------------


def _party_views(
    dispute: Dispute, viewer: AbstractBaseUser, sent: dict[str, forms.Form]
) -> list[dict[str, Any]]:
    """Each party as this viewer may read it: in full for the parties, the mediator, the
    organisation's staff and the court (selectors.may_see_particulars), masked for anyone
    else; with the form to complete the particulars and to name an agent for those who
    may, while the agreement is not yet opened for signing."""
    full = selectors.may_see_particulars(dispute, viewer)
    editable = services.particulars_editable(dispute)
    agents = list(selectors.agents_of(dispute))
    out = []
    for party in dispute.parties.all():
        may_edit = editable and parties_rules.may_edit_party(dispute, party, viewer)
        may_agents = editable and parties_rules.may_manage_agents(dispute, party, viewer)
        prefix = f"party{party.pk}"
        out.append(
            {
                "party": party,
                "record": selectors.party_record(party, masked=not full),
                "is_self": party.user_id is not None and party.user_id == viewer.pk,
                "full": full,
                "agents": [
                    {
                        "agent": a,
                        "record": selectors.agent_record(a, masked=not full),
                        "revoke_form": sent.get(f"revoke:{a.pk}")
                        or ButtonForm(id_prefix=f"revoke-{a.pk}"),
                    }
                    for a in agents
                    if a.party_id == party.pk
                ],
                # A form sent back stays, with the refusal, even if no longer offered.
                "form": sent.get(f"party:{party.pk}")
                or (PartyForm(initial=_party_initial(party), prefix=prefix) if may_edit else None),
                "agent_form": sent.get(f"agent:{party.pk}")
                or (AgentForm(prefix=f"agent{party.pk}") if may_agents else None),
                "may_agents": may_agents,
            }
        )
    return out


def _party_initial(party: Party) -> dict[str, Any]:
    return {f: getattr(party, f) for f in parties_rules.PARTY_FIELDS}


@login_required
def dispute_detail(request: HttpRequest, dispute_id: int) -> HttpResponse:
    dispute = selectors.dispute_get_for(user=request.user, dispute_id=dispute_id)
    return case_page(request, dispute)


def case_page(
    request: HttpRequest, dispute: Dispute, sent: dict[str, forms.Form] | None = None
) -> HttpResponse:
    """The case page. `sent`: a form of the page sent back with its errors, by its key
    (`action:reject`, `party:5`, `obligation-done:7`, ...; the apps above send theirs
    through here too), shown in place with the error summary and the values typed kept,
    with status 400 (issue 12; as the court's acts, agreements.court.views)."""
    user = request.user
    sent = sent or {}
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
            "parties": _party_views(dispute, user, sent),
            "statements": selectors.statements_of(dispute),
            "particulars_full": selectors.may_see_particulars(dispute, user),
            # A form sent back always shows (with the refusal, if the case moved on).
            "statement_form": sent.get("statement")
            or (
                StatementForm()
                if (
                    viewer_party is not None
                    and viewer_party.role == Party.Role.RESPONDENT
                    and dispute.is_open
                )
                else None
            ),
            "viewer_party": viewer_party,
            "actions": actions,
            "action_forms": _action_forms(dispute, actions, mediators, sent),
            "invitation": invitation_obj,
            "can_resend": bool(
                invitation_obj
                and invitation_obj.is_expired()
                and viewer_party is not None
                and viewer_party.role == Party.Role.APPLICANT
            )
            or "resend" in sent,
            "resend_form": sent.get("resend") or ButtonForm(id_prefix="resend"),
            "timeline": case_timeline(dispute),
            # The sessions and agreement panels, registered by their apps; their forms
            # sent back read `case_sent` (agreements' court_tags, odr_hotline).
            "panels": composition.case_panels(),
            "case_sent": sent,
            "evidence": dispute.evidence.select_related("uploaded_by"),
            "may_read_messages": selectors.may_read_messages(dispute, user),
            "thread": selectors.dispute_messages(dispute=dispute, user=user),
            "can_write": viewer_party is not None
            or selectors.is_mediator_of(dispute, user)
            or "message" in sent,
            "can_upload": (viewer_party is not None and dispute.is_open) or "evidence" in sent,
            "message_form": sent.get("message") or MessageForm(auto_id="message-%s"),
            "evidence_form": sent.get("evidence") or EvidenceForm(auto_id="evidence-%s"),
            # Mediation failed: the parties are told where they may go next.
            "show_referral": dispute.status == Dispute.Status.FAILED,
            "referral_guidance": _(services.REFERRAL_GUIDANCE),
            **_centre_context(dispute, user, sent),
        },
        status=400 if sent else 200,
    )


def _action_forms(
    dispute: Dispute,
    actions: list[str],
    mediators: list[tuple[Any, int]],
    sent: dict[str, forms.Form],
) -> list[dict[str, Any]]:
    """Each action's form, the one sent back in place of its blank; an action sent back
    that the case no longer offers (someone acted first) still shows, with the refusal."""
    shown = list(actions) + [
        key.split(":", 1)[1]
        for key in sent
        if key.startswith("action:") and key.split(":", 1)[1] not in actions
    ]
    others = [(m, load) for m, load in mediators if m.pk != dispute.mediator_id]
    out = []
    for action in shown:
        form = sent.get(f"action:{action}") or action_form(action, mediators=others)
        out.append(
            {
                "action": action,
                "form": form,
                "open": form.is_bound or (len(actions) == 1 and action == "accept"),
            }
        )
    return out


def _centre_context(
    dispute: Dispute, user: AbstractBaseUser, sent: dict[str, forms.Form]
) -> dict[str, Any]:
    """Issue 10: the windows the case may be handed to (for who may hand it), and the
    possible duplicates with the decision for its coordinator."""
    may_handoff = dispute.window_id is not None or dispute.channel == Dispute.Channel.WALK_IN
    may_handoff = may_handoff and MACHINE.refusal("handoff", dispute, user) is None
    links = selectors.duplicate_links_of(dispute)
    may_decide = bool(links) and MACHINE.refusal("merge", dispute, user) is None
    windows = (
        [w for w in selectors.windows_of(dispute.organisation_id) if w.pk != dispute.window_id]
        if may_handoff
        else []
    )
    handoff_form = sent.get("handoff") or HandoffForm(windows=windows)
    return {
        "handoff_windows": windows,
        "handoff_form": handoff_form if windows or handoff_form.is_bound else None,
        "duplicate_links": [
            {
                "link": link,
                "other": link.original if link.dispute_id == dispute.pk else link.dispute,
                # A decision sent back with its refusal stays in place to show it.
                "decidable": (
                    may_decide
                    and link.dispute_id == dispute.pk
                    and link.decision == link.Decision.OPEN
                )
                or f"duplicate:{link.pk}" in sent,
                "form": sent.get(f"duplicate:{link.pk}")
                or ButtonForm(id_prefix=f"duplicate-{link.pk}"),
            }
            for link in links
        ],
        "receipt": dispute.channel == Dispute.Channel.WALK_IN,
    }


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
    form = EvidenceForm(request.POST, request.FILES, auto_id="evidence-%s")
    if not form.is_valid():
        return case_page(request, dispute, {"evidence": form})
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
        add_domain_error(form, exc)
        return case_page(request, dispute, {"evidence": form})
    messages.success(request, _("“%(name)s” is added.") % {"name": item.filename})
    return redirect(reverse("odr:dispute_detail", args=[dispute.pk]) + "#evidence")


@login_required
@require_POST
def message_post(request: HttpRequest, dispute_id: int) -> HttpResponse:
    dispute = selectors.dispute_get_for(user=request.user, dispute_id=dispute_id)
    form = MessageForm(request.POST, auto_id="message-%s")
    if not form.is_valid():
        return case_page(request, dispute, {"message": form})
    try:
        services.message_post(dispute=dispute, actor=request.user, text=form.cleaned_data["text"])
    except DomainError as exc:
        add_domain_error(form, exc)
        return case_page(request, dispute, {"message": form})
    return redirect(reverse("odr:dispute_detail", args=[dispute.pk]) + "#messages")


# --- the parties' particulars, agents and the respondent's statement ----------------------


@login_required
@require_POST
def party_update(request: HttpRequest, dispute_id: int, party_id: int) -> HttpResponse:
    dispute, party = selectors.party_get_for(
        user=request.user, dispute_id=dispute_id, party_id=party_id
    )
    form = PartyForm(request.POST, prefix=f"party{party.pk}")
    if not form.is_valid():
        return case_page(request, dispute, {f"party:{party.pk}": form})
    try:
        services.party_update(actor=request.user, dispute=dispute, party=party, **form.cleaned_data)
    except DomainError as exc:
        add_party_error(form, exc)
        return case_page(request, dispute, {f"party:{party.pk}": form})
    messages.success(request, _("The party's particulars are saved."))
    return redirect(reverse("odr:dispute_detail", args=[dispute.pk]) + f"#party-{party.pk}")


@login_required
@require_POST
def agent_add(request: HttpRequest, dispute_id: int, party_id: int) -> HttpResponse:
    dispute, party = selectors.party_get_for(
        user=request.user, dispute_id=dispute_id, party_id=party_id
    )
    form = AgentForm(request.POST, request.FILES, prefix=f"agent{party.pk}")
    if not form.is_valid():
        return case_page(request, dispute, {f"agent:{party.pk}": form})
    data = form.cleaned_data
    upload = data["power_of_attorney"]
    try:
        agent = services.agent_add(
            actor=request.user,
            dispute=dispute,
            party=party,
            name=data["name"],
            scope=data["scope"],
            relation=data["relation"],
            id_number=data["id_number"],
            phone=data["phone"],
            powers=data["powers"],
            upload=upload,
            filename=upload.name or "",
            size=upload.size,
        )
    except DomainError as exc:
        add_party_error(form, exc)
        return case_page(request, dispute, {f"agent:{party.pk}": form})
    messages.success(request, _("%(name)s is named as agent.") % {"name": agent.name})
    return redirect(reverse("odr:dispute_detail", args=[dispute.pk]) + f"#party-{party.pk}")


@login_required
@require_POST
def agent_revoke(
    request: HttpRequest, dispute_id: int, party_id: int, agent_id: int
) -> HttpResponse:
    dispute, agent = selectors.agent_get_for(
        user=request.user, dispute_id=dispute_id, party_id=party_id, agent_id=agent_id
    )
    try:
        services.agent_revoke(actor=request.user, dispute=dispute, agent=agent)
    except DomainError as exc:
        form = ButtonForm(request.POST, id_prefix=f"revoke-{agent.pk}")
        form.add_error(None, exc.message)
        return case_page(request, dispute, {f"revoke:{agent.pk}": form})
    messages.success(request, _("The agent's authority is revoked."))
    return redirect(reverse("odr:dispute_detail", args=[dispute.pk]) + f"#party-{party_id}")


@login_required
def agent_document(
    request: HttpRequest, dispute_id: int, party_id: int, agent_id: int
) -> FileResponse:
    agent = selectors.attorney_document_for(
        user=request.user, dispute_id=dispute_id, party_id=party_id, agent_id=agent_id
    )
    return FileResponse(
        agent.power_of_attorney.open("rb"),
        as_attachment=True,
        filename=agent.filename,
        content_type=agent.content_type,
    )


@login_required
@require_POST
def statement_add(request: HttpRequest, dispute_id: int) -> HttpResponse:
    dispute = selectors.dispute_get_for(user=request.user, dispute_id=dispute_id)
    form = StatementForm(request.POST)
    if not form.is_valid():
        return case_page(request, dispute, {"statement": form})
    try:
        services.statement_add(actor=request.user, dispute=dispute, text=form.cleaned_data["text"])
    except DomainError as exc:
        add_party_error(form, exc)
        return case_page(request, dispute, {"statement": form})
    messages.success(request, _("Your statement is added beside the claim."))
    return redirect(reverse("odr:dispute_detail", args=[dispute.pk]) + "#statements")


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
    if action not in PUBLIC_ACTIONS:
        raise Http404
    # Whom the case may be given to: read only for the actions that give it.
    mediators = selectors.mediator_choices(dispute) if action in ("accept", "assign") else []
    others = [(m, load) for m, load in mediators if m.pk != dispute.mediator_id]
    form = action_form(action, request.POST, mediators=others)
    if not form.is_valid():
        return case_page(request, dispute, {f"action:{action}": form})
    data = {
        "mediator": form.cleaned_data.get("mediator"),
        "reason": form.cleaned_data.get("reason", ""),
    }
    try:
        services.dispute_run_action(dispute=dispute, actor=request.user, action=action, data=data)
    except DomainError as exc:
        add_domain_error(form, exc)
        return case_page(request, dispute, {f"action:{action}": form})
    messages.success(request, _(_ACTION_DONE[action]))
    # After an escalation the old organisation's staff no longer see the case.
    if not selectors.disputes_visible_to(request.user).filter(pk=dispute.pk).exists():
        coordinator = selectors.user_org_ids(request.user, Membership.Role.COORDINATOR)
        return redirect("odr:intake" if coordinator else "odr:dispute_list")
    return redirect(reverse("odr:dispute_detail", args=[dispute.pk]))
