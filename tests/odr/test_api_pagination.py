"""The API's lists answer one bounded page at a time (CONTRACT §3, issue 14): `{count,
items, next}`, `?limit=` 1–200 (default 50), `?cursor=` the `next` of the page before.
Pages chain to the end without a gap or a repeat, even among cases filed at the same
instant, and a page costs the same queries at 10 cases and at 5,000."""

from __future__ import annotations

import base64
import datetime as dt
import itertools
import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from agreements.models import Agreement, ConfirmationRequest
from odr.models import Dispute, Organisation
from odr.pagination import DEFAULT_LIMIT, MAX_LIMIT, encode_cursor
from tests import factories
from tests.odr.api_support import assert_error, role_clients
from tests.odr.bulk_data import bulk_disputes

pytestmark = pytest.mark.django_db
S = Dispute.Status


@pytest.fixture
def clients(demo):
    return role_clients()


@pytest.fixture
def applicant(demo):
    return factories.demo_user("citizen1@demo.odr")


def _walk(client, path: str, limit: int) -> tuple[list[int], list[dict]]:
    """Every id on every page from the first to the one whose `next` is null."""
    ids, pages = [], []
    url = f"{path}{'&' if '?' in path else '?'}limit={limit}"
    cursor = None
    for _ in range(1000):
        response = client.get(url + (f"&cursor={cursor}" if cursor else ""))
        assert response.status_code == 200, response.content
        body = response.json()
        assert set(body) == {"count", "count_is_estimate", "items", "next"}
        assert body["count_is_estimate"] is False  # exact up to 1,000 (and on SQLite)
        assert len(body["items"]) <= limit
        pages.append(body)
        ids += [item["id"] for item in body["items"]]
        cursor = body["next"]
        if cursor is None:
            return ids, pages
        assert len(body["items"]) == limit  # only the last page may be short
    raise AssertionError("the pages never ended")


def _newest_first(disputes) -> list[int]:
    return [d.pk for d in sorted(disputes, key=lambda d: (d.created_at, d.pk), reverse=True)]


# --- GET /api/v1/disputes ---------------------------------------------------------------


