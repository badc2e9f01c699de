"""Issue 12: every form of the case page answers a bad submission in place: the case page
again with 400, the field marked (aria-invalid, aria-describedby naming its error), the
error in plain Chinese saying what to do, what was typed kept, nothing written and no
audit event; a refusal by the service shows in the form too, not in a flash message."""

from __future__ import annotations

import io
import re
from html.parser import HTMLParser

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from odr import services
from odr.models import (
    AuditEvent,
    Dispute,
    DuplicateLink,
    HotlineTicket,
    Message,
    Statement,
    Window,
)
from tests import factories
from tests.factories import demo_user
from tests.odr.api_support import NEW_DISPUTE, post
from tests.odr.test_centre import VISITOR
from tests.odr.test_hotline import send, ticket_body

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


class _Elements(HTMLParser):
    """Every element's attributes by id, and the text of each error slot."""

    def __init__(self) -> None:
        super().__init__()
        self.by_id: dict[str, dict[str, str]] = {}
        self.text: dict[str, str] = {}
        self._open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if "id" in values:
            self.by_id[values["id"]] = {"tag": tag, **values}
            if tag == "p":
                self._open.append(values["id"])
                self.text[values["id"]] = ""

    def handle_data(self, data: str) -> None:
        for element in self._open:
            self.text[element] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "p" and self._open:
            self._open.pop()


def _page(response) -> _Elements:
    parsed = _Elements()
    parsed.feed(response.content.decode())
    return parsed


def assert_in_place(response, field_id: str, message: str) -> _Elements:
    """The case page again (400), the field marked and its error said next to it."""
    assert response.status_code == 400
    assert response.templates[0].name == "odr/dispute_detail.html"
    page = _page(response)
    field = page.by_id[field_id]
    assert field.get("aria-invalid") == "true", field
    assert f"{field_id}_error" in field.get("aria-describedby", "").split()
    assert message in page.text[f"{field_id}_error"]
    # Said in place, not in a flash message after a redirect.
    assert 'class="msg error"' not in response.content.decode()
    return page


def assert_form_refused(response, form_action: str, message: str) -> None:
    """A refusal with no field to mark: in the form's own slot, inside that form."""
    assert response.status_code == 400
    html = response.content.decode()
    form = re.search(rf'<form[^>]*action="{re.escape(form_action)}".*?</form>', html, re.S)
    assert form, form_action
    slot = re.search(r'data-error-for="__all__"[^>]*>([^<]*)</p>', form.group(0))
    assert slot and message in slot.group(1), form.group(0)


def _as(client, email: str):
    client.force_login(demo_user(email))
    return client


def _events() -> int:
    return AuditEvent.objects.count()


def _action_url(dispute: Dispute, action: str) -> str:
    return reverse("odr:dispute_action", args=[dispute.pk, action])


# --- the dispute's actions -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "make", "email", "message"),
    [
        (
            "reject",
            factories.dispute_awaiting_intake,
            "coordinator@demo.odr",
            "请填写不予受理的理由。",
        ),
        (
            "escalate",
            factories.dispute_awaiting_intake,
            "coordinator@demo.odr",
            "请填写移交上一级调解组织的理由。",
        ),
        ("fail", factories.dispute_in_mediation, "mediator@demo.odr", "请填写终止调解的理由。"),
    ],
)
def test_an_action_without_its_reason_answers_in_place_and_changes_nothing(
    demo, client, action, make, email, message
):
    dispute = make()
    before, events = dispute.status, _events()
    response = _as(client, email).post(_action_url(dispute, action), {"reason": "   "})
    page = assert_in_place(response, f"action-{action}-reason", message)
    # Its section is open, so that the field and its error are seen.
    assert "open" in page.by_id[f"action-{action}"]
    dispute.refresh_from_db()
    assert dispute.status == before and _events() == events


def test_withdrawing_without_the_box_ticked_keeps_the_reason_typed(demo, client):
    dispute = factories.file_dispute()
    events = _events()
    response = _as(client, "citizen1@demo.odr").post(
        _action_url(dispute, "withdraw"), {"reason": "我们已经私下和解了"}
    )
    assert_in_place(response, "action-withdraw-confirm", "请勾选")
    assert "我们已经私下和解了</textarea>" in response.content.decode()
    dispute.refresh_from_db()
    assert dispute.status == Dispute.Status.FILED and _events() == events


def test_accepting_without_a_mediator_answers_in_place(demo, client):
    dispute = factories.dispute_awaiting_intake()
    events = _events()
    response = _as(client, "coordinator@demo.odr").post(
        _action_url(dispute, "accept"), {"mediator": ""}
    )
    assert_in_place(response, "action-accept-mediator", "请选择调解员")
    dispute.refresh_from_db()
    assert dispute.status == Dispute.Status.AWAITING_INTAKE and dispute.mediator_id is None
    assert _events() == events


