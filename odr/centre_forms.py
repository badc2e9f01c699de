"""The reception's and the grid worker's forms (issue 10)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from odr.categories import Category
from odr.forms import region_choices
from odr.models import GridReport


class VisitForm(forms.Form):
    name = forms.CharField(label=_("Visitor's name"), max_length=100)
    phone = forms.CharField(label=_("Mobile phone"), max_length=30, required=False)
    id_number = forms.CharField(label=_("Resident ID number"), max_length=18, required=False)
    purpose = forms.CharField(
        label=_("Purpose of the visit"), widget=forms.Textarea(attrs={"rows": 2}), max_length=5000
    )


class WalkInForm(forms.Form):
    """A dispute filed at the window for the visitor (CONTRACT §3 `channel: walk_in`)."""

    applicant_name = forms.CharField(label=_("Applicant's real name"), max_length=100)
    applicant_id_number = forms.CharField(label=_("Applicant's resident ID number"), max_length=18)
    applicant_phone = forms.CharField(label=_("Applicant's mobile phone"), max_length=30)
    window = forms.ChoiceField(label=_("Window that takes the case"))
    category = forms.ChoiceField(label=_("Kind of dispute"), choices=Category.choices)
    region = forms.ChoiceField(label=_("Where it happened"))
    title = forms.CharField(label=_("Short title"), max_length=200)
    description = forms.CharField(
        label=_("What happened"), widget=forms.Textarea(attrs={"rows": 4}), max_length=20000
    )
    respondent_name = forms.CharField(label=_("Other party's name"), max_length=100)
    respondent_phone = forms.CharField(
        label=_("Other party's mobile phone"), max_length=30, required=False
    )
    respondent_email = forms.EmailField(label=_("Other party's e-mail"), required=False)

    def __init__(self, *args, windows=(), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["window"].choices = [(w.pk, f"{w.name} · {w.location}") for w in windows]
        self.fields["region"].choices = region_choices()


class GridReportForm(forms.Form):
    """The grid worker's phone form. Its script sends it through the outbox; without the
    script it posts to the page."""

    client_uuid = forms.UUIDField(widget=forms.HiddenInput, required=False)
    category = forms.ChoiceField(label=_("Kind of dispute"), choices=Category.choices)
    place = forms.CharField(label=_("Place"), max_length=300)
    facts = forms.CharField(
        label=_("What happened"), widget=forms.Textarea(attrs={"rows": 4}), max_length=20000
    )
    outcome = forms.ChoiceField(
        label=_("Mediation on the spot"),
        choices=GridReport.Outcome.choices,
        widget=forms.RadioSelect,
        initial=GridReport.Outcome.NOT_SETTLED,
    )
    settlement = forms.CharField(
        label=_("What the parties agreed"),
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        max_length=5000,
    )
