"""Who a person is called, and whom to write to about a case: one definition each, used
by every app (pages, e-mails, PDFs, the timeline)."""

from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser

from odr.models import Dispute, Organisation
from odr.notifications import Recipient


def display_name(user: AbstractBaseUser | None) -> str:
    """The real name once given, else the login (e-mail)."""
    if user is None:
        return ""
    profile = getattr(user, "profile", None)
    return name_of(getattr(profile, "real_name", ""), user.email, user.get_username())


def name_of(real_name: str | None, email: str, username: str) -> str:
    """`display_name` from the columns it reads (a list reads them with its rows)."""
    return (real_name or "").strip() or email or username


def party_recipients(
    dispute: Dispute, *roles: str, exclude: AbstractBaseUser | None = None
) -> list[Recipient | AbstractBaseUser]:
    """The parties to write to (all, or those of the given roles), but `exclude`: their
    account when they have one (its language), else the address they were invited at."""
    out: list[Recipient | AbstractBaseUser] = []
    parties = dispute.parties.select_related("user", "user__profile")
    if roles:
        parties = parties.filter(role__in=roles)
    for party in parties:
        if exclude is not None and party.user_id is not None and party.user_id == exclude.pk:
            continue
        if party.user is not None:
            out.append(party.user)
        elif party.email:
            # No account yet: the address they were invited at. A party known only by a
            # phone (a hotline caller, a walk-in visitor) is not sent case links they
            # could not open; the hotline texts its caller the survey, the reception its
            # visitor the receipt.
            out.append(Recipient(email=party.email))
    return out


def case_people(
    dispute: Dispute, *, exclude: AbstractBaseUser | None = None
) -> list[Recipient | AbstractBaseUser]:
    """The parties and the case's mediator, but `exclude`."""
    out = party_recipients(dispute, exclude=exclude)
    mediator = dispute.mediator
    if mediator is not None and (exclude is None or mediator.pk != exclude.pk):
        out.append(mediator)
    return out


def organisation_staff(organisation: Organisation | None, *roles: str) -> list[AbstractBaseUser]:
    """The active members of an organisation in these roles (its coordinators, a court's
    clerks), with their profiles for name and language."""
    if organisation is None:
        return []
    return [
        m.user
        for m in organisation.memberships.filter(
            role__in=roles, is_active=True, user__is_active=True
        ).select_related("user", "user__profile")
    ]
