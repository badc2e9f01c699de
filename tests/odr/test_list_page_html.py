"""The HTML lists draw what they drew before they were made cheaper (issue 14): the filter
block, kept per filters and language (odr.views.list_html), is the HTML of the include it
replaced; the rows of my cases, read as plain values with their words worked out once a
page, are the rows the case models drew."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.template import engines
from django.template.loader import get_template
from django.test import Client
from django.utils import translation

from agreements.models import ConfirmationRequest
from odr import filters as list_filters
from odr.categories import Category
from odr.models import Dispute, Region
from odr.views import list_html, lists
from tests import factories
from tests.odr.bulk_data import bulk_disputes

pytestmark = pytest.mark.django_db
S = Dispute.Status

# A row of my cases as the page drew it from the case models until issue 14.
MODEL_ROWS = engines["django"].from_string(
    "{% for d in disputes %}\n"
    "  <li>\n"
    '    <a class="title" href="{% url \'odr:dispute_detail\' d.pk %}">{{ d.title }}</a>\n'
    '    <div class="meta">{{ d.case_number }} · <span class="status {{ d.status }}">'
    "{{ d.get_status_display }}</span> · {{ d.get_category_display }}</div>\n"
    '    <div class="meta">{{ d.organisation.name }} · {{ d.region.full_name }} · '
    '{{ d.created_at|date:"Y-m-d" }}</div>\n'
    "  </li>\n"
    "{% endfor %}"
)
CASE_LIST = re.compile(r'<ul class="case-list" id="case-list">\n(.*?)</ul>', re.DOTALL)


def _client(email: str, language: str) -> Client:
    client = Client()
    client.force_login(factories.demo_user(email))
    client.cookies["django_language"] = language
    return client


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_the_rows_of_my_cases_are_the_rows_the_case_models_draw(demo, language):
    applicant = factories.demo_user("citizen1@demo.odr")
    disputes = bulk_disputes(
        6,
        applicant=applicant,
        statuses=[S.FILED, S.IN_MEDIATION, S.SETTLED, S.DECLINED],
        categories=[Category.DEBT, Category.LAND, Category.OTHER],
        region_codes=["330523000000", "330523101201"],
        # Late in the evening in UTC: the next day where the reader is (the row's date
        # is the local one).
        created_at=dt.datetime(2026, 3, 1, 17, 30, tzinfo=dt.UTC),
    )
    Dispute.objects.filter(pk=disputes[0].pk).update(title='<b>"借款" & 利息</b>')
    # A case no organisation covers yet.
    Dispute.objects.filter(pk=disputes[1].pk).update(organisation=None)
    page = _client("citizen1@demo.odr", language).get("/disputes/").content.decode()
    shown = Dispute.objects.filter(pk__in=[d.pk for d in disputes]).select_related(
        "region", "organisation"
    )
    with translation.override(language):
        expected = MODEL_ROWS.render(
            {"disputes": sorted(shown, key=lambda d: (d.created_at, d.pk), reverse=True)}
        )
    assert CASE_LIST.search(page).group(1) == expected + "\n"
    assert "&lt;b&gt;&quot;借款&quot; &amp; 利息&lt;/b&gt;" in page
    assert "2026-03-02" in page


FILTER_DATA = [
    {},
    {"status": "filed", "category": "debt", "region": "330523101000"},
    {"q": "张三", "filed_from": "2026-01-01", "filed_to": "2026-02-01"},
]


@pytest.mark.parametrize("language", ["zh-hans", "en"])
@pytest.mark.parametrize("data", FILTER_DATA)
@pytest.mark.parametrize("court", [False, True])
def test_the_filter_block_kept_for_the_page_is_the_include_it_replaced(demo, language, data, court):
    """The court's queue offers its own statuses and words its dates as submissions."""
    kwargs = (
        {"statuses": ConfirmationRequest.Status.choices, "date_label": "submitted"} if court else {}
    )
    with translation.override(language):
        for _ in range(2):  # drawn, then from the memo
            form = list_filters.ListFilterForm(data, **kwargs)
            filters = form.filters()
            included = get_template("odr/_list_filters.html").render(
                {"form": form, "filters": filters}
            )
            assert list_html.filter_block(form, filters) == included


