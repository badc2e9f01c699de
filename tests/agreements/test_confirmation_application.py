"""The parties' joint application for judicial confirmation: both consents, the 30-day
window, confirmable matters, the generated application and who may ask."""

from __future__ import annotations

import re
import subprocess
from datetime import datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

from agreements.court import services as court_services
from agreements.models import ConfirmationRequest
from odr.errors import DomainError
from odr.models import AuditEvent, Organisation
from odr.periods import is_working_day, last_day
from tests import factories
from tests.signing import api_apply, sign_application

pytestmark = pytest.mark.django_db
CR = ConfirmationRequest.Status
EFFECTIVE = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.get_fixed_timezone(8 * 60))


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def _apply(client, agreement, email):
    client.force_login(factories.demo_user(email))
    # A party applies by signing the joint application (issue 9, point 5).
    return api_apply(client, agreement.pk, {})


def test_first_party_asking_waits_for_the_other_and_the_second_sends_it_to_the_court(
    demo, client, mailoutbox, django_capture_on_commit_callbacks
):
    agreement = factories.agreement_in_force()
    with django_capture_on_commit_callbacks(execute=True):
        first = _apply(client, agreement, "citizen1@demo.odr")
    assert first.status_code == 200, first.content
    body = first.json()
    court = Organisation.objects.get(kind=Organisation.Kind.COURT)
    assert body["status"] == "awaiting_consent"
    assert body["court"] == {"id": court.pk, "name": "安吉县人民法院"}
    assert body["submitted_at"] is None
    # The other party is asked by e-mail to sign the application on the case page.
    assert [m.to for m in mailoutbox] == [["citizen2@demo.odr"]]
    assert "签署" in mailoutbox[0].body and "/disputes/" in mailoutbox[0].body
    # The court sees nothing yet.
    client.force_login(factories.demo_user("clerk@demo.odr"))
    assert client.get("/api/v1/court/requests").json()["count"] == 0

    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        second = _apply(client, agreement, "citizen2@demo.odr")
    body = second.json()
    assert body["status"] == "pending"
    assert body["submitted_at"] is not None
    submitted = datetime.fromisoformat(body["submitted_at"])
    deadline = datetime.fromisoformat(body["accept_deadline"])
    # Three days to decide on acceptance, counted from the day after submission; a last
    # day on a rest day or holiday moves to the next working day (the test runs any day).
    assert timezone.localdate(deadline) == last_day(timezone.localdate(submitted), 3)
    assert timezone.localdate(deadline) >= timezone.localdate(submitted) + timedelta(days=3)
    assert is_working_day(timezone.localdate(deadline))
    assert [d["name"] for d in body["documents"]] == ["application.pdf", "agreement.pdf"]
    recipients = sorted(m.to[0] for m in mailoutbox)
    assert recipients == sorted(
        ["citizen1@demo.odr", "citizen2@demo.odr", "mediator@demo.odr", "clerk@demo.odr"]
    )
    actions = list(
        AuditEvent.objects.filter(object_type="agreements.confirmationrequest").values_list(
            "action", flat=True
        )
    )
    assert actions == [
        "confirmation.apply",
        "confirmation.consent",
        "confirmation.consent",
        "confirmation.submit",
    ]

    client.force_login(factories.demo_user("clerk@demo.odr"))
    queue = client.get("/api/v1/court/requests").json()
    assert queue["count"] == 1 and queue["items"][0]["status"] == "pending"


def test_asking_twice_is_harmless_and_writes_nothing(demo):
    agreement = factories.agreement_in_force()
    citizen1 = factories.demo_user("citizen1@demo.odr")
    first = sign_application(agreement=agreement, actor=citizen1)
    events = AuditEvent.objects.count()
    signed_pdf = bytes(first.signing_pdf)
    # Applying again returns the request as it is.
    again = court_services.confirmation_apply(agreement=agreement, actor=citizen1)
    assert again.pk == first.pk and again.status == CR.AWAITING_CONSENT
    # Signing again is refused before the password is spent: nothing is written.
    with pytest.raises(DomainError) as refused:
        sign_application(agreement=agreement, actor=citizen1)
    assert refused.value.code == "already_applied" and refused.value.status == 409
    assert AuditEvent.objects.count() == events
    assert bytes(ConfirmationRequest.objects.get().signing_pdf) == signed_pdf


def test_application_on_day_29_of_the_window_is_accepted(demo, client):
    with time_machine.travel(EFFECTIVE, tick=False):
        agreement = factories.agreement_in_force()
    with time_machine.travel(EFFECTIVE + timedelta(days=29), tick=False):
        assert _apply(client, agreement, "citizen1@demo.odr").json()["status"] == (
            "awaiting_consent"
        )
        assert _apply(client, agreement, "citizen2@demo.odr").json()["status"] == "pending"


