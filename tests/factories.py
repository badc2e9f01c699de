"""Test data built through the real services, so every test's case went through the same
transitions (and audit events) a real one does."""

from __future__ import annotations

import itertools
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.management import call_command

from odr import services
from odr.models import Dispute, Membership, Organisation, Profile, Region

User = get_user_model()
PASSWORD = "odr-demo-2026"
_seq = itertools.count(1)


def seed_demo() -> None:
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115


def demo_user(email: str) -> AbstractBaseUser:
    return User.objects.get(email=email)


def make_user(email: str | None = None, *, name: str = "测试用户", password: str = PASSWORD,
              org: Organisation | None = None, role: str | None = None) -> AbstractBaseUser:
    email = email or f"user{next(_seq)}@example.com"
    user = User.objects.create_user(username=email, email=email, password=password)
    Profile.objects.create(user=user, real_name=name)
    if org is not None and role is not None:
        Membership.objects.create(user=user, organisation=org, role=role)
    return user


def file_dispute(
    *, applicant: AbstractBaseUser | None = None, respondent_email: str = "citizen2@demo.odr",
    region_code: str = "330523000000", category: str = "debt", title: str = "借款未还",
) -> Dispute:
    """A dispute filed by citizen1 (by default) at county level: it goes to the county
    centre, where the demo mediator and coordinator work."""
    return services.dispute_file(
        applicant=applicant or demo_user("citizen1@demo.odr"),
        category=category, title=title,
        description="2025年3月借给李四人民币一万元，约定半年归还，至今未还。",
        request="归还借款一万元。", claim_amount=Decimal("10000.00"),
        region_code=region_code, respondent_name="李四", respondent_email=respondent_email,
    )


def dispute_awaiting_intake(**kwargs) -> Dispute:
    dispute = file_dispute(**kwargs)
    respondent = demo_user(kwargs.get("respondent_email", "citizen2@demo.odr"))
    token = dispute.parties.get(role="respondent").invitation.token
    return services.invitation_accept(token=token, user=respondent, consent_online=True)


def dispute_in_mediation(**kwargs) -> Dispute:
    """Filed, accepted by the respondent, accepted by the county centre's coordinator and
    given to the demo mediator."""
    dispute = dispute_awaiting_intake(**kwargs)
    return services.dispute_accept(
        dispute=dispute, actor=demo_user("coordinator@demo.odr"),
        mediator=demo_user("mediator@demo.odr").pk,
    )


def county() -> Region:
    return Region.objects.get(code="330523000000")
