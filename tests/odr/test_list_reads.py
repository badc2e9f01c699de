"""The lists' one-query reads (issue 14): `pagination.read_page` and `read_sections` read
a page's rows and the list's count together, and answer what `pagination.paginate`
answers for the same list read alone (rows, order, next and previous cursors, count),
forwards, backwards, from a cursor the list did not give out, and for an empty section;
the intake queue's mediators, read by written-out SQL, are those the ORM reads."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from odr import pagination, selectors
from odr.models import Dispute, Membership, Organisation
from odr.views.lists import OLDEST_FIRST
from tests import factories
from tests.odr.bulk_data import bulk_disputes

pytestmark = pytest.mark.django_db
S = Dispute.Status
FIELDS = ("title", "status", "organisation__name")


@pytest.fixture
def applicant(demo):
    return factories.demo_user("citizen1@demo.odr")


def _alone(qs, **cursors) -> pagination.Page:
    return pagination.paginate(qs, keys=OLDEST_FIRST, limit=7, **cursors)


def _same(read: pagination.Page, alone: pagination.Page) -> None:
    assert [row["pk"] for row in read.items] == [d.pk for d in alone.items]
    assert (read.next, read.previous) == (alone.next, alone.previous)
    assert (read.count, read.count_is_estimate) == (alone.count, alone.count_is_estimate)


def test_a_page_read_with_its_count_is_the_page_read_alone(applicant):
    # Ties on the filing instant: the id orders them.
    bulk_disputes(30, applicant=applicant, same_instant_every=3)
    qs = selectors.disputes_visible_to(applicant)
    read = {"keys": OLDEST_FIRST, "limit": 7, "fields": FIELDS}
    first = pagination.read_page(qs, **read)
    _same(first, _alone(qs))
    assert set(first.items[0]) == {"pk", "created_at", *FIELDS}
    second = pagination.read_page(qs, after=first.next, **read)
    _same(second, _alone(qs, cursor=first.next))
    back = pagination.read_page(qs, before=second.previous, **read)
    _same(back, _alone(qs, before=second.previous))
    assert [r["pk"] for r in back.items] == [r["pk"] for r in first.items]
    last = pagination.read_page(
        qs, after=pagination.encode_cursor([dt.datetime.max.replace(tzinfo=dt.UTC), 1]), **read
    )
    assert (last.items, last.next, last.count) == ([], None, 30)
    with pytest.raises(pagination.InvalidCursor):
        pagination.read_page(qs, after="not-a-cursor", **read)


def test_a_page_and_its_count_are_one_query(applicant):
    bulk_disputes(12, applicant=applicant)
    qs = selectors.disputes_visible_to(applicant)
    with CaptureQueriesContext(connection) as captured:
        page = pagination.read_page(qs, keys=OLDEST_FIRST, limit=5, fields=FIELDS)
    expected = 2 if connection.vendor == "postgresql" else 1  # and the estimate's EXPLAIN
    assert len(captured) == expected
    assert page.count == 12 and len(page.items) == 5


def test_the_sections_read_together_are_each_read_alone(applicant):
    bulk_disputes(25, applicant=applicant, statuses=[S.AWAITING_INTAKE], same_instant_every=2)
    bulk_disputes(9, applicant=applicant, statuses=[S.IN_MEDIATION], seed=1)
    coordinator = factories.demo_user("coordinator@demo.odr")
    queue = selectors.intake_queue_for(coordinator)
    statuses = [S.AWAITING_INTAKE, S.IN_MEDIATION, S.FILED]

    def read(cursors):
        return pagination.read_sections(
            queue,
            column="status",
            sections=[
                pagination.SectionOf(status, after=after, before=before)
                for status, (after, before) in zip(statuses, cursors, strict=True)
            ],
            keys=OLDEST_FIRST,
            limit=7,
            fields=FIELDS,
        )

    def check(pages, cursors):
        for status, page, (after, before) in zip(statuses, pages, cursors, strict=True):
            _same(page, _alone(queue.filter(status=status), cursor=after, before=before))
            assert {row["status"] for row in page.items} <= {status}

    first_cursors = [(None, None)] * 3
    first = read(first_cursors)
    check(first, first_cursors)
    assert [p.count for p in first] == [25, 9, 0]
    # Each section onwards from its own cursor, one from a cursor it did not give out.
    onwards = [(first[0].next, None), (first[1].next, None), ("not-a-cursor", None)]
    second = read(onwards)
    check(second, [onwards[0], onwards[1], (None, None)])
    back = [(None, second[0].previous), (None, None), (None, None)]
    check(read(back), back)


def test_the_sections_cost_one_query_and_an_empty_page_one_more(applicant):
    bulk_disputes(5, applicant=applicant, statuses=[S.AWAITING_INTAKE])
    queue = selectors.intake_queue_for(factories.demo_user("coordinator@demo.odr"))
    explain = 1 if connection.vendor == "postgresql" else 0

    def queries(statuses) -> int:
        with CaptureQueriesContext(connection) as captured:
            pagination.read_sections(
                queue,
                column="status",
                sections=[pagination.SectionOf(s) for s in statuses],
                keys=OLDEST_FIRST,
                limit=7,
                fields=FIELDS,
            )
        return len(captured)

    assert queries([S.AWAITING_INTAKE]) == 1 + explain
    # The filed section is empty: no row holds its count.
    assert queries([S.AWAITING_INTAKE, S.FILED]) == 2 + explain


def test_the_intake_queue_reads_its_mediators_loads_as_the_orm_does(demo):
    """Loads that differ (the least loaded first), a mediator of two organisations, one
    whose membership ended, one without a profile, cases in mediation elsewhere."""
    from odr.models import Profile

    centre = Organisation.objects.get(region__code="330523000000", kind="county_centre")
    village = Organisation.objects.get(kind="village_committee", region__code="330523101201")
    busy = factories.make_user("busy@example.com", name="", org=centre, role="mediator")
    Membership.objects.create(user=busy, organisation=village, role="mediator")
    gone = factories.make_user("gone@example.com", org=centre, role="mediator")
    Membership.objects.filter(user=gone).update(is_active=False)
    bare = factories.make_user("bare@example.com", org=centre, role="mediator")
    Profile.objects.filter(user=bare).delete()
    applicant = factories.demo_user("citizen1@demo.odr")
    bulk_disputes(3, applicant=applicant, mediator=busy, organisation=village)
    bulk_disputes(2, applicant=applicant, mediator=busy, statuses=[S.SETTLED])
    bulk_disputes(1, applicant=applicant, mediator=bare)
    orgs = [centre.pk, village.pk]
    expected = {
        org: [(m.pk, selectors.people.display_name(m), load) for m, load in loaded]
        for org, loaded in selectors.mediators_with_load_in(orgs).items()
    }
    assert {
        org: [tuple(m) for m in loaded]
        for org, loaded in selectors.mediator_names_with_load_in(orgs).items()
    } == expected
    loads = {pk: load for pk, _, load in expected[centre.pk]}
    assert loads[busy.pk] == 3 and loads[bare.pk] == 1 and gone.pk not in loads
    assert selectors.mediator_names_with_load_in([]) == {}


def test_a_list_item_reads_its_sessions_and_agreement_with_its_row(demo):
    """The summaries the apps above register (sessions, agreement) come with each row of
    the API's list, in the same query (odr.composition.summary_columns): the same
    summaries, in the same order (by time, a session without one where the database puts
    it, then id), with the same instants, as the case itself answers."""
    import datetime as dt

    from django.test import Client

    from agreements.models import Agreement
    from sessions.models import MediationSession

    dispute = factories.dispute_in_mediation()
    later = factories.session_in("scheduled", dispute=dispute, in_hours=48)
    sooner = factories.session_in("scheduled", dispute=dispute, in_hours=3)
    untimed = factories.session_in("proposed", dispute=dispute)
    MediationSession.objects.filter(pk=untimed.pk).update(scheduled_at=None)
    # A time with microseconds, the same instant as another (the id orders them).
    instant = dt.datetime(2026, 6, 1, 1, 2, 3, 456789, tzinfo=dt.UTC)
    MediationSession.objects.filter(pk__in=[later.pk, sooner.pk]).update(scheduled_at=instant)
    Agreement.objects.create(dispute=dispute, created_by=dispute.mediator)
    client = Client()
    client.force_login(dispute.mediator)
    with CaptureQueriesContext(connection) as captured:
        body = client.get("/api/v1/disputes").json()
    (item,) = [i for i in body["items"] if i["id"] == dispute.pk]
    own = client.get(f"/api/v1/disputes/{dispute.pk}").json()
    assert item["sessions"] == own["sessions"] and len(own["sessions"]) == 3
    assert item["agreement"] == own["agreement"] and own["agreement"]["id"]
    assert own["sessions"][0 if connection.vendor == "sqlite" else 2]["scheduled_at"] is None
    apart = ('SELECT "mediation_mediationsession".', 'SELECT "agreements_agreement".')
    assert not [q["sql"] for q in captured.captured_queries if q["sql"].startswith(apart)]


def test_a_prepared_read_answers_each_caller_with_their_own_rows(demo):
    """selectors.PreparedRead compiles the memberships' read once and runs it with each
    user's id: each user reads their own organisations and roles (an ended membership
    and an inactive organisation left out), as the ORM reads them."""
    coordinator = factories.demo_user("coordinator@demo.odr")
    mediator = factories.demo_user("mediator@demo.odr")
    other = factories.make_user("new@example.com")
    village = Organisation.objects.get(kind="village_committee", region__code="330523101201")
    Membership.objects.create(user=mediator, organisation=village, role="mediator")
    Membership.objects.create(
        user=mediator, organisation=village, role="reception", is_active=False
    )
    for user in (coordinator, mediator, other, coordinator):
        expected: dict[str, set[int]] = {}
        names = {}
        for m in Membership.objects.filter(
            user=user, is_active=True, organisation__is_active=True
        ).select_related("organisation"):
            expected.setdefault(m.role, set()).add(m.organisation_id)
            names[m.organisation_id] = m.organisation.name
        assert selectors.user_org_names_by_role(user) == (expected, names)
        assert selectors.user_org_ids_by_role(user) == expected
    assert selectors.user_org_ids_by_role(mediator)["mediator"] >= {village.pk}
    assert "reception" not in selectors.user_org_ids_by_role(mediator)
    Organisation.objects.filter(pk=village.pk).update(is_active=False)
    assert village.pk not in selectors.user_org_ids_by_role(mediator).get("mediator", set())


def test_a_prepared_read_refuses_columns_that_need_converting(demo):
    """A JSON column is read through its field's converter: not a prepared read's."""
    read = selectors.PreparedRead(
        lambda pk: Organisation.objects.filter(pk=pk).values_list("categories"), selectors.MARKER
    )
    with pytest.raises(ValueError):
        read(1)


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_an_empty_list_says_so_as_its_template_did(demo, language):
    """The rows are drawn as one piece (list_html.joined); a list without rows still
    says why, in the HTML its `{% empty %}` drew."""
    import re

    from django.template import engines
    from django.test import Client
    from django.utils import translation

    def words(source: str) -> str:
        with translation.override(language):
            return engines["django"].from_string("{% load i18n %}" + source).render({})

    def listed(page: str, list_id: str) -> str:
        pattern = rf'<ul class="case-list" id="{list_id}">\n(.*?)</ul>'
        return re.search(pattern, page, re.DOTALL).group(1)

    client = Client()
    client.force_login(factories.make_user("nobody@example.com"))
    client.cookies["django_language"] = language
    mine = client.get("/disputes/").content.decode()
    none_yet = words(
        '<li>{% translate "No cases yet." %} <a href="{% url \'odr:dispute_new\' %}">'
        '{% translate "File a dispute" %}</a></li>'
    )
    assert listed(mine, "case-list") == f"\n  {none_yet}\n\n"
    filtered = client.get("/disputes/?status=filed").content.decode()
    no_match = words('<li class="muted">{% translate "No case matches these filters." %}</li>')
    assert listed(filtered, "case-list") == f"\n  {no_match}\n  \n\n"
    coordinator = Client()
    coordinator.force_login(factories.demo_user("coordinator@demo.odr"))
    coordinator.cookies["django_language"] = language
    queue = coordinator.get("/intake/").content.decode()
    nothing = words('<li class="muted">{% translate "Nothing is waiting." %}</li>')
    assert listed(queue, "waiting") == f"{nothing}\n\n"
    none = words('<li class="muted">{% translate "None." %}</li>')
    assert listed(queue, "in-mediation") == listed(queue, "filed") == f"{none}\n\n"


def test_the_intake_queue_compiled_once_shows_each_coordinator_their_own_cases(demo):
    """The unfiltered queue's SQL is compiled once per process for every coordinator of
    as many organisations (pagination.read_sections, `prepared`): each still reads their
    own organisation's cases, and a filtered queue reads them as before."""
    import re

    from django.test import Client

    applicant = factories.demo_user("citizen1@demo.odr")
    centre = Organisation.objects.get(region__code="330523000000", kind="county_centre")
    village = Organisation.objects.get(kind="village_committee", region__code="330523101201")
    at_centre = bulk_disputes(3, applicant=applicant, statuses=[S.AWAITING_INTAKE])
    at_village = bulk_disputes(
        2, applicant=applicant, statuses=[S.AWAITING_INTAKE], organisation=village, seed=1
    )
    other = factories.make_user("village.coordinator@example.com", org=village, role="coordinator")
    shown = {}
    for name, user in (("centre", factories.demo_user("coordinator@demo.odr")), ("village", other)):
        client = Client()
        client.force_login(user)
        for url in ("/intake/", "/intake/?category=debt"):
            page = client.get(url).content.decode()
            waiting = page.split('id="waiting"')[1].split("</ul>")[0]
            shown[name, url] = {int(pk) for pk in re.findall(r'href="/disputes/(\d+)/"', waiting)}
    for url in ("/intake/", "/intake/?category=debt"):
        assert shown["centre", url] >= {d.pk for d in at_centre}
        assert not shown["centre", url] & {d.pk for d in at_village}
        assert shown["village", url] == {d.pk for d in at_village}
    assert centre.pk != village.pk


@pytest.mark.scaleout
def test_on_postgresql_the_one_query_reads_answer_as_each_list_read_alone(tmp_path):
    """read_sections (compiled, reused with markers, and not) and read_page on
    PostgreSQL: one query and one EXPLAIN; every page, cursor and count (the planner's
    estimate above 1,000) as paginate answers alone."""
    from tests.odr.api_support import run_race_script
    from tests.postgres import scratch_database

    script = Path(__file__).with_name("list_reads_pg.py")
    with scratch_database("odr_list_reads") as url:
        out = run_race_script(script, tmp_path, {"DATABASE_URL": url})
    assert out["vendor"] == "postgresql"
    # The filed section is empty: its count is asked apart.
    assert set(map(tuple, out["queries"])) == {("SELECT", "SELECT", "EXPLAIN")}
    assert out["same"] == [[True] * 3] * 9
    (waiting, estimated), *rest = out["counts"][0]
    assert estimated and 1000 < waiting < 9000
    assert rest == [[40, False], [0, False]]
    assert out["pages"] == [True] * 3
    assert out["estimated"][1] is True
