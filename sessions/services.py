"""Every write to mediation sessions and their rooms (DESIGN.md §4): scheduling, tickets,
the room (join, leave, admit, remove, caucus, chat, end), consent and self-test, minutes.

Each function locks the session row, so that changes to one room are serialised across
Daphne processes, writes an audit event, and hands the messages the change causes to
`broadcast.deliver_on_commit`."""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from odr.audit import log_action
from odr.errors import DomainError, Forbidden, Invalid, NotFound
from odr.models import Dispute
from odr.notifications import Recipient, notify
from odr.services import display_name
from sessions import ics, selectors
from sessions.broadcast import (
    CLOSE_ENDED,
    CLOSE_REMOVED,
    CLOSE_SUPERSEDED,
    Delivery,
    deliver_on_commit,
    room_group,
)
from sessions.models import (
    Attendance,
    ChatMessage,
    MediationSession,
    RoomParticipant,
    RoomTicket,
)
from sessions.selectors import MEDIATOR, Peer, RoomSnapshot, room_snapshot

S = MediationSession.Status
State = RoomParticipant.State

MAX_PROPOSED_TIMES = 5
MAX_CHAT_CHARS = 2000
MAX_MINUTES_CHARS = 100_000
SELF_TEST_GRADES = ("good", "fair", "poor")


# --- helpers ---------------------------------------------------------------------------


def _lock(session: MediationSession | int) -> MediationSession:
    pk = session if isinstance(session, int) else session.pk
    locked = (
        MediationSession.objects.select_for_update(of=("self",))
        .select_related("dispute", "dispute__mediator", "dispute__organisation")
        .filter(pk=pk)
        .first()
    )
    if locked is None:
        raise NotFound()
    return locked


def _snapshot(session: MediationSession) -> dict[str, Any]:
    return {
        "status": session.status,
        "scheduled_at": session.scheduled_at,
        "proposed_times": list(session.proposed_times or []),
        "ics_sequence": session.ics_sequence,
    }


def _require_mediator(session_or_dispute: MediationSession | Dispute, actor) -> None:
    dispute = getattr(session_or_dispute, "dispute", session_or_dispute)
    if not actor.is_authenticated or dispute.mediator_id != actor.pk:
        raise Forbidden(_("Only the case's mediator can do this."), code="mediator_only")


def _future_time(value: datetime | str, *, now: datetime) -> datetime:
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


def _local(value: datetime | None) -> str:
    if value is None:
        return ""
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") + f" ({settings.TIME_ZONE})"


def session_people(session: MediationSession) -> list[Recipient | AbstractBaseUser]:
    """Both parties (by account, or by the e-mail the case holds) and the mediator."""
    out: list[Recipient | AbstractBaseUser] = []
    for party in session.dispute.parties.select_related("user", "user__profile"):
        if party.user is not None:
            out.append(party.user)
        elif party.email:
            out.append(Recipient(email=party.email))
    if session.dispute.mediator is not None:
        out.append(session.dispute.mediator)
    return out


def _parties(session: MediationSession) -> list[Recipient | AbstractBaseUser]:
    mediator_id = session.dispute.mediator_id
    return [r for r in session_people(session) if getattr(r, "pk", None) != mediator_id]


def session_mail_context(session: MediationSession, **extra: Any) -> dict[str, Any]:
    dispute = session.dispute
    return {
        "case_number": dispute.case_number,
        "title": dispute.title,
        "organisation": dispute.organisation.name if dispute.organisation else "",
        "mediator": display_name(dispute.mediator) if dispute.mediator else "",
        "when": _local(session.scheduled_at),
        "duration_minutes": session.duration_minutes,
        "session_url": f"{settings.SITE_URL}/sessions/{session.pk}/",
        "room_url": f"{settings.SITE_URL}{session.room_url}",
        "proposed": [_local(datetime.fromisoformat(t)) for t in session.proposed_times or []],
        **extra,
    }