def test_a_service_refusal_of_an_action_shows_in_its_form_with_the_reason_kept(demo, client):
    # Someone else already accepted the case: refusing it now is refused by the service.
    dispute = factories.dispute_in_mediation()
    events = _events()
    response = _as(client, "coordinator@demo.odr").post(
        _action_url(dispute, "reject"), {"reason": "不属于本委员会受理范围"}
    )
    assert_form_refused(response, _action_url(dispute, "reject"), "调解中")
    assert "不属于本委员会受理范围</textarea>" in response.content.decode()
    dispute.refresh_from_db()
    assert dispute.status == Dispute.Status.IN_MEDIATION and _events() == events


def test_a_good_action_still_redirects(demo, client):
    dispute = factories.dispute_awaiting_intake()
    response = _as(client, "coordinator@demo.odr").post(
        _action_url(dispute, "reject"), {"reason": "不属于民间纠纷"}
    )
    assert response.status_code == 302
    dispute.refresh_from_db()
    assert dispute.status == Dispute.Status.REJECTED
    assert AuditEvent.objects.filter(dispute=dispute, action="dispute.reject").count() == 1


# --- the hotline ticket ------------------------------------------------------------------------


def test_closing_a_ticket_unresolved_without_a_reason_answers_in_place(demo, client):
    dispute = Dispute.objects.get(pk=send(ticket_body()).json()["dispute"])
    events = _events()
    url = reverse("odr:hotline_action", args=[dispute.pk, "close_unresolved"])
    response = _as(client, "coordinator.yucun@demo.odr").post(url, {"reason": ""})
    assert_in_place(response, "hotline-close_unresolved-reason", "请填写工单未解决即办结的原因。")
    assert HotlineTicket.objects.get().status == "open" and _events() == events


# --- the centre: hand-off and duplicates ------------------------------------------------------


def test_a_hand_off_without_a_window_answers_in_place(demo, client):
    _as(client, "reception@demo.odr")
    window = Window.objects.get(
        organisation__name="安吉县社会矛盾纠纷调处化解中心", kind="mediation_committee"
    )
    body = post(
        client,
        "/api/v1/disputes",
        {
            **NEW_DISPUTE,
            "channel": "walk_in",
            "applicant": VISITOR,
            "window": window.pk,
        },
    ).json()
    dispute = Dispute.objects.get(pk=body["id"])
    events = _events()
    response = client.post(reverse("odr:dispute_handoff", args=[dispute.pk]), {"window": "999999"})
    assert_in_place(response, "handoff-window", "请从列表中选择")
    dispute.refresh_from_db()
    assert dispute.window_id == window.pk and _events() == events


# --- the parties, the statement, messages and evidence ------------------------------------------


def test_a_party_s_bad_id_number_answers_in_place_with_what_was_typed(demo, client):
    dispute = factories.dispute_in_mediation()
    party = dispute.parties.get(role="respondent")
    # A respondent without an account (filed at a window): the mediator completes it.
    type(party).objects.filter(pk=party.pk).update(user=None)
    events = _events()
    prefix = f"party{party.pk}"
    response = _as(client, "mediator@demo.odr").post(
        reverse("odr:party_update", args=[dispute.pk, party.pk]),
        {
            f"{prefix}-kind": "person",
            f"{prefix}-name": "李四",
            f"{prefix}-id_number": "330523198001011234",
            f"{prefix}-address": "安吉县递铺街道胜利西路9号",
        },
    )
    page = assert_in_place(response, f"id_{prefix}-id_number", "")
    assert page.text[f"id_{prefix}-id_number_error"].strip()
    assert 'value="安吉县递铺街道胜利西路9号"' in response.content.decode()
    assert "open" in page.by_id[f"edit-party-{party.pk}"]
    party.refresh_from_db()
    assert party.id_number != "330523198001011234" and _events() == events


def test_an_empty_statement_answers_in_place(demo, client):
    dispute = factories.dispute_in_mediation()
    events = _events()
    response = _as(client, "citizen2@demo.odr").post(
        reverse("odr:statement_add", args=[dispute.pk]), {"text": "  "}
    )
    assert_in_place(response, "id_text", "请填写")
    assert not Statement.objects.filter(party__dispute=dispute).exists() and _events() == events


def test_an_empty_message_answers_in_place(demo, client):
    dispute = factories.dispute_in_mediation()
    events = _events()
    response = _as(client, "citizen1@demo.odr").post(
        reverse("odr:message_post", args=[dispute.pk]), {"text": ""}
    )
    assert_in_place(response, "message-text", "请填写消息")
    assert not Message.objects.filter(dispute=dispute).exists() and _events() == events


