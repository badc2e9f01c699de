"""Forms of the agreement pages. They only shape input: every rule is in the services."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.forms import formset_factory
from django.utils.translation import gettext_lazy as _

from agreements.models import Agreement

ROLE_CHOICES = [("", "—"), ("applicant", _("Applicant")), ("respondent", _("Respondent"))]
KIND_CHOICES = [
    ("money", _("Pay money")),
    ("act", _("Do something")),
    ("other", _("Other agreement (no performance)")),
]


# The particulars the drafting page lets the mediator fill in on each party's identity
# record (the Party row), by kind of party.
PERSON_FIELDS = (
    ("address", _("Address"), 300),
    ("ethnicity", _("Ethnicity"), 20),
    ("occupation", _("Occupation"), 100),
)
ORGANISATION_FIELDS = (
    ("address", _("Registered address"), 300),
    ("representative", _("Legal representative"), 100),
    ("representative_title", _("Representative's title"), 100),
)


class AgreementForm(forms.Form):
    matter = forms.ChoiceField(
        label=_("Kind of matter"),
        choices=Agreement.Matter.choices,
        help_text=_(
            "Marriage, divorce, adoption, parentage and other status relations cannot be "
            "settled by people's mediation. Title to property or intellectual property may "
            "be mediated, but a court will not confirm such an agreement."
        ),
    )
    facts = forms.CharField(
        label=_("Main facts of the dispute"), widget=forms.Textarea, required=False
    )
    disputed_matters = forms.CharField(
        label=_("Disputed matters"), widget=forms.Textarea(attrs={"rows": 3}), required=False
    )
    performance_method = forms.CharField(
        label=_("Method of performance"),
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
    )
    performance_place = forms.CharField(
        label=_("Place of performance"),
        max_length=300,
        required=False,
        help_text=_("Where obligations are performed unless a term names its own place."),
    )

    def __init__(self, *args: Any, parties: list[dict[str, Any]] | None = None, **kwargs: Any):
        """`parties`: the parties' rows (agreements.selectors.parties_of); each gets the
        particulars fields of its kind, named party_<id>_<field>."""
        super().__init__(*args, **kwargs)
        self.parties = []
        for party in parties or []:
            fields = PERSON_FIELDS if party["kind"] == "person" else ORGANISATION_FIELDS
            names = []
            for name, label, limit in fields:
                key = f"party_{party['party_id']}_{name}"
                self.fields[key] = forms.CharField(label=label, max_length=limit, required=False)
                if not self.is_bound:
                    self.initial.setdefault(key, party.get(name) or "")
                names.append(key)
            self.parties.append({**party, "field_names": names})

    def party_fields(self) -> list[dict[str, Any]]:
        """Each party with its bound fields, for the template."""
        return [{**p, "fields": [self[name] for name in p["field_names"]]} for p in self.parties]

    @classmethod
    def initial_from(cls, content: dict[str, Any]) -> dict[str, Any]:
        return {
            **{k: content.get(k, "") for k in ("facts", "disputed_matters", "matter")},
            "performance_method": content.get("performance_method", ""),
            "performance_place": content.get("performance_place", ""),
        }


class TermForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=KIND_CHOICES, initial="money")
    text = forms.CharField(
        label=_("Wording"), widget=forms.Textarea(attrs={"rows": 2}), required=False
    )
    obligor = forms.ChoiceField(label=_("Who performs"), choices=ROLE_CHOICES, required=False)

    def __init__(self, *args: Any, party_choices: list | None = None, **kwargs: Any):
        """`party_choices`: ("party:<id>", "申请人张三") for each party, offered besides the
        sides when a side has several parties."""
        super().__init__(*args, **kwargs)
        if party_choices:
            self.fields["obligor"].choices = ROLE_CHOICES + list(party_choices)

    amount = forms.DecimalField(
        label=_("Amount (yuan)"), required=False, min_value=0, max_digits=14, decimal_places=2
    )
    due_date = forms.DateField(
        label=_("Time limit"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    place = forms.CharField(label=_("Place"), max_length=300, required=False)
    instalments = forms.CharField(
        label=_("Instalments"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "5000.00 2026-01-31"}),
        help_text=_("One per line: amount and date, e.g. “5000.00 2026-01-31”."),
    )

    def clean_instalments(self) -> list[dict[str, str]]:
        out = []
        for n, line in enumerate(self.cleaned_data["instalments"].splitlines(), start=1):
            if not line.strip():
                continue
            bits = line.replace("，", " ").replace(",", "").split()
            try:
                amount = Decimal(bits[0])
                when = date.fromisoformat(bits[1])
            except (IndexError, InvalidOperation, ValueError):
                raise forms.ValidationError(
                    _("Line %(n)s: write the amount and the date, e.g. 5000.00 2026-01-31.")
                    % {"n": n}
                ) from None
            out.append({"amount": str(amount), "due_date": when.isoformat()})
        return out

    @classmethod
    def initial_from(cls, term: dict[str, Any]) -> dict[str, Any]:
        return {
            **{k: term.get(k) or "" for k in ("kind", "text", "obligor", "place")},
            "amount": term.get("amount"),
            "due_date": term.get("due_date"),
            "instalments": "\n".join(
                f"{i.get('amount') or ''} {i.get('due_date') or ''}"
                for i in term.get("instalments") or []
            ),
        }


TermFormSet = formset_factory(TermForm, extra=2, can_delete=True, max_num=50)


def draft_data(form: AgreementForm, terms: Any) -> dict[str, Any]:
    """The service's `data` from the valid forms."""
    data = form.cleaned_data
    rows = []
    for row in terms.cleaned_data:
        if not row or row.get("DELETE"):
            continue
        rows.append(
            {
                "kind": row["kind"],
                "text": row["text"],
                "obligor": row["obligor"],
                "amount": str(row["amount"]) if row["amount"] is not None else None,
                "due_date": row["due_date"].isoformat() if row["due_date"] else None,
                "place": row["place"],
                "instalments": row["instalments"],
            }
        )
    details: dict[str, dict[str, str]] = {}
    for party in form.parties:
        prefix = f"party_{party['party_id']}_"
        details[f"party:{party['party_id']}"] = {
            name.removeprefix(prefix): data.get(name, "") for name in party["field_names"]
        }
    return {
        "matter": data["matter"],
        "facts": data["facts"],
        "disputed_matters": data["disputed_matters"],
        "performance_method": data["performance_method"],
        "performance_place": data["performance_place"],
        "party_details": details,
        "terms": rows,
    }


class SignForm(forms.Form):
    password = forms.CharField(
        label=_("Your password"),
        required=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    code = forms.CharField(
        label=_("Code from your authenticator app"),
        required=False,
        max_length=20,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "pattern": "[0-9]*"}
        ),
    )
    consent = forms.BooleanField(
        label=_(
            "I have read the whole agreement, I agree to every term, and I sign it of my own "
            "free will."
        ),
        required=False,
    )
    method = forms.ChoiceField(
        choices=[("drawn", _("Draw")), ("typed", _("Type my name"))],
        initial="drawn",
        widget=forms.RadioSelect,
        required=False,
    )
    signature_png = forms.CharField(required=False, widget=forms.HiddenInput)
    typed_name = forms.CharField(label=_("Your full name"), required=False, max_length=100)
    # The version of the agreement the page showed: a signature binds that version only
    # (issue 9, point 3). Anything but a version number reads as none named.
    version = forms.CharField(required=False, max_length=10, widget=forms.HiddenInput)

    def clean_version(self) -> int | None:
        value = (self.cleaned_data.get("version") or "").strip()
        return int(value) if value.isascii() and value.isdigit() and int(value) > 0 else None
