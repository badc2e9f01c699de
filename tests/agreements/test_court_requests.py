"""The court's side of judicial confirmation: its queue, its deadlines, the clerk's
docketing under the court's own case number, the judge's ruling (confirmed, rejected, or
not accepted before docketing) and the sealed ruling served on the parties; a court other
than the competent one sees nothing (CONTRACT §3, DESIGN.md §3)."""

from __future__ import annotations

import hashlib
import io
import re
import subprocess
from datetime import date, datetime, timedelta
from io import BytesIO

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone
from pyhanko.pdf_utils.reader import PdfFileReader

from agreements.court import services
from agreements.models import ConfirmationRequest
from odr import periods
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
def other_court(demo):
    """Another basic court (a neighbouring county's), not competent here."""
    city = Region.objects.get(code="330500000000")
    county = Region.objects.create(code="330522000000", name="长兴县", level="county", parent=city)
    return Organisation.objects.create(
        name="长兴县人民法院", kind=Organisation.Kind.COURT, region=county, case_code="浙0522民特"
    )


@pytest.fixture
def other_clerk(other_court):
    return factories.make_user("clerk.changxing@example.com", org=other_court, role="clerk")


@pytest.fixture
def other_judge(other_court):
    return factories.make_user(
        "judge.changxing@example.com", name="长兴审判员", org=other_court, role="judge"
    )


def _clerk():
    return factories.demo_user(factories.CLERK)


def _judge():
    return factories.demo_user(factories.JUDGE)


def _decide(client, request, decision, reason=""):
    """The judge's ruling as the API takes it: the preview first (its token in the header
    X-Ruling-Preview), then the decision with that token (issue 8: never one click)."""
    base = f"/api/v1/court/requests/{request.pk}/decision"
    body = {"decision": decision, "reason": reason}
    preview = client.post(f"{base}/preview", body, content_type="application/json")
    token = preview.get("X-Ruling-Preview", "") if preview.status_code == 200 else ""
    return client.post(base, {**body, "preview": token}, content_type="application/json")


def _accept(client, request, number="（2026）浙0523民特1号"):
    return client.post(
        f"/api/v1/court/requests/{request.pk}/accept",
        {"court_case_number": number},
        content_type="application/json",
    )


def _events(request) -> list[str]:
    return list(
        AuditEvent.objects.filter(
            object_type="agreements.confirmationrequest", object_id=str(request.pk)
        ).values_list("action", flat=True)
    )


def test_a_court_other_than_the_competent_one_sees_nothing(demo, client, other_clerk, other_judge):
    request = factories.confirmation_pending()
    base = f"/api/v1/court/requests/{request.pk}"
    for stranger in (other_clerk, other_judge):
        client.force_login(stranger)
        empty = {"count": 0, "count_is_estimate": False, "items": [], "next": None}
        assert client.get("/api/v1/court/requests").json() == empty
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
            body = None
            if method == "post":
                body = {
                    "decision": "not_accepted",
                    "reason": "x",
                    "court_case_number": "（2026）浙0523民特1号",
                }
            response = getattr(client, method)(path, body, content_type="application/json")
            assert response.status_code == 404, (stranger.email, path, response.status_code)
        assert client.get("/court/").status_code == 200
        assert request.agreement.dispute.case_number not in client.get("/court/").content.decode()
        assert client.get(f"/court/requests/{request.pk}/").status_code == 404
        assert client.get(f"/disputes/{request.agreement.dispute_id}/").status_code == 404
    request.refresh_from_db()
    assert request.status == CR.PENDING and request.accepted_at is None


def test_the_competent_courts_clerk_and_judge_both_see_the_request_and_the_case(demo, client):
    request = factories.confirmation_pending()
    for email in (factories.CLERK, factories.JUDGE):
        client.force_login(factories.demo_user(email))
        listed = client.get("/api/v1/court/requests").json()
        assert [item["id"] for item in listed["items"]] == [request.pk], email
        assert client.get(f"/api/v1/disputes/{request.agreement.dispute_id}").status_code == 200
        assert client.get(f"/disputes/{request.agreement.dispute_id}/").status_code == 200
        assert client.get(f"/court/requests/{request.pk}/").status_code == 200


