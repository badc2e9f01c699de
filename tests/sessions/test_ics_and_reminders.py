"""Calendar files (RFC 5545) and session reminders: the day before and shortly before,
once each, with the clock moved by time-machine."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.core import mail
from django.test import Client
from django.utils import timezone

from odr.models import Dispute
from odr.text import clean_text
from sessions import ics, reminders, services
from sessions.models import MediationSession
from tests import factories
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


# --- issue 11, L5: nothing a person typed can end a content line ----------------------------

# A content line (RFC 5545 §3.1): name, parameters (quoted values hold no DQUOTE or
# control character; bare ones no `;:,` either), a colon, then the value.
_PARAM = r'[A-Za-z0-9-]+=(?:"[^"\x00-\x1f\x7f]*"|[^";:,\x00-\x1f\x7f]*)'
_CONTENT_LINE = re.compile(rf"([A-Z][A-Z0-9-]*)((?:;{_PARAM})*):([^\x00-\x08\x0a-\x1f\x7f]*)")
HOSTILE_TITLE = (
    "借款\rATTENDEE;CN=x:mailto:evil@example.com\rURL:https://evil.example\n"
    "END:VEVENT\r\n；分号;逗号,反斜杠\\\u202e反向\u2066隔离\u2069\x07"
)


def _unescape(value: str) -> str:
    return re.sub(r"\\([\\;,nN])", lambda m: "\n" if m.group(1) in "nN" else m.group(1), value)


def parse_ics(text: str) -> list[tuple[str, str, str]]:
    """(name, parameters, raw value) of each content line, by hand: every physical line
    must be a content line or its folded continuation, at most 75 octets, ended by CRLF."""
    assert text.endswith("\r\n")
    physical = text[:-2].split("\r\n")
    logical: list[str] = []
    for line in physical:
        assert "\r" not in line and "\n" not in line, repr(line)
        assert len(line.encode()) <= 75, repr(line)
        if line.startswith(" "):
            logical[-1] += line[1:]
        else:
            logical.append(line)
    out = []
    for line in logical:
        match = _CONTENT_LINE.fullmatch(line)
        assert match is not None, f"not a content line: {line!r}"
        out.append(match.groups())
    return out


def test_text_values_escape_every_line_break_and_drop_control_characters():
    raw = "a\rb\nc\r\nd;e,f\\g\x07h\x00i\tj\u2028k"
    escaped = ics.escape_text(raw)
    assert "\r" not in escaped and "\n" not in escaped
    assert _unescape(escaped) == "a\nb\nc\nd;e,f\\ghi\tj\nk"


def test_a_calendar_file_of_hostile_text_holds_only_its_own_properties(demo):
    session = schedule(in_hours=30)
    text = ics.session_ics(
        session,
        summary=HOSTILE_TITLE,
        description=HOSTILE_TITLE * 3,
        organizer_name='某"中心"\r\nATTENDEE:mailto:x@example.com;',
    )
    lines = parse_ics(text)
    names = [name for name, _params, _value in lines]
    assert names == [
        "BEGIN", "VERSION", "PRODID", "CALSCALE", "METHOD", "BEGIN", "UID", "SEQUENCE",
        "DTSTAMP", "DTSTART", "DTEND", "SUMMARY", "DESCRIPTION", "LOCATION", "URL",
        "ORGANIZER", "STATUS", "TRANSP", "END", "END",
    ]  # fmt: skip
    values = {name: (params, value) for name, params, value in lines}
    expected = "借款\nATTENDEE;CN=x:mailto:evil@example.com\nURL:https://evil.example\nEND:VEVENT\n；分号;逗号,反斜杠\\\u202e反向\u2066隔离\u2069"
    assert _unescape(values["SUMMARY"][1]) == expected
    assert _unescape(values["DESCRIPTION"][1]) == expected * 3
    assert values["URL"][1] == f"{settings.SITE_URL}{session.room_url}"
    assert values["ORGANIZER"][0] == ";CN=\"某'中心' ATTENDEE:mailto:x@example.com;\""


def test_the_calendar_download_of_a_case_with_a_hostile_title_cannot_inject_properties(demo):
    """Issue 11, L5: a lone CR in a dispute's title once ended the DESCRIPTION line and
    started an ATTENDEE and a URL of the filer's choosing. A title stored before titles
    were cleaned is cleaned on its way into the calendar too (L7)."""
    session = schedule(in_hours=30)
    Dispute.objects.filter(pk=session.dispute_id).update(title=HOSTILE_TITLE)
    client = Client()
    client.force_login(factories.demo_user("citizen1@demo.odr"))
    response = client.get(f"/sessions/{session.pk}/calendar.ics")
    assert response.status_code == 200
    lines = parse_ics(response.content.decode())
    assert [name for name, _p, _v in lines].count("URL") == 1
    assert "ATTENDEE" not in [name for name, _p, _v in lines]
    description = _unescape(next(v for name, _p, v in lines if name == "DESCRIPTION"))
    assert clean_text(HOSTILE_TITLE) in description
    assert "\u202e" not in description and "\u2066" not in description
