"""Accounts by mobile number (issue 12): sign up and log in with a texted code, the phone
kept in the profile, codes that expire, work once and are limited per number and per
address; e-mail accounts as before (CONTRACT §2)."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from odr import sms
from odr.models import Profile

PASSWORD = "a-long-enough-passw0rd"
NUMBER = "13912345678"

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _fresh_cache():
    # allauth keeps its rate-limit counters in the cache.
    cache.clear()
    yield
    cache.clear()


def last_code() -> str:
    texts = sms.sent_texts()
    assert texts, "no text was sent"
    match = re.search(r"\b(\d{6})\b", texts[-1]["text"])
    assert match, texts[-1]["text"]
    return match.group(1)


def sign_up_by_phone(client: Client, number: str = NUMBER):
    return client.post(
        "/accounts/signup/", {"phone": number, "password1": PASSWORD, "password2": PASSWORD}
    )


def test_a_person_signs_up_with_a_mobile_number_and_the_texted_code():
    client = Client()
    answer = sign_up_by_phone(client, "139 1234 5678")
    assert answer.status_code == 302 and answer["Location"] == "/accounts/phone/verify/"
    [text] = sms.sent_texts()
    assert text["to"] == "+8613912345678"
    assert text["text"].startswith(settings.ODR_SMS_SIGNATURE)
    answer = client.post("/accounts/phone/verify/", {"code": last_code()})
    assert answer.status_code == 302
    user = get_user_model().objects.get(profile__phone=NUMBER)
    assert user.email == ""
    assert Profile.objects.get(user=user).phone_verified
    assert client.get("/api/v1/me").json()["id"] == user.pk


def test_a_wrong_code_is_refused_and_the_account_stays_unproven():
    client = Client()
    sign_up_by_phone(client)
    code = last_code()
    wrong = "000000" if code != "000000" else "111111"
    answer = client.post("/accounts/phone/verify/", {"code": wrong})
    assert answer.status_code == 200
    assert "aria-invalid" in answer.content.decode()
    assert not Profile.objects.get(phone=NUMBER).phone_verified


def test_a_code_works_once_and_three_wrong_tries_end_it():
    client = Client()
    sign_up_by_phone(client)
    code = last_code()
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(settings.ACCOUNT_PHONE_VERIFICATION_MAX_ATTEMPTS):
        client.post("/accounts/phone/verify/", {"code": wrong})
    # The process is over: even the right code no longer proves the number.
    client.post("/accounts/phone/verify/", {"code": code})
    assert not Profile.objects.get(phone=NUMBER).phone_verified


def test_log_in_by_texted_code_and_the_code_cannot_be_used_again():
    client = Client()
    sign_up_by_phone(client)
    client.post("/accounts/phone/verify/", {"code": last_code()})
    client.post("/accounts/logout/")
    other = Client()
    answer = other.post("/accounts/login/code/", {"phone": NUMBER})
    assert answer.status_code == 302, answer.content.decode()[:2000]
    code = last_code()
    answer = other.post("/accounts/login/code/confirm/", {"code": code})
    assert answer.status_code == 302
    assert other.get("/api/v1/me").status_code == 200
    # Used once: a second browser cannot log in with it.
    third = Client()
    third.post("/accounts/login/code/", {"phone": NUMBER})
    assert third.post("/accounts/login/code/confirm/", {"code": code}).status_code == 200
    assert third.get("/api/v1/me").status_code == 401


def test_log_in_with_the_mobile_number_and_password():
    client = Client()
    sign_up_by_phone(client)
    client.post("/accounts/phone/verify/", {"code": last_code()})
    other = Client()
    answer = other.post("/accounts/login/", {"login": NUMBER, "password": PASSWORD})
    assert answer.status_code == 302
    assert other.get("/api/v1/me").status_code == 200


def test_a_login_code_expires(time_machine):
    client = Client()
    sign_up_by_phone(client)
    client.post("/accounts/phone/verify/", {"code": last_code()})
    other = Client()
    other.post("/accounts/login/code/", {"phone": NUMBER})
    code = last_code()
    time_machine.move_to(
        timezone.now() + timedelta(seconds=settings.ACCOUNT_LOGIN_BY_CODE_TIMEOUT + 5)
    )
    other.post("/accounts/login/code/confirm/", {"code": code})
    assert other.get("/api/v1/me").status_code == 401


def test_a_number_only_typed_into_a_profile_does_not_log_anyone_in(demo):
    # The mediator typed a number into the profile; its owner never proved it.
    Profile.objects.filter(user__email="mediator@demo.odr").update(phone=NUMBER)
    client = Client()
    client.post("/accounts/login/code/", {"phone": NUMBER})
    assert not [t for t in sms.sent_texts() if re.search(r"\d{6}", t["text"])]
    assert client.get("/api/v1/me").status_code == 401
    # And it does not stop the mediator's own e-mail log-in.
    mediator = Client()
    answer = mediator.post(
        "/accounts/login/", {"login": "mediator@demo.odr", "password": "odr-demo-2026"}
    )
    assert answer.status_code == 302
    assert mediator.get("/api/v1/me").status_code == 200


def test_changing_the_profile_phone_makes_it_unproven_again():
    client = Client()
    sign_up_by_phone(client)
    client.post("/accounts/phone/verify/", {"code": last_code()})
    answer = client.patch(
        "/api/v1/me", json.dumps({"phone": "13700000000"}), content_type="application/json"
    )
    assert answer.status_code == 200
    profile = Profile.objects.get(phone="13700000000")
    assert not profile.phone_verified


def test_sign_up_needs_an_email_or_a_phone_and_says_so():
    answer = Client().post("/accounts/signup/", {"password1": PASSWORD, "password2": PASSWORD})
    assert answer.status_code == 200
    assert "手机号" in answer.content.decode()
    assert not get_user_model().objects.exists()


@pytest.mark.parametrize("number", ["1391234567", "23912345678", "0572-5123456"])
def test_a_number_that_is_not_a_mobile_is_refused_in_plain_words(number):
    answer = sign_up_by_phone(Client(), number)
    assert answer.status_code == 200
    assert "手机号应为11位数字" in answer.content.decode()
    assert sms.sent_texts() == []


def test_the_same_number_cannot_open_two_accounts():
    client = Client()
    sign_up_by_phone(client)
    client.post("/accounts/phone/verify/", {"code": last_code()})
    # Nobody learns from the page whether a number has an account (allauth's
    # enumeration prevention): the number's owner is told by text instead.
    answer = sign_up_by_phone(Client())
    assert get_user_model().objects.count() == 1
    assert answer.status_code == 302
    assert "已有账号" in sms.sent_texts()[-1]["text"]


def test_email_signup_and_login_still_work_by_the_app_client(settings):
    settings.ODR_EMAIL_VERIFICATION_MANDATORY = False
    client = Client()
    answer = client.post(
        "/_allauth/app/v1/auth/signup",
        json.dumps({"email": "citizen@example.com", "password": PASSWORD}),
        content_type="application/json",
    )
    assert answer.status_code == 200, answer.content
    assert answer.json()["meta"]["session_token"]


def test_a_phone_signup_by_the_app_client_waits_for_the_texted_code():
    client = Client()
    answer = client.post(
        "/_allauth/app/v1/auth/signup",
        json.dumps({"phone": NUMBER, "password": PASSWORD}),
        content_type="application/json",
    )
    assert answer.status_code == 401
    token = answer.json()["meta"]["session_token"]
    flows = {f["id"]: f for f in answer.json()["data"]["flows"]}
    assert flows["verify_phone"]["is_pending"]
    answer = client.post(
        "/_allauth/app/v1/auth/phone/verify",
        json.dumps({"code": last_code()}),
        content_type="application/json",
        HTTP_X_SESSION_TOKEN=token,
    )
    assert answer.status_code == 200, answer.content
    assert Profile.objects.get(phone=NUMBER).phone_verified


# --- limits: per number ("key") and per address ("ip"), as production has them ---


def test_login_codes_are_limited_per_number(settings):
    settings.ACCOUNT_RATE_LIMITS = dict(settings.ODR_CODE_RATE_LIMITS)
    client = Client()
    sign_up_by_phone(client)
    client.post("/accounts/phone/verify/", {"code": last_code()})
    before = len(sms.sent_texts())
    answers = [
        Client(REMOTE_ADDR=f"10.0.0.{i}").post("/accounts/login/code/", {"phone": NUMBER})
        for i in range(5)
    ]
    assert len(sms.sent_texts()) - before == 3
    assert [a.status_code for a in answers][3:] != [302, 302]


def test_login_codes_are_limited_per_address(settings):
    settings.ACCOUNT_RATE_LIMITS = dict(settings.ODR_CODE_RATE_LIMITS)
    answers = [
        Client(REMOTE_ADDR="10.9.9.9").post("/accounts/login/code/", {"phone": f"1390000{i:04d}"})
        for i in range(12)
    ]
    # Ten numbers a minute from one address; the rest are refused, and nothing is sent.
    assert [a.status_code for a in answers] == [302] * 10 + [200] * 2
    assert len(sms.sent_texts()) == 10


def test_a_new_signup_code_waits_30_seconds_per_number(settings):
    settings.ACCOUNT_RATE_LIMITS = dict(settings.ODR_CODE_RATE_LIMITS)
    client = Client()
    sign_up_by_phone(client)
    assert len(sms.sent_texts()) == 1
    # At once again, from another address and another browser: no second text.
    answer = sign_up_by_phone(Client(REMOTE_ADDR="10.1.1.1"))
    assert answer.status_code == 429
    assert len(sms.sent_texts()) == 1
