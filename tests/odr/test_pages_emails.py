"""Every e-mail the services send has its templates, in both languages, with its link."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from odr.notifications import render_email

ODR = Path(__file__).resolve().parents[2] / "odr"
CONTEXT = {
    "case_number": "(2026)安吉矛调第0001号",
    "title": "借款未还",
    "case_url": "http://testserver/disputes/7/",
    "invitation_url": "http://testserver/invitations/tok/",
    "organisation": "安吉县社会矛盾纠纷调处化解中心",
    "applicant": "张三",
    "respondent": "李四",
    "mediator": "李调解",
    "sender": "李四",
    "reason": "O'Brien & co <b>",
    "deadline": "2026-12-30",
    "expires_at": "2026-12-10",
    "days": 5,
    "site_url": "http://testserver",
}


def _service_source() -> str:
    modules = [*sorted((ODR / "services").glob("*.py")), ODR / "reminders.py"]
    return "".join(path.read_text() for path in modules)


def _texts_used_by_services() -> set[str]:
    """sms.text(phone, "<template>", context): texts only (odr/templates/odr/sms)."""
    return set(re.findall(r'sms\.text\(\s*[^,()]+,\s*"([a-z_]+)"', _service_source()))


def _templates_used_by_services() -> set[str]:
    # notify(recipients, "<template>", context): the name is the string before the context.
    used = set(re.findall(r'"([a-z_]+)",\s*(?:\{|case_context\()', _service_source()))
    return used - _texts_used_by_services()


def test_every_template_the_services_use_is_found():
    used = _templates_used_by_services()
    assert {"invitation", "accepted", "failed", "message", "deadline_reminder"} <= used
    for name in used:
        assert (ODR / "templates/odr/email" / f"{name}_subject.txt").exists(), name
        assert (ODR / "templates/odr/email" / f"{name}_body.txt").exists(), name


@pytest.mark.parametrize("name", sorted(_templates_used_by_services()))
def test_each_email_renders_in_chinese_and_english_with_its_link(name):
    zh_subject, zh_body = render_email(template=name, context=CONTEXT, language="zh-hans")
    en_subject, en_body = render_email(template=name, context=CONTEXT, language="en")
    assert zh_subject != en_subject
    assert re.search(r"[\u4e00-\u9fff]{4}", zh_subject.replace("安吉矛调第", ""))
    link = "/invitations/tok/" if name.startswith("invitation") else "/disputes/7/"
    assert link in zh_body and link in en_body
    assert "&amp;" not in en_body and "&#x27;" not in en_body  # plain text, not HTML


def test_every_text_the_services_send_has_its_template_in_both_languages():
    from odr.sms import render_sms

    used = _texts_used_by_services()
    assert {"hotline_survey", "walk_in_receipt"} <= used
    context = {
        **CONTEXT,
        "ticket_id": "AJ-1",
        "path": "/survey/tok/",
        "window": "人民调解委员会窗口",
        "location": "一楼1号窗口",
        "bring": "居民身份证原件",
    }
    for name in used:
        assert (ODR / "templates/odr/sms" / f"{name}.txt").exists(), name
        zh = render_sms(template=name, context=context, language="zh-hans")
        en = render_sms(template=name, context=context, language="en")
        assert re.search(r"[\u4e00-\u9fff]{4}", zh) and zh != en, name