def test_citizens_and_mediators_have_no_court_queue(demo, client):
    factories.confirmation_pending()
    for email in ("citizen1@demo.odr", "mediator@demo.odr", "coordinator@demo.odr"):
        client.force_login(factories.demo_user(email))
        assert client.get("/api/v1/court/requests").json()["count"] == 0
        assert client.get("/court/").status_code == 404


def test_the_clerk_dockets_within_three_days_under_the_courts_number_and_overdue_is_flagged(
    demo, client
):
    with time_machine.travel(SUBMITTED, tick=False):
        request = factories.confirmation_pending()
    client.force_login(_clerk())
    with time_machine.travel(SUBMITTED + timedelta(days=3, hours=14), tick=False):
        item = client.get("/api/v1/court/requests").json()["items"][0]
        assert item["overdue"] == ""
        # The clerk dockets it, or first asks the parties for materials (补正).
        assert item["actions"] == ["accept", "supplement_ask"]
    with time_machine.travel(SUBMITTED + timedelta(days=4), tick=False):
        item = client.get("/api/v1/court/requests?status=pending").json()["items"][0]
        assert item["overdue"] == "accept"
        page = client.get("/court/").content.decode()
        assert 'class="overdue"' in page
        response = _accept(client, request, "（2026）浙0523民特1号")
    assert response.status_code == 200, response.content
    accepted = response.json()
    assert accepted["status"] == "accepted"
    assert accepted["case_number"] == "（2026）浙0523民特1号"
    assert accepted["accepted_by"] == "赵敏"
    assert accepted["overdue"] == ""
    rule_deadline = datetime.fromisoformat(accepted["rule_deadline"])
    # Docketed on 2026-05-08: the 15th day is Saturday 2026-05-23, so the period ends on
    # the next working day (Civil Procedure Law Art. 85).
    assert timezone.localdate(rule_deadline) == date(2026, 5, 25)
    # The clerk keeps the record: asks for materials (补正); the judge asks to extend.
    assert accepted["actions"] == ["supplement_ask"]
    event = AuditEvent.objects.get(action="confirmation.accept", object_id=str(request.pk))
    assert event.actor.email == factories.CLERK
    assert (event.before["status"], event.after["status"]) == ("pending", "accepted")
    assert event.after["case_number"] == "（2026）浙0523民特1号"
    with time_machine.travel(SUBMITTED.replace(day=26), tick=False):  # the day after 05-25
        assert client.get("/api/v1/court/requests").json()["items"][0]["overdue"] == "rule"
    # Accepting twice is a conflict, not a second case number.
    again = _accept(client, request, "（2026）浙0523民特2号")
    assert again.status_code == 409 and again.json()["code"] == "invalid_status"
    request.refresh_from_db()
    assert request.case_number == "（2026）浙0523民特1号"


def test_half_width_brackets_typed_by_the_clerk_are_stored_full_width(demo, client):
    request = factories.confirmation_pending()
    client.force_login(_clerk())
    year = timezone.localdate().year
    accepted = _accept(client, request, f" ({year})浙0523民特27号 ")
    assert accepted.status_code == 200, accepted.content
    assert accepted.json()["case_number"] == f"（{year}）浙0523民特27号"


