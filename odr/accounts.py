"""Accounts by e-mail or by mobile number (issue 12): the platform's allauth adapter.

A county's citizens have a mobile number and often no e-mail they read, so an account may
be opened and used with either. The phone number lives in one place, `Profile.phone`
(with `Profile.phone_verified`); allauth reads and writes it only through this adapter.
Codes go out as texts through odr.sms; allauth makes them expire
(ACCOUNT_PHONE_VERIFICATION_TIMEOUT, ACCOUNT_LOGIN_BY_CODE_TIMEOUT), single use, and
limits them per number and per address (ACCOUNT_RATE_LIMITS, config/settings.py).

Only a number proven by a texted code counts as the account's: anyone can type someone
else's number into a profile, and that must never let them, or the number's owner, into
another account.
"""

from __future__ import annotations

from typing import Any

from allauth.account import app_settings as account_settings
from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.stages import EmailVerificationStage, PhoneVerificationStage
from allauth.core.exceptions import RateLimited
from allauth.core.internal.ratelimit import respond_429
from django import forms
from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.http import HttpRequest
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from odr import sms
from odr.models import Membership, Profile
from odr.selectors import user_roles

# allauth's own messages in plain words that say what to do (issue 12: every message in
# both languages, none in English on the Chinese page).
_ERRORS = {
    "phone_taken": _(
        "This mobile number already has an account: log in with it, or use another number."
    ),
    "unknown_phone": _("No account uses this mobile number yet: check it, or sign up."),
    "phone_password_mismatch": _(
        "The mobile number or the password is not right: check both and try again."
    ),
    "email_password_mismatch": _(
        "The e-mail address or the password is not right: check both and try again."
    ),
}

MOBILE_INVALID = _("A mobile number has 11 digits and starts with 1, e.g. 13800000000.")