@pytest.mark.parametrize("limit", [1, 4, 5, 7, 23, 200])
def test_pages_chain_to_the_end_without_gaps_or_repeats_among_ties(clients, applicant, limit):
    # 23 cases, filed four at a time at the very same instant: the id breaks the tie.
    disputes = bulk_disputes(23, applicant=applicant, same_instant_every=4)
    ids, pages = _walk(clients["applicant"], "/api/v1/disputes", limit)
    assert ids == _newest_first(disputes)
    assert len(ids) == len(set(ids)) == 23
    assert {page["count"] for page in pages} == {23}
    assert len(pages) == -(-23 // limit)


def test_a_page_resumes_after_its_cursor_even_when_cases_are_filed_meanwhile(clients, applicant):
    disputes = bulk_disputes(12, applicant=applicant, same_instant_every=3)
    first = clients["applicant"].get("/api/v1/disputes?limit=5").json()
    # A new case comes in newest of all: the next page neither repeats nor skips anything.
    bulk_disputes(1, applicant=applicant, created_at=dt.datetime(2027, 1, 1, tzinfo=dt.UTC))
    second = clients["applicant"].get(f"/api/v1/disputes?limit=5&cursor={first['next']}").json()
    expected = _newest_first(disputes)
    assert [i["id"] for i in first["items"]] == expected[:5]
    assert [i["id"] for i in second["items"]] == expected[5:10]
    assert second["count"] == 13


def test_the_status_filter_holds_on_every_page(clients, applicant):
    disputes = bulk_disputes(
        40, applicant=applicant, statuses=[S.IN_MEDIATION, S.SETTLED, S.FAILED], seed=3
    )
    ids, pages = _walk(clients["applicant"], "/api/v1/disputes?status=settled", 6)
    assert ids == _newest_first([d for d in disputes if d.status == S.SETTLED])
    assert {page["count"] for page in pages} == {len(ids)}
    assert_error(
        clients["applicant"].get("/api/v1/disputes?status=nonsense&limit=5"),
        400,
        "invalid_status_filter",
    )


def test_the_items_are_the_same_as_one_case_answers_alone(clients):
    dispute = factories.dispute_in_mediation()
    listed = clients["applicant"].get("/api/v1/disputes").json()["items"]
    alone = clients["applicant"].get(f"/api/v1/disputes/{dispute.pk}").json()
    assert listed == [alone]


def test_limit_defaults_to_50_and_stops_at_200(clients, applicant):
    bulk_disputes(DEFAULT_LIMIT + 5, applicant=applicant)
    body = clients["applicant"].get("/api/v1/disputes").json()
    assert (len(body["items"]), body["count"]) == (DEFAULT_LIMIT, DEFAULT_LIMIT + 5)
    assert body["next"]
    body = clients["applicant"].get(f"/api/v1/disputes?limit={MAX_LIMIT}").json()
    assert (len(body["items"]), body["next"]) == (DEFAULT_LIMIT + 5, None)
    # Outside 1–200 the API refuses rather than answer another size than asked.
    for bad in (0, -1, MAX_LIMIT + 1, 10_000, "many"):
        assert_error(clients["applicant"].get(f"/api/v1/disputes?limit={bad}"), 422)


def _b64(value) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


@pytest.mark.parametrize(
    "cursor",
    [
        "not-a-cursor!",
        "%%%",
        _b64("2026-01-01"),
        _b64([]),
        _b64(["2026-01-05T09:00:00+00:00"]),
        _b64(["2026-01-05T09:00:00+00:00", 3, 4]),
        _b64(["2026-01-05T09:00:00", 3]),  # no time zone
        _b64(["yesterday", 3]),
        _b64(["2026-01-05T09:00:00+00:00", "3"]),
        _b64(["2026-01-05T09:00:00+00:00", 2**70]),
        _b64([None, 3]),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    ],
)
def test_a_cursor_the_list_did_not_give_out_answers_422(clients, applicant, cursor):
    bulk_disputes(3, applicant=applicant)
    assert_error(
        clients["applicant"].get("/api/v1/disputes", {"cursor": cursor}), 422, "invalid_cursor"
    )


def test_a_cursor_shows_nothing_the_caller_may_not_see(clients, applicant):
    bulk_disputes(6, applicant=applicant)
    cursor = clients["applicant"].get("/api/v1/disputes?limit=2").json()["next"]
    body = clients["other_citizen"].get(f"/api/v1/disputes?cursor={cursor}").json()
    assert body == {"count": 0, "count_is_estimate": False, "items": [], "next": None}


def _queries(client, url: str) -> tuple[int, dict]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, response.content
    return len(captured), response.json()


@pytest.mark.parametrize("role", ["applicant", "coordinator", "case_mediator"])
def test_a_page_costs_the_same_queries_at_10_and_at_5000_cases(clients, role):
    applicant = factories.demo_user("citizen1@demo.odr")
    mediator = factories.demo_user("mediator@demo.odr")
    # Cases in mediation, every one alike: the costliest items (their actions are read), so
    # that only the number of rows differs between the two counts.
    statuses = [S.IN_MEDIATION]
    bulk_disputes(10, applicant=applicant, mediator=mediator, statuses=statuses)
    small_first, body = _queries(clients[role], "/api/v1/disputes?limit=4")
    small_next, _ = _queries(clients[role], f"/api/v1/disputes?limit=4&cursor={body['next']}")
    assert body["count"] == 10

    bulk_disputes(4990, applicant=applicant, mediator=mediator, statuses=statuses, seed=1)
    large_first, body = _queries(clients[role], "/api/v1/disputes?limit=4")
    assert body["count"] == 5000 and len(body["items"]) == 4
    # Deep in the list: the 4,000th case on.
    deep = Dispute.objects.order_by("-created_at", "-pk")[4000]
    cursor = encode_cursor([deep.created_at, deep.pk])
    large_deep, body = _queries(clients[role], f"/api/v1/disputes?limit=4&cursor={cursor}")
    assert len(body["items"]) == 4 and body["items"][0]["id"] != deep.pk
    assert small_first == large_first
    assert small_next == large_deep


# --- GET /api/v1/court/requests -----------------------------------------------------------


_docket = itertools.count(100_001)  # far from the numbers the factories give


def _bulk_requests(n: int) -> list[ConfirmationRequest]:
    """`n` confirmation requests before the demo court, half pending, half accepted."""
    applicant = factories.demo_user("citizen1@demo.odr")
    mediator = factories.demo_user("mediator@demo.odr")
    court = Organisation.objects.get(kind=Organisation.Kind.COURT)
    disputes = bulk_disputes(n, applicant=applicant, mediator=mediator, statuses=[S.SETTLED])
    agreements = Agreement.objects.bulk_create(
        Agreement(dispute=d, status=Agreement.Status.SIGNED, created_by=mediator) for d in disputes
    )
    submitted = dt.datetime(2026, 6, 1, 9, tzinfo=dt.UTC)
    rows = []
    for i, agreement in enumerate(agreements):
        pending = i % 2 == 0
        rows.append(
            ConfirmationRequest(
                agreement=agreement,
                court=court,
                status=ConfirmationRequest.Status.PENDING
                if pending
                else ConfirmationRequest.Status.ACCEPTED,
                submitted_at=submitted,
                # Deadlines repeat every five requests: ties the id must break.
                accept_deadline=submitted + dt.timedelta(days=i % 5) if pending else None,
                rule_deadline=None if pending else submitted + dt.timedelta(days=i % 5),
                case_number="" if pending else f"（2026）浙0523民特{next(_docket)}号",
            )
        )
    return ConfirmationRequest.objects.bulk_create(rows)


def test_the_court_queue_pages_chain_in_its_own_order(clients):
    _bulk_requests(13)
    for closed in (
        factories.confirmation_decided(),
        factories.confirmation_decided(decision="rejected", reason="不符合条件"),
    ):
        assert closed.status in ("confirmed", "rejected")
    whole = clients["clerk"].get(f"/api/v1/court/requests?limit={MAX_LIMIT}").json()
    assert whole["next"] is None and whole["count"] == 15
    for limit in (1, 4, 6):
        ids, pages = _walk(clients["clerk"], "/api/v1/court/requests", limit)
        assert ids == [item["id"] for item in whole["items"]]
        assert {page["count"] for page in pages} == {15}
    ids, _ = _walk(clients["clerk"], "/api/v1/court/requests?status=accepted", 2)
    assert ids == [i["id"] for i in whole["items"] if i["status"] == "accepted"]
    assert_error(
        clients["clerk"].get("/api/v1/court/requests", {"cursor": _b64([0, 1])}),
        422,
        "invalid_cursor",
    )
    assert_error(clients["clerk"].get("/api/v1/court/requests?limit=201"), 422)


def test_a_court_queue_page_costs_the_same_queries_at_10_and_at_5000(clients):
    _bulk_requests(10)
    small_first, body = _queries(clients["clerk"], "/api/v1/court/requests?limit=4")
    url = "/api/v1/court/requests?limit=4"
    small_next, _ = _queries(clients["clerk"], f"{url}&cursor={body['next']}")
    _bulk_requests(4990)
    large_first, body = _queries(clients["clerk"], "/api/v1/court/requests?limit=4")
    assert body["count"] == 5000 and len(body["items"]) == 4
    large_next, _ = _queries(clients["clerk"], f"{url}&cursor={body['next']}")
    assert small_first == large_first
    assert small_next == large_next


def test_the_court_queue_api_filters_as_the_court_page_does(clients):
    requests = _bulk_requests(6)
    first = requests[0].agreement.dispute
    Dispute.objects.filter(pk=first.pk).update(category="labour")
    ConfirmationRequest.objects.filter(pk=requests[1].pk).update(
        submitted_at=dt.datetime(2026, 7, 2, 9, tzinfo=dt.UTC)
    )

    def ids(query: str) -> set[int]:
        response = clients["clerk"].get(f"/api/v1/court/requests?{query}")
        assert response.status_code == 200, response.content
        return {item["id"] for item in response.json()["items"]}

    assert ids("category=labour") == {requests[0].pk}
    assert ids("submitted_from=2026-07-01") == {requests[1].pk}
    assert ids("submitted_to=2026-06-30") == {r.pk for r in requests} - {requests[1].pk}
    assert ids(f"q={first.case_number}") == {requests[0].pk}
    assert ids(f"region={first.region.code}&status=pending") == {
        r.pk for r in requests[::2] if r.agreement.dispute.region_id == first.region_id
    }
    for query, code in (
        ("category=alien", "invalid_category_filter"),
        ("region=999999999999", "invalid_region_filter"),
        ("submitted_from=2026-13-01", "invalid_date_filter"),
    ):
        assert_error(clients["clerk"].get(f"/api/v1/court/requests?{query}"), 422, code)


def test_a_page_costs_the_same_queries_whatever_the_categories_on_it(clients):
    """Whether each case could go up (escalate) depends on its category; the handlers
    above an organisation are read once for the page, not once per category (issue 14)."""
    from odr.categories import Category

    applicant = factories.demo_user("citizen1@demo.odr")
    mediator = factories.demo_user("mediator@demo.odr")
    statuses = [S.IN_MEDIATION]
    bulk_disputes(8, applicant=applicant, mediator=mediator, statuses=statuses)
    one_category, body = _queries(clients["coordinator"], "/api/v1/disputes?limit=8")
    assert {item["category"] for item in body["items"]} == {Category.DEBT}
    Dispute.objects.all().delete()
    bulk_disputes(
        8, applicant=applicant, mediator=mediator, statuses=statuses, categories=Category.values
    )
    many, body = _queries(clients["coordinator"], "/api/v1/disputes?limit=8")
    assert len({item["category"] for item in body["items"]}) > 3
    assert many == one_category
