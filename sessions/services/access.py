"""The way into a room: tickets for clients without a cookie session (CONTRACT §4), ICE
servers with time-limited TURN credentials, and the pre-join page's consent and network
self-test. Each write is audited."""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import secrets
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from odr.audit import log_action
from odr.errors import Invalid
from odr.models import Dispute
from sessions import selectors
from sessions.models import Attendance, MediationSession, RoomParticipant, RoomTicket
from sessions.services.common import participant_for_update
from sessions.transitions import lock_session

SELF_TEST_GRADES = ("good", "fair", "poor")


# --- ICE servers -----------------------------------------------------------------------


def turn_credentials(user_id: int, *, now: datetime | None = None) -> tuple[str, str]:
    """coturn's REST scheme (use-auth-secret): the username is "<expiry>:<user id>", the
    password base64(HMAC-SHA1(secret, username)); coturn checks both without a database."""
    now = now or timezone.now()
    expiry = int(now.timestamp() + settings.ODR_TURN_TTL.total_seconds())
    username = f"{expiry}:{user_id}"
    digest = hmac.new(settings.ODR_TURN_SECRET.encode(), username.encode(), hashlib.sha1)
    return username, base64.b64encode(digest.digest()).decode()


def ice_servers_for(user: AbstractBaseUser | int) -> list[dict[str, Any]]:
    """RTCIceServer objects for this user (or user id: a ticket's join knows only the
    id): STUN as configured; TURN with time-limited credentials when a TURN secret is
    set (otherwise the TURN URLs as they are)."""
    user_id = user if isinstance(user, int) else user.pk
    servers: list[dict[str, Any]] = []
    if settings.ODR_STUN_URLS:
        servers.append({"urls": list(settings.ODR_STUN_URLS)})
    if settings.ODR_TURN_URLS:
        turn: dict[str, Any] = {"urls": list(settings.ODR_TURN_URLS)}
        if settings.ODR_TURN_SECRET:
            turn["username"], turn["credential"] = turn_credentials(user_id)
        servers.append(turn)
    return servers


# --- tickets ---------------------------------------------------------------------------


def _ticket_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def ticket_issue(*, session: MediationSession, user: AbstractBaseUser) -> tuple[str, datetime]:
    """A single-use, short-lived ticket for a client that has no cookie session. Only its
    SHA-256 is stored: a copy of the database opens no room. Refused to whoever the room
    would refuse (staff who only see the case: 403; a closed session or a case no longer
    in mediation: 409)."""
    session = lock_session(session)
    refused = selectors.room_refusal(session, user)
    if refused is not None:
        raise refused.error()
    token = secrets.token_urlsafe(32)
    now = timezone.now()
    expires_at = now + settings.ODR_ROOM_TICKET_TTL
    ticket = RoomTicket.objects.create(
        session=session, user=user, token_hash=_ticket_hash(token), expires_at=expires_at
    )
    # Old tickets only take room; nobody can use them any more.
    removed, _by_model = RoomTicket.objects.filter(expires_at__lt=now - timedelta(days=1)).delete()
    log_action(
        action="session.ticket",
        obj=ticket,
        actor=user,
        dispute=session.dispute,
        after={"session": session.pk, "expires_at": expires_at, "expired_removed": removed},
    )
    return token, expires_at


@transaction.atomic
def ticket_redeem(*, session_id: int, token: str) -> AbstractBaseUser | None:
    """The ticket's user, once (see `ticket_use`), in its own transaction."""
    return ticket_use(session_id=session_id, token=token)


def ticket_use(*, session_id: int, token: str) -> AbstractBaseUser | None:
    """The ticket's user, once, inside the caller's transaction (the room's join uses it
    in its own): the conditional UPDATE marks it used atomically, so two connections
    racing with one ticket (even on two processes) cannot both enter. A ticket of a case
    no longer in mediation opens nothing, even if the close missed it."""
    if not token or len(token) > 200:
        return None
    now = timezone.now()
    digest = _ticket_hash(token)
    used = (
        RoomTicket.objects.filter(
            token_hash=digest, session_id=session_id, used_at__isnull=True, expires_at__gt=now
        )
        # A hearing room (hosted by a judge) outlives the mediation it follows.
        .filter(
            Q(session__dispute__status=Dispute.Status.IN_MEDIATION) | Q(session__host__isnull=False)
        )
        .update(used_at=now)
    )
    if used != 1:
        return None
    ticket = RoomTicket.objects.select_related("user", "session__dispute").get(token_hash=digest)
    log_action(
        action="session.ticket_use",
        obj=ticket,
        actor=ticket.user,
        dispute=ticket.session.dispute,
        after={"session": session_id},
    )
    return ticket.user


# --- consent and self-test (the pre-join page) ------------------------------------------


@transaction.atomic
def room_record_consent(
    *, session: MediationSession, user: AbstractBaseUser, online: bool, recording: bool
) -> RoomParticipant:
    """Consent to online mediation (required) and to recording (optional; recording
    runs only when everyone consented)."""
    session = lock_session(session)
    participant = participant_for_update(session, user)
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
    session = lock_session(session)
    participant = participant_for_update(session, user)
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