def ics_attachment(session: MediationSession, *, cancel: bool = False) -> tuple[str, str, str]:
    dispute = session.dispute
    summary = _("Mediation session: %(case)s") % {"case": dispute.case_number}
    description = _("Online mediation session of case %(case)s (%(title)s). Join at %(url)s") % {
        "case": dispute.case_number,
        "title": dispute.title,
        "url": f"{settings.SITE_URL}{session.room_url}",
    }
    text = ics.session_ics(
        session,
        cancel=cancel,
        summary=summary,
        description=description,
        organizer_name=dispute.organisation.name if dispute.organisation else "",
    )
    return ("cancel.ics" if cancel else "invite.ics", text, "text/calendar")


def _audit(action: str, session: MediationSession, actor, *, before=None, after=None) -> None:
    log_action(
        action=action,
        obj=session,
        actor=actor,
        dispute=session.dispute,
        before=before or {},
        after=after or {},
    )


# --- scheduling ------------------------------------------------------------------------


@transaction.atomic
def session_schedule(
    *,
    dispute: Dispute,
    actor: AbstractBaseUser,
    scheduled_at: datetime | str | None = None,
    proposed_times: list[datetime | str] | None = None,
    duration_minutes: int = 60,
) -> MediationSession:
    """The mediator of a case in mediation fixes one time, or offers several for the
    parties to pick from."""
    dispute = Dispute.objects.select_for_update().get(pk=dispute.pk)
    _require_mediator(dispute, actor)
    if dispute.status != Dispute.Status.IN_MEDIATION:
        raise DomainError(
            "invalid_status", _("Sessions can be scheduled only while the case is in mediation.")
        )
    if not 15 <= int(duration_minutes) <= 480:
        raise Invalid(_("A session lasts 15 minutes to 8 hours."), code="invalid_duration")
    now = timezone.now()
    if (scheduled_at is None) == (not proposed_times):
        raise Invalid(
            _("Give either one time or several times to choose from."), code="invalid_time"
        )
    session = MediationSession(
        dispute=dispute, created_by=actor, duration_minutes=int(duration_minutes)
    )
    if scheduled_at is not None:
        session.scheduled_at = _future_time(scheduled_at, now=now)
        session.status = S.SCHEDULED
    else:
        times = sorted({_future_time(t, now=now) for t in proposed_times or []})
        if len(times) > MAX_PROPOSED_TIMES:
            raise Invalid(
                _("Offer at most %(n)d times.") % {"n": MAX_PROPOSED_TIMES},
                code="too_many_times",
            )
        session.proposed_times = [t.isoformat() for t in times]
        session.status = S.PROPOSED
    session.save()
    _audit("session.schedule", session, actor, after=_snapshot(session))
    if session.status == S.SCHEDULED:
        notify(
            session_people(session),
            "session_scheduled",
            session_mail_context(session),
            attachments=[ics_attachment(session)],
        )
    else:
        notify(_parties(session), "session_proposed", session_mail_context(session))
    return session


@transaction.atomic
def session_pick(
    *, session: MediationSession, actor: AbstractBaseUser, time: datetime | str
) -> MediationSession:
    """A party picks one of the offered times; the first pick fixes the session."""
    session = _lock(session)
    if not selectors.is_session_party(session, actor):
        raise Forbidden(_("Only the parties pick the time."), code="party_only")
    if session.status != S.PROPOSED:
        raise DomainError("invalid_status", _("The time of this session is already fixed."))
    chosen = _future_time(time, now=timezone.now())
    offered = {datetime.fromisoformat(t): t for t in session.proposed_times}
    if chosen not in offered:
        raise Invalid(_("Pick one of the offered times."), code="time_not_offered")
    before = _snapshot(session)
    session.scheduled_at = chosen
    session.status = S.SCHEDULED
    session.save(update_fields=["scheduled_at", "status"])
    _audit("session.pick", session, actor, before=before, after=_snapshot(session))
    notify(
        session_people(session),
        "session_scheduled",
        session_mail_context(session, picked_by=display_name(actor)),
        attachments=[ics_attachment(session)],
    )
    return session


