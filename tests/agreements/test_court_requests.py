"""The court's side of judicial confirmation: its queue, its deadlines, acceptance, the
decision and the sealed ruling served on the parties; a court other than the competent
one sees nothing."""

from __future__ import annotations

import hashlib
import io
import re
import subprocess
from datetime import datetime, timedelta
from io import BytesIO

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone
from pyhanko.pdf_utils.reader import PdfFileReader

from agreements.court import services
from agreements.models import ConfirmationRequest
from odr.errors import DomainError
from odr.models import AuditEvent, Organisation, Region
from tests import factories

pytestmark = pytest.mark.django_db
CR = ConfirmationRequest.Status
SUBMITTED = datetime(2026, 5, 4, 9, 0, tzinfo=timezone.get_fixed_timezone(8 * 60))


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def other_clerk(demo):
    """A clerk of another basic court (a neighbouring county's), not competent here."""
    city = Region.objects.get(code="330500000000")
    county = Region.objects.create(code="330522000000", name="长兴县", level="county", parent=city)
    court = Organisation.objects.create(
        name="长兴县人民法院", kind=Organisation.Kind.COURT, region=county, case_code="浙0522民特"
    )
    return factories.make_user("clerk.changxing@example.com", org=court, role="clerk")


def _clerk():
    return factories.demo_user("clerk@demo.odr")


def _decide(client, request, decision, reason=""):
    return client.post(
        f"/api/v1/court/requests/{request.pk}/decision",
        {"decision": decision, "reason": reason},
        content_type="application/json",
    )


def test_a_court_other_than_the_competent_one_sees_nothing(demo, client, other_clerk):
    request = factories.confirmation_pending()
    client.force_login(other_clerk)
    assert client.get("/api/v1/court/requests").json() == {"count": 0, "items": []}
    base = f"/api/v1/court/requests/{request.pk}"
    for method, path in [
        ("get", base),
        ("post", f"{base}/accept"),
        ("post", f"{base}/decision"),
        ("post", f"{base}/extension"),
        ("get", f"{base}/ruling.pdf"),
        ("get", f"{base}/application.pdf"),
        ("get", f"{base}/agreement.pdf"),
        ("get", f"/api/v1/agreements/{request.agreement_id}/confirmation"),
        ("get", f"/api/v1/agreements/{request.agreement_id}/evidence-package.zip"),
        ("get", f"/api/v1/disputes/{request.agreement.dispute_id}"),
    ]:
        body = {"decision": "confirmed", "reason": "x"} if method == "post" else None
        response = getattr(client, method)(path, body, content_type="application/json")
        assert response.status_code == 404, (path, response.status_code)
    assert client.get("/court/").status_code == 200
    assert request.agreement.dispute.case_number not in client.get("/court/").content.decode()
    assert client.get(f"/court/requests/{request.pk}/").status_code == 404
    request.refresh_from_db()
    assert request.status == CR.PENDING and request.accepted_at is None


def test_citizens_and_mediators_have_no_court_queue(demo, client):
    factories.confirmation_pending()
    for email in ("citizen1@demo.odr", "mediator@demo.odr", "coordinator@demo.odr"):
        client.force_login(factories.demo_user(email))
        assert client.get("/api/v1/court/requests").json()["count"] == 0
        assert client.get("/court/").status_code == 404


def test_the_court_accepts_within_three_days_and_an_overdue_request_is_flagged(demo, client):
    with time_machine.travel(SUBMITTED, tick=False):
        request = factories.confirmation_pending()
    client.force_login(_clerk())
    with time_machine.travel(SUBMITTED + timedelta(days=3, hours=14), tick=False):
        item = client.get("/api/v1/court/requests").json()["items"][0]
        assert item["overdue"] == ""
        assert item["actions"] == ["accept", "decide"]
    with time_machine.travel(SUBMITTED + timedelta(days=4), tick=False):
        item = client.get("/api/v1/court/requests?status=pending").json()["items"][0]
        assert item["overdue"] == "accept"
        page = client.get("/court/").content.decode()
        assert 'class="overdue"' in page
        accepted = client.post(f"/api/v1/court/requests/{request.pk}/accept").json()
    assert accepted["case_number"] == "(2026)浙0523民特0001号"
    assert accepted["overdue"] == ""
    rule_deadline = datetime.fromisoformat(accepted["rule_deadline"])
    assert timezone.localdate(rule_deadline) == SUBMITTED.date() + timedelta(days=4 + 15)
    assert accepted["actions"] == ["extend", "decide"]
    with time_machine.travel(SUBMITTED + timedelta(days=4 + 16), tick=False):
        assert client.get("/api/v1/court/requests").json()["items"][0]["overdue"] == "rule"
    # Accepting twice is a conflict, not a second case number.
    again = client.post(f"/api/v1/court/requests/{request.pk}/accept")
    assert again.status_code == 409 and again.json()["code"] == "already_accepted"


