"""allauth's sign-up and log-in pages in the platform's words (issue 12). A module of its own:
allauth's forms module imports odr.accounts.SignupBase while it loads."""

from __future__ import annotations

from typing import Any

from allauth.account.forms import LoginForm as AllauthLoginForm
from allauth.account.forms import SignupForm as AllauthSignupForm
from allauth.core import context
from django.utils.translation import gettext_lazy as _

from odr.accounts import national
from odr.models import Invitation


class SignupForm(AllauthSignupForm):
    """allauth's sign-up page in the platform's words: the mobile number first (most
    people have one), the e-mail after it, "optional" said once (odr/_field.html), and
    the passwords kept when the page comes back with an error."""

    field_order = ["phone", "email", "password1", "password2"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "email" in self.fields:
            self.fields["email"].label = _("E-mail")
            self.fields["email"].help_text = _("Optional if you give a mobile number.")
        if "phone" in self.fields:
            self.fields["phone"].label = _("Mobile phone")
            self.fields["phone"].help_text = _(
                "We text you a code to confirm it. Optional if you give an e-mail."
            )
        for name in ("password1", "password2"):
            if name in self.fields:
                self.fields[name].widget.render_value = True
        self.order_fields(self.field_order)
        if not self.is_bound:
            self._prefill_invited()

    def _prefill_invited(self) -> None:
        """Opened from an invitation ("Create an account" carries its token): the address
        and the number it was sent to, so that the new account is the invited one."""
        request = getattr(context, "request", None)
        token = request.GET.get("invitation", "") if request is not None else ""
        if not token:
            return
        party = (
            Invitation.objects.filter(token=token, used_at__isnull=True)
            .select_related("party")
            .first()
        )
        if party is None:
            return
        invited = party.party
        if invited.email and "email" in self.fields:
            self.initial["email"] = invited.email
        if national(invited.phone) and "phone" in self.fields:
            self.initial["phone"] = national(invited.phone)


class LoginForm(AllauthLoginForm):
    """allauth's log-in with the field named for what it takes: a number or an address."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "login" in self.fields:
            self.fields["login"].label = _("Mobile number or e-mail")
