"""The court portal (/court/, court staff only: everyone else gets 404) and the parties'
forms on the case page (apply for confirmation, mark an obligation performed). Thin:
find through a selector, call one service, redirect with a message.

In the portal each of the court's people sees their own acts (DESIGN.md §3): the clerk
dockets under the court's case number and extends; the judge rules, or refuses to accept
an application not yet docketed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from agreements.court import selectors as court_selectors
from agreements.court import services
from agreements.court.documents import party_infos
from agreements.court.performance_forms import (
    ConfirmForm,
    DisputeReportForm,
    ProofForm,
    confirm_key,
    dispute_key,
    done_key,
)
from agreements.court.transitions import (
    MACHINE,
    allowed_actions,
    inquiries_to_sign,
    inquiry_started,
)
from agreements.forms import SignForm as AgreementSignForm
from agreements.models import ConfirmationRequest
from odr import filters as list_filters
from odr import pagination, people
from odr import selectors as odr_selectors
from odr.errors import DomainError
from odr.views import list_html
from odr.views.cases import case_page

CR = ConfirmationRequest.Status


class _ActForm(forms.Form):
    """A form of the court's pages, several of which share a page and field names (a
    reason, a password): each form's ids carry its own prefix, so that its labels, help
    and error slots (odr/_field.html) are its own and the page has no duplicate id."""

    id_prefix = "act"

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("auto_id", f"{self.id_prefix}-%s")
        super().__init__(*args, **kwargs)


class AcceptForm(_ActForm):
    id_prefix = "accept"

    court_case_number = forms.CharField(
        label=gettext_lazy("The court's case number"),
        max_length=60,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
        help_text=gettext_lazy(
            "As the court's case system gave it, e.g. （2026）浙0523民特1号: full-width "
            "brackets, no leading zeros."
        ),
    )


class ExtendForm(_ActForm):
    id_prefix = "extend"

    reason = forms.CharField(label=gettext_lazy("Reason"), max_length=2000)


class SupplementForm(_ActForm):
    id_prefix = "supplement"

    what = forms.CharField(
        label=gettext_lazy("Materials the parties must supply"),
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    deadline = forms.DateField(
        label=gettext_lazy("To be supplied by"), widget=forms.DateInput(attrs={"type": "date"})
    )


class SupplementAnswerForm(_ActForm):
    id_prefix = "answer"

    answer = forms.CharField(
        label=gettext_lazy("Your answer to the court"),
        max_length=20000,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    file = forms.FileField(
        label=gettext_lazy("A file to supply (PDF, image, audio, video)"), required=False
    )


class WithdrawForm(_ActForm):
    id_prefix = "withdraw"

    reason = forms.CharField(
        label=gettext_lazy("Why you withdraw the application"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class InquiryForm(_ActForm):
    id_prefix = "inquiry"

    scheduled_at = forms.DateTimeField(
        label=gettext_lazy("Time"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
    )
    place = forms.CharField(label=gettext_lazy("Place"), max_length=200, required=False)
    online = forms.BooleanField(
        label=gettext_lazy("Online, in a hearing room I host"), required=False
    )


class RecordForm(_ActForm):
    id_prefix = "record"

    record = forms.CharField(
        label=gettext_lazy("Questions and answers"),
        max_length=20000,
        widget=forms.Textarea(attrs={"rows": 10}),
    )
    present = forms.TypedMultipleChoiceField(
        label=gettext_lazy("Present"), coerce=int, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args, parties=(), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["present"].choices = [(p.pk, p.name) for p in parties if p.user_id]


class SignForm(_ActForm):
    id_prefix = "sign"

    password = forms.CharField(
        label=gettext_lazy("Your password"),
        required=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    code = forms.CharField(
        label=gettext_lazy("Authenticator code (if two-factor is on)"),
        required=False,
        max_length=10,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )


class DecisionForm(_ActForm):
    id_prefix = "decision"

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
    # Not accepting only (services.confirmation_decide): the court's number of the refusal.
    court_case_number = forms.CharField(required=False, max_length=60)


class RulingForm(DecisionForm):
    """A judge's ruling on a docketed application: confirmed or rejected."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["decision"].choices = [
            c for c in self.fields["decision"].choices if c[0] != CR.NOT_ACCEPTED
        ]
        del self.fields["court_case_number"]


