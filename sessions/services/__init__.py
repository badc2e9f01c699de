"""Every write to mediation sessions and their rooms (DESIGN.md §4), by sub-domain:

- `scheduling`: schedule, pick, reschedule, cancel, start, end, minutes, and the close of
  a case's sessions when it leaves mediation; the e-mails and calendar files;
- `room`: join, leave, admit, remove, caucus, chat and end from inside the room;
- `access`: room tickets, ICE/TURN credentials, the pre-join consent and self-test.

Callers use this package as one module (`from sessions import services`)."""

from sessions.services.access import (
    SELF_TEST_GRADES,
    TicketClaims,
    Unauthenticated,
    ice_servers_for,
    room_record_consent,
    room_record_self_test,
    ticket_check,
    ticket_issue,
    ticket_redeem,
    ticket_spend,
    turn_credentials,
)
from sessions.services.room import (
    MAX_CHAT_CHARS,
    Joined,
    room_admit,
    room_caucus,
    room_caucus_end,
    room_chat,
    room_end,
    room_enter,
    room_join,
    room_leave,
    room_remove,
    welcome_corrections,
    welcome_hint,
    welcome_message,
)
from sessions.services.scheduling import (
    MAX_MINUTES_CHARS,
    MAX_PROPOSED_TIMES,
    ics_attachment,
    session_cancel,
    session_end,
    session_mail_context,
    session_minutes_save,
    session_pick,
    session_reschedule,
    session_schedule,
    session_start,
    sessions_close_orphaned,
    sessions_close_with_case,
)

__all__ = [
    "MAX_CHAT_CHARS",
    "MAX_MINUTES_CHARS",
    "MAX_PROPOSED_TIMES",
    "SELF_TEST_GRADES",
    "Joined",
    "TicketClaims",
    "Unauthenticated",
    "ice_servers_for",
    "ics_attachment",
    "room_admit",
    "room_caucus",
    "room_caucus_end",
    "room_chat",
    "room_end",
    "room_enter",
    "room_join",
    "room_leave",
    "room_record_consent",
    "room_record_self_test",
    "room_remove",
    "session_cancel",
    "session_end",
    "session_mail_context",
    "session_minutes_save",
    "session_pick",
    "session_reschedule",
    "session_schedule",
    "session_start",
    "sessions_close_orphaned",
    "sessions_close_with_case",
    "ticket_check",
    "ticket_issue",
    "ticket_redeem",
    "ticket_spend",
    "turn_credentials",
    "welcome_corrections",
    "welcome_hint",
    "welcome_message",
]
