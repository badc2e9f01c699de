"""The court's acts on an application before it (issue 8, point 3; DESIGN.md §3): the
president's approval of an extension, 补正 that stops the clock, 撤回 by the parties with
the order allowing it, 询问 with its signed record, and the ruling's preview before it is
issued. Each is a transition of the confirmation machine, audited."""

from __future__ import annotations

import hashlib
import io
import subprocess
from datetime import datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

from agreements.court import deadlines, services
from agreements.models import ConfirmationRequest, Inquiry
from odr import periods
from odr.errors import DomainError
from odr.models import AuditEvent, Membership
from tests import factories

pytestmark = pytest.mark.django_db
CR = ConfirmationRequest.Status
TZ = timezone.get_fixed_timezone(8 * 60)
# A Monday in a plain week (no holiday near it).
MONDAY = datetime(2026, 6, 8, 9, 0, tzinfo=TZ)


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def _judge():
    return factories.demo_user(factories.JUDGE)


def _clerk():
    return factories.demo_user(factories.CLERK)


def _citizen(n: int):
    return factories.demo_user(f"citizen{n}@demo.odr")


@pytest.fixture
def president(demo):
    court = factories.confirmation_pending().court
    return factories.make_user(
        "president@example.com", name="院长王", org=court, role=Membership.Role.PRESIDENT
    )


def _pdftotext(data: bytes) -> str:
    return subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=data, capture_output=True, check=True
    ).stdout.decode()


def _events(request, action: str):
    return AuditEvent.objects.filter(
        action=action, object_type="agreements.confirmationrequest", object_id=str(request.pk)
    )


def _api(client, user, method: str, path: str, body: dict | None = None):
    client.force_login(user)
    call = getattr(client, method)
    if method == "get":
        return call(path)
    return call(path, body or {}, content_type="application/json")


# --- the extension: the judge asks, only the president approves --------------------------


def test_only_the_president_approves_an_extension_and_the_deadline_moves_only_then(
    demo, client, president
):
    with time_machine.travel(MONDAY, tick=False):
        request = factories.confirmation_accepted()
        before = request.rule_deadline
        base = f"/api/v1/court/requests/{request.pk}"
        # A clerk asks nothing: the judge asks, with the reason.
        refused = _api(client, _clerk(), "post", f"{base}/extension", {"reason": "案情复杂"})
        assert refused.status_code == 403
        asked = _api(client, _judge(), "post", f"{base}/extension", {"reason": "案情复杂，需核实"})
        assert asked.status_code == 200, asked.content
        request.refresh_from_db()
        assert request.rule_deadline == before
        assert request.extension_requested_by == _judge()
        assert "extension_approve" in _api(client, president, "get", base).json()["actions"]
        # Neither the clerk nor the judge approves.
        for user in (_clerk(), _judge()):
            answer = _api(client, user, "post", f"{base}/extension/decision", {"approve": True})
            assert answer.status_code == 403, user
            assert answer.json()["code"] == "president_only"
        request.refresh_from_db()
        assert request.rule_deadline == before and request.rule_extended_at is None
        approved = _api(client, president, "post", f"{base}/extension/decision", {"approve": True})
        assert approved.status_code == 200, approved.content
    request.refresh_from_db()
    assert request.rule_deadline == periods.extended(before, deadlines.EXTENSION_DAYS)
    assert request.extension_approved_by == president
    assert _events(request, "confirmation.extension_request").count() == 1
    assert _events(request, "confirmation.extension_approve").get().actor == president
    # Once only.
    again = _api(client, _judge(), "post", f"{base}/extension", {"reason": "再次延长"})
    assert again.status_code == 409


def test_a_refused_extension_leaves_the_deadline_where_it_was(demo, president):
    request = factories.confirmation_accepted()
    before = request.rule_deadline
    services.confirmation_extend(request=request, actor=_judge(), reason="需要询问当事人")
    refused = services.confirmation_extension_decide(
        request=request, actor=president, approve=False
    )
    assert refused.rule_deadline == before and refused.extension_refused_at is not None
    assert _events(request, "confirmation.extension_refuse").count() == 1
    with pytest.raises(DomainError) as excinfo:
        services.confirmation_extension_decide(request=request, actor=president, approve=True)
    assert excinfo.value.code == "no_extension_requested"