@pytest.mark.parametrize(
    "number",
    [
        "（2026）浙0523民特0001号",  # padded, as the platform's own counter printed it
        "(2026)浙0523民特0001号",
        "(2026）浙0523民特1号",  # brackets that do not match
        "（2026)浙0523民特1号",
        "（2026）浙0522民特1号",  # another court's code
        "（2026）浙0523民初1号",  # not a special procedure
        "（2026）浙0523民特1",
        "２０２６浙0523民特1号",
        "（２０２６）浙0523民特1号",  # full-width digits
        "（2025）浙0523民特1号",  # before the application reached the court
        "（2027）浙0523民特1号",  # a year to come
        "（2026）浙0523民特 1号",
        "",
        "浙0523民特1号",
    ],
)
def test_a_court_case_number_not_in_the_courts_form_is_refused_and_nothing_is_written(
    demo, client, number
):
    with time_machine.travel(SUBMITTED, tick=False):
        request = factories.confirmation_pending()
        client.force_login(_clerk())
        response = _accept(client, request, number)
    assert response.status_code == 400, (number, response.content)
    assert response.json()["code"] == "invalid_court_case_number"
    assert "（2026）浙0523民特1号" in response.json()["detail"]
    request.refresh_from_db()
    assert request.status == CR.PENDING and request.case_number == ""
    assert "confirmation.accept" not in _events(request)


def test_a_court_case_number_is_used_once_in_its_court(demo, client):
    first = factories.confirmation_pending()
    second = factories.confirmation_pending(title="另一件借款纠纷")
    client.force_login(_clerk())
    assert _accept(client, first, "（2026）浙0523民特5号").status_code == 200
    taken = _accept(client, second, "(2026)浙0523民特5号")
    assert taken.status_code == 409 and taken.json()["code"] == "court_case_number_taken"
    second.refresh_from_db()
    assert second.status == CR.PENDING and second.case_number == ""


def test_the_ruling_period_extends_once_by_ten_days_with_a_reason(demo, client):
    """The judge asks, with a reason; the court president approves (SPC rules on judicial
    confirmation, Art. 7: 经本院院长批准，可以延长十日)."""
    request = factories.confirmation_pending()
    president = factories.make_user(org=request.court, role="president")
    client.force_login(_clerk())
    accepted = _accept(client, request).json()
    path = f"/api/v1/court/requests/{request.pk}/extension"
    client.force_login(_judge())
    no_reason = client.post(path, {"reason": "  "}, content_type="application/json")
    assert no_reason.status_code == 400 and no_reason.json()["code"] == "reason_required"
    asked = client.post(path, {"reason": "需要核实当事人身份"}, content_type="application/json")
    assert asked.status_code == 200
    assert asked.json()["rule_deadline"] == accepted["rule_deadline"]
    assert asked.json()["extension_reason"] == "需要核实当事人身份"
    client.force_login(president)
    extended = client.post(f"{path}/decision", {"approve": True}, content_type="application/json")
    assert extended.status_code == 200
    before = datetime.fromisoformat(accepted["rule_deadline"])
    after = datetime.fromisoformat(extended.json()["rule_deadline"])
    # Ten days more, the last one moved off a rest day or holiday.
    assert after - before >= timedelta(days=10)
    assert after == periods.extended(before, 10)
    client.force_login(_judge())
    twice = client.post(path, {"reason": "再次延长"}, content_type="application/json")
    assert twice.status_code == 409 and twice.json()["code"] == "already_extended"
    assert AuditEvent.objects.filter(action="confirmation.extension_approve").count() == 1


def test_a_judge_does_not_docket_a_request(demo, client):
    request = factories.confirmation_pending()
    client.force_login(_judge())
    refused = _accept(client, request)
    assert refused.status_code == 403 and refused.json()["code"] == "clerk_only"
    request.refresh_from_db()
    assert request.status == CR.PENDING and "confirmation.accept" not in _events(request)


