"""Absolute links follow the address (issue 12): ODR_SITE_URL when set; otherwise, in
development, the address the request came to; without a request, settings.SITE_URL."""

from __future__ import annotations

import json
import re

import pytest
from django.core import mail
from django.test import Client

from odr import sms
from odr.links import site_url
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)


def file_by_api(client: Client, **extra) -> None:
    answer = client.post(
        "/api/v1/disputes",
        json.dumps(
            {
                "category": "debt",
                "title": "借款未还",
                "description": "2025年3月借给李四一万元，至今未还。",
                "region": "330523000000",
                "respondents": [
                    {"kind": "person", "name": "李四", "phone": "13711112222"},
                    {"kind": "person", "name": "王五", "email": "wangwu@example.com"},
                ],
            }
        ),
        content_type="application/json",
        **extra,
    )
    assert answer.status_code == 201, answer.content


def links() -> list[str]:
    found = [re.search(r"https?://\S+/invitations/", m.body).group(0) for m in mail.outbox]
    found += [re.search(r"https?://\S+/invitations/", t["text"]).group(0) for t in sms.sent_texts()]
    return found


def test_without_a_site_url_links_follow_the_address_the_request_came_to(demo, settings):
    settings.ODR_SITE_URL_FROM_REQUEST = True
    client = Client()
    client.force_login(factories.with_identity(factories.demo_user("citizen1@demo.odr")))
    file_by_api(client, HTTP_HOST="127.0.0.1:8766")
    assert links() == ["http://127.0.0.1:8766/invitations/"] * 2


def test_a_configured_site_url_wins_over_the_request(demo, settings):
    settings.ODR_SITE_URL_FROM_REQUEST = False
    settings.SITE_URL = "https://odr.example.gov.cn"
    client = Client()
    client.force_login(factories.with_identity(factories.demo_user("citizen1@demo.odr")))
    file_by_api(client, HTTP_HOST="127.0.0.1:8766")
    assert links() == ["https://odr.example.gov.cn/invitations/"] * 2


def test_outside_a_request_the_configured_address_is_used(settings):
    settings.ODR_SITE_URL_FROM_REQUEST = True
    settings.SITE_URL = "http://127.0.0.1:8000"
    assert site_url() == "http://127.0.0.1:8000"
