"""Every form's errors in plain words that say what to do (issue 12), done once.

The site's form renderer (FORM_RENDERER) gives every form, ours and allauth's, a bound
field whose errors are rewritten by their code: Django's generic "这个字段是必填项。"
becomes "请选择纠纷类型" or "请填写标题", naming the field and the way out. Django itself
puts `aria-invalid` and `aria-describedby` (`<id>_helptext`, `<id>_error`) on the input;
odr/_field.html gives those ids to the help and the error, and frontend/static/frontend/
form-errors.js builds the summary at the top of the form and moves focus to it.
"""

from __future__ import annotations

from collections.abc import Callable

from django import forms
from django.core.exceptions import ValidationError
from django.forms.boundfield import BoundField
from django.forms.renderers import DjangoTemplates
from django.forms.utils import ErrorList
from django.utils.translation import gettext as _


def _label(field: forms.Field, name: str) -> str:
    return str(field.label or name.replace("_", " ")).rstrip(":：").strip()


def _required(field: forms.Field, label: str, params: dict) -> str:
    if isinstance(field, forms.BooleanField):
        return _("Tick “%(label)s” to go on.") % {"label": label}
    if isinstance(field, forms.FileField):
        return _("Choose a file for “%(label)s”.") % {"label": label}
    if isinstance(field, forms.ChoiceField | forms.ModelChoiceField):
        return _("Choose %(label)s.") % {"label": label}
    return _("Fill in %(label)s.") % {"label": label}


def _invalid(field: forms.Field, label: str, params: dict) -> str | None:
    if isinstance(field, forms.EmailField):
        return _("Write the e-mail address in full, like name@example.com.")
    if isinstance(field, forms.IntegerField | forms.DecimalField | forms.FloatField):
        return _("Write %(label)s as a number, like 10000.") % {"label": label}
    if isinstance(field, forms.DateTimeField):
        return _("Write %(label)s as a date and time, like 2026-12-01 09:30.") % {"label": label}
    if isinstance(field, forms.DateField):
        return _("Write %(label)s as a date, like 2026-12-01.") % {"label": label}
    return None


_MESSAGES: dict[str, Callable[[forms.Field, str, dict], str | None]] = {
    "required": _required,
    "invalid": _invalid,
    "invalid_choice": lambda f, label, p: _("Choose %(label)s from the list.") % {"label": label},
    "min_value": lambda f, label, p: (
        _("%(label)s cannot be less than %(limit)s.") % {"label": label, "limit": p["limit_value"]}
    ),
    "max_value": lambda f, label, p: (
        _("%(label)s cannot be more than %(limit)s.") % {"label": label, "limit": p["limit_value"]}
    ),
    "max_length": lambda f, label, p: (
        _("%(label)s can have at most %(limit)s characters; it has %(now)s.")
        % {"label": label, "limit": p["limit_value"], "now": p["show_value"]}
    ),
    "max_decimal_places": lambda f, label, p: (
        _("%(label)s can have at most %(max)s digits after the point.")
        % {"label": label, "max": p["max"]}
    ),
    "max_digits": lambda f, label, p: (
        _("%(label)s is too large: at most %(max)s digits.") % {"label": label, "max": p["max"]}
    ),
}


def plain_message(field: forms.Field, name: str, error: ValidationError | str) -> str:
    """The error's message in plain words when its code has one, else as it was."""
    if isinstance(error, ValidationError):
        rewrite = _MESSAGES.get(error.code or "")
        if rewrite is not None:
            message = rewrite(field, _label(field, name), error.params or {})
            if message:
                return message
        return next(iter(error))
    return str(error)


def plain_errors(form: forms.BaseForm) -> dict[str, list[str]]:
    """All of a form's errors as plain messages, by field name ("__all__": the form's)."""
    answer: dict[str, list[str]] = {}
    for name, errors in form.errors.items():
        field = form.fields.get(name)
        answer[name] = [
            plain_message(field, name, e) if field is not None else str(next(iter(e)))
            for e in errors.as_data()
        ]
    return answer


# Fields of other software's forms that come without a label (Django would show the
# field's name, in English, in the Chinese page): allauth's reauthentication by code.
_UNLABELLED: dict[str, Callable[[], str]] = {
    "recipient": lambda: _("Send the code to"),
}


class PlainBoundField(BoundField):
    def __init__(self, form: forms.BaseForm, field: forms.Field, name: str) -> None:
        super().__init__(form, field, name)
        if field.label is None and name in _UNLABELLED:
            self.label = _UNLABELLED[name]()

    @property
    def errors(self) -> ErrorList:
        errors = super().errors
        if not errors:
            return errors
        return self.form.error_class(
            [plain_message(self.field, self.name, e) for e in errors.as_data()],
            renderer=self.form.renderer,
        )


class FormRenderer(DjangoTemplates):
    """Django's template renderer whose forms use PlainBoundField."""

    bound_field_class = PlainBoundField