class NotAcceptForm(_ActForm):
    id_prefix = "not-accept"

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
    court_case_number = forms.CharField(
        label=gettext_lazy("The court's case number (optional)"),
        required=False,
        max_length=60,
        widget=forms.TextInput(attrs={"placeholder": "（2026）浙0523民特12号"}),
        help_text=gettext_lazy(
            "The number the court's case system gave the refusal, printed on the ruling "
            "under its title. Left empty, the ruling prints none."
        ),
    )


def _court_request(request: HttpRequest, request_id: int) -> ConfirmationRequest:
    # NotFound rises to odr.middleware.NotFoundMiddleware, which answers 404.
    return court_selectors.court_request_get_for(user=request.user, request_id=request_id)


def _require_court_staff(request: HttpRequest) -> None:
    if not court_selectors.is_court_staff(request.user):
        raise Http404


@dataclass(frozen=True, slots=True)
class QueueRow:
    """A request as a row of the court's queue shows it, its words in the reader's
    language and its dates as the page writes them."""

    pk: int
    url: str
    dispute_number: str
    title: str
    status: str
    status_label: str
    case_number: str
    overdue: str
    submitted: str
    # The deadline now running, and whether it is the ruling's (once accepted).
    deadline_on: str
    rule_by: bool
    decided_on: str


def _local_day(when: datetime | None, zone: tzinfo, *, minutes: bool = False) -> str:
    """`{{ when|date:"Y-m-d" }}` (with `minutes`, "Y-m-d H:i") in the reader's time zone
    `zone`, "" for none: list_html.local_day's text, written without Django's date
    format, which for three dates a row was half the rows' CPU (issue 14)."""
    if when is None:
        return ""
    at = when.astimezone(zone)
    day = f"{at.year:04d}-{at.month:02d}-{at.day:02d}"
    return f"{day} {at.hour:02d}:{at.minute:02d}" if minutes else day


def queue_rows(ids: list[int]) -> list[QueueRow]:
    """The rows of a page of the court's queue (`ids` already read through the court's
    own queue): what each row shows in one query of plain values, its deadline and
    whether it is overdue by the queue's rules, its words, link and dates worked out once
    a page (issue 14)."""
    statuses = list_html.labels(CR.choices)
    link = list_html.links("court:request")
    now, zone = timezone.now(), timezone.get_current_timezone()
    db = ConfirmationRequest.objects.db
    fields = court_selectors.QUEUE_PAGE_COLUMNS
    rows = []
    for values in court_selectors.queue_page_rows_by_ids(ids):
        r = list_html.from_values(ConfirmationRequest, db, fields, [values[f] for f in fields])
        deadline = court_selectors.current_deadline(r)
        rows.append(
            QueueRow(
                pk=r.pk,
                url=link(r.pk),
                dispute_number=values["agreement__dispute__case_number"],
                title=values["agreement__dispute__title"],
                status=r.status,
                status_label=statuses.get(r.status, r.status),
                case_number=r.case_number,
                overdue=court_selectors.overdue_kind(r, now),
                submitted=_local_day(r.submitted_at, zone, minutes=True),
                deadline_on=_local_day(deadline, zone),
                rule_by=bool(r.accepted_at),
                decided_on=_local_day(r.decided_at, zone),
            )
        )
    return rows


@login_required
def queue(request: HttpRequest) -> HttpResponse:
    """The court's queue, 20 a page, narrowed by the list filters (issue 14); a bad filter
    is named on the page and left out, the rest still apply. The reader's organisations
    are read once: whether they work for a court, which, and the menu's links."""
    by_role = odr_selectors.user_org_ids_by_role(request.user)
    if not court_selectors.court_ids_in(by_role):
        raise Http404
    statuses = [(s, label) for s, label in CR.choices if s != CR.AWAITING_CONSENT]
    form = list_filters.ListFilterForm(request.GET, statuses=statuses, date_label="submitted")
    filters = form.filters()
    # Keyset pages as the API's (issue 14): no OFFSET however deep the queue.
    page = pagination.page_from_query(
        court_selectors.court_queue_keys(
            request.user, filters, status=filters.status or None, roles=by_role
        ),
        request.GET,
        keys=court_selectors.QUEUE_ORDER,
        limit=20,
        load=queue_rows,
    )
    return render(
        request,
        "agreements/court/queue.html",
        {
            "items": page.items,
            "page": page,
            "form": form,
            "filters": filters,
            "query": form.query_string(),
            "status": filters.status,
            "statuses": statuses,
            "viewer_org_roles": by_role,
        },
    )