@transaction.atomic
def session_reschedule(
    *,
    session: MediationSession,
    actor: AbstractBaseUser,
    scheduled_at: datetime | str,
    duration_minutes: int | None = None,
) -> MediationSession:
    session = _lock(session)
    _require_mediator(session, actor)
    if session.status not in (S.PROPOSED, S.SCHEDULED):
        raise DomainError(
            "invalid_status", _("Only a session that has not started can be rescheduled.")
        )
    if duration_minutes is not None:
        if not 15 <= int(duration_minutes) <= 480:
            raise Invalid(_("A session lasts 15 minutes to 8 hours."), code="invalid_duration")
        session.duration_minutes = int(duration_minutes)
    before = _snapshot(session)
    session.scheduled_at = _future_time(scheduled_at, now=timezone.now())
    session.status = S.SCHEDULED
    session.proposed_times = []
    # Calendars replace an event only when its SEQUENCE grows (RFC 5545 §3.8.7.4).
    session.ics_sequence += 1
    session.reminded_day_before_at = None
    session.reminded_soon_at = None
    session.save()
    _audit("session.reschedule", session, actor, before=before, after=_snapshot(session))
    notify(
        session_people(session),
        "session_rescheduled",
        session_mail_context(session, previous=_local(before["scheduled_at"])),
        attachments=[ics_attachment(session)],
    )
    return session


@transaction.atomic
def session_cancel(
    *, session: MediationSession, actor: AbstractBaseUser, reason: str = ""
) -> MediationSession:
    session = _lock(session)
    _require_mediator(session, actor)
    if session.status not in (S.PROPOSED, S.SCHEDULED, S.LIVE):
        raise DomainError("invalid_status", _("This session is already over."))
    before = _snapshot(session)
    reason = (reason or "").strip()[:2000]
    session.status = S.CANCELLED
    session.ics_sequence += 1
    session.caucus_peer_ids = []
    session.save()
    _disconnect_everyone(session)
    _audit(
        "session.cancel",
        session,
        actor,
        before=before,
        after={**_snapshot(session), "reason": reason},
    )
    attachments = [ics_attachment(session, cancel=True)] if session.scheduled_at else []
    notify(
        session_people(session),
        "session_cancelled",
        session_mail_context(session, reason=reason),
        attachments=attachments,
    )
    deliver_on_commit(
        [Delivery(message={"type": "ended"}, group=room_group(session.pk), close=CLOSE_ENDED)]
    )
    return session


@transaction.atomic
def session_end(*, session: MediationSession | int, actor: AbstractBaseUser) -> MediationSession:
    """The mediator ends the session: everyone hears `ended`, nobody can join again."""
    session = _lock(session)
    _require_mediator(session, actor)
    if session.status not in (S.SCHEDULED, S.LIVE):
        raise DomainError("invalid_status", _("This session is not running."))
    before = _snapshot(session)
    now = timezone.now()
    session.status = S.ENDED
    session.ended_at = now
    session.started_at = session.started_at or now
    session.caucus_peer_ids = []
    session.save()
    _disconnect_everyone(session)
    _audit("session.end", session, actor, before=before, after=_snapshot(session))
    deliver_on_commit(
        [Delivery(message={"type": "ended"}, group=room_group(session.pk), close=CLOSE_ENDED)]
    )
    return session


def _disconnect_everyone(session: MediationSession) -> None:
    now = timezone.now()
    RoomParticipant.objects.filter(session=session, connected=True).update(
        connected=False, channel_name=""
    )
    Attendance.objects.filter(session=session, left_at__isnull=True).update(left_at=now)


@transaction.atomic
def session_minutes_save(
    *, session: MediationSession, actor: AbstractBaseUser, minutes: str
) -> MediationSession:
    """The mediator's minutes (笔录), during or after the session."""
    session = _lock(session)
    _require_mediator(session, actor)
    if session.status in (S.PROPOSED, S.CANCELLED):
        raise DomainError(
            "invalid_status", _("Minutes are written for a session that takes place.")
        )
    minutes = (minutes or "").replace("\r\n", "\n")
    if len(minutes) > MAX_MINUTES_CHARS:
        raise Invalid(_("The minutes are too long."), code="minutes_too_long")
    before = {
        "length": len(session.minutes),
        "sha256": hashlib.sha256(session.minutes.encode()).hexdigest(),
    }
    session.minutes = minutes
    session.save(update_fields=["minutes"])
    _audit(
        "session.minutes",
        session,
        actor,
        before=before,
        after={"length": len(minutes), "sha256": hashlib.sha256(minutes.encode()).hexdigest()},
    )
    return session


# --- ICE servers -----------------------------------------------------------------------


