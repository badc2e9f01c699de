"""The lists stay fast at any size (issue 14): my cases (`/disputes/`), the intake queue
(`/intake/`) and `GET /api/v1/disputes` answer a bounded page in the same number of
queries at 10 cases and at 5,000; the filters (status, category, region with what lies
under it, filing dates) and the search (case number, party name) narrow exactly; a bad
filter is a 422 on the API and a message on a page; no list query joins the region table
twice or sorts with DISTINCT."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from odr.categories import Category
from odr.models import Dispute, Party, Region
from odr.pagination import encode_cursor
from odr.views.lists import PAGE_SIZE
from tests import factories
from tests.odr.api_support import assert_error, role_clients
from tests.odr.bulk_data import bulk_disputes

pytestmark = pytest.mark.django_db
S = Dispute.Status

TOWNSHIP = "330523101000"  # 天荒坪镇
ITS_VILLAGES = ("330523101201", "330523101202")  # 余村, 大溪村
OTHER_VILLAGE = "330523100201"  # 横溪坞村, under 孝丰镇
COUNTY = "330523000000"
REGIONS = (COUNTY, TOWNSHIP, *ITS_VILLAGES, OTHER_VILLAGE)
CATEGORIES = (Category.DEBT, Category.NEIGHBOUR, Category.LAND)
INTAKE = (S.AWAITING_INTAKE, S.IN_MEDIATION, S.FILED)
LINK = re.compile(r'href="/disputes/(\d+)/"')


@pytest.fixture
def clients(demo):
    return role_clients()


@pytest.fixture
def applicant(demo):
    return factories.demo_user("citizen1@demo.odr")


def _mixed(n: int, applicant, *, seed: int = 0, statuses=INTAKE) -> list[Dispute]:
    return bulk_disputes(
        n,
        applicant=applicant,
        statuses=statuses,
        categories=CATEGORIES,
        region_codes=REGIONS,
        seed=seed,
    )


def _get(client, url: str):
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, response.content[:500]
    return response, captured


def _ids_on_page(response) -> list[int]:
    return [int(i) for i in LINK.findall(response.content.decode())]


def _api_ids(client, url: str) -> list[int]:
    body = client.get(url + ("&" if "?" in url else "?") + "limit=200").json()
    assert body["next"] is None, "the test expects one page"
    assert body["count"] == len(body["items"])
    return [item["id"] for item in body["items"]]


def _newest_first(disputes) -> list[int]:
    return [d.pk for d in sorted(disputes, key=lambda d: (d.created_at, d.pk), reverse=True)]


# --- the same queries at 10 and at 5,000 ------------------------------------------------


LIST_URLS = [
    ("applicant", "/disputes/"),
    ("applicant", f"/disputes/?status=filed&category=debt&region={TOWNSHIP}&q=张"),
    ("coordinator", "/intake/"),
    ("coordinator", f"/intake/?category=debt&region={TOWNSHIP}&filed_from=2026-01-05"),
    ("applicant", f"/api/v1/disputes?limit=20&category=debt&region={TOWNSHIP}&q=张"),
    ("coordinator", "/api/v1/disputes?limit=20&filed_from=2026-01-01&filed_to=2030-12-31"),
]


def _every_section(applicant) -> None:
    """One case of each intake status that every filter of LIST_URLS lets through: an
    empty section or page skips its row queries, which is not what is being compared."""
    for status in INTAKE:
        bulk_disputes(
            1,
            applicant=applicant,
            statuses=[status],
            categories=[Category.DEBT],
            region_codes=[ITS_VILLAGES[0]],
            created_at=dt.datetime(2026, 2, 1, 9, tzinfo=dt.UTC),
        )


@pytest.mark.parametrize("role,url", LIST_URLS)
def test_a_list_answers_a_bounded_page_in_the_same_queries_at_10_and_at_5000(
    clients, applicant, role, url
):
    _every_section(applicant)
    _mixed(7, applicant)
    _, small = _get(clients[role], url)
    _mixed(4990, applicant, seed=1)
    response, large = _get(clients[role], url)
    if url.startswith("/api/"):
        body = response.json()
        assert len(body["items"]) == 20 and body["next"]
    else:
        # A page of at most 20 a section (the intake queue has three).
        ids = _ids_on_page(response)
        assert 0 < len(ids) <= 3 * PAGE_SIZE
        assert "上一页" not in response.content.decode()
    assert len(small) == len(large), [q["sql"] for q in large.captured_queries]


def _link(response, rel: str) -> str | None:
    """The target of the page's previous/next link (`rel`): the page's own path with the
    link's query."""
    found = re.search(rf'rel="{rel}" href="([^"]+)"', response.content.decode())
    if found is None:
        return None
    return response.wsgi_request.path + found.group(1).replace("&amp;", "&")