def _acts_context(
    found: ConfirmationRequest,
    user,
    record_sent: tuple[int, forms.Form] | None = None,
    sign_sent: tuple[int, forms.Form] | None = None,
) -> dict:
    """What the court's and the parties' pages show of the court's acts; `record_sent`,
    `sign_sent`: an inquiry's record or signing form sent back with its errors."""
    parties = list(found.agreement.dispute.parties.all())
    names = {p.pk: p.name for p in parties}
    to_sign = {i.pk for i in inquiries_to_sign(found, user)}
    # The court's staff see, for an inquiry not begun, when its record can be written.
    refused = MACHINE.refusal("inquiry_record", found, user)
    may_record = refused is None or refused.code == "inquiry_not_started"
    return {
        "supplements": list(found.supplements.all()),
        "inquiries": [
            {
                "i": i,
                "present": [names.get(pk, "") for pk in i.present or []],
                "mine_to_sign": i.pk in to_sign or bool(sign_sent and sign_sent[0] == i.pk),
                "sign_form": sign_sent[1]
                if sign_sent and sign_sent[0] == i.pk
                else SignForm(auto_id=f"sign-{i.pk}-%s"),
                "started": inquiry_started(i),
                "record_waits": may_record and not inquiry_started(i),
                "record_form": record_sent[1]
                if record_sent and record_sent[0] == i.pk
                else RecordForm(
                    parties=parties,
                    auto_id=f"record-{i.pk}-%s",
                    initial={"record": i.record, "present": i.present or [p.pk for p in parties]},
                ),
            }
            for i in found.inquiries.all()
        ],
        "supplement_form": SupplementForm(),
        "answer_form": SupplementAnswerForm(),
        "withdraw_form": WithdrawForm(),
        "inquiry_form": InquiryForm(),
    }


@login_required
def request_detail(request: HttpRequest, request_id: int) -> HttpResponse:
    return _request_page(request, _court_request(request, request_id))


# Which act each form of the court's pages is for: a form sent back for an act the page no
# longer offers (someone acted first) cannot show its refusal in place, so the page says it
# at its top instead (agreements/court/_acts_refused.html).
_FORM_ACTS = {
    "accept_form": "accept",
    "extend_form": "extension_request",
    "extension_form": "extension_approve",
    "decision_form": "decide",
    "not_accept_form": "not_accept",
    "supplement_form": "supplement_ask",
    "lapse_form": "supplement_lapse",
    "withdraw_allow_form": "withdraw_allow",
    "inquiry_form": "inquiry_schedule",
    "answer_form": "supplement_answer",
    "withdraw_form": "withdraw",
}


def _refused_elsewhere(
    sent: dict[str, forms.Form],
    actions: list[str],
    rows: list[tuple[tuple[int, forms.Form] | None, bool]] = (),
) -> list[str]:
    """The errors of forms sent back that the page will not show."""
    hidden = [f for key, f in sent.items() if _FORM_ACTS.get(key) not in actions]
    hidden += [row[1] for row, shown in rows if row is not None and not shown]
    return [str(e) for form in hidden for errors in form.errors.values() for e in errors]


