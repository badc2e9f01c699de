"""The profile's language follows the person: when they log in, the language cookie that
Django's LocaleMiddleware reads is set to the language chosen in their profile."""

from __future__ import annotations

from typing import Any

from allauth.account.signals import user_logged_in
from django.conf import settings
from django.dispatch import receiver

from odr.models import Profile


@receiver(user_logged_in, dispatch_uid="odr_language_on_login")
def use_profile_language(*, request: Any, response: Any = None, user: Any, **kwargs: Any) -> None:
    if response is None or not hasattr(response, "set_cookie"):
        return
    language = Profile.objects.filter(user=user).values_list("language", flat=True).first()
    if language and language in dict(settings.LANGUAGES):
        response.set_cookie(
            settings.LANGUAGE_COOKIE_NAME,
            language,
            max_age=settings.LANGUAGE_COOKIE_AGE,
            samesite=settings.LANGUAGE_COOKIE_SAMESITE,
            secure=settings.LANGUAGE_COOKIE_SECURE,
        )
