"""The parties of a filing (DESIGN.md §3): the particulars typed for each co-applicant and
respondent, checked (a contact to invite them by, a valid resident ID number, an
organisation's unified social credit code, no one twice); and the particulars of a person
who files or accepts an invitation, taken from their profile once they have given their
real name and resident ID number."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext as _

from odr import selectors
from odr.errors import DomainError, Invalid
from odr.identity import birth_date_from_id, is_valid_credit_code, sex_from_id
from odr.idnumber import is_valid_id_number
from odr.models import Party, Profile
from odr.text import clean_text

# The most parties a side may have (the filer counts among the applicants).
MAX_PER_SIDE = 10

RESPONDENT = "respondent"
CO_APPLICANT = "co_applicant"


@dataclass(frozen=True)
class PartyInput:
    """One party as the filer typed it (CONTRACT §3's party input, with the address and
    the representative's title as extras)."""

    kind: str = Party.Kind.PERSON
    name: str = ""
    email: str = ""
    phone: str = ""
    id_number: str = ""
    credit_code: str = ""
    representative: str = ""
    representative_title: str = ""
    address: str = ""

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PartyInput:
        known = {f.name for f in fields(cls)}
        return cls(**{k: ("" if v is None else str(v)) for k, v in data.items() if k in known})


class PartyError(DomainError):
    """A refusal about one party's input: `side` (respondent, co_applicant), `index` (0
    for the first of the side) and `field` (the input it is about) let the filing page put
    the message next to that input."""

    def __init__(
        self, code: str, message: str, *, side: str, index: int, field: str, status: int = 422
    ) -> None:
        super().__init__(code, message, status=status)
        self.side = side
        self.index = index
        self.field = field


def side_label(side: str, index: int) -> str:
    if side == RESPONDENT:
        return _("Respondent %(n)d") % {"n": index + 1}
    return _("Co-applicant %(n)d") % {"n": index + 1}


def _checked_party(raw: PartyInput, *, side: str, index: int) -> dict[str, Any]:
    """The Party fields of one input, cleaned, or a PartyError."""
    who = side_label(side, index)

    def refuse(code: str, message: str, field: str, status: int = 422) -> PartyError:
        return PartyError(
            code, f"{who}: {message}", side=side, index=index, field=field, status=status
        )

    kind = clean_text(raw.kind) or Party.Kind.PERSON
    if kind not in Party.Kind.values:
        raise refuse("invalid_party_kind", _("choose a person or an organisation."), "kind")
    name = clean_text(raw.name)
    if not name:
        code = "respondent_name_required" if side == RESPONDENT else "party_name_required"
        raise refuse(code, _("give the name."), "name", status=400)
    email = clean_text(raw.email)
    phone = clean_text(raw.phone)
    if email:
        try:
            validate_email(email)
        except ValidationError as exc:
            raise refuse(
                "invalid_email", _("the e-mail address is not valid."), "email", status=400
            ) from exc
    if not email and not phone:
        raise refuse(
            "contact_required",
            _("give an e-mail address or a mobile phone so that they can be invited."),
            "email",
        )
    party: dict[str, Any] = {
        "kind": kind,
        "name": name[:100],
        "email": email,
        "phone": phone[:30],
        "address": clean_text(raw.address)[:300],
    }
    if kind == Party.Kind.PERSON:
        id_number = clean_text(raw.id_number).upper().replace(" ", "")
        if id_number and not is_valid_id_number(id_number):
            raise refuse(
                "invalid_id_number",
                _("the resident ID number is not valid: check the 18 characters."),
                "id_number",
            )
        party["id_number"] = id_number
        if id_number:
            party["sex"] = sex_from_id(id_number)
            party["birth_date"] = birth_date_from_id(id_number)
    else:
        credit_code = clean_text(raw.credit_code).upper().replace(" ", "")
        if not is_valid_credit_code(credit_code):
            raise refuse(
                "invalid_credit_code",
                _(
                    "give the organisation's unified social credit code (18 characters, "
                    "as on its business licence); this one is not valid."
                )
                if credit_code
                else _("give the organisation's unified social credit code."),
                "credit_code",
            )
        party["credit_code"] = credit_code
        party["representative"] = clean_text(raw.representative)[:100]
        party["representative_title"] = clean_text(raw.representative_title)[:100]
    return party


def checked_parties(
    *,
    filer: AbstractBaseUser,
    filer_id_number: str,
    co_applicants: list[PartyInput],
    respondents: list[PartyInput],
    respondent_required: bool = True,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The co-applicants' and respondents' Party fields, each checked, and the whole
    checked: at least one respondent (unless not `respondent_required`: a hotline caller's
    report), at most MAX_PER_SIDE a side, no one named twice (by e-mail, resident ID
    number or credit code), and the filer never against themselves."""
    if respondent_required and not respondents:
        raise Invalid(_("Name at least one other party."), code="respondent_required")
    if len(respondents) > MAX_PER_SIDE or len(co_applicants) + 1 > MAX_PER_SIDE:
        raise DomainError(
            "too_many_parties",
            _("At most %(n)d parties on each side.") % {"n": MAX_PER_SIDE},
            status=422,
        )
    co = [_checked_party(p, side=CO_APPLICANT, index=i) for i, p in enumerate(co_applicants)]
    resp = [_checked_party(p, side=RESPONDENT, index=i) for i, p in enumerate(respondents)]
    filer_keys = {
        ("email", (filer.email or "").lower()),
        ("id_number", filer_id_number.upper()),
    } - {("email", ""), ("id_number", "")}
    seen: dict[tuple[str, str], str] = {}
    for side, parties in ((CO_APPLICANT, co), (RESPONDENT, resp)):
        for index, party in enumerate(parties):
            for field in ("email", "id_number", "credit_code"):
                value = (party.get(field) or "").lower()
                if not value:
                    continue
                key = (field, value)
                if key in filer_keys:
                    raise PartyError(
                        "self_dispute",
                        _("You cannot file a dispute against yourself.")
                        if side == RESPONDENT
                        else _("You are already the applicant: do not name yourself again."),
                        side=side,
                        index=index,
                        field=field,
                        status=400,
                    )
                if key in seen:
                    raise PartyError(
                        "duplicate_party",
                        _("%(who)s is the same as %(other)s: name each party once.")
                        % {"who": side_label(side, index), "other": seen[key]},
                        side=side,
                        index=index,
                        field=field,
                    )
                seen[key] = side_label(side, index)
    return co, resp


# --- the person who files or accepts: their real name and ID number first ---------------


def identity_require(
    *,
    user: AbstractBaseUser,
    real_name: str = "",
    id_number: str = "",
    profile: Profile | None = None,
) -> Profile:
    """The user's profile with a real name and a valid resident ID number: those given
    here are saved to it first (odr.services.profile, audited); without them the answer
    is 422 `identity_required` (a court names every party by both). `profile` is the
    user's profile when the caller has just read it (it is not read again)."""
    from odr.services.profile import profile_update

    real_name, id_number = clean_text(real_name), clean_text(id_number).upper()
    if profile is None:
        profile = selectors.profile_of(user)
    if real_name or id_number:
        profile = profile_update(
            user=user,
            real_name=real_name or (profile.real_name if profile else ""),
            phone=profile.phone if profile else "",
            id_number=id_number or (profile.id_number if profile else ""),
            language=profile.language if profile else Profile._meta.get_field("language").default,
        )
    if profile is None or not profile.real_name or not is_valid_id_number(profile.id_number):
        raise DomainError(
            "identity_required",
            _(
                "Give your real name and resident ID number first (in your profile): the "
                "mediation agreement and a court name every party by both."
            ),
            status=422,
        )
    # Held on the user too: the e-mails that name them next (display_name) read it here
    # instead of from the database.
    user.profile = profile
    return profile


def particulars_of(user: AbstractBaseUser, profile: Profile) -> dict[str, Any]:
    """A natural person's Party fields from their profile: the real name (never the
    e-mail), the ID number with the sex and birth date it carries, and the address, phone,
    ethnicity and occupation when the profile has them."""
    out: dict[str, Any] = {
        "kind": Party.Kind.PERSON,
        "name": profile.real_name[:100],
        "id_number": profile.id_number,
        "sex": profile.sex or sex_from_id(profile.id_number),
        "birth_date": birth_date_from_id(profile.id_number),
    }
    for field in ("address", "phone", "ethnicity", "occupation"):
        value = getattr(profile, field, "")
        if value:
            out[field] = value
    return out
