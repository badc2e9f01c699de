"""Issue 13, point 1: the two-factor rule on a ticket's join without a query per join.

The welcome trusts the ticket's word, signed when it was issued (at most
ODR_ROOM_TICKET_TTL before): held to the rule, TOTP on. The join's database work asks
the rule again of every ticket's holder, for the whole batch at once
(`mfa_refused_among`: no query when the rule is off, at most two otherwise), so a staff
user who turned TOTP off after the ticket was issued gets the welcome but never enters:
refused (`mfa_required`, close 4403) before anyone hears of them, nothing written."""

from __future__ import annotations

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from channels.db import database_sync_to_async
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext

from odr.middleware import mfa_required
from odr.models import AuditEvent, Membership
from sessions import services
from sessions.models import MediationSession, RoomParticipant, RoomTicket
from sessions.services.room import mfa_refused_among
from tests import factories
from tests.sessions.conftest import Room, join, open_socket, quiet, receive, schedule

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def rule_on(settings):
    settings.DEBUG = False
    settings.ODR_REQUIRE_STAFF_MFA = True


async def test_staff_who_turned_two_factor_off_after_the_ticket_cannot_join_with_it(room, rule_on):
    await database_sync_to_async(TOTP.activate)(room.mediator, generate_totp_secret())
    applicant, _ = await join(room.session, room.applicant)
    token, _expires = await database_sync_to_async(services.ticket_issue)(
        session=room.session, user=room.mediator
    )
    # TOTP off after the ticket was issued (which says it was on).
    await database_sync_to_async(
        Authenticator.objects.filter(user=room.mediator, type=Authenticator.Type.TOTP).delete
    )()
    mediator = await open_socket(f"/ws/sessions/{room.session.pk}/?ticket={token}")
    # The hot path had only the ticket's word; the database's join refuses and closes.
    assert (await receive(mediator, "welcome"))["role"] == "mediator"
    error = await receive(mediator, "error")
    closed = await mediator.receive_output(timeout=5)
    assert error["code"] == "mfa_required"
    assert (closed["type"], closed["code"]) == ("websocket.close", 4403)
    # Nobody heard of the mediator (no knock for the applicant to answer, no lobby), and
    # nothing was written: the session did not start, the ticket is unused, no join.
    await quiet(applicant)

    def written() -> tuple:
        return (
            MediationSession.objects.get(pk=room.session.pk).status,
            RoomTicket.objects.filter(user=room.mediator, used_at__isnull=True).count(),
            RoomParticipant.objects.filter(user=room.mediator, connected=True).count(),
            AuditEvent.objects.filter(action="session.join", actor=room.mediator).count(),
        )

    assert await database_sync_to_async(written)() == ("scheduled", 1, 0, 0)
    await applicant.disconnect()


async def test_a_party_made_staff_after_its_ticket_needs_two_factor_too(room, rule_on):
    """The ticket said "not held to the rule"; the database's join asks again."""
    token, _expires = await database_sync_to_async(services.ticket_issue)(
        session=room.session, user=room.applicant
    )

    def hire() -> None:
        organisation = room.session.dispute.organisation
        Membership.objects.create(
            user=room.applicant, organisation=organisation, role=Membership.Role.MEDIATOR
        )

    await database_sync_to_async(hire)()
    applicant = await open_socket(f"/ws/sessions/{room.session.pk}/?ticket={token}")
    await receive(applicant, "welcome")
    assert (await receive(applicant, "error"))["code"] == "mfa_required"
    assert (await applicant.receive_output(timeout=5))["code"] == 4403


def test_the_batch_rule_is_the_one_rule_for_everyone(demo, rule_on):
    organisation = factories.dispute_in_mediation().organisation

    def person(name: str, *roles: str, active: bool = True, staff: bool = False):
        user = get_user_model().objects.create_user(
            username=f"{name}@mfa.odr", email=f"{name}@mfa.odr", is_staff=staff
        )
        for role in roles:
            Membership.objects.create(
                user=user, organisation=organisation, role=role, is_active=active
            )
        return user

    plain = person("plain")
    staff_with = person("with", Membership.Role.MEDIATOR)
    staff_without = person("without", Membership.Role.COORDINATOR, Membership.Role.CLERK)
    left = person("left", Membership.Role.MEDIATOR, active=False)
    admin = person("admin", staff=True)
    TOTP.activate(staff_with, generate_totp_secret())
    people = [plain, staff_with, staff_without, left, admin]
    with CaptureQueriesContext(connection) as queries:
        refused = mfa_refused_among(people)
    assert refused == {u.pk for u in people if mfa_required(u)} == {staff_without.pk, admin.pk}
    assert len(queries.captured_queries) == 2


def test_a_batch_of_ticket_joins_asks_the_rule_in_two_queries_whatever_its_size(demo, rule_on):
    def rooms(count: int) -> list[Room]:
        out = []
        for _ in range(count):
            session = schedule()
            services.session_start(session=session, actor=session.dispute.mediator)
            out.append(
                Room(
                    session=session,
                    mediator=session.dispute.mediator,
                    applicant=factories.demo_user("citizen1@demo.odr"),
                    respondent=factories.demo_user("citizen2@demo.odr"),
                )
            )
        return out

    def batch(of: list[Room], prefix: str) -> tuple[list, int]:
        entries = [
            services.Entry(
                session_id=r.session.pk,
                ticket=services.ticket_issue(session=r.session, user=who)[0],
                channel_name=f"{prefix}{r.session.pk}.{who.pk}",
            )
            for r in of
            for who in (r.mediator, r.applicant, r.respondent)
        ]
        with CaptureQueriesContext(connection) as queries:
            results = services.room_enter_many(entries=entries)
        return results, len(queries.captured_queries)

    small, large = rooms(1), rooms(4)
    TOTP.activate(small[0].mediator, generate_totp_secret())
    one, queries_one = batch(small, "s")
    many, queries_many = batch(large, "l")
    assert all(isinstance(j, services.Joined) for j in one + many)
    assert queries_many == queries_one