def test_evidence_of_a_refused_type_answers_in_place_with_the_description_kept(demo, client):
    dispute = factories.dispute_in_mediation()
    events = _events()
    program = SimpleUploadedFile("photo.jpg", b"MZ\x90\x00" + b"\x00" * 200)
    response = _as(client, "citizen1@demo.odr").post(
        reverse("odr:evidence_upload", args=[dispute.pk]),
        {"file": program, "description": "院墙裂缝的照片"},
    )
    assert_in_place(response, "evidence-file", "")
    assert 'value="院墙裂缝的照片"' in response.content.decode()
    assert not dispute.evidence.exists() and _events() == events


def test_a_refused_particulars_form_stays_in_place_with_the_refusal(demo, client):
    # The respondent keeps their own particulars in their profile: the mediator's form is
    # refused by the service, and the refusal is shown in the form sent, not lost.
    dispute = factories.dispute_in_mediation()
    party = dispute.parties.get(role="respondent")
    prefix = f"party{party.pk}"
    url = reverse("odr:party_update", args=[dispute.pk, party.pk])
    response = _as(client, "mediator@demo.odr").post(
        url, {f"{prefix}-kind": "person", f"{prefix}-name": "李四"}
    )
    assert response.status_code == 400
    assert response.context["parties"][1]["form"].non_field_errors()
    assert f'action="{url}"' in response.content.decode()


def test_evidence_without_a_file_answers_in_place(demo, client):
    dispute = factories.dispute_in_mediation()
    response = _as(client, "citizen1@demo.odr").post(
        reverse("odr:evidence_upload", args=[dispute.pk]), {"description": "合同"}
    )
    assert_in_place(response, "evidence-file", "选择文件")
    assert not dispute.evidence.exists()


def test_a_ticket_action_the_service_refuses_shows_in_its_form(demo, client):
    dispute = Dispute.objects.get(pk=send(ticket_body()).json()["dispute"])
    url = reverse("odr:hotline_action", args=[dispute.pk, "respond"])
    _as(client, "coordinator.yucun@demo.odr")
    assert client.post(url).status_code == 302
    events = _events()
    # Recording the first contact twice: refused, and said at the button pressed.
    response = client.post(url)
    assert_form_refused(response, url, "")
    assert response.context["case_sent"]["hotline:respond"].non_field_errors()
    assert _events() == events


def test_inviting_again_by_someone_else_than_the_applicant_is_refused_at_the_button(demo, client):
    dispute = factories.file_dispute()
    url = reverse("odr:invitation_resend", args=[dispute.pk])
    events = _events()
    response = _as(client, "coordinator@demo.odr").post(url)
    assert_form_refused(response, url, "")
    assert response.context["resend_form"].non_field_errors()
    assert _events() == events


# --- duplicates and agents: buttons the service may refuse ----------------------------------


def test_merging_into_a_case_closed_meanwhile_is_refused_at_the_merge_button(demo, client):
    _as(client, "citizen1@demo.odr")
    first = post(client, "/api/v1/disputes", NEW_DISPUTE).json()
    second = post(client, "/api/v1/disputes", NEW_DISPUTE).json()
    link = DuplicateLink.objects.get()
    # The open case closes before the coordinator decides: a merge would lose the matter.
    assert (
        post(
            client, f"/api/v1/disputes/{first['id']}/actions/withdraw", {"reason": "已和解"}
        ).status_code
        == 200
    )
    events = _events()
    url = reverse("odr:duplicate_decide", args=[second["id"], link.pk, "merge"])
    response = _as(client, "coordinator@demo.odr").post(url)
    assert_form_refused(response, url, first["case_number"])
    link.refresh_from_db()
    assert link.decision == DuplicateLink.Decision.OPEN
    assert Dispute.objects.get(pk=second["id"]).status == Dispute.Status.FILED
    assert _events() == events


def test_revoking_an_agent_twice_is_refused_at_the_revoke_button(demo, client):
    dispute = factories.dispute_in_mediation()
    respondent = dispute.parties.get(role="respondent")
    pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    agent = services.agent_add(
        actor=demo_user("citizen2@demo.odr"),
        dispute=dispute,
        party=respondent,
        name="李律师",
        scope="general",
        upload=io.BytesIO(pdf),
        filename="委托书.pdf",
        size=len(pdf),
    )
    url = reverse("odr:agent_revoke", args=[dispute.pk, respondent.pk, agent.pk])
    _as(client, "citizen2@demo.odr")
    assert client.post(url).status_code == 302
    events = _events()
    # A second tab still showing the button: the refusal is said at that button, even
    # though a revoked agent is no longer offered one.
    response = client.post(url)
    assert_form_refused(response, url, "已")
    assert _events() == events
