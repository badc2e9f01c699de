"""Forms that help (issue 12): errors in plain words naming the field and what to do,
each input marked (aria-invalid) and tied to its error and help (aria-describedby), what
was typed kept, and fields that the case needs later said so."""

from __future__ import annotations

import re

import pytest
from django import forms
from django.test import Client
from django.utils import translation

from odr.forms_render import plain_errors
from tests import factories

pytestmark = pytest.mark.django_db


def test_a_filing_with_everything_wrong_answers_in_plain_words_and_keeps_the_values(demo):
    client = Client()
    client.force_login(factories.with_identity(factories.demo_user("citizen1@demo.odr")))
    page = client.post(
        "/disputes/new/",
        {
            "claim_amount": "-5",
            "respondent_name": "李四",
            "respondent_email": "not-an-address",
            "description": "借钱不还。",
        },
    ).content.decode()
    assert "请选择纠纷类型" in page
    assert "请填写完整的电子邮箱" in page
    assert "这个字段是必填项" not in page and "输入一个有效的" not in page
    email = re.search(r'<input[^>]*name="respondent_email"[^>]*>', page).group(0)
    assert 'aria-invalid="true"' in email
    assert "id_respondent_email_error" in email
    assert 'id="id_respondent_email_error"' in page
    assert 'value="not-an-address"' in email
    assert 'value="李四"' in page


def test_the_filing_script_gets_the_same_plain_words(demo):
    client = Client()
    client.force_login(factories.with_identity(factories.demo_user("citizen1@demo.odr")))
    answer = client.post(
        "/disputes/new/", {"respondent_email": "x"}, HTTP_X_REQUESTED_WITH="XMLHttpRequest"
    )
    assert answer.status_code == 400
    errors = answer.json()["errors"]
    assert errors["category"] == ["请选择纠纷类型。"]
    assert errors["respondent_email"] == ["请填写完整的电子邮箱，例如 name@example.com。"]


class Sample(forms.Form):
    amount = forms.DecimalField(label="金额", min_value=0, decimal_places=2)
    title = forms.CharField(label="标题", max_length=3)
    agree = forms.BooleanField(label="我同意")


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"amount": "-1"}, "amount", "金额不能小于 0。"),
        ({"amount": "abc"}, "amount", "金额请填写数字，例如 10000。"),
        ({"amount": "1.234"}, "amount", "金额小数点后最多 2 位。"),
        ({"title": "太长的标题"}, "title", "标题最多 3 个字，现在有 5 个。"),
        ({}, "title", "请填写标题。"),
        ({}, "agree", "请勾选“我同意”后再继续。"),
    ],
)
def test_each_kind_of_mistake_says_what_to_do(data, field, message):
    with translation.override("zh-hans"):
        form = Sample(data)
        form.is_valid()
        assert plain_errors(form)[field] == [message]
        assert [str(e) for e in form[field].errors] == [message]


def test_the_same_in_english():
    with translation.override("en"):
        form = Sample({"amount": "-1"})
        form.is_valid()
        assert plain_errors(form)["amount"] == ["金额 cannot be less than 0."]
        assert plain_errors(form)["title"] == ["Fill in 标题."]


def test_the_profile_says_the_real_name_and_id_number_are_needed_to_sign(demo):
    client = Client()
    client.force_login(factories.demo_user("citizen1@demo.odr"))
    page = client.get("/profile/").content.decode()
    assert page.count("签调解协议前必填") == 2
