"""The case page's small forms (issue 12): the dispute's actions, the hotline ticket's,
the hand-off between windows, and the buttons that only say "do it".

Each has its own ids (several share a page and a field name, "reason"), so that its
label, help and error slot (odr/_field.html) are its own. A form sent back with its
errors is shown in place on the case page (odr.views.cases.case_page, status 400), with
the error summary at its top (frontend/form-errors.js), the values typed kept; a service's
DomainError lands on the field it is about (odr.forms.add_domain_error) or in the form's
own slot, never in a message after a redirect."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from odr.people import display_name


class CaseForm(forms.Form):
    """A form of the case page whose ids start with its own prefix (`id_prefix`)."""

    id_prefix = "case"

    def __init__(self, *args: Any, id_prefix: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", f"{id_prefix or self.id_prefix}-%s")
        super().__init__(*args, **kwargs)


class ButtonForm(CaseForm):
    """A button with nothing to fill in: its form only carries the service's refusal,
    shown in the form's own slot (odr/_form_fields.html)."""


class MediatorForm(CaseForm):
    """Accept the case (and give it to a mediator), or give it to another mediator."""

    mediator = forms.ChoiceField(
        label=_("Mediator"),
        help_text=_("After each name: the cases the mediator has open now."),
    )

    def __init__(self, *args: Any, mediators: list[tuple[Any, int]] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["mediator"].choices = [
            (
                str(m.pk),
                ngettext("%(name)s · %(n)s open case", "%(name)s · %(n)s open cases", load)
                % {"name": display_name(m), "n": load},
            )
            for m, load in mediators
        ]


# The reason's label names what it is the reason for, so that the error says what to
# write ("请填写不予受理的理由。"), not just "请填写理由。".
REASON_LABELS = {
    "reject": _("Why the case is refused"),
    "escalate": _("Why the case goes to the organisation above"),
    "fail": _("Why mediation ends without agreement"),
    "close_unresolved": _("Why the ticket closes unresolved"),
}


class ReasonActionForm(CaseForm):
    """Refuse, escalate, end without agreement, close a ticket unresolved: each needs its
    reason (the parties are told it, the timeline shows it)."""

    reason = forms.CharField(max_length=2000, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args: Any, action: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["reason"].label = REASON_LABELS[action]


class WithdrawForm(CaseForm):
    reason = forms.CharField(
        label=_("Reason"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    confirm = forms.BooleanField(label=_("I withdraw the dispute. This cannot be undone."))


class HandoffForm(CaseForm):
    id_prefix = "handoff"

    window = forms.ChoiceField(
        label=_("Hand the case to another window"),
        help_text=_("The case keeps its number and its timeline."),
    )

    def __init__(self, *args: Any, windows: list[Any] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["window"].choices = [(str(w.pk), f"{w.name} · {w.location}") for w in windows]


def action_form(
    action: str, data: Any = None, *, mediators: list[tuple[Any, int]] = ()
) -> CaseForm:
    """The form of one of the dispute's actions (odr.transitions.PUBLIC_ACTIONS)."""
    prefix = f"action-{action}"
    if action in ("accept", "assign"):
        return MediatorForm(data, mediators=mediators, id_prefix=prefix)
    if action == "withdraw":
        return WithdrawForm(data, id_prefix=prefix)
    return ReasonActionForm(data, action=action, id_prefix=prefix)


def ticket_form(action: str, data: Any = None) -> CaseForm:
    """The form of one of the 12345 ticket's actions (odr.transitions.TICKET_MACHINE)."""
    prefix = f"hotline-{action}"
    if action == "close_unresolved":
        return ReasonActionForm(data, action=action, id_prefix=prefix)
    return ButtonForm(data, id_prefix=prefix)