def _request_page(
    request: HttpRequest,
    found: ConfirmationRequest,
    sent: dict[str, forms.Form] | None = None,
    record_sent: tuple[int, forms.Form] | None = None,
    sign_sent: tuple[int, forms.Form] | None = None,
) -> HttpResponse:
    """The court's page of a request; `sent`: a form sent back with its errors (400), shown
    in place with the error summary and its values kept (issue 12), whether the form did
    not validate or the service refused it."""
    sent = sent or {}
    actions = allowed_actions(found, request.user)
    acts = _acts_context(found, request.user, record_sent, sign_sent)
    return render(
        request,
        "agreements/court/request.html",
        {
            **acts,
            "is_court": True,
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
            "extension_form": _ActForm(auto_id="extension-%s"),
            "lapse_form": _ActForm(auto_id="lapse-%s"),
            "withdraw_allow_form": _ActForm(auto_id="withdraw-allow-%s"),
            "decision_form": RulingForm(),
            "not_accept_form": NotAcceptForm(),
            **sent,
            "acts_refused": _refused_elsewhere(
                sent, actions, _shown_rows(acts, record_sent, sign_sent, actions)
            ),
        },
        status=400 if sent or record_sent or sign_sent else 200,
    )


def _shown_rows(
    acts: dict,
    record_sent: tuple[int, forms.Form] | None,
    sign_sent: tuple[int, forms.Form] | None,
    actions: list[str],
) -> list[tuple[tuple[int, forms.Form] | None, bool]]:
    """Whether the inquiry's record or signing form sent back is on the page."""
    rows = {row["i"].pk: row for row in acts["inquiries"]}
    record_row = rows.get(record_sent[0]) if record_sent else None
    sign_row = rows.get(sign_sent[0]) if sign_sent else None
    return [
        (
            record_sent,
            record_row is not None
            and "inquiry_record" in actions
            and not record_row["i"].signed
            and not record_row["i"].closed_at
            and record_row["started"],
        ),
        (sign_sent, sign_row is not None),
    ]


def _back(request_id: int) -> HttpResponse:
    return redirect(reverse("court:request", args=[request_id]))


# The services' refusals about one field of the court's forms (agreements.court.services,
# agreements.services.reauthenticate), shown at that field; any other in the form's slot.
_ERROR_FIELDS = {
    "invalid_court_case_number": "court_case_number",
    "court_case_number_not_expected": "court_case_number",
    "reason_required": "reason",
    "invalid_decision": "decision",
    "what_required": "what",
    "invalid_deadline": "deadline",
    "deadline_past": "deadline",
    "answer_required": "answer",
    "unknown_evidence": "file",
    "file_too_large": "file",
    "file_type_not_allowed": "file",
    "file_empty": "file",
    "invalid_time": "scheduled_at",
    "time_past": "scheduled_at",
    "place_required": "place",
    "record_required": "record",
    "present_required": "present",
    "password_required": "password",
    "wrong_password": "password",
    "code_required": "code",
    "wrong_code": "code",
}


def _refused(form: forms.Form, error: DomainError) -> forms.Form:
    """The service's refusal on the form, at the field it is about (issue 12)."""
    field = _ERROR_FIELDS.get(error.code)
    if error.code == "text_too_long":
        field = next((n for n in ("reason", "what", "answer", "record") if n in form.fields), None)
    form.add_error(field if field in form.fields else None, error.message)
    return form


@login_required
@require_POST
def request_accept(request: HttpRequest, request_id: int) -> HttpResponse:
    found = _court_request(request, request_id)
    form = AcceptForm(request.POST)
    if not form.is_valid():
        return _request_page(request, found, {"accept_form": form})
    try:
        done = services.confirmation_accept(
            request=found,
            actor=request.user,
            court_case_number=form.cleaned_data["court_case_number"],
        )
    except DomainError as exc:
        return _request_page(request, found, {"accept_form": _refused(form, exc)})
    messages.success(request, _("Accepted as case %(number)s.") % {"number": done.case_number})
    return _back(found.pk)


@login_required
@require_POST
def request_extend(request: HttpRequest, request_id: int) -> HttpResponse:
    found = _court_request(request, request_id)
    form = ExtendForm(request.POST)
    if not form.is_valid():
        return _request_page(request, found, {"extend_form": form})
    try:
        services.confirmation_extend(
            request=found, actor=request.user, reason=form.cleaned_data["reason"]
        )
    except DomainError as exc:
        return _request_page(request, found, {"extend_form": _refused(form, exc)})
    messages.success(request, _("The court president is asked to approve the extension."))
    return _back(found.pk)