# --- 补正 -----------------------------------------------------------------------------------


def test_a_supplement_stops_the_clock_for_the_days_it_was_open(demo, client, mailoutbox):
    with time_machine.travel(MONDAY, tick=False):
        request = factories.confirmation_accepted()
        before = request.rule_deadline
        base = f"/api/v1/court/requests/{request.pk}"
        asked = _api(
            client,
            _clerk(),
            "post",
            f"{base}/supplements",
            {"what": "请补充提交借条原件的照片。", "deadline": "2026-06-15"},
        )
        assert asked.status_code == 201, asked.content
        supplement = asked.json()
        assert supplement["open"] is True
        notice = _api(client, _citizen(1), "get", supplement["notice_url"])
        assert notice.status_code == 200
        text = _pdftotext(b"".join(notice.streaming_content))
        assert "补 正 通 知 书" in text and "借条原件" in text
        # The party's own list of actions offers the answer; the court's does not.
        assert (
            "supplement_answer"
            in _api(client, _citizen(2), "get", base + "/acts").json()["actions"]
        )
        # A second request while one is open is refused.
        again = _api(
            client, _judge(), "post", f"{base}/supplements", {"what": "x", "deadline": "2026-06-20"}
        )
        assert again.status_code == 409
    with time_machine.travel(MONDAY + timedelta(days=4), tick=False):
        client.force_login(_citizen(1))
        answered = client.post(
            f"{base}/supplements/{supplement['id']}/answer", {"answer": "已上传借条照片。"}
        )
        assert answered.status_code == 200, answered.content
    request.refresh_from_db()
    assert request.rule_deadline == periods.extended(before, 4)
    event = _events(request, "confirmation.supplement_answer").get()
    assert event.after["paused_days"] == 4


def test_a_supplement_answer_can_carry_files_that_join_the_evidence(demo, client):
    request = factories.confirmation_accepted()
    supplement = services.confirmation_supplement_ask(
        request=request,
        actor=_judge(),
        what="补充收据",
        deadline=timezone.localdate() + timedelta(days=5),
    )
    png = factories.signature_png()
    files = [io.BytesIO(png), io.BytesIO(png)]
    files[0].name, files[1].name = "收据1.png", "收据2.png"
    client.force_login(_citizen(2))
    answered = client.post(
        f"/api/v1/court/requests/{request.pk}/supplements/{supplement.pk}/answer",
        {"answer": "收据见附件", "files": files},
    )
    assert answered.status_code == 200, answered.content
    body = answered.json()
    assert body["open"] is False and len(body["evidence"]) == 2
    dispute = request.agreement.dispute
    assert dispute.evidence.filter(pk__in=body["evidence"]).count() == 2
    # The court's packet lists them.
    client.force_login(_clerk())
    listed = client.get(f"/api/v1/court/requests/{request.pk}").json()["evidence"]
    assert {e["name"] for e in listed} >= {"收据1.png", "收据2.png"}
    # Answered once: a second answer finds nothing open.
    client.force_login(_citizen(1))
    again = client.post(
        f"/api/v1/court/requests/{request.pk}/supplements/{supplement.pk}/answer",
        {"answer": "再次答复"},
    )
    assert again.status_code == 404


def test_an_unanswered_supplement_lets_the_judge_treat_the_application_as_withdrawn(demo):
    with time_machine.travel(MONDAY, tick=False):
        request = factories.confirmation_accepted()
        services.confirmation_supplement_ask(
            request=request, actor=_clerk(), what="补充身份证明", deadline="2026-06-10"
        )
        with pytest.raises(DomainError) as excinfo:
            services.confirmation_supplement_lapse(request=request, actor=_judge())
        assert excinfo.value.code == "supplement_not_lapsed"
    with time_machine.travel(MONDAY + timedelta(days=3), tick=False):
        with pytest.raises(DomainError) as excinfo:
            services.confirmation_supplement_lapse(request=request, actor=_clerk())
        assert excinfo.value.status == 403
        done = services.confirmation_supplement_lapse(request=request, actor=_judge())
    assert done.status == CR.WITHDRAWN and done.withdrawal_order_pdf
    text = _pdftotext(done.withdrawal_order_pdf.read())
    assert "按撤回申请处理" in text
    assert _events(request, "confirmation.supplement_lapse").count() == 1


