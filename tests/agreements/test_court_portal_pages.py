"""The court portal's pages and the case page's confirmation panel: the queue and packet,
the clerk docketing under the court's number and the judge ruling through forms; the
parties' countdown, joint application and the ruling served on their case page; reminders
before the window closes."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

from agreements.court import services
from agreements.models import ConfirmationRequest
from agreements.reminders import send_due
from tests import factories
from tests.signing import sign_application

pytestmark = pytest.mark.django_db
CR = ConfirmationRequest.Status
EFFECTIVE = datetime(2026, 8, 3, 10, 0, tzinfo=timezone.get_fixed_timezone(8 * 60))


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def _page(client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return response.content.decode()


def test_the_portal_is_for_court_staff_and_asks_strangers_to_log_in(demo, client):
    response = client.get("/court/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    client.force_login(factories.demo_user("clerk@demo.odr"))
    page = _page(client, "/court/")
    assert 'id="court-queue-empty"' in page


def _rule_through_the_preview(client, request, decision: str, reason: str) -> None:
    """The judge's way to a ruling: the decision form leads to the preview page (the PDF
    one click away), whose issue form carries the preview's token."""
    body = {"decision": decision, "reason": reason}
    response = client.post(f"/court/requests/{request.pk}/ruling-preview/", body)
    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="issue-form"' in page and 'id="preview-pdf-form"' in page
    pdf = client.post(f"/court/requests/{request.pk}/ruling-preview.pdf", body)
    assert pdf["Content-Type"] == "application/pdf"
    token = re.search(r'name="preview" value="([^"]+)"', page).group(1)
    client.post(f"/court/requests/{request.pk}/decide/", {**body, "preview": token})


def test_the_clerk_dockets_and_the_judge_rules_through_the_portal(demo, client):
    request = factories.confirmation_pending()
    case = request.agreement.dispute.case_number
    client.force_login(factories.demo_user(factories.CLERK))
    queue = _page(client, "/court/")
    assert case in queue and f"/court/requests/{request.pk}/" in queue
    detail = _page(client, f"/court/requests/{request.pk}/")
    for link in ("application.pdf", "agreement.pdf", "evidence-package.zip"):
        assert link in detail
    assert "330523**********" in detail and "19800101" not in detail
    assert 'id="accept-button"' in detail and 'name="court_case_number"' in detail
    # The clerk does not rule: no ruling form, nor one not to accept.
    assert 'id="decision-form"' not in detail and 'id="not-accept-form"' not in detail

    padded = client.post(
        f"/court/requests/{request.pk}/accept/",
        {"court_case_number": "（2026）浙0523民特0001号"},
    )
    # Said in place, at the number, with the number as typed (issue 12).
    assert padded.status_code == 400
    assert padded.context["accept_form"].errors["court_case_number"]
    assert 'value="（2026）浙0523民特0001号"' in padded.content.decode()
    request.refresh_from_db()
    assert request.status == CR.PENDING and request.case_number == ""
    accepted = client.post(
        f"/court/requests/{request.pk}/accept/",
        {"court_case_number": "(2026)浙0523民特1号"},
        follow=True,
    )
    assert "（2026）浙0523民特1号" in accepted.content.decode()
    detail = _page(client, f"/court/requests/{request.pk}/")
    assert 'id="decision-form"' not in detail and 'id="court-waiting"' in detail
    # Ruling as the clerk is refused and writes nothing.
    refused = client.post(
        f"/court/requests/{request.pk}/decide/",
        {"decision": "confirmed", "reason": ""},
    )
    # The clerk has no ruling form to show the refusal at: the page says it at its top.
    assert refused.status_code == 400
    assert 'id="acts-refused"' in refused.content.decode()
    request.refresh_from_db()
    assert request.status == CR.ACCEPTED and not request.ruling_pdf

    client.force_login(factories.demo_user(factories.JUDGE))
    assert case in _page(client, "/court/")
    detail = _page(client, f"/court/requests/{request.pk}/")
    assert 'id="decision-form"' in detail and 'id="accept-button"' not in detail
    assert "赵敏" in detail  # the clerk who docketed it
    no_reason = client.post(
        f"/court/requests/{request.pk}/decide/",
        {"decision": "rejected", "reason": ""},
    )
    request.refresh_from_db()
    assert request.status == CR.ACCEPTED
    assert no_reason.status_code == 400
    assert no_reason.context["decision_form"].errors["reason"]
    # Issuing straight away, without the preview, is refused (issue 8: never one click).
    direct = client.post(
        f"/court/requests/{request.pk}/decide/",
        {"decision": "confirmed", "reason": ""},
    )
    assert direct.status_code == 400
    assert direct.context["decision_form"].errors
    request.refresh_from_db()
    assert request.status == CR.ACCEPTED
    _rule_through_the_preview(client, request, "confirmed", "")
    request.refresh_from_db()
    assert request.status == CR.CONFIRMED and request.ruling_sha256
    assert request.decided_by.email == factories.JUDGE
    detail = _page(client, f"/court/requests/{request.pk}/")
    assert request.ruling_sha256 in detail and 'id="decision-form"' not in detail
    assert "周明" in detail