@login_required
@require_POST
def extension_decide(request: HttpRequest, request_id: int) -> HttpResponse:
    found = _court_request(request, request_id)
    approve = request.POST.get("approve") == "1"
    try:
        services.confirmation_extension_decide(request=found, actor=request.user, approve=approve)
    except DomainError as exc:
        form = _ActForm(request.POST, auto_id="extension-%s")
        return _request_page(request, found, {"extension_form": _refused(form, exc)})
    messages.success(
        request,
        _("The period to rule is extended.") if approve else _("The extension is refused."),
    )
    return _back(found.pk)


# --- the ruling: preview, then issue -------------------------------------------------------


def _decision_form(request: HttpRequest) -> tuple[str, DecisionForm | NotAcceptForm]:
    """The form the judge sent: the ruling (confirm or reject) or not accepting, by the
    page's key, bound to what was sent."""
    if request.POST.get("decision") == CR.NOT_ACCEPTED:
        return "not_accept_form", NotAcceptForm(request.POST)
    return "decision_form", RulingForm(request.POST)


def _decision_of(form: forms.Form) -> tuple[str, str, str]:
    """The decision, its reasons and, not accepting, the court's number typed for it."""
    data = form.cleaned_data
    return data["decision"], data["reason"], data.get("court_case_number", "")


@login_required
@require_POST
def ruling_preview(request: HttpRequest, request_id: int) -> HttpResponse:
    """The judge's decision and reasons as they will be issued, the ruling's preview (PDF)
    one click away, and only then the button that issues it. Writes nothing."""
    found = _court_request(request, request_id)
    key, form = _decision_form(request)
    if not form.is_valid():
        return _request_page(request, found, {key: form})
    decision, reason, number = _decision_of(form)
    try:
        preview = services.confirmation_ruling_preview(
            request=found,
            actor=request.user,
            decision=decision,
            reason=reason,
            court_case_number=number,
        )
    except DomainError as exc:
        return _request_page(request, found, {key: _refused(form, exc)})
    return render(
        request,
        "agreements/court/ruling_preview.html",
        {
            "req": found,
            "dispute": found.agreement.dispute,
            "decision": decision,
            "decision_label": dict(DecisionForm.base_fields["decision"].choices)[decision],
            "reason": reason,
            "court_case_number": preview.court_case_number,
            "token": preview.token,
        },
    )