# --- 撤回 -----------------------------------------------------------------------------------


def test_a_party_withdraws_and_the_judge_orders_it_with_the_parties_full_names(demo, client):
    request = factories.confirmation_accepted()
    base = f"/api/v1/court/requests/{request.pk}"
    # The court does not withdraw for the parties, and the judge needs a party's request.
    assert _api(client, _clerk(), "post", f"{base}/withdraw", {"reason": "x"}).status_code == 403
    early = _api(client, _judge(), "post", f"{base}/withdrawal")
    assert early.status_code == 409 and early.json()["code"] == "no_withdrawal"
    asked = _api(client, _citizen(2), "post", f"{base}/withdraw", {"reason": "双方已自行履行完毕"})
    assert asked.status_code == 200, asked.content
    assert "withdraw_allow" in _api(client, _judge(), "get", base).json()["actions"]
    assert _api(client, _clerk(), "post", f"{base}/withdrawal").status_code == 403
    done = _api(client, _judge(), "post", f"{base}/withdrawal")
    assert done.status_code == 200, done.content
    assert done.json()["status"] == CR.WITHDRAWN
    request.refresh_from_db()
    assert request.status == CR.WITHDRAWN and request.withdrawn_at is not None
    order = _api(client, _citizen(1), "get", f"{base}/withdrawal.pdf")
    assert order.status_code == 200
    data = b"".join(order.streaming_content)
    assert hashlib.sha256(data).hexdigest() == request.withdrawal_order_sha256
    text = _pdftotext(data)
    assert "准许撤回" in text or "准许申请人" in text
    assert "准许" in text and "撤回司法确认申请" in text
    for party in request.agreement.dispute.parties.all():
        assert party.name in text
    assert "@" not in text
    assert _events(request, "confirmation.withdraw_request").count() == 1
    assert _events(request, "confirmation.withdraw_allow").get().actor == _judge()
    # After the order nothing more: no ruling on a withdrawn application.
    assert _api(client, _citizen(1), "post", f"{base}/withdraw", {}).status_code == 409


# --- 询问 -----------------------------------------------------------------------------------


