"""Template helpers for the case page's judicial-confirmation and performance panels
(agreements/court/_case_confirmation.html, _case_performance.html): everything they show,
read through agreements.court.selectors for the user viewing the page. They only read: a
page view writes nothing (the obligations are laid out when the agreement comes into
force, or by the reminders job)."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils import timezone

from agreements.content_check import confirmation_bar
from agreements.court import jurisdiction
from agreements.court import selectors as court_selectors
from agreements.court.performance_forms import (
    ConfirmForm,
    DisputeReportForm,
    ProofForm,
    confirm_key,
    dispute_key,
    done_key,
)
from agreements.court.performance_transitions import ObligationViewer, obligation_actions
from agreements.models import Agreement, ConfirmationRequest
from odr.errors import DomainError
from odr.forms import region_choices
from odr.models import Dispute

register = template.Library()


def _agreement(dispute: Dispute) -> Agreement | None:
    return Agreement.objects.filter(dispute=dispute).first()


def _user(context: dict[str, Any]):
    request = context.get("request")
    return getattr(request, "user", None)


@register.simple_tag(takes_context=True)
def case_confirmation(context: dict[str, Any], dispute: Dispute) -> dict[str, Any]:
    user = _user(context)
    agreement = _agreement(dispute)
    if agreement is None or user is None:
        return {"show": False}
    if agreement.status != Agreement.Status.SIGNED or agreement.effective_at is None:
        return {"show": False}
    calendar_error = ""
    try:
        window = court_selectors.confirmation_window(agreement)
    except DomainError as exc:  # the holiday calendar does not reach the window's end
        window, calendar_error = None, exc.message
    request = court_selectors.confirmation_of(agreement)
    acting = court_selectors.parties_acting_for(agreement, user) if user.is_authenticated else []
    party = acting[0] if acting else None
    # The court: the one chosen by the first applicant, else what the page offers first
    # (the inviting court, or the court where the mediation organisation sits).
    default = jurisdiction.default_court(dispute) if request is None else None
    court = request.court if request is not None else (default.court if default else None)
    done = court_selectors.consents_of(request) if request is not None else {}
    mine = [done[p.pk].consented_at for p in acting if p.pk in done]
    missing_mine = [p for p in acting if p.pk not in done]
    status = request.status if request is not None else None
    bar = confirmation_bar(agreement)
    is_open = window is not None and window.is_open
    CR = ConfirmationRequest.Status
    return {
        "show": True,
        "agreement": agreement,
        "window": window,
        "calendar_error": calendar_error,
        "request": request,
        "court": court,
        "basis_label": (
            ConfirmationRequest.Basis(default.basis).label if default is not None else ""
        ),
        "party": party,
        # SPC interpretation of the CPL Art. 355: the reason instead of the button.
        "bar": bar,
        "confirmable": not bar,
        "can_apply": bool(missing_mine)
        and is_open
        and not bar
        and (request is None or status == CR.AWAITING_CONSENT),
        # The first applicant chooses the court (CPL 2023 Art. 205); later ones join it.
        "choose_court": request is None and dispute.referring_court_id is None,
        "inviting_court": dispute.referring_court if dispute.referring_court_id else None,
        "basis_choices": jurisdiction.basis_choices(),
        "default_basis": jurisdiction.Basis.ORGANISATION,
        "region_choices": region_choices() if request is None and missing_mine else [],
        "applying_for": missing_mine,
        "for_others": [p for p in missing_mine if p.user_id != user.pk],
        # Where the request stands, for the panel's wording.
        "awaiting_consent": status == CR.AWAITING_CONSENT,
        "before_court": status in court_selectors.OPEN_STATUSES,
        "confirmed": status == CR.CONFIRMED,
        "not_accepted": status == CR.NOT_ACCEPTED,
        "withdrawn": status == CR.WITHDRAWN,
        "i_applied": bool(mine) and not missing_mine,
        "consents": [
            {"party": p, "at": done[p.pk].consented_at if p.pk in done else None}
            for p in court_selectors.required_parties(agreement)
        ],
        "is_party": party is not None,
        "is_mediator": dispute.mediator_id == getattr(user, "pk", None),
        "may_package": court_selectors.may_download_package(agreement, user),
        # The court's clerk and judge reach the request's page from the case page too.
        "is_court_staff": request is not None
        and request.status in court_selectors.COURT_STATUSES
        and court_selectors.is_staff_of_court(request, user),
        "soon": window is not None and window.days_left <= 7,
    }


@register.simple_tag(takes_context=True)
def case_performance(context: dict[str, Any], dispute: Dispute) -> dict[str, Any]:
    user = _user(context)
    agreement = _agreement(dispute)
    if agreement is None or user is None or agreement.status != Agreement.Status.SIGNED:
        return {"show": False}
    today = timezone.localdate()
    viewer = ObligationViewer(user)
    sent = context.get("case_sent") or {}
    rows = []
    for obligation in court_selectors.obligations_of(agreement):
        # The obligation's machine says what this viewer may do: the obligee marks it
        # performed, the obligor reports it, the obligee answers a report (issue 11, L3).
        actions = obligation_actions(obligation, user, viewer=viewer)
        pk = obligation.pk
        # Forms sent back with their errors (odr.views.cases.case_page) stay in place,
        # even when the obligation has moved on meanwhile: the refusal says so.
        done = sent.get(done_key(pk)) or ProofForm(obligation_id=pk)
        confirm = sent.get(confirm_key(pk)) or ConfirmForm(obligation_id=pk)
        disputed = sent.get(dispute_key(pk)) or DisputeReportForm(obligation_id=pk)
        rows.append(
            {
                "o": obligation,
                "overdue": obligation.is_overdue(today),
                "days_left": (obligation.due_date - today).days if obligation.due_date else None,
                "can_mark": "mark" in actions or (done.is_bound and "report" not in actions),
                "can_report": "report" in actions,
                "can_answer": "confirm" in actions or confirm.is_bound or disputed.is_bound,
                "done_form": done,
                "confirm_form": confirm,
                "dispute_form": disputed,
            }
        )
    guidance = court_selectors.default_guidance(agreement, today)
    return {
        "show": True,
        "agreement": agreement,
        "rows": rows,
        "guidance": guidance,
        "enforcement": guidance is not None and guidance.route == court_selectors.ENFORCEMENT,
    }
