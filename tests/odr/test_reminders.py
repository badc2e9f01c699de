"""Reminders before the invitation expires and before the mediation deadline: sent once,
with the right links, and recorded in the audit trail."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from odr import reminders, services
from odr.models import AuditEvent, Dispute, Invitation
from tests import factories

pytestmark = pytest.mark.django_db


def test_the_respondent_is_reminded_once_shortly_before_the_invitation_expires(
    demo, settings, django_capture_on_commit_callbacks
):
    settings.ODR_INVITATION_REMINDER_DAYS = 3
    dispute = factories.file_dispute()
    invitation = Invitation.objects.get(party__dispute=dispute)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert reminders.send_due(now=timezone.now() + timedelta(days=10)) == 0  # too early
    with (
        time_machine.travel(invitation.expires_at - timedelta(days=2)),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert reminders.send_due(now=timezone.now()) == 1
        assert reminders.send_due(now=timezone.now()) == 0  # once only
    assert [m.to for m in mail.outbox] == [["citizen2@demo.odr"]]
    assert f"/invitations/{invitation.token}/" in mail.outbox[0].body
    assert dispute.case_number in mail.outbox[0].subject
    assert AuditEvent.objects.filter(dispute=dispute, action="invitation.remind").count() == 1


def test_an_answered_invitation_gets_no_reminder(demo, django_capture_on_commit_callbacks):
    dispute = factories.dispute_awaiting_intake()
    invitation = Invitation.objects.get(party__dispute=dispute)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert reminders.send_due(now=invitation.expires_at - timedelta(days=1)) == 0
    assert mail.outbox == []


def test_the_mediator_and_coordinator_are_reminded_once_before_the_mediation_deadline(
    demo, django_capture_on_commit_callbacks
):
    dispute = factories.dispute_in_mediation()
    mail.outbox.clear()
    with time_machine.travel(dispute.mediation_deadline - timedelta(days=10)):
        assert reminders.send_due(now=timezone.now()) == 0
    with (
        time_machine.travel(dispute.mediation_deadline - timedelta(days=4, hours=1)),
        django_capture_on_commit_callbacks(execute=True),
    ):
        call_command("send_reminders", stdout=open("/dev/null", "w"))  # noqa: SIM115
        assert reminders.send_due(now=timezone.now()) == 0
    assert sorted(m.to[0] for m in mail.outbox) == ["coordinator@demo.odr", "mediator@demo.odr"]
    assert all(f"/disputes/{dispute.pk}/" in m.body for m in mail.outbox)
    assert "调解期限" in mail.outbox[0].subject  # in the recipient's language (Chinese)
    dispute.refresh_from_db()
    assert dispute.deadline_reminded_at is not None
    assert AuditEvent.objects.filter(dispute=dispute, action="dispute.deadline_remind").exists()


def test_an_english_speaking_mediator_gets_the_reminder_in_english(
    demo, django_capture_on_commit_callbacks
):
    mediator = factories.demo_user("mediator@demo.odr")
    mediator.profile.language = "en"
    mediator.profile.save()
    dispute = factories.dispute_in_mediation()
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        reminders.send_due(now=dispute.mediation_deadline - timedelta(days=1))
    to_mediator = next(m for m in mail.outbox if m.to == ["mediator@demo.odr"])
    assert "the mediation deadline is near" in to_mediator.subject


def test_a_closed_case_gets_no_deadline_reminder(demo, django_capture_on_commit_callbacks):
    dispute = factories.dispute_in_mediation()
    Dispute.objects.filter(pk=dispute.pk).update(status=Dispute.Status.FAILED)
    with django_capture_on_commit_callbacks(execute=True):
        assert reminders.send_due(now=dispute.mediation_deadline - timedelta(days=1)) == 0


def test_a_case_escalated_and_accepted_again_is_reminded_of_its_new_deadline(
    demo, django_capture_on_commit_callbacks
):
    dispute = factories.dispute_in_status(
        Dispute.Status.IN_MEDIATION, region_code="330523101201", category="debt"
    )
    assert reminders.send_due(now=dispute.mediation_deadline - timedelta(days=1)) == 1
    services.dispute_escalate(
        dispute=dispute, actor=factories.demo_user("mediator.yucun@demo.odr"), reason="金额较大"
    )
    dispute = services.dispute_accept(
        dispute=Dispute.objects.get(pk=dispute.pk),
        actor=factories.demo_user("coordinator.tianhuangping@demo.odr"),
        mediator=factories.demo_user("mediator.tianhuangping@demo.odr").pk,
    )
    assert dispute.deadline_reminded_at is None
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert reminders.send_due(now=dispute.mediation_deadline - timedelta(days=1)) == 1
    assert sorted(m.to[0] for m in mail.outbox) == [
        "coordinator.tianhuangping@demo.odr",
        "mediator.tianhuangping@demo.odr",
    ]


def test_the_reminders_know_what_they_sent_from_their_own_columns_not_the_audit_trail(demo):
    """Invitation.reminded_at and Dispute.deadline_reminded_at say what was sent: the audit
    trail is written, never read, to decide."""
    factories.file_dispute()
    in_mediation = factories.dispute_in_mediation(title="调解中")
    now = in_mediation.mediation_deadline - timedelta(days=1)
    with CaptureQueriesContext(connection) as queries:
        assert reminders.send_due(now=now) == 1
        assert reminders.send_due(now=now) == 0
    reads = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].lstrip().upper().startswith("SELECT") and "odr_auditevent" in q["sql"]
    ]
    assert reads == []
    in_mediation.refresh_from_db()
    assert in_mediation.deadline_reminded_at == now