def test_the_inquiry_record_is_signed_by_everyone_and_its_pdf_is_hashed(demo, client):
    request = factories.confirmation_accepted()
    base = f"/api/v1/court/requests/{request.pk}"
    when = (timezone.now() + timedelta(days=2)).replace(microsecond=0)
    made = _api(
        client,
        _judge(),
        "post",
        f"{base}/inquiries",
        {"scheduled_at": when.isoformat(), "place": "本院第三调解室"},
    )
    assert made.status_code == 201, made.content
    inquiry_id = made.json()["id"]
    parties = list(request.agreement.dispute.parties.all())
    body = {
        "record": "问：调解协议是否是你们自愿达成的？\n答：是的，自愿。",
        "present": [p.pk for p in parties],
    }
    # Not before the inquiry's time: the signatures would precede the time it prints.
    client.force_login(_clerk())
    for language, words in (("zh-hans", "询问尚未开始"), ("en", "has not begun")):
        with time_machine.travel(when - timedelta(minutes=1), tick=False):
            early = client.post(
                f"{base}/inquiries/{inquiry_id}/record",
                body,
                content_type="application/json",
                headers={"accept-language": language},
            )
        assert early.status_code == 409, early.content
        assert early.json()["code"] == "inquiry_not_started"
        assert words in early.json()["detail"], early.json()
    untouched = Inquiry.objects.get(pk=inquiry_id)
    assert not untouched.record and not untouched.present and untouched.recorded_at is None
    assert not _events(request, "confirmation.inquiry_record").exists()
    with time_machine.travel(when + timedelta(minutes=35), tick=False):
        recorded = _api(client, _clerk(), "post", f"{base}/inquiries/{inquiry_id}/record", body)
        assert recorded.status_code == 200, recorded.content
        recorded_at = datetime.fromisoformat(recorded.json()["recorded_at"])
        assert recorded_at == when + timedelta(minutes=35)
        # Signing asks the password again.
        wrong = _api(
            client, _citizen(1), "post", f"{base}/inquiries/{inquiry_id}/sign", {"password": "nope"}
        )
        assert wrong.status_code == 403
        for user in (_citizen(1), _citizen(2), _judge(), _clerk()):
            signed = _api(
                client,
                user,
                "post",
                f"{base}/inquiries/{inquiry_id}/sign",
                {"password": factories.PASSWORD},
            )
            assert signed.status_code == 200, (user, signed.content)
        inquiry = Inquiry.objects.get(pk=inquiry_id)
        assert inquiry.closed_at is not None and len(inquiry.signed) == 4
        data = inquiry.record_pdf.read()
        assert hashlib.sha256(data).hexdigest() == inquiry.record_sha256
        text = _pdftotext(data)
        assert "询 问 笔 录" in text and "自愿达成" in text
        assert "审判员" in text and "书记员" in text
        for party in parties:
            assert party.name in text
        signs = _events(request, "confirmation.inquiry_sign")
        assert signs.count() == 4
        assert signs.order_by("-pk").first().after["record_sha256"] == inquiry.record_sha256
        pdf = _api(client, _citizen(2), "get", f"{base}/inquiries/{inquiry_id}/record.pdf")
        assert pdf.status_code == 200


def test_a_judge_hosts_the_hearing_room_and_the_parties_may_join_it(
    demo, client, django_capture_on_commit_callbacks
):
    from sessions import selectors as session_selectors
    from sessions.models import MediationSession
    from sessions.services import ticket_redeem

    request = factories.confirmation_accepted()
    when = timezone.now() + timedelta(days=1)
    with django_capture_on_commit_callbacks(execute=True):
        inquiry = services.confirmation_inquiry_schedule(
            request=request, actor=_judge(), scheduled_at=when, online=True
        )
    inquiry.refresh_from_db()
    session = MediationSession.objects.get(pk=inquiry.session_id)
    assert session.host == _judge() and session.dispute == request.agreement.dispute
    # The judge takes the host's (mediator's) place; the parties are parties; the
    # case's mediator, and the clerk, are not participants of the court's hearing.
    assert session_selectors.room_role_of(session, _judge()) == "mediator"
    assert session_selectors.room_refusal(session, _judge()) is None
    assert session_selectors.room_refusal(session, _citizen(1)) is None
    assert session_selectors.room_refusal(session, request.agreement.dispute.mediator) is not None
    assert session_selectors.room_refusal(session, _clerk()) is not None
    # The judge gets a ticket to the room although the case left mediation long ago.
    client.force_login(_judge())
    ticket = client.post(f"/api/v1/sessions/{session.pk}/ticket")
    assert ticket.status_code == 200, ticket.content
    assert ticket_redeem(session_id=session.pk, token=ticket.json()["ticket"]) == _judge()
    # The room's page opens for the judge and the parties, from their court pages.
    assert client.get(session.room_url).status_code == 200
    client.force_login(_citizen(2))
    assert client.get(session.room_url).status_code == 200
    acts = client.get(f"/court/requests/{request.pk}/acts/").content.decode()
    assert session.room_url in acts


# --- the ruling's preview ---------------------------------------------------------------


