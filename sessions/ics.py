"""Calendar files (RFC 5545) for mediation sessions: one VEVENT per session, identified by
its `ics_uid`, with SEQUENCE bumped on every reschedule so calendars replace the old
time, and METHOD:CANCEL when the session is cancelled."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.utils import timezone

from sessions.models import MediationSession

PRODID = "-//ODR platform//Mediation sessions//ZH"


def escape_text(value: str) -> str:
    """TEXT values (RFC 5545 §3.3.11): backslash, semicolon, comma and newlines escaped."""
    return (
        value.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
    )


def fold(line: str) -> str:
    """Lines longer than 75 octets are folded (§3.1) without splitting a UTF-8 character."""
    out: list[str] = []
    current = ""
    limit = 75
    for char in line:
        if len((current + char).encode()) > limit:
            out.append(current)
            current = " " + char
            limit = 75
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
    room = f"{settings.SITE_URL}{session.room_url}"
    organizer_mail = settings.DEFAULT_FROM_EMAIL.rsplit("<", 1)[-1].rstrip(">").strip()
    organizer = "ORGANIZER"
    if organizer_name:
        organizer += f";CN={_param(organizer_name)}"
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
        f"URL:{room}",
        f"{organizer}:mailto:{organizer_mail}",
        f"STATUS:{'CANCELLED' if cancel else 'CONFIRMED'}",
        "TRANSP:OPAQUE",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return "\r\n".join(fold(line) for line in lines) + "\r\n"


def _param(value: str) -> str:
    # Parameter values may not hold these characters unquoted (§3.2).
    cleaned = value.replace('"', "'")
    return f'"{cleaned}"' if any(c in cleaned for c in ":;,") else cleaned


def _host() -> str:
    return settings.SITE_URL.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0] or "odr"
