"""The court's queue page (`/court/`) is a list like the others (issue 14): 20 a page in
the same number of queries at 10 requests and at 5,000, narrowed by status, the case's
category, region (with what lies under it), submission dates and a case number or party
name; a bad filter is named on the page; no query joins the region table twice or uses
DISTINCT."""

from __future__ import annotations

import datetime as dt
import itertools
import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from agreements.models import Agreement, ConfirmationRequest
from odr.categories import Category
from odr.models import Dispute, Organisation, Party, Region
from tests import factories
from tests.odr.bulk_data import bulk_disputes

pytestmark = pytest.mark.django_db
CR = ConfirmationRequest.Status
TOWNSHIP = "330523101000"
ITS_VILLAGE = "330523101201"
OTHER_VILLAGE = "330523100201"
REGIONS = ("330523000000", TOWNSHIP, ITS_VILLAGE, OTHER_VILLAGE)
ROW = re.compile(r'data-request="(\d+)"')
REGION_TABLE = re.compile(r'(?:FROM|JOIN)\s+"odr_region"', re.IGNORECASE)
_docket = itertools.count(200_001)
SUBMITTED = dt.datetime(2026, 6, 1, 9, tzinfo=dt.UTC)


@pytest.fixture
def clerk(demo) -> Client:
    client = Client()
    client.force_login(factories.demo_user("clerk@demo.odr"))
    return client


def _requests(n: int, *, seed: int = 0) -> list[ConfirmationRequest]:
    """`n` requests before the demo court, pending and accepted by turns, their cases of
    mixed categories and regions, submitted one hour apart."""
    applicant = factories.demo_user("citizen1@demo.odr")
    mediator = factories.demo_user("mediator@demo.odr")
    court = Organisation.objects.get(kind=Organisation.Kind.COURT)
    disputes = bulk_disputes(
        n,
        applicant=applicant,
        mediator=mediator,
        statuses=[Dispute.Status.SETTLED],
        categories=(Category.DEBT, Category.NEIGHBOUR, Category.LAND),
        region_codes=REGIONS,
        seed=seed,
    )
    agreements = Agreement.objects.bulk_create(
        Agreement(dispute=d, status=Agreement.Status.SIGNED, created_by=mediator) for d in disputes
    )
    rows = []
    for i, agreement in enumerate(agreements):
        pending = i % 2 == 0
        submitted = SUBMITTED + dt.timedelta(hours=i)
        rows.append(
            ConfirmationRequest(
                agreement=agreement,
                court=court,
                status=CR.PENDING if pending else CR.ACCEPTED,
                submitted_at=submitted,
                accept_deadline=submitted + dt.timedelta(days=3) if pending else None,
                rule_deadline=None if pending else submitted + dt.timedelta(days=15),
                case_number="" if pending else f"（2026）浙0523民特{next(_docket)}号",
            )
        )
    return ConfirmationRequest.objects.bulk_create(rows)


def _get(client, url):
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, response.content[:300]
    return response.content.decode(), captured


def _rows(page: str) -> list[int]:
    return [int(pk) for pk in ROW.findall(page)]


def _pager_link(page: str, rel: str) -> str | None:
    """The queue's previous/next link (keyset cursors, issue 14), as a path to GET."""
    found = re.search(rf'rel="{rel}" href="([^"]+)"', page)
    return "/court/" + found.group(1).replace("&amp;", "&") if found else None


def _next(page: str) -> str | None:
    return _pager_link(page, "next")


def _previous(page: str) -> str | None:
    return _pager_link(page, "prev")


@pytest.mark.parametrize(
    "url",
    [
        "/court/",
        "/court/?status=pending",
        f"/court/?category=debt&region={TOWNSHIP}&q=张&filed_from=2026-06-01",
    ],
)
def test_the_queue_answers_20_a_page_in_the_same_queries_at_10_and_at_5000(clerk, url):
    _requests(10)
    _, small = _get(clerk, url)
    _requests(4990, seed=1)
    page, large = _get(clerk, url)
    assert 0 < len(_rows(page)) <= 20
    assert len(small) == len(large), [q["sql"][:200] for q in large.captured_queries]


def test_the_queue_pages_keep_its_order_and_the_filters(clerk):
    _requests(45)
    first, _ = _get(clerk, "/court/")
    second, _ = _get(clerk, _next(first))
    third, _ = _get(clerk, _next(second))
    ids = _rows(first) + _rows(second) + _rows(third)
    assert len(ids) == len(set(ids)) == 45 and _next(third) is None
    assert "下一页" in first and "上一页" in second and "上一页" not in first
    assert "共 45 件申请" in first
    # Back up by the cursor of the second page's first row: the first page again.
    back, _ = _get(clerk, _previous(second))
    assert _rows(back) == _rows(first)
    # Open requests, the nearest deadline first (the queue's own order).
    rows = {r.pk: r for r in ConfirmationRequest.objects.all()}

    def due(r):
        return r.accept_deadline if r.status == CR.PENDING else r.rule_deadline

    assert [due(rows[pk]) for pk in ids] == sorted(due(rows[pk]) for pk in ids)
    filtered, _ = _get(clerk, "/court/?status=accepted&category=land")
    assert "status=accepted" in filtered and "category=land" in filtered


