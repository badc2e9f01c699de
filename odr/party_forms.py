"""Forms of a person's particulars: their own profile, a party's particulars completed by
the mediator, an agent with the power of attorney, and the respondent's statement. The
rules live in odr.services (profile, parties); a DomainError's code is mapped back onto
the field it is about."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from odr.errors import DomainError
from odr.forms import ERROR_FIELDS
from odr.models import Agent, Party, Sex

PARTICULARS_ERRORS: dict[str, str] = {
    "invalid_id_number": "id_number",
    "sex_contradicts_id": "sex",
    "invalid_sex": "sex",
    "invalid_credit_code": "credit_code",
    "name_required": "name",
    "invalid_kind": "kind",
    "agent_name_required": "name",
    "invalid_scope": "scope",
    "powers_required": "powers",
    "file_too_large": "power_of_attorney",
    "file_type_not_allowed": "power_of_attorney",
    "file_empty": "power_of_attorney",
    "statement_required": "text",
    "statement_too_long": "text",
}


def add_error(form: forms.Form, error: DomainError) -> None:
    field = PARTICULARS_ERRORS.get(error.code) or ERROR_FIELDS.get(error.code)
    form.add_error(field if field in form.fields else None, error.message)


SEX_CHOICES = [("", _("Let the ID number say")), *Sex.choices]
TEL = forms.TextInput(attrs={"type": "tel", "inputmode": "tel", "autocomplete": "tel"})


# Said next to a field the form lets you leave empty but the case will ask for later
# (odr/_field.html shows it instead of "optional"): issue 12.
NEEDED_TO_SIGN = _("needed before an agreement can be signed")


class ProfileForm(forms.Form):
    real_name = forms.CharField(
        label=_("Your real name"),
        max_length=100,
        required=False,
        help_text=_("As on your ID card. Agreements and court papers print this name."),
    )
    phone = forms.CharField(label=_("Mobile phone"), max_length=30, required=False, widget=TEL)
    id_number = forms.CharField(
        label=_("Resident ID number"),
        max_length=18,
        required=False,
        help_text=_(
            "The 18 characters on your ID card. Your birth date and sex are read from it. "
            "Only you, the other side, the mediator and the court see it in full."
        ),
    )
    sex = forms.ChoiceField(label=_("Sex"), choices=SEX_CHOICES, required=False)
    ethnicity = forms.CharField(
        label=_("Ethnic group"),
        max_length=20,
        required=False,
        help_text=_("e.g. 汉族, as on your ID card."),
    )
    occupation = forms.CharField(
        label=_("Occupation"),
        max_length=100,
        required=False,
        help_text=_("e.g. farmer, worker, retired, self-employed."),
    )
    address = forms.CharField(
        label=_("Home address"),
        max_length=300,
        required=False,
        help_text=_("Where you live: province, county, township, village, house number."),
    )
    language = forms.ChoiceField(label=_("Language"), choices=settings.LANGUAGES)


# Real name and ID number may wait, but not past the agreement: the page says so.
ProfileForm.base_fields["real_name"].needed_for = NEEDED_TO_SIGN
ProfileForm.base_fields["id_number"].needed_for = NEEDED_TO_SIGN


class PartyForm(forms.Form):
    """A party's particulars, as the mediator completes them. Every field is optional:
    what is left empty stays as it is."""

    kind = forms.ChoiceField(label=_("The party is"), choices=Party.Kind.choices)
    name = forms.CharField(
        label=_("Name"),
        max_length=100,
        help_text=_("A person's real name, or the organisation's full registered name."),
    )
    phone = forms.CharField(label=_("Phone"), max_length=30, required=False, widget=TEL)
    address = forms.CharField(
        label=_("Address"),
        max_length=300,
        required=False,
        help_text=_("A person's home; an organisation's registered seat (住所地)."),
    )
    id_number = forms.CharField(
        label=_("Resident ID number (a person)"), max_length=18, required=False
    )
    sex = forms.ChoiceField(label=_("Sex (a person)"), choices=SEX_CHOICES, required=False)
    ethnicity = forms.CharField(label=_("Ethnic group (a person)"), max_length=20, required=False)
    occupation = forms.CharField(label=_("Occupation (a person)"), max_length=100, required=False)
    credit_code = forms.CharField(
        label=_("Unified social credit code (an organisation)"),
        max_length=18,
        required=False,
        help_text=_("18 characters, on the business licence."),
    )
    representative = forms.CharField(
        label=_("Legal representative or person in charge (an organisation)"),
        max_length=100,
        required=False,
    )
    representative_title = forms.CharField(
        label=_("Their title"),
        max_length=100,
        required=False,
        help_text=_("e.g. 董事长, 总经理, 村委会主任."),
    )


ATTORNEY_ACCEPT = ".pdf,.jpg,.jpeg,.png,application/pdf,image/jpeg,image/png"


class AgentForm(forms.Form):
    name = forms.CharField(label=_("Agent's name"), max_length=100)
    relation = forms.CharField(
        label=_("Who the agent is"),
        max_length=200,
        required=False,
        help_text=_(
            "A lawyer and the firm (e.g. 浙江某某律师事务所律师), a close relative (e.g. 儿子), "
            "or an employee of the organisation."
        ),
    )
    id_number = forms.CharField(label=_("Agent's ID number"), max_length=18, required=False)
    phone = forms.CharField(label=_("Agent's phone"), max_length=30, required=False, widget=TEL)
    scope = forms.ChoiceField(
        label=_("Authority"),
        choices=Agent.Scope.choices,
        help_text=_(
            "General: the agent acts in the mediation. Special: the agent may also admit, "
            "give up or change claims and settle, as the power of attorney says."
        ),
    )
    powers = forms.CharField(
        label=_("Powers granted"),
        max_length=5000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Copy them from the power of attorney (needed for a special authority)."),
    )
    power_of_attorney = forms.FileField(
        label=_("Signed power of attorney (授权委托书)"),
        help_text=_("A PDF or a clear photo (JPEG, PNG) of the signed paper."),
        widget=forms.ClearableFileInput(attrs={"accept": ATTORNEY_ACCEPT}),
    )


class StatementForm(forms.Form):
    text = forms.CharField(
        label=_("Your answer to the claim"),
        max_length=20000,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_(
            "Say what you agree with, what you do not, and why. The mediator and, later, "
            "the court read it beside the claim."
        ),
    )
