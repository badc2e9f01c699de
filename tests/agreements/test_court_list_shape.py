"""The court's queue in the API (`GET /api/v1/court/requests`, CONTRACT §3) answers its
items without validating them again through the schemas (issue 14): each item must be
exactly what the request's own answer is (`GET /api/v1/court/requests/{id}`, which the
ConfirmationOut schema still checks), field for field and in the same order, for requests
in every state the court sees, with evidence, documents, a supplement, an inquiry, an
extension and a withdrawal asked; and a page costs the same queries at 10 requests and at
5,000."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from agreements.court import services
from agreements.models import ConfirmationRequest
from odr import services as odr_services
from tests import factories
from tests.agreements.test_court_queue_page import _requests
from tests.agreements.test_evidence_package import PNG

pytestmark = pytest.mark.django_db
CR = ConfirmationRequest.Status
LIST = "/api/v1/court/requests"


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def _user(email: str):
    return factories.demo_user(email)


@pytest.fixture
def every_state(demo) -> list[ConfirmationRequest]:
    """Requests before the demo court in each state it sees, and in the acts between."""
    citizen, clerk, judge = (
        _user("citizen1@demo.odr"),
        _user(factories.CLERK),
        _user(factories.JUDGE),
    )
    pending = factories.confirmation_pending()
    odr_services.evidence_add(
        dispute=pending.agreement.dispute,
        actor=citizen,
        upload=SimpleUploadedFile("借条.png", PNG),
        name="借条.png",
        size=len(PNG),
        description="借条照片",
    )
    withdrawing = services.confirmation_withdraw(
        request=factories.confirmation_pending(), actor=citizen, reason="双方已自行履行。"
    )
    accepted = factories.confirmation_accepted()
    busy = factories.confirmation_accepted()
    services.confirmation_supplement_ask(
        request=busy, actor=clerk, what="补充收据", deadline=timezone.localdate() + timedelta(5)
    )
    services.confirmation_inquiry_schedule(
        request=busy, actor=judge, scheduled_at=timezone.now() + timedelta(days=2), place="第一法庭"
    )
    extending = services.confirmation_extend(
        request=factories.confirmation_accepted(), actor=judge, reason="案情复杂。"
    )
    decided = [
        factories.confirmation_decided(decision="confirmed"),
        factories.confirmation_decided(decision="rejected"),
        factories.confirmation_decided(decision="not_accepted"),
    ]
    bulk = _requests(6, seed=5)  # no documents, no consents, no agreement in force
    return [pending, withdrawing, accepted, busy, extending, *decided, *bulk]


def _client(email: str) -> Client:
    client = Client()
    client.force_login(_user(email))
    return client


def _pages(client: Client, url: str) -> tuple[list[dict], list[str]]:
    """Every item of every page, and each page's top-level keys."""
    items, keys = [], []
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.content[:300]
        assert response["Content-Type"] == "application/json; charset=utf-8"
        body = json.loads(response.content)
        items += body["items"]
        keys.append(list(body))
        url = f"{LIST}?limit=4&cursor={body['next']}" if body["next"] else ""
    return items, keys


@pytest.mark.parametrize("email", [factories.CLERK, factories.JUDGE])
def test_each_item_is_the_requests_own_answer_field_for_field(every_state, email):
    client = _client(email)
    items, keys = _pages(client, f"{LIST}?limit=4")
    assert sorted(item["id"] for item in items) == sorted(r.pk for r in every_state)
    assert keys and all(k == ["count", "count_is_estimate", "items", "next"] for k in keys)
    for item in items:
        own = client.get(f"{LIST}/{item['id']}")
        assert own.status_code == 200
        # The same JSON, byte for byte: the same fields, values and order.
        assert json.dumps(item, ensure_ascii=False) == json.dumps(
            json.loads(own.content), ensure_ascii=False
        ), item["status"]
    # What the fixture built shows in the items: every state, each thing a row can carry.
    by_status = {item["status"] for item in items}
    assert by_status >= {"pending", "accepted", "confirmed", "rejected", "not_accepted"}
    assert any(item["evidence"] for item in items)
    assert any(d["name"] == "ruling.pdf" for item in items for d in item["documents"])
    assert any(item["actions"] for item in items)
    assert any(not item["documents"] and not item["parties"][0]["signed"] for item in items)


def test_the_list_answers_an_action_only_its_viewer_may_take(every_state):
    """The actions are still each viewer's own: the clerk dockets, the judge rules."""
    clerk_items, _ = _pages(_client(factories.CLERK), f"{LIST}?limit=50")
    judge_items, _ = _pages(_client(factories.JUDGE), f"{LIST}?limit=50")
    clerk_actions = {a for item in clerk_items for a in item["actions"]}
    judge_actions = {a for item in judge_items for a in item["actions"]}
    assert "accept" in clerk_actions and "accept" not in judge_actions
    assert "decide" in judge_actions and "decide" not in clerk_actions


@pytest.mark.parametrize("url", [LIST, f"{LIST}?status=pending&category=debt&q=张"])
def test_a_page_of_the_api_costs_the_same_queries_at_10_and_at_5000(demo, url):
    client = _client(factories.CLERK)
    _requests(10)
    with CaptureQueriesContext(connection) as small:
        assert client.get(url).status_code == 200
    _requests(4990, seed=1)
    with CaptureQueriesContext(connection) as large:
        response = client.get(url)
    assert response.status_code == 200 and 0 < len(response.json()["items"]) <= 50
    assert len(small) == len(large), [q["sql"][:200] for q in large.captured_queries]


def test_each_relation_of_the_rows_is_read_once_for_the_page(every_state):
    """Consents, supplements, inquiries, parties and evidence: one query each for the
    whole page (court_selectors.prefetch_queue_rows), however many rows carry them, and
    none for what each related row knows of its request or case."""
    client = _client(factories.JUDGE)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(f"{LIST}?limit=50")
    assert len(response.json()["items"]) == len(every_state)
    for table in (
        "agreements_confirmationconsent",
        "agreements_supplementrequest",
        "agreements_inquiry",
        "odr_party",
        "odr_evidence",
    ):
        reads = [q["sql"] for q in captured.captured_queries if f'FROM "{table}"' in q["sql"]]
        assert len(reads) == 1, (table, reads)