def test_every_filter_narrows_the_queue_exactly(clerk):
    requests = _requests(40, seed=3)
    regions = dict(Region.objects.values_list("pk", "code"))
    disputes = {d.pk: d for d in Dispute.objects.all()}
    by_id = {r.pk: disputes[r.agreement.dispute_id] for r in requests}

    def shown(url: str) -> set[int]:
        """Every row on every page."""
        found: set[int] = set()
        while url:
            page, _ = _get(clerk, url)
            found |= set(_rows(page))
            url = _next(page)
        return found

    def expect(keep) -> set[int]:
        return {r.pk for r in requests if keep(r, by_id[r.pk])}

    assert shown("/court/?status=accepted") == expect(lambda r, d: r.status == CR.ACCEPTED)
    assert shown("/court/?category=neighbour") == expect(
        lambda r, d: d.category == Category.NEIGHBOUR
    )
    # The township covers its village's cases.
    township = shown(f"/court/?region={TOWNSHIP}")
    assert township == expect(lambda r, d: regions[d.region_id] in (TOWNSHIP, ITS_VILLAGE))
    assert any(regions[by_id[pk].region_id] == ITS_VILLAGE for pk in township)
    # Submission dates: the first day's 15 hours (09:00 to 23:00 UTC, in local days).
    day = dt.date(2026, 6, 2)
    local = lambda r: r.submitted_at.astimezone().date()  # noqa: E731
    assert shown(f"/court/?filed_from={day}&filed_to={day}") == expect(lambda r, d: local(r) == day)
    # The search: a case number (the mediation's or the court's), a party's name.
    target = requests[7]
    assert shown(f"/court/?q={by_id[target.pk].case_number}") == {target.pk}
    Party.objects.filter(dispute=by_id[requests[8].pk], role="respondent").update(name="司马光")
    assert shown("/court/?q=司马") == {requests[8].pk}


def test_a_bad_filter_is_named_and_the_others_still_apply(clerk):
    requests = _requests(12)
    page, _ = _get(clerk, "/court/?status=accepted&region=nowhere&filed_to=2026-02-30")
    assert 'id="filter-errors"' in page and "nowhere" in page
    assert set(_rows(page)) == {r.pk for r in requests if r.status == CR.ACCEPTED}
    assert "提交日期至" in page  # the court's dates are the submission's


def test_no_queue_query_joins_the_region_table_twice_or_uses_distinct(clerk):
    _requests(30)
    _, captured = _get(clerk, f"/court/?region={TOWNSHIP}&q=张&category=debt")
    listed = [
        q["sql"] for q in captured.captured_queries if "agreements_confirmationrequest" in q["sql"]
    ]
    assert listed
    for sql in listed:
        assert len(REGION_TABLE.findall(sql)) <= 1, sql
    for q in captured.captured_queries:
        assert "DISTINCT" not in q["sql"].upper(), q["sql"]


def test_an_estimated_count_is_shown_as_about(clerk, monkeypatch):
    """Above 1,000 requests the count is PostgreSQL's estimate (issue 14): 约 N 件申请."""
    from odr import pagination

    _requests(2)
    assert "约" not in clerk.get("/court/").content.decode()
    monkeypatch.setattr(pagination, "count_rows", lambda queryset: (4321, True))
    page = clerk.get("/court/").content.decode()
    assert re.search(r'id="court-queue-count">约 4,?321 件申请<', page), page
    # The API counts with its page's rows and asks the estimate of what it counted
    # (pagination.paginate_rows → estimate_counts), as the other lists do.
    monkeypatch.setattr(
        pagination, "estimate_counts", lambda db, counted, ids: [(4321, True)] * len(counted)
    )
    api = clerk.get("/api/v1/court/requests").json()
    assert (api["count"], api["count_is_estimate"], len(api["items"])) == (4321, True, 2)


@pytest.mark.parametrize("url", ["/court/", "/api/v1/court/requests"])
def test_the_queue_never_reads_the_agreements_being_signed(clerk, url):
    """Each agreement keeps the PDF its signers signed (Agreement.signing_pdf, some
    hundred kilobytes): no row of the court's queue shows it, so neither the page nor the
    API reads it (court_selectors.court_queue_keys, QUEUE_ITEM_COLUMNS, QUEUE_PAGE_COLUMNS;
    issue 14), and the rows come whole."""
    requests = _requests(3)
    Agreement.objects.filter(pk__in=[r.agreement_id for r in requests]).update(
        signing_pdf=b"%PDF-" + b"x" * 200_000
    )
    with CaptureQueriesContext(connection) as captured:
        response = clerk.get(url)
    assert response.status_code == 200
    assert not [q for q in captured.captured_queries if '"signing_pdf"' in q["sql"]]
    listed = (
        ROW.findall(response.content.decode())
        if url == "/court/"
        else [str(item["id"]) for item in response.json()["items"]]
    )
    assert sorted(listed) == sorted(str(r.pk) for r in requests)
