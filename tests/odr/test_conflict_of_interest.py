"""Conflict of interest (回避) on every path that makes someone a party or the mediator of a
case, and on organisation staff deciding their own case (issue 11, M2): a party is never
the mediator, and staff who are a party cannot take the organisation's moves on it."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from odr import services
from odr.errors import DomainError
from odr.models import AuditEvent, Dispute, Membership, Organisation
from odr.transitions import allowed_actions
from tests import factories
from tests.odr.api_support import assert_error, post

pytestmark = pytest.mark.django_db
S = Dispute.Status
YUCUN = "330523101201"  # a village with its own committee; its township has one too


def user(email: str):
    return factories.demo_user(email)


def centre() -> Organisation:
    return Organisation.objects.get(kind=Organisation.Kind.COUNTY_CENTRE)


def client_of(account) -> Client:
    client = Client()
    client.force_login(account)
    return client


def answered(dispute: Dispute) -> Dispute:
    """The respondent (citizen2) agreed: the case waits for intake."""
    token = dispute.parties.get(role="respondent").invitation.token
    return services.invitation_accept(
        token=token, user=user("citizen2@demo.odr"), consent_online=True
    )


def refused(call, *, status: int, code: str, dispute: Dispute) -> None:
    """The move is refused with this status and code, and nothing changed."""
    events = AuditEvent.objects.count()
    before = Dispute.objects.values("status", "mediator", "organisation").get(pk=dispute.pk)
    with pytest.raises(DomainError) as info:
        call()
    assert (info.value.status, info.value.code) == (status, code)
    assert Dispute.objects.values("status", "mediator", "organisation").get(pk=dispute.pk) == before
    assert AuditEvent.objects.count() == events


def test_a_coordinator_who_filed_a_case_routed_to_his_centre_cannot_accept_it(demo):
    coordinator = user("coordinator@demo.odr")
    dispute = answered(factories.file_dispute(applicant=coordinator))
    # Filed, as anyone's case is, at the organisation the law routes it to: his own.
    assert dispute.organisation == centre()
    assert dispute.status == S.AWAITING_INTAKE
    actions = allowed_actions(dispute, coordinator)
    assert not {"accept", "reject", "assign", "escalate"} & set(actions)
    assert actions == ["withdraw"]  # what he may do is the applicant's
    response = post(
        client_of(coordinator),
        f"/api/v1/disputes/{dispute.pk}/actions/accept",
        {"mediator": user("mediator@demo.odr").pk},
    )
    assert_error(response, 403, "action_not_allowed")
    assert Dispute.objects.get(pk=dispute.pk).status == S.AWAITING_INTAKE
    assert not AuditEvent.objects.filter(dispute=dispute, action="dispute.accept").exists()


def test_a_mediator_who_filed_a_case_routed_to_his_centre_is_never_its_mediator(demo, client):
    mediator = user("mediator@demo.odr")
    dispute = answered(factories.file_dispute(applicant=mediator))
    assert dispute.organisation == centre()
    coordinator = user("coordinator@demo.odr")
    # The picker on the case page does not offer him ...
    page = client_of(coordinator).get(reverse("odr:dispute_detail", args=[dispute.pk]))
    assert 'id="action-accept"' in page.content.decode()
    assert f'<option value="{mediator.pk}"' not in page.content.decode()
    # ... and accepting the case for him is refused.
    refused(
        lambda: services.dispute_accept(dispute=dispute, actor=coordinator, mediator=mediator.pk),
        status=400,
        code="conflict_of_interest",
        dispute=dispute,
    )
    response = post(
        client_of(coordinator),
        f"/api/v1/disputes/{dispute.pk}/actions/accept",
        {"mediator": mediator.pk},
    )
    assert_error(response, 400, "conflict_of_interest")


def test_the_intake_queue_offers_a_party_neither_the_accept_button_nor_the_picker(demo):
    coordinator, mediator = user("coordinator@demo.odr"), user("mediator@demo.odr")
    Membership.objects.create(user=coordinator, organisation=centre(), role="mediator")
    own = answered(factories.file_dispute(applicant=coordinator, title="自己的案件"))
    other = answered(factories.file_dispute(applicant=mediator, title="调解员的案件"))
    page = client_of(coordinator).get(reverse("odr:intake")).content.decode()
    accept_own = reverse("odr:dispute_action", args=[own.pk, "accept"])
    accept_other = reverse("odr:dispute_action", args=[other.pk, "accept"])
    assert f'action="{accept_own}"' not in page
    assert f'action="{accept_other}"' in page
    picker = page.split(f'action="{accept_other}"')[1].split("</select>")[0]
    assert f'<option value="{mediator.pk}"' not in picker  # the applicant of that case
    assert f'<option value="{coordinator.pk}"' in picker


def test_a_coordinator_who_is_a_party_cannot_assign_the_case_to_himself(demo):
    coordinator = user("coordinator@demo.odr")
    Membership.objects.create(user=coordinator, organisation=centre(), role="mediator")
    colleague = factories.make_user(
        "coordinator2@demo.odr", name="钱协调", org=centre(), role="coordinator"
    )
    dispute = answered(factories.file_dispute(applicant=coordinator))
    dispute = services.dispute_accept(
        dispute=dispute, actor=colleague, mediator=user("mediator@demo.odr").pk
    )
    assert "assign" not in allowed_actions(dispute, coordinator)
    refused(
        lambda: services.dispute_assign(
            dispute=dispute, actor=coordinator, mediator=coordinator.pk
        ),
        status=403,
        code="action_not_allowed",
        dispute=dispute,
    )


def test_nobody_can_give_the_case_to_a_mediator_who_is_a_party(demo):
    coordinator = user("coordinator@demo.odr")
    party_mediator = factories.make_user(
        "mediator2@demo.odr", name="孙调解", org=centre(), role="mediator"
    )
    dispute = answered(factories.file_dispute(applicant=party_mediator))
    dispute = services.dispute_accept(
        dispute=dispute, actor=coordinator, mediator=user("mediator@demo.odr").pk
    )
    # The only other mediator of the centre is the applicant: nobody to give it to.
    assert "assign" not in allowed_actions(dispute, coordinator)
    refused(
        lambda: services.dispute_assign(
            dispute=dispute, actor=coordinator, mediator=party_mediator.pk
        ),
        status=400,
        code="conflict_of_interest",
        dispute=dispute,
    )
    response = post(
        client_of(coordinator),
        f"/api/v1/disputes/{dispute.pk}/actions/assign",
        {"mediator": party_mediator.pk},
    )
    assert_error(response, 400, "conflict_of_interest")


def test_a_case_escalated_to_an_organisation_where_a_party_is_staff_is_not_his_to_decide(demo):
    township_coordinator = user("coordinator.tianhuangping@demo.odr")
    # He has a dispute in a village of his township: it starts at the village committee.
    dispute = answered(factories.file_dispute(applicant=township_coordinator, region_code=YUCUN))
    assert dispute.organisation.kind == "village_committee"
    dispute = services.dispute_escalate(
        dispute=dispute, actor=user("coordinator.yucun@demo.odr"), reason="金额较大"
    )
    assert dispute.organisation.kind == "township_committee"
    assert allowed_actions(dispute, township_coordinator) == ["withdraw"]
    for action, data in (
        ("accept", {"mediator": user("mediator.tianhuangping@demo.odr").pk}),
        ("reject", {"reason": "不予受理"}),
        ("escalate", {"reason": "回避"}),
    ):
        refused(
            lambda action=action, data=data: services.dispute_run_action(
                dispute=dispute, actor=township_coordinator, action=action, data=data
            ),
            status=403,
            code="action_not_allowed",
            dispute=dispute,
        )
    response = post(
        client_of(township_coordinator),
        f"/api/v1/disputes/{dispute.pk}/actions/reject",
        {"reason": "不予受理"},
    )
    assert_error(response, 403, "action_not_allowed")


def test_staff_of_the_handling_organisation_cannot_answer_an_invitation_sent_to_them(demo):
    mediator = user("mediator@demo.odr")
    dispute = factories.file_dispute(respondent_email=mediator.email)
    assert dispute.organisation == centre()
    token = dispute.parties.get(role="respondent").invitation.token
    for answer, body in (("accept", {}), ("decline", {"reason": "不同意"})):
        response = post(client_of(mediator), f"/api/v1/invitations/{token}/{answer}", body)
        assert_error(response, 403, "conflict_of_interest")
    dispute.refresh_from_db()
    assert dispute.status == S.FILED
    assert dispute.parties.get(role="respondent").user is None
