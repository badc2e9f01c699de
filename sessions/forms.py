"""Forms of the session pages: schedule (one time, or several to choose from),
reschedule, cancel, pick, minutes."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

LOCAL_INPUT = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"]


def _when(label, *, required: bool = False) -> forms.DateTimeField:
    return forms.DateTimeField(
        label=label,
        required=required,
        input_formats=LOCAL_INPUT,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )


class ScheduleForm(forms.Form):
    time_1 = _when(_("Time"), required=True)
    time_2 = _when(_("Another time the parties may choose"))
    time_3 = _when(_("Another time the parties may choose"))
    duration_minutes = forms.IntegerField(
        label=_("Duration (minutes)"), min_value=15, max_value=480, initial=60
    )

    def times(self) -> list:
        return [
            self.cleaned_data[name]
            for name in ("time_1", "time_2", "time_3")
            if self.cleaned_data.get(name)
        ]


class RescheduleForm(forms.Form):
    scheduled_at = _when(_("New time"), required=True)


class CancelForm(forms.Form):
    reason = forms.CharField(
        label=_("Why it is cancelled (the parties are told)"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class MinutesForm(forms.Form):
    minutes = forms.CharField(
        label=_("Minutes"),
        required=False,
        max_length=100_000,
        widget=forms.Textarea(attrs={"rows": 18}),
        help_text=_("Who attended, what each side said, what was agreed and what remains open."),
    )