def test_a_ruling_is_issued_only_after_its_preview(demo, client):
    request = factories.confirmation_accepted()
    base = f"/api/v1/court/requests/{request.pk}"
    body = {"decision": "rejected", "reason": "协议内容不明确"}
    refused = _api(client, _judge(), "post", f"{base}/decision", {**body, "preview": "forged"})
    assert refused.status_code == 409 and refused.json()["code"] == "preview_required"
    preview = _api(client, _judge(), "post", f"{base}/decision/preview", body)
    assert preview.status_code == 200
    assert preview["Content-Type"] == "application/pdf"
    token = preview["X-Ruling-Preview"]
    text = _pdftotext(preview.content)
    assert "预" in text and "民 事 裁 定 书" in text
    request.refresh_from_db()
    assert request.status == CR.ACCEPTED and not request.ruling_pdf  # nothing stored
    # The token is for this decision and these reasons only.
    other = _api(
        client,
        _judge(),
        "post",
        f"{base}/decision",
        {**body, "reason": "另一理由", "preview": token},
    )
    assert other.status_code == 409 and other.json()["code"] == "preview_required"
    confirmed = _api(
        client,
        _judge(),
        "post",
        f"{base}/decision",
        {**body, "decision": "confirmed", "preview": token},
    )
    assert confirmed.status_code == 409
    # A clerk gets no preview.
    assert _api(client, _clerk(), "post", f"{base}/decision/preview", body).status_code == 403
    issued = _api(client, _judge(), "post", f"{base}/decision", {**body, "preview": token})
    assert issued.status_code == 200, issued.content
    assert issued.json()["status"] == CR.REJECTED


def test_the_contracts_decision_without_a_token_still_rules(demo, client):
    """CONTRACT §3: `{decision, reason}` alone; a court system previews on its side. The
    court's own page never issues without the preview (test_court_portal_pages)."""
    request = factories.confirmation_accepted()
    base = f"/api/v1/court/requests/{request.pk}"
    body = {"decision": "confirmed", "reason": ""}
    assert _api(client, _clerk(), "post", f"{base}/decision", body).status_code == 403
    ruled = _api(client, _judge(), "post", f"{base}/decision", body)
    assert ruled.status_code == 200, ruled.content
    assert ruled.json()["status"] == CR.CONFIRMED
    request.refresh_from_db()
    assert request.ruling_pdf and request.decided_by.email == factories.JUDGE


# --- the pages --------------------------------------------------------------------------


def test_the_parties_answer_and_withdraw_on_their_page_and_the_judge_orders_it(demo, client):
    request = factories.confirmation_accepted()
    services.confirmation_supplement_ask(
        request=request,
        actor=_clerk(),
        what="补充借条原件照片",
        deadline=timezone.localdate() + timedelta(days=5),
    )
    acts = f"/court/requests/{request.pk}/acts/"
    client.force_login(_citizen(1))
    case_page = client.get(f"/disputes/{request.agreement.dispute_id}/").content.decode()
    assert acts in case_page
    page = client.get(acts).content.decode()
    assert 'id="supplement-answer-form"' in page and 'id="withdraw-form"' in page
    assert "补充借条原件照片" in page
    png = factories.signature_png()
    answered = client.post(
        f"{acts}answer/",
        {"answer": "借条照片见附件", "file": io.BytesIO(png)},
        follow=True,
    )
    assert 'class="msg success"' in answered.content.decode()
    supplement = request.supplements.get()
    assert not supplement.is_open and len(supplement.evidence_ids) == 1
    client.post(f"{acts}withdraw/", {"reason": "双方已自行履行"})
    request.refresh_from_db()
    assert request.withdrawal_requested_by == _citizen(1)
    # The court's portal is not the parties' page.
    assert client.get(f"/court/requests/{request.pk}/").status_code == 404

    client.force_login(_judge())
    detail = client.get(f"/court/requests/{request.pk}/").content.decode()
    assert 'id="withdraw-allow-form"' in detail and "双方已自行履行" in detail
    client.post(f"/court/requests/{request.pk}/withdrawal/")
    request.refresh_from_db()
    assert request.status == CR.WITHDRAWN and request.withdrawal_order_pdf
    client.force_login(_citizen(2))
    case_page = client.get(f"/disputes/{request.agreement.dispute_id}/").content.decode()
    assert 'id="withdrawn"' in case_page
    assert (
        f"/api/v1/court/requests/{request.pk}/withdrawal.pdf" in client.get(acts).content.decode()
    )


