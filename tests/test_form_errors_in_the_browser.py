"""Forms sent back with errors, in headless Chromium at 320×640 (issue 12 follow-up): every
form renders its errors through the shared field template (odr/_field.html,
odr/_form_fields.html), so frontend/form-errors.js puts the summary at the top of the
form, moves focus to it, marks the fields (aria-invalid, aria-describedby) and what was
typed is still there. A representative set: the reception's walk-in filing, the grid
worker's report, the 12345 survey, the court's acts, the profile."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from tests import factories

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SMALL = {"width": 320, "height": 640}


def _page(chromium, base: str, email: str | None = None):
    context = chromium.new_context(viewport=SMALL, is_mobile=True, locale="zh-CN")
    if email:
        client = Client()
        client.force_login(factories.demo_user(email))
        cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
        context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": base}])
    return context, context.new_page()


def _send_unchecked(page, form: str) -> None:
    """Send the form as a browser without constraint checks would (the server's errors
    are what is tested, not the browser's `required`)."""
    with page.expect_navigation():
        page.evaluate(
            "(sel) => { const f = document.querySelector(sel); f.noValidate = true;"
            " f.requestSubmit(); }",
            form,
        )
    page.wait_for_selector(f"{form} > .error-summary")


def _summary(page, form: str) -> dict:
    return page.evaluate(
        """(sel) => {
            const form = document.querySelector(sel);
            const box = form.querySelector(':scope > .error-summary');
            const invalid = [...form.querySelectorAll('[aria-invalid="true"]')];
            return {
                focused: document.activeElement === box,
                links: [...box.querySelectorAll('a')].map((a) => a.textContent.trim()),
                targets: [...box.querySelectorAll('a')].every(
                    (a) => document.getElementById(a.getAttribute('href').slice(1))),
                invalid: invalid.map((i) => i.name),
                described: invalid.every((i) => (i.getAttribute('aria-describedby') || '')
                    .split(/\\s+/).some((id) => {
                        const e = document.getElementById(id);
                        return e && e.classList.contains('error') && e.textContent.trim();
                    })),
            };
        }""",
        form,
    )


def _assert_summarised(page, form: str, fields: set[str]) -> dict:
    found = _summary(page, form)
    assert found["focused"], found
    assert found["links"] and found["targets"], found
    assert fields <= set(found["invalid"]), found
    assert found["described"], found
    return found


def test_the_reception_filing_sent_back_has_the_summary_focus_and_its_values(
    live_server, demo, chromium
):
    from odr.models import Organisation, Visit

    visit = Visit.objects.create(
        organisation=Organisation.objects.get(kind=Organisation.Kind.COUNTY_CENTRE),
        staff=factories.demo_user("reception@demo.odr"),
        name="来访人",
        phone="13800000077",
        purpose="邻居占用通道",
    )
    context, page = _page(chromium, live_server.url, "reception@demo.odr")
    page.goto(f"{live_server.url}/reception/visits/{visit.pk}/file/")
    page.fill('[name="title"]', "通道纠纷")
    page.fill('[name="respondent_email"]', "not-an-address")
    _send_unchecked(page, "#walk-in-form")
    found = _assert_summarised(page, "#walk-in-form", {"respondent_email", "respondent_name"})
    assert any("name@example.com" in link for link in found["links"]), found
    assert page.input_value('[name="title"]') == "通道纠纷"
    assert page.input_value('[name="respondent_email"]') == "not-an-address"
    assert page.input_value('[name="applicant_phone"]') == "13800000077"
    context.close()


def test_the_grid_report_sent_back_without_its_outbox_keeps_the_parties(
    live_server, demo, chromium
):
    context, page = _page(chromium, live_server.url, "gridworker@demo.odr")
    # Without its outbox script (an old phone), the form posts to the page.
    page.route("**/grid-report.js", lambda route: route.abort())
    page.goto(f"{live_server.url}/grid/report/")
    page.fill("#party-name-1", "张三")
    page.fill("#party-phone-1", "13800000001")
    page.fill('[name="place"]', "余村村口")
    _send_unchecked(page, "#grid-report")
    _assert_summarised(page, "#grid-report", {"facts"})
    assert page.input_value("#party-name-1") == "张三"
    assert page.input_value("#party-phone-1") == "13800000001"
    assert page.input_value('[name="place"]') == "余村村口"
    context.close()


def test_the_survey_without_a_score_says_so_at_the_scores_and_keeps_the_comment(
    live_server, demo, chromium
):
    from odr.models import HotlineTicket

    ticket = HotlineTicket.objects.create(
        ticket_id="SURVEY-1",
        dispute=factories.dispute_in_mediation(),
        caller_name="来电人",
        caller_phone="13800000019",
        text="噪音扰民",
        received_at=timezone.now() - timedelta(days=2),
        respond_by=timezone.now() - timedelta(days=1),
        closed_at=timezone.now(),
    )
    context, page = _page(chromium, live_server.url)
    page.goto(f"{live_server.url}/survey/{ticket.survey_token}/")
    page.fill("#survey-comment", "处理得很快")
    _send_unchecked(page, "#survey-form")
    found = _assert_summarised(page, "#survey-form", {"score"})
    # The group is named by its legend, not by the first choice ("1").
    assert all(not link.startswith("1") for link in found["links"]), found
    assert page.input_value("#survey-comment") == "处理得很快"
    context.close()


def test_the_courts_acts_sent_back_have_the_summary_in_their_form(live_server, demo, chromium):
    request = factories.confirmation_pending(title="借款纠纷")
    context, page = _page(chromium, live_server.url, factories.CLERK)
    page.goto(f"{live_server.url}/court/requests/{request.pk}/")
    _send_unchecked(page, "#accept-form")
    _assert_summarised(page, "#accept-form", {"court_case_number"})
    # The 补正 form, in its folded section: it comes back open, with what was written.
    page.goto(f"{live_server.url}/court/requests/{request.pk}/")
    page.click("#supplements details.action > summary")
    page.fill('#supplement-form [name="what"]', "请补充借条原件照片")
    _send_unchecked(page, "#supplement-form")
    _assert_summarised(page, "#supplement-form", {"deadline"})
    assert page.is_visible("#supplement-form")
    assert page.input_value('#supplement-form [name="what"]') == "请补充借条原件照片"
    context.close()


def test_the_profile_sent_back_has_the_summary_and_keeps_the_values(live_server, demo, chromium):
    context, page = _page(chromium, live_server.url, "citizen1@demo.odr")
    page.goto(f"{live_server.url}/profile/")
    page.fill('[name="occupation"]', "果农")
    page.fill('[name="id_number"]', "12345")
    _send_unchecked(page, "main form")
    _assert_summarised(page, "main form", {"id_number"})
    assert page.input_value('[name="occupation"]') == "果农"
    assert page.input_value('[name="id_number"]') == "12345"
    context.close()


def test_a_wrong_list_filter_is_summarised_at_its_field(live_server, demo, chromium):
    context, page = _page(chromium, live_server.url, "citizen1@demo.odr")
    page.goto(f"{live_server.url}/disputes/?region=999999999999&filed_from=2026-13-40")
    page.wait_for_selector(".filter-form > .error-summary")
    found = _assert_summarised(page, ".filter-form", {"filed_from"})
    assert len(found["links"]) >= 2, found
    # A date input cannot hold an impossible date; the page still sends back what was typed.
    assert page.get_attribute('.filter-form [name="filed_from"]', "value") == "2026-13-40"
    context.close()
