"""A person's own profile: the particulars others see them by and every document names
them with (real name, phone, ID number, sex, ethnicity, occupation, address) and their
language. A change reaches their Party rows on the cases whose agreement is not yet
opened for signing (odr.services.parties), never a frozen version."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils.translation import gettext as _

from odr.audit import log_action
from odr.identity import sex_from_id
from odr.models import Profile
from odr.services.parties import checked_id_number, checked_sex, invalid, parties_sync_from_profile
from odr.text import clean_text

_LENGTHS = {"real_name": 100, "phone": 30, "ethnicity": 20, "occupation": 100, "address": 300}


def _audited(profile: Profile) -> dict:
    # The ID number itself stays out of the audit trail: only whether one is given.
    return {
        "real_name": profile.real_name,
        "phone": profile.phone,
        "id_number_set": bool(profile.id_number),
        "sex": profile.sex,
        "ethnicity": profile.ethnicity,
        "occupation": profile.occupation,
        "address": profile.address,
        "language": profile.language,
    }


def profile_update(
    *,
    user: AbstractBaseUser,
    real_name: str | None = None,
    phone: str | None = None,
    id_number: str | None = None,
    address: str | None = None,
    sex: str | None = None,
    ethnicity: str | None = None,
    occupation: str | None = None,
    language: str | None = None,
) -> Profile:
    """Changes the fields given (None: leave as it is). A bad ID number answers 422
    `invalid_id_number`; a sex the ID number contradicts, 422 `sex_contradicts_id`; with
    no sex given, the ID number's is kept."""
    if id_number is not None:
        id_number = checked_id_number(id_number)
    if language is not None and language not in dict(settings.LANGUAGES):
        raise invalid("invalid_language", _("Unknown language."))
    with transaction.atomic():
        profile, _created = Profile.objects.select_for_update().get_or_create(user=user)
        before = _audited(profile)
        texts = {
            "real_name": real_name,
            "phone": phone,
            "ethnicity": ethnicity,
            "occupation": occupation,
            "address": address,
        }
        for key, value in texts.items():
            if value is not None:
                setattr(profile, key, clean_text(value)[: _LENGTHS[key]])
        if profile.phone != before["phone"]:
            # A number typed in the profile is not proven: the texted code proves it.
            profile.phone_verified = False
        if id_number is not None:
            profile.id_number = id_number
        if sex is None and profile.sex and sex_from_id(profile.id_number) not in ("", profile.sex):
            sex = ""  # a new ID number that says otherwise: its sex wins
        profile.sex = checked_sex(profile.sex if sex is None else sex, profile.id_number)
        if language is not None:
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
        parties_sync_from_profile(profile=profile, actor=user)
    return profile
