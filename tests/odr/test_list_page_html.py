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
from odr.views import list_html
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