def test_a_deep_page_costs_what_the_first_costs_and_reads_no_offset(clients, applicant):
    """Page 200 of 250 is read from its cursor by the (created_at, id) index, in the same
    queries as the first page; its previous page is read back by the same index."""
    disputes = _mixed(5000, applicant, statuses=[S.IN_MEDIATION])
    order = _newest_first(disputes)
    first, q_first = _get(clients["applicant"], "/disputes/")
    assert _ids_on_page(first) == order[:PAGE_SIZE]
    assert _link(first, "prev") is None
    above = Dispute.objects.get(pk=order[199 * PAGE_SIZE - 1])
    cursor = encode_cursor([above.created_at, above.pk])
    deep, q_deep = _get(clients["applicant"], f"/disputes/?after={cursor}")
    assert _ids_on_page(deep) == order[199 * PAGE_SIZE : 200 * PAGE_SIZE]
    assert len(q_first) == len(q_deep)
    assert not [q for q in q_deep.captured_queries if "OFFSET" in q["sql"]]
    back, q_back = _get(clients["applicant"], _link(deep, "prev"))
    assert _ids_on_page(back) == order[198 * PAGE_SIZE : 199 * PAGE_SIZE]
    assert len(q_back) == len(q_first)
    onwards, _ = _get(clients["applicant"], _link(back, "next"))
    assert _ids_on_page(onwards) == _ids_on_page(deep)


def test_every_page_of_a_list_is_reached_once_forwards_and_backwards(clients, applicant):
    _mixed(45, applicant, statuses=[S.IN_MEDIATION])
    seen = _api_ids(clients["applicant"], "/api/v1/disputes")
    url, pages = "/disputes/", []
    while url:
        response, _ = _get(clients["applicant"], url)
        pages.append(_ids_on_page(response))
        url = _link(response, "next")
    assert len(seen) > 2 * PAGE_SIZE and all(len(p) == PAGE_SIZE for p in pages[:-1])
    assert [pk for p in pages for pk in p] == seen
    # And back up from the last page to the first, which has no previous page.
    url, back = _link(response, "prev"), []
    while url:
        response, _ = _get(clients["applicant"], url)
        back.append(_ids_on_page(response))
        url = _link(response, "prev")
    assert back == pages[-2::-1]


def test_a_cursor_the_list_did_not_give_out_opens_the_first_page(clients, applicant):
    _mixed(25, applicant, statuses=[S.IN_MEDIATION])
    first = _api_ids(clients["applicant"], "/api/v1/disputes")[:PAGE_SIZE]
    for query in ("after=not-a-cursor", "before=%E2%98%83", "page=2"):
        response, _ = _get(clients["applicant"], f"/disputes/?{query}")
        assert _ids_on_page(response) == first


def test_each_section_of_the_intake_queue_pages_on_its_own(clients, applicant):
    waiting = _mixed(25, applicant, statuses=[S.AWAITING_INTAKE])
    _mixed(25, applicant, statuses=[S.IN_MEDIATION], seed=2)
    response, _ = _get(clients["coordinator"], "/intake/")
    page = response.content.decode()
    assert "waiting_after=" in page and "mediation_after=" in page
    target = re.search(r'rel="next" href="([^"]*waiting_after=[^"]+)"', page).group(1)
    second, _ = _get(clients["coordinator"], "/intake/" + target.replace("&amp;", "&"))
    oldest_first = [d.pk for d in sorted(waiting, key=lambda d: (d.created_at, d.pk))]
    shown = set(_ids_on_page(second))
    assert set(oldest_first[PAGE_SIZE:]) <= shown
    assert not set(oldest_first[:PAGE_SIZE]) & shown