@pytest.mark.parametrize(
    ("docketed", "decision"),
    [(True, "confirmed"), (True, "rejected"), (False, "not_accepted"), (False, "confirmed")],
)
def test_a_clerk_deciding_is_refused_with_403_and_nothing_is_written(
    demo, client, docketed, decision
):
    request = factories.confirmation_pending()
    if docketed:
        request = factories.confirmation_accepted(request)
    before = AuditEvent.objects.count()
    client.force_login(_clerk())
    refused = _decide(client, request, decision, "协议内容违反法律规定")
    assert refused.status_code == 403 and refused.json()["code"] == "judge_only"
    assert AuditEvent.objects.count() == before
    request.refresh_from_db()
    assert request.status == (CR.ACCEPTED if docketed else CR.PENDING)
    assert not request.ruling_pdf and request.decided_by is None


def test_a_rejection_needs_reasons_and_only_that_courts_judge_decides(
    demo, client, other_clerk, other_judge
):
    request = factories.confirmation_accepted()
    for email in ("citizen1@demo.odr", "mediator@demo.odr"):
        client.force_login(factories.demo_user(email))
        assert _decide(client, request, "confirmed").status_code == 404
    for stranger in (other_clerk, other_judge):
        client.force_login(stranger)
        assert _decide(client, request, "confirmed").status_code == 404
    client.force_login(_judge())
    missing = _decide(client, request, "rejected", "  ")
    assert missing.status_code == 400 and missing.json()["code"] == "reason_required"
    unknown = _decide(client, request, "maybe", "")
    assert unknown.status_code == 400 and unknown.json()["code"] == "invalid_decision"
    request.refresh_from_db()
    assert request.status == CR.ACCEPTED and not request.ruling_pdf


def test_court_staff_with_the_request_in_hand_but_not_on_its_court_may_not_act(
    demo, other_clerk, other_judge
):
    request = factories.confirmation_pending()
    for stranger in (other_clerk, other_judge):
        with pytest.raises(DomainError) as refused:
            services.confirmation_decide(
                request=request, actor=stranger, decision="not_accepted", reason="不属本院管辖"
            )
        assert refused.value.status == 403
        with pytest.raises(DomainError) as refused:
            services.confirmation_accept(
                request=request, actor=stranger, court_case_number="（2026）浙0522民特1号"
            )
        assert refused.value.status == 403


def test_a_pending_request_is_ruled_on_only_once_a_clerk_has_docketed_it(demo, client):
    request = factories.confirmation_pending()
    client.force_login(_judge())
    for decision in ("confirmed", "rejected"):
        refused = _decide(client, request, decision, "理由")
        assert refused.status_code == 409 and refused.json()["code"] == "invalid_status"
    request.refresh_from_db()
    assert request.status == CR.PENDING and request.accepted_at is None
    # No silent docketing first (issue 8): nothing is on the record.
    assert _events(request) == [
        "confirmation.apply",
        "confirmation.consent",
        "confirmation.consent",
        "confirmation.submit",
    ]


def _pdf(client, path) -> bytes:
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    assert response["Content-Type"] == "application/pdf"
    return b"".join(response.streaming_content)


def _tool(tool: str, pdf: bytes, tmp_path) -> str:
    path = tmp_path / "ruling.pdf"
    path.write_bytes(pdf)
    # pdftotext in the order the page was drawn (-raw): in reading order the court's
    # seal, stamped over the sign-off, mixes its letters into the judge's line.
    args = [tool, "-raw", str(path), "-"] if tool == "pdftotext" else [tool, str(path)]
    return subprocess.run(args, capture_output=True, text=True, check=True).stdout