def turn_credentials(user_id: int, *, now: datetime | None = None) -> tuple[str, str]:
    """coturn's REST scheme (use-auth-secret): the username is "<expiry>:<user id>", the
    password base64(HMAC-SHA1(secret, username)); coturn checks both without a database."""
    now = now or timezone.now()
    expiry = int(now.timestamp() + settings.ODR_TURN_TTL.total_seconds())
    username = f"{expiry}:{user_id}"
    digest = hmac.new(settings.ODR_TURN_SECRET.encode(), username.encode(), hashlib.sha1)
    return username, base64.b64encode(digest.digest()).decode()


def ice_servers_for(user: AbstractBaseUser) -> list[dict[str, Any]]:
    """RTCIceServer objects for this user: STUN as configured; TURN with time-limited
    credentials when a TURN secret is set (otherwise the TURN URLs as they are)."""
    servers: list[dict[str, Any]] = []
    if settings.ODR_STUN_URLS:
        servers.append({"urls": list(settings.ODR_STUN_URLS)})
    if settings.ODR_TURN_URLS:
        turn: dict[str, Any] = {"urls": list(settings.ODR_TURN_URLS)}
        if settings.ODR_TURN_SECRET:
            turn["username"], turn["credential"] = turn_credentials(user.pk)
        servers.append(turn)
    return servers


# --- tickets ---------------------------------------------------------------------------


def _ticket_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def ticket_issue(*, session: MediationSession, user: AbstractBaseUser) -> tuple[str, datetime]:
    """A single-use, short-lived ticket for a client that has no cookie session. Only its
    SHA-256 is stored: a copy of the database opens no room."""
    session = _lock(session)
    if selectors.room_role_of(session, user) is None:
        # Staff who see the case but are not in it: the session exists for them (403).
        raise Forbidden(
            _("Only the parties and the mediator join the room."), code="not_participant"
        )
    if session.status not in selectors.OPEN_ROOM:
        raise DomainError("session_closed", _("This session's room is not open."))
    token = secrets.token_urlsafe(32)
    expires_at = timezone.now() + settings.ODR_ROOM_TICKET_TTL
    RoomTicket.objects.create(
        session=session, user=user, token_hash=_ticket_hash(token), expires_at=expires_at
    )
    # Old tickets only take room; nobody can use them any more.
    RoomTicket.objects.filter(expires_at__lt=timezone.now() - timedelta(days=1)).delete()
    return token, expires_at


def ticket_redeem(*, session_id: int, token: str) -> AbstractBaseUser | None:
    """The ticket's user, once: the conditional UPDATE marks it used atomically, so two
    connections racing with one ticket (even on two processes) cannot both enter."""
    if not token or len(token) > 200:
        return None
    now = timezone.now()
    digest = _ticket_hash(token)
    used = RoomTicket.objects.filter(
        token_hash=digest, session_id=session_id, used_at__isnull=True, expires_at__gt=now
    ).update(used_at=now)
    if used != 1:
        return None
    return RoomTicket.objects.select_related("user").get(token_hash=digest).user


# --- consent and self-test (the pre-join page) ------------------------------------------


def _participant(session: MediationSession, user: AbstractBaseUser) -> RoomParticipant:
    role = selectors.room_role_of(session, user)
    if role is None:
        raise NotFound()
    participant, _created = RoomParticipant.objects.select_for_update().get_or_create(
        session=session,
        user=user,
        defaults={"role": role, "state": State.ROOM if role == MEDIATOR else State.LOBBY},
    )
    return participant


@transaction.atomic
def room_record_consent(
    *, session: MediationSession, user: AbstractBaseUser, online: bool, recording: bool
) -> RoomParticipant:
    """Consent to online mediation (required) and to recording (optional; recording
    runs only when everyone consented)."""
    session = _lock(session)
    participant = _participant(session, user)
    if not online:
        raise Invalid(
            _("Online mediation needs your consent; without it you cannot join the room."),
            code="consent_required",
        )
    before = {
        "online": participant.consented_online_at is not None,
        "recording": participant.consented_recording_at is not None,
    }
    now = timezone.now()
    participant.consented_online_at = participant.consented_online_at or now
    participant.consented_recording_at = (
        (participant.consented_recording_at or now) if recording else None
    )
    participant.save(update_fields=["consented_online_at", "consented_recording_at"])
    log_action(
        action="session.consent",
        obj=participant,
        actor=user,
        dispute=session.dispute,
        before=before,
        after={"online": True, "recording": bool(recording)},
    )
    return participant