def test_the_ruling_period_extends_once_by_ten_days_with_a_reason(demo, client):
    request = factories.confirmation_pending()
    client.force_login(_clerk())
    accepted = client.post(f"/api/v1/court/requests/{request.pk}/accept").json()
    path = f"/api/v1/court/requests/{request.pk}/extension"
    no_reason = client.post(path, {"reason": "  "}, content_type="application/json")
    assert no_reason.status_code == 400 and no_reason.json()["code"] == "reason_required"
    extended = client.post(path, {"reason": "需要核实当事人身份"}, content_type="application/json")
    assert extended.status_code == 200
    before = datetime.fromisoformat(accepted["rule_deadline"])
    after = datetime.fromisoformat(extended.json()["rule_deadline"])
    assert after - before == timedelta(days=10)
    assert extended.json()["extension_reason"] == "需要核实当事人身份"
    twice = client.post(path, {"reason": "再次延长"}, content_type="application/json")
    assert twice.status_code == 409 and twice.json()["code"] == "already_extended"
    assert AuditEvent.objects.filter(action="confirmation.extend").count() == 1


def test_a_rejection_needs_reasons_and_only_that_courts_staff_decide(demo, client, other_clerk):
    request = factories.confirmation_pending()
    client.force_login(factories.demo_user("citizen1@demo.odr"))
    assert _decide(client, request, "confirmed").status_code == 404
    client.force_login(factories.demo_user("mediator@demo.odr"))
    assert _decide(client, request, "confirmed").status_code == 404
    client.force_login(other_clerk)
    assert _decide(client, request, "confirmed").status_code == 404
    client.force_login(_clerk())
    missing = _decide(client, request, "rejected", "")
    assert missing.status_code == 400 and missing.json()["code"] == "reason_required"
    unknown = _decide(client, request, "maybe", "")
    assert unknown.status_code == 400 and unknown.json()["code"] == "invalid_decision"
    request.refresh_from_db()
    assert request.status == CR.PENDING and not request.ruling_pdf


def test_a_clerk_with_the_request_in_hand_but_not_on_its_court_may_not_decide(demo, other_clerk):
    request = factories.confirmation_pending()
    with pytest.raises(DomainError) as refused:
        services.confirmation_decide(
            request=request, actor=other_clerk, decision="confirmed", reason=""
        )
    assert refused.value.status == 403


def _pdf(client, path) -> bytes:
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    assert response["Content-Type"] == "application/pdf"
    return b"".join(response.streaming_content)


def _tool(tool: str, pdf: bytes, tmp_path) -> str:
    path = tmp_path / "ruling.pdf"
    path.write_bytes(pdf)
    args = [tool, str(path), "-"] if tool == "pdftotext" else [tool, str(path)]
    return subprocess.run(args, capture_output=True, text=True, check=True).stdout


def test_confirming_issues_a_sealed_ruling_served_on_the_parties(
    demo, client, tmp_path, mailoutbox, django_capture_on_commit_callbacks
):
    request = factories.confirmation_pending()
    client.force_login(_clerk())
    with django_capture_on_commit_callbacks(execute=True):
        decided = _decide(client, request, "confirmed")
    assert decided.status_code == 200, decided.content
    body = decided.json()
    assert body["status"] == "confirmed"
    # Deciding an application not yet accepted accepts it first, on the record.
    assert body["accepted_at"] and body["case_number"] == "(2026)浙0523民特0001号"
    assert list(
        AuditEvent.objects.filter(object_type="agreements.confirmationrequest").values_list(
            "action", flat=True
        )
    )[-2:] == ["confirmation.accept", "confirmation.decide"]
    assert body["actions"] == []

    pdf = _pdf(client, f"/api/v1/court/requests/{request.pk}/ruling.pdf")
    assert hashlib.sha256(pdf).hexdigest() == body["ruling_sha256"]
    text = re.sub(r"\s+", "", _tool("pdftotext", pdf, tmp_path))
    assert "民事裁定书" in text
    assert "安吉县人民法院" in text and "(2026)浙0523民特0001号" in text
    assert "张三" in text and "李四" in text
    assert "调解协议有效" in text
    assert "被申请人向申请人归还借款人民币10,000.00元" in text
    assert "330523**********" in text and "19800101" not in text
    fonts = _tool("pdffonts", pdf, tmp_path).strip().splitlines()[2:]
    assert fonts
    for row in fonts:
        assert row.split()[-5] == "yes", row
    # Sealed with the court's own key, covering the whole file.
    signatures = PdfFileReader(BytesIO(pdf)).embedded_signatures
    assert len(signatures) == 1
    assert "安吉县人民法院" in signatures[0].signer_cert.subject.human_friendly

    # Served on the parties: by e-mail with the link and hash, and they can fetch it.
    served = [m for m in mailoutbox if "ruling.pdf" in m.body]
    assert sorted(m.to[0] for m in served) == [
        "citizen1@demo.odr",
        "citizen2@demo.odr",
        "mediator@demo.odr",
    ]
    assert body["ruling_sha256"] in served[0].body
    for email in ("citizen1@demo.odr", "citizen2@demo.odr"):
        client.force_login(factories.demo_user(email))
        assert _pdf(client, f"/api/v1/court/requests/{request.pk}/ruling.pdf") == pdf
    client.force_login(factories.make_user())
    assert client.get(f"/api/v1/court/requests/{request.pk}/ruling.pdf").status_code == 404

    # A second decision is a conflict.
    client.force_login(_clerk())
    assert _decide(client, request, "rejected", "再议").status_code == 409


