"""The respondent's invitation through the API and the services: expiry, single use,
who may answer, decline with a reason, resend (CONTRACT §3, issue 2 §5)."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core import mail
from django.test import Client

from odr import services
from odr.errors import DomainError
from odr.models import AuditEvent, Dispute, Invitation
from tests import factories
from tests.odr.api_support import assert_error, post

pytestmark = pytest.mark.django_db
S = Dispute.Status
T0 = dt.datetime(2026, 5, 4, 10, 0, tzinfo=dt.UTC)


def client_of(email: str | None) -> Client:
    client = Client()
    if email:
        client.force_login(factories.demo_user(email))
    return client


def token_of(dispute: Dispute) -> str:
    return Invitation.objects.get(party__dispute=dispute).token


@pytest.fixture
def filed(demo) -> Dispute:
    return factories.file_dispute()


@pytest.fixture
def filed_at_t0(demo) -> Dispute:
    with time_machine.travel(T0, tick=False):
        return factories.file_dispute()


def test_the_respondent_accepts_through_the_api_and_then_sees_the_case(filed_at_t0):
    respondent = client_of("citizen2@demo.odr")
    assert_error(respondent.get(f"/api/v1/disputes/{filed_at_t0.pk}"), 404)
    with time_machine.travel(T0 + dt.timedelta(days=1)):
        response = post(respondent, f"/api/v1/invitations/{token_of(filed_at_t0)}/accept", {})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "awaiting_intake"
    party = body["parties"][1]
    assert {k: party[k] for k in ("role", "name", "accepted", "kind", "position")} == {
        "role": "respondent",
        "name": "李四",
        "accepted": True,
        "kind": "person",
        "position": 0,
    }
    assert respondent.get(f"/api/v1/disputes/{filed_at_t0.pk}").status_code == 200


def test_accepting_without_consent_to_online_mediation_is_refused(filed):
    response = post(
        client_of("citizen2@demo.odr"),
        f"/api/v1/invitations/{token_of(filed)}/accept",
        {"consent": False},
    )
    assert_error(response, 400, "consent_required")
    assert Dispute.objects.get(pk=filed.pk).status == S.FILED


def test_the_invitation_expires_after_the_configured_days(filed_at_t0):
    token = token_of(filed_at_t0)
    invitation = Invitation.objects.get(token=token)
    assert invitation.expires_at == T0 + dt.timedelta(days=14)
    with time_machine.travel(T0 + dt.timedelta(days=14, seconds=1)):
        response = post(client_of("citizen2@demo.odr"), f"/api/v1/invitations/{token}/accept")
        assert_error(response, 410, "invitation_expired")
        response = post(
            client_of("citizen2@demo.odr"),
            f"/api/v1/invitations/{token}/decline",
            {"reason": "太晚了"},
        )
        assert_error(response, 410, "invitation_expired")
    assert Dispute.objects.get(pk=filed_at_t0.pk).status == S.FILED


def test_the_invitation_still_works_just_before_it_expires(filed_at_t0):
    with time_machine.travel(T0 + dt.timedelta(days=13, hours=23)):
        response = post(
            client_of("citizen2@demo.odr"), f"/api/v1/invitations/{token_of(filed_at_t0)}/accept"
        )
    assert response.status_code == 200


def test_the_invitation_days_follow_the_setting(demo, settings):
    settings.ODR_INVITATION_DAYS = 3
    with time_machine.travel(T0, tick=False):
        dispute = factories.file_dispute()
    assert Invitation.objects.get(party__dispute=dispute).expires_at == T0 + dt.timedelta(days=3)


@pytest.mark.parametrize("second", ["accept", "decline"])
def test_an_invitation_is_single_use(filed, second):
    token = token_of(filed)
    respondent = client_of("citizen2@demo.odr")
    assert post(respondent, f"/api/v1/invitations/{token}/accept").status_code == 200
    events = AuditEvent.objects.count()
    again = post(respondent, f"/api/v1/invitations/{token}/{second}", {"reason": "改主意"})
    assert_error(again, 410, "invitation_used")
    assert Dispute.objects.get(pk=filed.pk).status == S.AWAITING_INTAKE
    assert AuditEvent.objects.count() == events


def test_a_declined_invitation_cannot_then_be_accepted(filed):
    token = token_of(filed)
    respondent = client_of("citizen2@demo.odr")
    response = post(respondent, f"/api/v1/invitations/{token}/decline", {"reason": "不认识"})
    assert response.status_code == 204
    assert_error(post(respondent, f"/api/v1/invitations/{token}/accept"), 410, "invitation_used")
    assert Dispute.objects.get(pk=filed.pk).status == S.DECLINED


def test_someone_else_cannot_use_a_link_once_answered(filed):
    token = token_of(filed)
    post(client_of("citizen2@demo.odr"), f"/api/v1/invitations/{token}/accept")
    stranger = factories.make_user("stranger@example.com")
    other = Client()
    other.force_login(stranger)
    assert_error(post(other, f"/api/v1/invitations/{token}/accept"), 410, "invitation_used")


@pytest.mark.parametrize("answer", ["accept", "decline"])
def test_the_applicant_cannot_answer_their_own_dispute(filed, answer):
    response = post(
        client_of("citizen1@demo.odr"),
        f"/api/v1/invitations/{token_of(filed)}/{answer}",
        {"reason": "自己拒绝"},
    )
    assert_error(response, 403, "own_dispute")
    assert Dispute.objects.get(pk=filed.pk).status == S.FILED
    assert Invitation.objects.get(party__dispute=filed).used_at is None


@pytest.mark.parametrize("answer", ["accept", "decline"])
def test_an_unknown_token_is_404(filed, answer):
    response = post(
        client_of("citizen2@demo.odr"), f"/api/v1/invitations/nope/{answer}", {"reason": "x"}
    )
    assert_error(response, 404, "not_found")


def test_answering_needs_a_login(filed):
    assert_error(post(Client(), f"/api/v1/invitations/{token_of(filed)}/accept"), 401)


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({}, 422, "validation_error"),
        ({"reason": ""}, 422, "validation_error"),
        ({"reason": "   "}, 400, "reason_required"),
    ],
)
def test_decline_requires_a_reason(filed, body, status, code):
    response = post(
        client_of("citizen2@demo.odr"), f"/api/v1/invitations/{token_of(filed)}/decline", body
    )
    assert_error(response, status, code)
    assert Dispute.objects.get(pk=filed.pk).status == S.FILED
    assert Invitation.objects.get(party__dispute=filed).used_at is None


def test_decline_closes_the_case_and_records_the_reason(filed_at_t0):
    with time_machine.travel(T0 + dt.timedelta(days=2), tick=False):
        response = post(
            client_of("citizen2@demo.odr"),
            f"/api/v1/invitations/{token_of(filed_at_t0)}/decline",
            {"reason": "已经还清了"},
        )
    assert response.status_code == 204
    assert response.content == b""
    dispute = Dispute.objects.get(pk=filed_at_t0.pk)
    assert dispute.status == S.DECLINED
    assert dispute.closed_at == T0 + dt.timedelta(days=2)
    assert dispute.closing_reason == "已经还清了"
    party = dispute.parties.get(role="respondent")
    assert (party.accepted, party.decline_reason) == (False, "已经还清了")
    assert party.user.email == "citizen2@demo.odr"
    # The respondent now sees the closed case (they are a party), with nothing to do.
    body = client_of("citizen2@demo.odr").get(f"/api/v1/disputes/{filed_at_t0.pk}").json()
    assert (body["status"], body["actions"]) == ("declined", [])


# --- invitation_resend -------------------------------------------------------------------


def test_the_applicant_resends_an_expired_invitation_with_a_fresh_link(
    filed_at_t0, django_capture_on_commit_callbacks
):
    old = token_of(filed_at_t0)
    applicant = factories.demo_user("citizen1@demo.odr")
    later = T0 + dt.timedelta(days=20)
    with time_machine.travel(later, tick=False), django_capture_on_commit_callbacks(execute=True):
        [invitation] = services.invitation_resend(dispute=filed_at_t0, actor=applicant)
    assert invitation.token != old
    assert invitation.expires_at == later + dt.timedelta(days=14)
    assert not Invitation.objects.filter(token=old).exists()
    event = AuditEvent.objects.filter(dispute=filed_at_t0).order_by("-seq").first()
    assert event.action == "invitation.resend"
    assert event.actor_id == applicant.pk
    assert [m.to for m in mail.outbox] == [["citizen2@demo.odr"]]
    assert f"/invitations/{invitation.token}/" in mail.outbox[0].body
    # The old link is gone, the new one works.
    respondent = client_of("citizen2@demo.odr")
    with time_machine.travel(later + dt.timedelta(days=1)):
        assert_error(post(respondent, f"/api/v1/invitations/{old}/accept"), 404)
        assert post(respondent, f"/api/v1/invitations/{invitation.token}/accept").status_code == 200


@pytest.mark.parametrize("email", ["citizen2@demo.odr", "coordinator@demo.odr"])
def test_only_the_applicant_can_resend(filed, email):
    with pytest.raises(DomainError) as info:
        services.invitation_resend(dispute=filed, actor=factories.demo_user(email))
    assert info.value.status == 403
    assert Invitation.objects.get(party__dispute=filed).token == token_of(filed)


def test_no_resend_once_the_respondent_answered(filed):
    post(client_of("citizen2@demo.odr"), f"/api/v1/invitations/{token_of(filed)}/accept")
    dispute = Dispute.objects.get(pk=filed.pk)
    with pytest.raises(DomainError) as info:
        services.invitation_resend(dispute=dispute, actor=factories.demo_user("citizen1@demo.odr"))
    assert (info.value.status, info.value.code) == (409, "invalid_status")


@pytest.mark.parametrize(
    ("email", "status", "code"),
    [
        ("citizen2@demo.odr", 200, None),
        # The link is not a bearer token: it answers for the address it was sent to.
        ("bystander@example.com", 403, "invitation_for_someone_else"),
        ("citizen1@demo.odr", 403, "own_dispute"),
        ("mediator@demo.odr", 403, "conflict_of_interest"),
        ("coordinator@demo.odr", 403, "conflict_of_interest"),
        ("mediator.yucun@demo.odr", 403, "invitation_for_someone_else"),
        (None, 401, "unauthenticated"),
    ],
)
def test_invitation_accept_answers_each_role(filed, email, status, code):
    factories.make_user("bystander@example.com")
    response = post(client_of(email), f"/api/v1/invitations/{token_of(filed)}/accept")
    if status == 200:
        assert response.status_code == 200, response.content
        assert Dispute.objects.get(pk=filed.pk).parties.get(role="respondent").user.email == email
    else:
        assert_error(response, status, code)
        assert Dispute.objects.get(pk=filed.pk).status == S.FILED


# --- bound to the invited address (issue 11, L2) ----------------------------------------


def test_the_account_of_the_invited_address_answers_whatever_its_letter_case(demo):
    dispute = factories.file_dispute(respondent_email="Citizen2@Demo.ODR")
    response = post(
        client_of("citizen2@demo.odr"), f"/api/v1/invitations/{token_of(dispute)}/accept"
    )
    assert response.status_code == 200, response.content
    event = AuditEvent.objects.filter(dispute=dispute, action="dispute.respond_accept").get()
    assert "other_account" not in event.after


def test_staff_of_another_organisation_answer_an_invitation_sent_to_them_as_citizens(demo):
    dispute = factories.file_dispute(respondent_email="mediator.yucun@demo.odr")
    factories.with_identity(factories.demo_user("mediator.yucun@demo.odr"))
    response = post(
        client_of("mediator.yucun@demo.odr"), f"/api/v1/invitations/{token_of(dispute)}/accept"
    )
    assert response.status_code == 200, response.content


@pytest.mark.parametrize(
    ("answer", "body"), [("accept", {}), ("decline", {"reason": "不认识申请人"})]
)
def test_another_account_holding_the_link_is_refused_and_nothing_is_written(filed, answer, body):
    carol = factories.make_user("carol@example.com", name="卡罗")
    client = Client()
    client.force_login(carol)
    events = AuditEvent.objects.count()
    response = post(client, f"/api/v1/invitations/{token_of(filed)}/{answer}", body)
    assert_error(response, 403, "invitation_for_someone_else")
    # The address the link was sent to is not told to whoever holds it.
    assert "citizen2@demo.odr" not in response.content.decode()
    assert AuditEvent.objects.count() == events
    dispute = Dispute.objects.get(pk=filed.pk)
    assert dispute.status == S.FILED
    assert dispute.parties.get(role="respondent").user is None
    assert Invitation.objects.get(party__dispute=filed).used_at is None


@pytest.mark.parametrize(
    ("answer", "body", "status", "action"),
    [
        ("accept", {}, S.AWAITING_INTAKE, "dispute.respond_accept"),
        ("decline", {"reason": "不认识申请人"}, S.DECLINED, "dispute.respond_decline"),
    ],
)
def test_another_account_that_confirms_it_is_the_person_invited_answers_and_the_audit_says_so(
    filed, answer, body, status, action
):
    # The person invited at citizen2@ signed up with another address.
    other = factories.make_user("lisi.home@example.com", name="李四")
    client = Client()
    client.force_login(other)
    response = post(
        client,
        f"/api/v1/invitations/{token_of(filed)}/{answer}",
        {**body, "confirm_identity": True},
    )
    assert response.status_code in (200, 204), response.content
    dispute = Dispute.objects.get(pk=filed.pk)
    assert dispute.status == status
    assert dispute.parties.get(role="respondent").user == other
    event = AuditEvent.objects.filter(dispute=dispute, action=action).get()
    assert event.actor == other
    assert event.after["other_account"] is True
    assert event.after["invited"] == "c******2@demo.odr"
    assert "citizen2@demo.odr" not in str(event.after)


def test_a_verified_second_address_of_the_account_counts_as_the_invited_one(demo):
    from allauth.account.models import EmailAddress

    lisi = factories.make_user("lisi.home@example.com", name="李四")
    dispute = factories.file_dispute(respondent_email="lisi.work@example.com")
    EmailAddress.objects.create(user=lisi, email="lisi.work@example.com", verified=False)
    client = Client()
    client.force_login(lisi)
    url = f"/api/v1/invitations/{token_of(dispute)}/accept"
    assert_error(post(client, url), 403, "invitation_for_someone_else")  # not verified yet
    EmailAddress.objects.filter(email="lisi.work@example.com").update(verified=True)
    assert post(client, url).status_code == 200