def _number(result: dict, key: str, *, low: float, high: float) -> float:
    value = result.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise Invalid(_("The self-test result is incomplete."), code="invalid_self_test")
    if not low <= value <= high:
        raise Invalid(_("The self-test result is out of range."), code="invalid_self_test")
    return round(float(value), 2)


@transaction.atomic
def room_record_self_test(
    *, session: MediationSession, user: AbstractBaseUser, result: dict
) -> RoomParticipant:
    """Keeps the pre-join network self-test ({rtt_ms, loss_pct, bitrate_kbps, grade}) with
    the participant and on the attendance row of a connection already open."""
    session = _lock(session)
    participant = _participant(session, user)
    if not isinstance(result, dict) or result.get("grade") not in SELF_TEST_GRADES:
        raise Invalid(_("The self-test result is incomplete."), code="invalid_self_test")
    cleaned = {
        "rtt_ms": _number(result, "rtt_ms", low=0, high=600_000),
        "loss_pct": _number(result, "loss_pct", low=0, high=100),
        "bitrate_kbps": _number(result, "bitrate_kbps", low=0, high=10_000_000),
        "grade": result["grade"],
        "at": timezone.now().isoformat(),
    }
    participant.self_test = cleaned
    participant.save(update_fields=["self_test"])
    Attendance.objects.filter(session=session, user=user, left_at__isnull=True).update(
        self_test=cleaned
    )
    log_action(
        action="session.self_test",
        obj=participant,
        actor=user,
        dispute=session.dispute,
        after=cleaned,
    )
    return participant


# --- the room --------------------------------------------------------------------------


@dataclass
class Joined:
    peer: Peer
    state: str
    peers: list[Peer]
    caucus: bool
    # peer id -> channel of whom this connection may signal now (see `_reach`).
    reach: dict[str, str]
    recording: bool = False


def _send(
    peer: Peer, message: dict, *, close: int | None = None, after: RoomSnapshot | None = None
) -> Delivery:
    return Delivery(
        message=message,
        channel=peer.channel_name,
        close=close,
        reach=_reach(after, peer.peer_id) if after is not None else None,
    )


def _reach(snapshot: RoomSnapshot, peer_id: str) -> dict[str, str]:
    """Whom this peer may signal, with their channels, as the committed room stands.
    Every room change delivers it to each peer it concerns, so the consumer relays a
    `signal` without a database read and drops one that crossed a change in flight; a
    (re)connection reads it from the database. It is per connection, never shared."""
    return {p.peer_id: p.channel_name for p in snapshot.visible_to(peer_id)}


def _lobby_update(after: RoomSnapshot) -> list[Delivery]:
    """The mediator's list of who waits in the lobby (beyond the contract: `lobby`)."""
    mediator = after.mediator
    if mediator is None or not mediator.connected:
        return []
    return [_send(mediator, {"type": "lobby", "peers": [p.public() for p in after.lobby()]})]


def _room_changes(
    before: RoomSnapshot, after: RoomSnapshot, *, caucus_changed: bool, skip: set[str]
) -> list[Delivery]:
    """What each connected peer in the room hears about a change: `peer-joined` and
    `peer-left` for who appeared and disappeared, or, when the caucus changed, one `caucus`
    with the new visible set and, in `call`, the newly visible peers this client must call
    (the smaller peer id calls, so two peers never call each other at once)."""
    out: list[Delivery] = []
    for peer in after.present():
        if peer.peer_id in skip:
            continue
        seen_before = before.visible_ids(peer.peer_id)
        seen_after = after.visible_ids(peer.peer_id)
        if caucus_changed:
            gained = seen_after - seen_before
            out.append(
                _send(
                    peer,
                    {
                        "type": "caucus",
                        "peers": [p.public() for p in after.visible_to(peer.peer_id)],
                        "active": bool(after.caucus),
                        "call": sorted(q for q in gained if peer.peer_id < q),
                    },
                    after=after,
                )
            )
            continue
        for q in sorted(seen_after - seen_before):
            out.append(
                _send(peer, {"type": "peer-joined", "peer": after.peers[q].public()}, after=after)
            )
        for q in sorted(seen_before - seen_after):
            out.append(_send(peer, {"type": "peer-left", "peer_id": q}, after=after))
    return out


