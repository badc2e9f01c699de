"""Issue 12: the performance marks on the case page and the court's acts answer a bad
submission, or a refusal by the service after the form validated, in place: the page
again with 400, the field marked, what was typed kept, nothing written, no audit event."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from agreements.court import services
from agreements.models import Performance
from odr.models import AuditEvent
from tests import factories
from tests.odr.test_case_forms_in_place import _page, assert_form_refused, assert_in_place

pytestmark = pytest.mark.django_db

START = datetime(2026, 6, 1, 9, 0, tzinfo=timezone.get_fixed_timezone(8 * 60))


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def obligation(demo) -> Performance:
    with time_machine.travel(START, tick=False):
        agreement = factories.agreement_in_force()
        services.performance_schedule(agreement=agreement)
    return Performance.objects.get(agreement=agreement, instalment_index=1)


def _events() -> int:
    return AuditEvent.objects.count()


# --- the performance marks (the case page) -------------------------------------------------


def test_marking_performed_with_neither_proof_nor_note_answers_in_place(obligation, client):
    client.force_login(factories.demo_user("citizen1@demo.odr"))  # the party owed
    events = _events()
    response = client.post(reverse("court:obligation_done", args=[obligation.pk]), {"note": " "})
    assert_in_place(response, f"proof-{obligation.pk}-file", "请上传凭证")
    obligation.refresh_from_db()
    assert obligation.status == "open" and _events() == events


def test_disputing_a_report_without_a_reason_answers_in_place(obligation, client):
    client.force_login(factories.demo_user("citizen2@demo.odr"))  # the party owing
    services.performance_mark_done(
        obligation=obligation, actor=factories.demo_user("citizen2@demo.odr"), note="已转账"
    )
    obligation.refresh_from_db()
    assert obligation.is_reported
    client.force_login(factories.demo_user("citizen1@demo.odr"))
    events = _events()
    response = client.post(
        reverse("court:obligation_dispute", args=[obligation.pk]), {"reason": ""}
    )
    page = assert_in_place(
        response, f"report-{obligation.pk}-reason", "请填写履行报告不属实的理由。"
    )
    assert page.by_id[f"obligation-{obligation.pk}"]
    obligation.refresh_from_db()
    assert obligation.is_reported and _events() == events


def test_confirming_a_report_that_was_never_made_is_refused_in_the_form(obligation, client):
    client.force_login(factories.demo_user("citizen1@demo.odr"))
    events = _events()
    url = reverse("court:obligation_confirm", args=[obligation.pk])
    response = client.post(url)
    assert response.status_code == 400
    assert response.templates[0].name == "odr/dispute_detail.html"
    assert_form_refused(response, url, "")
    assert response.context["case_sent"][f"obligation-confirm:{obligation.pk}"].errors
    obligation.refresh_from_db()
    assert obligation.status == "open" and _events() == events


# --- the court's acts: refused by the service after the form validated -------------------------


def _request_page_form(response, field_id: str, message: str) -> None:
    assert response.status_code == 400
    page = _page(response)
    field = page.by_id[field_id]
    assert field.get("aria-invalid") == "true", field
    assert f"{field_id}_error" in field.get("aria-describedby", "").split()
    assert message in page.text[f"{field_id}_error"]
    assert 'class="msg error"' not in response.content.decode()


def test_a_supplement_due_in_the_past_is_refused_at_its_date_with_the_text_kept(demo, client):
    request = factories.confirmation_accepted()
    client.force_login(factories.demo_user("judge@demo.odr"))
    events = _events()
    yesterday = (timezone.localdate() - timedelta(days=1)).isoformat()
    response = client.post(
        reverse("court:supplement_ask", args=[request.pk]),
        {"what": "请补充借条原件的照片", "deadline": yesterday},
    )
    _request_page_form(response, "supplement-deadline", "")
    assert "请补充借条原件的照片</textarea>" in response.content.decode()
    assert not request.supplements.exists() and _events() == events


def test_signing_the_record_with_a_wrong_password_is_said_at_the_password(demo, client):
    request = factories.confirmation_accepted()
    judge = factories.demo_user("judge@demo.odr")
    when = timezone.now() + timedelta(days=1)
    inquiry = services.confirmation_inquiry_schedule(
        request=request, actor=judge, scheduled_at=when, place="本院第三调解室"
    )
    parties = list(request.agreement.dispute.parties.all())
    with time_machine.travel(when + timedelta(minutes=30), tick=False):
        services.confirmation_inquiry_record(
            request=request,
            actor=judge,
            inquiry=inquiry.pk,
            record="问：是否自愿？\n答：自愿。",
            present=[p.pk for p in parties],
        )
        client.force_login(factories.demo_user("citizen1@demo.odr"))
        events = _events()
        response = client.post(
            reverse("court:inquiry_sign", args=[request.pk, inquiry.pk]),
            {"password": "not-the-password"},
        )
    _request_page_form(response, f"sign-{inquiry.pk}-password", "密码错误")
    assert response.templates[0].name == "agreements/court/acts.html"
    inquiry.refresh_from_db()
    assert not inquiry.signed and _events() == events


def test_an_act_no_longer_offered_says_its_refusal_at_the_top_of_the_page(demo, client):
    request = factories.confirmation_accepted()
    client.force_login(factories.demo_user("judge@demo.odr"))
    events = _events()
    # Accepting again what is already docketed: no accept form to show the refusal in.
    response = client.post(
        reverse("court:accept", args=[request.pk]), {"court_case_number": "（2026）浙0523民特9号"}
    )
    assert response.status_code == 400
    page = _page(response)
    assert "autofocus" in page.by_id["acts-refused"]
    assert response.context["acts_refused"]
    assert _events() == events