def test_each_section_of_the_intake_queue_pages_back_and_keeps_the_others_where_they_are(
    clients, applicant
):
    """The sections are read together (odr.pagination.paginate_sections) but paged apart:
    back from a section's second page is its first; another section's cursor, and a bad
    one, move only their own section."""
    waiting = _mixed(45, applicant, statuses=[S.AWAITING_INTAKE])
    mediation = _mixed(45, applicant, statuses=[S.IN_MEDIATION], seed=2)
    oldest = lambda rows: [d.pk for d in sorted(rows, key=lambda d: (d.created_at, d.pk))]  # noqa: E731

    def section(response, element_id: str) -> list[int]:
        html = response.content.decode()
        block = html.split(f'id="{element_id}"')[1].split("</ul>")[0]
        return [int(i) for i in LINK.findall(block)]

    first, _ = _get(clients["coordinator"], "/intake/")
    assert section(first, "waiting") == oldest(waiting)[:PAGE_SIZE]
    assert section(first, "in-mediation") == oldest(mediation)[:PAGE_SIZE]
    target = re.search(r'rel="next" href="([^"]*mediation_after=[^"]+)"', first.content.decode())
    second, _ = _get(clients["coordinator"], "/intake/" + target.group(1).replace("&amp;", "&"))
    assert section(second, "in-mediation") == oldest(mediation)[PAGE_SIZE : 2 * PAGE_SIZE]
    assert section(second, "waiting") == oldest(waiting)[:PAGE_SIZE]
    html = second.content.decode()
    back = re.search(r'rel="prev" href="([^"]*mediation_before=[^"]+)"', html).group(1)
    again, _ = _get(clients["coordinator"], "/intake/" + back.replace("&amp;", "&"))
    assert section(again, "in-mediation") == oldest(mediation)[:PAGE_SIZE]
    assert 'rel="prev"' not in again.content.decode()
    broken, _ = _get(
        clients["coordinator"],
        "/intake/" + target.group(1).replace("&amp;", "&") + "&waiting_after=not-a-cursor",
    )
    assert section(broken, "waiting") == oldest(waiting)[:PAGE_SIZE]
    assert section(broken, "in-mediation") == oldest(mediation)[PAGE_SIZE : 2 * PAGE_SIZE]


def test_the_intake_queue_costs_the_same_few_queries_whatever_it_holds(clients, applicant):
    """Issue 14: from 24 queries (four a section, the mediators per organisation) to 7
    on PostgreSQL: the session, the user, the memberships with their organisations'
    names (once: the menu's roles come from them too), the sections' counts, pages, rows
    and the waiting cases' parties (one query; PostgreSQL adds one EXPLAIN for the
    estimates), the mediators with their load (one) and the regions of the filter
    form."""
    _every_section(applicant)
    _mixed(4000, applicant, seed=3)
    _, captured = _get(clients["coordinator"], "/intake/")
    expected = 7 if connection.vendor == "postgresql" else 6
    assert len(captured) == expected, [q["sql"][:120] for q in captured.captured_queries]
    # Each waiting case still lists the organisation's mediators with their load.
    response, _ = _get(clients["coordinator"], "/intake/")
    assert response.content.decode().count('<select name="mediator"') == PAGE_SIZE


def test_a_search_opening_as_a_case_number_reads_numbers_from_their_start(clients, applicant):
    """A case number's only bracket opens it ("(2026)", odr.services.filing; full-width
    in the bulk rows): such a search matches numbers from their start (the btree prefix
    index, not the trigrams) and finds what a match anywhere found; a party's name is
    still matched anywhere."""
    disputes = _mixed(30, applicant, seed=6)
    target, named = disputes[11], disputes[20]
    Party.objects.filter(dispute=named, role=Party.Role.RESPONDENT).update(
        name=f"某公司{target.case_number}"
    )
    client = clients["coordinator"]
    with CaptureQueriesContext(connection) as captured:
        found = _api_ids(client, f"/api/v1/disputes?q={target.case_number}")
    assert found == _newest_first([target, named])
    by_number = [
        m.group(1)
        for q in captured.captured_queries
        for m in re.finditer(r'"case_number"(?:::text)? LIKE \'([^\']*)\'', q["sql"])
    ]
    assert by_number and all(not p.startswith("%") for p in by_number), by_number
    # Without its bracket the number is a serial: matched anywhere.
    serial = target.case_number.split("）", 1)[1]
    assert _api_ids(client, f"/api/v1/disputes?q={serial}") == _newest_first([target, named])