def _without(snapshot: RoomSnapshot, peer_id: str) -> RoomSnapshot:
    """The snapshot as if this peer were not connected."""
    peers = dict(snapshot.peers)
    if peer_id in peers:
        p = peers[peer_id]
        peers[peer_id] = Peer(**{**p.__dict__, "connected": False})
    return RoomSnapshot(
        session_id=snapshot.session_id, status=snapshot.status, caucus=snapshot.caucus, peers=peers
    )


def _room_audit(action: str, session: MediationSession, actor, **after: Any) -> None:
    log_action(action=action, obj=session, actor=actor, dispute=session.dispute, after=after)


@transaction.atomic
def room_join(*, session_id: int, user: AbstractBaseUser, channel_name: str) -> Joined:
    """A connection opens: the mediator enters the room (and the session goes live);
    a party waits in the lobby unless already admitted (a reconnect comes back to the
    same place with the same peer id)."""
    not_participant = Forbidden(
        _("You are not a participant of this session."), code="not_participant"
    )
    try:
        session = _lock(session_id)
    except NotFound:
        # The same answer as for someone else's session: ids cannot be probed.
        raise not_participant from None
    role = selectors.room_role_of(session, user)
    if role is None:
        raise not_participant
    if session.status not in selectors.OPEN_ROOM:
        raise DomainError("session_closed", _("This session's room is not open."))
    before = room_snapshot(session.pk)
    participant = _participant(session, user)
    superseded = participant.channel_name if participant.connected else ""
    if role == MEDIATOR:
        participant.state = State.ROOM
        if session.status == S.SCHEDULED:
            session.status = S.LIVE
            session.started_at = session.started_at or timezone.now()
            session.save(update_fields=["status", "started_at"])
            _audit("session.start", session, user, after={"status": session.status})
    elif participant.state == State.REMOVED:
        # Removed people may knock again; the mediator decides.
        participant.state = State.LOBBY
    participant.role = role
    participant.connected = True
    participant.channel_name = channel_name
    participant.save(update_fields=["state", "role", "connected", "channel_name"])
    Attendance.objects.filter(session=session, user=user, left_at__isnull=True).update(
        left_at=timezone.now()
    )
    Attendance.objects.create(session=session, user=user, self_test=participant.self_test)
    _room_audit("session.join", session, user, peer_id=participant.peer_id, state=participant.state)

    after = room_snapshot(session.pk)
    me = after.peers[participant.peer_id]
    deliveries: list[Delivery] = []
    if superseded and superseded != channel_name:
        deliveries.append(
            Delivery(
                message={
                    "type": "error",
                    "code": "superseded",
                    "message": _("You joined this room from another window."),
                },
                channel=superseded,
                close=CLOSE_SUPERSEDED,
            )
        )
        # Those who saw the old connection hang up on it before the new one calls.
        for peer in before.present():
            if peer.peer_id != me.peer_id and me.peer_id in before.visible_ids(peer.peer_id):
                deliveries.append(
                    _send(
                        peer,
                        {"type": "peer-left", "peer_id": me.peer_id},
                        after=_without(before, me.peer_id),
                    )
                )
    if me.in_room:
        deliveries += _room_changes(
            _without(before, me.peer_id), after, caucus_changed=False, skip={me.peer_id}
        )
    if me.role == MEDIATOR:
        deliveries += [_send(me, {"type": "knock", "peer": p.public()}) for p in after.lobby()]
    elif me.state == State.LOBBY and after.mediator is not None and after.mediator.connected:
        deliveries.append(_send(after.mediator, {"type": "knock", "peer": me.public()}))
    if me.state == State.LOBBY or me.role == MEDIATOR:
        deliveries += _lobby_update(after)
    deliver_on_commit(deliveries)
    return Joined(
        peer=me,
        state=State.ROOM if me.in_room else State.LOBBY,
        peers=after.visible_to(me.peer_id),
        caucus=me.in_room and bool(after.caucus),
        reach=_reach(after, me.peer_id),
        recording=selectors.recording_active(session.pk),
    )


