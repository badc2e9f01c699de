"""Template helpers for the case page's judicial-confirmation and performance panels
(agreements/court/_case_confirmation.html, _case_performance.html): everything they show,
read through agreements.court.selectors for the user viewing the page. They only read: a
page view writes nothing (the obligations are laid out when the agreement comes into
force, or by the reminders job)."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils import timezone

from agreements.court import selectors as court_selectors
from agreements.court.performance_transitions import ObligationViewer, obligation_actions
from agreements.models import Agreement, ConfirmationRequest
from odr import selectors as odr_selectors
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
    window = court_selectors.confirmation_window(agreement)
    if window is None:
        return {"show": False}
    request = court_selectors.confirmation_of(agreement)
    party = odr_selectors.party_of(dispute, user)
    organisation = dispute.organisation
    court = (
        request.court
        if request is not None
        else (odr_selectors.court_for_organisation(organisation) if organisation else None)
    )
    consented = {}
    if request is not None:
        consented = {
            "applicant": request.applicant_consented_at,
            "respondent": request.respondent_consented_at,
        }
    mine = consented.get(party.role) if party is not None else None
    status = request.status if request is not None else None
    CR = ConfirmationRequest.Status
    return {
        "show": True,
        "agreement": agreement,
        "window": window,
        "request": request,
        "court": court,
        "party": party,
        "confirmable": agreement.matter == Agreement.Matter.CIVIL,
        "can_apply": party is not None
        and window.is_open
        and mine is None
        and agreement.matter == Agreement.Matter.CIVIL
        and (request is None or status == CR.AWAITING_CONSENT),
        # Where the request stands, for the panel's wording.
        "awaiting_consent": status == CR.AWAITING_CONSENT,
        "before_court": status in court_selectors.OPEN_STATUSES,
        "confirmed": status == CR.CONFIRMED,
        "not_accepted": status == CR.NOT_ACCEPTED,
        "withdrawn": status == CR.WITHDRAWN,
        "i_applied": mine,
        "consents": [{"party": p, "at": consented.get(p.role)} for p in dispute.parties.all()],
        "is_party": party is not None,
        "is_mediator": dispute.mediator_id == getattr(user, "pk", None),
        "may_package": court_selectors.may_download_package(agreement, user),
        # The court's clerk and judge reach the request's page from the case page too.
        "is_court_staff": request is not None
        and request.status in court_selectors.COURT_STATUSES
        and court_selectors.is_staff_of_court(request, user),
        "soon": window.days_left <= 7,
    }


@register.simple_tag(takes_context=True)
def case_performance(context: dict[str, Any], dispute: Dispute) -> dict[str, Any]:
    user = _user(context)
    agreement = _agreement(dispute)
    if agreement is None or user is None or court_selectors.confirmation_window(agreement) is None:
        return {"show": False}
    today = timezone.localdate()
    viewer = ObligationViewer(user)
    rows = []
    for obligation in court_selectors.obligations_of(agreement):
        # The obligation's machine says what this viewer may do: the obligee marks it
        # performed, the obligor reports it, the obligee answers a report (issue 11, L3).
        actions = obligation_actions(obligation, user, viewer=viewer)
        rows.append(
            {
                "o": obligation,
                "overdue": obligation.is_overdue(today),
                "days_left": (obligation.due_date - today).days if obligation.due_date else None,
                "can_mark": "mark" in actions,
                "can_report": "report" in actions,
                "can_answer": "confirm" in actions,
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