@pytest.mark.scaleout
def test_on_postgresql_the_sections_are_counted_estimated_and_paged_as_each_alone(tmp_path):
    """odr.pagination.paginate_sections on PostgreSQL: the exact counts in one query and
    the planner's estimates in one EXPLAIN (one InitPlan a section), equal to count_rows
    section by section; every page, its next and previous cursors, as paginate reads it
    alone, forwards and back."""
    from tests.odr.api_support import run_race_script
    from tests.postgres import scratch_database

    script = Path(__file__).with_name("intake_sections_pg.py")
    with scratch_database("odr_intake_sections") as url:
        out = run_race_script(script, tmp_path, {"DATABASE_URL": url})
    assert out["vendor"] == "postgresql"
    assert [q.split()[0] for q in out["queries"]] == ["SELECT", "EXPLAIN"]
    assert out["counts"] == out["alone"]
    (waiting, estimated), *rest = out["counts"]
    assert estimated and 1000 < waiting < 9000  # the planner's, near 3,000
    assert rest == [[40, False], [0, False], [0, False]]
    assert out["same"] == [[True] * 4] * 3


# --- the filters narrow exactly ---------------------------------------------------------


def test_every_filter_narrows_the_api_list_exactly(clients, applicant):
    disputes = _mixed(120, applicant, statuses=[S.IN_MEDIATION, S.SETTLED, S.FILED], seed=7)
    regions = dict(Region.objects.filter(code__in=REGIONS).values_list("pk", "code"))
    client = clients["applicant"]

    def expect(keep) -> list[int]:
        return _newest_first([d for d in disputes if keep(d)])

    assert _api_ids(client, "/api/v1/disputes?category=land") == expect(
        lambda d: d.category == Category.LAND
    )
    # A township covers its villages' cases, and none of another township's.
    township = _api_ids(client, f"/api/v1/disputes?region={TOWNSHIP}")
    assert township == expect(lambda d: regions[d.region_id] in (TOWNSHIP, *ITS_VILLAGES))
    assert {regions[d.region_id] for d in disputes if d.pk in township} >= set(ITS_VILLAGES)
    # The county covers everything here; a village only itself.
    assert len(_api_ids(client, f"/api/v1/disputes?region={COUNTY}")) == 120
    village = ITS_VILLAGES[0]
    assert _api_ids(client, f"/api/v1/disputes?region={village}") == expect(
        lambda d: regions[d.region_id] == village
    )
    # Filing dates are whole local days, both ends included.
    day = lambda d: dt.datetime.fromisoformat(str(d.created_at)).astimezone().date()  # noqa: E731
    middle = sorted(disputes, key=lambda d: d.created_at)[60]
    start = day(middle)
    end = start + dt.timedelta(days=1)
    assert _api_ids(
        client, f"/api/v1/disputes?filed_from={start.isoformat()}&filed_to={end.isoformat()}"
    ) == expect(lambda d: start <= day(d) <= end)
    assert _api_ids(client, f"/api/v1/disputes?filed_to={start.isoformat()}") == expect(
        lambda d: day(d) <= start
    )
    # All together, with the status.
    url = f"/api/v1/disputes?status=settled&category=debt&region={TOWNSHIP}"
    assert _api_ids(client, url) == expect(
        lambda d: (
            d.status == S.SETTLED
            and d.category == Category.DEBT
            and regions[d.region_id] in (TOWNSHIP, *ITS_VILLAGES)
        )
    )