def test_the_judge_confirms_and_the_sealed_ruling_is_served_on_the_parties(
    demo, client, tmp_path, mailoutbox, django_capture_on_commit_callbacks
):
    request = factories.confirmation_accepted(number="（2026）浙0523民特12号")
    client.force_login(_judge())
    assert client.get(f"/api/v1/court/requests/{request.pk}").json()["actions"] == [
        "extension_request",
        "supplement_ask",
        "inquiry_schedule",
        "decide",
    ]
    with django_capture_on_commit_callbacks(execute=True):
        decided = _decide(client, request, "confirmed")
    assert decided.status_code == 200, decided.content
    body = decided.json()
    assert body["status"] == "confirmed"
    assert body["case_number"] == "（2026）浙0523民特12号"
    assert (body["accepted_by"], body["decided_by"]) == ("赵敏", "周明")
    assert _events(request)[-2:] == ["confirmation.accept", "confirmation.decide"]
    event = AuditEvent.objects.get(action="confirmation.decide", object_id=str(request.pk))
    assert event.actor.email == factories.JUDGE
    assert (event.before["status"], event.after["status"]) == ("accepted", "confirmed")
    assert body["actions"] == []

    pdf = _pdf(client, f"/api/v1/court/requests/{request.pk}/ruling.pdf")
    assert hashlib.sha256(pdf).hexdigest() == body["ruling_sha256"]
    text = re.sub(r"\s+", "", _tool("pdftotext", pdf, tmp_path))
    assert "民事裁定书" in text
    assert "安吉县人民法院" in text and "（2026）浙0523民特12号" in text
    # Signed off by the judge who ruled and the clerk who docketed it (DESIGN.md §3).
    assert "审判员周明" in text and "书记员赵敏" in text
    assert "审判员赵敏" not in text
    assert "张三" in text and "李四" in text
    assert "调解协议有效" in text
    assert "被申请人向申请人归还借款人民币10,000.00元" in text
    # The original is never masked, and no e-mail address stands for a name.
    assert "*" not in text and "@" not in text
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
    for email in ("citizen1@demo.odr", "citizen2@demo.odr", factories.CLERK):
        client.force_login(factories.demo_user(email))
        assert _pdf(client, f"/api/v1/court/requests/{request.pk}/ruling.pdf") == pdf
    client.force_login(factories.make_user())
    assert client.get(f"/api/v1/court/requests/{request.pk}/ruling.pdf").status_code == 404

    # A second decision is a conflict.
    client.force_login(_judge())
    assert _decide(client, request, "rejected", "再议").status_code == 409


def test_the_judge_rejects_with_reasons_stated_in_the_ruling(demo, client, tmp_path):
    request = factories.confirmation_accepted()
    client.force_login(_judge())
    reason = "调解协议内容涉及案外人利益，申请人未能提供充分证明"
    assert _decide(client, request, "rejected", reason).json()["status"] == "rejected"
    pdf = _pdf(client, f"/api/v1/court/requests/{request.pk}/ruling.pdf")
    text = re.sub(r"\s+", "", _tool("pdftotext", pdf, tmp_path))
    assert "驳回申请人" in text and reason in text
    assert "调解协议有效" not in text and "不予受理" not in text
    assert "审判员周明" in text and "书记员赵敏" in text


def test_a_judge_does_not_accept_a_pending_request_by_its_own_ruling(
    demo, client, tmp_path, mailoutbox, django_capture_on_commit_callbacks
):
    request = factories.confirmation_pending()
    client.force_login(_judge())
    assert client.get(f"/api/v1/court/requests/{request.pk}").json()["actions"] == [
        "supplement_ask",
        "not_accept",
    ]
    reason = "本案系确认房屋所有权的纠纷，不属于司法确认调解协议的范围"
    with django_capture_on_commit_callbacks(execute=True):
        response = _decide(client, request, "not_accepted", reason)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "not_accepted" and body["decided_by"] == "周明"
    # Not "accept, then reject": never docketed, no court case number.
    assert body["accepted_at"] is None and body["case_number"] == ""
    assert _events(request)[-1] == "confirmation.not_accept"
    assert "confirmation.accept" not in _events(request)
    event = AuditEvent.objects.get(action="confirmation.not_accept", object_id=str(request.pk))
    assert (event.before["status"], event.after["status"]) == ("pending", "not_accepted")
    assert event.after["reason"] == reason and event.actor.email == factories.JUDGE

    pdf = _pdf(client, f"/api/v1/court/requests/{request.pk}/ruling.pdf")
    assert hashlib.sha256(pdf).hexdigest() == body["ruling_sha256"]
    text = re.sub(r"\s+", "", _tool("pdftotext", pdf, tmp_path))
    assert "民事裁定书" in text and "不予受理" in text and reason in text
    assert "第三百五十五条" in text
    assert "驳回" not in text and "调解协议有效" not in text and "受理后" not in text
    assert "审判员周明" in text
    served = sorted(m.to[0] for m in mailoutbox if "ruling.pdf" in m.body)
    assert served == ["citizen1@demo.odr", "citizen2@demo.odr", "mediator@demo.odr"]
    # The parties see it on their case page's timeline in words.
    client.force_login(factories.demo_user("citizen1@demo.odr"))
    page = client.get(f"/disputes/{request.agreement.dispute_id}/").content.decode()
    assert f"法院裁定对司法确认申请不予受理：{reason}" in page


