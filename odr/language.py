"""The profile's language follows the person: when they log in, and when they save their
profile, the language cookie that Django's LocaleMiddleware reads is set to the language
chosen in their profile."""

from __future__ import annotations

from typing import Any

from allauth.account.signals import user_logged_in
from django.conf import settings
from django.dispatch import receiver
from django.http import HttpResponseBase

from odr.models import Profile


def set_language_cookie(response: HttpResponseBase, language: str) -> None:
    """The language cookie with every flag of the settings, exactly as Django's language
    switcher (django.views.i18n.set_language) sets it: one cookie, one set of flags
    (issue 11, L1: SameSite, HttpOnly and, in production, Secure)."""
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        path=settings.LANGUAGE_COOKIE_PATH,
        domain=settings.LANGUAGE_COOKIE_DOMAIN,
        secure=settings.LANGUAGE_COOKIE_SECURE,
        httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
        samesite=settings.LANGUAGE_COOKIE_SAMESITE,
    )


@receiver(user_logged_in, dispatch_uid="odr_language_on_login")
def use_profile_language(*, request: Any, response: Any = None, user: Any, **kwargs: Any) -> None:
    if response is None or not hasattr(response, "set_cookie"):
        return
    language = Profile.objects.filter(user=user).values_list("language", flat=True).first()
    if language and language in dict(settings.LANGUAGES):
        set_language_cookie(response, language)