def test_the_search_finds_a_case_by_its_number_or_a_party_by_name(clients, applicant):
    disputes = _mixed(30, applicant, seed=2)
    target, other = disputes[4], disputes[17]
    Party.objects.filter(dispute=other, role=Party.Role.RESPONDENT).update(name="欧阳修")
    client = clients["applicant"]
    assert _api_ids(client, f"/api/v1/disputes?q={target.case_number}") == [target.pk]
    assert _api_ids(client, "/api/v1/disputes?q=欧阳") == [other.pk]
    assert _api_ids(client, "/api/v1/disputes?q=欧阳修") == [other.pk]
    # Every case names 张三 as its applicant: a party's name finds each case once.
    assert _api_ids(client, "/api/v1/disputes?q=张三") == _newest_first(disputes)
    assert _api_ids(client, "/api/v1/disputes?q=无此人") == []
    # The page finds the same.
    response, _ = _get(client, "/disputes/?q=欧阳")
    assert _ids_on_page(response) == [other.pk]
    response, _ = _get(client, f"/disputes/?q={target.case_number}")
    assert _ids_on_page(response) == [target.pk]


def test_the_pages_filter_as_the_api_does(clients, applicant):
    disputes = _mixed(40, applicant, seed=5)
    url = f"category=neighbour&region={TOWNSHIP}"
    api = _api_ids(clients["applicant"], f"/api/v1/disputes?{url}")
    assert 0 < len(api) < 40
    response, _ = _get(clients["applicant"], f"/disputes/?{url}")
    assert _ids_on_page(response) == api[:PAGE_SIZE]
    # The intake queue: each section keeps only what the filters let through.
    response, _ = _get(clients["coordinator"], f"/intake/?{url}&status=awaiting_intake")
    page = response.content.decode()
    waiting = {d.pk for d in disputes if d.pk in api and d.status == S.AWAITING_INTAKE}
    assert set(_ids_on_page(response)) == waiting
    assert 'id="in-mediation"' not in page and 'id="filed"' not in page
    # The filter block is folded unless a filter is set, and labelled in Chinese.
    response, _ = _get(clients["coordinator"], "/intake/")
    assert '<details class="list-filters" id="list-filters">' in response.content.decode()
    assert "<summary>筛选" in response.content.decode()


def test_the_pages_links_keep_the_filters(clients, applicant):
    bulk_disputes(60, applicant=applicant, categories=[Category.DEBT])
    response, _ = _get(clients["applicant"], "/disputes/?category=debt&q=张")
    page = response.content.decode()
    assert "下一页" in page
    link = re.search(r'href="\?([^"]+)" *>下一页|href="\?([^"]+)"[^>]*>下一页', page)
    assert link is not None
    target = (link.group(1) or link.group(2)).replace("&amp;", "&")
    assert "category=debt" in target and "after=" in target


# --- bad values --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query,code",
    [
        ("category=nonsense", "invalid_category_filter"),
        ("region=999999999999", "invalid_region_filter"),
        ("region=" + "9" * 20, "invalid_region_filter"),
        ("filed_from=2026-13-01", "invalid_date_filter"),
        ("filed_to=yesterday", "invalid_date_filter"),
        ("filed_from=2026-03-02&filed_to=2026-03-01", "invalid_date_filter"),
        ("q=" + "号" * 61, "invalid_search"),
    ],
)
def test_a_bad_filter_answers_422_with_its_code(clients, applicant, query, code):
    _mixed(3, applicant)
    body = assert_error(clients["applicant"].get(f"/api/v1/disputes?{query}"), 422, code)
    # The message names the parameter at fault.
    assert body["detail"].split(" ")[0] in [p.split("=")[0] for p in query.split("&")]


def test_a_bad_filter_on_a_page_is_named_and_the_others_still_apply(clients, applicant):
    disputes = _mixed(30, applicant, seed=4)
    before = Dispute.objects.count()
    response, _ = _get(
        clients["applicant"], "/disputes/?category=land&region=999999999999&filed_from=2026-13-40"
    )
    page = response.content.decode()
    assert 'id="filter-errors"' in page and " open>" in page
    assert "999999999999" in page  # what was typed is kept, named in the message
    assert "2026-13-40" in page
    lands = [d for d in disputes if d.category == Category.LAND]
    assert set(_ids_on_page(response)) == {d.pk for d in lands}
    assert Dispute.objects.count() == before
    response, _ = _get(clients["coordinator"], "/intake/?filed_to=not-a-day")
    assert 'id="filter-errors"' in response.content.decode()