@login_required
@require_POST
def ruling_preview_pdf(request: HttpRequest, request_id: int) -> HttpResponse:
    found = _court_request(request, request_id)
    key, form = _decision_form(request)
    if not form.is_valid():
        return _request_page(request, found, {key: form})
    decision, reason, number = _decision_of(form)
    try:
        preview = services.confirmation_ruling_preview(
            request=found,
            actor=request.user,
            decision=decision,
            reason=reason,
            court_case_number=number,
        )
    except DomainError as exc:
        return _request_page(request, found, {key: _refused(form, exc)})
    response = HttpResponse(preview.pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="ruling-preview-{found.pk}.pdf"'
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def request_decide(request: HttpRequest, request_id: int) -> HttpResponse:
    found = _court_request(request, request_id)
    key, form = _decision_form(request)
    if not form.is_valid():
        return _request_page(request, found, {key: form})
    decision, reason, number = _decision_of(form)
    try:
        services.confirmation_ruling_issue(
            request=found,
            actor=request.user,
            decision=decision,
            reason=reason,
            preview=request.POST.get("preview", ""),
            court_case_number=number,
        )
    except DomainError as exc:
        # Back on the request's page with the decision and reasons as typed: preview again.
        return _request_page(request, found, {key: _refused(form, exc)})
    messages.success(request, _("The ruling is issued, sealed and served on the parties."))
    return _back(found.pk)


# --- 补正, 撤回, 询问 ------------------------------------------------------------------------


def _acts_back(request_id: int) -> HttpResponse:
    return redirect(reverse("court:acts", args=[request_id]))


@login_required
@require_POST
def supplement_ask(request: HttpRequest, request_id: int) -> HttpResponse:
    found = _court_request(request, request_id)
    form = SupplementForm(request.POST)
    if not form.is_valid():
        return _request_page(request, found, {"supplement_form": form})
    try:
        services.confirmation_supplement_ask(
            request=found,
            actor=request.user,
            what=form.cleaned_data["what"],
            deadline=form.cleaned_data["deadline"],
        )
    except DomainError as exc:
        return _request_page(request, found, {"supplement_form": _refused(form, exc)})
    messages.success(request, _("The parties are asked for the materials."))
    return _back(found.pk)


@login_required
@require_POST
def supplement_lapse(request: HttpRequest, request_id: int) -> HttpResponse:
    found = _court_request(request, request_id)
    try:
        services.confirmation_supplement_lapse(request=found, actor=request.user)
    except DomainError as exc:
        form = _ActForm(request.POST, auto_id="lapse-%s")
        return _request_page(request, found, {"lapse_form": _refused(form, exc)})
    messages.success(request, _("The application is treated as withdrawn."))
    return _back(found.pk)


@login_required
@require_POST
def withdraw_allow(request: HttpRequest, request_id: int) -> HttpResponse:
    found = _court_request(request, request_id)
    try:
        services.confirmation_withdraw_allow(request=found, actor=request.user)
    except DomainError as exc:
        form = _ActForm(request.POST, auto_id="withdraw-allow-%s")
        return _request_page(request, found, {"withdraw_allow_form": _refused(form, exc)})
    messages.success(request, _("The order allowing the withdrawal is issued."))
    return _back(found.pk)


@login_required
@require_POST
def inquiry_schedule(request: HttpRequest, request_id: int) -> HttpResponse:
    found = _court_request(request, request_id)
    form = InquiryForm(request.POST)
    if not form.is_valid():
        return _request_page(request, found, {"inquiry_form": form})
    try:
        services.confirmation_inquiry_schedule(
            request=found, actor=request.user, **form.cleaned_data
        )
    except DomainError as exc:
        return _request_page(request, found, {"inquiry_form": _refused(form, exc)})
    messages.success(request, _("The inquiry is scheduled and the parties are told."))
    return _back(found.pk)


@login_required
@require_POST
def inquiry_record(request: HttpRequest, request_id: int, inquiry_id: int) -> HttpResponse:
    found = _court_request(request, request_id)
    form = RecordForm(
        request.POST,
        parties=list(found.agreement.dispute.parties.all()),
        auto_id=f"record-{inquiry_id}-%s",
    )
    if not form.is_valid():
        return _request_page(request, found, record_sent=(inquiry_id, form))
    try:
        services.confirmation_inquiry_record(
            request=found,
            actor=request.user,
            inquiry=inquiry_id,
            record=form.cleaned_data["record"],
            present=form.cleaned_data["present"],
        )
    except DomainError as exc:
        return _request_page(request, found, record_sent=(inquiry_id, _refused(form, exc)))
    messages.success(request, _("The record is saved; those present sign it now."))
    return _back(found.pk)


@login_required
@require_POST
def inquiry_sign(request: HttpRequest, request_id: int, inquiry_id: int) -> HttpResponse:
    found = court_selectors.request_for_acts(user=request.user, request_id=request_id)
    form = SignForm(request.POST, auto_id=f"sign-{inquiry_id}-%s")
    form.is_valid()
    is_court = court_selectors.is_staff_of_court(found, request.user)
    try:
        services.confirmation_inquiry_sign(
            request=found,
            actor=request.user,
            inquiry=inquiry_id,
            password=form.cleaned_data.get("password", ""),
            code=form.cleaned_data.get("code", ""),
        )
    except DomainError as exc:
        # A wrong password is said at the password, on the page the record was read on.
        sent = (inquiry_id, _refused(form, exc))
        if is_court:
            return _request_page(request, found, sign_sent=sent)
        return _acts_page(request, found, sign_sent=sent)
    messages.success(request, _("You signed the record of the inquiry."))
    if is_court:
        return _back(found.pk)
    return _acts_back(found.pk)


@login_required
def acts(request: HttpRequest, request_id: int) -> HttpResponse:
    """The court's acts as a party (or the court) sees them: the materials asked for and
    the answer, the withdrawal, the inquiries with their room and record to sign."""
    found = court_selectors.request_for_acts(user=request.user, request_id=request_id)
    return _acts_page(request, found)


def _acts_page(
    request: HttpRequest,
    found: ConfirmationRequest,
    sent: dict[str, forms.Form] | None = None,
    sign_sent: tuple[int, forms.Form] | None = None,
) -> HttpResponse:
    """The acts page; `sent`, `sign_sent`: a form sent back with its errors (400), as
    _request_page."""
    sent = sent or {}
    actions = allowed_actions(found, request.user)
    acts = _acts_context(found, request.user, sign_sent=sign_sent)
    return render(
        request,
        "agreements/court/acts.html",
        {
            **acts,
            "req": found,
            "dispute": found.agreement.dispute,
            "actions": actions,
            "is_court": court_selectors.is_staff_of_court(found, request.user),
            **sent,
            "acts_refused": _refused_elsewhere(
                sent, actions, _shown_rows(acts, None, sign_sent, actions)
            ),
        },
        status=400 if sent or sign_sent else 200,
    )


@login_required
@require_POST
def supplement_answer(request: HttpRequest, request_id: int) -> HttpResponse:
    found = court_selectors.request_for_party(user=request.user, request_id=request_id)
    form = SupplementAnswerForm(request.POST, request.FILES)
    if not form.is_valid():
        return _acts_page(request, found, {"answer_form": form})
    upload = form.cleaned_data["file"]
    try:
        services.confirmation_supplement_answer(
            request=found,
            actor=request.user,
            answer=form.cleaned_data["answer"],
            files=[(upload, upload.name, upload.size)] if upload else [],
        )
    except DomainError as exc:
        return _acts_page(request, found, {"answer_form": _refused(form, exc)})
    messages.success(request, _("Your answer is sent to the court."))
    return _acts_back(found.pk)


@login_required
@require_POST
def withdraw(request: HttpRequest, request_id: int) -> HttpResponse:
    found = court_selectors.request_for_party(user=request.user, request_id=request_id)
    form = WithdrawForm(request.POST)
    if not form.is_valid():
        return _acts_page(request, found, {"withdraw_form": form})
    try:
        services.confirmation_withdraw(
            request=found, actor=request.user, reason=form.cleaned_data["reason"]
        )
    except DomainError as exc:
        return _acts_page(request, found, {"withdraw_form": _refused(form, exc)})
    messages.success(request, _("Your request to withdraw is sent to the court."))
    return _acts_back(found.pk)


# --- the parties, from the case page -----------------------------------------------------


def _case_url(dispute_id: int, anchor: str) -> str:
    return reverse("odr:dispute_detail", args=[dispute_id]) + anchor


@login_required
@require_POST
def confirmation_apply(request: HttpRequest, agreement_id: int) -> HttpResponse:
    """Starts the joint application (or finds it) and takes the party to sign it: a
    party applies by signing the application with their own device key (issue 9, 5)."""
    agreement = court_selectors.agreement_get_for(user=request.user, agreement_id=agreement_id)
    # The court's ground and place (CPL 2023 Art. 205): the first applicant's choice; the
    # service checks them and refuses a later party's choice of another court.
    basis = request.POST.get("basis", "").strip()[:20] or None
    region = request.POST.get("region", "").strip()[:12] or None
    try:
        services.confirmation_apply(
            agreement=agreement, actor=request.user, basis=basis, region=region
        )
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect(_case_url(agreement.dispute_id, "#confirmation"))
    return redirect("court:confirmation_sign", agreement_id=agreement.pk)


class ApplicationSignForm(AgreementSignForm):
    """The agreement's signing form (password or code, drawn or typed signature) with the
    application's own consent."""

    consent = forms.BooleanField(
        label=gettext_lazy(
            "I have read the joint application, I apply with the other parties for judicial "
            "confirmation of the agreement, and I sign the application of my own free will."
        ),
        required=False,
    )


@login_required
def confirmation_sign(request: HttpRequest, agreement_id: int) -> HttpResponse:
    """The party's page to sign the joint application, phone first: what it asks, the
    application itself (PDF), who has signed, re-authentication, consent and a drawn (or
    typed) signature. It signs through the API's two steps with a key made in the browser
    (frontend/signature-pad.js, device-signing.js), as the agreement's signing page."""
    from allauth.mfa.models import Authenticator

    agreement = court_selectors.agreement_get_for(user=request.user, agreement_id=agreement_id)
    confirmation = court_selectors.confirmation_of(agreement)
    acting = court_selectors.parties_acting_for(agreement, request.user)
    no_script_post = request.method == "POST"
    if no_script_post:
        # A form sent without the page's script: nothing can be signed without a key
        # made on the signer's device.
        messages.error(
            request,
            _(
                "Nothing was signed: signing needs a current browser with JavaScript, which "
                "makes your signing key on your device."
            ),
        )
    refused = ""
    if not acting:
        refused = _("Only the parties to the agreement sign the joint application.")
    elif confirmation is None:
        refused = _("The joint application has not been started: apply on the case page first.")
    else:
        why = MACHINE.refusal("consent", confirmation, request.user)
        if why is not None:
            refused = (
                _("You have signed the joint application.")
                if why.code == "already_applied"
                else why.message
            )
    done = court_selectors.consents_of(confirmation) if confirmation is not None else {}
    signing_for = next((p for p in acting if p.pk not in done), None)
    return render(
        request,
        "agreements/court/confirmation_sign.html",
        {
            "agreement": agreement,
            "dispute": agreement.dispute,
            "req": confirmation,
            "form": ApplicationSignForm(),
            "uses_totp": Authenticator.objects.filter(
                user=request.user, type=Authenticator.Type.TOTP
            ).exists(),
            "refused": refused,
            "signer_name": people.display_name(request.user),
            "signing_for": signing_for,
            "parties": [
                {"party": p, "at": done[p.pk].consented_at if p.pk in done else None}
                for p in court_selectors.required_parties(agreement)
            ],
            "no_script_post": no_script_post,
        },
        status=400 if no_script_post else 200,
    )


@login_required
@require_POST
def obligation_done(request: HttpRequest, obligation_id: int) -> HttpResponse:
    obligation = court_selectors.obligation_get_for(user=request.user, obligation_id=obligation_id)
    form = ProofForm(request.POST, request.FILES, obligation_id=obligation.pk)
    if not form.is_valid():
        return _obligation_page(request, obligation, done_key(obligation.pk), form)
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
        form.add_domain_error(exc)
        return _obligation_page(request, obligation, done_key(obligation.pk), form)
    if done.is_done:
        messages.success(request, _("The obligation is marked performed."))
    else:
        messages.success(
            request,
            _("Your report is sent: it counts as performed once the other party confirms it."),
        )
    return _obligation_back(obligation)


@login_required
@require_POST
def obligation_confirm(request: HttpRequest, obligation_id: int) -> HttpResponse:
    obligation = court_selectors.obligation_get_for(user=request.user, obligation_id=obligation_id)
    try:
        services.performance_confirm(obligation=obligation, actor=request.user)
    except DomainError as exc:
        form = ConfirmForm(request.POST, obligation_id=obligation.pk)
        form.add_domain_error(exc)
        return _obligation_page(request, obligation, confirm_key(obligation.pk), form)
    messages.success(request, _("You confirmed that the obligation was performed."))
    return _obligation_back(obligation)


@login_required
@require_POST
def obligation_dispute(request: HttpRequest, obligation_id: int) -> HttpResponse:
    obligation = court_selectors.obligation_get_for(user=request.user, obligation_id=obligation_id)
    form = DisputeReportForm(request.POST, obligation_id=obligation.pk)
    if not form.is_valid():
        return _obligation_page(request, obligation, dispute_key(obligation.pk), form)
    try:
        services.performance_dispute(
            obligation=obligation, actor=request.user, reason=form.cleaned_data["reason"]
        )
    except DomainError as exc:
        form.add_domain_error(exc)
        return _obligation_page(request, obligation, dispute_key(obligation.pk), form)
    messages.success(request, _("The report is disputed; the other party is told why."))
    return _obligation_back(obligation)


def _obligation_page(request: HttpRequest, obligation, key: str, form: forms.Form) -> HttpResponse:
    """The case page with this obligation's form sent back in place (issue 12)."""
    dispute = odr_selectors.dispute_get_for(
        user=request.user, dispute_id=obligation.agreement.dispute_id
    )
    return case_page(request, dispute, {key: form})


def _obligation_back(obligation) -> HttpResponse:
    return redirect(_case_url(obligation.agreement.dispute_id, f"#obligation-{obligation.pk}"))
