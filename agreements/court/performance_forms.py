"""The forms of the case page's performance panel (agreements/court/_case_performance.html):
mark or report an obligation performed, confirm a report, dispute it.

Each form's ids carry the obligation's id (a page lists several obligations, each with
these forms). A form sent back with its errors is shown in place on the case page
(odr.views.cases.case_page, under the keys below), with the error summary and what was
typed kept (issue 12); a service's refusal lands on the field it is about."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy

from odr.errors import DomainError

# The service's refusals (agreements.court.services.performance, odr.evidence), by field.
ERROR_FIELDS = {
    "proof_required": "file",
    "file_too_large": "file",
    "file_type_not_allowed": "file",
    "file_empty": "file",
    "reason_required": "reason",
    "reason_too_long": "reason",
}


def done_key(obligation_id: int) -> str:
    return f"obligation-done:{obligation_id}"


def confirm_key(obligation_id: int) -> str:
    return f"obligation-confirm:{obligation_id}"


def dispute_key(obligation_id: int) -> str:
    return f"obligation-dispute:{obligation_id}"


class _ObligationForm(forms.Form):
    id_prefix = "obligation"

    def __init__(self, *args: Any, obligation_id: int, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", f"{self.id_prefix}-{obligation_id}-%s")
        super().__init__(*args, **kwargs)

    def add_domain_error(self, error: DomainError) -> None:
        field = ERROR_FIELDS.get(error.code)
        self.add_error(field if field in self.fields else None, error.message)


class ProofForm(_ObligationForm):
    id_prefix = "proof"

    file = forms.FileField(
        label=gettext_lazy("Proof (receipt, transfer record, photo)"),
        required=False,
        widget=forms.ClearableFileInput(
            attrs={"accept": "application/pdf,image/jpeg,image/png,audio/*,video/mp4"}
        ),
    )
    note = forms.CharField(
        label=gettext_lazy("Note"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=gettext_lazy("Attach proof, or say here how it was done."),
    )


class ConfirmForm(_ObligationForm):
    """Nothing to fill in: the form carries the service's refusal, if any."""

    id_prefix = "confirm"


class DisputeReportForm(_ObligationForm):
    id_prefix = "report"

    reason = forms.CharField(
        label=gettext_lazy("Why the report is not right"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
