"""The respondent's invitation page: read the claim, log in and come back, agree or
decline; used, expired and unknown links get a clear page."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from odr.models import Dispute, Invitation
from tests import factories
from tests.factories import demo_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def invited(demo) -> tuple[Dispute, str]:
    dispute = factories.file_dispute(title="借款一万元未还")
    return dispute, dispute.parties.get(role="respondent").invitation.token


def _page(token: str) -> str:
    return reverse("odr:invitation", args=[token])


def test_an_anonymous_visitor_reads_the_claim_and_is_offered_login_and_signup(client, invited):
    dispute, token = invited
    response = client.get(_page(token))
    assert response.status_code == 200
    page = response.content.decode()
    for text in (dispute.title, dispute.description, dispute.request, "10000", "张三"):
        assert text in page
    assert f"/accounts/login/?next=/invitations/{token}/" in page
    assert f"/accounts/signup/?next=/invitations/{token}/" in page
    assert 'name="consent"' not in page  # answering needs an account


def test_logging_in_from_the_invitation_comes_back_to_it(client, invited):
    _dispute, token = invited
    response = client.post(
        f"/accounts/login/?next={_page(token)}",
        {"login": "citizen2@demo.odr", "password": factories.PASSWORD},
    )
    assert response.status_code == 302
    assert response["Location"] == _page(token)
    assert 'name="consent"' in client.get(_page(token)).content.decode()


def test_the_respondent_consents_and_accepts_and_the_applicant_is_told(
    client, invited, django_capture_on_commit_callbacks
):
    dispute, token = invited
    client.force_login(demo_user("citizen2@demo.odr"))
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("odr:invitation_accept", args=[token]), {"consent": "on"})
    assert response.status_code == 302
    assert response["Location"] == reverse("odr:dispute_detail", args=[dispute.pk])
    dispute.refresh_from_db()
    assert dispute.status == Dispute.Status.AWAITING_INTAKE
    recipients = {m.to[0] for m in mail.outbox}
    assert "citizen1@demo.odr" in recipients and "coordinator@demo.odr" in recipients
    assert client.get(response["Location"]).status_code == 200


def test_accepting_without_consent_is_refused_next_to_the_box(client, invited):
    dispute, token = invited
    client.force_login(demo_user("citizen2@demo.odr"))
    response = client.post(reverse("odr:invitation_accept", args=[token]), {})
    assert response.status_code == 400
    assert "consent" in response.context["accept_form"].errors
    dispute.refresh_from_db()
    assert dispute.status == Dispute.Status.FILED


def test_the_respondent_declines_with_a_reason_and_the_applicant_is_told(
    client, invited, django_capture_on_commit_callbacks
):
    dispute, token = invited
    client.force_login(demo_user("citizen2@demo.odr"))
    mail.outbox.clear()
    client.post(reverse("odr:invitation_decline", args=[token]), {"reason": " "})
    dispute.refresh_from_db()
    assert dispute.status == Dispute.Status.FILED  # a reason is needed
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("odr:invitation_decline", args=[token]), {"reason": "我已经还了"})
    dispute.refresh_from_db()
    assert dispute.status == Dispute.Status.DECLINED
    assert [m.to for m in mail.outbox] == [["citizen1@demo.odr"]]
    assert "我已经还了" in mail.outbox[0].body


def test_a_used_link_gets_a_clear_page_and_the_respondent_a_way_to_the_case(client, invited):
    dispute, token = invited
    client.force_login(demo_user("citizen2@demo.odr"))
    client.post(reverse("odr:invitation_accept", args=[token]), {"consent": "on"})
    response = client.get(_page(token))
    assert response.status_code == 410
    assert response.context["reason"] == "used"
    assert reverse("odr:dispute_detail", args=[dispute.pk]) in response.content.decode()
    again = client.post(reverse("odr:invitation_accept", args=[token]), {"consent": "on"})
    assert again.status_code == 410


def test_an_expired_link_gets_a_clear_page_and_cannot_be_answered(client, invited):
    dispute, token = invited
    with time_machine.travel(timezone.now() + timedelta(days=15)):
        client.force_login(demo_user("citizen2@demo.odr"))
        response = client.get(_page(token))
        assert response.status_code == 410
        assert response.context["reason"] == "expired"
        client.post(reverse("odr:invitation_accept", args=[token]), {"consent": "on"})
    dispute.refresh_from_db()
    assert dispute.status == Dispute.Status.FILED


def test_an_unknown_link_gets_a_clear_not_found_page(client, demo):
    response = client.get(_page("no-such-token"))
    assert response.status_code == 404
    assert response.context["reason"] == "invalid"


def test_the_applicant_opening_the_link_is_told_it_is_their_own_dispute(client, invited):
    _dispute, token = invited
    client.force_login(demo_user("citizen1@demo.odr"))
    response = client.get(_page(token))
    assert response.context["own"] is True
    assert 'name="consent"' not in response.content.decode()


def test_the_applicant_can_send_a_new_invitation_once_the_first_expired(
    client, invited, django_capture_on_commit_callbacks
):
    dispute, token = invited
    client.force_login(demo_user("citizen1@demo.odr"))
    url = reverse("odr:dispute_detail", args=[dispute.pk])
    assert 'id="invitation-expiry"' in client.get(url).content.decode()
    with time_machine.travel(timezone.now() + timedelta(days=15)):
        client.force_login(demo_user("citizen1@demo.odr"))  # the session itself expired
        assert client.get(url).context["can_resend"] is True
        mail.outbox.clear()
        with django_capture_on_commit_callbacks(execute=True):
            client.post(reverse("odr:invitation_resend", args=[dispute.pk]))
    new = Invitation.objects.get(party__dispute=dispute)
    assert new.token != token
    assert f"/invitations/{new.token}/" in mail.outbox[0].body


def test_another_account_sees_the_invited_address_masked_and_a_box_to_confirm(client, invited):
    _dispute, token = invited
    client.force_login(factories.make_user("carol@example.com", name="卡罗"))
    page = client.get(_page(token)).content.decode()
    assert 'id="someone-else"' in page
    assert "c******2@demo.odr" in page
    assert "citizen2@demo.odr" not in page
    assert page.count('name="confirm_identity"') == 2  # in the accept and the decline form


def test_the_invited_account_is_not_asked_to_confirm_who_it_is(client, invited):
    _dispute, token = invited
    client.force_login(demo_user("citizen2@demo.odr"))
    page = client.get(_page(token)).content.decode()
    assert 'id="someone-else"' not in page
    assert 'name="confirm_identity"' not in page


def test_another_account_answers_on_the_page_only_once_it_ticks_the_box(client, invited):
    dispute, token = invited
    other = factories.make_user("lisi.home@example.com", name="李四")
    client.force_login(other)
    url = reverse("odr:invitation_accept", args=[token])
    response = client.post(url, {"consent": "on"})
    assert response.status_code == 403
    assert "confirm_identity" in response.context["accept_form"].errors
    dispute.refresh_from_db()
    assert dispute.status == Dispute.Status.FILED
    response = client.post(url, {"consent": "on", "confirm_identity": "1"})
    assert response.status_code == 302
    dispute.refresh_from_db()
    assert dispute.status == Dispute.Status.AWAITING_INTAKE
    assert dispute.parties.get(role="respondent").user == other
    event = dispute.audit_events.get(action="dispute.respond_accept")
    assert (event.after["other_account"], event.after["invited"]) == (True, "c******2@demo.odr")
