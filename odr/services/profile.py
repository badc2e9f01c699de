"""A person's own profile: the real name, phone, ID number and language others see them by."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils.translation import gettext as _

from odr.audit import log_action
from odr.errors import Invalid
from odr.idnumber import is_valid_id_number
from odr.models import Profile
from odr.text import clean_text


def _audited(profile: Profile) -> dict:
    # The ID number itself stays out of the audit trail: only whether one is given.
    return {
        "real_name": profile.real_name,
        "phone": profile.phone,
        "id_number_set": bool(profile.id_number),
        "language": profile.language,
    }


def profile_update(
    *, user: AbstractBaseUser, real_name: str, phone: str, id_number: str, language: str
) -> Profile:
    id_number = clean_text(id_number).upper()
    if id_number and not is_valid_id_number(id_number):
        raise Invalid(
            _("The resident ID number is not valid: check the 18 characters."),
            code="invalid_id_number",
        )
    if language not in dict(settings.LANGUAGES):
        raise Invalid(_("Unknown language."), code="invalid_language")
    with transaction.atomic():
        profile, _created = Profile.objects.select_for_update().get_or_create(user=user)
        before = _audited(profile)
        profile.real_name = clean_text(real_name)
        profile.phone = clean_text(phone)
        profile.id_number = id_number
        profile.language = language
        profile.full_clean()
        profile.save()
        log_action(
            action="profile.update",
            obj=profile,
            actor=user,
            before=before,
            after=_audited(profile),
        )
    return profile