def test_the_president_decides_the_extension_on_the_portal(demo, client, president):
    request = factories.confirmation_accepted()
    client.force_login(_judge())
    client.post(f"/court/requests/{request.pk}/extend/", {"reason": "需要询问当事人"})
    request.refresh_from_db()
    assert request.extension_requested_at is not None and request.rule_extended_at is None
    client.force_login(_clerk())
    assert (
        'id="extension-decision-form"'
        not in client.get(f"/court/requests/{request.pk}/").content.decode()
    )
    client.post(f"/court/requests/{request.pk}/extension/decision/", {"approve": "1"})
    request.refresh_from_db()
    assert request.rule_extended_at is None
    client.force_login(president)
    assert client.get("/court/").status_code == 200
    page = client.get(f"/court/requests/{request.pk}/").content.decode()
    assert 'id="extension-decision-form"' in page and "需要询问当事人" in page
    client.post(f"/court/requests/{request.pk}/extension/decision/", {"approve": "1"})
    request.refresh_from_db()
    assert request.rule_extended_at is not None and request.extension_approved_by == president


def test_the_record_is_written_and_signed_on_the_pages(demo, client):
    request = factories.confirmation_accepted()
    when = timezone.now() + timedelta(days=1)
    inquiry = services.confirmation_inquiry_schedule(
        request=request, actor=_judge(), scheduled_at=when, place="本院第三调解室"
    )
    parties = list(request.agreement.dispute.parties.all())
    client.force_login(_clerk())
    # Before its time the page says when the record can be written, and offers no form.
    page = client.get(f"/court/requests/{request.pk}/").content.decode()
    assert "询问尚未开始" in page and 'class="record-form"' not in page
    client.force_login(_citizen(1))
    assert "询问尚未开始" not in client.get(f"/court/requests/{request.pk}/acts/").content.decode()
    client.force_login(_clerk())
    with time_machine.travel(when + timedelta(minutes=30), tick=False):
        page = client.get(f"/court/requests/{request.pk}/").content.decode()
        assert "询问尚未开始" not in page and 'class="record-form"' in page
        client.post(
            f"/court/requests/{request.pk}/inquiries/{inquiry.pk}/record/",
            {"record": "问：是否自愿？\n答：自愿。", "present": [p.pk for p in parties]},
        )
        inquiry.refresh_from_db()
        assert inquiry.record and inquiry.present == sorted(p.pk for p in parties)
        for user in (_citizen(1), _citizen(2), _judge(), _clerk()):
            client.force_login(user)
            where = (
                f"/court/requests/{request.pk}/acts/"
                if user in (_citizen(1), _citizen(2))
                else f"/court/requests/{request.pk}/"
            )
            assert 'class="sign-form"' in client.get(where).content.decode()
            client.post(
                f"/court/requests/{request.pk}/inquiries/{inquiry.pk}/sign/",
                {"password": factories.PASSWORD},
            )
        inquiry.refresh_from_db()
        assert inquiry.closed_at is not None and inquiry.record_sha256


def test_once_docketed_the_acts_e_mails_name_the_courts_number(
    demo, mailoutbox, django_capture_on_commit_callbacks
):
    """补正 and 询问 e-mails name the court's case number once it docketed the request
    (the mediation's number before), as its rulings' and orders' e-mails do."""
    request = factories.confirmation_accepted()
    assert request.case_number
    with django_capture_on_commit_callbacks(execute=True):
        services.confirmation_supplement_ask(
            request=request,
            actor=_clerk(),
            what="补充收据",
            deadline=timezone.localdate() + timedelta(days=5),
        )
        services.confirmation_inquiry_schedule(
            request=request,
            actor=_judge(),
            scheduled_at=timezone.now() + timedelta(days=1),
            place="本院第三调解室",
        )
    subjects = [m.subject for m in mailoutbox]
    mediation_number = request.agreement.dispute.case_number
    assert any("补正材料" in s for s in subjects), subjects
    assert any("询问" in s for s in subjects), subjects
    for subject in subjects:
        assert request.case_number in subject and mediation_number not in subject, subject
