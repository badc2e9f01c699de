"""A respondent named with a mobile number only is texted the invitation link, answers it
with an account opened on that number, and is reminded by text (issue 12)."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.core import mail
from django.core.cache import cache
from django.test import Client

from odr import services, sms
from odr.models import Party
from odr.notifications import Recipient, notify
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)

NUMBER = "13711112222"
PASSWORD = "a-long-enough-passw0rd"


def file_against_a_phone(phone: str = NUMBER):
    applicant = factories.with_identity(factories.demo_user("citizen1@demo.odr"))
    return services.dispute_file(
        applicant=applicant,
        category="debt",
        title="借款未还",
        description="2025年3月借给李四人民币一万元，约定半年归还，至今未还。",
        request="归还借款一万元。",
        claim_amount=Decimal("10000.00"),
        region_code="330523000000",
        respondent_name="李四",
        respondent_phone=phone,
    )


def test_a_respondent_named_by_mobile_number_is_texted_the_invitation_link(demo):
    cache.clear()
    dispute = file_against_a_phone("137 1111 2222")
    [text] = sms.sent_texts()
    assert text["to"] == "+8613711112222"
    token = Party.objects.get(dispute=dispute, role="respondent").invitation.token
    assert f"/invitations/{token}/" in text["text"]
    assert dispute.case_number in text["text"]
    assert not [m for m in mail.outbox if "李四" in m.body]


def test_the_texted_respondent_signs_up_with_that_number_and_accepts(demo):
    cache.clear()
    dispute = file_against_a_phone()
    link = re.search(r"https?://\S+/invitations/[^/\s]+/", sms.sent_texts()[0]["text"]).group(0)
    path = "/" + link.split("/", 3)[3]
    client = Client()
    client.post(
        "/accounts/signup/", {"phone": NUMBER, "password1": PASSWORD, "password2": PASSWORD}
    )
    code = re.search(r"\b(\d{6})\b", sms.sent_texts()[-1]["text"]).group(1)
    client.post("/accounts/phone/verify/", {"code": code})
    # The account proved the invited number: the link is theirs, no "someone else" step.
    user = Party.objects.model._meta.apps.get_model("auth", "User").objects.get(
        profile__phone=NUMBER
    )
    user.profile.real_name = "李四"
    user.profile.id_number = factories.id_number_for(77)
    user.profile.save()
    page = client.get(path)
    assert page.status_code == 200
    assert "someone else" not in page.content.decode()
    answer = client.post(
        f"/api/v1/invitations/{path.rstrip('/').rsplit('/', 1)[1]}/accept",
        "{}",
        content_type="application/json",
    )
    assert answer.status_code == 200, answer.content
    assert Party.objects.get(dispute=dispute, role="respondent").user == user


def test_a_number_merely_typed_into_a_profile_is_not_the_invited_one(demo):
    from odr import selectors

    dispute = file_against_a_phone()
    invitation = Party.objects.get(dispute=dispute, role="respondent").invitation
    typist = factories.make_user()
    typist.profile.phone = NUMBER
    typist.profile.save()
    assert not selectors.invitation_is_addressed_to(invitation, typist)


def test_notifications_go_by_text_where_the_person_has_a_phone_and_by_email_where_an_address(
    demo,
):
    notify(
        [Recipient(email="a@example.com"), Recipient(phone="13811112222"), Recipient()],
        "withdrawn",
        {
            "case_number": "（2026）安调1号",
            "title": "借款",
            "case_url": "http://127.0.0.1:8000/disputes/1/",
            "organisation": "县矛调中心",
        },
    )
    assert [m.to for m in mail.outbox] == [["a@example.com"]]
    [text] = sms.sent_texts()
    assert text["to"] == "+8613811112222"
    # The e-mail's subject and the one link, in Chinese.
    assert "http://127.0.0.1:8000/disputes/1/" in text["text"]
    assert "（2026）安调1号" in text["text"]


def test_the_filer_is_told_the_link_was_texted_and_may_pass_it_on_too(demo):
    dispute = file_against_a_phone()
    client = Client()
    client.force_login(factories.demo_user("citizen1@demo.odr"))
    page = client.get(f"/disputes/{dispute.pk}/").content.decode()
    assert "我们已把链接用短信发到 13711112222" in page
    landline = file_against_a_phone("0572-5123456")
    page = client.get(f"/disputes/{landline.pk}/").content.decode()
    # A landline cannot be texted: the filer passes the link on, as before.
    assert "0572-5123456" in page and "用短信发到" not in page