def test_the_judge_does_not_accept_a_pending_application_through_the_portal(demo, client):
    request = factories.confirmation_pending()
    client.force_login(factories.demo_user(factories.JUDGE))
    detail = _page(client, f"/court/requests/{request.pk}/")
    assert 'id="not-accept-form"' in detail and 'id="accept-button"' not in detail
    _rule_through_the_preview(
        client, request, "not_accepted", "本案涉及确认房屋所有权，不属于司法确认的范围。"
    )
    request.refresh_from_db()
    assert request.status == CR.NOT_ACCEPTED and request.ruling_sha256
    assert request.case_number == "" and request.accepted_at is None
    client.force_login(factories.demo_user("citizen1@demo.odr"))
    page = _page(client, f"/disputes/{request.agreement.dispute_id}/")
    assert "法院已裁定不予受理。" in page
    assert f"/api/v1/court/requests/{request.pk}/ruling.pdf" in page


def test_the_judge_gives_the_refusal_the_courts_number_on_the_portal(demo, client):
    request = factories.confirmation_pending()
    client.force_login(factories.demo_user(factories.JUDGE))
    detail = _page(client, f"/court/requests/{request.pk}/")
    assert 'id="not-accept-form"' in detail and 'name="court_case_number"' in detail
    assert "法院案号（选填）" in detail and "不填则裁定书不印案号" in detail
    body = {
        "decision": "not_accepted",
        "reason": "本案涉及确认房屋所有权，不属于司法确认的范围。",
        "court_case_number": "(2026)浙0523民特12号",
    }
    # A number not in the court's form goes back to the page with what is wrong.
    bad = client.post(
        f"/court/requests/{request.pk}/ruling-preview/",
        {**body, "court_case_number": "（2026）浙0523民特012号"},
        follow=True,
    )
    assert "案件序号前不加“0”。" in bad.content.decode()
    request.refresh_from_db()
    assert request.status == CR.PENDING and request.case_number == ""
    response = client.post(f"/court/requests/{request.pk}/ruling-preview/", body)
    page = response.content.decode()
    assert 'id="preview-court-case-number">（2026）浙0523民特12号<' in page
    assert page.count('name="court_case_number" value="（2026）浙0523民特12号"') == 2
    token = re.search(r'name="preview" value="([^"]+)"', page).group(1)
    pdf = client.post(f"/court/requests/{request.pk}/ruling-preview.pdf", body)
    assert pdf["Content-Type"] == "application/pdf"
    client.post(
        f"/court/requests/{request.pk}/decide/",
        {**body, "court_case_number": "（2026）浙0523民特12号", "preview": token},
    )
    request.refresh_from_db()
    assert request.status == CR.NOT_ACCEPTED and request.case_number == "（2026）浙0523民特12号"
    assert request.accepted_at is None and request.ruling_sha256


