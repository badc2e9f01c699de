"""Forms of the pages. They parse and show errors; the rules live in odr.services, whose
DomainError codes are mapped back onto the field they are about."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext_lazy as _

from odr.categories import CATEGORY_HINTS, Category
from odr.errors import DomainError
from odr.models import Region

# Which field a service error is about, so the message appears next to it.
ERROR_FIELDS: dict[str, str] = {
    "invalid_category": "category",
    "title_required": "title",
    "description_required": "description",
    "respondent_name_required": "respondent_name",
    "respondent_email_required": "respondent_email",
    "self_dispute": "respondent_email",
    "invalid_amount": "claim_amount",
    "invalid_region": "region",
    "no_organisation": "region",
    "file_too_large": "evidence",
    "file_type_not_allowed": "evidence",
    "file_empty": "evidence",
    "invalid_id_number": "id_number",
    "invalid_language": "language",
    "invalid_mediator": "mediator",
    "reason_required": "reason",
    "consent_required": "consent",
    "invitation_for_someone_else": "confirm_identity",
    "empty_message": "text",
    "message_too_long": "text",
}


def add_domain_error(form: forms.Form, error: DomainError) -> None:
    field = ERROR_FIELDS.get(error.code)
    form.add_error(field if field in form.fields else None, error.message)


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one field (Django's documented pattern)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[UploadedFile]:
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(d, initial) for d in data if d]
        return [single(data, initial)] if data else []


def region_choices() -> list[tuple[str, str]]:
    """Every region, indented under its parent: the no-JavaScript way to choose one."""
    regions = list(Region.objects.order_by("code"))
    children: dict[int | None, list[Region]] = {}
    for region in regions:
        children.setdefault(region.parent_id, []).append(region)
    out: list[tuple[str, str]] = [("", _("Choose the place…"))]

    def walk(parent: int | None, depth: int) -> None:
        for region in children.get(parent, []):
            out.append((region.code, "\u3000" * depth + region.name))
            walk(region.pk, depth + 1)

    walk(None, 0)
    return out


# What the phone's file picker offers; the server still judges each file by its content.
EVIDENCE_ACCEPT = (
    ".pdf,.jpg,.jpeg,.png,.mp3,.m4a,.wav,.mp4,"
    "application/pdf,image/jpeg,image/png,audio/*,video/mp4"
)


class DisputeForm(forms.Form):
    category = forms.ChoiceField(
        label=_("What is the dispute about?"),
        choices=[("", _("Choose a kind of dispute…")), *Category.choices],
    )
    region = forms.ChoiceField(
        label=_("Where did it happen?"),
        help_text=_("Choose down to the village or township if you can."),
    )
    title = forms.CharField(
        label=_("A short title"),
        max_length=200,
        widget=forms.TextInput(attrs={"placeholder": _("e.g. Loan of 10,000 yuan not repaid")}),
    )
    description = forms.CharField(
        label=_("What happened?"),
        max_length=20000,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=_("When, where, who was involved, what was agreed and what went wrong."),
    )
    request = forms.CharField(
        label=_("What do you want?"),
        max_length=5000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("e.g. repayment of the loan, an apology, repair of the wall."),
    )
    claim_amount = forms.DecimalField(
        label=_("Amount claimed (yuan)"),
        required=False,
        min_value=Decimal("0"),
        max_digits=14,
        decimal_places=2,
        widget=forms.NumberInput(attrs={"inputmode": "decimal", "step": "0.01", "min": "0"}),
    )
    respondent_name = forms.CharField(label=_("The other side's name"), max_length=100)
    respondent_email = forms.EmailField(
        label=_("The other side's e-mail"),
        help_text=_("The invitation to mediation is sent there."),
    )
    respondent_phone = forms.CharField(
        label=_("The other side's mobile phone"),
        max_length=30,
        required=False,
        widget=forms.TextInput(attrs={"type": "tel", "inputmode": "tel"}),
    )
    evidence = MultipleFileField(
        label=_("Evidence files"),
        required=False,
        help_text=_(
            "PDF, photos (JPEG, PNG), recordings (MP3, M4A, WAV) or videos (MP4), up to "
            "%(mb)d MB each. You can choose several."
        ),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["region"].choices = region_choices()
        self.fields["evidence"].help_text = self.fields["evidence"].help_text % {
            "mb": settings.ODR_EVIDENCE_MAX_BYTES // (1024 * 1024)
        }
        self.fields["evidence"].widget.attrs["accept"] = EVIDENCE_ACCEPT

    @staticmethod
    def hints() -> dict[str, str]:
        return {code: str(hint) for code, hint in CATEGORY_HINTS.items()}


# The profile's form is odr.party_forms.ProfileForm (with a party's particulars).


class InvitationAcceptForm(forms.Form):
    consent = forms.BooleanField(
        label=_("I agree that this dispute is mediated online (video sessions and e-signing)."),
    )
    # Ticked by an account other than the invited one to say that it is the person
    # invited (issue 11, L2); the page shows it only to such an account.
    confirm_identity = forms.BooleanField(required=False)


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"), max_length=2000, widget=forms.Textarea(attrs={"rows": 3})
    )


class InvitationDeclineForm(ReasonForm):
    confirm_identity = forms.BooleanField(required=False)


class MessageForm(forms.Form):
    text = forms.CharField(
        label=_("Message"), max_length=5000, widget=forms.Textarea(attrs={"rows": 3})
    )


class EvidenceForm(forms.Form):
    file = forms.FileField(label=_("File"))
    description = forms.CharField(label=_("What it shows"), max_length=500, required=False)
