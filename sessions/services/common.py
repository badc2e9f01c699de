"""What the session services share: the one path for a status move, the times people
give, and what a room that closes does to its connections and tickets."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.utils import timezone
from django.utils.translation import gettext as _

from odr.errors import Invalid, NotFound
from sessions import mirror, selectors
from sessions.broadcast import CLOSE_ENDED, CacheWrite, Delivery, deliver_on_commit, room_group
from sessions.models import Attendance, MediationSession, RoomParticipant, RoomTicket
from sessions.transitions import MACHINE

State = RoomParticipant.State


def apply_transition(
    name: str,
    *,
    session: MediationSession,
    actor: AbstractBaseUser | None,
    **kwargs: Any,
) -> MediationSession:
    """The one path by which a session's status moves: the kernel's apply on the session
    machine (lock, check under the lock, save, audit, `transitioned` after commit), its
    refusals in the words its transitions declare."""
    return MACHINE.apply(name, instance=session, actor=actor, **kwargs)


def future_time(value: datetime | str, *, now: datetime) -> datetime:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise Invalid(_("Give a date and time."), code="invalid_time") from None
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    if value <= now:
        raise Invalid(_("Choose a time in the future."), code="time_in_past")
    if value > now + timedelta(days=366):
        raise Invalid(_("Choose a time within the next year."), code="time_too_far")
    return value.replace(microsecond=0)


def valid_duration(minutes: int) -> int:
    if not 15 <= int(minutes) <= 480:
        raise Invalid(_("A session lasts 15 minutes to 8 hours."), code="invalid_duration")
    return int(minutes)


def local_time(value: datetime | None) -> str:
    if value is None:
        return ""
    # "北京时间", not the zone's database name (issue 12).
    return _("%(time)s Beijing time") % {
        "time": timezone.localtime(value).strftime("%Y-%m-%d %H:%M")
    }


def participant_for_update(
    session: MediationSession, user: AbstractBaseUser, *, role: str | None = None
) -> RoomParticipant:
    """This person's place in the room, made on first use (the mediator in the room, a
    party in the lobby); NotFound for whoever takes no part in the session. `role`: the
    caller's `room_role_of`, when already read."""
    role = role or selectors.room_role_of(session, user)
    if role is None:
        raise NotFound()
    participant, _created = RoomParticipant.objects.select_for_update().get_or_create(
        session=session,
        user=user,
        defaults={
            "role": role,
            "state": State.ROOM if role == selectors.MEDIATOR else State.LOBBY,
        },
    )
    return participant


def void_tickets(session: MediationSession) -> int:
    """The session's unused tickets expire now: a room that closed opens for nobody.
    Returns how many were voided (the caller's audit event records it)."""
    now = timezone.now()
    return RoomTicket.objects.filter(
        session=session, used_at__isnull=True, expires_at__gt=now
    ).update(expires_at=now)


def close_room(session: MediationSession) -> None:
    """Everyone connected hears `ended` (after commit) and is disconnected; attendance
    closes. For a session that ended, was cancelled or was closed with its case."""
    now = timezone.now()
    RoomParticipant.objects.filter(session=session, connected=True).update(
        connected=False, channel_name=""
    )
    Attendance.objects.filter(session=session, left_at__isnull=True).update(left_at=now)
    session_id = session.pk
    deliver_on_commit(
        [
            Delivery(message={"type": "ended"}, group=room_group(session_id), close=CLOSE_ENDED),
            # A ticket's join checks the room's copy, not the database (issue 13).
            CacheWrite(lambda: mirror.remember_closed(session_id)),
        ]
    )
