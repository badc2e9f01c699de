"""The case page, its actions and the lists, for each role."""

from __future__ import annotations

import io

import pytest
from django.core import mail
from django.urls import reverse

from odr import services
from odr.models import AuditEvent, Dispute, Evidence, Message
from tests import factories
from tests.factories import demo_user

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def _client(client, email: str):
    client.force_login(demo_user(email))
    return client


def _url(dispute: Dispute) -> str:
    return reverse("odr:dispute_detail", args=[dispute.pk])


@pytest.mark.parametrize(
    "email",
    ["citizen1@demo.odr", "citizen2@demo.odr", "mediator@demo.odr", "coordinator@demo.odr"],
)
def test_each_party_and_the_staff_of_the_case_see_the_case_page(demo, client, email):
    dispute = factories.dispute_in_mediation()
    response = _client(client, email).get(_url(dispute))
    assert response.status_code == 200
    assert dispute.case_number in response.content.decode()
    assert 'id="mediation-deadline"' in response.content.decode()


@pytest.mark.parametrize("email", ["clerk@demo.odr", "mediator.yucun@demo.odr"])
def test_someone_outside_the_case_gets_404_on_its_page(demo, client, email):
    dispute = factories.dispute_in_mediation()
    assert _client(client, email).get(_url(dispute)).status_code == 404


def test_a_visitor_who_is_not_logged_in_is_sent_to_the_login_page(demo, client):
    dispute = factories.file_dispute()
    response = client.get(_url(dispute))
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


def test_the_parties_and_staff_read_the_phone_in_full_and_others_see_it_masked(demo, client):
    """DESIGN.md §3: the originals the parties and the court hold name everyone fully, so
    the case page shows each party's particulars in full to the parties, the mediator and
    the organisation's staff; anyone else who sees the case reads them masked."""
    dispute = factories.dispute_in_mediation()
    for email in ("citizen2@demo.odr", "coordinator@demo.odr", "mediator@demo.odr"):
        page = _client(client, email).get(_url(dispute)).content.decode()
        assert "13800000001" in page, email  # the applicant's phone
        client.logout()
    admin_view = _client(client, "admin@demo.odr").get(_url(dispute)).content.decode()
    assert "138****0001" in admin_view
    assert "13800000001" not in admin_view


def test_the_id_number_is_shown_in_full_to_those_with_the_right_and_masked_to_others(demo, client):
    dispute = factories.dispute_in_mediation()
    applicant = demo_user("citizen1@demo.odr")
    full = applicant.profile.id_number
    # The applicant's profile reaches their party on the case (no agreement yet).
    services.profile_update(user=applicant, id_number=full)
    for email in ("citizen1@demo.odr", "citizen2@demo.odr", "mediator@demo.odr"):
        page = _client(client, email).get(_url(dispute)).content.decode()
        assert full in page, email
        client.logout()
    admin_view = _client(client, "admin@demo.odr").get(_url(dispute)).content.decode()
    assert full not in admin_view
    assert full[:6] + "*" * 11 + full[-1] in admin_view


def test_the_timeline_tells_the_story_in_words(demo, client):
    dispute = factories.dispute_in_mediation()
    page = _client(client, "citizen1@demo.odr").get(_url(dispute)).content.decode()
    timeline = page.split('id="timeline"')[1]
    assert timeline.count("<li>") == AuditEvent.objects.filter(dispute=dispute).count()
    assert "dispute.file" not in timeline  # readable words, not codes
    assert "李调解" in timeline  # the mediator named by the accept event


def test_the_coordinator_sees_each_mediators_load_and_accepts_through_the_page(demo, client):
    dispute = factories.dispute_awaiting_intake()
    factories.dispute_in_mediation(title="另一件")  # the demo mediator now carries one case
    c = _client(client, "coordinator@demo.odr")
    page = c.get(_url(dispute)).content.decode()
    assert 'id="action-accept"' in page and 'id="action-reject"' in page
    mediator = demo_user("mediator@demo.odr")
    option = page.split(f'<option value="{mediator.pk}"')[1].split("</option>")[0]
    assert "1" in option  # one open case shown next to the mediator's name
    response = c.post(
        reverse("odr:dispute_action", args=[dispute.pk, "accept"]), {"mediator": mediator.pk}
    )
    assert response.status_code == 302
    dispute.refresh_from_db()
    assert dispute.status == Dispute.Status.IN_MEDIATION
    assert dispute.mediator == mediator
    assert AuditEvent.objects.filter(dispute=dispute, action="dispute.accept").exists()


