"""Calendar files (RFC 5545) for mediation sessions: one VEVENT per session, identified by
its `ics_uid`, with SEQUENCE bumped on every reschedule so calendars replace the old
time, and METHOD:CANCEL when the session is cancelled."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.utils import timezone

from odr.links import site_url
from sessions.models import MediationSession

PRODID = "-//ODR platform//Mediation sessions//ZH"


# Control characters that no content line may hold (§3.1, §3.3.11: TSAFE-CHAR excludes
# CTL but HTAB); line breaks are handled apart: CR and LF, and the Unicode line and
# paragraph separators that some readers split lines on too.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_LINE_BREAK = re.compile("\r\n|[\r\n\u2028\u2029]")


def escape_text(value: str) -> str:
    """A TEXT value (RFC 5545 §3.3.11): every line break (CRLF, a lone CR, LF) becomes
    `\\n`, other control characters go, and backslash, semicolon and comma are escaped. A
    raw CR or LF in a value would end the content line and start a property of the
    sender's choosing (issue 11, L5: a title with `\\rATTENDEE;…`)."""
    text = _CONTROL.sub("", _LINE_BREAK.sub("\n", value))
    return text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def param_value(value: str) -> str:
    """A parameter value (§3.2): no control characters, no line breaks, no DQUOTE (which
    cannot be escaped there); quoted when it holds `:`, `;` or `,`."""
    cleaned = _CONTROL.sub("", _LINE_BREAK.sub(" ", value)).replace('"', "'")
    return f'"{cleaned}"' if any(c in cleaned for c in ":;,") else cleaned


def bare_value(value: str) -> str:
    """A URI or CAL-ADDRESS value: it holds no white space or control character at all."""
    return re.sub(r"\s", "", _CONTROL.sub("", value))


def fold(line: str) -> str:
    """Lines longer than 75 octets are folded (§3.1) without splitting a UTF-8 character."""
    out: list[str] = []
    current = ""
    for char in line:
        if len((current + char).encode()) > 75:
            out.append(current)
            current = " " + char
        else:
            current += char
    out.append(current)
    return "\r\n".join(out)


def _utc(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def session_ics(
    session: MediationSession,
    *,
    cancel: bool = False,
    summary: str,
    description: str,
    organizer_name: str = "",
) -> str:
    """The calendar file to attach to a scheduling, rescheduling or cancellation e-mail."""
    start = session.scheduled_at
    if start is None:
        raise ValueError("A session without a time has no calendar entry.")
    end = start + timedelta(minutes=session.duration_minutes)
    room = f"{site_url()}{session.room_url}"
    organizer_mail = settings.DEFAULT_FROM_EMAIL.rsplit("<", 1)[-1].rstrip(">").strip()
    organizer = "ORGANIZER"
    if organizer_name:
        organizer += f";CN={param_value(organizer_name)}"
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODID}",
        "CALSCALE:GREGORIAN",
        f"METHOD:{'CANCEL' if cancel else 'REQUEST'}",
        "BEGIN:VEVENT",
        f"UID:{session.ics_uid}@{_host()}",
        f"SEQUENCE:{session.ics_sequence}",
        f"DTSTAMP:{_utc(timezone.now())}",
        f"DTSTART:{_utc(start)}",
        f"DTEND:{_utc(end)}",
        f"SUMMARY:{escape_text(summary)}",
        f"DESCRIPTION:{escape_text(description)}",
        f"LOCATION:{escape_text(room)}",
        f"URL:{bare_value(room)}",
        f"{organizer}:mailto:{bare_value(organizer_mail)}",
        f"STATUS:{'CANCELLED' if cancel else 'CONFIRMED'}",
        "TRANSP:OPAQUE",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return "\r\n".join(fold(line) for line in lines) + "\r\n"


def _host() -> str:
    host = site_url().split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0]
    return bare_value(host) or "odr"
