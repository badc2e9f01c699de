"""The world of the security tests (issue 11): one case with everything the URLs need,
built once for the whole package inside a transaction that is rolled back at the end,
and one signed-in browser per role of the probe's matrix.

Every test still runs in its own savepoint (pytest-django's `db`), and the matrix runs
each request in one more savepoint that it rolls back, so a write that succeeds (a
withdrawal, an accepted invitation) never changes what the next request sees."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import Client, override_settings
from django.utils import timezone

from tests import factories
from tests.signing import sign_application

# The roles of the probe (issue 11, "What must exist" 2), with the court's two people
# (DESIGN.md §3): the clerk who dockets and the judge who rules, of the competent court
# and of another.
ANONYMOUS = "anonymous"
ROLES = (
    ANONYMOUS,
    "stranger",  # a citizen with no case
    "invitee",  # a citizen invited as respondent to another, still open, dispute
    "applicant",
    "respondent",
    "mediator",  # the case's mediator (county centre)
    "colleague",  # another mediator of the case's organisation (organisation staff)
    "coordinator",  # the case's organisation's intake coordinator
    "other_mediator",  # a mediator of another organisation (the village committee)
    "other_coordinator",  # its coordinator
    "clerk",  # the clerk of the competent court, before which the confirmation is
    "other_clerk",  # the clerk of a court of another county
    "judge",  # the judge of the competent court
    "other_judge",  # the judge of the court of another county
    "admin",  # the platform superuser
)
EMAILS = {
    "stranger": "stranger@example.com",
    "invitee": "invitee@example.com",
    "applicant": "citizen1@demo.odr",
    "respondent": "citizen2@demo.odr",
    "mediator": "mediator@demo.odr",
    "colleague": "colleague.mediator@example.com",
    "coordinator": "coordinator@demo.odr",
    "other_mediator": "mediator.yucun@demo.odr",
    "other_coordinator": "coordinator.yucun@demo.odr",
    "clerk": "clerk@demo.odr",
    "other_clerk": "clerk.changxing@example.com",
    "judge": "judge@demo.odr",
    "other_judge": "judge.changxing@example.com",
    "admin": "admin@demo.odr",
}
# Text that only some roles may ever read: found in any other role's answer, it leaked.
MARK = uuid.uuid4().hex[:10]
CASE_TITLE = f"借款未还 CASE-{MARK}"
MESSAGE_TEXT = f"请调解员注意 MESSAGE-{MARK}"
CAUCUS_TEXT = f"只对申请人说 CAUCUS-{MARK}"
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@dataclass
class World:
    users: dict[str, AbstractBaseUser]
    cookies: dict[str, str]
    dispute: object
    agreement: object
    confirmation: object
    session: object
    evidence: object
    obligation: object  # open: the respondent owes it to the applicant
    obligation_with_proof: object  # marked done by the applicant, with a proof file
    invitation_token: str  # the invitee's, on a dispute still `filed`
    invited_party: object
    other_court: object
    caucus_peers: dict[str, str] = field(default_factory=dict)
    agent: object = None  # the respondent's agent, with a power of attorney on file
    # The court's acts on the (pending) request: an open 补正 with its notice, and an
    # inquiry whose record file is attached, so that their documents can be fetched.
    supplement: object = None
    inquiry: object = None
    # A 12345 ticket on the case, waiting for first contact (issue 10).
    ticket: object = None
    # Issue 10: a visit at the county centre's reception (no role of the probe works
    # there) and a possible duplicate between the case and the pending one.
    visit: object = None
    duplicate: object = None

    def client(self, role: str, **kwargs) -> Client:
        """A browser signed in as `role` (none for anonymous)."""
        client = Client(**kwargs)
        if role != ANONYMOUS:
            client.cookies[settings.SESSION_COOKIE_NAME] = self.cookies[role]
        return client


def _build() -> World:
    from allauth.account.models import EmailAddress

    from agreements.court import services as court_services
    from agreements.court.selectors import obligations_of
    from agreements.models import AgreementVersion
    from agreements.services import content_of
    from odr import services
    from odr.models import Membership, Organisation, Region
    from sessions import services as session_services
    from sessions.models import ChatMessage, RoomParticipant

    factories.seed_demo()
    centre = Organisation.objects.get(kind=Organisation.Kind.COUNTY_CENTRE)
    factories.make_user(EMAILS["stranger"], name="路人甲")
    factories.make_user(EMAILS["invitee"], name="王五")
    factories.make_user(EMAILS["colleague"], name="同事调解员", org=centre, role="mediator")
    county = Region.objects.create(
        code="330522000000",
        name="长兴县",
        level=Region.Level.COUNTY,
        parent=Region.objects.get(code="330500000000"),
    )
    other_court = Organisation.objects.create(
        name="长兴县人民法院", kind=Organisation.Kind.COURT, region=county, case_code="浙0522民特"
    )
    factories.make_user(
        EMAILS["other_clerk"], name="长兴书记员", org=other_court, role=Membership.Role.CLERK
    )
    factories.make_user(
        EMAILS["other_judge"], name="长兴审判员", org=other_court, role=Membership.Role.JUDGE
    )
    users = {role: factories.demo_user(email) for role, email in EMAILS.items()}
    for user in users.values():
        # As seed_demo does for its accounts: a verified address (production mode makes
        # verification mandatory before an app client gets a session).
        EmailAddress.objects.get_or_create(
            user=user, email=user.email, defaults={"verified": True, "primary": True}
        )

    agreement = factories.agreement_in_force(title=CASE_TITLE)
    dispute = agreement.dispute
    mediator = users["mediator"]
    # What the factory builds on the models directly, the drafting service would have
    # written: the agreement's first version.
    AgreementVersion.objects.create(
        agreement=agreement,
        number=agreement.version,
        facts=agreement.facts,
        terms=agreement.terms,
        performance_method=agreement.performance_method,
        snapshot=content_of(agreement),
        note="template:debt",
        author=mediator,
    )
    evidence = services.evidence_add(
        dispute=dispute,
        actor=users["applicant"],
        upload=SimpleUploadedFile("借条.pdf", PDF, content_type="application/pdf"),
        name="借条.pdf",
        size=len(PDF),
        description="借条",
    )
    services.message_post(dispute=dispute, actor=users["applicant"], text=MESSAGE_TEXT)
    # The respondent's agent, named before the agreement was opened for signing (the
    # factory builds the agreement in force directly; the service refuses agents now).
    from odr.models import Agent

    agent = Agent(
        party=dispute.parties.get(role="respondent"),
        name="王律师",
        relation="浙江某某律师事务所律师",
        scope=Agent.Scope.SPECIAL,
        powers="代为承认、放弃、变更请求，进行和解",
        filename="授权委托书.pdf",
        extension=".pdf",
        content_type="application/pdf",
        sha256="0" * 64,
        added_by=users["respondent"],
    )
    agent.power_of_attorney.save("授权委托书.pdf", ContentFile(PDF), save=False)
    agent.save()
    session = session_services.session_schedule(
        dispute=dispute, actor=mediator, scheduled_at=timezone.now() + timedelta(hours=2)
    )
    # A caucus of the mediator and the applicant: its chat line is theirs alone.
    peers = {}
    for role in ("mediator", "applicant", "respondent"):
        participant = RoomParticipant.objects.create(
            session=session,
            user=users[role],
            role=role,
            state=RoomParticipant.State.ROOM,
            consented_online_at=timezone.now(),
        )
        peers[role] = participant.peer_id
    ChatMessage.objects.create(
        session=session,
        sender=users["applicant"],
        text=CAUCUS_TEXT,
        audience=[peers["mediator"], peers["applicant"]],
    )
    sign_application(agreement=agreement, actor=users["applicant"])
    confirmation = sign_application(agreement=agreement, actor=users["respondent"])
    # The ruling endpoint needs a ruling to refuse: the file is attached while the request
    # stays pending, so that the clerk's other moves are probed in the same state.
    confirmation.ruling_pdf.save("ruling.pdf", ContentFile(PDF), save=True)
    confirmation.withdrawal_order_pdf.save("withdrawal.pdf", ContentFile(PDF), save=True)
    supplement = court_services.confirmation_supplement_ask(
        request=confirmation,
        actor=users["clerk"],
        what="请补充借条原件照片",
        deadline=timezone.localdate() + timedelta(days=7),
    )
    from agreements.models import Inquiry

    inquiry = Inquiry.objects.create(
        request=confirmation,
        judge=users["judge"],
        clerk=users["clerk"],
        scheduled_at=timezone.now() + timedelta(days=2),
        place="本院第三调解室",
    )
    inquiry.record_pdf.save("inquiry.pdf", ContentFile(PDF), save=True)
    court_services.performance_schedule(agreement=agreement)
    obligations = list(obligations_of(agreement))
    owed = [o for o in obligations if o.obligor_role == "respondent"]
    obligation, proved = owed[0], owed[1]
    court_services.performance_mark_done(
        obligation=proved,
        actor=users["applicant"],
        note="已收到",
        proof=SimpleUploadedFile("回单.pdf", PDF, content_type="application/pdf"),
        proof_name="回单.pdf",
        proof_size=len(PDF),
    )

    pending = factories.file_dispute(
        applicant=users["applicant"], respondent_email=EMAILS["invitee"], title="邻里纠纷"
    )
    invited_party = pending.parties.get(role="respondent")
    from odr.models import DuplicateLink, Visit

    visit = Visit.objects.create(
        organisation=centre,
        staff=factories.demo_user("reception@demo.odr"),
        name="来访人",
        purpose="咨询",
    )
    duplicate = DuplicateLink.objects.create(
        dispute=dispute, original=pending, matched_on=["phone"]
    )

    cookies = {}
    for role, user in users.items():
        client = Client()
        client.force_login(user)
        cookies[role] = client.cookies[settings.SESSION_COOKIE_NAME].value
    from odr.models import HotlineTicket

    ticket = HotlineTicket.objects.create(
        ticket_id=f"MATRIX-{MARK}",
        dispute=dispute,
        caller_name="来电人",
        caller_phone="13800000009",
        text="热线工单",
        received_at=timezone.now(),
        respond_by=timezone.now() + timedelta(hours=24),
    )
    return World(
        ticket=ticket,
        users=users,
        cookies=cookies,
        dispute=dispute,
        agreement=agreement,
        confirmation=confirmation,
        session=session,
        evidence=evidence,
        obligation=obligation,
        obligation_with_proof=proved,
        invitation_token=invited_party.invitation.token,
        invited_party=invited_party,
        other_court=other_court,
        caucus_peers=peers,
        agent=agent,
        supplement=supplement,
        inquiry=inquiry,
        visit=visit,
        duplicate=duplicate,
    )


@pytest.fixture(scope="package")
def world(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[World]:
    """Built once for tests/security, rolled back when the package is done."""
    with (
        django_db_blocker.unblock(),
        override_settings(MEDIA_ROOT=tmp_path_factory.mktemp("security-media")),
        transaction.atomic(),
    ):
        yield _build()
        transaction.set_rollback(True)


# --- production mode -------------------------------------------------------------------


@pytest.fixture
def production(settings):
    """The production gates: no DEBUG, TOTP required of staff."""
    settings.DEBUG = False
    settings.ODR_REQUIRE_STAFF_MFA = True
    return settings


def activate_totp(user) -> str:
    """TOTP on for this user, as allauth stores it (an `Authenticator` of type TOTP)."""
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret

    secret = generate_totp_secret()
    TOTP.activate(user, secret)
    return secret


def session_token(email: str, *, totp_secret: str | None = None) -> str:
    """An app client's X-Session-Token (CONTRACT §2), through the second step when the
    account has TOTP on."""
    from allauth.mfa.totp.internal.auth import (
        format_hotp_value,
        hotp_value,
        yield_hotp_counters_from_time,
    )
    from django.test import Client

    from tests.factories import PASSWORD

    client = Client()
    login = client.post(
        "/_allauth/app/v1/auth/login",
        {"email": email, "password": PASSWORD},
        content_type="application/json",
    )
    token = login.json()["meta"]["session_token"]
    if totp_secret is None:
        assert login.status_code == 200, login.content
        return token
    code = format_hotp_value(hotp_value(totp_secret, next(yield_hotp_counters_from_time())))
    second = client.post(
        "/_allauth/app/v1/auth/2fa/authenticate",
        {"code": code},
        content_type="application/json",
        HTTP_X_SESSION_TOKEN=token,
    )
    assert second.status_code == 200, second.content
    return second.json()["meta"]["session_token"]