def test_a_refusal_without_a_reason_is_refused_in_place_and_nothing_changes(demo, client):
    dispute = factories.dispute_awaiting_intake()
    c = _client(client, "coordinator@demo.odr")
    response = c.post(reverse("odr:dispute_action", args=[dispute.pk, "reject"]), {"reason": " "})
    dispute.refresh_from_db()
    assert dispute.status == Dispute.Status.AWAITING_INTAKE
    assert response.status_code == 400
    assert "请填写不予受理的理由。" in response.content.decode()


def test_an_action_the_user_may_not_take_is_refused_in_place(demo, client):
    dispute = factories.dispute_awaiting_intake()
    response = _client(client, "citizen2@demo.odr").post(
        reverse("odr:dispute_action", args=[dispute.pk, "reject"]), {"reason": "不想"}
    )
    dispute.refresh_from_db()
    assert dispute.status == Dispute.Status.AWAITING_INTAKE
    assert response.status_code == 400
    assert response.context["action_forms"][-1]["form"].non_field_errors() == [
        "您无权进行此项操作。"
    ]


def test_withdrawing_needs_the_confirmation_box(demo, client):
    dispute = factories.file_dispute()
    c = _client(client, "citizen1@demo.odr")
    url = reverse("odr:dispute_action", args=[dispute.pk, "withdraw"])
    c.post(url, {})
    dispute.refresh_from_db()
    assert dispute.status == Dispute.Status.FILED
    c.post(url, {"confirm": "1"})
    dispute.refresh_from_db()
    assert dispute.status == Dispute.Status.WITHDRAWN


def test_a_failed_mediation_shows_the_referral_guidance(demo, client):
    dispute = factories.dispute_in_mediation()
    c = _client(client, "mediator@demo.odr")
    page = c.get(_url(dispute)).content.decode()
    assert 'id="action-fail"' in page
    c.post(reverse("odr:dispute_action", args=[dispute.pk, "fail"]), {"reason": "双方差距太大"})
    dispute.refresh_from_db()
    assert dispute.status == Dispute.Status.FAILED
    client.logout()
    page = _client(client, "citizen1@demo.odr").get(_url(dispute)).content.decode()
    assert 'id="referral"' in page
    assert "仲裁" in page  # arbitration, in the default language


def test_parties_and_the_mediator_write_messages_and_the_others_are_told(
    demo, client, django_capture_on_commit_callbacks
):
    dispute = factories.dispute_in_mediation()
    mail.outbox.clear()
    c = _client(client, "citizen2@demo.odr")
    with django_capture_on_commit_callbacks(execute=True):
        c.post(reverse("odr:message_post", args=[dispute.pk]), {"text": "我下周可以还五千。"})
    assert Message.objects.filter(dispute=dispute).count() == 1
    assert {m.to[0] for m in mail.outbox} == {"citizen1@demo.odr", "mediator@demo.odr"}
    assert f"/disputes/{dispute.pk}/#messages" in mail.outbox[0].body
    assert "我下周可以还五千" not in mail.outbox[0].body  # the text stays on the platform
    client.logout()
    page = _client(client, "mediator@demo.odr").get(_url(dispute)).content.decode()
    assert "我下周可以还五千。" in page


def test_the_coordinator_cannot_write_messages_on_the_case(demo, client):
    dispute = factories.dispute_in_mediation()
    c = _client(client, "coordinator@demo.odr")
    assert f'action="/disputes/{dispute.pk}/messages/"' not in c.get(_url(dispute)).content.decode()
    c.post(reverse("odr:message_post", args=[dispute.pk]), {"text": "你好"})
    assert not Message.objects.filter(dispute=dispute).exists()