# --- the shape of the queries -----------------------------------------------------------

REGION_TABLE = re.compile(r'(?:FROM|JOIN)\s+"odr_region"', re.IGNORECASE)


def _list_queries(captured) -> list[str]:
    """The queries that read the list's rows (not the session, the user or the roles)."""
    return [q["sql"] for q in captured.captured_queries if 'FROM "odr_dispute"' in q["sql"]]


@pytest.mark.parametrize(
    "role,url",
    [
        ("applicant", f"/disputes/?region={TOWNSHIP}&q=张&category=debt"),
        ("coordinator", f"/intake/?region={TOWNSHIP}&q=张"),
        ("applicant", f"/api/v1/disputes?region={TOWNSHIP}&q=张&category=debt"),
        ("case_mediator", f"/api/v1/disputes?region={COUNTY}"),
        ("coordinator", "/api/v1/disputes"),
    ],
)
def test_no_list_query_joins_the_region_table_twice_or_uses_distinct(clients, applicant, role, url):
    mediator = factories.demo_user("mediator@demo.odr")
    bulk_disputes(
        30,
        applicant=applicant,
        mediator=mediator,
        statuses=INTAKE,
        region_codes=REGIONS,
        categories=CATEGORIES,
    )
    _, captured = _get(clients[role], url)
    listed = _list_queries(captured)
    assert listed
    for sql in listed:
        # A query may read several lists at once (the intake queue's sections, each a
        # subquery of its own): none of those reads joins the region table twice.
        for read in sql.split('FROM "odr_dispute"')[1:]:
            assert len(REGION_TABLE.findall(read)) <= 1, sql
    for q in captured.captured_queries:
        assert "DISTINCT" not in q["sql"].upper(), q["sql"]


def test_regions_keep_their_path_and_full_name_when_renamed_or_moved(demo):
    township = Region.objects.get(code=TOWNSHIP)
    village = Region.objects.get(code=ITS_VILLAGES[0])
    assert village.path == "/330000000000/330500000000/330523000000/330523101000/330523101201/"
    assert village.full_name == "浙江省湖州市安吉县天荒坪镇余村"
    township.name = "天荒坪新镇"
    township.save()
    village.refresh_from_db()
    assert village.full_name == "浙江省湖州市安吉县天荒坪新镇余村"
    village.parent = Region.objects.get(code="330523100000")
    village.save(update_fields=["parent"])
    village.refresh_from_db()
    assert village.path.startswith("/330000000000/330500000000/330523000000/330523100000/")
    assert [r.code for r in village.ancestors_and_self()][1] == "330523100000"


def test_a_count_the_database_estimated_is_shown_as_about(clients, applicant, monkeypatch):
    """Above 1,000 rows PostgreSQL's planner estimates a list's count (odr.pagination.
    estimate_counts, issue 14): the API says so (`count_is_estimate`) and the pages say 约."""
    from odr import pagination

    bulk_disputes(3, applicant=applicant, statuses=[S.AWAITING_INTAKE])
    exact = clients["coordinator"].get("/intake/").content.decode()
    assert "约" not in exact
    assert clients["applicant"].get("/api/v1/disputes").json()["count_is_estimate"] is False
    # The lists count with their page's rows and ask the estimates of what they counted
    # (pagination.estimate_counts; the intake queue of its sections together).
    monkeypatch.setattr(
        pagination, "estimate_counts", lambda db, counted, ids: [(123456, True)] * len(counted)
    )
    body = clients["applicant"].get("/api/v1/disputes").json()
    assert (body["count"], body["count_is_estimate"], len(body["items"])) == (123456, True, 3)
    mine = clients["applicant"].get("/disputes/").content.decode()
    assert re.search(r'id="case-count">约 123,?456 件<', mine), mine
    intake = clients["coordinator"].get("/intake/").content.decode()
    assert re.search(r"（约 123,?456）|\(约 123,?456\)", intake), intake
