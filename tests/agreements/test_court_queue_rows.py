"""The court's queue (`/court/`) draws its rows from plain values, its words and dates
worked out once a page (issue 14): every row is the row the request models drew, in each
state a court sees (pending, docketed, ruled, refused) and overdue or not; the page asks
the reader's memberships once."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from django.db import connection
from django.template import engines
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from agreements.court import selectors as court_selectors
from tests import factories

pytestmark = pytest.mark.django_db

# A row of the queue as the page drew it from the request models until issue 14.
MODEL_ROWS = engines["django"].from_string(
    "{% load i18n %}{% for item in items %}{% with r=item.request %}\n"
    '  <li class="{% if item.overdue %}overdue{% endif %}" data-request="{{ r.pk }}">\n'
    '    <a class="title" href="{% url \'court:request\' r.pk %}"><strong>'
    "{{ r.agreement.dispute.case_number }}</strong> · {{ r.agreement.dispute.title }}</a>\n"
    "    <div>\n"
    '      <span class="badge {{ r.status }}">{{ r.get_status_display }}</span>\n'
    '      {% if r.case_number %}<span class="meta">{{ r.case_number }}</span>{% endif %}\n'
    '      {% if item.overdue == "accept" %}<span class="badge overdue">'
    '{% translate "acceptance overdue" %}</span>\n'
    '      {% elif item.overdue == "rule" %}<span class="badge overdue">'
    '{% translate "ruling overdue" %}</span>{% endif %}\n'
    "    </div>\n"
    '    <div class="meta">\n'
    '      {% translate "Submitted" %} {{ r.submitted_at|date:"Y-m-d H:i" }}\n'
    '      {% if item.deadline %} · {% if r.accepted_at %}{% translate "rule by" %}{% else %}'
    '{% translate "accept by" %}{% endif %} <span class="deadline">'
    '{{ item.deadline|date:"Y-m-d" }}</span>{% endif %}\n'
    '      {% if r.decided_at %} · {% translate "decided" %} '
    '{{ r.decided_at|date:"Y-m-d" }}{% endif %}\n'
    "    </div>\n"
    "  </li>\n"
    "  {% endwith %}{% endfor %}"
)
QUEUE = re.compile(r'<ul class="court-queue" id="court-queue">\n(.*?)</ul>', re.DOTALL)
START = dt.datetime(2026, 11, 20, 2, 0, tzinfo=dt.UTC)


def _clerk(language: str) -> Client:
    client = Client()
    client.force_login(factories.demo_user(factories.CLERK))
    client.cookies["django_language"] = language
    return client


@pytest.fixture
def requests_in_every_state(demo):
    with time_machine.travel(START, tick=False):
        factories.confirmation_pending()
        factories.confirmation_accepted(number="（2026）浙0523民特9号")
        factories.confirmation_decided()
        factories.confirmation_decided(decision="not_accepted")


@pytest.mark.parametrize("language", ["zh-hans", "en"])
@pytest.mark.parametrize("days_later", [1, 10, 30])
def test_every_row_of_the_court_queue_is_the_row_the_request_models_draw(
    requests_in_every_state, language, days_later
):
    """On the next day nothing is overdue; ten days on, the pending request's acceptance
    is; a month on, the docketed one's ruling too."""
    with time_machine.travel(START + dt.timedelta(days=days_later), tick=False):
        page = _clerk(language).get("/court/").content.decode()
        clerk = factories.demo_user(factories.CLERK)
        # In the page's order (its keys put the requests without a deadline last; that
        # order is tested with the queue's pages).
        order = [int(pk) for pk in re.findall(r'data-request="(\d+)"', page)]
        found = court_selectors.court_requests_for(clerk).select_related("agreement__dispute")
        shown = sorted(found, key=lambda r: order.index(r.pk))
        items = [
            {
                "request": r,
                "deadline": court_selectors.current_deadline(r),
                "overdue": court_selectors.overdue_kind(r),
            }
            for r in shown
        ]
        with translation.override(language):
            expected = MODEL_ROWS.render({"items": items})
    assert len(items) == 4
    assert QUEUE.search(page).group(1) == "  " + expected + "\n"
    overdue = {item["overdue"] for item in items} - {""}
    assert overdue == {1: set(), 10: {"accept"}, 30: {"accept", "rule"}}[days_later]
    assert page.count('class="badge overdue"') == len(overdue)


def test_the_court_queue_asks_the_readers_memberships_once(requests_in_every_state):
    with CaptureQueriesContext(connection) as captured:
        response = _clerk("zh-hans").get("/court/")
    assert response.status_code == 200
    memberships = [q for q in captured.captured_queries if '"odr_membership"' in q["sql"]]
    assert len(memberships) == 1, [q["sql"] for q in memberships]
    # The menu still offers the court portal, from that one read.
    assert 'href="/court/"' in response.content.decode()