@transaction.atomic
def room_leave(*, session_id: int, peer_id: str, channel_name: str) -> None:
    """A connection closed. A superseded connection's close changes nothing; otherwise
    the peer stays where it was (lobby or room) for its return, only disconnected."""
    session = _lock(session_id)
    participant = (
        RoomParticipant.objects.select_for_update().filter(session=session, peer_id=peer_id).first()
    )
    if participant is None or not participant.connected:
        return
    if participant.channel_name != channel_name:
        return
    before = room_snapshot(session.pk)
    participant.connected = False
    participant.channel_name = ""
    participant.save(update_fields=["connected", "channel_name"])
    Attendance.objects.filter(
        session=session, user_id=participant.user_id, left_at__isnull=True
    ).update(left_at=timezone.now())
    _room_audit("session.leave", session, participant.user, peer_id=peer_id)
    after = room_snapshot(session.pk)
    deliveries = _room_changes(before, after, caucus_changed=False, skip=set())
    if participant.state == State.LOBBY:
        deliveries += _lobby_update(after)
    deliver_on_commit(deliveries)


def _mediator_in(snapshot: RoomSnapshot, actor_peer: str) -> Peer:
    me = snapshot.peers.get(actor_peer)
    if me is None or me.role != MEDIATOR:
        raise Forbidden(_("Only the mediator can do this."), code="mediator_only")
    return me


def _target(snapshot: RoomSnapshot, peer_id: Any) -> Peer:
    if not isinstance(peer_id, str) or peer_id not in snapshot.peers:
        raise Invalid(_("There is no such peer in this room."), code="unknown_peer")
    return snapshot.peers[peer_id]


@transaction.atomic
def room_admit(*, session_id: int, actor_peer: str, peer_id: Any) -> None:
    session = _lock(session_id)
    before = room_snapshot(session.pk)
    mediator = _mediator_in(before, actor_peer)
    target = _target(before, peer_id)
    if target.state != State.LOBBY:
        raise Invalid(_("This person is not waiting in the lobby."), code="not_in_lobby")
    RoomParticipant.objects.filter(session=session, peer_id=target.peer_id).update(state=State.ROOM)
    _room_audit("session.admit", session, _user(mediator), peer_id=target.peer_id)
    after = room_snapshot(session.pk)
    me = after.peers[target.peer_id]
    deliveries: list[Delivery] = []
    if me.connected:
        deliveries.append(
            _send(
                me,
                {
                    "type": "admitted",
                    "peers": [p.public() for p in after.visible_to(me.peer_id)],
                    "caucus": bool(after.caucus),
                },
                after=after,
            )
        )
    deliveries += _room_changes(before, after, caucus_changed=False, skip={me.peer_id})
    deliveries += _lobby_update(after)
    deliver_on_commit(deliveries)


@transaction.atomic
def room_remove(*, session_id: int, actor_peer: str, peer_id: Any) -> None:
    """The mediator sends someone out: their connection closes (`removed`), the others
    hang up on them; a caucus left without anyone in it ends."""
    session = _lock(session_id)
    before = room_snapshot(session.pk)
    mediator = _mediator_in(before, actor_peer)
    target = _target(before, peer_id)
    if target.role == MEDIATOR:
        raise Invalid(_("The mediator cannot remove themself."), code="cannot_remove_mediator")
    if target.state == State.REMOVED:
        raise Invalid(_("This person was already removed."), code="already_removed")
    RoomParticipant.objects.filter(session=session, peer_id=target.peer_id).update(
        state=State.REMOVED, connected=False, channel_name=""
    )
    Attendance.objects.filter(session=session, user_id=target.user_id, left_at__isnull=True).update(
        left_at=timezone.now()
    )
    caucus = [p for p in session.caucus_peer_ids if p != target.peer_id]
    caucus_changed = caucus != list(session.caucus_peer_ids)
    if caucus_changed:
        session.caucus_peer_ids = caucus
        session.save(update_fields=["caucus_peer_ids"])
    _room_audit("session.remove", session, _user(mediator), peer_id=target.peer_id)
    after = room_snapshot(session.pk)
    deliveries: list[Delivery] = []
    if target.connected:
        deliveries.append(_send(target, {"type": "removed"}, close=CLOSE_REMOVED))
    # The target's departure first, then (if the caucus emptied) the new sides.
    deliveries += _room_changes(
        before, _without(before, target.peer_id), caucus_changed=False, skip=set()
    )
    if caucus_changed and not caucus:
        deliveries += _room_changes(
            _without(before, target.peer_id), after, caucus_changed=True, skip=set()
        )
    deliveries += _lobby_update(after)
    deliver_on_commit(deliveries)