def test_the_filter_block_offers_a_region_added_since_it_was_kept(demo):
    form = list_filters.ListFilterForm({})
    assert "新村镇" not in list_html.filter_block(form, form.filters())
    county = Region.objects.get(code="330523000000")
    Region.objects.create(
        code="330523199000", name="新村镇", level=Region.Level.TOWNSHIP, parent=county
    )
    form = list_filters.ListFilterForm({})
    assert 'value="330523199000">浙江省湖州市安吉县新村镇</option>' in list_html.filter_block(
        form, form.filters()
    )


def test_a_filter_block_with_errors_is_drawn_for_its_reader_and_not_kept(demo):
    kept = len(list_html._blocks)
    form = list_filters.ListFilterForm({"category": "nope", "filed_from": "x"})
    html = list_html.filter_block(form, form.filters())
    assert 'role="alert" id="filter-errors"' in html
    assert html == get_template("odr/_list_filters.html").render(
        {"form": form, "filters": form.filters()}
    )
    assert len(list_html._blocks) == kept


def test_a_row_link_is_the_reversed_one_for_every_id():
    from django.urls import reverse

    link = list_html.links("odr:dispute_detail")
    for pk in (1, 42, 10**12):
        assert link(pk) == reverse("odr:dispute_detail", args=[pk])


# The intake queue's three lists as the page drew them from the case models until issue 14
# (`waiting`: each row's case, whether the reader may take it in, and its mediators).
INTAKE_MODEL_ROWS = {
    "waiting": (
        "{% for row in waiting %}{% with d=row.dispute %}"
        "{% url 'odr:dispute_detail' d.pk as detail %}\n"
        "  <li>\n"
        '    <a class="title" href="{{ detail }}">{{ d.title }}</a>\n'
        '    <div class="meta">{{ d.case_number }} · {{ d.get_category_display }} · '
        '{{ d.region.name }} · {{ t_agreed }} {{ d.intake_at|date:"Y-m-d" }}</div>\n'
        "    {% if row.can_accept %}\n"
        '    <form class="actions" method="post" '
        "action=\"{% url 'odr:dispute_action' d.pk 'accept' %}\">{% csrf_token %}\n"
        '      <label class="sr" for="m-{{ d.pk }}">{{ t_mediator }}</label>\n'
        '      <select name="mediator" id="m-{{ d.pk }}" required>\n'
        "        {% for pk, label in row.mediators %}"
        '<option value="{{ pk }}">{{ label }}</option>{% endfor %}\n'
        "      </select>\n"
        '      <button class="primary">{{ t_accept }}</button>\n'
        '      <a class="button secondary" href="{{ detail }}#actions">{{ t_refuse }}</a>\n'
        "    </form>\n"
        "    {% else %}\n"
        '    <p class="muted small">{% translate "You are a party to this case: another '
        'coordinator of the organisation decides on it." %}</p>\n'
        "    {% endif %}\n"
        "  </li>\n"
        "{% endwith %}{% endfor %}"
    ),
    "in-mediation": (
        "{% for d in mediation %}\n"
        '  <li><a class="title" href="{% url \'odr:dispute_detail\' d.pk %}">'
        "{{ d.title }}</a>\n"
        '    <div class="meta">{{ d.case_number }} · {{ t_mediator }}: '
        "{{ d.mediator|display_name }}\n"
        "      {% with left=d.mediation_deadline|days_left %}{% if left is not None %} · "
        '<span class="deadline{% if left <= 5 %} soon{% endif %}">'
        "{% blocktranslate count n=left %}{{ n }} day left{% plural %}{{ n }} days left"
        "{% endblocktranslate %}</span>{% endif %}{% endwith %}</div></li>\n"
        "{% endfor %}"
    ),
    "filed": (
        "{% for d in filed %}\n"
        '  <li><a class="title" href="{% url \'odr:dispute_detail\' d.pk %}">'
        "{{ d.title }}</a>\n"
        '    <div class="meta">{{ d.case_number }} · {{ t_filed }} '
        '{{ d.created_at|date:"Y-m-d" }}</div></li>\n'
        "{% endfor %}"
    ),
}
INTAKE_WORDS = {
    "t_agreed": "respondent agreed",
    "t_mediator": "Mediator",
    "t_accept": "Accept",
    "t_refuse": "Refuse or escalate…",
    "t_filed": "filed",
}