def test_the_last_day_of_the_window_ends_at_midnight_local_time(demo):
    with time_machine.travel(EFFECTIVE, tick=False):
        agreement = factories.agreement_in_force()
    # The day it took effect is not counted: day 30 runs until 23:59:59 local time.
    last_evening = datetime(2026, 4, 1, 23, 50, tzinfo=timezone.get_fixed_timezone(8 * 60))
    with time_machine.travel(last_evening, tick=False):
        request = sign_application(
            agreement=agreement, actor=factories.demo_user("citizen1@demo.odr")
        )
    assert request.status == CR.AWAITING_CONSENT
    with (
        time_machine.travel(last_evening + timedelta(minutes=11), tick=False),
        pytest.raises(DomainError) as refused,
    ):
        sign_application(agreement=agreement, actor=factories.demo_user("citizen2@demo.odr"))
    assert refused.value.code == "confirmation_window_closed"


def test_application_on_day_31_is_refused_with_a_clear_error_and_nothing_is_stored(demo, client):
    with time_machine.travel(EFFECTIVE, tick=False):
        agreement = factories.agreement_in_force()
    with time_machine.travel(EFFECTIVE + timedelta(days=31), tick=False):
        response = _apply(client, agreement, "citizen1@demo.odr")
    assert response.status_code == 409
    assert response.json()["code"] == "confirmation_window_closed"
    assert "30" in response.json()["detail"] and "2026-04-01" in response.json()["detail"]
    assert not ConfirmationRequest.objects.exists()


def test_an_agreement_not_yet_in_force_cannot_be_sent_to_the_court(demo, client):
    dispute = factories.dispute_in_mediation()
    agreement = factories.agreement_for(dispute, status="signing", signers=("applicant",))
    response = _apply(client, agreement, "citizen1@demo.odr")
    assert response.status_code == 409
    assert response.json()["code"] == "agreement_not_in_force"


@pytest.mark.parametrize(
    "matter",
    [
        "personal_status",
        "adoption",
        "marriage_validity",
        "divorce",
        "parentage",
        "property_title",
        "ip_title",
        "bankruptcy",
        "special_procedure",
    ],
)
def test_matters_of_art_355_cannot_be_confirmed(demo, client, matter):
    agreement = factories.agreement_in_force(matter=matter)
    response = _apply(client, agreement, "citizen1@demo.odr")
    # Refused at the door (SPC interpretation of the CPL Art. 355), with the reason.
    assert response.status_code == 422
    assert response.json()["code"] == "not_confirmable"
    assert "第三百五十五条" in response.json()["detail"]
    assert not ConfirmationRequest.objects.exists()


def test_the_mediator_may_not_apply_and_a_stranger_does_not_see_the_agreement(demo, client):
    agreement = factories.agreement_in_force()
    mediator = _apply(client, agreement, "mediator@demo.odr")
    assert mediator.status_code == 403
    assert mediator.json()["code"] == "not_a_party"
    stranger = factories.make_user()
    client.force_login(stranger)
    response = client.post(
        f"/api/v1/agreements/{agreement.pk}/confirmation", {}, content_type="application/json"
    )
    assert response.status_code == 404
    # A clerk before the request exists is a stranger too.
    assert _apply(client, agreement, "clerk@demo.odr").status_code == 404


def _pdf_text(pdf: bytes, tmp_path) -> tuple[str, str]:
    path = tmp_path / "doc.pdf"
    path.write_bytes(pdf)
    text = subprocess.run(
        ["pdftotext", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    fonts = subprocess.run(
        ["pdffonts", str(path)], capture_output=True, text=True, check=True
    ).stdout
    return re.sub(r"\s+", "", text), fonts


def test_the_application_names_the_court_the_request_and_every_partys_full_particulars(
    demo, client, tmp_path
):
    from odr.models import Party

    agreement = factories.agreement_in_force()
    parties = Party.objects.filter(dispute=agreement.dispute)
    parties.filter(role="respondent").update(
        id_number=factories.demo_user("citizen2@demo.odr").profile.id_number,
        address="浙江省安吉县孝丰镇三里村8号",
        phone="13800000002",
    )
    for email in ("citizen1@demo.odr", "citizen2@demo.odr"):
        request = sign_application(agreement=agreement, actor=factories.demo_user(email))
    client.force_login(factories.demo_user("clerk@demo.odr"))
    response = client.get(f"/api/v1/court/requests/{request.pk}/application.pdf")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    text, fonts = _pdf_text(b"".join(response.streaming_content), tmp_path)
    assert "司法确认申请书" in text
    assert "此致安吉县人民法院" in text
    assert "请求事项" in text and "事实和理由" in text
    assert "证据清单" in text and "送达地址确认书" in text
    # The original the court holds is never masked (DESIGN.md §3): the full ID number,
    # and the sex and birth date it carries.
    respondent_id = factories.demo_user("citizen2@demo.odr").profile.id_number
    assert "申请人：李四，女，1985年5月5日出生" in text and respondent_id in text
    assert "*" not in text
    assert "citizen2@demo.odr" in text and "13800000002" in text
    assert "浙江省安吉县孝丰镇三里村8号" in text
    for row in fonts.strip().splitlines()[2:]:
        assert row.split()[-5] == "yes", fonts