def test_a_docketed_request_is_ruled_on_not_refused_acceptance(demo, client):
    request = factories.confirmation_accepted()
    client.force_login(_judge())
    refused = _decide(client, request, "not_accepted", "不属本院管辖")
    assert refused.status_code == 409 and refused.json()["code"] == "invalid_status"
    request.refresh_from_db()
    assert request.status == CR.ACCEPTED and not request.ruling_pdf


def test_not_accepting_needs_reasons(demo, client):
    request = factories.confirmation_pending()
    client.force_login(_judge())
    missing = _decide(client, request, "not_accepted", "")
    assert missing.status_code == 400 and missing.json()["code"] == "reason_required"
    request.refresh_from_db()
    assert request.status == CR.PENDING


def _decide_with_number(client, request, number, decision="not_accepted", reason="不属本院管辖"):
    """The ruling not to accept under the court's number: preview, then issue."""
    base = f"/api/v1/court/requests/{request.pk}/decision"
    body = {"decision": decision, "reason": reason, "court_case_number": number}
    preview = client.post(f"{base}/preview", body, content_type="application/json")
    if preview.status_code != 200:
        return preview
    token = preview["X-Ruling-Preview"]
    return client.post(base, {**body, "preview": token}, content_type="application/json")


def test_the_ruling_e_mails_name_the_courts_number_when_it_gave_one(
    demo, client, mailoutbox, django_capture_on_commit_callbacks
):
    from agreements.court.services.confirmation import request_context
    from odr.notifications import render_email

    number = "（2026）浙0523民特12号"
    with time_machine.travel(SUBMITTED, tick=False):
        request = factories.confirmation_pending()
        mediation = request.agreement.dispute.case_number
        client.force_login(_judge())
        with django_capture_on_commit_callbacks(execute=True):
            response = _decide_with_number(client, request, number)
    assert response.status_code == 200, response.content
    served = [m for m in mailoutbox if "ruling.pdf" in m.body]
    assert served
    for mail in served:
        assert mail.subject.startswith(number) and mediation not in mail.subject, mail.subject
        assert f"{number}民事裁定书" in mail.body or f"{number} 民事裁定书" in mail.body
    request.refresh_from_db()
    context = {**request_context(request), "order_url": "https://example.org/withdrawal.pdf"}
    for language, ruling, order in (
        ("zh-hans", f"经法院电子签章的{number}民事裁定书：", f"已以{number}民事裁定书结束"),
        ("en", f"The ruling ({number} 民事裁定书)", f"by an order ({number} 民事裁定书)"),
    ):
        subject, body = render_email(template="court_ruling", context=context, language=language)
        assert subject.startswith(number) and mediation not in subject, subject
        assert ruling in body, body
        subject, body = render_email(template="court_withdrawn", context=context, language=language)
        assert subject.startswith(number) and mediation not in subject, subject
        assert order in body, body
    # Without the court's number, the mediation's, as before (also for an e-mail queued
    # before `ruling_number` was in the context).
    for without in ({"ruling_number": mediation}, {}):
        context = {**context, "court_case_number": ""}
        context.pop("ruling_number", None)
        context.update(without)
        subject, body = render_email(template="court_ruling", context=context, language="zh-hans")
        assert (
            subject == f"{mediation}：法院裁定不予受理" and "经法院电子签章的民事裁定书：" in body
        )
        subject, body = render_email(
            template="court_withdrawn", context=context, language="zh-hans"
        )
        assert subject == f"{mediation}：司法确认申请已撤回" and "已以民事裁定书结束" in body