def _intake_list(page: str, list_id: str) -> str:
    found = re.search(rf'<ul class="case-list" id="{list_id}">\n(.*?)</ul>', page, re.DOTALL)
    return found.group(1)


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_the_rows_of_the_intake_queue_are_the_rows_the_case_models_draw(demo, language):
    """A case its coordinator is a party to (no button), one its mediator is a party to
    (not offered as its mediator), one in mediation with a mediator who gave no real name,
    and cases waiting for the respondent."""
    from odr import people, selectors
    from odr.models import Membership, Profile
    from odr.transitions import MACHINE

    coordinator = factories.demo_user("coordinator@demo.odr")
    mediator = factories.demo_user("mediator@demo.odr")
    centre = factories.dispute_awaiting_intake().organisation
    Membership.objects.create(user=coordinator, organisation=centre, role="mediator")
    factories.dispute_awaiting_intake(applicant=coordinator, title="协调员的案件")
    factories.dispute_awaiting_intake(applicant=mediator, title="<调解员> & 案件")
    factories.dispute_in_mediation(title="调解中")
    Profile.objects.filter(user=mediator).update(real_name="")
    factories.file_dispute(title="等待答复", category="land")
    page = _client("coordinator@demo.odr", language).get("/intake/")
    html = page.content.decode()
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
    request = page.wsgi_request
    queue = selectors.intake_queue_for(coordinator).select_related("organisation", "filed_by")
    options = {
        org: [(m.pk, lists.mediator_option(people.display_name(m), load)) for m, load in loaded]
        for org, loaded in selectors.mediators_with_load_in([centre.pk]).items()
    }
    waiting = [
        {
            "dispute": d,
            "can_accept": bool(MACHINE.actions(d, coordinator, names=["accept"])),
            "mediators": [
                (pk, label)
                for pk, label in options.get(d.organisation_id, [])
                if pk not in selectors.party_user_ids(d)
            ],
        }
        for d in queue.filter(status=S.AWAITING_INTAKE)
    ]
    with translation.override(language):
        context = {
            "waiting": waiting,
            "mediation": list(queue.filter(status=S.IN_MEDIATION)),
            "filed": list(queue.filter(status=S.FILED)),
            **{name: translation.gettext(words) for name, words in INTAKE_WORDS.items()},
        }
        for list_id, rows in INTAKE_MODEL_ROWS.items():
            expected = engines["django"].from_string("{% load i18n odr_tags %}" + rows)
            drawn = expected.render(context, request)
            drawn = re.sub(r'(name="csrfmiddlewaretoken" value=")[^"]+', rf"\g<1>{csrf}", drawn)
            assert _intake_list(html, list_id) == drawn + "\n", list_id
    assert html.count('<button class="primary">') == 2
    assert "&lt;调解员&gt; &amp; 案件" in html


def test_the_intake_queue_names_its_mediators_as_every_page_does(demo):
    """Each mediator's name (the real name, else the login), load and order as
    `mediators_with_load_in` reads them with their user and profile."""
    from odr import people, selectors
    from odr.models import Membership, Profile

    centre = factories.dispute_in_mediation().organisation
    unnamed = factories.make_user("unnamed@example.com", name="", org=centre, role="mediator")
    without_profile = factories.make_user("bare@example.com", org=centre, role="mediator")
    Profile.objects.filter(user=without_profile).delete()
    Membership.objects.create(user=unnamed, organisation=centre, role="coordinator")
    expected = {
        org: [(m.pk, people.display_name(m), load) for m, load in loaded]
        for org, loaded in selectors.mediators_with_load_in([centre.pk]).items()
    }
    assert len(expected[centre.pk]) >= 3
    assert {
        org: [tuple(m) for m in loaded]
        for org, loaded in selectors.mediator_names_with_load_in([centre.pk]).items()
    } == expected