def test_a_party_uploads_evidence_and_everyone_on_the_case_downloads_it_by_its_clean_name(
    demo, client
):
    dispute = factories.dispute_in_mediation()
    c = _client(client, "citizen2@demo.odr")
    upload = io.BytesIO(PDF)
    upload.name = "C:\\Users\\li\\收据.pdf"
    c.post(
        reverse("odr:evidence_upload", args=[dispute.pk]), {"file": upload, "description": "收据"}
    )
    item = Evidence.objects.get(dispute=dispute)
    assert item.filename == "收据.pdf"
    client.logout()
    response = _client(client, "mediator@demo.odr").get(
        reverse("odr:evidence_download", args=[dispute.pk, item.pk])
    )
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF
    assert "attachment" in response["Content-Disposition"]
    assert "%E6%94%B6%E6%8D%AE.pdf" in response["Content-Disposition"]
    client.logout()
    stranger = _client(client, "clerk@demo.odr").get(
        reverse("odr:evidence_download", args=[dispute.pk, item.pk])
    )
    assert stranger.status_code == 404


def test_a_renamed_program_is_not_kept_as_evidence(demo, client):
    dispute = factories.dispute_in_mediation()
    upload = io.BytesIO(b"MZ\x90\x00" + b"\x00" * 200)
    upload.name = "photo.jpg"
    response = _client(client, "citizen1@demo.odr").post(
        reverse("odr:evidence_upload", args=[dispute.pk]), {"file": upload}
    )
    assert not Evidence.objects.filter(dispute=dispute).exists()
    assert response.status_code == 400
    assert response.context["evidence_form"].errors["file"]


def test_my_cases_lists_only_what_the_user_may_see(demo, client):
    mine = factories.file_dispute(title="我的案子")
    other = factories.file_dispute(
        applicant=factories.make_user("x@example.com"),
        respondent_email="y@example.com",
        title="别人的案子",
    )
    page = _client(client, "citizen1@demo.odr").get(reverse("odr:dispute_list")).content.decode()
    assert mine.title in page and other.title not in page
    filtered = client.get(reverse("odr:dispute_list"), {"status": "settled"}).content.decode()
    assert mine.title not in filtered


def test_the_intake_queue_is_for_coordinators_and_shows_the_mediators_load(demo, client):
    waiting = factories.dispute_awaiting_intake(title="待受理的案子")
    assert _client(client, "citizen1@demo.odr").get(reverse("odr:intake")).status_code == 403
    client.logout()
    page = _client(client, "coordinator@demo.odr").get(reverse("odr:intake")).content.decode()
    assert waiting.title in page.split('id="waiting"')[1]
    assert "李调解" in page


def _intake_queries(client) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("odr:intake")).status_code == 200
    return len(queries.captured_queries)


def test_the_intake_queue_does_not_query_once_per_case(demo, client):
    coordinator = _client(client, "coordinator@demo.odr")
    factories.dispute_in_mediation()
    factories.dispute_awaiting_intake()
    few = _intake_queries(coordinator)
    for _ in range(3):
        factories.dispute_in_mediation()
        factories.dispute_awaiting_intake()
    assert _intake_queries(coordinator) == few


def test_the_case_page_includes_the_sessions_and_agreement_panels(demo, client):
    dispute = factories.dispute_in_mediation()
    page = _client(client, "citizen1@demo.odr").get(_url(dispute)).content.decode()
    assert 'id="sessions"' in page and 'id="agreement"' in page


def test_the_timeline_tells_of_agreement_steps_and_leaves_out_room_chatter(demo, client):
    from odr.audit import log_action

    dispute = factories.dispute_in_mediation()
    citizen = demo_user("citizen1@demo.odr")
    log_action(action="session.join", obj=dispute, actor=citizen, dispute=dispute)
    log_action(action="agreement.sign", obj=dispute, actor=citizen, dispute=dispute)
    timeline = _client(client, "citizen1@demo.odr").get(_url(dispute)).content.decode()
    timeline = timeline.split('id="timeline"')[1]
    assert "张三签署了调解协议。" in timeline
    assert "session.join" not in timeline