def test_a_rejection_states_its_reasons_in_the_ruling(demo, client, tmp_path):
    request = factories.confirmation_pending()
    client.force_login(_clerk())
    reason = "调解协议内容涉及案外人利益，申请人未能提供充分证明"
    assert _decide(client, request, "rejected", reason).json()["status"] == "rejected"
    pdf = _pdf(client, f"/api/v1/court/requests/{request.pk}/ruling.pdf")
    text = re.sub(r"\s+", "", _tool("pdftotext", pdf, tmp_path))
    assert "驳回申请人" in text and reason in text
    assert "调解协议有效" not in text


def test_the_court_is_reminded_of_its_deadlines_once_each(
    demo, mailoutbox, django_capture_on_commit_callbacks
):
    from agreements.reminders import send_due

    with time_machine.travel(SUBMITTED, tick=False):
        request = factories.confirmation_pending()
    mailoutbox.clear()
    # Nothing on the first day; a reminder on the last day to accept; not twice.
    assert send_due(now=SUBMITTED + timedelta(hours=1)) == 0
    last_day = SUBMITTED + timedelta(days=3)
    with time_machine.travel(last_day, tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            assert send_due(now=last_day) >= 1
        assert send_due(now=last_day) == 0
    clerk_mail = [m for m in mailoutbox if m.to == ["clerk@demo.odr"]]
    assert len(clerk_mail) == 1 and request.agreement.dispute.case_number in clerk_mail[0].subject
    with time_machine.travel(last_day, tick=False):
        services.confirmation_accept(request=request, actor=_clerk())
    request.refresh_from_db()
    mailoutbox.clear()
    near = request.rule_deadline - timedelta(days=2)
    with time_machine.travel(near, tick=False), django_capture_on_commit_callbacks(execute=True):
        send_due(now=near)
        send_due(now=near)
    assert [m.to for m in mailoutbox if "clerk" in m.to[0]] == [["clerk@demo.odr"]]


def test_the_send_reminders_command_runs_the_court_job(demo):
    with time_machine.travel(SUBMITTED, tick=False):
        factories.confirmation_pending()
    text = io.StringIO()
    with time_machine.travel(SUBMITTED + timedelta(days=5), tick=False):
        call_command("send_reminders", stdout=text)
    assert "agreements.reminders.send_due" in text.getvalue()
    assert ConfirmationRequest.objects.get().accept_reminded_at is not None


def test_the_queue_puts_open_requests_first_nearest_deadline_on_top(demo, client):
    with time_machine.travel(SUBMITTED, tick=False):
        older = factories.confirmation_pending()
    with time_machine.travel(SUBMITTED + timedelta(days=1), tick=False):
        decided = factories.confirmation_pending(title="已裁定的案件")
        services.confirmation_decide(
            request=decided, actor=_clerk(), decision="rejected", reason="不符合条件"
        )
        newer = factories.confirmation_pending(title="较新的案件")
    client.force_login(_clerk())
    ids = [item["id"] for item in client.get("/api/v1/court/requests").json()["items"]]
    assert ids == [older.pk, newer.pk, decided.pk]
    confirmed = client.get("/api/v1/court/requests?status=rejected").json()
    assert [i["id"] for i in confirmed["items"]] == [decided.pk]
    assert client.get("/api/v1/court/requests?status=nonsense").status_code == 400


def test_the_court_queue_api_reads_the_evidence_of_every_request_in_one_query(demo, client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from odr import services as odr_services

    requests = [factories.confirmation_pending() for _ in range(3)]
    pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    odr_services.evidence_add(
        dispute=requests[1].agreement.dispute,
        actor=factories.demo_user("citizen1@demo.odr"),
        upload=io.BytesIO(pdf),
        name="借条.pdf",
        size=len(pdf),
    )
    client.force_login(_clerk())
    with CaptureQueriesContext(connection) as queries:
        items = client.get("/api/v1/court/requests").json()["items"]
    evidence_queries = [q for q in queries.captured_queries if '"odr_evidence"' in q["sql"]]
    assert len(evidence_queries) == 1
    listed = {item["id"]: [e["name"] for e in item["evidence"]] for item in items}
    assert listed == {r.pk: (["借条.pdf"] if r == requests[1] else []) for r in requests}
