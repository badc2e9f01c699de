"""Each reminder of the agreements app records what it sent in a column of its own (not by
reading the audit trail) and writes one audit event with a declared action: the window to
apply for judicial confirmation, the court's deadlines and the obligations due."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.apps import apps
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from agreements.court import services
from agreements.models import Agreement, ConfirmationRequest, Performance
from agreements.reminders import send_due
from odr.audit import event_digest, verify_chain
from odr.lifecycle import words_for
from odr.models import AuditEvent, AuditHead
from tests import factories

pytestmark = pytest.mark.django_db
EFFECTIVE = datetime(2026, 8, 3, 10, 0, tzinfo=timezone.get_fixed_timezone(8 * 60))


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def _run(when: datetime, mailoutbox, capture) -> list[str]:
    mailoutbox.clear()
    with time_machine.travel(when, tick=False), capture(execute=True):
        send_due(now=when)
    return sorted(m.to[0] for m in mailoutbox)


def _reads_the_audit_trail(queries) -> list[str]:
    return [
        q["sql"]
        for q in queries.captured_queries
        if 'FROM "odr_auditevent"' in q["sql"] or "FROM odr_auditevent" in q["sql"]
    ]


@pytest.fixture
def agreement(demo):
    """In force on EFFECTIVE, with no obligation to remind of: only the window counts."""
    with time_machine.travel(EFFECTIVE, tick=False):
        agreement = factories.agreement_in_force()
        agreement.terms = [{"text": "双方就本纠纷再无其他争议。", "kind": "other"}]
        agreement.save()
    return agreement


def test_the_window_reminder_sets_its_column_and_writes_its_audit_event(
    agreement, mailoutbox, django_capture_on_commit_callbacks
):
    sent = _run(EFFECTIVE + timedelta(days=23), mailoutbox, django_capture_on_commit_callbacks)
    assert sent == ["citizen1@demo.odr", "citizen2@demo.odr"]
    agreement.refresh_from_db()
    assert agreement.window_reminded_days == 7
    assert agreement.window_reminded_at == EFFECTIVE + timedelta(days=23)
    event = AuditEvent.objects.get(action="confirmation.window_remind")
    assert event.object_id == str(agreement.pk) and event.dispute_id == agreement.dispute_id
    assert event.actor_id is None and event.actor_label == "reminders"
    assert event.after["days_left"] == 7 and event.after["stage"] == 7
    assert words_for("confirmation.window_remind") is not None
    # The temporary markers of the old way are declared no more.
    assert words_for("confirmation.window_reminder.7") is None
    assert words_for("confirmation.window_reminder.1") is None


def test_the_window_reminder_is_not_sent_twice_and_never_reads_the_audit_trail(
    agreement, mailoutbox, django_capture_on_commit_callbacks
):
    when = EFFECTIVE + timedelta(days=23)
    with CaptureQueriesContext(connection) as queries:
        assert _run(when, mailoutbox, django_capture_on_commit_callbacks)
        assert _run(when + timedelta(days=1), mailoutbox, django_capture_on_commit_callbacks) == []
        # One day left: the next stage goes out once, then nothing more.
        assert _run(when + timedelta(days=6), mailoutbox, django_capture_on_commit_callbacks)
        assert _run(when + timedelta(days=6), mailoutbox, django_capture_on_commit_callbacks) == []
    assert _reads_the_audit_trail(queries) == []
    assert AuditEvent.objects.filter(action="confirmation.window_remind").count() == 2
    agreement.refresh_from_db()
    assert agreement.window_reminded_days == 1
    # The column alone is the record: cleared, the same stage goes out again.
    Agreement.objects.filter(pk=agreement.pk).update(window_reminded_days=None)
    assert _run(when + timedelta(days=6), mailoutbox, django_capture_on_commit_callbacks)


def test_the_courts_deadline_reminder_sets_its_column_and_writes_its_audit_event(
    demo, mailoutbox, django_capture_on_commit_callbacks
):
    with time_machine.travel(EFFECTIVE, tick=False):
        request = factories.confirmation_pending()
        services.performance_schedule(agreement=request.agreement)
        for obligation in Performance.objects.filter(agreement=request.agreement):
            services.performance_mark_done(
                obligation=obligation, actor=factories.demo_user("citizen2@demo.odr"), note="已履行"
            )
    when = request.accept_deadline - timedelta(hours=12)
    with CaptureQueriesContext(connection) as queries:
        assert "clerk@demo.odr" in _run(when, mailoutbox, django_capture_on_commit_callbacks)
        assert "clerk@demo.odr" not in _run(when, mailoutbox, django_capture_on_commit_callbacks)
    assert _reads_the_audit_trail(queries) == []
    request.refresh_from_db()
    assert request.accept_reminded_at == when
    event = AuditEvent.objects.get(action="confirmation.deadline_remind")
    assert event.object_type == "agreements.confirmationrequest"
    assert event.object_id == str(request.pk) and event.after["kind"] == "accept"
    assert ConfirmationRequest.objects.get(pk=request.pk).status == "pending"


def test_each_obligation_reminder_sets_its_column_and_writes_its_audit_event(
    demo, mailoutbox, django_capture_on_commit_callbacks
):
    with time_machine.travel(EFFECTIVE, tick=False):
        agreement = factories.agreement_in_force()
        services.performance_schedule(agreement=agreement)
    apology = Performance.objects.get(agreement=agreement, term_index=2)  # due on day 5
    with CaptureQueriesContext(connection) as queries:
        for day in (2, 5, 6):
            _run(EFFECTIVE + timedelta(days=day), mailoutbox, django_capture_on_commit_callbacks)
            _run(EFFECTIVE + timedelta(days=day), mailoutbox, django_capture_on_commit_callbacks)
    assert _reads_the_audit_trail(queries) == []
    apology.refresh_from_db()
    assert apology.reminded_at and apology.due_reminded_at and apology.default_notified_at
    kinds = [
        e.after["kind"]
        for e in AuditEvent.objects.filter(
            action="performance.remind", object_id=str(apology.pk)
        ).order_by("seq")
    ]
    assert kinds == ["before", "today", "default"]


def test_reminders_sent_before_the_columns_existed_are_not_sent_again(
    agreement, mailoutbox, django_capture_on_commit_callbacks
):
    # The old way's marker, as the reminders wrote it into the audit trail (chained like
    # any event: log_action itself refuses the action now that it is declared no more).
    head = AuditHead.objects.get_or_create(id=1)[0]
    fields = {
        "seq": head.last_seq + 1,
        "created_at": (EFFECTIVE + timedelta(days=23)).astimezone(UTC),
        "actor_id": None,
        "actor_label": "system",
        "ip": None,
        "action": "confirmation.window_reminder.7",
        "dispute_id": agreement.dispute_id,
        "object_type": "agreements.agreement",
        "object_id": str(agreement.pk),
        "before": {},
        "after": {"days_left": 7},
        "prev_hash": head.last_hash,
    }
    digest = event_digest(**fields)
    AuditEvent.objects.create(**fields, hash=digest)
    AuditHead.objects.filter(id=1).update(last_seq=fields["seq"], last_hash=digest)
    migration = importlib.import_module("agreements.migrations.0005_window_reminder_columns")
    migration.reminders_from_the_audit_trail(apps, None)
    agreement.refresh_from_db()
    assert agreement.window_reminded_days == 7
    capture = django_capture_on_commit_callbacks
    assert _run(EFFECTIVE + timedelta(days=24), mailoutbox, capture) == []
    assert _run(EFFECTIVE + timedelta(days=29), mailoutbox, capture)
    assert list(verify_chain()) == []
