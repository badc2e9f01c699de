"""GET writes nothing (issue 7 §3): reading every odr page of a case, every list and every
odr API read leaves every table as it was, whoever asks and whatever the case's status.
Rows of every model are counted before and after, and no INSERT, UPDATE or DELETE may run
while a GET is answered (an UPDATE changes no count, so counting alone would miss it)."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.apps import apps
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from odr import services
from odr.models import Dispute, Invitation
from tests import factories
from tests.factories import demo_user

pytestmark = pytest.mark.django_db
S = Dispute.Status

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
# Who asks: the parties, the case's mediator and coordinator, a clerk who does not see the
# case (404), the superuser, and someone not logged in (sent to log in).
VIEWERS = (
    "citizen1@demo.odr",
    "citizen2@demo.odr",
    "mediator@demo.odr",
    "coordinator@demo.odr",
    "clerk@demo.odr",
    "admin@demo.odr",
    None,
)
WRITES = ("insert", "update", "delete", "replace")


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def row_counts() -> dict[str, int]:
    return {m._meta.label: m._default_manager.count() for m in apps.get_models()}


def clients() -> dict[str | None, Client]:
    """Logged in before anything is counted: logging in writes the session, a GET must not."""
    out = {}
    for email in VIEWERS:
        client = Client()
        if email is not None:
            client.force_login(demo_user(email))
        out[email] = client
    return out


def assert_gets_write_nothing(paths: list[str]) -> None:
    viewers = clients()
    before = row_counts()
    writes = []
    for email, client in viewers.items():
        for path in paths:
            with CaptureQueriesContext(connection) as queries:
                response = client.get(path)
            assert response.status_code < 500, (email, path, response.status_code)
            writes += [
                (email, path, q["sql"][:120])
                for q in queries.captured_queries
                if q["sql"].lstrip().lower().startswith(WRITES)
            ]
    assert not writes, writes
    after = row_counts()
    assert after == before, {k: (before[k], after[k]) for k in before if before[k] != after[k]}


def case_paths(dispute: Dispute) -> list[str]:
    """Every odr address of a case, the POST-only ones included (a GET there must answer
    405 and write nothing), and the API's reads of it."""
    base = f"/disputes/{dispute.pk}"
    paths = [
        f"{base}/",
        f"{base}/actions/accept/",
        f"{base}/actions/withdraw/",
        f"{base}/messages/",
        f"{base}/evidence/",
        f"{base}/invite-again/",
        f"/api/v1/disputes/{dispute.pk}",
    ]
    paths += [f"{base}/evidence/{pk}/" for pk in dispute.evidence.values_list("pk", flat=True)]
    return paths


def with_evidence_and_a_message(dispute: Dispute) -> Dispute:
    """An open case gets a document and a message, so that their parts of the page show."""
    if dispute.is_open:
        applicant = demo_user("citizen1@demo.odr")
        upload = io.BytesIO(PDF)
        services.evidence_add(
            dispute=dispute, actor=applicant, upload=upload, name="收据.pdf", size=len(PDF)
        )
        if dispute.parties.filter(user__email="citizen2@demo.odr").exists():
            services.message_post(dispute=dispute, actor=applicant, text="请按约定还款。")
    return dispute


@pytest.mark.parametrize("status", S.values)
def test_reading_every_page_of_a_case_writes_no_row_in_any_status(demo, status):
    dispute = with_evidence_and_a_message(factories.dispute_in_status(status))
    assert_gets_write_nothing(case_paths(dispute))


def test_reading_a_case_with_a_session_and_an_agreement_draft_writes_no_row(demo):
    """The panels the apps above register (sessions, agreement) are read too."""
    from sessions import services as session_services

    dispute = with_evidence_and_a_message(factories.dispute_in_mediation())
    session_services.session_schedule(
        dispute=dispute,
        actor=demo_user("mediator@demo.odr"),
        scheduled_at=timezone.now() + timedelta(days=1),
    )
    factories.agreement_draft(dispute)
    assert_gets_write_nothing(case_paths(dispute))


def test_reading_a_case_whose_agreement_is_in_force_writes_no_row(demo):
    agreement = factories.agreement_in_force()
    assert_gets_write_nothing(case_paths(agreement.dispute))


def test_reading_the_lists_the_public_pages_and_the_api_writes_no_row(demo):
    factories.dispute_in_mediation()
    factories.dispute_awaiting_intake(title="待受理")
    factories.file_dispute(title="待答复")
    assert_gets_write_nothing(
        [
            "/",
            "/stats/",
            "/profile/",
            "/disputes/",
            f"/disputes/?status={S.IN_MEDIATION}",
            "/disputes/?page=2",
            "/disputes/new/",
            "/intake/",
            "/api/v1/me",
            "/api/v1/categories",
            "/api/v1/regions",
            "/api/v1/regions?parent=330523000000",
            "/api/v1/disputes",
            f"/api/v1/disputes?status={S.AWAITING_INTAKE}",
            "/api/v1/stats",
        ]
    )


def test_reading_an_invitation_in_every_state_writes_no_row(demo):
    """Open, answered, expired and unknown links, and a GET on the answer addresses (which
    send back to the invitation)."""
    open_one = factories.file_dispute().respondent.invitation
    answered = factories.dispute_awaiting_intake(title="已答复").respondent.invitation
    expired = factories.file_dispute(title="已过期").respondent.invitation
    Invitation.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(days=1))
    paths = ["/invitations/no-such-token/"]
    for invitation in (open_one, answered, expired):
        base = f"/invitations/{invitation.token}"
        paths += [f"{base}/", f"{base}/accept/", f"{base}/decline/"]
    assert_gets_write_nothing(paths)
