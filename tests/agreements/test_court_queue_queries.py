"""The API's court queue builds each item from plain values read with its page (issue 14):
a page costs the same queries at 10 requests and at 5,000 when every row carries what an
item shows or its actions ask (the parties who applied, the case's evidence, the
application and the agreement's PDF, a clerk who docketed it, an agreement in force with
its window to apply, materials asked for and an inquiry with its record, an extension and
a withdrawal asked), for the clerk and for the judge, on the first page and deep in the
queue; and each of those items is still the request's own answer."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from agreements.models import (
    Agreement,
    ConfirmationConsent,
    ConfirmationRequest,
    Inquiry,
    SupplementRequest,
)
from odr.models import Evidence, Party, Region
from tests import factories
from tests.agreements.test_court_queue_page import SUBMITTED, _requests

pytestmark = pytest.mark.django_db
CR = ConfirmationRequest.Status
LIST = "/api/v1/court/requests"


def _rich_requests(n: int, *, seed: int) -> list[ConfirmationRequest]:
    """`n` requests (pending and docketed by turns, `_requests`), each with everything an
    item of the queue can carry, by bulk inserts."""
    requests = _requests(n, seed=seed)
    citizen = factories.demo_user("citizen1@demo.odr")
    clerk, judge = factories.demo_user(factories.CLERK), factories.demo_user(factories.JUDGE)
    region = Region.objects.get(code="330523000000")
    agreements = [r.agreement for r in requests]
    for agreement in agreements:
        agreement.effective_at = SUBMITTED - dt.timedelta(days=5)
        agreement.pdf = f"agreements/bulk-{agreement.pk}.pdf"
        agreement.pdf_sha256 = "a" * 64
    Agreement.objects.bulk_update(agreements, ["effective_at", "pdf", "pdf_sha256"])
    for i, request in enumerate(requests):
        request.basis, request.basis_region = ConfirmationRequest.Basis.PARTY_DOMICILE, region
        request.application_pdf = f"confirmation/bulk-{request.pk}.pdf"
        request.application_sha256 = "b" * 64
        if request.status == CR.ACCEPTED:
            request.accepted_at = request.submitted_at + dt.timedelta(days=1)
            request.accepted_by = clerk
            # Due beside the pending ones, so that every page holds both.
            request.rule_deadline = request.submitted_at + dt.timedelta(days=3, minutes=30)
            if i % 4 == 1:
                request.extension_requested_at = request.accepted_at + dt.timedelta(days=2)
        if i % 3 == 0:
            request.withdrawal_requested_at = request.submitted_at + dt.timedelta(hours=5)
    ConfirmationRequest.objects.bulk_update(
        requests,
        [
            "basis",
            "basis_region",
            "application_pdf",
            "application_sha256",
            "accepted_at",
            "accepted_by",
            "rule_deadline",
            "extension_requested_at",
            "withdrawal_requested_at",
        ],
    )
    parties: dict[int, list[int]] = {}
    for pk, dispute_id in Party.objects.filter(
        dispute__in=[a.dispute_id for a in agreements]
    ).values_list("pk", "dispute_id"):
        parties.setdefault(dispute_id, []).append(pk)
    consents, evidence, supplements, inquiries = [], [], [], []
    for request in requests:
        dispute_id = request.agreement.dispute_id
        for party in parties[dispute_id]:
            consents.append(
                ConfirmationConsent(
                    request=request, party_id=party, user=citizen, consented_at=SUBMITTED
                )
            )
        evidence.append(
            Evidence(
                dispute_id=dispute_id,
                uploaded_by=citizen,
                file=f"evidence/bulk-{dispute_id}.png",
                filename="借条.png",
                extension="png",
                content_type="image/png",
                size=1234,
                sha256="c" * 64,
                description="借条照片",
            )
        )
        if request.status == CR.ACCEPTED:
            # Materials asked for and not supplied by their deadline (the judge may treat
            # the application as withdrawn), and an inquiry held whose record awaits the
            # signatures of the parties present, the judge and the clerk.
            supplements.append(
                SupplementRequest(
                    request=request,
                    asked_by=clerk,
                    asked_at=request.accepted_at,
                    what="补充收据",
                    deadline=request.accepted_at + dt.timedelta(days=5),
                )
            )
            inquiries.append(
                Inquiry(
                    request=request,
                    judge=judge,
                    clerk=clerk,
                    scheduled_at=request.accepted_at + dt.timedelta(days=1),
                    present=parties[dispute_id],
                    record="问：是否自愿达成协议？答：是。",
                    signed=[{"user": judge.pk, "role": "judge", "name": "审判员"}],
                )
            )
    ConfirmationConsent.objects.bulk_create(consents, batch_size=1000)
    Evidence.objects.bulk_create(evidence, batch_size=1000)
    SupplementRequest.objects.bulk_create(supplements, batch_size=1000)
    Inquiry.objects.bulk_create(inquiries, batch_size=1000)
    return requests


def _client(email: str) -> Client:
    client = Client()
    client.force_login(factories.demo_user(email))
    return client


def _queries(client: Client, url: str) -> tuple[int, dict]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, response.content[:300]
    return len(captured), json.loads(response.content)


@pytest.mark.parametrize("email", [factories.CLERK, factories.JUDGE])
def test_a_page_of_full_items_costs_the_same_queries_at_10_and_at_5000(demo, email):
    client = _client(email)
    _rich_requests(10, seed=3)
    small_first, body = _queries(client, LIST)
    assert body["count"] == 10 and len(body["items"]) == 10
    cursor = _queries(client, f"{LIST}?limit=4")[1]["next"]
    small_next, body = _queries(client, f"{LIST}?limit=4&cursor={cursor}")
    assert len(body["items"]) == 4

    _rich_requests(4990, seed=4)
    large_first, body = _queries(client, LIST)
    # Exact on SQLite; on PostgreSQL, above 1,000, the planner's estimate (odr.pagination).
    assert body["count"] > 1000 and len(body["items"]) == 50
    for _ in range(40):  # 2,000 requests down the queue
        body = _queries(client, f"{LIST}?limit=50&cursor={body['next']}")[1]
    large_deep, body = _queries(client, f"{LIST}?limit=4&cursor={body['next']}")
    assert len(body["items"]) == 4
    assert small_first == large_first
    assert small_next == large_deep
    # The rows carried what they were built with: had any been read lazily, the counts
    # at 5,000 would be fifty times larger.
    items = _queries(client, LIST)[1]["items"]
    assert all(item["evidence"] and item["documents"] for item in items)
    assert all(p["signed"] for item in items for p in item["parties"])
    assert all(item["window_closes_at"] for item in items)
    assert any(item["accepted_by"] for item in items)
    actions = {a for item in items for a in item["actions"]}
    if email == factories.JUDGE:
        # The judge signed each record already; the clerk has yet to.
        assert {"decide", "supplement_lapse", "withdraw_allow"} <= actions
        assert "inquiry_sign" not in actions
    else:
        assert {"accept", "inquiry_sign"} <= actions


@pytest.mark.parametrize("email", [factories.CLERK, factories.JUDGE])
def test_every_full_item_is_the_requests_own_answer(demo, email):
    """Items whose relations came as JSON with the row (their instants among them) are
    the request's own answer, byte for byte, as for the requests the services made
    (test_court_list_shape)."""
    _rich_requests(12, seed=5)
    client = _client(email)
    items = _queries(client, LIST)[1]["items"]
    assert len(items) == 12
    for item in items:
        own = client.get(f"{LIST}/{item['id']}")
        assert own.status_code == 200
        assert json.dumps(item, ensure_ascii=False) == json.dumps(
            json.loads(own.content), ensure_ascii=False
        )


def _court_page_row(client: Client, pk: int) -> str:
    page = client.get("/court/").content.decode()
    return re.search(rf'<li class="[^"]*" data-request="{pk}">.*?</li>', page, re.DOTALL).group(0)


def test_a_row_of_the_court_page_is_drawn_again_when_its_request_changes(demo):
    """The court page keeps each row's HTML by everything the row shows
    (court_queue_tags): a request docketed since, or a language changed, is never
    answered with the row drawn before."""
    request = factories.confirmation_pending()
    client = _client(factories.CLERK)
    client.cookies["django_language"] = "en"
    pending = _court_page_row(client, request.pk)
    assert _court_page_row(client, request.pk) == pending  # kept
    assert "accept by" in pending and 'class="badge pending"' in pending
    factories.confirmation_accepted(request, number="（2026）浙0523民特77号")
    accepted = _court_page_row(client, request.pk)
    assert "rule by" in accepted and 'class="badge accepted"' in accepted
    assert "（2026）浙0523民特77号" in accepted
    assert "accept by" not in accepted
    client.cookies["django_language"] = "zh-hans"
    chinese = _court_page_row(client, request.pk)
    assert "裁定期限" in chinese and "rule by" not in chinese
