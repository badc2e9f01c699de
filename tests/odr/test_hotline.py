"""The 12345 hotline bridge (issue 10, point 3; CONTRACT §1, §3): the token, the ticket
endpoints, first contact against the clock, closing, and the caller's survey."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from odr import sms
from odr.errors import Forbidden, Invalid
from odr.models import AuditEvent, Dispute, DuplicateLink, HotlineTicket, HotlineToken
from odr.services import dispute_file, hotline
from odr.services.party_input import PartyInput
from tests import factories
from tests.odr.api_support import assert_error, post, run_race_script
from tests.postgres import scratch_database

pytestmark = pytest.mark.django_db

DEMO_TOKEN = "odr-demo-hotline-2026"
SCRIPT = Path(__file__).with_name("concurrent_tickets.py")


def ticket_body(ticket_id: str = "AJ-2026-000123", **extra) -> dict:
    return {
        "ticket_id": ticket_id,
        "received_at": timezone.now().isoformat(),
        "caller": {"name": "王五", "phone": "13812345678"},
        "text": "邻居家装修每天晚上十点后还在施工，噪音很大。",
        "region": "330523101201",
        "category": "neighbour",
        **extra,
    }


def send(body: dict, token: str = DEMO_TOKEN):
    return post(Client(), "/api/v1/hotline/tickets", body, HTTP_AUTHORIZATION=f"Bearer {token}")


def read(ticket_id: str, token: str = DEMO_TOKEN):
    return Client().get(
        f"/api/v1/hotline/tickets/{ticket_id}", HTTP_AUTHORIZATION=f"Bearer {token}"
    )


def staff(email: str = "coordinator.yucun@demo.odr") -> Client:
    client = Client()
    client.force_login(factories.demo_user(email))
    return client


# --- the token ---------------------------------------------------------------------------


def test_a_ticket_makes_a_hotline_dispute_routed_like_any_other(demo):
    answer = send(ticket_body())
    assert answer.status_code == 201, answer.content
    body = answer.json()
    assert set(body) == {"id", "ticket_id", "dispute", "status"}
    assert body["ticket_id"] == "AJ-2026-000123" and body["status"] == "open"
    dispute = Dispute.objects.get(pk=body["dispute"])
    assert dispute.channel == "hotline"
    # A neighbours' quarrel in 余村 stays in the village (CONTRACT §3 routing).
    assert dispute.organisation.name == "余村人民调解委员会"
    assert dispute.status == Dispute.Status.AWAITING_INTAKE
    (applicant,) = dispute.parties.all()
    assert (applicant.role, applicant.name, applicant.phone) == ("applicant", "王五", "13812345678")
    assert applicant.user is None
    assert dispute.filed_by.hotline_token.name == "演示12345热线"
    assert AuditEvent.objects.filter(dispute=dispute, action="hotline.receive").count() == 1
    # The default clock: ODR_HOTLINE_RESPOND_HOURS after arrival.
    ticket = HotlineTicket.objects.get(pk=body["id"])
    assert ticket.respond_by - ticket.received_at == timedelta(hours=24)


def test_the_same_ticket_twice_is_one_ticket(demo):
    first = send(ticket_body())
    again = send(ticket_body(text="再次转来"))
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert HotlineTicket.objects.count() == 1
    assert Dispute.objects.filter(channel="hotline").count() == 1


def test_a_second_ticket_from_the_same_caller_is_linked_to_the_open_case(demo):
    first = send(ticket_body()).json()
    second = send(ticket_body("AJ-2026-000124", text="同一邻居又在夜间施工")).json()
    assert first["dispute"] != second["dispute"]
    (link,) = DuplicateLink.objects.all()
    assert (link.dispute_id, link.original_id) == (second["dispute"], first["dispute"])


def test_a_ticket_is_filed_through_the_one_filing_path_with_no_one_else_named(demo):
    """The ticket's case is filed by odr.services.filing.dispute_file like every other:
    the same audit event, the caller as its only party, at intake from the start, dated
    when the ticket came in."""
    received = timezone.now() - timedelta(hours=3)
    body = send(ticket_body(received_at=received.isoformat())).json()
    dispute = Dispute.objects.get(pk=body["dispute"])
    assert dispute.status == Dispute.Status.AWAITING_INTAKE
    assert dispute.created_at == received and dispute.intake_at > received
    assert not dispute.parties.filter(role="respondent").exists()
    (event,) = AuditEvent.objects.filter(dispute=dispute, action="dispute.file")
    assert event.actor == dispute.filed_by
    assert event.after["channel"] == "hotline"
    assert (event.after["respondents"], event.after["co_applicants"]) == (0, 0)
    assert event.after["case_number"] == dispute.case_number


def test_only_the_hotline_bridge_files_through_the_hotline_channel(demo):
    with pytest.raises(Forbidden) as refused:
        dispute_file(
            applicant=factories.demo_user("reception@demo.odr"),
            channel=Dispute.Channel.HOTLINE,
            on_behalf_of=PartyInput(name="王五", phone="13812345678"),
            respondents=[],
            category="neighbour",
            title="冒充热线",
            description="不是热线转来的工单。",
            region_code="330523101201",
        )
    assert refused.value.code == "hotline_only"
    assert not Dispute.objects.filter(channel="hotline").exists()


def test_a_filing_other_than_a_hotline_ticket_still_names_a_respondent(demo):

    with pytest.raises(Invalid) as refused:
        dispute_file(
            applicant=factories.with_identity(factories.demo_user("citizen1@demo.odr")),
            respondents=[],
            category="neighbour",
            title="邻里纠纷",
            description="没有写对方。",
            region_code="330523101201",
        )
    assert refused.value.code == "respondent_required"
    assert not Dispute.objects.filter(title="邻里纠纷").exists()


def run_race(env_extra: dict[str, str], tmp_path: Path) -> dict:
    return run_race_script(SCRIPT, tmp_path, env_extra)


def assert_one_ticket(outcome: dict) -> None:
    assert outcome["errors"] == []
    assert outcome["answers"] == 6
    assert len(outcome["ids"]) == 1  # every answer names the same ticket
    assert outcome["created"] == 1
    assert (outcome["tickets"], outcome["disputes"]) == (1, 1)
    assert outcome["audit_problems"] == []


def test_the_same_ticket_sent_six_times_at_once_on_a_sqlite_file_is_one_ticket(tmp_path):
    outcome = run_race({}, tmp_path)
    assert outcome["vendor"] == "sqlite"
    assert_one_ticket(outcome)


@pytest.mark.scaleout
def test_the_same_ticket_sent_six_times_at_once_on_postgresql_is_one_ticket(tmp_path):
    with scratch_database("odr_hotline") as url:
        outcome = run_race({"DATABASE_URL": url}, tmp_path)
    assert outcome["vendor"] == "postgresql"
    assert_one_ticket(outcome)


@pytest.mark.parametrize(
    "header",
    [None, "Bearer wrong-token", "Token odr-demo-hotline-2026", "Bearer "],
)
def test_a_missing_or_bad_token_is_refused_with_401_and_nothing_is_made(demo, header):
    extra = {"HTTP_AUTHORIZATION": header} if header is not None else {}
    answer = post(Client(), "/api/v1/hotline/tickets", ticket_body(), **extra)
    assert_error(answer, 401)
    get = Client().get("/api/v1/hotline/tickets/AJ-2026-000123", **extra)
    assert_error(get, 401)
    assert HotlineTicket.objects.count() == 0


def test_a_revoked_token_is_refused_and_a_citizens_session_is_no_token(demo):
    token, value = hotline.token_create(name="测试热线")
    assert send(ticket_body("T-1"), token=value).status_code == 201
    hotline.token_revoke(token=token)
    assert_error(send(ticket_body("T-2"), token=value), 401)
    citizen = Client()
    citizen.force_login(factories.demo_user("citizen1@demo.odr"))
    assert_error(post(citizen, "/api/v1/hotline/tickets", ticket_body("T-3")), 401)
    assert HotlineTicket.objects.count() == 1


def test_the_token_command_prints_a_new_token_once_and_keeps_only_its_hash(demo, capsys):
    call_command("hotline_token", "县12345热线")
    value = capsys.readouterr().out.strip()
    token = HotlineToken.objects.get(name="县12345热线")
    assert value and value not in (token.key_hash, token.prefix)
    assert token.key_hash == hotline.token_hash(value)
    assert send(ticket_body("T-9"), token=value).status_code == 201
    assert not token.user.is_active and not token.user.has_usable_password()


def test_bad_ticket_input_is_refused_clearly_and_nothing_is_made(demo):
    assert_error(send(ticket_body(region="999999999999")), 400, "invalid_region")
    assert_error(send(ticket_body(category="weather")), 400, "invalid_category")
    assert_error(send(ticket_body(caller={"name": "", "phone": "1"})), 400)
    late = (timezone.now() - timedelta(days=1)).isoformat()
    assert_error(send(ticket_body(respond_by=late)), 400, "invalid_respond_by")
    assert send({"ticket_id": "x"}).status_code == 422
    assert HotlineTicket.objects.count() == 0
    assert not Dispute.objects.exists()


# --- first contact against the clock -----------------------------------------------------


def test_the_hotline_reads_the_ticket_as_the_contract_says(demo):
    send(ticket_body())
    answer = read("AJ-2026-000123")
    assert answer.status_code == 200
    assert answer.json() == {
        "ticket_id": "AJ-2026-000123",
        "status": "open",
        "responded_at": None,
        "resolved_at": None,
        "satisfaction": None,
    }
    assert_error(read("NO-SUCH"), 404)


def test_first_contact_recorded_on_the_case_page_in_time_counts_as_on_time(demo):
    dispute_id = send(ticket_body()).json()["dispute"]
    client = staff()
    page = client.get(f"/disputes/{dispute_id}/")
    assert page.status_code == 200
    assert "AJ-2026-000123" in page.content.decode()
    assert f"/disputes/{dispute_id}/hotline/respond/" in page.content.decode()
    answer = client.post(f"/disputes/{dispute_id}/hotline/respond/")
    assert answer.status_code == 302
    ticket = HotlineTicket.objects.get()
    assert ticket.status == "responded" and ticket.responded_late is False
    assert AuditEvent.objects.filter(action="hotline.respond").count() == 1
    assert read(ticket.ticket_id).json()["responded_at"] is not None


def test_a_ticket_answered_after_its_respond_by_is_counted_late(demo):
    received = timezone.now() - timedelta(hours=30)
    body = ticket_body(
        received_at=received.isoformat(), respond_by=(received + timedelta(hours=2)).isoformat()
    )
    send(body)
    answer = post(staff(), "/api/v1/hotline/tickets/AJ-2026-000123/actions/respond")
    assert answer.status_code == 200, answer.content
    assert answer.json()["responded_late"] is True
    from odr import figures

    rates = figures.hotline_rates(HotlineTicket.objects.all())
    assert (rates["due"], rates["on_time"], rates["late"]) == (1, 0, 1)
    assert rates["response_rate"] == 0.0


def test_only_the_cases_organisation_staff_may_act_on_the_ticket(demo):
    send(ticket_body())
    path = "/api/v1/hotline/tickets/AJ-2026-000123/actions/respond"
    # The county centre's coordinator does not see a village case: 404, not 403.
    assert_error(post(staff("coordinator@demo.odr"), path), 404)
    citizen = Client()
    citizen.force_login(factories.demo_user("citizen1@demo.odr"))
    assert_error(post(citizen, path), 404)
    assert_error(post(Client(), path), 401)
    assert HotlineTicket.objects.get().status == "open"
    # Twice is refused the second time: the status moved on.
    assert post(staff(), path).status_code == 200
    assert_error(post(staff(), path), 409, "invalid_status")


# --- closing and the survey --------------------------------------------------------------


def test_closing_texts_the_caller_a_single_use_survey_link(
    demo, client, django_capture_on_commit_callbacks
):
    send(ticket_body())
    coordinator = staff()
    post(coordinator, "/api/v1/hotline/tickets/AJ-2026-000123/actions/respond")
    with django_capture_on_commit_callbacks(execute=True):
        answer = post(coordinator, "/api/v1/hotline/tickets/AJ-2026-000123/actions/resolve")
    assert answer.status_code == 200 and answer.json()["status"] == "resolved"
    (text,) = sms.sent_texts()
    assert text["to"] == "+8613812345678"
    ticket = HotlineTicket.objects.get()
    link = f"/survey/{ticket.survey_token}/"
    assert link in text["text"]
    page = client.get(link)
    assert page.status_code == 200 and 'name="score"' in page.content.decode()
    done = client.post(link, {"score": "4", "comment": "处理及时"})
    assert done.status_code == 200 and "survey-thanks" in done.content.decode()
    again = client.post(link, {"score": "1", "comment": "改评"})
    assert again.status_code == 200 and "survey-answered" in again.content.decode()
    ticket.refresh_from_db()
    assert (ticket.satisfaction, ticket.survey_comment) == (4, "处理及时")
    # The API says the same: a second answer is gone (410), the first kept.
    assert_error(
        post(Client(), f"/api/v1/hotline/surveys/{ticket.survey_token}", {"score": 2}), 410
    )
    assert read("AJ-2026-000123").json()["satisfaction"] == 4
    assert read("AJ-2026-000123").json()["resolved_at"] is not None


def test_a_survey_refuses_a_score_outside_1_to_5_and_an_unknown_link(demo, client):
    send(ticket_body())
    ticket = HotlineTicket.objects.get()
    # Not closed yet: the link is not open.
    assert client.get(f"/survey/{ticket.survey_token}/").status_code == 404
    post(
        staff(),
        "/api/v1/hotline/tickets/AJ-2026-000123/actions/close_unresolved",
        {"reason": "来电人联系不上"},
    )
    assert client.post(f"/survey/{ticket.survey_token}/", {"score": "9"}).status_code == 400
    assert client.get("/survey/not-a-token/").status_code == 404
    ticket.refresh_from_db()
    assert ticket.status == "unresolved" and ticket.satisfaction is None


def test_closing_unresolved_by_staff_needs_a_reason(demo):
    send(ticket_body())
    path = "/api/v1/hotline/tickets/AJ-2026-000123/actions/close_unresolved"
    assert_error(post(staff(), path, {"reason": ""}), 400, "reason_required")
    assert HotlineTicket.objects.get().status == "open"


def test_the_ticket_closes_with_its_case(demo, django_capture_on_commit_callbacks):
    from odr import services

    dispute_id = send(ticket_body()).json()["dispute"]
    dispute = Dispute.objects.get(pk=dispute_id)
    coordinator = factories.demo_user("coordinator.yucun@demo.odr")
    mediator = factories.demo_user("mediator.yucun@demo.odr")
    services.dispute_accept(dispute=dispute, actor=coordinator, mediator=mediator.pk)
    with django_capture_on_commit_callbacks(execute=True):
        services.dispute_fail(
            dispute=Dispute.objects.get(pk=dispute_id), actor=mediator, reason="双方分歧过大"
        )
    ticket = HotlineTicket.objects.get()
    assert ticket.status == "unresolved" and ticket.closed_at is not None
    assert AuditEvent.objects.filter(action="hotline.close_unresolved", actor=None).count() == 1
    assert len(sms.sent_texts()) == 1


def test_the_admin_makes_a_token_shows_it_once_and_revokes_it(demo):
    from django.contrib.messages import get_messages

    admin = Client()
    admin.force_login(factories.demo_user("admin@demo.odr"))
    answer = admin.post("/admin/odr/hotlinetoken/add/", {"name": "市12345热线"})
    assert answer.status_code == 302, answer.content[:2000]
    shown = " ".join(str(m) for m in get_messages(answer.wsgi_request))
    token = HotlineToken.objects.get(name="市12345热线")
    value = re.search(r"odr-hl-[\w-]+", shown).group(0)
    assert hotline.token_authenticate(value) == token
    answer = admin.post(
        "/admin/odr/hotlinetoken/",
        {"action": "revoke", "_selected_action": [token.pk]},
    )
    assert answer.status_code == 302
    assert hotline.token_authenticate(value) is None
    assert HotlineToken.objects.filter(pk=token.pk, revoked_at__isnull=False).exists()