@transaction.atomic
def room_caucus(*, session_id: int, actor_peer: str, peer_ids: Any) -> None:
    """A private caucus (背对背): the mediator and these peers stay together, everyone
    else in the room waits apart. The partition is enforced in `visible_to`, which every
    signal and chat is checked against."""
    session = _lock(session_id)
    before = room_snapshot(session.pk)
    mediator = _mediator_in(before, actor_peer)
    if (
        not isinstance(peer_ids, list)
        or not peer_ids
        or len(peer_ids) > 50
        or not all(isinstance(p, str) for p in peer_ids)
    ):
        raise Invalid(_("Name the peers of the caucus."), code="invalid_caucus")
    chosen = sorted(set(peer_ids))
    for pid in chosen:
        target = _target(before, pid)
        if target.role == MEDIATOR or not target.in_room:
            raise Invalid(_("A caucus is held with people in the room."), code="invalid_caucus")
    session.caucus_peer_ids = chosen
    session.save(update_fields=["caucus_peer_ids"])
    _room_audit("session.caucus", session, _user(mediator), peer_ids=chosen)
    after = room_snapshot(session.pk)
    deliver_on_commit(_room_changes(before, after, caucus_changed=True, skip=set()))


@transaction.atomic
def room_caucus_end(*, session_id: int, actor_peer: str) -> None:
    session = _lock(session_id)
    before = room_snapshot(session.pk)
    mediator = _mediator_in(before, actor_peer)
    if not session.caucus_peer_ids:
        raise Invalid(_("There is no caucus to end."), code="no_caucus")
    session.caucus_peer_ids = []
    session.save(update_fields=["caucus_peer_ids"])
    _room_audit("session.caucus_end", session, _user(mediator))
    after = room_snapshot(session.pk)
    deliver_on_commit(_room_changes(before, after, caucus_changed=True, skip=set()))


def room_end(*, session_id: int, actor_peer: str) -> None:
    with transaction.atomic():
        snapshot = room_snapshot(session_id)
        mediator = _mediator_in(snapshot, actor_peer)
        session_end(session=session_id, actor=_user(mediator))


@transaction.atomic
def room_chat(*, session_id: int, peer_id: str, text: Any) -> ChatMessage:
    """A chat line goes to the sender's visible set only (a caucus chat stays inside the
    caucus), and is kept with that audience."""
    if not isinstance(text, str) or not text.strip():
        raise Invalid(_("Write a message first."), code="empty_message")
    if len(text) > MAX_CHAT_CHARS:
        raise Invalid(
            _("A chat message holds at most %(n)d characters.") % {"n": MAX_CHAT_CHARS},
            code="message_too_long",
        )
    session = _lock(session_id)
    snapshot = room_snapshot(session.pk)
    me = snapshot.peers.get(peer_id)
    if me is None or not me.in_room or not me.connected:
        raise Forbidden(_("Only people in the room can chat."), code="not_in_room")
    audience = [me, *snapshot.visible_to(peer_id)]
    message = ChatMessage.objects.create(
        session=session,
        sender_id=me.user_id,
        text=text.strip(),
        audience=sorted(p.peer_id for p in audience),
    )
    log_action(
        action="session.chat",
        obj=message,
        actor=_user(me),
        dispute=session.dispute,
        after={"length": len(message.text), "audience": message.audience},
    )
    payload = {
        "type": "chat",
        "from": me.peer_id,
        "name": me.name,
        "text": message.text,
        "at": message.at.isoformat(),
    }
    deliver_on_commit([_send(p, payload) for p in audience])
    return message


def _user(peer: Peer) -> AbstractBaseUser:
    from django.contrib.auth import get_user_model

    return get_user_model().objects.get(pk=peer.user_id)