def test_a_ruling_not_to_accept_carries_the_courts_number_when_the_judge_gives_it(
    demo, client, tmp_path
):
    with time_machine.travel(SUBMITTED, tick=False):
        request = factories.confirmation_pending()
        client.force_login(_judge())
        # Typed with half-width brackets, kept in the court's form.
        response = _decide_with_number(client, request, "(2026)浙0523民特12号")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "not_accepted" and body["case_number"] == "（2026）浙0523民特12号"
    assert body["accepted_at"] is None
    request.refresh_from_db()
    assert request.case_number == "（2026）浙0523民特12号"
    event = AuditEvent.objects.get(action="confirmation.not_accept", object_id=str(request.pk))
    assert event.after["court_case_number"] == "（2026）浙0523民特12号"
    client.force_login(_judge())
    pdf = _pdf(client, f"/api/v1/court/requests/{request.pk}/ruling.pdf")
    text = re.sub(r"\s+", "", _tool("pdftotext", pdf, tmp_path))
    # Under 民事裁定书, before the parties, as on a docketed ruling.
    assert text.startswith("安吉县人民法院民事裁定书（2026）浙0523民特12号申请人：")
    assert "本院不予受理" in text
    # The CONTRACT's form without a number still rules, printing none.
    other = factories.confirmation_pending(title="另一件借款纠纷")
    plain = client.post(
        f"/api/v1/court/requests/{other.pk}/decision",
        {"decision": "not_accepted", "reason": "不属本院管辖"},
        content_type="application/json",
    )
    assert plain.status_code == 200 and plain.json()["case_number"] == ""
    text = re.sub(
        r"\s+",
        "",
        _tool("pdftotext", _pdf(client, f"/api/v1/court/requests/{other.pk}/ruling.pdf"), tmp_path),
    )
    assert "民特" not in text and text.startswith("安吉县人民法院民事裁定书申请人：")
    # The CONTRACT's form with the number, without a preview, rules under it too.
    third = factories.confirmation_pending(title="第三件借款纠纷")
    numbered = client.post(
        f"/api/v1/court/requests/{third.pk}/decision",
        {
            "decision": "not_accepted",
            "reason": "不属本院管辖",
            "court_case_number": "（2026）浙0523民特13号",
        },
        content_type="application/json",
    )
    assert numbered.status_code == 200, numbered.content
    assert numbered.json()["case_number"] == "（2026）浙0523民特13号"


@pytest.mark.parametrize(
    ("number", "status", "code"),
    [
        ("（2026）浙0523民特012号", 400, "invalid_court_case_number"),
        ("（2026）浙0522民特12号", 400, "invalid_court_case_number"),
        ("浙0523民特12号", 400, "invalid_court_case_number"),
        ("（2026）浙0523民特12号" * 5, 422, "validation_error"),
    ],
)
def test_a_number_not_in_the_courts_form_refuses_the_ruling_not_to_accept_and_writes_nothing(
    demo, client, number, status, code
):
    with time_machine.travel(SUBMITTED, tick=False):
        request = factories.confirmation_pending()
        client.force_login(_judge())
        for path in ("/decision/preview", "/decision"):
            response = client.post(
                f"/api/v1/court/requests/{request.pk}{path}",
                {"decision": "not_accepted", "reason": "不属本院管辖", "court_case_number": number},
                content_type="application/json",
            )
            assert response.status_code == status, (path, response.content)
            assert response.json()["code"] == code
    request.refresh_from_db()
    assert request.status == CR.PENDING and request.case_number == ""
    assert not request.ruling_pdf and request.decided_at is None
    assert "confirmation.not_accept" not in _events(request)


