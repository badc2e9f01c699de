"""The court portal (/court/, court staff only: everyone else gets 404) and the parties'
forms on the case page (apply for confirmation, mark an obligation performed). Thin:
find through a selector, call one service, redirect with a message.

In the portal each of the court's people sees their own acts (DESIGN.md §3): the clerk
dockets under the court's case number and extends; the judge rules, or refuses to accept
an application not yet docketed."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from agreements.court import selectors as court_selectors
from agreements.court import services
from agreements.court.documents import party_infos
from agreements.court.transitions import allowed_actions
from agreements.models import ConfirmationRequest
from odr.errors import DomainError

CR = ConfirmationRequest.Status


class AcceptForm(forms.Form):
    court_case_number = forms.CharField(
        label=gettext_lazy("The court's case number"),
        max_length=60,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
        help_text=gettext_lazy(
            "As the court's case system gave it, e.g. （2026）浙0523民特1号: full-width "
            "brackets, no leading zeros."
        ),
    )


class ExtendForm(forms.Form):
    reason = forms.CharField(label=gettext_lazy("Reason"), max_length=2000)


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(
        label=gettext_lazy("Decision"),
        choices=[
            (CR.CONFIRMED, gettext_lazy("Confirm: the agreement is valid")),
            (CR.REJECTED, gettext_lazy("Reject the application")),
            (CR.NOT_ACCEPTED, gettext_lazy("Do not accept the application (不予受理)")),
        ],
        widget=forms.RadioSelect,
    )
    reason = forms.CharField(
        label=gettext_lazy("Reasons"),
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=gettext_lazy("Required for a rejection; printed in the ruling."),
    )


class RulingForm(DecisionForm):
    """A judge's ruling on a docketed application: confirmed or rejected."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["decision"].choices = [
            c for c in self.fields["decision"].choices if c[0] != CR.NOT_ACCEPTED
        ]


class NotAcceptForm(forms.Form):
    """A judge's refusal to accept an application not yet docketed (不予受理)."""

    decision = forms.CharField(widget=forms.HiddenInput, initial=CR.NOT_ACCEPTED)
    reason = forms.CharField(
        label=gettext_lazy("Reasons for not accepting"),
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=gettext_lazy(
            "For example: a matter of personal status, or outside this court's jurisdiction. "
            "Printed in the ruling."
        ),
    )


class ProofForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("Proof (receipt, transfer record, photo)"), required=False
    )
    note = forms.CharField(
        label=gettext_lazy("Note"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class DisputeReportForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Why the report is not right"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


def _court_request(request: HttpRequest, request_id: int) -> ConfirmationRequest:
    # NotFound rises to odr.middleware.NotFoundMiddleware, which answers 404.
    return court_selectors.court_request_get_for(user=request.user, request_id=request_id)


def _require_court_staff(request: HttpRequest) -> None:
    if not court_selectors.is_court_staff(request.user):
        raise Http404


@login_required
def queue(request: HttpRequest) -> HttpResponse:
    _require_court_staff(request)
    status = request.GET.get("status") or ""
    if status not in CR.values:
        status = ""
    items = [
        {
            "request": r,
            "deadline": court_selectors.current_deadline(r),
            "overdue": court_selectors.overdue_kind(r),
        }
        for r in court_selectors.court_requests_for(request.user, status=status or None)
    ]
    return render(
        request,
        "agreements/court/queue.html",
        {
            "items": items,
            "status": status,
            "statuses": [(s, label) for s, label in CR.choices if s != CR.AWAITING_CONSENT],
        },
    )


@login_required
def request_detail(request: HttpRequest, request_id: int) -> HttpResponse:
    found = _court_request(request, request_id)
    actions = allowed_actions(found, request.user)
    return render(
        request,
        "agreements/court/request.html",
        {
            "req": found,
            "dispute": found.agreement.dispute,
            "agreement": found.agreement,
            "parties": party_infos(found.agreement),
            "evidence": court_selectors.evidence_of(found.agreement.dispute),
            "actions": actions,
            # Still before the court, and its next step is another court role's.
            "waiting": found.status in court_selectors.OPEN_STATUSES
            and not {"accept", "decide", "not_accept"} & set(actions),
            "overdue": court_selectors.overdue_kind(found),
            "deadline": court_selectors.current_deadline(found),
            "accept_form": AcceptForm(),
            "extend_form": ExtendForm(),
            "decision_form": RulingForm(),
            "not_accept_form": NotAcceptForm(),
        },
    )


def _back(request_id: int) -> HttpResponse:
    return redirect(reverse("court:request", args=[request_id]))


@login_required
@require_POST
def request_accept(request: HttpRequest, request_id: int) -> HttpResponse:
    found = _court_request(request, request_id)
    form = AcceptForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Type the court's case number."))
        return _back(found.pk)
    try:
        done = services.confirmation_accept(
            request=found,
            actor=request.user,
            court_case_number=form.cleaned_data["court_case_number"],
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Accepted as case %(number)s.") % {"number": done.case_number})
    return _back(found.pk)


@login_required
@require_POST
def request_extend(request: HttpRequest, request_id: int) -> HttpResponse:
    found = _court_request(request, request_id)
    form = ExtendForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give the reason for extending the period."))
        return _back(found.pk)
    try:
        services.confirmation_extend(
            request=found, actor=request.user, reason=form.cleaned_data["reason"]
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("The period to rule is extended by 10 days."))
    return _back(found.pk)


@login_required
@require_POST
def request_decide(request: HttpRequest, request_id: int) -> HttpResponse:
    found = _court_request(request, request_id)
    form = DecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose to confirm or to reject."))
        return _back(found.pk)
    decision = form.cleaned_data["decision"]
    try:
        services.confirmation_decide(
            request=found,
            actor=request.user,
            decision=decision,
            reason=form.cleaned_data["reason"],
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("The ruling is issued, sealed and served on the parties."))
    return _back(found.pk)


# --- the parties, from the case page -----------------------------------------------------


def _case_url(dispute_id: int, anchor: str) -> str:
    return reverse("odr:dispute_detail", args=[dispute_id]) + anchor


@login_required
@require_POST
def confirmation_apply(request: HttpRequest, agreement_id: int) -> HttpResponse:
    agreement = court_selectors.agreement_get_for(user=request.user, agreement_id=agreement_id)
    # The court's ground and place (CPL 2023 Art. 205): the first applicant's choice; the
    # service checks them and refuses a later party's choice of another court.
    basis = request.POST.get("basis", "").strip()[:20] or None
    region = request.POST.get("region", "").strip()[:12] or None
    try:
        done = services.confirmation_consent(
            agreement=agreement, actor=request.user, basis=basis, region=region
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        if done.status == CR.PENDING:
            messages.success(
                request,
                _("The joint application is sent to %(court)s.") % {"court": done.court.name},
            )
        else:
            messages.success(
                request,
                _("Your application to %(court)s is recorded; it now needs the other parties'.")
                % {"court": done.court.name},
            )
    return redirect(_case_url(agreement.dispute_id, "#confirmation"))


@login_required
@require_POST
def obligation_done(request: HttpRequest, obligation_id: int) -> HttpResponse:
    obligation = court_selectors.obligation_get_for(user=request.user, obligation_id=obligation_id)
    form = ProofForm(request.POST, request.FILES)
    if form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            done = services.performance_mark_done(
                obligation=obligation,
                actor=request.user,
                note=form.cleaned_data["note"],
                proof=upload,
                proof_name=upload.name if upload else "",
                proof_size=upload.size if upload else None,
            )
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            if done.is_done:
                messages.success(request, _("The obligation is marked performed."))
            else:
                messages.success(
                    request,
                    _(
                        "Your report is sent: it counts as performed once the other party "
                        "confirms it."
                    ),
                )
    else:
        messages.error(request, _("The proof could not be read; try again."))
    return _obligation_back(obligation)


@login_required
@require_POST
def obligation_confirm(request: HttpRequest, obligation_id: int) -> HttpResponse:
    obligation = court_selectors.obligation_get_for(user=request.user, obligation_id=obligation_id)
    try:
        services.performance_confirm(obligation=obligation, actor=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("You confirmed that the obligation was performed."))
    return _obligation_back(obligation)


@login_required
@require_POST
def obligation_dispute(request: HttpRequest, obligation_id: int) -> HttpResponse:
    obligation = court_selectors.obligation_get_for(user=request.user, obligation_id=obligation_id)
    form = DisputeReportForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Say why the report is not right."))
        return _obligation_back(obligation)
    try:
        services.performance_dispute(
            obligation=obligation, actor=request.user, reason=form.cleaned_data["reason"]
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("The report is disputed; the other party is told why."))
    return _obligation_back(obligation)


def _obligation_back(obligation) -> HttpResponse:
    return redirect(_case_url(obligation.agreement.dispute_id, f"#obligation-{obligation.pk}"))
