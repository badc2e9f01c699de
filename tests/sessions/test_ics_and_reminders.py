"""Calendar files (RFC 5545) and session reminders: the day before and shortly before,
once each, with the clock moved by time-machine."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from sessions import ics, reminders, services
from sessions.models import MediationSession
from tests.sessions.conftest import schedule


def test_long_lines_are_folded_at_75_octets_without_splitting_characters():
    line = "DESCRIPTION:" + "调解" * 60
    folded = ics.fold(line)
    parts = folded.split("\r\n")
    assert all(len(p.encode()) <= 75 for p in parts)
    assert all(p.startswith(" ") for p in parts[1:])
    assert "".join([parts[0], *(p[1:] for p in parts[1:])]) == line


def test_text_values_are_escaped():
    assert ics.escape_text("a,b;c\\d\ne") == "a\\,b\\;c\\\\d\\ne"


@pytest.mark.django_db
def test_reminders_go_the_day_before_and_shortly_before_once_each(
    demo, django_capture_on_commit_callbacks
):
    start = timezone.now().replace(microsecond=0)
    with time_machine.travel(start, tick=False):
        session = schedule(in_hours=72)
    when = session.scheduled_at
    mail.outbox.clear()

    def run(at) -> int:
        with time_machine.travel(at, tick=False), django_capture_on_commit_callbacks(execute=True):
            return reminders.send_due(now=timezone.now())

    assert run(when - timedelta(hours=30)) == 0
    assert run(when - timedelta(hours=23)) == 1
    assert sorted(m.to[0] for m in mail.outbox) == [
        "citizen1@demo.odr",
        "citizen2@demo.odr",
        "mediator@demo.odr",
    ]
    assert run(when - timedelta(hours=22)) == 0
    assert run(when - timedelta(hours=2)) == 0
    mail.outbox.clear()
    assert run(when - timedelta(minutes=25)) == 1
    assert len(mail.outbox) == 3
    assert run(when - timedelta(minutes=10)) == 0
    assert run(when + timedelta(minutes=10)) == 0
    session.refresh_from_db()
    assert session.reminded_day_before_at and session.reminded_soon_at


@pytest.mark.django_db
def test_a_rescheduled_session_is_reminded_again(demo, django_capture_on_commit_callbacks):
    session = schedule(in_hours=20)
    assert reminders.send_due(now=timezone.now()) == 1
    services.session_reschedule(
        session=session,
        actor=session.dispute.mediator,
        scheduled_at=timezone.now() + timedelta(hours=10),
    )
    assert reminders.send_due(now=timezone.now()) == 1
    assert reminders.send_due(now=timezone.now()) == 0


@pytest.mark.django_db
def test_cancelled_sessions_are_not_reminded(demo):
    session = schedule(in_hours=20)
    services.session_cancel(session=session, actor=session.dispute.mediator)
    assert reminders.send_due(now=timezone.now()) == 0
    assert MediationSession.objects.get(pk=session.pk).reminded_day_before_at is None