def test_a_number_another_case_has_refuses_the_ruling_not_to_accept(demo, client):
    first = factories.confirmation_pending()
    second = factories.confirmation_pending(title="另一件借款纠纷")
    client.force_login(_clerk())
    assert _accept(client, first, "（2026）浙0523民特5号").status_code == 200
    client.force_login(_judge())
    for path in ("/decision/preview", "/decision"):
        taken = client.post(
            f"/api/v1/court/requests/{second.pk}{path}",
            {
                "decision": "not_accepted",
                "reason": "不属本院管辖",
                "court_case_number": "（2026）浙0523民特5号",
            },
            content_type="application/json",
        )
        assert taken.status_code == 409 and taken.json()["code"] == "court_case_number_taken"
    second.refresh_from_db()
    assert second.status == CR.PENDING and second.case_number == "" and not second.ruling_pdf
    assert "confirmation.not_accept" not in _events(second)
    # A docketed application's ruling takes no other number.
    wrong = _decide_with_number(client, first, "（2026）浙0523民特6号", decision="confirmed")
    assert wrong.status_code == 400 and wrong.json()["code"] == "court_case_number_not_expected"
    first.refresh_from_db()
    assert first.status == CR.ACCEPTED and first.case_number == "（2026）浙0523民特5号"


def test_the_preview_token_is_for_the_number_the_judge_saw(demo, client):
    request = factories.confirmation_pending()
    client.force_login(_judge())
    base = f"/api/v1/court/requests/{request.pk}/decision"
    body = {
        "decision": "not_accepted",
        "reason": "不属本院管辖",
        "court_case_number": "（2026）浙0523民特12号",
    }
    token = client.post(f"{base}/preview", body, content_type="application/json")[
        "X-Ruling-Preview"
    ]
    changed = client.post(
        base,
        {**body, "court_case_number": "（2026）浙0523民特13号", "preview": token},
        content_type="application/json",
    )
    assert changed.status_code == 409 and changed.json()["code"] == "preview_required"
    request.refresh_from_db()
    assert request.status == CR.PENDING and request.case_number == ""


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
    assert not [m for m in mailoutbox if m.to == [factories.JUDGE]]  # docketing is the clerk's
    with time_machine.travel(last_day, tick=False):
        factories.confirmation_accepted(request, number="（2026）浙0523民特3号")
    request.refresh_from_db()
    mailoutbox.clear()
    near = request.rule_deadline - timedelta(days=2)
    with time_machine.travel(near, tick=False), django_capture_on_commit_callbacks(execute=True):
        send_due(now=near)
        send_due(now=near)
    # The ruling is due: the judge who rules and the clerk who keeps the record, once.
    court_mail = [m.to[0] for m in mailoutbox if m.to[0] in (factories.CLERK, factories.JUDGE)]
    assert sorted(court_mail) == [factories.CLERK, factories.JUDGE]


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
        decided = factories.confirmation_decided(
            decision="rejected", reason="不符合条件", title="已裁定的案件"
        )
        refused = factories.confirmation_decided(decision="not_accepted", title="不予受理的案件")
        newer = factories.confirmation_pending(title="较新的案件")
        docketed = factories.confirmation_accepted(title="已受理的案件")
    for email in (factories.CLERK, factories.JUDGE):
        client.force_login(factories.demo_user(email))
        ids = [item["id"] for item in client.get("/api/v1/court/requests").json()["items"]]
        # Open first (pending to docket by its 3 days, accepted to rule by its 15), the
        # nearest deadline on top; decided ones after, newest first.
        assert ids[:3] == [older.pk, newer.pk, docketed.pk], email
        assert set(ids[3:]) == {decided.pk, refused.pk}
    client.force_login(_clerk())
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
