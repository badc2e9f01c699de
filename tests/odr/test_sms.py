"""Texts (odr.sms): the file backend by default and in tests, an HTTP gateway in
production, queued after commit, only to mobile numbers."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.db import transaction

from odr import sms


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("13800138000", "+8613800138000"),
        ("+86 138-0013-8000", "+8613800138000"),
        ("8613800138000", "+8613800138000"),
        ("0572-5123456", None),
        ("1380013800", None),
        ("", None),
    ],
)
def test_only_mainland_mobile_numbers_can_be_texted(raw, expected):
    assert sms.normalise_mobile(raw) == expected


@pytest.mark.django_db(transaction=True)
def test_a_text_is_written_to_the_sms_folder_after_commit(sms_dir, settings, monkeypatch):
    def render(name: str, context: dict) -> str:
        return f"案件 {context['case']} {context['site_url']}/x"

    monkeypatch.setattr(sms, "render_to_string", render)
    with transaction.atomic():
        assert sms.text("138 0013 8000", "any", {"case": "（2026）安调1号"})
        assert sms.sent_texts() == []  # nothing leaves before commit
    texts = sms.sent_texts()
    assert len(texts) == 1
    assert texts[0]["to"] == "+8613800138000"
    assert texts[0]["text"] == f"【矛调中心】案件 （2026）安调1号 {settings.SITE_URL}/x"
    assert list(sms_dir.glob("*.json"))


@pytest.mark.django_db(transaction=True)
def test_a_landline_is_not_texted(sms_dir):
    assert sms.text("0572-5123456", "any", {}) is False
    assert sms.sent_texts() == []


class _Gateway(BaseHTTPRequestHandler):
    received: list[tuple[str, dict]] = []
    status = 200

    def do_POST(self):
        length = int(self.headers["Content-Length"])
        type(self).received.append(
            (self.headers.get("Authorization", ""), json.loads(self.rfile.read(length)))
        )
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def gateway(settings):
    server = HTTPServer(("127.0.0.1", 0), _Gateway)
    _Gateway.received = []
    _Gateway.status = 200
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.ODR_SMS_GATEWAY_URL = f"http://127.0.0.1:{server.server_port}/send"
    settings.ODR_SMS_GATEWAY_TOKEN = "gw-secret"
    yield _Gateway
    server.shutdown()


def test_the_http_gateway_receives_the_number_and_text_with_its_token(gateway, sms_dir):
    sms.deliver(to="+8613800138000", text="【矛调中心】您好")
    assert gateway.received == [
        ("Bearer gw-secret", {"to": "+8613800138000", "text": "【矛调中心】您好"})
    ]
    assert sms.sent_texts() == []


def test_a_gateway_refusal_raises_so_the_task_is_not_counted_as_sent(gateway):
    gateway.status = 503
    with pytest.raises(sms.GatewayError, match="503"):
        sms.deliver(to="+8613800138000", text="x")