class MobileField(forms.CharField):
    """A mainland mobile number, typed as people write it (138 0000 0000, +86…), cleaned
    to E.164 (+8613800000000), which allauth keys its codes and limits by."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("label", _("Mobile phone"))
        kwargs.setdefault("max_length", 20)
        kwargs.setdefault(
            "widget",
            forms.TextInput(
                attrs={"type": "tel", "inputmode": "tel", "autocomplete": "tel-national"}
            ),
        )
        kwargs.setdefault("error_messages", {"required": _("Enter your mobile number.")})
        super().__init__(**kwargs)

    def clean(self, value: Any) -> str:
        value = super().clean(value)
        if not value:
            return value
        e164 = sms.normalise_mobile(value)
        if e164 is None:
            raise forms.ValidationError(MOBILE_INVALID, code="invalid_phone")
        return e164


def national(phone: str) -> str:
    """The 11 digits of a mainland mobile number (as the profile shows it), or ''."""
    e164 = sms.normalise_mobile(phone)
    return e164[3:] if e164 else ""


def profiles_with_phone(phone: str):
    """Profiles whose number is this mobile number, however it was typed."""
    digits = national(phone)
    if not digits:
        return []
    candidates = Profile.objects.filter(phone__contains=digits[-4:]).select_related("user")
    return [p for p in candidates if national(p.phone) == digits]


class SignupBase(forms.Form):
    """Asked by every sign-up form (pages and headless): an e-mail or a mobile number, at
    least one, so that the account can be reached and logged into."""

    def clean(self) -> dict:
        cleaned = super().clean()
        if "email" not in self.fields or "phone" not in self.fields:
            return cleaned
        if not cleaned.get("email") and not cleaned.get("phone") and not self.has_error("phone"):
            # At the phone field, the one most people have.
            self.add_error(
                "phone",
                forms.ValidationError(
                    _("Enter a mobile number or an e-mail address: you log in with it."),
                    code="email_or_phone_required",
                ),
            )
        return cleaned

    def signup(self, request: HttpRequest, user: AbstractBaseUser) -> None:
        """Nothing more to save: the adapter stored the phone (set_phone)."""


class EmailVerificationIfAddress(EmailVerificationStage):
    """E-mail verification as the platform wants it: mandatory in production
    (ODR_EMAIL_VERIFICATION_MANDATORY) for an account that has an e-mail address. allauth
    itself can only make it mandatory for every account, which would make e-mail required
    and shut out the phone-only."""

    def handle(self):
        if (
            settings.ODR_EMAIL_VERIFICATION_MANDATORY
            and self.login.user is not None
            and (self.login.email or self.login.user.email)
        ):
            self.login.email_verification = account_settings.EmailVerificationMethod.MANDATORY
        return super().handle()


class PhoneVerificationAtSignup(PhoneVerificationStage):
    """The texted code proves the number when an account is opened with one. A number
    merely typed into the profile of an account that logs in by e-mail does not stop that
    log-in (it just stays unproven, Profile.phone_verified)."""

    def handle(self):
        if self.login.user is not None and not self.login.signup:
            return None, True
        try:
            return super().handle()
        except RateLimited:
            # A code for this number went out a moment ago (ACCOUNT_RATE_LIMITS
            # "verify_phone"); allauth's sign-up view does not catch this itself.
            return respond_429(self.request), False


_STAGES = {
    "allauth.account.stages.EmailVerificationStage": "odr.accounts.EmailVerificationIfAddress",
    "allauth.account.stages.PhoneVerificationStage": "odr.accounts.PhoneVerificationAtSignup",
}


class AccountAdapter(DefaultAccountAdapter):
    error_messages = {**DefaultAccountAdapter.error_messages, **_ERRORS}

    # --- where people land ---

    def get_login_redirect_url(self, request: HttpRequest) -> str:
        """Staff land on their own queue, citizens on the home page."""
        roles = set(user_roles(request.user))
        if Membership.Role.COORDINATOR in roles:
            return reverse("odr:intake")
        if {Membership.Role.CLERK, Membership.Role.JUDGE} & roles:
            return "/court/"
        if Membership.Role.MEDIATOR in roles:
            return reverse("odr:dispute_list")
        return super().get_login_redirect_url(request)

    def get_login_stages(self) -> list[str]:
        return [_STAGES.get(stage, stage) for stage in super().get_login_stages()]

    # --- the phone, kept in the profile ---

    def phone_form_field(self, **kwargs: Any) -> MobileField:
        return MobileField(**kwargs)

    def set_phone(self, user: AbstractBaseUser, phone: str, verified: bool) -> None:
        with transaction.atomic():
            profile, _created = Profile.objects.select_for_update().get_or_create(user=user)
            profile.phone = national(phone) or phone
            profile.phone_verified = verified
            profile.save(update_fields=["phone", "phone_verified"])
            if verified:
                self._release_elsewhere(profile)

    def get_phone(self, user: AbstractBaseUser) -> tuple[str, bool] | None:
        profile = Profile.objects.filter(user=user).first()
        e164 = sms.normalise_mobile(profile.phone) if profile else None
        if e164 is None:
            return None
        return e164, profile.phone_verified

    def set_phone_verified(self, user: AbstractBaseUser, phone: str) -> None:
        with transaction.atomic():
            profile = Profile.objects.select_for_update().filter(user=user).first()
            if profile is None or national(profile.phone) != national(phone):
                return
            profile.phone_verified = True
            profile.save(update_fields=["phone_verified"])
            self._release_elsewhere(profile)

    def _release_elsewhere(self, profile: Profile) -> None:
        """A number proven by one account is no longer any other's (a carrier gives a
        number up and out again): the latest proof wins."""
        others = [p.pk for p in profiles_with_phone(profile.phone) if p.pk != profile.pk]
        Profile.objects.filter(pk__in=others, phone_verified=True).update(phone_verified=False)

    def get_user_by_phone(self, phone: str) -> AbstractBaseUser | None:
        verified = [p for p in profiles_with_phone(phone) if p.phone_verified]
        return verified[0].user if verified else None

    # --- texts ---

    def send_verification_code_sms(
        self, user: AbstractBaseUser, phone: str, code: str, **kwargs: Any
    ) -> None:
        minutes = max(
            1,
            min(
                account_settings.PHONE_VERIFICATION_TIMEOUT,
                account_settings.LOGIN_BY_CODE_TIMEOUT,
            )
            // 60,
        )
        sms.text(
            phone,
            "verification_code",
            {"code": code, "minutes": minutes},
            language=translation.get_language() or settings.LANGUAGE_CODE,
        )

    def send_unknown_account_sms(self, phone: str, **kwargs: Any) -> None:
        sms.text(
            phone,
            "unknown_account",
            {},
            language=translation.get_language() or settings.LANGUAGE_CODE,
        )

    def send_account_already_exists_sms(self, phone: str) -> None:
        sms.text(
            phone,
            "account_already_exists",
            {},
            language=translation.get_language() or settings.LANGUAGE_CODE,
        )
