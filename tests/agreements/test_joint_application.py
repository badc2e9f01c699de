"""Every party applies (DESIGN.md §3, CONTRACT §3): the request waits (`awaiting_consent`)
until each party who signed the agreement has applied with their own act, then goes to
the court (`pending`); an agent with special authorisation may apply for their party; a
matter of SPC interpretation of the CPL Art. 355 is refused at the door with its reason,
and the case page shows that reason instead of the button."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.utils import translation
from django.utils.html import escape

from agreements.content_check import confirmation_bar
from agreements.court import services as court_services
from agreements.models import ConfirmationConsent, ConfirmationRequest
from odr.errors import DomainError
from odr.models import Agent, AuditEvent, Party
from tests import factories
from tests.signing import api_apply, sign_application

pytestmark = pytest.mark.django_db
CR = ConfirmationRequest.Status


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def _apply(client, agreement, user, body=None):
    client.force_login(user)
    # A party applies by signing the joint application (issue 9, point 5).
    return api_apply(client, agreement.pk, body or {})


def _second_respondent(agreement, *, user=None, accepted=True) -> Party:
    user = user or factories.make_user("wangwu@example.com", name="王五")
    return Party.objects.create(
        dispute=agreement.dispute,
        role=Party.Role.RESPONDENT,
        position=1,
        name="王五",
        user=user,
        email=user.email,
        accepted=accepted,
    )


def test_three_parties_each_apply_before_the_court_sees_it(demo, client):
    agreement = factories.agreement_in_force()
    third = _second_respondent(agreement)
    citizen1 = factories.demo_user("citizen1@demo.odr")
    citizen2 = factories.demo_user("citizen2@demo.odr")

    first = _apply(client, agreement, citizen1).json()
    assert first["status"] == "awaiting_consent"
    assert set(first) >= {"id", "status", "court"}
    # Every party who signed, in document order, each with their own application.
    assert [p["consented_at"] is not None for p in first["parties"]] == [True, False, False]
    second = _apply(client, agreement, citizen2).json()
    # Two of three: still waiting; the court sees nothing.
    assert second["status"] == "awaiting_consent"
    assert [p["consented_at"] is not None for p in second["parties"]] == [True, True, False]
    client.force_login(factories.demo_user(factories.CLERK))
    assert client.get("/api/v1/court/requests").json()["count"] == 0
    # The third party's page offers the button, with every party's state.
    client.force_login(third.user)
    page = client.get(f"/disputes/{agreement.dispute_id}/").content.decode()
    assert 'id="confirmation-apply"' in page and "王五" in page

    third_answer = _apply(client, agreement, third.user).json()
    assert third_answer["status"] == "pending"
    assert all(p["consented_at"] for p in third_answer["parties"])
    assert len(third_answer["parties"]) == 3
    request = ConfirmationRequest.objects.get()
    assert ConfirmationConsent.objects.filter(request=request).count() == 3
    # The first of each side, kept for what still reads the two columns.
    assert request.applicant_consented_at and request.respondent_consented_at
    actions = list(
        AuditEvent.objects.filter(object_type="agreements.confirmationrequest")
        .order_by("seq")
        .values_list("action", flat=True)
    )
    assert actions == ["confirmation.apply"] + ["confirmation.consent"] * 3 + [
        "confirmation.submit"
    ]


def test_a_party_who_declined_to_mediate_is_not_asked_to_apply(demo):
    agreement = factories.agreement_in_force()
    _second_respondent(agreement, accepted=False)
    sign_application(agreement=agreement, actor=factories.demo_user("citizen1@demo.odr"))
    request = sign_application(agreement=agreement, actor=factories.demo_user("citizen2@demo.odr"))
    assert request.status == CR.PENDING


def test_the_parties_the_agreement_names_are_those_who_apply(demo):
    agreement = factories.agreement_in_force()
    third = _second_respondent(agreement)
    # The frozen identities name the two demo parties only (the third joined later).
    agreement.parties = [
        {"party_id": p.pk, "role": p.role, "kind": "person", "name": p.name}
        for p in agreement.dispute.parties.exclude(pk=third.pk)
    ]
    agreement.save(update_fields=["parties"])
    with pytest.raises(DomainError) as refused:
        sign_application(agreement=agreement, actor=third.user)
    assert refused.value.code == "not_a_party"
    sign_application(agreement=agreement, actor=factories.demo_user("citizen1@demo.odr"))
    request = sign_application(agreement=agreement, actor=factories.demo_user("citizen2@demo.odr"))
    assert request.status == CR.PENDING


def test_an_agent_with_special_authorisation_applies_for_the_party(demo):
    agreement = factories.agreement_in_force()
    respondent = agreement.dispute.parties.get(role=Party.Role.RESPONDENT)
    lawyer = factories.make_user("lawyer@example.com", name="孙律师")
    general = factories.make_user("clerkfriend@example.com", name="钱某")

    def agent(user, scope):
        made = Agent(
            party=respondent,
            user=user,
            name=user.email,
            scope=scope,
            filename="poa.pdf",
            extension=".pdf",
            content_type="application/pdf",
            sha256="0" * 64,
            added_by=respondent.user,
        )
        made.power_of_attorney.save("poa.pdf", ContentFile(b"%PDF-1.4\n"), save=False)
        made.save()
        return made

    agent(lawyer, Agent.Scope.SPECIAL)
    agent(general, Agent.Scope.GENERAL)
    sign_application(agreement=agreement, actor=factories.demo_user("citizen1@demo.odr"))
    # A general authorisation does not reach an application (CPL Art. 62).
    with pytest.raises(DomainError) as refused:
        sign_application(agreement=agreement, actor=general)
    assert refused.value.code == "not_a_party"
    request = sign_application(agreement=agreement, actor=lawyer)
    assert request.status == CR.PENDING
    consent = ConfirmationConsent.objects.get(request=request, party=respondent)
    assert consent.user == lawyer


def test_applying_twice_is_harmless(demo):
    agreement = factories.agreement_in_force()
    _second_respondent(agreement)
    citizen1 = factories.demo_user("citizen1@demo.odr")
    first = sign_application(agreement=agreement, actor=citizen1)
    events = AuditEvent.objects.count()
    signed_pdf = bytes(first.signing_pdf)
    # Applying again returns the request as it is.
    again = court_services.confirmation_apply(agreement=agreement, actor=citizen1)
    assert again.pk == first.pk and again.status == CR.AWAITING_CONSENT
    # Signing again is refused before the password is spent: nothing is written.
    with pytest.raises(DomainError) as refused:
        sign_application(agreement=agreement, actor=citizen1)
    assert refused.value.code == "already_applied" and refused.value.status == 409
    assert AuditEvent.objects.count() == events
    assert bytes(ConfirmationRequest.objects.get().signing_pdf) == signed_pdf


@pytest.mark.parametrize("matter", ["divorce", "property_title", "ip_title", "bankruptcy"])
def test_a_matter_no_court_accepts_is_refused_with_its_reason(demo, client, matter):
    agreement = factories.agreement_in_force(matter=matter)
    citizen1 = factories.demo_user("citizen1@demo.odr")
    response = _apply(client, agreement, citizen1)
    assert response.status_code == 422
    assert response.json()["code"] == "not_confirmable"
    with translation.override(settings.LANGUAGE_CODE):
        reason = confirmation_bar(agreement)
    assert reason and response.json()["detail"] == reason
    assert not ConfirmationRequest.objects.exists()
    # The case page shows the reason instead of the button.
    page = client.get(f"/disputes/{agreement.dispute_id}/").content.decode()
    assert 'id="not-confirmable"' in page and escape(reason) in page
    assert 'id="confirmation-apply"' not in page
    # And the page's own form answers with the reason too.
    form = client.post(f"/agreements/{agreement.pk}/confirmation/", {"consent": "1"}, follow=True)
    assert escape(reason) in form.content.decode()
    assert not ConfirmationRequest.objects.exists()
