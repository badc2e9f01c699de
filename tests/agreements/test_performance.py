"""Performance of an agreement in force: one obligation per term or instalment with its
due date; marked done with proof by the party owed, or reported by the party owing and
then confirmed or disputed by the party owed; reminders before and on the due date, and
on default the way to enforcement (confirmed agreement) or to a lawsuit (otherwise)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.utils import timezone

from agreements.court import services
from agreements.court.performance_transitions import MACHINE as OBLIGATION_MACHINE
from agreements.court.performance_transitions import obligation_actions
from agreements.models import Performance
from agreements.reminders import send_due
from odr.errors import DomainError
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


def test_the_obligee_marks_an_obligation_done_with_proof_and_the_others_are_told(
    agreement, client, mailoutbox, django_capture_on_commit_callbacks
):
    first = Performance.objects.get(agreement=agreement, instalment_index=1)
    client.force_login(factories.demo_user("citizen1@demo.odr"))  # the applicant, owed
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/api/v1/obligations/{first.pk}/done",
            {"note": "已收到银行转账", "file": SimpleUploadedFile("../../回单.png", PNG)},
        )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "done" and body["done_at"] and body["note"] == "已收到银行转账"
    assert body["proof"]["name"] == "回单.png" and body["actions"] == []
    first.refresh_from_db()
    assert first.done_by.email == "citizen1@demo.odr"
    assert "/" not in first.proof_filename
    assert sorted(m.to[0] for m in mailoutbox) == ["citizen2@demo.odr", "mediator@demo.odr"]
    event = AuditEvent.objects.filter(action="performance.mark").get()
    assert event.after["proof_sha256"] == first.proof_sha256
    assert (event.before["status"], event.after["status"]) == ("open", "done")
    # The other party can fetch the proof; a stranger cannot.
    client.force_login(factories.demo_user("citizen2@demo.odr"))
    proof = client.get(body["proof"]["url"])
    assert proof.status_code == 200 and b"".join(proof.streaming_content) == PNG
    client.force_login(factories.make_user())
    assert client.get(body["proof"]["url"]).status_code == 404
    # Marking it twice is a conflict.
    client.force_login(factories.demo_user("citizen1@demo.odr"))
    again = client.post(f"/api/v1/obligations/{first.pk}/done", {"note": "再次"})
    assert again.status_code == 409


def test_the_obligor_marking_his_own_obligation_only_reports_it_and_the_obligee_is_asked(
    agreement, client, mailoutbox, django_capture_on_commit_callbacks
):
    """Issue 11, L3: `POST /done` by the debtor answered 200 with the obligation done, and
    the creditor could not dispute it (409). Now the debtor's word is a report; the
    creditor is told at once and confirms it, and only then is it performed."""
    first = Performance.objects.get(agreement=agreement, instalment_index=1)
    client.force_login(factories.demo_user("citizen2@demo.odr"))  # the respondent, owing
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/api/v1/obligations/{first.pk}/done",
            {"note": "已通过银行转账支付", "file": SimpleUploadedFile("回单.png", PNG)},
        )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "reported" and body["done_at"] is None and body["reported_at"]
    assert body["actions"] == [] and body["proof"]["name"] == "回单.png"
    first.refresh_from_db()
    assert not first.is_done and first.reported_by.email == "citizen2@demo.odr"
    assert first.reported_role == "respondent"
    report = AuditEvent.objects.get(action="performance.report")
    assert report.after["status"] == "reported" and report.after["note"] == "已通过银行转账支付"
    asked = {m.to[0]: m for m in mailoutbox}
    assert sorted(asked) == ["citizen1@demo.odr", "mediator@demo.odr"]
    assert f"#obligation-{first.pk}" in asked["citizen1@demo.odr"].body

    # The obligee sees the report and what he may do with it.
    client.force_login(factories.demo_user("citizen1@demo.odr"))
    listed = client.get(f"/api/v1/agreements/{agreement.pk}/obligations").json()["items"]
    mine = next(i for i in listed if i["id"] == first.pk)
    assert mine["status"] == "reported" and mine["actions"] == ["confirm", "dispute"]
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        confirmed = client.post(f"/api/v1/obligations/{first.pk}/confirm")
    assert confirmed.status_code == 200, confirmed.content
    assert confirmed.json()["status"] == "done" and confirmed.json()["done_at"]
    first.refresh_from_db()
    assert first.is_done and first.done_by.email == "citizen1@demo.odr"
    event = AuditEvent.objects.get(action="performance.confirm")
    assert (event.before["status"], event.after["status"]) == ("reported", "done")
    assert sorted(m.to[0] for m in mailoutbox) == ["citizen2@demo.odr", "mediator@demo.odr"]


def test_the_obligee_disputes_a_report_with_a_reason_and_it_is_open_again_and_shown_disputed(
    agreement, client, mailoutbox, django_capture_on_commit_callbacks
):
    first = Performance.objects.get(agreement=agreement, instalment_index=1)
    obligor = factories.demo_user("citizen2@demo.odr")
    services.performance_mark_done(obligation=first, actor=obligor, note="已付款")
    client.force_login(factories.demo_user("citizen1@demo.odr"))
    without_reason = client.post(
        f"/api/v1/obligations/{first.pk}/dispute", {"reason": " \u200b "}, "application/json"
    )
    assert without_reason.status_code == 400
    assert without_reason.json()["code"] == "reason_required"
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/api/v1/obligations/{first.pk}/dispute",
            {"reason": "账户未收到\u202e款项"},
            "application/json",
        )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "open" and body["disputed"] is True
    assert body["dispute_reason"] == "账户未收到款项"  # the bidi override is gone (L7)
    event = AuditEvent.objects.get(action="performance.dispute")
    assert (event.before["status"], event.after["status"]) == ("reported", "open")
    assert event.after["reason"] == "账户未收到款项"
    told = {m.to[0]: m.body for m in mailoutbox}
    assert "账户未收到款项" in told["citizen2@demo.odr"] and "mediator@demo.odr" in told
    # The case page shows it disputed, with the reason, and the obligor may report again.
    page = client.get(f"/disputes/{agreement.dispute_id}/").content.decode()
    row = page.split(f'id="obligation-{first.pk}"')[1].split("</li>")[0]
    assert 'data-status="open"' in page and "账户未收到款项" in row
    assert "disputed" in row or "异议" in row
    client.force_login(obligor)
    listed = client.get(f"/api/v1/agreements/{agreement.pk}/obligations").json()["items"]
    assert next(i for i in listed if i["id"] == first.pk)["actions"] == ["report"]
    again = client.post(f"/api/v1/obligations/{first.pk}/done", {"note": "已重新转账"})
    assert again.status_code == 200 and again.json()["status"] == "reported"
    assert again.json()["disputed"] is False


def test_only_the_obligee_answers_a_report_and_only_a_report(agreement, client):
    first = Performance.objects.get(agreement=agreement, instalment_index=1)
    urls = (f"/api/v1/obligations/{first.pk}/confirm", f"/api/v1/obligations/{first.pk}/dispute")
    body = {"reason": "未收到"}
    client.force_login(factories.demo_user("citizen1@demo.odr"))
    # Nothing reported yet: nothing to confirm or dispute.
    for url in urls:
        refused = client.post(url, body, "application/json")
        assert refused.status_code == 409 and refused.json()["code"] == "invalid_status"
    services.performance_mark_done(
        obligation=first, actor=factories.demo_user("citizen2@demo.odr"), note="已付款"
    )
    for email in ("citizen2@demo.odr", "mediator@demo.odr", "coordinator@demo.odr"):
        client.force_login(factories.demo_user(email))
        for url in urls:
            refused = client.post(url, body, "application/json")
            assert refused.status_code == 403, (email, url, refused.content)
    client.force_login(factories.make_user())
    for url in urls:
        assert client.post(url, body, "application/json").status_code == 404
    # While the report waits, the obligee cannot mark it alone: he answers the report.
    client.force_login(factories.demo_user("citizen1@demo.odr"))
    assert client.post(f"/api/v1/obligations/{first.pk}/done", {"note": "x"}).status_code == 409
    first.refresh_from_db()
    assert first.status == Performance.Status.REPORTED
    assert not AuditEvent.objects.filter(
        action__in=("performance.confirm", "performance.dispute", "performance.mark")
    ).exists()


def test_the_case_page_reports_confirms_and_disputes_through_its_forms(
    agreement, client, django_capture_on_commit_callbacks
):
    first = Performance.objects.get(agreement=agreement, instalment_index=1)
    case = f"/disputes/{agreement.dispute_id}/"
    client.force_login(factories.demo_user("citizen2@demo.odr"))
    page = client.get(case).content.decode()
    row = page.split(f'id="obligation-{first.pk}"')[1].split("</li>")[0]
    assert (
        f"/obligations/{first.pk}/done/" in row and f"/obligations/{first.pk}/confirm/" not in row
    )
    response = client.post(f"/obligations/{first.pk}/done/", {"note": "已转账"}, follow=True)
    assert response.redirect_chain[-1][0].endswith(f"#obligation-{first.pk}")
    first.refresh_from_db()
    assert first.status == Performance.Status.REPORTED
    assert 'data-status="reported"' in response.content.decode()

    client.force_login(factories.demo_user("citizen1@demo.odr"))
    page = client.get(case).content.decode()
    row = page.split(f'id="obligation-{first.pk}"')[1].split("</li>")[0]
    assert f"/obligations/{first.pk}/confirm/" in row and f"/obligations/{first.pk}/dispute/" in row
    client.post(f"/obligations/{first.pk}/dispute/", {"reason": "未收到"})
    first.refresh_from_db()
    assert first.is_disputed and first.dispute_reason == "未收到"

    client.force_login(factories.demo_user("citizen2@demo.odr"))
    client.post(f"/obligations/{first.pk}/done/", {"note": "已重新转账"})
    client.force_login(factories.demo_user("citizen1@demo.odr"))
    client.post(f"/obligations/{first.pk}/confirm/")
    first.refresh_from_db()
    assert first.is_done and first.done_by.email == "citizen1@demo.odr"
    actions = list(
        AuditEvent.objects.filter(object_type="agreements.performance", object_id=str(first.pk))
        .order_by("seq")
        .values_list("action", flat=True)
    )
    assert actions == [
        "performance.report",
        "performance.dispute",
        "performance.report",
        "performance.confirm",
    ]


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


@pytest.mark.parametrize("email", ["citizen1@demo.odr", "citizen2@demo.odr"])
def test_an_obligation_done_or_reported_is_not_reminded_until_a_dispute_reopens_it(
    agreement, mailoutbox, email
):
    apology = Performance.objects.get(agreement=agreement, term_index=2)
    services.performance_mark_done(
        obligation=apology, actor=factories.demo_user(email), note="已道歉"
    )
    when = START + timedelta(days=5)
    with time_machine.travel(when, tick=False):
        send_due(now=when)
    apology.refresh_from_db()
    assert apology.due_reminded_at is None
    if apology.is_reported:  # the obligor's word: the obligee disputes it
        services.performance_dispute(
            obligation=apology, actor=factories.demo_user("citizen1@demo.odr"), reason="没有道歉"
        )
        with time_machine.travel(when, tick=False):
            send_due(now=when)
        apology.refresh_from_db()
        assert apology.due_reminded_at == when


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


# --- the obligation's machine: what is offered is what is accepted ------------------------

CALLERS = {
    "applicant": "citizen1@demo.odr",  # the obligee of every obligation here
    "respondent": "citizen2@demo.odr",  # the obligor
    "mediator": "mediator@demo.odr",
    "coordinator": "coordinator@demo.odr",
    "clerk": "clerk@demo.odr",
}
OBLIGATION_ATTEMPTS = {
    # One form marks or reports, by who sends it: both try the same call.
    "mark": lambda o, user: services.performance_mark_done(obligation=o, actor=user, note="已履行"),
    "report": lambda o, user: services.performance_mark_done(
        obligation=o, actor=user, note="已履行"
    ),
    "confirm": lambda o, user: services.performance_confirm(obligation=o, actor=user),
    "dispute": lambda o, user: services.performance_dispute(
        obligation=o, actor=user, reason="未收到"
    ),
}
OBLIGATION_OFFERS = {
    "open": {"applicant": ["mark"], "respondent": ["report"]},
    "reported": {"applicant": ["confirm", "dispute"]},
    "done": {},
    "disputed": {"applicant": ["mark"], "respondent": ["report"]},
}


class _Undo(Exception):
    def __init__(self, done: bool) -> None:
        self.done = done


def _carried_out(audit_action: str, attempt) -> bool:
    """Runs `attempt` in a savepoint rolled back; True when it wrote `audit_action`."""
    before = AuditEvent.objects.filter(action=audit_action).count()
    try:
        with transaction.atomic():
            attempt()
            raise _Undo(AuditEvent.objects.filter(action=audit_action).count() > before)
    except _Undo as undo:
        return undo.done
    except DomainError:
        return False


def test_every_obligation_action_offered_is_carried_out_and_every_other_is_refused(agreement):
    obligee, obligor = (factories.demo_user(CALLERS[r]) for r in ("applicant", "respondent"))
    rows = list(Performance.objects.filter(agreement=agreement).order_by("pk"))
    services.performance_mark_done(obligation=rows[1], actor=obligor, note="已付款")
    services.performance_mark_done(obligation=rows[2], actor=obligee, note="已收到")
    other = factories.agreement_in_force()
    disputed = services.performance_schedule(agreement=other)[0]
    services.performance_mark_done(obligation=disputed, actor=obligor, note="已付款")
    services.performance_dispute(obligation=disputed, actor=obligee, reason="未收到")
    states = {"open": rows[0].pk, "reported": rows[1].pk, "done": rows[2].pk}
    states["disputed"] = disputed.pk
    users = {who: factories.demo_user(email) for who, email in CALLERS.items()}
    users["stranger"] = factories.make_user()
    offered, wrong = {}, []
    for state, pk in states.items():
        for who, user in users.items():
            actions = obligation_actions(Performance.objects.get(pk=pk), user)
            offered[(state, who)] = actions
            for name in OBLIGATION_MACHINE.public_names:
                done = _carried_out(
                    OBLIGATION_MACHINE[name].action,
                    lambda n=name, p=pk, u=user: OBLIGATION_ATTEMPTS[n](
                        Performance.objects.get(pk=p), u
                    ),
                )
                if done != (name in actions):
                    wrong.append((state, who, name))
    assert wrong == []
    assert offered == {
        (state, who): OBLIGATION_OFFERS[state].get(who, []) for state in states for who in users
    }


def test_a_term_that_names_no_party_is_reported_by_one_side_and_confirmed_by_the_other(
    agreement,
):
    loose = Performance.objects.create(
        agreement=agreement, term_index=9, description="双方共同办理过户手续。"
    )
    applicant, respondent = (factories.demo_user(CALLERS[r]) for r in ("applicant", "respondent"))
    assert obligation_actions(loose, applicant) == ["report"]  # nobody may close it alone
    services.performance_mark_done(obligation=loose, actor=respondent, note="已办理")
    loose.refresh_from_db()
    assert loose.is_reported and loose.reported_role == "respondent"
    assert obligation_actions(loose, respondent) == []
    assert obligation_actions(loose, applicant) == ["confirm", "dispute"]
    assert services.performance_confirm(obligation=loose, actor=applicant).is_done
