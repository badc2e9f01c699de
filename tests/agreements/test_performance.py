"""Performance of an agreement in force: one obligation per term or instalment with its
due date, marked done with proof, reminders before and on the due date, and on default
the way to enforcement (confirmed agreement) or to a lawsuit (otherwise)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from agreements.court import services
from agreements.models import Performance
from agreements.reminders import send_due
from odr.models import AuditEvent
from tests import factories

pytestmark = pytest.mark.django_db
START = datetime(2026, 6, 1, 9, 0, tzinfo=timezone.get_fixed_timezone(8 * 60))
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x35\x81\x84"
    b"\x00\x00\x00\x00IEND\xaeB`\x82"
)


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def agreement(demo):
    """An agreement in force with its obligations laid out, as coming into force does."""
    with time_machine.travel(START, tick=False):
        agreement = factories.agreement_in_force()
        services.performance_schedule(agreement=agreement)
    return agreement


def test_each_term_and_instalment_becomes_an_obligation_with_its_due_date(demo, client):
    with time_machine.travel(START, tick=False):
        agreement = factories.agreement_in_force()
        services.performance_schedule(agreement=agreement)
    client.force_login(factories.demo_user("citizen1@demo.odr"))
    with time_machine.travel(START + timedelta(days=1), tick=False):
        body = client.get(f"/api/v1/agreements/{agreement.pk}/obligations").json()
    rows = [(i["term"], i["instalment"], i["amount"], i["due_date"]) for i in body["items"]]
    assert rows == [
        (2, None, None, "2026-06-06"),
        (1, 1, "6000.00", "2026-06-11"),
        (1, 2, "4000.00", "2026-07-11"),
    ]
    assert {i["obligor"] for i in body["items"][:3]} == {"respondent"}
    assert body["default"] is None
    # Laid out once: laying them out again makes no second set.
    assert Performance.objects.filter(agreement=agreement).count() == 3
    assert AuditEvent.objects.filter(action="performance.schedule").count() == 1


def test_a_party_marks_an_obligation_done_with_proof_and_the_others_are_told(
    agreement, client, mailoutbox, django_capture_on_commit_callbacks
):
    first = Performance.objects.get(agreement=agreement, instalment_index=1)
    client.force_login(factories.demo_user("citizen2@demo.odr"))
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/api/v1/obligations/{first.pk}/done",
            {"note": "已通过银行转账支付", "file": SimpleUploadedFile("../../回单.png", PNG)},
        )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["done_at"] and body["note"] == "已通过银行转账支付"
    assert body["proof"]["name"] == "回单.png"
    first.refresh_from_db()
    assert first.done_by.email == "citizen2@demo.odr"
    assert "/" not in first.proof_filename
    assert sorted(m.to[0] for m in mailoutbox) == ["citizen1@demo.odr", "mediator@demo.odr"]
    event = AuditEvent.objects.filter(action="performance.done").get()
    assert event.after["proof_sha256"] == first.proof_sha256
    # The other party can fetch the proof; a stranger cannot.
    client.force_login(factories.demo_user("citizen1@demo.odr"))
    proof = client.get(body["proof"]["url"])
    assert proof.status_code == 200 and b"".join(proof.streaming_content) == PNG
    client.force_login(factories.make_user())
    assert client.get(body["proof"]["url"]).status_code == 404
    # Marking it twice is a conflict.
    client.force_login(factories.demo_user("citizen1@demo.odr"))
    again = client.post(f"/api/v1/obligations/{first.pk}/done", {"note": "再次"})
    assert again.status_code == 409


def test_proof_that_is_not_an_accepted_file_is_refused_and_nothing_is_stored(agreement, client):
    first = Performance.objects.get(agreement=agreement, instalment_index=1)
    client.force_login(factories.demo_user("citizen2@demo.odr"))
    response = client.post(
        f"/api/v1/obligations/{first.pk}/done",
        {"note": "见附件", "file": SimpleUploadedFile("receipt.png", b"#!/bin/sh\nrm -rf /\n")},
    )
    assert response.status_code == 400
    assert response.json()["code"] == "file_type_not_allowed"
    empty = client.post(f"/api/v1/obligations/{first.pk}/done", {"note": "  "})
    assert empty.status_code == 400 and empty.json()["code"] == "proof_required"
    first.refresh_from_db()
    assert first.done_at is None and not first.proof


def test_only_the_parties_mark_obligations_and_strangers_do_not_see_them(agreement, client):
    first = Performance.objects.get(agreement=agreement, instalment_index=1)
    client.force_login(factories.demo_user("mediator@demo.odr"))
    assert client.get(f"/api/v1/agreements/{agreement.pk}/obligations").status_code == 200
    refused = client.post(f"/api/v1/obligations/{first.pk}/done", {"note": "x"})
    assert refused.status_code == 403
    client.force_login(factories.make_user())
    assert client.post(f"/api/v1/obligations/{first.pk}/done", {"note": "x"}).status_code == 404
    assert client.get(f"/api/v1/agreements/{agreement.pk}/obligations").status_code == 404


def test_reminders_come_before_the_due_date_on_it_and_on_default_once_each(
    agreement, mailoutbox, django_capture_on_commit_callbacks
):

    def run(when: datetime) -> list[str]:
        mailoutbox.clear()
        with (
            time_machine.travel(when, tick=False),
            django_capture_on_commit_callbacks(execute=True),
        ):
            send_due(now=when)
            send_due(now=when)  # a second run sends nothing more
        return [m.subject for m in mailoutbox if m.to == ["citizen2@demo.odr"]]

    # The apology is due on 6 June: reminded on 3 June, on 6 June, and after it.
    assert run(START + timedelta(days=1)) == []
    before = run(START + timedelta(days=2))
    assert len(before) == 1 and "2026-06-06" in before[0]
    assert len(run(START + timedelta(days=5))) == 1
    late = run(START + timedelta(days=6))
    assert len(late) == 1
    apology = Performance.objects.get(agreement=agreement, term_index=2)
    assert apology.reminded_at and apology.due_reminded_at and apology.default_notified_at
    lawsuit = [m for m in mailoutbox if "citizen1" in m.to[0] and m.subject == late[0]]
    assert lawsuit and ("sue" in lawsuit[0].body or "起诉" in lawsuit[0].body)


def test_a_done_obligation_is_not_reminded(agreement, mailoutbox):
    apology = Performance.objects.get(agreement=agreement, term_index=2)
    services.performance_mark_done(
        obligation=apology, actor=factories.demo_user("citizen2@demo.odr"), note="已道歉"
    )
    when = START + timedelta(days=5)
    with time_machine.travel(when, tick=False):
        send_due(now=when)
    apology.refresh_from_db()
    assert apology.due_reminded_at is None


def test_default_on_an_unconfirmed_agreement_points_to_a_lawsuit(agreement, client):
    client.force_login(factories.demo_user("citizen1@demo.odr"))
    with time_machine.travel(START + timedelta(days=7), tick=False):
        body = client.get(f"/api/v1/agreements/{agreement.pk}/obligations").json()
        page = client.get(f"/disputes/{agreement.dispute_id}/").content.decode()
    assert body["default"]["route"] == "lawsuit"
    assert body["default"]["court"]["name"] == "安吉县人民法院"
    overdue = [i["id"] for i in body["items"] if i["overdue"]]
    assert body["default"]["overdue"] == overdue and len(overdue) == 1
    assert 'id="default-guidance" data-route="lawsuit"' in page
    section = page.split('id="default-guidance"')[1].split("</div>")[0]
    assert ("提起诉讼" in section or "sue" in section) and "安吉县人民法院" in section


def test_default_on_a_confirmed_agreement_points_to_enforcement_by_that_court(demo, client):
    with time_machine.travel(START, tick=False):
        request = factories.confirmation_pending()
        services.performance_schedule(agreement=request.agreement)
        factories.confirmation_decided(request)
    request.refresh_from_db()
    client.force_login(factories.demo_user("citizen1@demo.odr"))
    with time_machine.travel(START + timedelta(days=12), tick=False):
        body = client.get(f"/api/v1/agreements/{request.agreement_id}/obligations").json()
        page = client.get(f"/disputes/{request.agreement.dispute_id}/").content.decode()
    guidance = body["default"]
    assert guidance["route"] == "enforcement"
    assert guidance["court_case_number"] == request.case_number
    # Two years from the last day for performance of what is overdue (11 June 2026).
    assert guidance["enforcement_deadline"] == "2028-06-11"
    assert 'data-route="enforcement"' in page
    section = page.split('id="default-guidance"')[1].split("</div>")[0]
    assert request.case_number in section and "2028-06-11" in section
    assert Decimal(body["items"][1]["amount"]) == Decimal("6000.00")


def test_an_agreement_with_no_obligation_writes_nothing_each_time_it_is_looked_at(demo, client):
    agreement = factories.agreement_in_force()
    agreement.terms = [{"text": "双方就本纠纷再无其他争议。", "kind": "other"}]
    agreement.save()
    events = AuditEvent.objects.count()
    client.force_login(factories.demo_user("citizen1@demo.odr"))
    for _ in range(2):
        body = client.get(f"/api/v1/agreements/{agreement.pk}/obligations").json()
        assert body == {"count": 0, "items": [], "default": None}
        send_due(now=timezone.now())
    assert AuditEvent.objects.count() == events
