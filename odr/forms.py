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
from odr.models import Party, Region
from odr.services.party_input import (
    CO_APPLICANT,
    MAX_PER_SIDE,
    RESPONDENT,
    PartyError,
    PartyInput,
    side_label,
)

# Which field a service error is about, so the message appears next to it.
ERROR_FIELDS: dict[str, str] = {
    "invalid_category": "category",
    "title_required": "title",
    "description_required": "description",
    "respondent_name_required": "respondent_name",
    "respondent_email_required": "respondent_email",
    "self_dispute": "respondent_email",
    "contact_required": "respondent_email",
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
    field_for = getattr(form, "field_for", None)
    field = field_for(error) if field_for is not None else ERROR_FIELDS.get(error.code)
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
    # How many party rows the page shows (the "add another" buttons add one).
    respondent_count = forms.IntegerField(
        min_value=1, max_value=MAX_PER_SIDE, initial=1, required=False, widget=forms.HiddenInput
    )
    co_applicant_count = forms.IntegerField(
        min_value=0,
        max_value=MAX_PER_SIDE - 1,
        initial=0,
        required=False,
        widget=forms.HiddenInput,
    )
    # Asked only when the filer's profile lacks them (see `ask_identity`).
    real_name = forms.CharField(
        label=_("Your real name"),
        max_length=100,
        required=False,
        help_text=_("As on your resident identity card: the agreement and a court name you by it."),
    )
    id_number = forms.CharField(
        label=_("Your resident ID number"),
        max_length=18,
        required=False,
        help_text=_("18 characters; saved to your profile. Others see it masked."),
    )
    evidence = MultipleFileField(
        label=_("Evidence files"),
        required=False,
        help_text=_(
            "PDF, photos (JPEG, PNG), recordings (MP3, M4A, WAV) or videos (MP4), up to "
            "%(mb)d MB each. You can choose several."
        ),
    )

    def __init__(
        self,
        *args: Any,
        ask_identity: bool = False,
        respondents: int | None = None,
        co_applicants: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        source = self.data if self.is_bound else self.initial
        self.respondent_rows = _count(
            respondents, source.get("respondent_count"), low=1, high=MAX_PER_SIDE
        )
        self.co_applicant_rows = _count(
            co_applicants, source.get("co_applicant_count"), low=0, high=MAX_PER_SIDE - 1
        )
        self.ask_identity = ask_identity
        if ask_identity:
            self.fields["real_name"].required = self.fields["id_number"].required = True
        else:
            del self.fields["real_name"]
            del self.fields["id_number"]
        for side, rows in (
            (RESPONDENT, self.respondent_rows),
            (CO_APPLICANT, self.co_applicant_rows),
        ):
            for index in range(rows):
                for attr, field in _party_fields(side, index).items():
                    self.fields[party_field_name(side, index, attr)] = field
        # The first respondent is always named; rows added and left empty are dropped.
        self.fields[party_field_name(RESPONDENT, 0, "name")].required = True
        self.initial.setdefault("respondent_count", self.respondent_rows)
        self.initial.setdefault("co_applicant_count", self.co_applicant_rows)
        self.fields["region"].choices = region_choices()
        self.fields["evidence"].help_text = self.fields["evidence"].help_text % {
            "mb": settings.ODR_EVIDENCE_MAX_BYTES // (1024 * 1024)
        }
        self.fields["evidence"].widget.attrs["accept"] = EVIDENCE_ACCEPT

    @staticmethod
    def hints() -> dict[str, str]:
        return {code: str(hint) for code, hint in CATEGORY_HINTS.items()}

    def _sides(self) -> tuple[tuple[str, int], ...]:
        return ((CO_APPLICANT, self.co_applicant_rows), (RESPONDENT, self.respondent_rows))

    def party_rows(self) -> list[dict[str, Any]]:
        """The rows the page draws: co-applicants first (the filer's side), then the
        respondents, each with its label and bound fields in PARTY_ATTRS order."""
        rows = []
        for side, count in (
            (CO_APPLICANT, self.co_applicant_rows),
            (RESPONDENT, self.respondent_rows),
        ):
            for index in range(count):
                rows.append(
                    {
                        "side": side,
                        "index": index,
                        "label": side_label(side, index),
                        "fields": [self[party_field_name(side, index, a)] for a in PARTY_ATTRS],
                    }
                )
        return rows

    def parties(self, side: str) -> list[PartyInput]:
        """The rows of a side as service inputs (cleaned data); a row left wholly empty is
        dropped, except the first respondent's, which the service then asks to fill."""
        count = self.respondent_rows if side == RESPONDENT else self.co_applicant_rows
        out = []
        for index in range(count):
            values = {
                a: self.cleaned_data.get(party_field_name(side, index, a)) or ""
                for a in PARTY_ATTRS
            }
            typed = any(v for a, v in values.items() if a != "kind")
            if typed or (side == RESPONDENT and index == 0):
                out.append(PartyInput.from_dict(values))
        return out

    def field_for(self, error: DomainError) -> str | None:
        """The field a service refusal is about, when this form has it."""
        if isinstance(error, PartyError):
            name = party_field_name(error.side, error.index, error.field)
            return name if name in self.fields else None
        if error.code == "identity_required":
            return "real_name" if "real_name" in self.fields else None
        field = ERROR_FIELDS.get(error.code)
        return field if field in self.fields else None


PARTY_ATTRS = (
    "kind",
    "name",
    "email",
    "phone",
    "id_number",
    "credit_code",
    "representative",
    "representative_title",
    "address",
)


def party_field_name(side: str, index: int, attr: str) -> str:
    """respondent_name, respondent2_name ... (the first respondent keeps the page's older
    names); co_applicant1_name, co_applicant2_name ..."""
    if side == RESPONDENT:
        return f"respondent_{attr}" if index == 0 else f"respondent{index + 1}_{attr}"
    return f"co_applicant{index + 1}_{attr}"


def _count(given: int | None, typed: Any, *, low: int, high: int) -> int:
    if given is None:
        try:
            given = int(typed)
        except (TypeError, ValueError):
            given = low
    return max(low, min(high, given))


def _party_fields(side: str, index: int) -> dict[str, forms.Field]:
    tel = forms.TextInput(attrs={"type": "tel", "inputmode": "tel"})
    return {
        "kind": forms.ChoiceField(
            label=_("Person or organisation"),
            choices=Party.Kind.choices,
            initial=Party.Kind.PERSON,
            required=False,
        ),
        "name": forms.CharField(
            label=_("Name"),
            max_length=100,
            required=False,
            help_text=_("A person's full name, or the organisation's registered name."),
        ),
        "email": forms.EmailField(
            label=_("E-mail"),
            required=False,
            help_text=_("The invitation to mediation is sent there."),
        ),
        "phone": forms.CharField(
            label=_("Mobile phone"),
            max_length=30,
            required=False,
            widget=tel,
            help_text=_(
                "Give an e-mail or a phone. With a phone only, you get the invitation link "
                "to pass on."
            ),
        ),
        "id_number": forms.CharField(
            label=_("Resident ID number (a person)"), max_length=18, required=False
        ),
        "credit_code": forms.CharField(
            label=_("Unified social credit code (an organisation)"),
            max_length=18,
            required=False,
            help_text=_("18 characters, as on the business licence."),
        ),
        "representative": forms.CharField(
            label=_("Legal representative (an organisation)"), max_length=100, required=False
        ),
        "representative_title": forms.CharField(
            label=_("Representative's title"), max_length=100, required=False
        ),
        "address": forms.CharField(label=_("Address"), max_length=300, required=False),
    }


# The profile's form is odr.party_forms.ProfileForm (with a party's particulars).


class InvitationAcceptForm(forms.Form):
    consent = forms.BooleanField(
        label=_("I agree that this dispute is mediated online (video sessions and e-signing)."),
    )
    # Ticked by an account other than the invited one to say that it is the person
    # invited (issue 11, L2); the page shows it only to such an account.
    confirm_identity = forms.BooleanField(required=False)
    # Asked when the profile lacks them: a party agrees under their real name.
    real_name = forms.CharField(
        label=_("Your real name"),
        max_length=100,
        required=False,
        help_text=_("As on your resident identity card: the agreement and a court name you by it."),
    )
    id_number = forms.CharField(
        label=_("Your resident ID number"),
        max_length=18,
        required=False,
        help_text=_("18 characters; saved to your profile. Others see it masked."),
    )

    def field_for(self, error: DomainError) -> str | None:
        if error.code in ("identity_required", "invalid_id_number"):
            return "real_name" if error.code == "identity_required" else "id_number"
        return ERROR_FIELDS.get(error.code)


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

    def field_for(self, error: DomainError) -> str | None:
        # The file checks (odr.evidence) are about this form's one file.
        return "file" if error.code.startswith("file_") else ERROR_FIELDS.get(error.code)