def test_the_case_page_counts_down_the_window_and_takes_the_joint_application(demo, client):
    with time_machine.travel(EFFECTIVE, tick=False):
        agreement = factories.agreement_in_force()
    case_url = f"/disputes/{agreement.dispute_id}/"
    client.force_login(factories.demo_user("citizen1@demo.odr"))
    with time_machine.travel(EFFECTIVE + timedelta(days=10), tick=False):
        page = _page(client, case_url)
        assert 'id="confirmation-window"' in page
        assert "2026-09-02" in page  # the last day: 30 days after the day it took effect
        assert "20" in page.split('id="confirmation-window"')[1].split("</p>")[0]
        assert 'id="confirmation-apply"' in page
        # Applying starts the joint application and takes the party to sign it; the
        # signature is the application (issue 9, point 5).
        started = client.post(f"/agreements/{agreement.pk}/confirmation/")
        assert started.status_code == 302
        assert started["Location"] == f"/agreements/{agreement.pk}/confirmation/sign/"
        assert 'id="confirmation-apply"' in _page(client, case_url)
        sign_application(agreement=agreement, actor=factories.demo_user("citizen1@demo.odr"))
        page = _page(client, case_url)
        assert 'id="confirmation-apply"' not in page
        client.force_login(factories.demo_user("citizen2@demo.odr"))
        assert 'id="confirmation-apply"' in _page(client, case_url)
        sign_application(agreement=agreement, actor=factories.demo_user("citizen2@demo.odr"))
        page = _page(client, case_url)
    request = ConfirmationRequest.objects.get()
    assert request.status == CR.PENDING
    assert "安吉县人民法院" in page and request.accept_deadline.strftime("%Y") in page
    # The ruling is served on the case page too.
    factories.confirmation_decided(request)
    request.refresh_from_db()
    client.force_login(factories.demo_user("citizen2@demo.odr"))
    page = _page(client, case_url)
    assert f"/api/v1/court/requests/{request.pk}/ruling.pdf" in page
    assert request.ruling_sha256 in page


def test_after_the_window_the_case_page_offers_no_application(demo, client):
    with time_machine.travel(EFFECTIVE, tick=False):
        agreement = factories.agreement_in_force()
    client.force_login(factories.demo_user("citizen1@demo.odr"))
    with time_machine.travel(EFFECTIVE + timedelta(days=31), tick=False):
        page = _page(client, f"/disputes/{agreement.dispute_id}/")
        response = client.post(f"/agreements/{agreement.pk}/confirmation/", follow=True)
    assert 'id="confirmation-apply"' not in page
    assert "2026-09-02" in page
    assert not ConfirmationRequest.objects.exists()
    assert 'class="msg error"' in response.content.decode()


def test_parties_are_reminded_seven_days_and_one_day_before_the_window_closes(
    demo, mailoutbox, django_capture_on_commit_callbacks
):
    with time_machine.travel(EFFECTIVE, tick=False):
        agreement = factories.agreement_in_force()
        # Obligations done, so that only the window's reminders are counted here.
        for obligation in services.performance_schedule(agreement=agreement):
            services.performance_mark_done(
                obligation=obligation,
                actor=factories.demo_user("citizen2@demo.odr"),
                note="已履行",
            )

    def run(days: int) -> list[str]:
        mailoutbox.clear()
        when = EFFECTIVE + timedelta(days=days)
        with (
            time_machine.travel(when, tick=False),
            django_capture_on_commit_callbacks(execute=True),
        ):
            send_due(now=when)
            send_due(now=when)
        return sorted(m.to[0] for m in mailoutbox)

    assert run(20) == []
    assert run(23) == ["citizen1@demo.odr", "citizen2@demo.odr"]
    assert run(24) == []
    with time_machine.travel(EFFECTIVE + timedelta(days=25), tick=False):
        sign_application(agreement=agreement, actor=factories.demo_user("citizen1@demo.odr"))
    # One day left: only the party who has not applied yet is reminded.
    assert run(29) == ["citizen2@demo.odr"]
    assert "1" in mailoutbox[0].subject
    assert run(31) == []
