"""Issue 12: a mobile number changed in the profile is verified again by a texted code,
and the profile says 未核验 with the way to do it until then."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import Client

from odr import sms
from odr.models import Profile
from tests.odr.test_phone_accounts import NUMBER, last_code, sign_up_by_phone

pytestmark = pytest.mark.django_db(transaction=True)

NEW_NUMBER = "13700000000"


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


def _verified_phone_account() -> Client:
    client = Client()
    sign_up_by_phone(client)
    client.post("/accounts/phone/verify/", {"code": last_code()})
    assert Profile.objects.get(phone=NUMBER).phone_verified
    return client


def _change_the_number(client: Client, number: str = NEW_NUMBER):
    return client.post("/profile/", {"phone": number, "language": "zh-hans"}, follow=True)


def test_a_verified_number_shows_as_verified_on_the_profile():
    client = _verified_phone_account()
    page = client.get("/profile/").content.decode()
    assert 'id="phone-status"' in page and "已核验" in page
    assert 'id="verify-phone"' not in page


def test_a_changed_number_is_shown_unverified_with_the_way_to_verify_it():
    client = _verified_phone_account()
    answer = _change_the_number(client)
    page = answer.content.decode()
    assert not Profile.objects.get(phone=NEW_NUMBER).phone_verified
    assert 'id="phone-unverified"' in page and "未核验" in page
    assert 'id="verify-phone"' in page and 'action="/accounts/phone/change/"' in page
    # The saved message says it must be verified, and how.
    assert "新手机号尚未核验" in page


def test_the_changed_number_is_verified_by_the_code_texted_to_it():
    client = _verified_phone_account()
    _change_the_number(client)
    before = len(sms.sent_texts())
    answer = client.post("/accounts/phone/change/", {"action": "verify"})
    assert answer.status_code == 302 and answer["Location"] == "/accounts/phone/verify/"
    [text] = sms.sent_texts()[before:]
    assert text["to"] == "+86" + NEW_NUMBER
    client.post("/accounts/phone/verify/", {"code": last_code()})
    assert Profile.objects.get(phone=NEW_NUMBER).phone_verified
    page = client.get("/profile/").content.decode()
    assert "已核验" in page and 'id="verify-phone"' not in page


def test_a_wrong_code_leaves_the_changed_number_unverified():
    client = _verified_phone_account()
    _change_the_number(client)
    client.post("/accounts/phone/change/", {"action": "verify"})
    code = last_code()
    wrong = "000000" if code != "000000" else "111111"
    answer = client.post("/accounts/phone/verify/", {"code": wrong})
    assert answer.status_code == 200
    assert not Profile.objects.get(phone=NEW_NUMBER).phone_verified
    assert "未核验" in client.get("/profile/").content.decode()


def test_a_number_that_is_not_a_mobile_is_unverified_without_a_code_to_send():
    client = _verified_phone_account()
    _change_the_number(client, "0572-5123456")
    page = client.get("/profile/").content.decode()
    assert "未核验" in page and 'id="verify-phone"' not in page
    assert "只有手机号才能用短信验证码核验" in page