def test_a_village_case_escalated_by_its_mediator_goes_up_and_leaves_their_view(demo, client):
    dispute = factories.dispute_awaiting_intake(region_code="330523101201", category="debt")
    assert dispute.organisation.name == "余村人民调解委员会"
    village_coordinator = _client(client, "coordinator.yucun@demo.odr")
    page = village_coordinator.get(_url(dispute)).content.decode()
    assert 'id="action-escalate"' in page
    response = village_coordinator.post(
        reverse("odr:dispute_action", args=[dispute.pk, "escalate"]), {"reason": "涉及两个村"}
    )
    dispute.refresh_from_db()
    assert dispute.organisation.name == "天荒坪镇人民调解委员会"
    assert dispute.status == Dispute.Status.AWAITING_INTAKE
    assert response["Location"] == reverse("odr:intake")
    assert village_coordinator.get(_url(dispute)).status_code == 404


def test_every_address_of_a_case_answers_404_to_someone_who_may_not_see_it(demo, client):
    """The views let NotFound rise; odr.middleware.NotFoundMiddleware answers 404, the same
    as for a case that does not exist (ids cannot be probed)."""
    dispute = factories.dispute_in_mediation()
    upload = io.BytesIO(PDF)
    upload.name = "收据.pdf"
    _client(client, "citizen1@demo.odr").post(
        reverse("odr:evidence_upload", args=[dispute.pk]), {"file": upload}
    )
    item = Evidence.objects.get(dispute=dispute)
    client.logout()
    stranger = _client(client, "mediator.yucun@demo.odr")
    events = AuditEvent.objects.count()
    for pk in (dispute.pk, 999999):
        assert stranger.get(reverse("odr:dispute_detail", args=[pk])).status_code == 404
        assert stranger.get(reverse("odr:evidence_download", args=[pk, item.pk])).status_code == 404
        for name, args, data in [
            ("odr:dispute_action", [pk, "withdraw"], {"confirm": "1"}),
            ("odr:message_post", [pk], {"text": "你好"}),
            ("odr:evidence_upload", [pk], {}),
            ("odr:invitation_resend", [pk], {}),
        ]:
            assert stranger.post(reverse(name, args=args), data).status_code == 404, name
    assert AuditEvent.objects.count() == events
    dispute.refresh_from_db()
    assert dispute.status == Dispute.Status.IN_MEDIATION


@pytest.mark.parametrize(
    ("email", "reads"),
    [
        ("citizen1@demo.odr", True),
        ("citizen2@demo.odr", True),
        ("mediator@demo.odr", True),
        ("coordinator@demo.odr", True),  # supervises the organisation's mediations
        ("clerk@demo.odr", False),  # sees the case for the confirmation request only
        ("colleague@example.com", False),  # another mediator of the organisation
        ("admin@demo.odr", False),
    ],
)
def test_the_message_thread_is_read_only_by_the_parties_the_mediator_and_the_coordinator(
    demo, client, email, reads
):
    """Issue 11, M1: what the parties write to their mediator is not the court's."""
    from odr.models import Organisation

    centre = Organisation.objects.get(kind=Organisation.Kind.COUNTY_CENTRE)
    factories.make_user("colleague@example.com", name="同事", org=centre, role="mediator")
    dispute = factories.confirmation_pending().agreement.dispute
    services.message_post(
        dispute=dispute, actor=demo_user("citizen1@demo.odr"), text="只给调解员看的话"
    )
    response = _client(client, email).get(_url(dispute))
    assert response.status_code == 200
    page = response.content.decode()
    assert ("只给调解员看的话" in page) is reads
    assert ('id="messages"' in page) is reads


def test_a_message_is_stored_without_direction_overrides_and_an_invisible_one_is_refused(
    demo, client
):
    """Issue 11, L7."""
    dispute = factories.dispute_in_mediation()
    c = _client(client, "citizen1@demo.odr")
    url = reverse("odr:message_post", args=[dispute.pk])
    c.post(url, {"text": "我欠\u202e0005\u202c元"})
    assert list(Message.objects.filter(dispute=dispute).values_list("text", flat=True)) == [
        "我欠0005元"
    ]
    response = c.post(url, {"text": "\u200b\u2066\u200b"})
    assert response.status_code == 400
    assert response.context["message_form"].errors["text"]
    assert Message.objects.filter(dispute=dispute).count() == 1
    assert "\u202e" not in c.get(_url(dispute)).content.decode()
